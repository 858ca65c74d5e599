//! `LocalSet` and `spawn_local`: tasks whose futures are not `Send`,
//! polled only on the thread that owns them (tokio's `LocalSet`).
//!
//! Go has no local executor: any M may run any goroutine, and
//! `LockOSThread` pins one goroutine, not a group of them. gort keeps
//! tokio's API because Rust's `!Send` types (`Rc`, `RefCell` shared across
//! tasks) need it; the nearest Go shape, a goroutine on a thread of its own,
//! is `spawn_locked`.
//!
//! A local task is an ordinary gort task (`raw.rs`: one allocation, the
//! same state word, `JoinHandle`, `AbortHandle`, `JoinError`), allocated by
//! `new_local_task` with a scheduler, [`LocalSched`], that pushes a woken
//! task onto its set's own queue. The queue is a mutex-guarded deque: any
//! thread may push (a waker sent to another thread, `abort` through an
//! `AbortHandle`), and a push wakes whoever drives the set. Only the owner
//! thread pops and polls: polling happens through `&LocalSet` (its `Future`
//! impl and [`RunUntil`]), and `LocalSet` is `!Send`.
//!
//! Invariants:
//! - a local task is polled, and its future dropped, only on the thread
//!   that owns its set;
//! - the set's live-task list holds one reference to every unfinished
//!   task. Dropping the set cancels each of them (its future dropped
//!   exactly once, on the owner thread) and then closes the queue: a wake
//!   arriving later drops its reference at once, so the queue never keeps a
//!   finished task — and through its scheduler, the set — alive.
//!
//! Local tasks belong to their set, not to a runtime: the runtime's
//! live-task list does not hold them, so `dump_tasks` and `num_goroutine`
//! do not count them and runtime shutdown does not cancel them (dropping
//! the set does, on its thread).
//!
//! Where [`spawn_local`] puts a task:
//! 1. inside a `LocalSet` (a task of one, or the future of `run_until`):
//!    that set;
//! 2. otherwise, on a thread that is inside `block_on` or runs a
//!    `spawn_locked` task: the thread's own set, which `block_on` (and the
//!    locked thread) polls alongside its future. Tasks left when `block_on`
//!    returns wait there for the thread's next `block_on`, as tokio's
//!    current-thread tasks wait for the next `block_on`;
//! 3. anywhere else (a worker of a multi-thread runtime, the blocking pool,
//!    a plain thread) nothing would ever poll the task on this thread, and
//!    its future cannot move to another: the future is dropped at once and
//!    the `JoinHandle` reports a cancelled `JoinError`. tokio panics here;
//!    gort reports the error through the handle instead.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::list::OwnedTasks;
use super::{JoinHandle, Notified, RawTask, Schedule};
use crate::runtime::Handle;

/// Tasks a set polls in one turn before it hands its thread back to the
/// executor driving it (waking itself to get another turn). A prime, like
/// Go's 61-tick global-queue check: it bounds how long the set's driver
/// future holds its thread, so a busy set cannot starve the tasks and I/O
/// around it.
const MAX_TASKS_PER_TICK: usize = 61;

/// Live-task list shards of a set: local tasks are spawned and completed
/// on one thread, so the shard locks never contend.
const SHARDS: usize = 1;

struct Queue {
    tasks: VecDeque<Notified>,
    /// The set was dropped: every task is finished, later wakes are dropped.
    closed: bool,
    /// Whoever drives the set: the waker of `run_until`'s or the set's own
    /// poll. Taken by the first push after it was registered.
    waker: Option<Waker>,
}

/// What a set's tasks share with it: the run queue and the live-task list.
pub(crate) struct LocalShared {
    queue: Mutex<Queue>,
    owned: OwnedTasks,
}

impl LocalShared {
    fn new() -> Arc<LocalShared> {
        Arc::new(LocalShared {
            queue: Mutex::new(Queue {
                tasks: VecDeque::new(),
                closed: false,
                waker: None,
            }),
            owned: OwnedTasks::new(SHARDS),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a woken task (from any thread) and wakes the set's driver.
    fn push(&self, task: Notified) {
        let mut q = self.lock();
        if q.closed {
            drop(q);
            // The set is gone and every one of its tasks finished (its
            // future was dropped on the owner thread): this only releases
            // the reference the wake took.
            drop(task);
            return;
        }
        q.tasks.push_back(task);
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Allocates a local task, links it and queues it.
    ///
    /// Must be called on the thread that owns the set (the thread that
    /// polls it).
    fn spawn<F>(
        self: &Arc<Self>,
        future: F,
        loc: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let sched = LocalSched(self.clone());
        // The task is polled only by `run_ready`, which runs on the owner
        // thread (the callers hold the `!Send` `LocalSet`, or are the thread
        // whose own set this is); `LocalSched` only queues.
        // SAFETY: polls and the future's drop stay on this thread: `close`
        // cancels every unfinished task here.
        let (notified, raw, join) = unsafe { super::new_local_task(future, sched, loc) };
        if !self.owned.bind(raw) {
            // The set is closed: the task is cancelled before it ever runs,
            // its future dropped here, on the owner thread.
            drop(notified);
            // SAFETY: we own the list reference the task was created with.
            unsafe { raw.shutdown() };
            return join;
        }
        self.push(notified);
        join
    }

    /// Registers `waker` as the set's driver and polls up to
    /// [`MAX_TASKS_PER_TICK`] queued tasks. Returns whether tasks remain
    /// queued (the caller then wakes itself for another turn).
    ///
    /// Owner thread only.
    fn run_ready(&self, waker: &Waker) -> bool {
        {
            let mut q = self.lock();
            match &q.waker {
                Some(w) if w.will_wake(waker) => {}
                _ => q.waker = Some(waker.clone()),
            }
        }
        for _ in 0..MAX_TASKS_PER_TICK {
            let task = self.lock().tasks.pop_front();
            let Some(task) = task else {
                return false;
            };
            if let Some((task, _yielded)) = task.run() {
                // Woken (or yielded) during its poll: to the back, behind
                // every task already queued. No wake: we are its driver.
                let mut q = self.lock();
                if q.closed {
                    drop(q);
                    drop(task);
                } else {
                    q.tasks.push_back(task);
                }
            }
        }
        !self.lock().tasks.is_empty()
    }

    /// Whether every task spawned on the set has finished.
    fn is_idle(&self) -> bool {
        self.owned.len() == 0 && self.lock().tasks.is_empty()
    }

    /// Cancels every unfinished task (each future dropped once, here), then
    /// closes the queue. Owner thread only.
    fn close(&self) {
        for t in self.owned.close_and_drain() {
            // SAFETY: `close_and_drain` handed us each task's list reference.
            unsafe { t.shutdown() };
        }
        let (queued, waker) = {
            let mut q = self.lock();
            q.closed = true;
            (std::mem::take(&mut q.tasks), q.waker.take())
        };
        // Every task is complete: these are only references.
        drop(queued);
        drop(waker);
    }
}

/// The scheduler of a local task: its set's queue.
struct LocalSched(Arc<LocalShared>);

impl Schedule for LocalSched {
    fn schedule(&self, task: Notified) {
        self.0.push(task);
    }

    fn release(&self, task: RawTask) -> bool {
        self.0.owned.remove(task)
    }
}

thread_local! {
    /// The set whose tasks (or `run_until` future) this thread is polling.
    static CURRENT: RefCell<Option<Arc<LocalShared>>> = const { RefCell::new(None) };
    /// The thread's own set (rule 2 of the module doc), created by the
    /// first `block_on` or locked task on the thread.
    static THREAD_SET: RefCell<Option<ThreadSet>> = const { RefCell::new(None) };
    /// `block_on` calls and locked tasks this thread is inside: while
    /// non-zero, the thread polls its own set.
    static DRIVEN: Cell<usize> = const { Cell::new(0) };
}

/// The thread's own set; its tasks are cancelled when the thread exits.
struct ThreadSet(Arc<LocalShared>);

impl Drop for ThreadSet {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Makes `set` the current set until the guard drops.
struct Enter(Option<Arc<LocalShared>>);

fn enter(set: Arc<LocalShared>) -> Enter {
    Enter(CURRENT.with(|c| c.replace(Some(set))))
}

impl Drop for Enter {
    fn drop(&mut self) {
        let prev = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
    }
}

/// Keeps the thread polling its own set; see [`drive_thread_set`].
pub(crate) struct DriveGuard(());

/// Called by `block_on` and locked threads for their whole duration: while
/// the guard lives, `spawn_local` outside a `LocalSet` uses this thread's
/// own set, and [`poll_with_thread_set`] polls it.
pub(crate) fn drive_thread_set() -> DriveGuard {
    DRIVEN.with(|d| d.set(d.get() + 1));
    THREAD_SET.with(|s| {
        let mut s = s.borrow_mut();
        if s.is_none() {
            *s = Some(ThreadSet(LocalShared::new()));
        }
    });
    DriveGuard(())
}

impl Drop for DriveGuard {
    fn drop(&mut self) {
        let left = DRIVEN.with(|d| {
            d.set(d.get() - 1);
            d.get()
        });
        if left == 0 {
            // Nobody drives the set until the next block_on: forget the
            // waker of the one that ends (it may keep a runtime's driver alive).
            let waker =
                THREAD_SET.with(|s| s.borrow().as_ref().and_then(|t| t.0.lock().waker.take()));
            drop(waker);
        }
    }
}

fn thread_set() -> Option<Arc<LocalShared>> {
    if DRIVEN.with(|d| d.get()) == 0 {
        return None;
    }
    THREAD_SET.with(|s| s.borrow().as_ref().map(|t| t.0.clone()))
}

/// `block_on`'s poll: `fut`, then a turn of the thread's own set.
pub(crate) fn poll_with_thread_set<F: Future + ?Sized>(
    fut: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<F::Output> {
    if let Poll::Ready(v) = fut.poll(cx) {
        return Poll::Ready(v);
    }
    if let Some(set) = thread_set() {
        if set.run_ready(cx.waker()) {
            cx.waker().wake_by_ref();
        }
    }
    Poll::Pending
}

/// A set of tasks that run on the thread that owns the set, so their
/// futures and outputs need not be `Send` (tokio's `LocalSet`).
///
/// Its tasks run while the set is driven: by [`LocalSet::run_until`], by
/// [`LocalSet::block_on`], or by awaiting the set itself, which completes
/// once every task spawned on it has finished. A local task is a gort task
/// like any other: [`JoinHandle`], `abort`, [`JoinError`](super::JoinError)
/// on panic all behave the same, and its waker may be woken from any
/// thread. Dropping the set cancels its unfinished tasks, dropping each
/// future exactly once.
///
/// ```
/// use std::rc::Rc;
/// let rt = gort_core::runtime::Builder::new_current_thread().build().unwrap();
/// let local = gort_core::task::LocalSet::new();
/// let shared = Rc::new(5); // !Send
/// let v = local.block_on(&rt, async move {
///     let s = shared.clone();
///     gort_core::task::spawn_local(async move { *s + 1 }).await.unwrap()
/// });
/// assert_eq!(v, 6);
/// ```
pub struct LocalSet {
    shared: Arc<LocalShared>,
    _not_send: PhantomData<Rc<()>>,
}

impl Default for LocalSet {
    fn default() -> LocalSet {
        LocalSet::new()
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("tasks", &self.shared.owned.len())
            .finish()
    }
}

impl LocalSet {
    /// An empty set, owned by the calling thread.
    pub fn new() -> LocalSet {
        LocalSet {
            shared: LocalShared::new(),
            _not_send: PhantomData,
        }
    }

    /// Spawns a `!Send` task on this set. It first runs when the set is
    /// next driven.
    ///
    /// ```
    /// let rt = gort_core::runtime::Builder::new_current_thread().build().unwrap();
    /// let local = gort_core::task::LocalSet::new();
    /// let h = local.spawn_local(async { std::rc::Rc::new(3) });
    /// let v = local.block_on(&rt, async { *h.await.unwrap() });
    /// assert_eq!(v, 3);
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.shared.spawn(future, Location::caller())
    }

    /// Runs `future` with this set as the current one, polling the set's
    /// tasks whenever `future` is polled; completes with `future`'s output
    /// (tasks still unfinished stay in the set).
    ///
    /// ```
    /// let rt = gort_core::runtime::Builder::new_current_thread().build().unwrap();
    /// let local = gort_core::task::LocalSet::new();
    /// let v = rt.block_on(local.run_until(async {
    ///     gort_core::task::spawn_local(async { 2 }).await.unwrap()
    /// }));
    /// assert_eq!(v, 2);
    /// ```
    pub fn run_until<F: Future>(&self, future: F) -> RunUntil<'_, F> {
        RunUntil { set: self, future }
    }

    /// `rt.block_on(self.run_until(future))`, tokio's shape: `rt` is a
    /// runtime (gort-core's or the facade's) or a [`Handle`].
    #[track_caller]
    pub fn block_on<F: Future>(&self, rt: &impl AsRef<Handle>, future: F) -> F::Output {
        rt.as_ref().block_on(self.run_until(future))
    }
}

impl Future for LocalSet {
    type Output = ();

    /// Runs the set's tasks; ready once every task spawned on it finished.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let _enter = enter(self.shared.clone());
        if self.shared.run_ready(cx.waker()) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.shared.is_idle() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        // Current while the futures drop: a `spawn_local` in a Drop impl
        // goes to this (closed) set and is dropped too.
        let _enter = enter(self.shared.clone());
        self.shared.close();
    }
}

/// The future of [`LocalSet::run_until`].
#[must_use = "futures do nothing unless awaited"]
pub struct RunUntil<'a, F> {
    set: &'a LocalSet,
    future: F,
}

impl<F> fmt::Debug for RunUntil<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntil").finish_non_exhaustive()
    }
}

impl<F: Future> Future for RunUntil<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // `self`, and `RunUntil` has no Drop impl that could move it.
        let this = unsafe { self.get_unchecked_mut() };
        let _enter = enter(this.set.shared.clone());
        // SAFETY: as above, `future` stays where it is while pinned.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(v) = future.poll(cx) {
            return Poll::Ready(v);
        }
        if this.set.shared.run_ready(cx.waker()) {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// Spawns a `!Send` task on the current [`LocalSet`] (tokio's
/// `task::spawn_local`).
///
/// Outside a `LocalSet` it never panics; the task goes where the module
/// doc's rules say: on a thread inside `block_on` (every task of a
/// current-thread runtime, a `#[gort::main]` body) or running a
/// `spawn_locked` task, onto that thread's own set, polled by that
/// `block_on`; anywhere else the future is dropped at once and the handle
/// reports a cancelled [`JoinError`](super::JoinError).
///
/// ```
/// let rt = gort_core::runtime::Builder::new_current_thread().build().unwrap();
/// let v = rt.block_on(async {
///     let cell = std::rc::Rc::new(std::cell::Cell::new(1));
///     let c = cell.clone();
///     gort_core::task::spawn_local(async move { c.set(c.get() + 1) }).await.unwrap();
///     cell.get()
/// });
/// assert_eq!(v, 2);
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let loc = Location::caller();
    let set = CURRENT
        .with(|c| c.borrow().clone())
        .or_else(thread_set)
        .unwrap_or_else(|| {
            // Nobody polls local tasks on this thread: a closed set drops
            // the future at once and the handle reports it cancelled.
            let closed = LocalShared::new();
            closed.close();
            closed
        });
    set.spawn(future, loc)
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! The set's queue and task lifecycle on a plain single-threaded
    //! executor (no runtime), so they run under Miri.

    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn counting_waker() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    fn poll_once<F: Future + Unpin>(f: &mut F, w: &Waker) -> Poll<F::Output> {
        Pin::new(f).poll(&mut Context::from_waker(w))
    }

    struct DropCount(Rc<Cell<usize>>);
    impl Drop for DropCount {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    /// Pending once, keeping its waker in `slot`, then ready.
    struct Once {
        slot: Rc<RefCell<Option<Waker>>>,
        polled: bool,
    }
    impl Future for Once {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.polled {
                return Poll::Ready(());
            }
            self.polled = true;
            *self.slot.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    #[test]
    fn local_set_future_completes_after_every_task() {
        let mut set = LocalSet::new();
        let slot = Rc::new(RefCell::new(None));
        let ran = Rc::new(Cell::new(0));
        let r = ran.clone();
        let s = slot.clone();
        let h = set.spawn_local(async move {
            Once {
                slot: s,
                polled: false,
            }
            .await;
            r.set(r.get() + 1);
            Rc::new(7) // a !Send output
        });
        let (wakes, w) = counting_waker();
        assert!(poll_once(&mut set, &w).is_pending());
        assert_eq!(ran.get(), 0);
        slot.borrow_mut().take().unwrap().wake();
        assert_eq!(wakes.0.load(SeqCst), 1, "the wake reaches the set's driver");
        assert!(poll_once(&mut set, &w).is_ready());
        assert_eq!(ran.get(), 1);
        let mut h = h;
        match poll_once(&mut h, &w) {
            Poll::Ready(Ok(v)) => assert_eq!(*v, 7),
            _ => panic!("the task finished"),
        }
    }

    #[test]
    fn dropping_a_local_set_drops_each_pending_future_once() {
        let drops = Rc::new(Cell::new(0));
        let set = LocalSet::new();
        let mut handles = Vec::new();
        for _ in 0..3 {
            let d = DropCount(drops.clone());
            handles.push(set.spawn_local(async move {
                let _d = d;
                std::future::pending::<()>().await
            }));
        }
        let (_, w) = counting_waker();
        // One has been polled (it is idle), the others never ran.
        let mut set = set;
        assert!(poll_once(&mut set, &w).is_pending());
        drop(set);
        assert_eq!(drops.get(), 3);
        for mut h in handles {
            match poll_once(&mut h, &w) {
                Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
                _ => panic!("cancelled by the drop"),
            }
        }
    }

    #[test]
    fn abort_drops_a_local_future_once_and_reports_cancelled() {
        let drops = Rc::new(Cell::new(0));
        let mut set = LocalSet::new();
        let d = DropCount(drops.clone());
        let mut h = set.spawn_local(async move {
            let _d = d;
            std::future::pending::<()>().await
        });
        let (_, w) = counting_waker();
        assert!(poll_once(&mut set, &w).is_pending());
        h.abort();
        assert_eq!(
            drops.get(),
            0,
            "dropped by the set's next turn, not by abort"
        );
        assert!(poll_once(&mut set, &w).is_ready());
        assert_eq!(drops.get(), 1);
        match poll_once(&mut h, &w) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            _ => panic!("aborted"),
        }
        drop(set);
        assert_eq!(drops.get(), 1);
    }

    #[test]
    fn a_panicking_local_task_gives_a_panic_join_error() {
        let mut set = LocalSet::new();
        let mut h = set.spawn_local(async { panic!("boom") });
        let (_, w) = counting_waker();
        assert!(poll_once(&mut set, &w).is_ready());
        match poll_once(&mut h, &w) {
            Poll::Ready(Err(e)) => assert!(e.is_panic()),
            _ => panic!("panicked"),
        }
    }

    #[test]
    fn a_wake_after_the_set_is_dropped_releases_its_reference() {
        let slot = Rc::new(RefCell::new(None));
        let mut set = LocalSet::new();
        let s = slot.clone();
        let h = set.spawn_local(Once {
            slot: s,
            polled: false,
        });
        let (_, w) = counting_waker();
        assert!(poll_once(&mut set, &w).is_pending());
        let task_waker = slot.borrow_mut().take().unwrap();
        drop(set);
        drop(h);
        // The task is finished (cancelled); waking it must neither run it
        // nor leak it (Miri checks the leak).
        task_waker.wake();
    }

    #[test]
    fn spawn_local_outside_any_set_cancels_at_once() {
        let drops = Rc::new(Cell::new(0));
        let d = DropCount(drops.clone());
        let mut h = spawn_local(async move {
            let _d = d;
        });
        assert_eq!(drops.get(), 1);
        let (_, w) = counting_waker();
        match poll_once(&mut h, &w) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            _ => panic!("cancelled"),
        }
    }

    #[test]
    fn yielding_local_tasks_take_turns_in_order() {
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut set = LocalSet::new();
        for id in 0..2 {
            let o = order.clone();
            set.spawn_local(async move {
                for step in 0..2 {
                    o.borrow_mut().push((id, step));
                    crate::yield_now().await;
                }
            });
        }
        let (_, w) = counting_waker();
        while poll_once(&mut set, &w).is_pending() {}
        assert_eq!(*order.borrow(), vec![(0, 0), (1, 0), (0, 1), (1, 1)]);
    }
}
