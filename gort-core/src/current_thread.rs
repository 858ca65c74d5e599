//! The current-thread runtime (tokio's `current_thread` flavor): one P,
//! driven by the thread that calls `block_on`.
//!
//! Go always runs goroutines on Ms, even with `GOMAXPROCS=1`. Here the
//! `block_on` caller becomes the runtime's only M for the length of the
//! call: it takes the P and runs Go's schedule loop on it — `find_runnable`
//! (the P's timers, `runnext`, the local queue, the global queue, a
//! non-blocking poll of the driver) and `run_task` — polling its own future
//! whenever that future is woken. With nothing to run it releases the P
//! and blocks in the driver (the network poller) until the earliest timer,
//! an I/O event, a wake from another thread or its own future's waker.
//! When `block_on` returns, the P goes back to the idle list with whatever
//! is queued on it. No M thread is ever started: `wakep` wakes the
//! `block_on` thread instead ([`CurrentThread::kick`]).
//!
//! What follows from it, each a decision:
//! - every task polls on the thread inside `block_on`. Tasks spawned while
//!   no thread is inside wait, queued, for the next `block_on` (as in
//!   tokio); dropping the runtime first cancels them;
//! - two threads in `block_on` at once: one drives the P; the other polls
//!   only its own future, on its own thread, parked on that future's waker,
//!   and takes the P over as soon as the first leaves (tokio's "steal the
//!   core when it is free");
//! - no monitor hand-off: there is no other thread to hand the P to, and
//!   the point of this flavor is that tasks stay on one thread. A task that
//!   blocks its thread inside a poll stalls the others until the poll
//!   returns, as in tokio. The monitor still prints schedtrace and runs the
//!   deadlock check;
//! - `block_in_place(f)` runs `f` inline and keeps the P (tokio panics);
//! - `set_gomaxprocs(n)` is an `Unsupported` error for any `n` but 1.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicBool, Ordering::AcqRel, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::driver::Driver;
use crate::runtime::{Handle, ThreadNotify};
use crate::sched::Shared;
use crate::worker::M;

/// Tasks the driving thread runs, at most, between two polls of a woken
/// `block_on` future: Go's 61-tick global-queue interval, so the future
/// (like the global queue) gets a turn within one round of the local queue
/// and a future that yields cannot starve the tasks.
const BLOCK_ON_INTERVAL: usize = crate::worker::GLOBAL_QUEUE_INTERVAL as usize;

/// The part of a current-thread runtime's state that `block_on` callers
/// share: who drives the P, who waits to, and whether the driver sleeps.
pub(crate) struct CurrentThread {
    slot: Mutex<Slot>,
    /// Signalled when the driver leaves (shutdown waits for it).
    left: Condvar,
    /// The driving thread is in (or about to enter) `Driver::park`; whoever
    /// makes work for it must then unpark the driver. Raised before the
    /// driver's last look at the queues, read after a producer's fence: one
    /// of the two sees the other.
    sleeping: AtomicBool,
    driver: Arc<dyn Driver>,
}

struct Slot {
    /// A thread is driving the P.
    driving: bool,
    /// `block_on` callers waiting for the P; each is woken when it frees.
    waiting: Vec<Arc<ThreadNotify>>,
}

impl CurrentThread {
    pub(crate) fn new(driver: Arc<dyn Driver>) -> CurrentThread {
        CurrentThread {
            slot: Mutex::new(Slot {
                driving: false,
                waiting: Vec::new(),
            }),
            left: Condvar::new(),
            sleeping: AtomicBool::new(false),
            driver,
        }
    }

    /// Go's `wakep` for this flavor: new work exists; if the driving thread
    /// sleeps, wake it (the driver keeps an unpark that comes before its
    /// park).
    pub(crate) fn kick(&self) {
        fence(SeqCst);
        if self.sleeping.load(SeqCst) {
            self.driver.unpark();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the P for `me`, or lists `me` to be woken when it frees.
    fn try_drive(&self, me: &Arc<ThreadNotify>) -> bool {
        let mut s = self.lock();
        if !s.driving {
            s.driving = true;
            s.waiting.retain(|w| !Arc::ptr_eq(w, me));
            return true;
        }
        if !s.waiting.iter().any(|w| Arc::ptr_eq(w, me)) {
            s.waiting.push(me.clone());
        }
        false
    }

    /// The driver leaves: every waiting thread gets a chance at the P.
    fn leave(&self) {
        let waiting = {
            let mut s = self.lock();
            s.driving = false;
            std::mem::take(&mut s.waiting)
        };
        self.left.notify_all();
        for w in waiting {
            w.notify();
        }
    }

    /// Shutdown: waits until no thread drives the P (the driver sees the
    /// flag after its current task poll), at most until `deadline`.
    pub(crate) fn wait_not_driving(&self, deadline: Option<Instant>) {
        let mut s = self.lock();
        while s.driving {
            // Re-kicked each round: the driver may be about to sleep.
            self.driver.unpark();
            let step = Duration::from_millis(10);
            let wait = match deadline {
                None => step,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return;
                    }
                    (d - now).min(step)
                }
            };
            s = self
                .left
                .wait_timeout(s, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn forget(&self, me: &Arc<ThreadNotify>) {
        self.lock().waiting.retain(|w| !Arc::ptr_eq(w, me));
    }
}

/// `Handle::block_on` on a current-thread runtime.
pub(crate) fn block_on<F: Future + ?Sized>(
    handle: &Handle,
    ct: &CurrentThread,
    notify: &Arc<ThreadNotify>,
    cx: &mut Context<'_>,
    mut future: Pin<&mut F>,
) -> F::Output {
    struct Forget<'a>(&'a CurrentThread, &'a Arc<ThreadNotify>);
    impl Drop for Forget<'_> {
        fn drop(&mut self) {
            self.0.forget(self.1);
        }
    }
    let _forget = Forget(ct, notify);
    loop {
        if !handle.shared.is_shutdown() && ct.try_drive(notify) {
            struct Leave<'a>(&'a CurrentThread);
            impl Drop for Leave<'_> {
                fn drop(&mut self) {
                    self.0.leave();
                }
            }
            let _leave = Leave(ct);
            if let Some(v) = drive(handle, ct, notify, cx, future.as_mut()) {
                return v;
            }
            // The runtime shut down under us: nothing runs tasks any more;
            // wait for the future alone, as on any thread.
        }
        if let Poll::Ready(v) = handle.poll_block_on(cx, future.as_mut()) {
            return v;
        }
        handle.park_block_on(notify);
    }
}

/// Releases what the driving thread holds when it stops driving (its
/// future is ready, it panicked, or the runtime shut down).
struct DriveExit<'a> {
    m: &'a M,
    _enter: crate::worker::EnterM,
}

impl Drop for DriveExit<'_> {
    fn drop(&mut self) {
        // Tasks the last driver poll readied go to the P (or the global
        // queue); then the P, with its queue, goes back to the idle list
        // for the next `block_on`.
        self.m.queue_pending();
        self.m.drop_p_for_exit();
        self.m.unregister();
    }
}

/// The driving thread's loop: Go's `schedule` on the one P, with the
/// `block_on` future polled whenever it is woken. Returns `None` if the
/// runtime shuts down first.
fn drive<F: Future + ?Sized>(
    handle: &Handle,
    ct: &CurrentThread,
    notify: &ThreadNotify,
    cx: &mut Context<'_>,
    mut future: Pin<&mut F>,
) -> Option<F::Output> {
    let shared = &handle.shared;
    let m = M::new(shared.clone(), shared.new_m_id());
    let _exit = DriveExit {
        m: &m,
        _enter: m.enter(),
    };
    // Polled first: it may have been woken while another thread drove.
    let mut poll_future = true;
    let mut ran_since_poll = 0;
    loop {
        if shared.is_shutdown() {
            return None;
        }
        if !m.has_p() {
            if let Some(a) = m.take_idle_p(false) {
                m.acquire(a);
                m.queue_pending();
            }
        }
        // A woken future waits for at most a round of tasks, so one that
        // yields (or is woken by every task) lets the queued tasks run.
        if poll_future
            || (ran_since_poll >= BLOCK_ON_INTERVAL && notify.notified.swap(false, AcqRel))
        {
            poll_future = false;
            ran_since_poll = 0;
            if let Poll::Ready(v) = handle.poll_block_on(cx, future.as_mut()) {
                return Some(v);
            }
            continue;
        }
        if m.has_p() {
            if let Some((task, inherit)) = m.find_runnable() {
                m.run_task(task, inherit);
                ran_since_poll += 1;
                continue;
            }
            // Nothing runnable: `find_runnable` released the P.
        }
        if notify.notified.swap(false, AcqRel) {
            // The future woke itself (it yielded) and nothing else can
            // run: give the driver a non-blocking poll first, so a future
            // that spins on `yield_now` waiting for a socket sees its new
            // readiness (tokio's `yield_now` contract). What the poll
            // readies is queued when the P is taken back.
            if shared.poll_until.load(SeqCst) == 0 {
                m.park_in_driver(Some(Duration::ZERO));
            }
            poll_future = true;
            continue;
        }
        if shared.deadlocked.load(SeqCst) {
            handle.deadlock_panic();
        }
        sleep(shared, ct, &m, notify);
    }
}

/// Blocks in the driver until a timer is due, an event fires or someone
/// kicks it, unless work appeared after the P was released.
fn sleep(shared: &Arc<Shared>, ct: &CurrentThread, m: &M, notify: &ThreadNotify) {
    ct.sleeping.store(true, SeqCst);
    fence(SeqCst);
    let work = notify.notified.load(SeqCst)
        || !shared.inject.is_empty()
        || shared.procs.iter().any(|p| p.has_work())
        || shared.is_shutdown()
        || shared.deadlocked.load(SeqCst);
    if !work {
        let deadline = shared.begin_idle_poll();
        m.park_in_driver(deadline.map(|d| d.saturating_duration_since(Instant::now())));
        shared.poll_until.store(0, SeqCst);
        crate::clock::refresh();
    }
    ct.sleeping.store(false, SeqCst);
}
