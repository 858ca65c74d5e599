//! The scheduler's shared state (Go's `schedt` plus `allp`), and the
//! operations every thread uses on it: making a task runnable (`ready`,
//! `newproc`), waking an M (`wakep`), handing a P to another M
//! (`handoffp`), and shutting down.
//!
//! The M loop (`schedule` / `findRunnable`) is in `worker.rs`; the monitor
//! (`sysmon`) in `monitor.rs`.

use std::panic::Location;
use std::sync::atomic::{
    fence, AtomicBool, AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed, SeqCst},
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::allp::AllP;
use crate::blocking::BlockingPool;
use crate::current_thread::CurrentThread;
use crate::driver::{Driver, Timers};
use crate::idle::{Assignment, Idle, StartM};
use crate::inject::Inject;
use crate::metrics::{Counters, Event};
use crate::monitor::MonitorShared;
use crate::runtime::Handle;
use crate::task::list::OwnedTasks;
use crate::task::{self, JoinHandle, Notified, RawTask, Schedule};
use crate::worker;

/// Configuration fixed at build.
pub(crate) struct Config {
    pub(crate) thread_name: Arc<dyn Fn() -> String + Send + Sync>,
    pub(crate) thread_stack_size: Option<usize>,
    /// A poll holding its P longer than this gets the P handed off.
    pub(crate) handoff_after: std::time::Duration,
    /// Print Go's SCHED line this often.
    pub(crate) schedtrace: Option<Duration>,
    /// Add the per-P and per-M lines to it.
    pub(crate) scheddetail: bool,
    /// Detect "all goroutines are asleep".
    pub(crate) checkdead: bool,
}

pub(crate) struct Shared {
    pub(crate) procs: AllP,
    pub(crate) inject: Inject,
    pub(crate) idle: Idle,
    pub(crate) owned: OwnedTasks,
    pub(crate) driver: Arc<dyn Driver>,
    pub(crate) timers: Option<Arc<dyn Timers>>,
    pub(crate) blocking: BlockingPool,
    pub(crate) monitor: MonitorShared,
    pub(crate) counters: Counters,
    pub(crate) shutdown: AtomicBool,
    /// Mirror of `SchedState::stw` for the schedule loop's fast check.
    pub(crate) stw: AtomicBool,
    /// One `set_gomaxprocs` at a time.
    resize_lock: Mutex<()>,
    pub(crate) config: Config,
    next_m_id: AtomicU64,
    /// Join handles of every M thread ever started.
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// When the M blocked in the driver will wake up by itself, in ns since
    /// the clock origin: 0 = nobody is blocked, `u64::MAX` = no timeout.
    pub(crate) poll_until: AtomicU64,
    /// Ms currently alive (for schedtrace's `threads=`).
    pub(crate) threads_alive: AtomicUsize,
    /// Ms inside `block_in_place` (running user code without a P).
    pub(crate) in_blocking: AtomicUsize,
    /// Threads polling a `block_on` future right now.
    pub(crate) block_on_active: AtomicUsize,
    /// Threads inside `block_on` (polling or parked).
    pub(crate) block_on_threads: AtomicUsize,
    /// Tasks the driver readied that an M holds and has not queued yet.
    pub(crate) readied_in_flight: AtomicUsize,
    /// Threads running a `spawn_locked` task.
    pub(crate) locked_threads: AtomicUsize,
    /// Every live M, for schedtrace and the deadlock check.
    pub(crate) ms: Mutex<Vec<Arc<crate::worker::MInfo>>>,
    /// When the runtime was built (schedtrace's clock).
    pub(crate) started: Instant,
    /// The deadlock check fired: `block_on` callers panic.
    pub(crate) deadlocked: AtomicBool,
    /// Threads inside `block_on`, to wake when a deadlock is declared.
    pub(crate) block_on_waiters: Mutex<Vec<Arc<crate::runtime::ThreadNotify>>>,
    /// Polls of `block_on` futures (the deadlock check's activity sign).
    pub(crate) block_on_polls: AtomicU64,
    /// Set on a current-thread runtime: its one P is driven by the thread
    /// in `block_on`, and no M thread is ever started.
    pub(crate) current_thread: Option<Arc<CurrentThread>>,
}

impl Shared {
    pub(crate) fn new(
        nprocs: usize,
        driver: Arc<dyn Driver>,
        timers: Option<Arc<dyn Timers>>,
        max_blocking: usize,
        config: Config,
        current_thread: bool,
    ) -> Shared {
        let idle = Idle::new();
        {
            let mut s = idle.lock();
            // Ps are handed out last-in first-out; put P0 on top so the first
            // M gets P0, like Go's m0.
            for p in (0..nprocs).rev() {
                idle.pidle_put(&mut s, p);
            }
        }
        Shared {
            procs: AllP::new(nprocs),
            inject: Inject::new(),
            idle,
            owned: OwnedTasks::new(nprocs * 4),
            timers,
            blocking: BlockingPool::new(max_blocking),
            monitor: MonitorShared::new(),
            counters: Counters::default(),
            shutdown: AtomicBool::new(false),
            stw: AtomicBool::new(false),
            resize_lock: Mutex::new(()),
            config,
            // Id 0 is the monitor's (processor::MONITOR_ID).
            next_m_id: AtomicU64::new(1),
            threads: Mutex::new(Vec::new()),
            poll_until: AtomicU64::new(0),
            threads_alive: AtomicUsize::new(0),
            in_blocking: AtomicUsize::new(0),
            block_on_active: AtomicUsize::new(0),
            block_on_threads: AtomicUsize::new(0),
            readied_in_flight: AtomicUsize::new(0),
            locked_threads: AtomicUsize::new(0),
            ms: Mutex::new(Vec::new()),
            started: Instant::now(),
            deadlocked: AtomicBool::new(false),
            block_on_waiters: Mutex::new(Vec::new()),
            block_on_polls: AtomicU64::new(0),
            current_thread: current_thread.then(|| Arc::new(CurrentThread::new(driver.clone()))),
            driver,
        }
    }

    pub(crate) fn nprocs(&self) -> usize {
        self.procs.len()
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Acquire)
    }

    /// Spawns a task (Go's `newproc`): onto the current P's `runnext` when
    /// called from one of this runtime's workers, onto the global queue
    /// otherwise.
    pub(crate) fn spawn<F>(
        handle: &Handle,
        future: F,
        name: Option<Box<str>>,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let shared = &handle.shared;
        let (notified, raw, join) = task::new_task(future, handle.clone(), name, location);
        if !shared.owned.bind(raw) {
            // Shut down: the task is cancelled before it ever runs.
            drop(notified);
            // SAFETY: we own the list reference the task was created with.
            unsafe { raw.shutdown() };
            return join;
        }
        worker::count(shared, Event::Spawned);
        shared.schedule_task(notified, true);
        join
    }

    /// Makes a task runnable (Go's `ready`). `next` puts it in `runnext`
    /// when the caller is a task running on this runtime's P.
    pub(crate) fn schedule_task(self: &Arc<Self>, task: Notified, next: bool) {
        if let Some(task) = worker::try_schedule_local(self, task, next) {
            self.inject.push(task);
            self.wakep();
        }
    }

    /// Go's `wakep`: if there is an idle P and no M spinning, start one
    /// spinning M to find the new work.
    pub(crate) fn wakep(self: &Arc<Self>) {
        // Pairs with the fence an M runs after putting its P on the idle
        // list: either we see the idle P, or it sees our new work.
        fence(SeqCst);
        if let Some(ct) = &self.current_thread {
            // No M to start: wake the `block_on` thread if it sleeps.
            ct.kick();
            return;
        }
        if !self.idle.try_claim_spinning() {
            return;
        }
        self.start_m(None, true);
    }

    /// A new M's id.
    pub(crate) fn new_m_id(&self) -> u64 {
        self.next_m_id.fetch_add(1, Relaxed)
    }

    /// Go's `startm`: run P `p` (or any idle P) on an idle or new M.
    pub(crate) fn start_m(self: &Arc<Self>, p: Option<usize>, spinning: bool) {
        let mut s = self.idle.lock();
        if self.is_shutdown() || self.current_thread.is_some() {
            // Shutting down, or a current-thread runtime, which never
            // starts an M: the P goes back to the idle list, where the
            // `block_on` thread (woken by `wakep`) takes it.
            if let Some(p) = p {
                self.procs[p].set_idle();
                self.idle.pidle_put(&mut s, p);
            }
            if spinning {
                self.idle.dec_spinning();
            }
            drop(s);
            if let Some(ct) = &self.current_thread {
                ct.kick();
            }
            return;
        }
        match self.idle.start_m(&mut s, p, spinning) {
            StartM::NoP => {
                if let Some(p) = p {
                    // Handed back to the idle list while the world stops.
                    self.procs[p].set_idle();
                }
                drop(s);
                if spinning {
                    self.idle.dec_spinning();
                }
            }
            StartM::Woke { in_driver } => {
                drop(s);
                self.counters.add_shared(Event::Unparks, 1);
                if in_driver {
                    self.driver.unpark();
                }
                self.monitor.wake();
            }
            StartM::Spawn(a) => {
                s.mcount += 1;
                drop(s);
                self.spawn_m(a);
                self.monitor.wake();
            }
        }
    }

    fn spawn_m(self: &Arc<Self>, a: Assignment) {
        let id = self.next_m_id.fetch_add(1, Relaxed);
        let shared = self.clone();
        let mut b = std::thread::Builder::new().name((self.config.thread_name)());
        if let Some(sz) = self.config.thread_stack_size {
            b = b.stack_size(sz);
        }
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        match b.spawn(move || worker::run_m(shared, id, a)) {
            Ok(h) => {
                self.threads_alive.fetch_add(1, Relaxed);
                threads.push(h);
            }
            Err(e) => {
                drop(threads);
                // Go throws on newosproc failure; gort keeps running with the
                // Ms it has and puts the P back for them.
                eprintln!("gort: failed to start a worker thread: {e}");
                let mut s = self.idle.lock();
                s.mcount -= 1;
                self.procs[a.p].set_idle();
                self.idle.pidle_put(&mut s, a.p);
                drop(s);
                if a.spinning {
                    self.idle.dec_spinning();
                }
            }
        }
    }

    /// Go's `handoffp`: the caller owns P `p` (status RUNNING) but cannot
    /// run it (its M is stuck in a poll, or entering `block_in_place`).
    pub(crate) fn handoff_p(self: &Arc<Self>, p: usize) {
        let pp = &self.procs[p];
        // SAFETY: the caller owns the P.
        let has_yielded = unsafe { pp.has_yielded() };
        if pp.has_work() || has_yielded || !self.inject.is_empty() {
            self.start_m(Some(p), false);
            return;
        }
        // No local work: if nobody is spinning or idle, someone must look
        // for work anyway.
        if self.idle.nmspinning.load(SeqCst) + self.idle.npidle.load(SeqCst) == 0
            && self
                .idle
                .nmspinning
                .compare_exchange(0, 1, SeqCst, SeqCst)
                .is_ok()
        {
            self.start_m(Some(p), true);
            return;
        }
        let mut s = self.idle.lock();
        if !self.inject.is_empty() {
            drop(s);
            self.start_m(Some(p), false);
            return;
        }
        // The last running P, and nobody waits in the driver: an M must, to
        // fire timers and I/O.
        if self.idle.npidle.load(SeqCst) == self.nprocs() - 1 && !s.driver_busy {
            drop(s);
            self.start_m(Some(p), false);
            return;
        }
        pp.set_idle();
        self.idle.pidle_put(&mut s, p);
        drop(s);
        if let Some(when) = self.timers.as_ref().and_then(|t| t.next_deadline(p)) {
            self.wake_netpoller(when);
        }
    }

    /// Go's `wakeNetPoller`: a timer due at `when` was added (or its P
    /// went idle); make sure some M will wake up for it.
    pub fn wake_netpoller(self: &Arc<Self>, when: Instant) {
        let until = self.poll_until.load(SeqCst);
        if until == 0 {
            // Nobody blocks in the driver: make sure an M is awake.
            self.wakep();
            return;
        }
        let when_ns = crate::clock::ns_since_origin(when);
        if until > when_ns {
            self.driver.unpark();
        }
    }

    /// Go's `GOMAXPROCS(n)` on a live runtime: stops the world at poll
    /// boundaries (every M releases its P at its next schedule point, a P
    /// stuck in a long poll is handed off by the monitor), resizes the set
    /// of Ps as `procresize` does — a removed P's queued tasks go to the
    /// global queue, its timers to P0 — and starts the world again.
    /// Returns the previous number of Ps.
    pub(crate) fn set_gomaxprocs(self: &Arc<Self>, n: usize) -> std::io::Result<usize> {
        crate::runtime::check_procs(n).map_err(|why| {
            crate::runtime::invalid(format!("set_gomaxprocs({n}) is not valid: {why}"))
        })?;
        if self.current_thread.is_some() {
            return if n == 1 {
                Ok(1)
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    format!(
                        "set_gomaxprocs({n}): a current-thread runtime has exactly one P, \
                         driven by the thread in block_on; build a multi-thread runtime for more"
                    ),
                ))
            };
        }
        let _one = self.resize_lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_shutdown() {
            return Err(std::io::Error::other(
                "set_gomaxprocs: the runtime is shut down",
            ));
        }
        // Called from a task: give our own P away first, or the world
        // would wait for us.
        crate::blocking::block_in_place(|| self.resize_stopped(n))
    }

    fn resize_stopped(self: &Arc<Self>, n: usize) -> std::io::Result<usize> {
        {
            let mut s = self.idle.lock();
            s.stw = true;
            self.stw.store(true, SeqCst);
        }
        // Wait for every P to reach the idle list. Ms see `stw` at their
        // next schedule point; the monitor retakes Ps stuck in a poll.
        while self.idle.npidle.load(SeqCst) < self.nprocs() {
            std::thread::sleep(Duration::from_micros(100));
        }
        let old = self.nprocs();
        let mut displaced = Vec::new();
        {
            let mut s = self.idle.lock();
            if n > old {
                self.procs.ensure(n);
                for p in old..n {
                    self.procs[p].set_idle();
                    self.idle.pidle_put(&mut s, p);
                }
            } else {
                for p in n..old {
                    self.idle.pidle_remove(&mut s, p);
                    // SAFETY: the world is stopped: no M owns this P.
                    displaced.extend(unsafe { self.procs[p].drain() });
                }
            }
            self.procs.set_len(n);
            if let Some(t) = &self.timers {
                t.resize(n);
            }
            s.stw = false;
            self.stw.store(false, SeqCst);
        }
        for t in displaced {
            self.inject.push(t);
        }
        // Start an M for every P with queued work, then one spinner for the
        // global queue.
        for p in 0..n {
            if self.procs[p].has_work() {
                let taken = {
                    let mut s = self.idle.lock();
                    self.idle.pidle_remove(&mut s, p)
                };
                if taken {
                    self.start_m(Some(p), false);
                }
            }
        }
        self.wakep();
        self.monitor.wake();
        Ok(old)
    }

    /// Nothing can run without an outside event: every P idle with empty
    /// queues, no blocking work, no `block_on` future being polled or
    /// woken. A paused clock may then jump ahead; the deadlock check
    /// starts from here too.
    pub(crate) fn is_quiescent(&self) -> bool {
        self.idle.npidle.load(SeqCst) == self.nprocs()
            && self.inject.is_empty()
            && !self.procs.iter().any(|p| p.has_work())
            && self.in_blocking.load(SeqCst) == 0
            && self.block_on_active.load(SeqCst) == 0
            && self.blocking.is_idle()
            && self.readied_in_flight.load(SeqCst) == 0
            && !self.block_on_woken()
    }

    /// A `block_on` future was woken and has not been polled since: its
    /// thread is about to run.
    pub(crate) fn block_on_woken(&self) -> bool {
        self.block_on_waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|w| w.notified.load(SeqCst))
    }

    /// The earliest timer deadline over all Ps.
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        let t = self.timers.as_ref()?;
        (0..self.nprocs()).filter_map(|p| t.next_deadline(p)).min()
    }

    /// For the M about to block in the driver: publishes Go's `pollUntil`
    /// and returns the deadline to block until (None: no timer). The value
    /// is `u64::MAX` while the deadline is computed, so a timer added
    /// meanwhile from another thread sees `until > when` and kicks the
    /// driver (Go's wakeNetPoller against a pollUntil being computed). A
    /// paused clock (tests) jumps to the next timer instead of waiting for
    /// it, once nothing else can run. The caller stores 0 after the park.
    pub(crate) fn begin_idle_poll(&self) -> Option<Instant> {
        self.poll_until.store(u64::MAX, SeqCst);
        let advanced = self
            .timers
            .as_ref()
            .is_some_and(|t| t.is_paused() && self.is_quiescent() && t.advance_idle());
        let deadline = if advanced {
            Some(Instant::now())
        } else {
            self.next_timer()
        };
        let until = deadline.map_or(u64::MAX, crate::clock::ns_since_origin);
        self.poll_until.store(until, SeqCst);
        deadline
    }

    /// Stops every M, cancels every remaining task (each future dropped
    /// exactly once), empties the queues, stops the blocking pool and the
    /// monitor. Waits at most `timeout` for threads (None: forever).
    ///
    /// A P's queues are only ever touched by its owner, here too: the
    /// monitor is stopped (and has left its loop) before anything else, so
    /// it retakes nothing; each P is then drained by whoever owns it — this
    /// thread for the idle ones and those it retakes from a stuck poll, the
    /// M itself for a P it holds as it exits.
    pub(crate) fn shutdown(self: &Arc<Self>, timeout: Option<Duration>) {
        if self.shutdown.swap(true, SeqCst) {
            return;
        }
        // A timeout past the clock's range waits forever, like `None`.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        // Wake every sleeping M so it sees the flag and exits.
        {
            let mut s = self.idle.lock();
            self.idle.wake_all_for_exit(&mut s);
        }
        self.driver.unpark();
        self.monitor.stop();
        // Join the Ms. New ones may have been spawned just before the flag;
        // loop until the list stays empty.
        loop {
            let hs: Vec<_> =
                std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
            if hs.is_empty() {
                break;
            }
            for h in hs {
                // A thread not joined by the deadline is left to exit by
                // itself when its current poll returns.
                join_until(h, deadline, &*self.driver);
            }
        }
        // A current-thread runtime's P is driven by a `block_on` thread,
        // not an M: give it until the deadline to let go of the P (it sees
        // the flag after its current task poll).
        if let Some(ct) = &self.current_thread {
            ct.wait_not_driving(deadline);
        }
        // Cancel every task still alive; their futures drop here, on the
        // thread that shuts the runtime down.
        for t in self.owned.close_and_drain() {
            // SAFETY: `close_and_drain` handed us each task's list reference.
            unsafe { t.shutdown() };
        }
        // Drop the queued references (the tasks are complete now) of every
        // P this thread can own. A P still held by a thread that timed out
        // is that thread's to drain (see `take_p_for_shutdown`).
        for (i, p) in self.procs.iter_all().enumerate() {
            if self.take_p_for_shutdown(i) {
                // SAFETY: we own the P: taken off the idle list or retaken.
                drop(unsafe { p.drain() });
            }
        }
        // A future's Drop may have woken others into the global queue:
        // drain until empty.
        loop {
            let v = self.inject.drain();
            if v.is_empty() {
                break;
            }
            drop(v);
        }
        self.blocking.shutdown(deadline);
        if let Some(t) = &self.timers {
            t.shutdown();
        }
        self.driver.shutdown();
    }
}

impl Shared {
    /// Takes P `i` for shutdown to drain, the way anyone takes a P: off
    /// the idle list (under the lock, so no M can get it afterwards), or
    /// retaken with the monitor's CAS from an M stuck in a poll (whose
    /// `acquire_in_poll` then fails: it never touches the P again). The P
    /// is kept, never listed again. Returns false for a P that some thread
    /// holds outside a poll — an M in scheduler code, one back from its
    /// poll (the CAS lost), one just handed the P: that thread sees the
    /// shutdown flag before it runs anything and drains the P itself as it
    /// lets go of it (`M::drop_p_for_exit`). The monitor has stopped, so
    /// it is none of them.
    fn take_p_for_shutdown(&self, i: usize) -> bool {
        let pp = &self.procs[i];
        {
            let mut s = self.idle.lock();
            if self.idle.pidle_remove(&mut s, i) {
                pp.set_owner(crate::processor::MONITOR_ID);
                return true;
            }
        }
        let (owner, state) = pp.status();
        state == crate::processor::P_POLLING && pp.retake(owner)
    }
}

/// Joins `h`, giving up at `deadline`. Returns whether it was joined.
fn join_until(
    h: std::thread::JoinHandle<()>,
    deadline: Option<Instant>,
    driver: &dyn Driver,
) -> bool {
    match deadline {
        None => {
            let _ = h.join();
            true
        }
        Some(d) => {
            while !h.is_finished() {
                if Instant::now() >= d {
                    return false;
                }
                driver.unpark();
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = h.join();
            true
        }
    }
}

impl Schedule for Handle {
    fn schedule(&self, task: Notified) {
        self.shared.schedule_task(task, true);
    }

    fn release(&self, task: RawTask) -> bool {
        worker::count(&self.shared, Event::Completed);
        self.shared.owned.remove(task)
    }
}
