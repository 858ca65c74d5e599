//! M, the worker thread (Go's `m`), and its schedule loop (Go's
//! `schedule`, `findRunnable`, `stealWork`, `execute`, `stopm`).
//!
//! An M runs tasks only while it owns a P. Its loop:
//!
//! 1. `find_runnable`, in Go's order: the P's expired timers; every 61st
//!    tick one task from the global queue first (so a P busy with its own
//!    queue still serves the global one); `runnext` (at most
//!    `RUNNEXT_STREAK_MAX` in a row, sharing one tick: see `processor.rs`),
//!    then the local queue;
//!    yielded tasks whose turn has come; a batch from the global queue; a
//!    non-blocking poll of the driver; stealing — 4 rounds over the other Ps
//!    in random order, half of a victim's queue, expired timers and
//!    `runnext` only on the last round. Stealing is allowed only while
//!    fewer than half of the busy Ps have a spinning M.
//! 2. `run_task`: poll the task with the P in `POLLING` state, so the
//!    monitor can retake the P if the poll takes too long.
//! 3. With nothing to run, the M puts its P on the idle list, re-checks
//!    the queues (Go's "delicate dance" against lost wake-ups) and sleeps:
//!    in the driver with the earliest timer as timeout if nobody else is
//!    there, otherwise on its own parker, until `startm` hands it a P.
//!
//! Departures from Go: there is no `g0` stack switch (a poll is an ordinary
//! call); Ms are started lazily by `wakep` as in Go, but an M is not tied
//! to a locked goroutine (see `spawn_locked` in a later module).

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{
    fence,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::context;
use crate::idle::{Assignment, Idle, MParker};
use crate::metrics::Event;
use crate::processor::P;
use crate::runtime::Handle;
use crate::sched::Shared;
use crate::task::Notified;

/// Go checks the global queue first on every 61st schedule tick: a prime,
/// so the check does not fall into step with any periodic pattern of
/// local work, and rare enough that the global lock stays cold.
pub(crate) const GLOBAL_QUEUE_INTERVAL: u64 = 61;

/// Stealing rounds over all Ps before giving up (Go's `stealTries`).
const STEAL_TRIES: usize = 4;

thread_local! {
    static CURRENT_M: Cell<*const M> = const { Cell::new(ptr::null()) };
}

/// What schedtrace and the deadlock check can see of an M from another
/// thread. Written only by the M itself, with relaxed stores to its own
/// cache line.
#[repr(align(128))]
pub(crate) struct MInfo {
    pub(crate) id: u64,
    /// The P it owns, or -1.
    pub(crate) p: AtomicI64,
    /// The task it is polling (Go's `curg`), or 0.
    pub(crate) curg: AtomicU64,
    pub(crate) spinning: AtomicBool,
    /// Asleep on its parker or in the driver.
    pub(crate) blocked: AtomicBool,
}

pub(crate) struct M {
    pub(crate) id: u64,
    info: Arc<MInfo>,
    pub(crate) shared: Arc<Shared>,
    /// The P this M owns, if any.
    p: Cell<Option<usize>>,
    spinning: Cell<bool>,
    /// Inside a task's poll (the P, if still ours, is `POLLING`).
    in_poll: Cell<bool>,
    /// The P was taken away during a poll (not released for lack of work).
    lost_p: Cell<bool>,
    /// While this M blocks in the driver: the tasks its poll readied.
    readied: std::cell::RefCell<Option<Vec<Notified>>>,
    /// Readied tasks to queue on the P this M is about to acquire.
    pending: std::cell::RefCell<Vec<Notified>>,
    parker: Arc<MParker>,
    rng: Cell<u64>,
}

/// Thread main of an M.
pub(crate) fn run_m(shared: Arc<Shared>, id: u64, first: Assignment) {
    let m = M::new(shared.clone(), id);
    let _enter = context::enter(Handle {
        shared: shared.clone(),
    });
    CURRENT_M.with(|c| c.set(&m));
    let mut next = Some(first);
    loop {
        let a = match next.take() {
            Some(a) => a,
            None => match m.idle_wait() {
                Some(a) => a,
                None => break,
            },
        };
        m.acquire(a);
        m.queue_pending();
        m.schedule();
        if shared.is_shutdown() {
            break;
        }
        // Lost the P during a poll (monitor hand-off, block_in_place): try
        // an idle one before sleeping, as Go's exitsyscall does. An M that
        // released its P for lack of work goes straight to sleep.
        if m.lost_p.replace(false) {
            next = m.try_idle_p();
        }
    }
    m.drop_p_for_exit();
    if shared.is_shutdown() {
        // What this M pushed to the global queue after the shutdown
        // thread emptied it (a poll that returned late).
        while !shared.inject.drain().is_empty() {}
    }
    CURRENT_M.with(|c| c.set(ptr::null()));
    m.unregister();
    shared.idle.lock().mcount -= 1;
    shared.threads_alive.fetch_sub(1, Relaxed);
}

fn seed(id: u64) -> u64 {
    let t = Instant::now()
        .duration_since(crate::clock::origin())
        .as_nanos() as u64;
    (t ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1
}

/// Runs `f` with the current thread's M, if it is an M of `shared`.
fn with_m<R>(shared: &Arc<Shared>, f: impl FnOnce(&M) -> R) -> Option<R> {
    CURRENT_M.with(|c| {
        let m = c.get();
        if m.is_null() {
            return None;
        }
        // CURRENT_M points at the M on this thread's stack frame in `run_m`
        // (cleared before that frame ends) or in `current_thread::drive`
        // (restored by `EnterM`, declared after the M, so it drops first).
        // SAFETY: so the M outlives this borrow.
        let m = unsafe { &*m };
        if !Arc::ptr_eq(&m.shared, shared) {
            return None;
        }
        Some(f(m))
    })
}

/// Runs `f` with the current thread's M, of whichever runtime.
pub(crate) fn with_current_m<R>(f: impl FnOnce(Option<&M>) -> R) -> R {
    CURRENT_M.with(|c| {
        let m = c.get();
        f(if m.is_null() {
            None
        } else {
            // SAFETY: as in `with_m`.
            Some(unsafe { &*m })
        })
    })
}

/// Counts an event on the current P when this thread is one of `shared`'s
/// Ms holding a P, on the runtime's shared counters otherwise.
pub(crate) fn count(shared: &Arc<Shared>, e: Event) {
    if !cfg!(feature = "metrics") {
        return;
    }
    let local = with_m(shared, |m| m.p.get()).flatten();
    match local {
        Some(p) => shared.procs[p].counters.add_owned(e, 1),
        None => shared.counters.add_shared(e, 1),
    }
}

/// Go's `ready` / `runqput` from a task or the scheduler: queue `task` on
/// the current P if this thread is one of `shared`'s Ms holding a P. Gives
/// the task back otherwise (the caller uses the global queue).
pub(crate) fn try_schedule_local(
    shared: &Arc<Shared>,
    task: Notified,
    next: bool,
) -> Option<Notified> {
    enum Placed {
        /// On this M's P: wake another M to share the work.
        Local,
        /// Kept by the M blocked in the driver, which runs it itself.
        Collected,
    }
    let mut task = Some(task);
    let placed = with_m(shared, |m| {
        let Some(p) = m.p.get() else {
            // The M blocked in the driver: keep what its poll readied, to
            // run it itself once it has a P (Go's netpoll result list).
            let mut readied = m.readied.borrow_mut();
            let list = readied.as_mut()?;
            shared.readied_in_flight.fetch_add(1, SeqCst);
            list.push(task.take().expect("task present"));
            return Some(Placed::Collected);
        };
        let pp = &shared.procs[p];
        let in_poll = m.in_poll.get();
        if in_poll && !pp.acquire_in_poll(m.id) {
            // The monitor retook our P during this poll.
            m.lose_p();
            return None;
        }
        let t = task.take().expect("task present");
        // From inside a task: runnext (Go's newproc and ready). From
        // scheduler code (timers, driver): the tail, in wake order.
        // SAFETY: we own the P (RUNNING with our id).
        let overflowed = unsafe { pp.runq_put(t, next && in_poll, &shared.inject) };
        if in_poll {
            pp.enter_poll(m.id);
        }
        if overflowed {
            pp.counters.add_owned(Event::Overflows, 1);
        }
        Some(Placed::Local)
    })
    .flatten();
    match placed {
        Some(Placed::Local) => shared.wakep(),
        Some(Placed::Collected) => {}
        None => return task,
    }
    None
}

/// Restores the thread's previous M on drop; see [`M::enter`].
pub(crate) struct EnterM(*const M);

impl Drop for EnterM {
    fn drop(&mut self) {
        CURRENT_M.with(|c| c.set(self.0));
    }
}

/// Subtracts `n` from the in-flight count when dropped (after queueing).
struct InFlightDone<'a>(&'a std::sync::atomic::AtomicUsize, usize);

impl Drop for InFlightDone<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, SeqCst);
    }
}

impl M {
    /// A new M with id `id`, listed in `shared.ms` (schedtrace, the
    /// deadlock check) until [`M::unregister`].
    pub(crate) fn new(shared: Arc<Shared>, id: u64) -> M {
        let info = Arc::new(MInfo {
            id,
            p: AtomicI64::new(-1),
            curg: AtomicU64::new(0),
            spinning: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
        });
        shared
            .ms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(info.clone());
        M {
            id,
            info,
            shared,
            p: Cell::new(None),
            spinning: Cell::new(false),
            in_poll: Cell::new(false),
            lost_p: Cell::new(false),
            readied: std::cell::RefCell::new(None),
            pending: std::cell::RefCell::new(Vec::new()),
            parker: MParker::new(id),
            rng: Cell::new(seed(id)),
        }
    }

    /// Takes the M off `shared.ms`.
    pub(crate) fn unregister(&self) {
        self.shared
            .ms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|i| i.id != self.id);
    }

    /// Makes `self` this thread's M until the guard drops (which restores
    /// the previous one). For the `block_on` thread of a current-thread
    /// runtime; `run_m` sets its M for the thread's whole life.
    pub(crate) fn enter(&self) -> EnterM {
        EnterM(CURRENT_M.with(|c| c.replace(self)))
    }

    /// A current-thread runtime's `block_on` thread, with no P and nothing
    /// to run: blocks in the driver for at most `timeout`. Tasks its poll
    /// readies are kept and queued on the P the thread takes next
    /// ([`M::queue_pending`]), as `idle_wait` does.
    pub(crate) fn park_in_driver(&self, timeout: Option<Duration>) {
        debug_assert!(self.p.get().is_none());
        self.info.blocked.store(true, Relaxed);
        *self.readied.borrow_mut() = Some(Vec::new());
        self.shared.driver.park(timeout);
        let readied = self.readied.borrow_mut().take().unwrap_or_default();
        self.info.blocked.store(false, Relaxed);
        self.pending.borrow_mut().extend(readied);
    }

    fn handle_p(&self) -> Option<(usize, &P)> {
        self.p.get().map(|p| (p, &self.shared.procs[p]))
    }

    /// Queues the tasks the driver readied on the P just acquired; if there
    /// is more than one, another M is woken to share them.
    pub(crate) fn queue_pending(&self) {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        if pending.is_empty() {
            return;
        }
        let shared = &*self.shared;
        let n = pending.len();
        // Queued below: no longer only in this M's hands.
        let _queued = InFlightDone(&shared.readied_in_flight, n);
        match self.handle_p() {
            Some((_, pp)) => {
                for t in pending {
                    // SAFETY: we own the P (just acquired).
                    if unsafe { pp.runq_put(t, false, &shared.inject) } {
                        pp.counters.add_owned(Event::Overflows, 1);
                    }
                }
            }
            None => {
                for t in pending {
                    shared.inject.push(t);
                }
            }
        }
        if n > 1 {
            self.shared.wakep();
        }
    }

    /// The P was taken from this M (or given away) in the middle of a poll.
    fn lose_p(&self) {
        self.set_p(None);
        self.lost_p.set(true);
    }

    fn set_p(&self, p: Option<usize>) {
        self.p.set(p);
        self.info.p.store(p.map_or(-1, |p| p as i64), Relaxed);
    }

    pub(crate) fn acquire(&self, a: Assignment) {
        self.shared.procs[a.p].set_owner(self.id);
        self.set_p(Some(a.p));
        self.lost_p.set(false);
        self.spinning.set(a.spinning);
        self.info.spinning.store(a.spinning, Relaxed);
    }

    fn next_rand(&self) -> u64 {
        // xorshift64*: Go's fastrand plays the same role.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Go's `schedule`: find a task and run it, until the P is released.
    fn schedule(&self) {
        while let Some((task, inherit)) = self.find_runnable() {
            if self.spinning.get() {
                self.reset_spinning();
            }
            self.run_task(task, inherit);
        }
    }

    /// Go's `resetspinning`: a spinning M found work; if it was the last
    /// spinner, wake another to keep looking.
    fn reset_spinning(&self) {
        self.spinning.set(false);
        self.info.spinning.store(false, Relaxed);
        if self.shared.idle.dec_spinning() {
            self.shared.wakep();
        }
    }

    /// Go's `execute`: poll one task with the P retakable.
    pub(crate) fn run_task(&self, task: Notified, inherit: bool) {
        let shared = &*self.shared;
        let Some((_, pp)) = self.handle_p() else {
            shared.inject.push(task);
            return;
        };
        if !inherit {
            pp.schedtick.store(pp.schedtick.load(Relaxed) + 1, Relaxed);
        }
        pp.poll_seq.store(pp.poll_seq.load(Relaxed) + 1, Relaxed);
        pp.enter_poll(self.id);
        self.in_poll.set(true);
        self.info.curg.store(task.id().as_u64(), Relaxed);
        let again = task.run();
        self.info.curg.store(0, Relaxed);
        self.in_poll.set(false);
        let forced = crate::coop::take_forced_yields();
        // block_in_place may have swapped our P for another, or left us none.
        if let Some((_, pp)) = self.handle_p() {
            if pp.acquire_in_poll(self.id) {
                if forced != 0 {
                    pp.counters.add_owned(Event::ForcedYields, forced);
                }
                if let Some((t, yielded)) = again {
                    // SAFETY: we own the P again.
                    unsafe {
                        if yielded {
                            pp.push_yielded(t, &shared.inject);
                        } else if pp.runq_put(t, false, &shared.inject) {
                            pp.counters.add_owned(Event::Overflows, 1);
                        }
                    }
                }
                return;
            }
            // The monitor retook the P while we were polling.
            self.lose_p();
        }
        if let Some((t, _)) = again {
            shared.inject.push(t);
            self.shared.wakep();
        }
    }

    /// Go's `findRunnable`. Returns `None` once the P has been released
    /// (or lost, or the runtime is shutting down).
    pub(crate) fn find_runnable(&self) -> Option<(Notified, bool)> {
        let shared = &*self.shared;
        let inject = &shared.inject;
        'top: loop {
            let (p, pp) = self.handle_p()?;
            if shared.is_shutdown() {
                return None;
            }
            if shared.stw.load(SeqCst) {
                self.release_p_for_stw(p, pp);
                return None;
            }
            if let Some(t) = &shared.timers {
                t.run_expired(p);
            }
            // Fairness: the global queue gets served even when the local
            // queue never empties.
            if pp.schedtick.load(Relaxed) % GLOBAL_QUEUE_INTERVAL == 0 && !inject.is_empty() {
                if let Some(t) = inject.pop() {
                    pp.counters.add_owned(Event::GlobalTakes, 1);
                    return Some((t, false));
                }
            }
            // SAFETY (this and the owner-only calls below): we own P `p`.
            if let Some(x) = unsafe { pp.runq_get(inject) } {
                return Some(x);
            }
            // Before a yielded task runs again, the driver gets its turn: a
            // non-blocking poll, even with no task waiting in it, so a task
            // that spins on `yield_now` sees new readiness — a socket's
            // data, its peer's close (tokio's `yield_now` contract: yielded
            // tasks run after the driver; Go gets there through sysmon's
            // netpoll).
            // SAFETY: we own P `p`.
            if unsafe { pp.has_yielded() } && shared.poll_until.load(SeqCst) == 0 {
                shared.driver.park(Some(Duration::ZERO));
                // SAFETY: we own P `p`.
                if let Some(x) = unsafe { pp.runq_get(inject) } {
                    return Some(x);
                }
            }
            // Yielded tasks whose turn has come (everything that was in the
            // global queue when they yielded has been taken).
            if self.release_yielded(pp, false) {
                // SAFETY: we own P `p`.
                if let Some(x) = unsafe { pp.runq_get(inject) } {
                    return Some(x);
                }
            }
            // SAFETY: we own P `p`.
            let free = unsafe { pp.free_slots() };
            if let Some((t, rest)) = inject.pop_batch(shared.nprocs(), free) {
                pp.counters.add_owned(Event::GlobalTakes, 1);
                // SAFETY: we own P `p`, and the batch fits in `free`.
                unsafe { pp.push_batch(rest) };
                return Some((t, false));
            }
            if self.release_yielded(pp, true) {
                // SAFETY: we own P `p`.
                if let Some(x) = unsafe { pp.runq_get(inject) } {
                    return Some(x);
                }
            }
            // Poll the driver without blocking, unless someone blocks in it.
            if shared.driver.has_waiters() && shared.poll_until.load(SeqCst) == 0 {
                shared.driver.park(Some(Duration::ZERO));
                // SAFETY: we own P `p`.
                if let Some(x) = unsafe { pp.runq_get(inject) } {
                    return Some(x);
                }
                if !inject.is_empty() {
                    continue 'top;
                }
            }
            // Steal, if spinning is allowed.
            let idle = &shared.idle;
            let nprocs = shared.nprocs();
            let busy = nprocs.saturating_sub(idle.npidle.load(SeqCst));
            if nprocs > 1 && (self.spinning.get() || 2 * idle.nmspinning.load(SeqCst) < busy) {
                if !self.spinning.get() {
                    self.spinning.set(true);
                    self.info.spinning.store(true, Relaxed);
                    idle.nmspinning.fetch_add(1, SeqCst);
                }
                if let Some(t) = self.steal_work(p, pp) {
                    return Some((t, false));
                }
                // Stolen timers may have readied tasks into our queue.
                // SAFETY: we own P `p`.
                if let Some(x) = unsafe { pp.runq_get(inject) } {
                    return Some(x);
                }
            }
            // Nothing to do: release the P.
            let mut s = idle.lock();
            if !inject.is_empty() {
                drop(s);
                continue 'top;
            }
            pp.counters.add_owned(Event::Parks, 1);
            pp.set_idle();
            idle.pidle_put(&mut s, p);
            drop(s);
            self.set_p(None);
            // Pairs with the fence in wakep: either a producer sees our idle
            // P, or we see its work below.
            fence(SeqCst);
            let was_spinning = self.spinning.replace(false);
            self.info.spinning.store(false, Relaxed);
            if was_spinning {
                idle.dec_spinning();
            }
            let work =
                !inject.is_empty() || (was_spinning && shared.procs.iter().any(|q| q.has_work()));
            if work {
                if let Some(a) = self.take_idle_p(was_spinning) {
                    self.acquire(a);
                    continue 'top;
                }
            }
            return None;
        }
    }

    /// Moves yielded tasks into the local queue, where other Ps can steal
    /// them; with more than one, wakes an idle P to share them (nothing
    /// else would: they became runnable without a wake-up). Returns whether
    /// any moved.
    fn release_yielded(&self, pp: &P, force: bool) -> bool {
        // SAFETY: the callers own `pp`.
        let n = unsafe { pp.release_yielded(&self.shared.inject, force) };
        if n > 1 {
            self.shared.wakep();
        }
        n > 0
    }

    /// The world is stopping: put the P, with its queues, on the idle list.
    fn release_p_for_stw(&self, p: usize, pp: &P) {
        let shared = &*self.shared;
        // SAFETY: we own the P. Yielded tasks go to the local queue so the
        // P's queued work is visible to whoever gets it next.
        unsafe { pp.release_yielded(&shared.inject, true) };
        let mut s = shared.idle.lock();
        pp.set_idle();
        shared.idle.pidle_put(&mut s, p);
        drop(s);
        self.set_p(None);
        if self.spinning.replace(false) {
            shared.idle.dec_spinning();
        }
    }

    /// Takes any idle P (for an M that has none), counting itself spinning
    /// if asked.
    pub(crate) fn take_idle_p(&self, spinning: bool) -> Option<Assignment> {
        let idle: &Idle = &self.shared.idle;
        let mut s = idle.lock();
        let p = idle.pidle_get(&mut s)?;
        drop(s);
        if spinning {
            idle.nmspinning.fetch_add(1, SeqCst);
        }
        self.shared.monitor.wake();
        Some(Assignment { p, spinning })
    }

    fn try_idle_p(&self) -> Option<Assignment> {
        if self.shared.is_shutdown() {
            return None;
        }
        self.take_idle_p(false)
    }

    /// Go's `stealWork`.
    fn steal_work(&self, p: usize, pp: &P) -> Option<Notified> {
        let shared = &*self.shared;
        let n = shared.nprocs();
        for round in 0..STEAL_TRIES {
            let last = round == STEAL_TRIES - 1;
            let start = (self.next_rand() % n as u64) as usize;
            for k in 0..n {
                let v = (start + k) % n;
                if v == p {
                    continue;
                }
                let victim = &shared.procs[v];
                if last {
                    if let Some(t) = &shared.timers {
                        t.run_expired(v);
                        // SAFETY: we own `pp`.
                        if let Some((task, _)) = unsafe { pp.runq_get(&shared.inject) } {
                            return Some(task);
                        }
                    }
                }
                if !victim.steal.is_empty() {
                    // SAFETY: we own `pp`, which is not `victim`.
                    if let Some(t) = unsafe { victim.steal_into(pp) } {
                        return Some(t);
                    }
                }
                if last {
                    if let Some(t) = self.steal_runnext(victim) {
                        pp.counters.add_owned(Event::Steals, 1);
                        pp.counters.add_owned(Event::Stolen, 1);
                        return Some(t);
                    }
                }
            }
        }
        None
    }

    /// Takes a victim's `runnext`, but, like Go, first gives a running
    /// victim a moment to take it itself: a task readied into `runnext` is
    /// usually about to run on that P, and moving it costs its cache.
    fn steal_runnext(&self, victim: &P) -> Option<Notified> {
        if !victim.has_runnext() {
            return None;
        }
        if !victim.is_idle() {
            let seq = victim.poll_seq.load(Relaxed);
            let until = Instant::now() + Duration::from_micros(3);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            if victim.poll_seq.load(Relaxed) != seq {
                return None;
            }
        }
        victim.take_runnext()
    }

    /// Go's `stopm` and the blocking `netpoll` of `findRunnable`: sleep
    /// until some thread hands us a P. Returns `None` on shutdown.
    fn idle_wait(&self) -> Option<Assignment> {
        let shared = &*self.shared;
        let idle = &shared.idle;
        loop {
            if shared.is_shutdown() {
                return None;
            }
            let mut s = idle.lock();
            // Checked again under the lock: shutdown sets the flag before it
            // takes this lock to wake the idle Ms, so an M that gets here
            // after that wake-up sees the flag instead of sleeping forever.
            if shared.is_shutdown() {
                return None;
            }
            if s.driver_busy {
                idle.m_put(&mut s, &self.parker, false);
                drop(s);
                // With a paused clock, the M in the driver must get the
                // chance to advance it now that this one is idle too.
                if shared.timers.as_ref().is_some_and(|t| t.is_paused()) && shared.is_quiescent() {
                    shared.driver.unpark();
                }
                self.info.blocked.store(true, Relaxed);
                let a = self.parker.wait();
                self.info.blocked.store(false, Relaxed);
                return a;
            }
            s.driver_busy = true;
            idle.m_put(&mut s, &self.parker, true);
            drop(s);
            let deadline = shared.begin_idle_poll();
            // A task may have been queued, or a P freed, after the last
            // check; the driver's stored wake-up (unpark before park)
            // covers the rest.
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if !shared.is_shutdown() {
                self.info.blocked.store(true, Relaxed);
                *self.readied.borrow_mut() = Some(Vec::new());
                shared.driver.park(timeout);
                self.info.blocked.store(false, Relaxed);
            }
            let readied = self.readied.borrow_mut().take().unwrap_or_default();
            shared.poll_until.store(0, SeqCst);
            let mut s = idle.lock();
            s.driver_busy = false;
            let still_idle = idle.m_remove(&mut s, self.id);
            drop(s);
            if !still_idle {
                // startm took us off the list and assigned a P: we run what
                // the poll readied on it.
                *self.pending.borrow_mut() = readied;
                return self.parker.wait();
            }
            crate::clock::refresh();
            if !readied.is_empty() {
                // Go's findRunnable after a blocking netpoll: take an idle P
                // and run the readied tasks here; if there is none, they go
                // to the global queue for the Ms that have Ps.
                match self.try_idle_p() {
                    Some(a) => {
                        *self.pending.borrow_mut() = readied;
                        return Some(a);
                    }
                    None => {
                        let n = readied.len();
                        for t in readied {
                            shared.inject.push(t);
                        }
                        shared.readied_in_flight.fetch_sub(n, SeqCst);
                        self.shared.wakep();
                    }
                }
            }
            // Woken by I/O, a timer or a kick: take a P if there may be
            // work (tasks readied by the driver went to the global queue).
            let timers_due = deadline.is_some_and(|d| d <= Instant::now());
            if timers_due || !shared.inject.is_empty() || shared.procs.iter().any(|p| p.has_work())
            {
                if let Some(a) = self.try_idle_p() {
                    return Some(a);
                }
            }
        }
    }

    /// Releases whatever P this M holds when it exits. On shutdown the M
    /// first drains the P's queues itself: the shutdown thread cannot take
    /// a P an M holds (see `Shared::take_p_for_shutdown`), and this M owns
    /// it, so each queued reference is dropped exactly once.
    pub(crate) fn drop_p_for_exit(&self) {
        if let Some(p) = self.p.get() {
            let shared = &*self.shared;
            let pp = &shared.procs[p];
            let queued = if shared.is_shutdown() {
                // SAFETY: we own the P (RUNNING with our id).
                unsafe { pp.drain() }
            } else {
                Vec::new()
            };
            self.set_p(None);
            {
                let mut s = shared.idle.lock();
                pp.set_idle();
                shared.idle.pidle_put(&mut s, p);
            }
            // Dropped once the P is given up: a task's last reference may
            // run its output's Drop, which may wake others.
            drop(queued);
        }
        if self.spinning.replace(false) {
            self.shared.idle.dec_spinning();
        }
    }

    /// `block_in_place` entry (Go's `entersyscallblock` + `handoffp`): give
    /// the P to another M. Returns whether this M had one.
    pub(crate) fn release_p_for_blocking(&self) -> bool {
        let Some((p, pp)) = self.handle_p() else {
            return false;
        };
        if self.shared.current_thread.is_some() {
            // A current-thread runtime has no other M to hand the P to:
            // the closure runs inline and the P's tasks wait (see
            // `current_thread.rs`).
            return false;
        }
        if self.in_poll.get() && !pp.acquire_in_poll(self.id) {
            self.lose_p();
            return false;
        }
        self.lose_p();
        self.shared.in_blocking.fetch_add(1, SeqCst);
        self.shared.counters.add_shared(Event::HandoffsBlocking, 1);
        self.shared.handoff_p(p);
        true
    }

    /// `block_in_place` exit (Go's `exitsyscall`): take an idle P if any,
    /// back in `POLLING` state since we are still inside the task's poll.
    pub(crate) fn reacquire_p_after_blocking(&self) {
        self.shared.in_blocking.fetch_sub(1, SeqCst);
        if self.p.get().is_some() || self.shared.is_shutdown() {
            return;
        }
        if let Some(a) = self.take_idle_p(false) {
            self.acquire(a);
            if self.in_poll.get() {
                self.shared.procs[a.p].enter_poll(self.id);
            }
        }
    }

    /// Whether this M currently owns a P (a task may not block the thread).
    pub(crate) fn has_p(&self) -> bool {
        self.p.get().is_some()
    }

    /// The index of the P this M owns.
    pub(crate) fn p_index(&self) -> Option<usize> {
        self.p.get()
    }
}
