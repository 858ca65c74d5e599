//! `Runtime`, `Builder` and `Handle`: building, entering and shutting
//! down a runtime.
//!
//! A runtime is the shared scheduler state (`sched.rs`), the monitor thread
//! and Ms started on demand. On a multi-thread runtime `block_on` drives
//! one future on the calling thread, which holds no P: tasks it spawns go
//! to the global queue and an M picks them up, as a goroutine readied from
//! outside Go would. On a current-thread runtime the calling thread takes
//! the one P and runs the tasks itself (`current_thread.rs`). Either way
//! `block_on` also polls the thread's own local set (`task/local.rs`).

use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering::AcqRel};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use crate::context;
use crate::driver::{Driver, ParkDriver, Timers};
use crate::sched::{Config, Shared};
use crate::task::JoinHandle;

/// Go's `_MaxGomaxprocs`: the largest number of Ps a runtime may have.
pub const MAX_PROCS: usize = 1024;

/// Default cap on blocking-pool threads (tokio's figure).
const DEFAULT_MAX_BLOCKING_THREADS: usize = 512;

/// Configures and builds a [`Runtime`].
///
/// ```
/// let rt = gort_core::runtime::Builder::new().procs(2).build().unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
pub struct Builder {
    procs: Option<usize>,
    max_blocking_threads: usize,
    thread_name: Arc<dyn Fn() -> String + Send + Sync>,
    thread_stack_size: Option<usize>,
    handoff_after: Duration,
    schedtrace: Option<Option<Duration>>,
    scheddetail: Option<bool>,
    dump_on_sigquit: Option<bool>,
    deadlock_detection: Option<bool>,
    driver: Option<Arc<dyn Driver>>,
    timers: Option<Arc<dyn Timers>>,
    current_thread: bool,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("procs", &self.procs)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A builder with the defaults: `GORT_MAXPROCS` Ps if set, else one per
    /// available CPU; up to 512 blocking threads.
    pub fn new() -> Builder {
        Builder {
            procs: None,
            max_blocking_threads: DEFAULT_MAX_BLOCKING_THREADS,
            thread_name: Arc::new(|| "gort-worker".to_string()),
            thread_stack_size: None,
            handoff_after: crate::monitor::FORCE_HANDOFF,
            schedtrace: None,
            scheddetail: None,
            dump_on_sigquit: None,
            deadlock_detection: None,
            driver: None,
            timers: None,
            current_thread: false,
        }
    }

    /// tokio's name for a runtime with several Ps: the same as [`Builder::new`].
    pub fn new_multi_thread() -> Builder {
        Builder::new()
    }

    /// tokio's current-thread runtime: one P, driven by the thread that
    /// calls `block_on`, which runs every task, timer and I/O event between
    /// polls of its own future; no worker thread is started. `procs`,
    /// `worker_threads` and `GORT_MAXPROCS` are ignored. See
    /// `current_thread.rs` for the rules: tasks spawned while no thread is
    /// in `block_on` wait for the next one; a second concurrent `block_on`
    /// takes the P over when the first returns; a task that blocks its
    /// thread stalls the others (no hand-off); `block_in_place` runs
    /// inline; `set_gomaxprocs(n)` fails unless `n == 1`.
    ///
    /// ```
    /// let rt = gort_core::runtime::Builder::new_current_thread().build().unwrap();
    /// let me = std::thread::current().id();
    /// let ran_on = rt.block_on(async {
    ///     gort_core::spawn(async { std::thread::current().id() }).await.unwrap()
    /// });
    /// assert_eq!(ran_on, me);
    /// ```
    pub fn new_current_thread() -> Builder {
        let mut b = Builder::new();
        b.current_thread = true;
        b
    }

    /// tokio's name for [`Builder::procs`].
    pub fn worker_threads(&mut self, n: usize) -> &mut Builder {
        self.procs(n)
    }

    /// Sets the number of Ps (Go's `GOMAXPROCS`), overriding
    /// `GORT_MAXPROCS`. `build` fails on 0 or more than [`MAX_PROCS`].
    pub fn procs(&mut self, n: usize) -> &mut Builder {
        self.procs = Some(n);
        self
    }

    /// Caps the threads of the `spawn_blocking` pool. `build` fails on 0.
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Builder {
        self.max_blocking_threads = n;
        self
    }

    /// Names the runtime's threads.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        let name = name.into();
        self.thread_name = Arc::new(move || name.clone());
        self
    }

    /// Names the runtime's threads with a function called for each new one.
    pub fn thread_name_fn(
        &mut self,
        f: impl Fn() -> String + Send + Sync + 'static,
    ) -> &mut Builder {
        self.thread_name = Arc::new(f);
        self
    }

    /// Stack size of the runtime's threads (the platform default otherwise).
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Builder {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// How long one poll may hold its P before the monitor hands the P (and
    /// the tasks queued on it) to another worker thread. Go's figure, and
    /// the default, is 10 ms. A longer value trades the latency of the
    /// other tasks for fewer threads when polls legitimately run long;
    /// `Duration::MAX` turns hand-off off. `build` fails on zero.
    pub fn handoff_after(&mut self, d: Duration) -> &mut Builder {
        self.handoff_after = d;
        self
    }

    /// Prints Go's `SCHED` line to stderr every `every` (`None` or zero:
    /// off; a period past the clock's range, such as `Duration::MAX`,
    /// never comes), overriding `GORT_DEBUG=schedtrace=MS`.
    pub fn schedtrace(&mut self, every: Option<Duration>) -> &mut Builder {
        self.schedtrace = Some(every.filter(|d| !d.is_zero()));
        self
    }

    /// Adds the per-P and per-M lines to the schedtrace output, overriding
    /// `GORT_DEBUG=scheddetail=1`.
    pub fn scheddetail(&mut self, on: bool) -> &mut Builder {
        self.scheddetail = Some(on);
        self
    }

    /// SIGQUIT prints every runtime's task dump to stderr instead of
    /// killing the process (Unix), overriding `GORT_DEBUG=sigquit=1`.
    pub fn dump_on_sigquit(&mut self, on: bool) -> &mut Builder {
        self.dump_on_sigquit = Some(on);
        self
    }

    /// Turns Go's "all goroutines are asleep - deadlock!" check on or off
    /// (on by default), overriding `GORT_DEBUG=checkdead=0`.
    pub fn deadlock_detection(&mut self, on: bool) -> &mut Builder {
        self.deadlock_detection = Some(on);
        self
    }

    /// Installs the event source idle Ms block in (the driver seam; gort-net
    /// installs its poller here). Defaults to [`ParkDriver`].
    pub fn driver(&mut self, driver: Arc<dyn Driver>) -> &mut Builder {
        self.driver = Some(driver);
        self
    }

    /// Installs the per-P timer hook (gort-time installs its heaps here).
    pub fn timers(&mut self, timers: Arc<dyn Timers>) -> &mut Builder {
        self.timers = Some(timers);
        self
    }

    /// Builds the runtime. Fails with `InvalidInput` on a bad setting or a
    /// bad `GORT_MAXPROCS` (the message names the variable and the value).
    pub fn build(&mut self) -> io::Result<Runtime> {
        let procs = match self.procs {
            _ if self.current_thread => 1,
            Some(n) => check_procs(n)
                .map_err(|why| invalid(format!("Builder::procs({n}) is not valid: {why}")))?,
            None => match crate::config::maxprocs_from_env()? {
                Some(n) => n,
                None => crate::config::default_procs(),
            },
        };
        if self.max_blocking_threads == 0 {
            return Err(invalid(
                "Builder::max_blocking_threads(0) is not valid: expected at least 1".to_string(),
            ));
        }
        if self.handoff_after.is_zero() {
            return Err(invalid(
                "Builder::handoff_after(0) is not valid: expected a positive duration".to_string(),
            ));
        }
        let debug = crate::config::debug_from_env()?;
        let schedtrace = match self.schedtrace {
            Some(v) => v,
            None => debug
                .schedtrace_ms
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis),
        };
        let scheddetail = self.scheddetail.or(debug.scheddetail).unwrap_or(false);
        let sigquit = self.dump_on_sigquit.or(debug.sigquit).unwrap_or(false);
        let checkdead = self.deadlock_detection.or(debug.checkdead).unwrap_or(true);
        let driver = self
            .driver
            .clone()
            .unwrap_or_else(|| Arc::new(ParkDriver::new()));
        let timers = self.timers.clone();
        if let Some(t) = &timers {
            t.resize(procs);
        }
        let config = Config {
            thread_name: self.thread_name.clone(),
            thread_stack_size: self.thread_stack_size,
            handoff_after: self.handoff_after,
            schedtrace,
            scheddetail,
            checkdead,
        };
        let shared = Arc::new(Shared::new(
            procs,
            driver,
            timers,
            self.max_blocking_threads,
            config,
            self.current_thread,
        ));
        let mon = shared.clone();
        let monitor = thread::Builder::new()
            .name("gort-monitor".to_string())
            .spawn(move || crate::monitor::run(mon))?;
        crate::sigquit::register(&shared, sigquit)?;
        Ok(Runtime {
            handle: Handle { shared },
            monitor: Some(monitor),
        })
    }
}

pub(crate) fn check_procs(n: usize) -> Result<usize, String> {
    if n == 0 || n > MAX_PROCS {
        Err(format!("expected a whole number from 1 to {MAX_PROCS}"))
    } else {
        Ok(n)
    }
}

pub(crate) fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A running gort runtime: its Ps, Ms, monitor and blocking pool.
///
/// Dropping it shuts it down: every M is stopped and joined, every task
/// still alive is cancelled (its future dropped exactly once) and the
/// blocking pool waits for the closures that already run.
pub struct Runtime {
    handle: Handle,
    monitor: Option<thread::JoinHandle<()>>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("procs", &self.handle.shared.nprocs())
            .finish()
    }
}

impl Runtime {
    /// A runtime with the default [`Builder`] settings.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `future` to completion on the current thread, with this runtime
    /// entered: tasks it spawns run on the runtime's Ms.
    ///
    /// # Panics
    /// When called from a task running on a runtime (it would block a P);
    /// use `.await`, or `block_in_place(|| handle.block_on(f))`.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a task on this runtime.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `f` on the blocking pool.
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A handle to this runtime.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Shuts down, waiting at most `timeout` for threads still busy (a
    /// task stuck in a poll, a blocking closure); those are left to finish
    /// on their own. A timeout past the clock's range (`Duration::MAX`)
    /// waits as long as they take.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.handle.shared.shutdown(Some(timeout));
        self.join_monitor();
    }

    /// Shuts down without waiting for busy threads.
    pub fn shutdown_background(self) {
        self.shutdown_timeout(Duration::ZERO);
    }

    fn join_monitor(&mut self) {
        if let Some(m) = self.monitor.take() {
            let _ = m.join();
        }
    }
}

impl AsRef<Handle> for Runtime {
    fn as_ref(&self) -> &Handle {
        &self.handle
    }
}

impl AsRef<Handle> for Handle {
    fn as_ref(&self) -> &Handle {
        self
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if crate::worker::with_current_m(|m| {
            m.is_some_and(|m| Arc::ptr_eq(&m.shared, &self.handle.shared))
        }) {
            panic!(
                "gort: a Runtime was dropped from inside one of its own tasks; it cannot \
                 join its own worker. Drop it from outside, or call shutdown_background()."
            );
        }
        self.handle.shared.shutdown(None);
        self.join_monitor();
    }
}

/// A cheap, cloneable reference to a runtime.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("procs", &self.shared.nprocs())
            .finish()
    }
}

/// Returned by [`Handle::try_current`] outside a runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no gort runtime is running on this thread")
    }
}

impl std::error::Error for TryCurrentError {}

impl Handle {
    /// The runtime this thread is in.
    ///
    /// # Panics
    /// Outside a runtime (not a worker, not inside `block_on`).
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(h) => h,
            Err(_) => panic!(
                "gort::runtime::Handle::current() called outside a gort runtime: call it from a \
                 task, inside Runtime::block_on, or after Handle::enter"
            ),
        }
    }

    /// Runs `f` with the runtime this thread is in, without cloning the
    /// handle (for hot paths such as `Instant::now` under a paused clock).
    pub fn with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
        context::with_current(f)
    }

    /// The runtime this thread is in, if any.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::with_current(|h| h.cloned()).ok_or(TryCurrentError(()))
    }

    /// Makes this runtime current on this thread until the guard drops, so
    /// `gort::spawn` works from plain threads.
    pub fn enter(&self) -> EnterGuard {
        EnterGuard {
            _guard: context::enter(self.clone()),
        }
    }

    /// Spawns a task on this runtime.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(self, future, None, Location::caller())
    }

    /// Runs `f` on the blocking pool.
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        crate::blocking::spawn_blocking(self, f, Location::caller())
    }

    /// Number of Ps.
    pub fn procs(&self) -> usize {
        self.shared.nprocs()
    }

    /// Number of live tasks (Go's `NumGoroutine`).
    pub fn num_tasks(&self) -> usize {
        self.shared.owned.len()
    }

    /// Every live task with its state, wait reason, wait time, name and
    /// spawn location (Go's goroutine dump).
    ///
    /// ```
    /// let rt = gort_core::runtime::Builder::new().procs(1).build().unwrap();
    /// let dump = rt.block_on(async {
    ///     let _h = gort_core::task::Builder::new().name("sleeper").spawn(std::future::pending::<()>());
    ///     // One P runs tasks in order: once this one is done, the sleeper
    ///     // has been polled and is parked.
    ///     gort_core::spawn(async {}).await.unwrap();
    ///     gort_core::runtime::Handle::current().dump_tasks()
    /// });
    /// assert!(dump.contains("\"sleeper\" [waiting"), "{dump}");
    /// ```
    pub fn dump_tasks(&self) -> String {
        crate::dump::dump(&self.shared)
    }

    /// Number of Ps (Go's `GOMAXPROCS`).
    pub fn gomaxprocs(&self) -> usize {
        self.shared.nprocs()
    }

    /// Go's `runtime.GOMAXPROCS(n)`: resizes the set of Ps of this live
    /// runtime, stopping the world at poll boundaries. Returns the previous
    /// number. Fails with `InvalidInput` unless `1 <= n <= MAX_PROCS`.
    ///
    /// ```
    /// let rt = gort_core::runtime::Builder::new().procs(2).build().unwrap();
    /// assert_eq!(rt.handle().set_gomaxprocs(4).unwrap(), 2);
    /// assert_eq!(rt.handle().gomaxprocs(), 4);
    /// assert!(rt.handle().set_gomaxprocs(0).is_err());
    /// ```
    pub fn set_gomaxprocs(&self, n: usize) -> io::Result<usize> {
        self.shared.set_gomaxprocs(n)
    }

    /// Runs the future that `f` builds on a new thread of its own, which
    /// runs nothing else (Go's `LockOSThread` for the whole goroutine). The
    /// future may be `!Send`: it is created and polled on that thread only.
    /// Fails if the thread cannot be started. `abort` on the handle has no
    /// effect once the thread runs it.
    ///
    /// ```
    /// let rt = gort_core::runtime::Builder::new().procs(1).build().unwrap();
    /// let h = rt.handle().spawn_locked(|| async {
    ///     let local = std::rc::Rc::new(5); // !Send
    ///     *local + 1
    /// }).unwrap();
    /// assert_eq!(rt.block_on(h).unwrap(), 6);
    /// ```
    #[track_caller]
    pub fn spawn_locked<F, Fut>(&self, f: F) -> io::Result<JoinHandle<Fut::Output>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        crate::blocking::spawn_locked(self, f, Location::caller())
    }

    /// A snapshot of the scheduler's counters.
    pub fn metrics(&self) -> crate::metrics::RuntimeMetrics {
        use crate::metrics::Event;
        use std::sync::atomic::Ordering::Relaxed;
        let sh = &*self.shared;
        let sum = |e: Event| {
            sh.counters.get(e) + sh.procs.iter_all().map(|p| p.counters.get(e)).sum::<u64>()
        };
        crate::metrics::RuntimeMetrics {
            procs: sh.nprocs(),
            idle_procs: sh.idle.npidle.load(Relaxed),
            live_tasks: sh.owned.len(),
            spawned: sum(Event::Spawned),
            completed: sum(Event::Completed),
            polls: sh.procs.iter_all().map(|p| p.poll_seq.load(Relaxed)).sum(),
            steals: sum(Event::Steals),
            stolen_tasks: sum(Event::Stolen),
            global_takes: sum(Event::GlobalTakes),
            overflows: sum(Event::Overflows),
            parks: sum(Event::Parks),
            unparks: sum(Event::Unparks),
            monitor_handoffs: sum(Event::Handoffs),
            blocking_handoffs: sum(Event::HandoffsBlocking),
            budget_forced_yields: sum(Event::ForcedYields),
            global_queue_depth: sh.inject.len(),
            local_queue_depth: sh.procs.iter().map(|p| p.queue_len.load(Relaxed)).collect(),
            blocking_threads: sh.blocking.threads(),
            workers: sh.threads_alive.load(Relaxed),
        }
    }

    /// Go's `wakeNetPoller`: a timer due at `when` was added; make sure an
    /// M wakes up for it. For the timer hook (gort-time).
    pub fn wake_netpoller(&self, when: std::time::Instant) {
        self.shared.wake_netpoller(when);
    }

    /// The installed driver, if it is of type `T` (for gort-net).
    pub fn driver_as<T: Driver>(&self) -> Option<&T> {
        let d: &dyn std::any::Any = &*self.shared.driver;
        d.downcast_ref::<T>()
    }

    /// The installed timer hook, if it is of type `T` (for gort-time).
    pub fn timers_as<T: Timers>(&self) -> Option<&T> {
        let t: &dyn std::any::Any = &**self.shared.timers.as_ref()?;
        t.downcast_ref::<T>()
    }

    /// The index of the P the calling thread owns, if it is one of this
    /// runtime's Ms holding a P (the timer hook puts timers there).
    pub fn current_proc(&self) -> Option<usize> {
        crate::worker::with_current_m(|m| {
            m.filter(|m| Arc::ptr_eq(&m.shared, &self.shared))
                .and_then(|m| m.p_index())
        })
    }

    /// Runs `future` to completion on the current thread.
    ///
    /// # Panics
    /// When called from a task running on a runtime.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        if crate::worker::with_current_m(|m| m.is_some_and(|m| m.has_p())) || context::in_block_on()
        {
            panic!(
                "gort: block_on called from a thread that is already driving a runtime (a task, \
                 or inside block_on). Blocking here would stall a P. Use `.await` instead, or \
                 wrap the call in gort::block_in_place(|| handle.block_on(fut)) or run it with \
                 gort::spawn_blocking."
            );
        }
        let _enter = context::enter(self.clone());
        let _depth = context::enter_block_on();
        let _local = crate::task::local::drive_thread_set();
        struct InBlockOn<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for InBlockOn<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        self.shared
            .block_on_threads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _in = InBlockOn(&self.shared.block_on_threads);
        let notify = Arc::new(ThreadNotify {
            thread: thread::current(),
            notified: AtomicBool::new(false),
            current_thread: self.shared.current_thread.clone(),
        });
        let waker = Waker::from(notify.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        self.shared
            .block_on_waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(notify.clone());
        struct Unregister<'a>(
            &'a std::sync::Mutex<Vec<Arc<ThreadNotify>>>,
            Arc<ThreadNotify>,
        );
        impl Drop for Unregister<'_> {
            fn drop(&mut self) {
                let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(i) = v.iter().position(|t| Arc::ptr_eq(t, &self.1)) {
                    v.swap_remove(i);
                }
            }
        }
        let _unregister = Unregister(&self.shared.block_on_waiters, notify.clone());
        if let Some(ct) = &self.shared.current_thread {
            return crate::current_thread::block_on(self, ct, &notify, &mut cx, future);
        }
        loop {
            if let Poll::Ready(v) = self.poll_block_on(&mut cx, future.as_mut()) {
                return v;
            }
            self.park_block_on(&notify);
        }
    }

    /// One poll of a `block_on` future (and a turn of the thread's own
    /// local set), counted for the deadlock check.
    pub(crate) fn poll_block_on<F: Future + ?Sized>(
        &self,
        cx: &mut Context<'_>,
        future: std::pin::Pin<&mut F>,
    ) -> Poll<F::Output> {
        use std::sync::atomic::Ordering::SeqCst;
        self.shared.block_on_polls.fetch_add(1, SeqCst);
        let active = &self.shared.block_on_active;
        active.fetch_add(1, SeqCst);
        struct Inactive<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Inactive<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, SeqCst);
            }
        }
        let inactive = Inactive(active);
        let res = crate::coop::with_budget(|| crate::task::local::poll_with_thread_set(future, cx));
        drop(inactive);
        if res.is_pending() {
            // A paused clock may advance now that this future waits: let
            // the idle M look again.
            if self.shared.timers.as_ref().is_some_and(|t| t.is_paused()) {
                self.shared.wake_netpoller(std::time::Instant::now());
            }
            crate::wait::take_wait_reason();
        }
        res
    }

    /// Parks the thread until its `block_on` future is woken; panics if the
    /// deadlock check fires meanwhile.
    pub(crate) fn park_block_on(&self, notify: &ThreadNotify) {
        while !notify.notified.swap(false, AcqRel) {
            if self
                .shared
                .deadlocked
                .load(std::sync::atomic::Ordering::SeqCst)
            {
                self.deadlock_panic();
            }
            thread::park();
        }
    }

    /// Go's "all goroutines are asleep - deadlock!", with the task dump.
    pub(crate) fn deadlock_panic(&self) -> ! {
        panic!(
            "all goroutines are asleep - deadlock!\n\n{}",
            self.dump_tasks()
        );
    }
}

/// Keeps a runtime entered; see [`Handle::enter`].
pub struct EnterGuard {
    _guard: context::EnterGuard,
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnterGuard")
    }
}

/// The waker of a `block_on` future: unparks its thread.
pub(crate) struct ThreadNotify {
    thread: Thread,
    /// Woken since the last poll (the deadlock check reads it: a pending
    /// wake-up means the runtime is not dead).
    pub(crate) notified: AtomicBool,
    /// On a current-thread runtime the thread may sleep in the driver
    /// instead of on its parker: a wake kicks the driver too.
    current_thread: Option<Arc<crate::current_thread::CurrentThread>>,
}

impl ThreadNotify {
    /// Wakes the thread without marking its future woken (the deadlock
    /// check, which makes it look at the `deadlocked` flag).
    pub(crate) fn unpark(&self) {
        self.thread.unpark();
        if let Some(ct) = &self.current_thread {
            ct.kick();
        }
    }

    /// Marks the future woken and wakes its thread.
    pub(crate) fn notify(&self) {
        if !self.notified.swap(true, AcqRel) {
            self.unpark();
        }
    }
}

impl Wake for ThreadNotify {
    fn wake(self: Arc<Self>) {
        self.notify();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notify();
    }
}

// Go's `runtime` package functions, on the runtime this thread is in.
//
// Outside a runtime they answer for the runtime this process would build
// by default (`gomaxprocs`), or with zeros (`num_goroutine`, `metrics`).

/// Number of Ps of the current runtime (Go's `GOMAXPROCS(0)`); outside a
/// runtime, the number a default runtime would get (`GORT_MAXPROCS` if
/// valid, else [`num_cpu`]).
pub fn gomaxprocs() -> usize {
    context::with_current(|h| match h {
        Some(h) => h.gomaxprocs(),
        None => crate::config::maxprocs_from_env()
            .ok()
            .flatten()
            .unwrap_or_else(crate::config::default_procs),
    })
}

/// Go's `runtime.GOMAXPROCS(n)` for the current runtime; returns the
/// previous value. Fails outside a runtime, or unless `1 <= n <= MAX_PROCS`.
pub fn set_gomaxprocs(n: usize) -> io::Result<usize> {
    context::with_current(|h| match h {
        Some(h) => h.set_gomaxprocs(n),
        None => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "set_gomaxprocs called outside a gort runtime",
        )),
    })
}

/// Live tasks of the current runtime (Go's `NumGoroutine`), 0 outside one.
pub fn num_goroutine() -> usize {
    context::with_current(|h| h.map_or(0, |h| h.num_tasks()))
}

/// CPUs this process may use: the affinity mask, capped by the cgroup
/// (v1 or v2) CPU quota rounded up. The default number of Ps.
pub fn num_cpu() -> usize {
    crate::cpu::num_cpu()
}

/// gort's version, like Go's `runtime.Version()`.
pub fn version() -> &'static str {
    concat!("gort", env!("CARGO_PKG_VERSION"))
}

/// The current runtime's counters; all zero outside a runtime.
pub fn metrics() -> crate::metrics::RuntimeMetrics {
    context::with_current(|h| h.map(|h| h.metrics()).unwrap_or_default())
}

/// The current runtime's task dump ([`Handle::dump_tasks`]); empty outside one.
pub fn dump_tasks() -> String {
    context::with_current(|h| h.map(|h| h.dump_tasks()).unwrap_or_default())
}

/// [`Handle::spawn_locked`] on the current runtime.
///
/// # Panics
/// Outside a runtime.
#[track_caller]
pub fn spawn_locked<F, Fut>(f: F) -> io::Result<JoinHandle<Fut::Output>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    Handle::current().spawn_locked(f)
}
