//! Blocking work: `spawn_blocking` on a bounded pool of threads, and
//! `block_in_place` (Go's `entersyscallblock` / `handoffp` /
//! `exitsyscall`).
//!
//! Go runs a blocking syscall on the goroutine's own M and hands the P to
//! another M; when the syscall returns, the M tries to get a P back. gort
//! offers both shapes:
//! - `block_in_place(f)` is exactly that: the calling worker hands its P
//!   (and its run queue) to another M, runs `f` on its own thread, then
//!   takes an idle P if one is free;
//! - `spawn_blocking(f)` queues `f` for a pool of threads that hold no P,
//!   started on demand up to `max_blocking_threads` and retired after
//!   [`KEEP_ALIVE`] without work. Its result comes back through a
//!   `JoinHandle` like any task's.
//!
//! The pool's bookkeeping (`submit`, `run_worker`, `shutdown`) is apart from
//! the thread spawning, so the loom models at the end of this file run it
//! on loom threads: a job submitted as a thread times out runs exactly
//! once, and shutdown racing a submit runs or cancels each job once.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::loom::sync::{Condvar, Mutex, MutexGuard};
use crate::runtime::Handle;
use crate::task::{self, JoinHandle, Notified, RawTask, Schedule};

/// An idle blocking thread exits after this long without work (tokio's figure).
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);

pub(crate) struct BlockingPool {
    state: Mutex<PoolState>,
    cond: Condvar,
    /// Signalled when a thread exits (shutdown waits on it).
    exited: Condvar,
    max_threads: usize,
    /// How long an idle thread waits for work before it exits:
    /// [`KEEP_ALIVE`]. Under loom, a model may set zero: loom's `Condvar`
    /// never times out, so zero stands for "the timeout may come at any
    /// point" (see `wait_for_work`).
    keep_alive: Duration,
}

struct PoolState {
    queue: VecDeque<Notified>,
    /// Closures running now.
    running: usize,
    threads: usize,
    idle: usize,
    /// Wake-ups handed to idle threads and not yet consumed.
    notified: usize,
    shutdown: bool,
}

impl BlockingPool {
    pub(crate) fn new(max_threads: usize) -> BlockingPool {
        BlockingPool::with_keep_alive(max_threads, KEEP_ALIVE)
    }

    fn with_keep_alive(max_threads: usize, keep_alive: Duration) -> BlockingPool {
        BlockingPool {
            state: Mutex::new(PoolState {
                queue: VecDeque::new(),
                running: 0,
                threads: 0,
                idle: 0,
                notified: 0,
                shutdown: false,
            }),
            cond: Condvar::new(),
            exited: Condvar::new(),
            max_threads,
            keep_alive,
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// No closure queued or running.
    pub(crate) fn is_idle(&self) -> bool {
        let s = self.lock();
        s.queue.is_empty() && s.running == 0
    }

    /// Number of blocking threads alive.
    pub(crate) fn threads(&self) -> usize {
        self.lock().threads
    }

    fn push(&self, handle: &Handle, task: Notified) {
        if !self.submit(task) {
            return;
        }
        let h = handle.clone();
        let name = (handle.shared.config.thread_name)();
        let res = std::thread::Builder::new()
            .name(name)
            .spawn(move || run_thread(h));
        // Detached: shutdown waits for the thread count to reach zero.
        if let Err(e) = res {
            eprintln!("gort: failed to start a blocking-pool thread: {e}");
            // The task stays queued for the threads that exist; if there
            // are none it is cancelled at shutdown.
            self.thread_exited(self.lock());
        }
    }

    /// Queues `task` and wakes an idle thread for it. Returns true when no
    /// thread is idle and the pool may grow: the caller must start a thread
    /// running [`run_worker`](Self::run_worker), already counted in
    /// `threads`. After shutdown the task is cancelled at once, so its
    /// `JoinHandle` resolves instead of waiting forever.
    fn submit(&self, task: Notified) -> bool {
        let mut s = self.lock();
        if s.shutdown {
            drop(s);
            cancel_unstarted(task);
            return false;
        }
        s.queue.push_back(task);
        if s.idle > s.notified {
            s.notified += 1;
            self.cond.notify_one();
            return false;
        }
        if s.threads >= self.max_threads {
            return false; // queued; a busy thread picks it up when done
        }
        s.threads += 1;
        true
    }

    /// A thread counted in `threads` is gone (it exited, or never
    /// started): shutdown may be waiting for the count to reach zero.
    fn thread_exited(&self, mut s: MutexGuard<'_, PoolState>) {
        s.threads -= 1;
        drop(s);
        self.exited.notify_all();
    }

    /// The body of a pool thread: runs queued jobs, sleeps up to
    /// `keep_alive` when there are none, exits when that passes with no
    /// work or at shutdown.
    fn run_worker(&self) {
        let mut s = self.lock();
        loop {
            if let Some(t) = s.queue.pop_front() {
                s.running += 1;
                drop(s);
                // A blocking closure always completes in one poll.
                let again = t.run();
                debug_assert!(again.is_none());
                drop(again);
                s = self.lock();
                s.running -= 1;
                continue;
            }
            if s.shutdown {
                break;
            }
            s.idle += 1;
            let (g, timed_out) = self.wait_for_work(s);
            s = g;
            s.idle -= 1;
            if s.notified > 0 {
                s.notified -= 1;
            } else if timed_out && s.queue.is_empty() {
                break;
            }
        }
        self.thread_exited(s);
    }

    /// An idle thread's wait on `cond`: returns the lock and whether
    /// `keep_alive` passed.
    fn wait_for_work<'a>(
        &'a self,
        s: MutexGuard<'a, PoolState>,
    ) -> (MutexGuard<'a, PoolState>, bool) {
        #[cfg(loom)]
        if self.keep_alive.is_zero() {
            // A timeout at any point: let the lock go, so any other thread
            // may run, and take it back as if the wait had timed out.
            drop(s);
            return (self.lock(), true);
        }
        let (g, res) = self
            .cond
            .wait_timeout(s, self.keep_alive)
            .unwrap_or_else(|e| e.into_inner());
        (g, res.timed_out())
    }

    /// Stops the pool: queued work never runs (each task's future is
    /// dropped), running work is waited for until `deadline`.
    pub(crate) fn shutdown(&self, deadline: Option<Instant>) {
        let mut s = self.lock();
        s.shutdown = true;
        let queued: Vec<Notified> = s.queue.drain(..).collect();
        self.cond.notify_all();
        drop(s);
        for t in queued {
            cancel_unstarted(t);
        }
        let mut s = self.lock();
        while s.threads > 0 {
            match deadline {
                None => s = self.exited.wait(s).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    s = self
                        .exited
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }
}

/// Drops a blocking task that never ran. Aborting it first makes its run
/// cancel it (drop the closure) instead of calling it.
fn cancel_unstarted(t: Notified) {
    t.cancel_and_run();
}

fn run_thread(handle: Handle) {
    let _enter = crate::context::enter(handle.clone());
    handle.shared.blocking.run_worker();
}

/// The future that runs a blocking closure in its single poll.
struct BlockingTask<F> {
    f: Option<F>,
}

impl<F> Unpin for BlockingTask<F> {}

impl<F, R> Future for BlockingTask<F>
where
    F: FnOnce() -> R,
{
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .f
            .take()
            .expect("blocking task polled after completion");
        // Blocking code has no budget to respect.
        Poll::Ready(crate::coop::unconstrained(f))
    }
}

/// The scheduler of a blocking task: the pool's queue.
pub(crate) struct BlockingSchedule;

impl Schedule for BlockingSchedule {
    fn schedule(&self, task: Notified) {
        // Only reached by `abort()` of a queued blocking task: it is in the
        // pool queue already and will be cancelled when a thread pops it.
        drop(task);
    }

    fn release(&self, _task: RawTask) -> bool {
        false
    }
}

pub(crate) fn spawn_blocking<F, R>(
    handle: &Handle,
    f: F,
    location: &'static Location<'static>,
) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (notified, raw, join) = task::new_task(
        BlockingTask { f: Some(f) },
        BlockingSchedule,
        None,
        location,
    );
    // Blocking work is not a goroutine: it is not in the live-task list.
    // SAFETY: we own the list reference the task was created with.
    unsafe { raw.drop_ref() };
    handle.shared.blocking.push(handle, notified);
    join
}

/// Runs `f` on this thread after handing its P to another M.
pub(crate) fn block_in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    struct Reacquire;
    impl Drop for Reacquire {
        fn drop(&mut self) {
            crate::worker::with_current_m(|m| {
                if let Some(m) = m {
                    m.reacquire_p_after_blocking();
                }
            });
        }
    }
    let released = crate::worker::with_current_m(|m| m.is_some_and(|m| m.release_p_for_blocking()));
    let _reacquire = released.then_some(Reacquire);
    crate::coop::unconstrained(f)
}

/// The scheduler of a locked task: it never goes back to a queue (its one
/// poll drives the future to completion on its own thread).
pub(crate) struct LockedSchedule;

impl Schedule for LockedSchedule {
    fn schedule(&self, task: Notified) {
        // Only reached by abort() while the thread runs it: the thread owns
        // the task until it completes, so this extra reference just goes.
        drop(task);
    }

    fn release(&self, _task: RawTask) -> bool {
        false
    }
}

/// Go's `LockOSThread` for a whole task: `f` builds a future that may be
/// `!Send` and that runs, every poll of it, on one new thread that runs
/// nothing else. The result comes back through a `JoinHandle`.
pub(crate) fn spawn_locked<F, Fut>(
    handle: &Handle,
    f: F,
    location: &'static Location<'static>,
) -> std::io::Result<JoinHandle<Fut::Output>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    let h = handle.clone();
    let body = move || {
        let _enter = crate::context::enter(h.clone());
        h.shared
            .locked_threads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        struct Leave(Handle);
        impl Drop for Leave {
            fn drop(&mut self) {
                self.0
                    .shared
                    .locked_threads
                    .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let _leave = Leave(h.clone());
        run_local(f())
    };
    let (notified, raw, join) = task::new_task(
        BlockingTask { f: Some(body) },
        LockedSchedule,
        None,
        location,
    );
    // SAFETY: not linked in the live-task list: the list reference is ours.
    unsafe { raw.drop_ref() };
    let name = (handle.shared.config.thread_name)();
    std::thread::Builder::new().name(name).spawn(move || {
        let again = notified.run();
        debug_assert!(again.is_none());
    })?;
    Ok(join)
}

/// Drives a `!Send` future (and the thread's own local set) on the current
/// thread, parking it between polls.
fn run_local<F: Future>(fut: F) -> F::Output {
    use std::sync::atomic::{AtomicBool, Ordering::AcqRel};
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    struct Unpark {
        thread: std::thread::Thread,
        woken: AtomicBool,
    }
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            if !self.woken.swap(true, AcqRel) {
                self.thread.unpark();
            }
        }
    }
    let unpark = Arc::new(Unpark {
        thread: std::thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(unpark.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    // `spawn_local` outside a LocalSet puts tasks on this thread's own set.
    let _local = crate::task::local::drive_thread_set();
    loop {
        if let Poll::Ready(v) = crate::coop::with_budget(|| {
            crate::task::local::poll_with_thread_set(fut.as_mut(), &mut cx)
        }) {
            return v;
        }
        while !unpark.woken.swap(false, AcqRel) {
            std::thread::park();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use crate::runtime::Builder;

    #[test]
    fn spawn_blocking_after_shutdown_resolves_cancelled_without_running() {
        let rt = Builder::new().procs(1).build().unwrap();
        let handle = rt.handle().clone();
        drop(rt);
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let join = pin!(handle.spawn_blocking(move || r.store(true, SeqCst)));
        match join.poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            Poll::Ready(Ok(())) => panic!("the closure ran after shutdown"),
            Poll::Pending => panic!("the JoinHandle of a refused job never resolves"),
        }
        assert!(!ran.load(SeqCst));
    }
}

/// Model-checked races of the pool (`scripts/loom.sh`), on loom threads
/// running [`BlockingPool::run_worker`] and the real blocking tasks. A
/// keep-alive of zero lets an idle thread time out at any point (loom's
/// `Condvar` itself never times out).
#[cfg(all(test, loom))]
mod loom_tests {
    use std::future::Future;
    use std::panic::Location;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use super::{BlockingPool, BlockingSchedule, BlockingTask, KEEP_ALIVE};
    use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use crate::loom::sync::Arc;
    use crate::loom::thread;
    use crate::task::{self, JoinError, JoinHandle};

    struct Pool {
        pool: Arc<BlockingPool>,
        threads: Vec<thread::JoinHandle<()>>,
        ran: Arc<AtomicUsize>,
    }

    impl Pool {
        fn new(max_threads: usize, keep_alive: Duration) -> Pool {
            Pool {
                pool: Arc::new(BlockingPool::with_keep_alive(max_threads, keep_alive)),
                threads: Vec::new(),
                ran: Arc::new(AtomicUsize::new(0)),
            }
        }

        /// `spawn_blocking` without a runtime: a job that counts its runs.
        /// Returns the job's handle and whether the pool asked for a thread
        /// (which `start` then starts, or the caller fails to).
        fn submit_job(&self) -> (JoinHandle<()>, bool) {
            let ran = self.ran.clone();
            let f = move || {
                ran.fetch_add(1, SeqCst);
            };
            let (notified, raw, join) = task::new_task(
                BlockingTask { f: Some(f) },
                BlockingSchedule,
                None,
                Location::caller(),
            );
            // SAFETY: blocking tasks are not linked: the list reference is ours.
            unsafe { raw.drop_ref() };
            let start = self.pool.submit(notified);
            (join, start)
        }

        fn submit(&mut self) -> JoinHandle<()> {
            let (join, start) = self.submit_job();
            if start {
                let pool = self.pool.clone();
                self.threads.push(thread::spawn(move || pool.run_worker()));
            }
            join
        }

        fn join_threads(&mut self) {
            for t in self.threads.drain(..) {
                t.join().unwrap();
            }
        }
    }

    /// Runs `f` with at most three preemptions per execution: the models
    /// with three or four threads take minutes unbounded (1.3 s and 5.7 s
    /// at three).
    fn model_bounded(f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(f);
    }

    fn result(join: JoinHandle<()>) -> Result<(), JoinError> {
        match pin!(join).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(r) => r,
            Poll::Pending => panic!("a job's JoinHandle is still pending"),
        }
    }

    #[test]
    fn job_submitted_as_the_only_thread_times_out_runs_exactly_once() {
        loom::model(|| {
            let mut p = Pool::new(1, Duration::ZERO);
            let first = p.submit();
            // The thread runs the first job, then times out: the second job
            // finds it idle (and notifies it), still busy, or gone (and
            // starts another); it is never left queued with no thread.
            let second = p.submit();
            p.join_threads();
            assert_eq!(p.ran.load(SeqCst), 2);
            assert!(p.pool.is_idle());
            assert_eq!(p.pool.threads(), 0);
            result(first).unwrap();
            result(second).unwrap();
        });
    }

    #[test]
    fn jobs_submitted_while_two_threads_time_out_each_run_exactly_once() {
        model_bounded(|| {
            let mut p = Pool::new(2, Duration::ZERO);
            let jobs = [p.submit(), p.submit(), p.submit()];
            p.join_threads();
            assert_eq!(p.ran.load(SeqCst), 3);
            assert!(p.pool.is_idle());
            assert_eq!(p.pool.threads(), 0);
            for j in jobs {
                result(j).unwrap();
            }
        });
    }

    #[test]
    fn shutdown_racing_a_submit_runs_or_cancels_each_job_once() {
        model_bounded(|| {
            let mut p = Pool::new(2, KEEP_ALIVE);
            let first = p.submit();
            let pool = p.pool.clone();
            let closer = thread::spawn(move || pool.shutdown(None));
            let second = p.submit();
            closer.join().unwrap();
            assert_eq!(
                p.pool.threads(),
                0,
                "shutdown returned before a thread exited"
            );
            p.join_threads();
            let mut ran = 0;
            for j in [first, second] {
                match result(j) {
                    Ok(()) => ran += 1,
                    Err(e) => assert!(e.is_cancelled()),
                }
            }
            assert_eq!(p.ran.load(SeqCst), ran);
        });
    }

    #[test]
    fn a_thread_that_fails_to_start_during_shutdown_does_not_hang_it() {
        loom::model(|| {
            let p = Pool::new(1, KEEP_ALIVE);
            let pool = p.pool.clone();
            let closer = thread::spawn(move || pool.shutdown(None));
            let (join, start) = p.submit_job();
            if start {
                // What `push` does when the OS refuses a thread.
                p.pool.thread_exited(p.pool.lock());
            }
            closer.join().unwrap();
            assert_eq!(p.pool.threads(), 0);
            assert!(result(join).unwrap_err().is_cancelled());
            assert_eq!(p.ran.load(SeqCst), 0);
        });
    }
}
