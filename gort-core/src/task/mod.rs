//! Tasks: gort's goroutines (Go's `g`), and their `JoinHandle`.
//!
//! A task is one heap allocation ([`raw`]) holding a header, the future and
//! later its output. The runtime moves it around as untyped references:
//! [`Notified`] in run queues, wakers, the live-task list ([`list`]), the
//! `JoinHandle`. The state word ([`state`]) carries the lifecycle bits and
//! the reference count.
//!
//! The path of a task: `spawn` allocates it (`NOTIFIED`, three references),
//! links it into the live-task list and hands the `Notified` to the
//! scheduler (`runnext` of the current P, or the global queue). A worker
//! pops it and calls [`Notified::run`]: `RUNNING`, poll, then either
//! complete (store the output, wake the joiner, unlink) or go idle until a
//! waker queues it again.

pub(crate) mod list;
pub(crate) mod raw;
mod state;
mod waker;

#[cfg(all(test, not(loom)))]
mod tests;

mod join;
mod join_set;
pub(crate) mod local;
pub use join::{AbortHandle, JoinError, JoinHandle};
pub use join_set::JoinSet;
pub use local::{spawn_local, LocalSet, RunUntil};

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use raw::Header;

/// A task's identity, unique within the process (Go's goid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub(crate) u64);

impl TaskId {
    fn next() -> TaskId {
        // Starts at 1 like Go's goids; 0 is never a task.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TaskId(NEXT.fetch_add(1, Relaxed))
    }

    /// The number, as printed in dumps.
    pub fn as_u64(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a task dump shows about where a task came from.
pub(crate) struct TaskMeta {
    pub(crate) location: &'static Location<'static>,
    pub(crate) name: Option<Box<str>>,
}

/// The scheduler side of a task: where it goes when woken.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Queue a task that was woken (it was idle) or aborted.
    fn schedule(&self, task: Notified);
    /// The task completed: unlink it from the live-task list. Returns
    /// whether it was linked (the caller then drops that reference).
    fn release(&self, task: RawTask) -> bool;
}

/// An unowned pointer to a live task.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawTask(NonNull<Header>);

impl RawTask {
    /// # Safety
    /// `ptr` is a live task header.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> RawTask {
        RawTask(ptr)
    }

    pub(crate) fn as_ptr(self) -> NonNull<Header> {
        self.0
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a RawTask is only made for live tasks, and used while the
        // holder keeps a reference.
        unsafe { self.0.as_ref() }
    }

    /// Drops the reference the caller owns (the list reference of a task
    /// that is not linked, e.g. a blocking-pool task).
    ///
    /// # Safety
    /// The caller owns one reference and gives it up.
    pub(crate) unsafe fn drop_ref(self) {
        // SAFETY: per the caller.
        unsafe { raw::drop_reference(self.0) }
    }

    /// Cancels the task for shutdown, consuming the reference the caller
    /// owns (the live-task list's).
    ///
    /// # Safety
    /// The caller owns one reference and gives it up.
    pub(crate) unsafe fn shutdown(self) {
        // SAFETY: per the caller.
        unsafe { (self.header().vtable.shutdown)(self.0) }
    }
}

/// An owned reference to a task that is in, or going into, a run queue.
pub(crate) struct Notified(NonNull<Header>);

// SAFETY: the header is Sync, and a task's future and output are Send
// (`new_task`), or the task is local (`new_local_task`): its `Notified`
// may cross threads, but is run only on the owner thread, and dropped
// elsewhere it only releases a reference — never the last one while the
// future lives, since the set's list keeps one until the owner completes
// or cancels the task.
unsafe impl Send for Notified {}

impl Notified {
    /// # Safety
    /// The caller transfers one reference, taken for a run queue.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Notified {
        Notified(ptr)
    }

    /// Polls the task once (or cancels it). Returns the task back when it
    /// was woken during the poll and must be queued again (with whether
    /// that wake was `yield_now`).
    pub(crate) fn run(self) -> Option<(Notified, bool)> {
        let ptr = self.0;
        std::mem::forget(self);
        // SAFETY: the reference we owned is handed to `poll`, which keeps it
        // alive for us only when it asks for a reschedule.
        match unsafe { (ptr.as_ref().vtable.poll)(ptr) } {
            raw::RunResult::Done => None,
            raw::RunResult::Reschedule { yielded } => Some((Notified(ptr), yielded)),
        }
    }
}

impl Notified {
    /// The task's id.
    pub(crate) fn id(&self) -> TaskId {
        // SAFETY: we own a reference.
        unsafe { self.0.as_ref() }.id
    }

    /// Marks the task cancelled and runs it, so its future is dropped
    /// without being polled (a queued task that must never run).
    pub(crate) fn cancel_and_run(self) {
        // The task is NOTIFIED (it is queued), so this only sets CANCELLED.
        // SAFETY: we own a reference.
        unsafe { raw::abort(self.0) };
        let again = self.run();
        debug_assert!(again.is_none());
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { raw::drop_reference(self.0) }
    }
}

// SAFETY: `into_raw` gives up the reference to the queue slot and
// `from_raw` takes it back, exactly once per item.
unsafe impl crate::queue::Item for Notified {
    fn into_raw(self) -> NonNull<()> {
        let p = self.0.cast();
        std::mem::forget(self);
        p
    }
    unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        Notified(ptr.cast())
    }
}

/// Allocates a task for `future` on scheduler `S`.
///
/// Returns the `Notified` for the run queue, the `RawTask` whose list
/// reference the caller must link (or release if the list is closed), and
/// the `JoinHandle`.
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    name: Option<Box<str>>,
    location: &'static Location<'static>,
) -> (Notified, RawTask, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let id = TaskId::next();
    let ptr = raw::allocate(future, scheduler, id, TaskMeta { location, name });
    // SAFETY: the task starts with three references, one for each value returned.
    unsafe { (Notified(ptr), RawTask(ptr), JoinHandle::from_raw(ptr)) }
}

/// Allocates a task whose future (and output) need not be `Send`, for a
/// scheduler that polls it on one thread only (a [`LocalSet`]).
///
/// # Safety
/// Every poll of the task, the drop of its future, and every access to an
/// output that is not `Send`, happen on the thread that calls this: the
/// scheduler `S` may be handed `Notified`s from any thread, but must only
/// run them on that thread, and must cancel (drop) every unfinished task on
/// that thread before it goes away.
pub(crate) unsafe fn new_local_task<F, S>(
    future: F,
    scheduler: S,
    location: &'static Location<'static>,
) -> (Notified, RawTask, JoinHandle<F::Output>)
where
    F: Future + 'static,
    S: Schedule,
{
    let id = TaskId::next();
    let meta = TaskMeta {
        location,
        name: None,
    };
    let ptr = raw::allocate(future, scheduler, id, meta);
    // SAFETY: the task starts with three references, one for each value returned.
    unsafe { (Notified(ptr), RawTask(ptr), JoinHandle::from_raw(ptr)) }
}

/// Spawns tasks with options (tokio's `task::Builder`): a name shown in
/// task dumps.
///
/// ```
/// let rt = gort_core::runtime::Builder::new().procs(1).build().unwrap();
/// let v = rt.block_on(async {
///     gort_core::task::Builder::new().name("worker").spawn(async { 3 }).await.unwrap()
/// });
/// assert_eq!(v, 3);
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<Box<str>>,
}

impl Builder {
    /// A builder with no options set.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task (shown in task dumps).
    pub fn name(mut self, name: &str) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Spawns the task on the current runtime.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let loc = Location::caller();
        crate::context::with_current(|h| match h {
            Some(h) => crate::sched::Shared::spawn(h, future, self.name, loc),
            None => panic!("gort::task::Builder::spawn called outside a gort runtime"),
        })
    }

    /// Spawns the task on the runtime of `handle`.
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &crate::runtime::Handle) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        crate::sched::Shared::spawn(handle, future, self.name, Location::caller())
    }
}

/// The state of a live task, for dumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DumpState {
    Runnable,
    Running,
    Waiting,
}

impl Header {
    pub(crate) fn dump_state(&self) -> DumpState {
        let s = self.state.load();
        if s.is_running() {
            DumpState::Running
        } else if s.is_notified() {
            DumpState::Runnable
        } else {
            DumpState::Waiting
        }
    }
}
