//! The task state word: lifecycle bits plus a reference count.
//!
//! Go keeps a goroutine's status in `g.atomicstatus` (`_Grunnable`,
//! `_Grunning`, `_Gwaiting`, ...) and moves it with CAS in `casgstatus`. A
//! gort task has the same lifecycle, but a future can also be woken while it
//! is being polled and its `JoinHandle` lives on another thread, so the state
//! is a set of bits (async-task's and tokio's layout) rather than one enum,
//! and the reference count shares the word so that "last reference gone"
//! and "state changed" are one atomic operation.
//!
//! Every transition is a CAS loop or a single RMW on [`State`]; each method
//! documents the bits it requires and the ones it leaves.

use crate::loom::sync::atomic::AtomicUsize;
use crate::loom::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::fmt;

/// The task is being polled, cancelled or dropped by the holder of this bit.
///
/// Set by [`State::transition_to_running`], cleared by
/// [`State::transition_to_idle`] or [`State::transition_to_complete`]. Only
/// the holder may touch the future or its output slot. Can't be set together
/// with `COMPLETE`.
pub(super) const RUNNING: usize = 1 << 0;

/// The future has finished (or was cancelled) and the output slot holds the
/// result for the `JoinHandle`.
///
/// Set once, never cleared. Once set, `RUNNING` and `NOTIFIED` are never set
/// again and wakes are no-ops.
pub(super) const COMPLETE: usize = 1 << 1;

/// The task has been woken and a `Notified` reference to it is in a run
/// queue, or will be put there when the current poll ends.
///
/// Set by a wake while the task is idle (the waker then queues it) or while
/// it is running (the poller re-queues it in `transition_to_idle`). Cleared
/// by `transition_to_running`. This bit is what makes waking an
/// already-queued task a no-op.
pub(super) const NOTIFIED: usize = 1 << 2;

/// A `JoinHandle` exists and will read the output.
///
/// Cleared when the handle is dropped; if it is clear when the task
/// completes, the completer drops the output itself.
pub(super) const JOIN_INTEREST: usize = 1 << 3;

/// The `JoinHandle` stored a waker in the join slot and wants to be woken on
/// completion. Set by the handle (under the join-slot lock), read by the
/// completer.
pub(super) const JOIN_WAKER: usize = 1 << 4;

/// `abort()` (or runtime shutdown) asked for the task to be cancelled: the
/// next holder of `RUNNING` drops the future instead of polling it.
pub(super) const CANCELLED: usize = 1 << 5;

const LIFECYCLE_MASK: usize =
    RUNNING | COMPLETE | NOTIFIED | JOIN_INTEREST | JOIN_WAKER | CANCELLED;

/// One reference. The count, in the bits above `REF_ONE`, counts: the
/// runtime's list of live tasks, each `Notified` in a run queue, the
/// `JoinHandle`, each `AbortHandle` and each `Waker`. The task's memory is
/// freed when it reaches zero.
pub(super) const REF_ONE: usize = 1 << 6;

const REF_MASK: usize = !LIFECYCLE_MASK;

/// The atomic state word of a task header.
pub(super) struct State {
    val: AtomicUsize,
}

/// A snapshot of the state word.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(super) struct Snapshot(pub(super) usize);

impl Snapshot {
    pub(super) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(super) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(super) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(super) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(super) fn has_join_interest(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(super) fn has_join_waker(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(super) fn ref_count(self) -> usize {
        (self.0 & REF_MASK) / REF_ONE
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.has_join_interest())
            .field("join_waker", &self.has_join_waker())
            .field("refs", &self.ref_count())
            .finish()
    }
}

/// What the scheduler does with a task it popped from a run queue.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TransitionToRunning {
    /// Poll it.
    Poll,
    /// It was aborted: drop the future and complete with `Cancelled`.
    Cancel,
    /// Already complete or being run by someone else: just drop the
    /// queue's reference.
    Failed,
}

/// What the poller does after a poll returned `Pending`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TransitionToIdle {
    /// Parked: drop the queue's reference; a later wake re-queues it.
    Idle,
    /// Woken during the poll: put the (still owned) queue reference back in
    /// a run queue.
    Notified,
    /// Aborted during the poll: cancel it now.
    Cancelled,
}

/// What a waker does.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TransitionToNotified {
    /// The task was idle: it is now `NOTIFIED` with one more reference,
    /// which the caller must hand to the scheduler.
    Submit,
    /// Nothing to do (already queued, running, or complete).
    DoNothing,
}

impl State {
    /// The state of a freshly spawned task: already `NOTIFIED` (it goes
    /// straight into a run queue) with a `JoinHandle`, and three references:
    /// the live-task list, the run queue and the `JoinHandle`.
    pub(super) fn new() -> State {
        State {
            val: AtomicUsize::new(NOTIFIED | JOIN_INTEREST | (3 * REF_ONE)),
        }
    }

    pub(super) fn load(&self) -> Snapshot {
        Snapshot(self.val.load(Acquire))
    }

    fn fetch_update(
        &self,
        mut f: impl FnMut(Snapshot) -> Option<Snapshot>,
    ) -> Result<Snapshot, Snapshot> {
        let mut cur = self.load();
        loop {
            let Some(next) = f(cur) else { return Err(cur) };
            match self
                .val
                .compare_exchange_weak(cur.0, next.0, AcqRel, Acquire)
            {
                Ok(_) => return Ok(next),
                Err(actual) => cur = Snapshot(actual),
            }
        }
    }

    /// Taken by the scheduler for a task popped from a run queue (the
    /// popped `Notified` reference is kept by the caller). Requires
    /// `NOTIFIED`; sets `RUNNING`, clears `NOTIFIED`.
    pub(super) fn transition_to_running(&self) -> TransitionToRunning {
        let mut action = TransitionToRunning::Failed;
        let _ = self.fetch_update(|s| {
            if s.is_running() || s.is_complete() {
                action = TransitionToRunning::Failed;
                return None;
            }
            action = if s.is_cancelled() {
                TransitionToRunning::Cancel
            } else {
                TransitionToRunning::Poll
            };
            Some(Snapshot((s.0 | RUNNING) & !NOTIFIED))
        });
        action
    }

    /// Taken to cancel a task that nobody is running (shutdown): sets
    /// `RUNNING | CANCELLED` if the task is neither running nor complete.
    /// Returns whether the caller now holds `RUNNING`.
    pub(super) fn transition_to_shutdown(&self) -> bool {
        let mut took = false;
        let _ = self.fetch_update(|s| {
            if s.is_running() || s.is_complete() {
                took = false;
                // Still record the request so the current runner cancels it.
                if s.is_cancelled() || s.is_complete() {
                    return None;
                }
                return Some(Snapshot(s.0 | CANCELLED));
            }
            took = true;
            Some(Snapshot(s.0 | RUNNING | CANCELLED))
        });
        took
    }

    /// After a poll returned `Pending`. Requires `RUNNING`; clears it.
    /// `yielded`: the task asked to run again (`yield_now`), so it is
    /// `NOTIFIED` now, as if it had been woken during the poll.
    pub(super) fn transition_to_idle(&self, yielded: bool) -> TransitionToIdle {
        let mut action = TransitionToIdle::Idle;
        let _ = self.fetch_update(|s| {
            debug_assert!(s.is_running());
            if s.is_cancelled() {
                action = TransitionToIdle::Cancelled;
                return None; // keep RUNNING: the caller cancels now.
            }
            if yielded || s.is_notified() {
                action = TransitionToIdle::Notified;
                Some(Snapshot((s.0 & !RUNNING) | NOTIFIED))
            } else {
                action = TransitionToIdle::Idle;
                Some(Snapshot(s.0 & !RUNNING))
            }
        });
        action
    }

    /// After the output was stored. Requires `RUNNING`; sets `COMPLETE`,
    /// clears `RUNNING`. A `NOTIFIED` left over from a wake during the last
    /// poll stays set but means nothing once `COMPLETE` is. Returns the new snapshot: the caller reads
    /// `JOIN_INTEREST` and `JOIN_WAKER` from it.
    pub(super) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.val.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        Snapshot(prev.0 ^ (RUNNING | COMPLETE))
    }

    /// A wake through a waker that the caller keeps (`wake_by_ref`).
    pub(super) fn transition_to_notified_by_ref(&self) -> TransitionToNotified {
        let mut action = TransitionToNotified::DoNothing;
        let _ = self.fetch_update(|s| {
            if s.is_complete() || s.is_notified() {
                action = TransitionToNotified::DoNothing;
                return None;
            }
            if s.is_running() {
                action = TransitionToNotified::DoNothing;
                return Some(Snapshot(s.0 | NOTIFIED));
            }
            action = TransitionToNotified::Submit;
            Some(Snapshot((s.0 | NOTIFIED) + REF_ONE))
        });
        action
    }

    /// `abort()`: sets `CANCELLED`; if the task is idle it must be queued
    /// so a worker cancels it (returns `Submit` with one more reference).
    pub(super) fn transition_to_notified_and_cancel(&self) -> TransitionToNotified {
        let mut action = TransitionToNotified::DoNothing;
        let _ = self.fetch_update(|s| {
            if s.is_complete() || s.is_cancelled() {
                action = TransitionToNotified::DoNothing;
                return None;
            }
            if s.is_running() || s.is_notified() {
                // The runner or the queued reference will see CANCELLED.
                action = TransitionToNotified::DoNothing;
                return Some(Snapshot(s.0 | CANCELLED));
            }
            action = TransitionToNotified::Submit;
            Some(Snapshot((s.0 | CANCELLED | NOTIFIED) + REF_ONE))
        });
        action
    }

    /// The `JoinHandle` stored its waker (under the join-slot lock): sets
    /// `JOIN_WAKER`. Returns the previous snapshot; if it was already
    /// `COMPLETE` the completer will not look at the slot, so the handle
    /// must read the output now.
    pub(super) fn set_join_waker(&self) -> Snapshot {
        Snapshot(self.val.fetch_or(JOIN_WAKER, AcqRel))
    }

    /// The `JoinHandle` is dropped: clears `JOIN_INTEREST` and
    /// `JOIN_WAKER`. Returns the previous snapshot; if it was `COMPLETE`,
    /// the output is the handle's to drop.
    pub(super) fn unset_join_interest(&self) -> Snapshot {
        Snapshot(self.val.fetch_and(!(JOIN_INTEREST | JOIN_WAKER), AcqRel))
    }

    pub(super) fn ref_inc(&self) {
        let prev = self.val.fetch_add(REF_ONE, Relaxed);
        // A runaway count would wrap into the lifecycle bits; abort like Arc does.
        if prev > usize::MAX / 2 {
            std::process::abort();
        }
    }

    /// Drops one reference; returns true if it was the last.
    pub(super) fn ref_dec(&self) -> bool {
        let prev = Snapshot(self.val.fetch_sub(REF_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= 1);
        prev.ref_count() == 1
    }

    /// Drops two references at once (the queue's and another one);
    /// returns true if they were the last.
    pub(super) fn ref_dec_twice(&self) -> bool {
        let prev = Snapshot(self.val.fetch_sub(2 * REF_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= 2);
        prev.ref_count() == 2
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn new_task_is_notified_with_join_interest_and_three_refs() {
        let s = State::new().load();
        assert!(s.is_notified() && s.has_join_interest());
        assert!(!s.is_running() && !s.is_complete());
        assert_eq!(s.ref_count(), 3);
    }

    #[test]
    fn wake_while_queued_is_a_no_op() {
        let st = State::new();
        assert_eq!(
            st.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(st.load().ref_count(), 3);
    }

    #[test]
    fn wake_while_running_reschedules_after_the_poll() {
        let st = State::new();
        assert_eq!(st.transition_to_running(), TransitionToRunning::Poll);
        assert_eq!(
            st.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(st.transition_to_idle(false), TransitionToIdle::Notified);
        // Not NOTIFIED-cleared: the queue reference is reused.
        assert!(st.load().is_notified());
        assert_eq!(st.transition_to_running(), TransitionToRunning::Poll);
        assert_eq!(st.transition_to_idle(false), TransitionToIdle::Idle);
        assert_eq!(
            st.transition_to_notified_by_ref(),
            TransitionToNotified::Submit
        );
        assert_eq!(st.load().ref_count(), 4);
    }

    #[test]
    fn yield_leaves_the_task_notified_for_the_poller() {
        let st = State::new();
        assert_eq!(st.transition_to_running(), TransitionToRunning::Poll);
        assert_eq!(st.transition_to_idle(true), TransitionToIdle::Notified);
        // A wake while it sits in the yield list is a no-op.
        assert_eq!(
            st.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(st.load().ref_count(), 3);
        assert_eq!(st.transition_to_running(), TransitionToRunning::Poll);
    }

    #[test]
    fn complete_task_ignores_wakes_and_aborts() {
        let st = State::new();
        assert_eq!(st.transition_to_running(), TransitionToRunning::Poll);
        let s = st.transition_to_complete();
        assert!(s.is_complete() && !s.is_running());
        assert_eq!(
            st.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(
            st.transition_to_notified_and_cancel(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(st.transition_to_running(), TransitionToRunning::Failed);
        assert!(!st.load().is_cancelled());
    }

    #[test]
    fn abort_of_idle_task_submits_it_for_cancellation() {
        let st = State::new();
        assert_eq!(st.transition_to_running(), TransitionToRunning::Poll);
        assert_eq!(st.transition_to_idle(false), TransitionToIdle::Idle);
        assert_eq!(
            st.transition_to_notified_and_cancel(),
            TransitionToNotified::Submit
        );
        assert_eq!(st.transition_to_running(), TransitionToRunning::Cancel);
    }

    #[test]
    fn abort_during_poll_cancels_when_the_poll_returns() {
        let st = State::new();
        assert_eq!(st.transition_to_running(), TransitionToRunning::Poll);
        assert_eq!(
            st.transition_to_notified_and_cancel(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(st.transition_to_idle(false), TransitionToIdle::Cancelled);
        assert!(st.load().is_running(), "the poller keeps RUNNING to cancel");
    }

    #[test]
    fn join_waker_set_after_completion_reports_complete() {
        let st = State::new();
        assert_eq!(st.transition_to_running(), TransitionToRunning::Poll);
        st.transition_to_complete();
        assert!(st.set_join_waker().is_complete());
        let prev = st.unset_join_interest();
        assert!(prev.is_complete() && prev.has_join_interest());
        assert!(!st.load().has_join_interest());
    }

    #[test]
    fn last_reference_is_reported_once() {
        let st = State::new();
        assert!(!st.ref_dec());
        assert!(!st.ref_dec());
        assert!(st.ref_dec());
    }
}
