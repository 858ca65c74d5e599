//! The runtime: building it, entering it, its counters and task dumps.
//!
//! [`Builder`] is gort-core's builder with the drivers of the other gort
//! crates installed at `build`: the per-P timer heaps of gort-time and the
//! network poller of gort-net. It also takes tokio's
//! builder method names so `tokio::runtime::Builder` code ports by
//! changing the path.

use std::io;
use std::time::Duration;

pub use gort_core::metrics::RuntimeMetrics;
pub use gort_core::runtime::{
    dump_tasks, gomaxprocs, metrics, num_cpu, num_goroutine, set_gomaxprocs, spawn_locked, version,
    EnterGuard, Handle, TryCurrentError, MAX_PROCS,
};

use std::future::Future;

use gort_core::JoinHandle;

/// Configures and builds a [`Runtime`] with every gort driver installed.
///
/// ```
/// let rt = gort::runtime::Builder::new().procs(2).build().unwrap();
/// assert_eq!(rt.block_on(async { 40 + 2 }), 42);
/// ```
#[derive(Debug)]
pub struct Builder {
    core: gort_core::runtime::Builder,
    start_paused: bool,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// `GORT_MAXPROCS` Ps if set, else one per available CPU.
    pub fn new() -> Builder {
        Builder {
            core: gort_core::runtime::Builder::new(),
            start_paused: false,
        }
    }

    /// tokio's name: the same as [`Builder::new`].
    pub fn new_multi_thread() -> Builder {
        Builder::new()
    }

    /// tokio's current-thread runtime: one P, driven by the thread that
    /// calls `block_on` (every task, timer and socket runs there, no
    /// worker thread is started). Tasks spawned while no thread is in
    /// `block_on` wait for the next one; a task that blocks its thread
    /// stalls the others (no monitor hand-off); `block_in_place` runs
    /// inline; `procs`/`worker_threads` are ignored.
    ///
    /// ```
    /// let rt = gort::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let here = std::thread::current().id();
    /// let there = rt.block_on(async { gort::spawn(async { std::thread::current().id() }).await.unwrap() });
    /// assert_eq!(here, there);
    /// ```
    pub fn new_current_thread() -> Builder {
        Builder {
            core: gort_core::runtime::Builder::new_current_thread(),
            start_paused: false,
        }
    }

    /// Number of Ps (Go's `GOMAXPROCS`), 1 to [`MAX_PROCS`]; overrides
    /// `GORT_MAXPROCS`.
    pub fn procs(&mut self, n: usize) -> &mut Builder {
        self.core.procs(n);
        self
    }

    /// tokio's name for [`Builder::procs`].
    pub fn worker_threads(&mut self, n: usize) -> &mut Builder {
        self.core.procs(n);
        self
    }

    /// Caps the `spawn_blocking` pool (default 512).
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Builder {
        self.core.max_blocking_threads(n);
        self
    }

    /// Names the runtime's threads.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.core.thread_name(name);
        self
    }

    /// Names the runtime's threads with a function called for each.
    pub fn thread_name_fn(
        &mut self,
        f: impl Fn() -> String + Send + Sync + 'static,
    ) -> &mut Builder {
        self.core.thread_name_fn(f);
        self
    }

    /// Stack size of the runtime's threads.
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Builder {
        self.core.thread_stack_size(bytes);
        self
    }

    /// How long one poll may hold its P before the monitor hands the P to
    /// another thread (default 10 ms, Go's figure; `Duration::MAX`: never;
    /// `build` fails on zero).
    pub fn handoff_after(&mut self, d: Duration) -> &mut Builder {
        self.core.handoff_after(d);
        self
    }

    /// Prints Go's `SCHED` line to stderr every `every` (`None` or zero:
    /// off; a period past the clock's range never comes), overriding
    /// `GORT_DEBUG=schedtrace=MS`.
    pub fn schedtrace(&mut self, every: Option<Duration>) -> &mut Builder {
        self.core.schedtrace(every);
        self
    }

    /// Adds the per-P and per-M lines to schedtrace, overriding
    /// `GORT_DEBUG=scheddetail=1`.
    pub fn scheddetail(&mut self, on: bool) -> &mut Builder {
        self.core.scheddetail(on);
        self
    }

    /// SIGQUIT prints the task dump to stderr instead of killing the
    /// process (Unix), overriding `GORT_DEBUG=sigquit=1`.
    pub fn dump_on_sigquit(&mut self, on: bool) -> &mut Builder {
        self.core.dump_on_sigquit(on);
        self
    }

    /// Go's "all goroutines are asleep - deadlock!" check, on by default;
    /// overrides `GORT_DEBUG=checkdead=0`.
    pub fn deadlock_detection(&mut self, on: bool) -> &mut Builder {
        self.core.deadlock_detection(on);
        self
    }

    /// tokio compatibility: gort always runs its timer and I/O drivers, so
    /// this does nothing.
    pub fn enable_all(&mut self) -> &mut Builder {
        self
    }

    /// tokio compatibility: does nothing (timers are always on).
    pub fn enable_time(&mut self) -> &mut Builder {
        self
    }

    /// tokio compatibility: does nothing (I/O is always on).
    pub fn enable_io(&mut self) -> &mut Builder {
        self
    }

    /// Starts the runtime's clock paused (tokio's `start_paused`): time
    /// moves only by `gort::time::advance`, or jumps to the next timer when
    /// every task is idle, so time-based code is tested without real waits.
    pub fn start_paused(&mut self, paused: bool) -> &mut Builder {
        self.start_paused = paused;
        self
    }

    /// Builds the runtime. Fails with `InvalidInput` on a bad setting or a
    /// bad `GORT_*` variable (the message names it and its value), or with
    /// the OS error if the network poller cannot be created.
    pub fn build(&mut self) -> io::Result<Runtime> {
        // The GC heap is process-wide and read its variables once; a bad
        // GORT_GOGC or GORT_MEMLIMIT fails here rather than at the first
        // `Gc::new`.
        gort_core::gc::configure_from_env()?;
        self.core
            .timers(gort_time::TimeDriver::new(self.start_paused));
        self.core
            .driver(std::sync::Arc::new(gort_net::Poller::new()?));
        self.core.build().map(|inner| Runtime { inner })
    }
}

/// A running gort runtime with every driver installed: its Ps, Ms,
/// monitor, blocking pool, timers, network poller.
///
/// Dropping it shuts it down: every worker is stopped and joined, every
/// task still alive is cancelled (its future dropped exactly once).
///
/// ```
/// let rt = gort::runtime::Runtime::new().unwrap();
/// let v = rt.block_on(async { gort::spawn(async { 7 }).await.unwrap() });
/// assert_eq!(v, 7);
/// ```
#[derive(Debug)]
pub struct Runtime {
    inner: gort_core::runtime::Runtime,
}

impl AsRef<Handle> for Runtime {
    fn as_ref(&self) -> &Handle {
        self.inner.handle()
    }
}

impl Runtime {
    /// A runtime with the default [`Builder`] settings.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `future` to completion on the current thread, with this runtime
    /// entered: tasks it spawns run on the runtime's workers, or, on a
    /// current-thread runtime, on this thread while it waits for `future`.
    ///
    /// # Panics
    /// When called from a task (it would block a P); use `.await`, or
    /// `gort::block_in_place(|| handle.block_on(f))`.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.inner.block_on(future)
    }

    /// Spawns a task on this runtime.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.spawn(future)
    }

    /// Runs `f` on the blocking pool.
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.inner.spawn_blocking(f)
    }

    /// A handle to this runtime.
    pub fn handle(&self) -> &Handle {
        self.inner.handle()
    }

    /// Makes this runtime current on this thread until the guard drops.
    pub fn enter(&self) -> EnterGuard {
        self.inner.handle().enter()
    }

    /// Shuts down, waiting at most `timeout` for threads still busy
    /// (`Duration::MAX`: as long as they take).
    pub fn shutdown_timeout(self, timeout: Duration) {
        self.inner.shutdown_timeout(timeout);
    }

    /// Shuts down without waiting for busy threads.
    pub fn shutdown_background(self) {
        self.inner.shutdown_background();
    }
}
