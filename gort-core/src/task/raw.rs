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
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use super::list::Pointers;
use super::state::{State, TransitionToIdle, TransitionToNotified, TransitionToRunning};
use super::{JoinError, Notified, Schedule, TaskId, TaskMeta};
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
    stage: UnsafeCell<Stage<F>>,
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
        stage: UnsafeCell::new(Stage::Running(future)),
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
    let stage = cell.stage.get();
    struct CurrentTask(*const Header);
    impl Drop for CurrentTask {
        fn drop(&mut self) {
            CURRENT_TASK.with(|c| c.set(self.0));
        }
    }
    let _current = CurrentTask(CURRENT_TASK.with(|c| c.replace(ptr.as_ptr())));
    let res = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: RUNNING gives us exclusive access to the stage.
        let fut = match unsafe { &mut *stage } {
            // SAFETY: the future lives in the heap cell and is dropped in
            // place (never moved) when the stage changes, so it stays pinned.
            Stage::Running(f) => unsafe { Pin::new_unchecked(f) },
            _ => unreachable!("polled a task whose future is gone"),
        };
        crate::coop::with_budget(|| fut.poll(&mut cx))
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
    let stage = cell.stage.get();
    // SAFETY: RUNNING gives exclusive access to the stage. Dropping the old
    // stage (the future) may panic; the payload is discarded and the output
    // still stored, so the task completes exactly once.
    let _ = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
        *stage = Stage::Consumed;
    }));
    // SAFETY: as above.
    unsafe { *stage = Stage::Finished(out) };
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
        let stage = cell.stage.get();
        // SAFETY: COMPLETE without JOIN_INTEREST: only the completer touches the stage.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| unsafe { *stage = Stage::Consumed }));
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
    // SAFETY: COMPLETE is set and JOIN_INTEREST is the caller's, so the
    // completer no longer touches the stage and nobody else reads it.
    let stage = unsafe { &mut *cell.stage.get() };
    match std::mem::replace(stage, Stage::Consumed) {
        Stage::Finished(out) => *dst = Poll::Ready(out),
        _ => panic!("JoinHandle polled after completion"),
    }
}

unsafe fn drop_output<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the JoinHandle's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    let stage = cell.stage.get();
    // SAFETY: the task is COMPLETE and the JoinHandle that still had
    // JOIN_INTEREST is the one calling: nobody else touches the stage.
    let _ = panic::catch_unwind(AssertUnwindSafe(|| unsafe { *stage = Stage::Consumed }));
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
