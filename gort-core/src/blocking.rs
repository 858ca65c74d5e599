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

use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

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
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
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
        let mut s = self.lock();
        if s.shutdown {
            // Never runs: dropping the reference lets the JoinHandle see the
            // task cancelled once the pool's shutdown cancels it.
            drop(s);
            drop(task);
            return;
        }
        s.queue.push_back(task);
        if s.idle > s.notified {
            s.notified += 1;
            self.cond.notify_one();
            return;
        }
        if s.threads >= self.max_threads {
            return; // queued; a busy thread picks it up when done
        }
        s.threads += 1;
        drop(s);
        let h = handle.clone();
        let name = (handle.shared.config.thread_name)();
        let res = std::thread::Builder::new()
            .name(name)
            .spawn(move || run_thread(h));
        // Detached: shutdown waits for the thread count to reach zero.
        match res {
            Ok(_) => {}
            Err(e) => {
                eprintln!("gort: failed to start a blocking-pool thread: {e}");
                let mut s = self.lock();
                s.threads -= 1;
                // The task stays queued for the threads that exist; if there
                // are none it is dropped at shutdown.
            }
        }
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
    let pool = &handle.shared.blocking;
    let _enter = crate::context::enter(handle.clone());
    let mut s = pool.lock();
    loop {
        if let Some(t) = s.queue.pop_front() {
            s.running += 1;
            drop(s);
            // A blocking closure always completes in one poll.
            let again = t.run();
            debug_assert!(again.is_none());
            drop(again);
            s = pool.lock();
            s.running -= 1;
            continue;
        }
        if s.shutdown {
            break;
        }
        s.idle += 1;
        let (g, res) = pool
            .cond
            .wait_timeout(s, KEEP_ALIVE)
            .unwrap_or_else(|e| e.into_inner());
        s = g;
        s.idle -= 1;
        if s.notified > 0 {
            s.notified -= 1;
        } else if res.timed_out() && s.queue.is_empty() {
            break;
        }
    }
    s.threads -= 1;
    pool.exited.notify_all();
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
