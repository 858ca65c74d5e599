//! The task allocation (Go's `g`): one heap block holding the header, the
//! scheduler reference, the future (later its output) and the join slot.
//!
//! Everything typed lives in [`Cell<F, S>`]; the rest of the runtime sees
//! only a `NonNull<Header>` and reaches the typed parts through the
//! header's [`Vtable`], so run queues, wakers and the live-task list are not
//! generic. The header comes first (`#[repr(C)]`), which makes a
//! `*mut Cell<F, S>` and its `*mut Header` the same address.
//!
//! Invariants:
//! - the `stage` is touched only by the holder of `RUNNING`, or by the
//!   `JoinHandle` once `COMPLETE` is set while `JOIN_INTEREST` is still its
//!   own, or by the completer once `COMPLETE` is set without
//!   `JOIN_INTEREST` (exactly one of the two);
//! - the join slot is behind its own small lock; `JOIN_WAKER` says whether
//!   the completer must look into it;
//! - the block is freed when the reference count in the state reaches zero.

use std::cell::UnsafeCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::task::{Context, Poll, Waker};

use super::list::Pointers;
use super::state::{State, TransitionToIdle, TransitionToNotified, TransitionToRunning};
use super::{JoinError, Notified, Schedule, TaskId, TaskMeta};
use crate::loom::cell as tracked;
use crate::loom::sync::Mutex;
use crate::wait::WaitReason;

/// The untyped part of every task. Read by the scheduler, wakers, the
/// live-task list and task dumps.
#[repr(C)]
pub(crate) struct Header {
    pub(super) state: State,
    pub(super) vtable: &'static Vtable,
    /// Links in the runtime's live-task list; guarded by that list's shard lock.
    pub(super) owned: UnsafeCell<Pointers>,
    pub(crate) id: TaskId,
    /// Last recorded [`WaitReason`], as its `u8`; written by the poller
    /// when a poll returns `Pending`, read by task dumps.
    pub(crate) wait_reason: AtomicU8,
    /// When the task last parked, in the runtime's coarse clock (ms since
    /// start); 0 = never parked.
    pub(crate) wait_since: AtomicU64,
    pub(crate) meta: TaskMeta,
}

// SAFETY: the only non-Sync field is `owned`, which is read and written only
// under the live-task list's shard lock.
unsafe impl Sync for Header {}
// SAFETY: as above; all other fields are atomics or immutable after creation.
unsafe impl Send for Header {}

/// The typed operations of a task.
pub(super) struct Vtable {
    /// Polls (or cancels) the task. Consumes the caller's `Notified`
    /// reference, unless the task must run again, in which case the
    /// reference is kept for the new queue entry.
    pub(super) poll: unsafe fn(NonNull<Header>) -> RunResult,
    /// Hands a `Notified` reference to the task's scheduler.
    pub(super) schedule: unsafe fn(NonNull<Header>),
    /// Frees the allocation (reference count reached zero).
    pub(super) dealloc: unsafe fn(NonNull<Header>),
    /// `JoinHandle::poll`: writes `Poll<Result<T, JoinError>>` into `dst`.
    pub(super) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// `JoinHandle::drop` when the task is already complete: drops the output.
    pub(super) drop_output: unsafe fn(NonNull<Header>),
    /// Runtime shutdown: cancel the task if nobody runs it, consuming one
    /// reference (the live-task list's).
    pub(super) shutdown: unsafe fn(NonNull<Header>),
}

/// What the caller of [`Vtable::poll`] must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunResult {
    /// Nothing: the task completed or parked, and the reference is gone.
    Done,
    /// The task was woken during its poll: queue it again with the reference
    /// the caller still owns. `yielded` says the wake came from `yield_now`.
    Reschedule { yielded: bool },
}

/// What the future has become.
enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    /// A loom-tracked cell under `cfg(loom)`, so the models catch two
    /// accesses that the state word fails to order.
    stage: tracked::UnsafeCell<Stage<F>>,
    join_waker: Mutex<Option<Waker>>,
}

/// Allocates a task; the state starts as [`State::new`] describes (three
/// references: live-task list, run queue, `JoinHandle`).
///
/// Nothing here requires `F: Send`: the harness itself never moves the
/// future between threads. The constructors in `task/mod.rs` carry the
/// bounds: `new_task` requires `Send` (any M may poll the task), and
/// `new_local_task` makes its caller promise that every poll and the drop
/// of the future happen on one thread.
pub(super) fn allocate<F, S>(future: F, scheduler: S, id: TaskId, meta: TaskMeta) -> NonNull<Header>
where
    F: Future + 'static,
    S: Schedule,
{
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(),
            vtable: vtable::<F, S>(),
            owned: UnsafeCell::new(Pointers::new()),
            id,
            wait_reason: AtomicU8::new(WaitReason::Unknown as u8),
            wait_since: AtomicU64::new(0),
            meta,
        },
        scheduler,
        stage: tracked::UnsafeCell::new(Stage::Running(future)),
        join_waker: Mutex::new(None),
    });
    NonNull::from(Box::leak(cell)).cast()
}

fn vtable<F, S>() -> &'static Vtable
where
    F: Future + 'static,
    S: Schedule,
{
    &Vtable {
        poll: poll::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_output: drop_output::<F, S>,
        shutdown: shutdown::<F, S>,
    }
}

/// # Safety
/// `ptr` points to a live `Cell<F, S>`.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: the caller promises the type; the header is the first field
    // of the `#[repr(C)]` cell, so the pointers coincide.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

unsafe fn dealloc<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the reference count reached zero, so nobody else holds the
    // pointer; it was created by `Box::leak` in `allocate`.
    drop(unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) });
}

unsafe fn schedule<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller holds a reference, so the cell is alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: the caller transfers its (NOTIFIED) reference to the Notified.
    cell.scheduler.schedule(unsafe { Notified::from_raw(ptr) });
}

/// Drops one reference, freeing the task if it was the last.
///
/// # Safety
/// The caller owns a reference to a live task and gives it up.
pub(super) unsafe fn drop_reference(ptr: NonNull<Header>) {
    // SAFETY: the caller owns a reference.
    let header = unsafe { ptr.as_ref() };
    if header.state.ref_dec() {
        // SAFETY: that was the last reference.
        unsafe { (header.vtable.dealloc)(ptr) };
    }
}

/// A `Waker` that borrows the caller's reference instead of owning one.
///
/// # Safety
/// The task must stay alive while the returned value is used.
unsafe fn waker_ref(ptr: NonNull<Header>) -> ManuallyDrop<Waker> {
    // SAFETY: `ManuallyDrop` keeps the borrowed reference from being released;
    // `clone` through it takes a real reference.
    ManuallyDrop::new(unsafe { super::waker::raw_waker(ptr) })
}

thread_local! {
    /// Set by `yield_now` right before it returns `Pending`: the poller then
    /// re-queues the task as Gosched does, with no wake through the waker.
    static YIELD_REQUESTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The task being polled on this thread (null outside a poll).
    static CURRENT_TASK: std::cell::Cell<*const Header> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// `yield_now` from the task being polled: if `waker` is that task's own
/// waker, records the yield for the poller (which re-queues the task
/// itself, saving the wake's atomic operation) and returns true. Otherwise
/// (a nested executor, `block_on`) the caller must wake the waker.
pub(crate) fn request_yield(waker: &Waker) -> bool {
    let current = CURRENT_TASK.with(|c| c.get());
    if current.is_null()
        || waker.data() != current.cast::<()>()
        || !super::waker::is_task_waker(waker)
    {
        return false;
    }
    YIELD_REQUESTED.with(|y| y.set(true));
    true
}

fn take_yield_request() -> bool {
    YIELD_REQUESTED.with(|y| y.replace(false))
}

unsafe fn poll<F, S>(ptr: NonNull<Header>) -> RunResult
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the caller's Notified reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    match cell.header.state.transition_to_running() {
        TransitionToRunning::Failed => {
            // SAFETY: we give up the queue's reference.
            unsafe { drop_reference(ptr) };
            RunResult::Done
        }
        TransitionToRunning::Cancel => {
            // SAFETY: we hold RUNNING.
            unsafe { cancel_and_complete::<F, S>(ptr) };
            RunResult::Done
        }
        // SAFETY: we hold RUNNING and the queue reference.
        TransitionToRunning::Poll => unsafe { poll_future::<F, S>(ptr) },
    }
}

/// # Safety
/// The caller holds `RUNNING` and one reference, which this consumes
/// unless it returns `Reschedule`.
unsafe fn poll_future<F, S>(ptr: NonNull<Header>) -> RunResult
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the caller's reference keeps the cell alive; a local (not an
    // argument) because `complete` may free the cell before we return.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: the reference we hold keeps the task alive during the poll.
    let waker = unsafe { waker_ref(ptr) };
    let mut cx = Context::from_waker(&waker);
    let stage = &cell.stage;
    struct CurrentTask(*const Header);
    impl Drop for CurrentTask {
        fn drop(&mut self) {
            CURRENT_TASK.with(|c| c.set(self.0));
        }
    }
    let _current = CurrentTask(CURRENT_TASK.with(|c| c.replace(ptr.as_ptr())));
    let res = panic::catch_unwind(AssertUnwindSafe(|| {
        stage.with_mut(|stage| {
            // SAFETY: RUNNING gives us exclusive access to the stage.
            let fut = match unsafe { &mut *stage } {
                // SAFETY: the future lives in the heap cell and is dropped in
                // place (never moved) when the stage changes, so it stays pinned.
                Stage::Running(f) => unsafe { Pin::new_unchecked(f) },
                _ => unreachable!("polled a task whose future is gone"),
            };
            crate::coop::with_budget(|| fut.poll(&mut cx))
        })
    }));
    let out = match res {
        Ok(Poll::Pending) => {
            if cfg!(feature = "metrics") {
                let reason = crate::wait::take_wait_reason();
                cell.header.wait_reason.store(reason as u8, Relaxed);
                cell.header
                    .wait_since
                    .store(crate::clock::coarse_now_ms(), Relaxed);
            }
            let yielded = take_yield_request();
            return match cell.header.state.transition_to_idle(yielded) {
                TransitionToIdle::Idle => {
                    // SAFETY: the queue's reference is released.
                    unsafe { drop_reference(ptr) };
                    RunResult::Done
                }
                // The queue reference stays with the caller for the new entry.
                TransitionToIdle::Notified => RunResult::Reschedule { yielded },
                TransitionToIdle::Cancelled => {
                    // SAFETY: we still hold RUNNING.
                    unsafe { cancel_and_complete::<F, S>(ptr) };
                    RunResult::Done
                }
            };
        }
        Ok(Poll::Ready(v)) => Ok(v),
        Err(payload) => Err(JoinError::panic(cell.header.id, payload)),
    };
    take_yield_request();
    crate::wait::take_wait_reason();
    // SAFETY: still RUNNING.
    unsafe { store_output(cell, out) };
    // SAFETY: RUNNING and the queue reference are given to `complete`.
    unsafe { complete::<F, S>(ptr) };
    RunResult::Done
}

/// Drops the future (catching a panic in its `Drop`) and stores `out`.
///
/// # Safety
/// The caller holds `RUNNING`.
unsafe fn store_output<F: Future, S>(cell: &Cell<F, S>, out: Result<F::Output, JoinError>) {
    cell.stage.with_mut(|stage| {
        // SAFETY: RUNNING gives exclusive access to the stage. Dropping the
        // old stage (the future) may panic; the payload is discarded and the
        // output still stored, so the task completes exactly once.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
            *stage = Stage::Consumed;
        }));
        // SAFETY: as above.
        unsafe { *stage = Stage::Finished(out) };
    });
}

/// # Safety
/// The caller holds `RUNNING` and one reference, which this consumes.
unsafe fn cancel_and_complete<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the caller's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: RUNNING is held.
    unsafe { store_output(cell, Err(JoinError::cancelled(cell.header.id))) };
    // SAFETY: RUNNING and the reference are passed on.
    unsafe { complete::<F, S>(ptr) };
}

/// Publishes the output, wakes the joiner, leaves the live-task list.
///
/// # Safety
/// The caller holds `RUNNING` (the output is stored) and one reference.
unsafe fn complete<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    S: Schedule,
{
    // A local, not an argument: the cell may be freed at the end of this
    // function, and a reference passed as an argument must outlive the call.
    // SAFETY: the caller's reference keeps the cell alive until then.
    let cell = unsafe { cell::<F, S>(ptr) };
    let snapshot = cell.header.state.transition_to_complete();
    // Leave the live-task list before waking the joiner, so a joiner never
    // sees its task complete but still counted (num_goroutine, dumps).
    // SAFETY: the task is alive (we hold a reference) and complete.
    let released = cell
        .scheduler
        .release(unsafe { super::RawTask::from_raw(ptr) });
    if !snapshot.has_join_interest() {
        // Nobody will read the output: it is ours to drop.
        cell.stage.with_mut(|stage| {
            // SAFETY: COMPLETE without JOIN_INTEREST: only the completer
            // touches the stage.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| unsafe { *stage = Stage::Consumed }));
        });
    } else if snapshot.has_join_waker() {
        let waker = cell
            .join_waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(w) = waker {
            w.wake();
        }
    }
    let header = &cell.header;
    let last = if released {
        header.state.ref_dec_twice()
    } else {
        header.state.ref_dec()
    };
    if last {
        // SAFETY: no references remain.
        unsafe { (header.vtable.dealloc)(ptr) };
    }
}

unsafe fn try_read_output<F, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the JoinHandle's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: the caller passes a `*mut Poll<Result<F::Output, JoinError>>`.
    let dst = unsafe { &mut *dst.cast::<Poll<Result<F::Output, JoinError>>>() };
    if !cell.header.state.load().is_complete() {
        let mut slot = cell.join_waker.lock().unwrap_or_else(|e| e.into_inner());
        match &*slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
        let prev = cell.header.state.set_join_waker();
        drop(slot);
        if !prev.is_complete() {
            return;
        }
    }
    let taken = cell.stage.with_mut(|stage| {
        // SAFETY: COMPLETE is set and JOIN_INTEREST is the caller's, so the
        // completer no longer touches the stage and nobody else reads it.
        std::mem::replace(unsafe { &mut *stage }, Stage::Consumed)
    });
    match taken {
        Stage::Finished(out) => *dst = Poll::Ready(out),
        _ => panic!("JoinHandle polled after completion"),
    }
}

unsafe fn drop_output<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the JoinHandle's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.stage.with_mut(|stage| {
        // SAFETY: the task is COMPLETE and the JoinHandle that still had
        // JOIN_INTEREST is the one calling: nobody else touches the stage.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| unsafe { *stage = Stage::Consumed }));
    });
}

unsafe fn shutdown<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the caller owns the list reference, so the cell is alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.transition_to_shutdown() {
        // We hold RUNNING now. Take an extra reference for `complete` to
        // consume (it releases the list reference itself), then give back
        // the caller's.
        cell.header.state.ref_inc();
        // SAFETY: RUNNING and the extra reference are handed over.
        unsafe { cancel_and_complete::<F, S>(ptr) };
    }
    // SAFETY: the caller's reference is released.
    unsafe { drop_reference(ptr) };
}

/// Wakes a task by reference: queues it if it was idle.
///
/// # Safety
/// The caller holds a reference to a live task.
pub(super) unsafe fn wake_by_ref(ptr: NonNull<Header>) {
    // SAFETY: alive per the caller.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_notified_by_ref() == TransitionToNotified::Submit {
        // SAFETY: the transition added the reference the queue now owns.
        unsafe { (header.vtable.schedule)(ptr) };
    }
}

/// `abort()`: cancels the task, queueing it if it was idle.
///
/// # Safety
/// The caller holds a reference to a live task.
pub(super) unsafe fn abort(ptr: NonNull<Header>) {
    // SAFETY: alive per the caller.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_notified_and_cancel() == TransitionToNotified::Submit {
        // SAFETY: the transition added the reference the queue now owns.
        unsafe { (header.vtable.schedule)(ptr) };
    }
}

/// Model-checked races of the harness (`scripts/loom.sh`): wakes, aborts,
/// shutdown, the `JoinHandle` and the reference count, on a plain-queue
/// scheduler. Each model counts the drops of the future, of the output and
/// of the task's memory (the scheduler value inside the cell), and asserts
/// each is exactly once; loom also fails a model whose cell leaks (it holds
/// a loom `Arc`), and its tracked stage cell fails one where two threads
/// touch the future or output without the state word ordering them.
#[cfg(all(test, loom))]
pub(super) mod loom_tests {
    use std::collections::VecDeque;
    use std::future::Future;
    use std::panic::Location;
    use std::pin::Pin;
    use std::task::{Context, Poll, Wake, Waker};

    use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use crate::loom::sync::{Arc, Mutex};
    use crate::loom::thread;
    use crate::task::list::OwnedTasks;
    use crate::task::{new_task, JoinError, JoinHandle, Notified, RawTask, Schedule};

    #[derive(Default)]
    pub(crate) struct Counts {
        pub(crate) futures_dropped: AtomicUsize,
        pub(crate) outputs_dropped: AtomicUsize,
        pub(crate) cells_freed: AtomicUsize,
        /// Calls of `Schedule::schedule` (wakes and aborts that queued the task).
        pub(crate) scheduled: AtomicUsize,
    }

    type Queue = Arc<Mutex<VecDeque<Notified>>>;

    /// The scheduler value stored in each task cell: a shared run queue,
    /// and the live-task list a completed task leaves, if it was linked.
    /// Its drop is the cell's: counted as the task's memory being freed.
    struct Sched {
        queue: Queue,
        counts: Arc<Counts>,
        list: Option<Arc<OwnedTasks>>,
    }

    impl Drop for Sched {
        fn drop(&mut self) {
            self.counts.cells_freed.fetch_add(1, SeqCst);
        }
    }

    impl Schedule for Sched {
        fn schedule(&self, task: Notified) {
            self.counts.scheduled.fetch_add(1, SeqCst);
            self.queue.lock().unwrap().push_back(task);
        }
        fn release(&self, task: RawTask) -> bool {
            self.list.as_ref().is_some_and(|l| l.remove(task))
        }
    }

    pub(crate) struct Output(Arc<Counts>);

    impl std::fmt::Debug for Output {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Output")
        }
    }

    impl Drop for Output {
        fn drop(&mut self) {
            self.0.outputs_dropped.fetch_add(1, SeqCst);
        }
    }

    pub(crate) type OnPoll = Box<dyn FnOnce(&Waker) + Send>;

    /// Returns `Pending` `pending` times (`usize::MAX`: forever), then an
    /// [`Output`]. `on_poll` runs in the first poll, with the task's waker.
    struct TestFuture {
        counts: Arc<Counts>,
        pending: usize,
        on_poll: Option<OnPoll>,
    }

    impl Future for TestFuture {
        type Output = Output;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
            if let Some(f) = self.on_poll.take() {
                f(cx.waker());
            }
            if self.pending == 0 {
                return Poll::Ready(Output(self.counts.clone()));
            }
            self.pending -= 1;
            Poll::Pending
        }
    }

    impl Drop for TestFuture {
        fn drop(&mut self) {
            self.counts.futures_dropped.fetch_add(1, SeqCst);
        }
    }

    pub(crate) struct Harness {
        queue: Queue,
        counts: Arc<Counts>,
        list: Option<Arc<OwnedTasks>>,
    }

    impl Harness {
        pub(crate) fn new() -> Harness {
            Harness {
                queue: Arc::new(Mutex::new(VecDeque::new())),
                counts: Arc::new(Counts::default()),
                list: None,
            }
        }

        /// A harness whose tasks leave `list` when they complete.
        pub(crate) fn with_list(list: Arc<OwnedTasks>) -> Harness {
            Harness {
                list: Some(list),
                ..Harness::new()
            }
        }

        /// Spawns a task and queues it; returns its list reference (to
        /// link, or to give up with `shutdown`) and the `JoinHandle`.
        pub(crate) fn spawn_linked(
            &self,
            pending: usize,
            on_poll: Option<OnPoll>,
        ) -> (RawTask, JoinHandle<Output>) {
            let fut = TestFuture {
                counts: self.counts.clone(),
                pending,
                on_poll,
            };
            let sched = Sched {
                queue: self.queue.clone(),
                counts: self.counts.clone(),
                list: self.list.clone(),
            };
            let (notified, raw, join) = new_task(fut, sched, None, Location::caller());
            self.queue.lock().unwrap().push_back(notified);
            (raw, join)
        }

        fn spawn(&self, pending: usize, on_poll: Option<OnPoll>) -> JoinHandle<Output> {
            let (raw, join) = self.spawn_linked(pending, on_poll);
            // SAFETY: not linked anywhere: the list reference is ours to drop.
            unsafe { raw.drop_ref() };
            join
        }

        /// Takes the oldest queued task.
        pub(crate) fn pop(&self) -> Option<Notified> {
            self.queue.lock().unwrap().pop_front()
        }

        /// Runs queued tasks until the queue is empty; returns how many ran.
        pub(crate) fn run_queue(&self) -> usize {
            let mut ran = 0;
            loop {
                let next = self.queue.lock().unwrap().pop_front();
                let Some(t) = next else { return ran };
                ran += 1;
                if let Some((t, _)) = t.run() {
                    self.queue.lock().unwrap().push_back(t);
                }
            }
        }

        pub(crate) fn count(&self, c: impl Fn(&Counts) -> &AtomicUsize) -> usize {
            c(&self.counts).load(SeqCst)
        }
    }

    /// A waker that counts its wakes (the `JoinHandle`'s waiter).
    #[derive(Default)]
    struct CountWake(std::sync::atomic::AtomicUsize);

    impl Wake for CountWake {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn poll_join(j: &mut JoinHandle<Output>, w: &Waker) -> Poll<Result<Output, JoinError>> {
        Pin::new(j).poll(&mut Context::from_waker(w))
    }

    pub(crate) fn ready(j: &mut JoinHandle<Output>) -> Result<Output, JoinError> {
        match poll_join(j, Waker::noop()) {
            Poll::Ready(r) => r,
            Poll::Pending => panic!("the task should be complete"),
        }
    }

    /// An `on_poll` that hands a clone of the task's waker to `f` on a
    /// new thread, whose handle goes into `threads`.
    fn on_new_thread(
        threads: &Arc<Mutex<Vec<thread::JoinHandle<()>>>>,
        f: impl FnOnce(Waker) + Send + 'static,
    ) -> Option<OnPoll> {
        let threads = threads.clone();
        Some(Box::new(move |w: &Waker| {
            let w = w.clone();
            let t = thread::spawn(move || f(w));
            threads.lock().unwrap().push(t);
        }))
    }

    fn join_all(threads: &Arc<Mutex<Vec<thread::JoinHandle<()>>>>) {
        for t in std::mem::take(&mut *threads.lock().unwrap()) {
            t.join().unwrap();
        }
    }

    #[test]
    fn waker_woken_on_another_thread_while_the_task_completes_queues_nothing() {
        loom::model(|| {
            let h = Harness::new();
            let threads = Arc::new(Mutex::new(Vec::new()));
            let mut join = h.spawn(0, on_new_thread(&threads, Waker::wake));
            assert_eq!(h.run_queue(), 1);
            join_all(&threads);
            // The wake came while RUNNING or after COMPLETE: never a submit.
            assert_eq!(h.run_queue(), 0);
            assert_eq!(h.count(|c| &c.scheduled), 0);
            assert_eq!(h.count(|c| &c.futures_dropped), 1);
            drop(ready(&mut join).expect("the task finished"));
            assert_eq!(h.count(|c| &c.outputs_dropped), 1);
            drop(join);
            assert_eq!(h.count(|c| &c.cells_freed), 1);
        });
    }

    #[test]
    fn abort_racing_completion_gives_the_output_or_cancelled_never_both() {
        loom::model(|| {
            let h = Harness::new();
            let mut join = h.spawn(0, None);
            let abort = join.abort_handle();
            let aborter = thread::spawn(move || abort.abort());
            assert_eq!(h.run_queue(), 1);
            aborter.join().unwrap();
            // The task was queued (NOTIFIED), running or complete when the
            // abort came: the abort never queues it a second time.
            assert_eq!(h.count(|c| &c.scheduled), 0);
            assert_eq!(h.count(|c| &c.futures_dropped), 1);
            match ready(&mut join) {
                Ok(out) => drop(out),
                Err(e) => assert!(e.is_cancelled()),
            }
            drop(join);
            let outputs = h.count(|c| &c.outputs_dropped);
            assert!(outputs <= 1, "output dropped {outputs} times");
            assert_eq!(h.count(|c| &c.cells_freed), 1);
        });
    }

    #[test]
    fn abort_racing_a_wake_of_a_parked_task_queues_it_once_and_cancels_it() {
        loom::model(|| {
            let h = Harness::new();
            let slot = Arc::new(Mutex::new(None));
            let s = slot.clone();
            let store_waker: OnPoll = Box::new(move |w: &Waker| {
                *s.lock().unwrap() = Some(w.clone());
            });
            let mut join = h.spawn(usize::MAX, Some(store_waker));
            assert_eq!(h.run_queue(), 1);
            let waker = slot.lock().unwrap().take().expect("first poll stored it");
            let abort = join.abort_handle();
            let aborter = thread::spawn(move || abort.abort());
            waker.wake();
            aborter.join().unwrap();
            assert_eq!(h.count(|c| &c.scheduled), 1, "queued exactly once");
            assert_eq!(h.run_queue(), 1);
            assert_eq!(h.count(|c| &c.futures_dropped), 1);
            assert!(ready(&mut join).unwrap_err().is_cancelled());
            drop(join);
            assert_eq!(h.count(|c| &c.cells_freed), 1);
        });
    }

    #[test]
    fn join_handle_dropped_while_the_output_is_stored_drops_the_output_once() {
        loom::model(|| {
            let h = Harness::new();
            let join = h.spawn(0, None);
            let dropper = thread::spawn(move || drop(join));
            assert_eq!(h.run_queue(), 1);
            dropper.join().unwrap();
            assert_eq!(h.count(|c| &c.futures_dropped), 1);
            assert_eq!(h.count(|c| &c.outputs_dropped), 1);
            assert_eq!(h.count(|c| &c.cells_freed), 1);
        });
    }

    #[test]
    fn join_waker_registered_while_the_task_completes_is_woken_exactly_once() {
        loom::model(|| {
            let h = Harness::new();
            let mut join = h.spawn(0, None);
            let woken = std::sync::Arc::new(CountWake::default());
            let w = Waker::from(woken.clone());
            let joiner = thread::spawn(move || {
                let first = poll_join(&mut join, &w);
                (join, first)
            });
            assert_eq!(h.run_queue(), 1);
            let (mut join, first) = joiner.join().unwrap();
            // A joiner that parked is woken by the completion (no lost
            // wake-up); one that saw the output is not woken at all.
            match first {
                Poll::Pending => {
                    assert_eq!(woken.0.load(SeqCst), 1);
                    drop(ready(&mut join).expect("the task finished"));
                }
                Poll::Ready(out) => {
                    assert_eq!(woken.0.load(SeqCst), 0);
                    drop(out.expect("the task finished"));
                }
            }
            drop(join);
            assert_eq!(h.count(|c| &c.outputs_dropped), 1);
            assert_eq!(h.count(|c| &c.cells_freed), 1);
        });
    }

    #[test]
    fn shutdown_racing_a_wake_and_its_run_cancels_the_task_once() {
        loom::model(|| {
            let h = Harness::new();
            let slot = Arc::new(Mutex::new(None));
            let s = slot.clone();
            let store_waker: OnPoll = Box::new(move |w: &Waker| {
                *s.lock().unwrap() = Some(w.clone());
            });
            let (raw, mut join) = h.spawn_linked(usize::MAX, Some(store_waker));
            assert_eq!(h.run_queue(), 1);
            let waker = slot.lock().unwrap().take().expect("first poll stored it");
            // SAFETY: the closer owns the list reference and gives it up.
            let closer = thread::spawn(move || unsafe { raw.shutdown() });
            waker.wake();
            // The wake queued the task at most once; running it cancels it
            // or finds it cancelled by the closer.
            assert!(h.run_queue() <= 1);
            closer.join().unwrap();
            assert!(h.count(|c| &c.scheduled) <= 1);
            assert_eq!(h.run_queue(), 0);
            assert_eq!(h.count(|c| &c.futures_dropped), 1);
            assert!(ready(&mut join).unwrap_err().is_cancelled());
            drop(join);
            assert_eq!(h.count(|c| &c.cells_freed), 1);
        });
    }
}
