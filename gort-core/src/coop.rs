//! The cooperative budget: Go's preemption, reinterpreted for futures.
//!
//! Go preempts a goroutine that has run for more than 10 ms (sysmon sends a
//! signal, the goroutine stops at the next safe point). A future cannot be
//! stopped from outside, so gort does what tokio does: every poll of a task
//! starts with a budget of [`BUDGET`] units, and every leaf future of gort
//! (channels, timers, sockets, mutexes) charges one unit with
//! [`poll_proceed`] before it does any work. When the budget is spent, the leaf
//! future returns `Pending` and wakes its task at once, so the task goes back
//! to its run queue and the P runs someone else. A task that loops on an
//! always-ready channel or socket therefore cannot monopolise its P.
//!
//! Outside a gort task (a plain thread, another executor) there is no budget
//! and every call proceeds.
//!
//! Other crates (gort-time, gort-net, gort-sync, user leaf futures) use the
//! public functions here; the scheduler sets the budget around each poll.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Units a task may spend in one poll before its leaf futures yield.
///
/// 128 is tokio's figure: large enough that a busy task does a meaningful
/// amount of work per poll (the cost of a re-queue is paid once per 128
/// operations), small enough that a P switches tasks within tens of
/// microseconds under load.
pub const BUDGET: u8 = 128;

thread_local! {
    /// `None` when not inside a budgeted poll: unconstrained.
    static CURRENT: Cell<Option<u8>> = const { Cell::new(None) };
    /// How many times a leaf future returned `Pending` because the budget ran out.
    static FORCED_YIELDS: Cell<u64> = const { Cell::new(0) };
}

/// Runs `f` with a fresh budget, restoring the previous one afterwards.
///
/// The scheduler calls this around every task poll.
pub(crate) fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(Option<u8>);
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let prev = CURRENT.with(|c| c.replace(Some(BUDGET)));
    let _reset = Reset(prev);
    f()
}

/// Runs `f` with no budget at all (e.g. `block_on` on a plain thread).
pub fn unconstrained<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(Option<u8>);
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let prev = CURRENT.with(|c| c.replace(None));
    let _reset = Reset(prev);
    f()
}

/// Charges one unit of the current task's budget.
///
/// Returns `Poll::Pending` (after waking the task, so it is re-queued) when
/// the budget is spent; otherwise `Poll::Ready` with a guard. If the leaf
/// future then turns out not to be ready after all, dropping the guard gives
/// the unit back, unless [`RestoreOnPending::made_progress`] was called.
///
/// # Examples
///
/// A leaf future that charges the budget before doing its work:
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
///
/// struct AlwaysReady;
///
/// impl Future for AlwaysReady {
///     type Output = u32;
///     fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
///         let coop = std::task::ready!(gort_core::coop::poll_proceed(cx));
///         coop.made_progress();
///         Poll::Ready(7)
///     }
/// }
/// ```
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<RestoreOnPending> {
    CURRENT.with(|c| match c.get() {
        None => Poll::Ready(RestoreOnPending(None)),
        Some(0) => {
            FORCED_YIELDS.with(|f| f.set(f.get() + 1));
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(n) => {
            c.set(Some(n - 1));
            Poll::Ready(RestoreOnPending(Some(n)))
        }
    })
}

/// Whether the current poll still has budget (always true outside a task).
pub fn has_budget_remaining() -> bool {
    CURRENT.with(|c| c.get() != Some(0))
}

/// Takes the number of budget-forced yields counted on this thread since the
/// last call (the scheduler folds it into its metrics).
pub(crate) fn take_forced_yields() -> u64 {
    FORCED_YIELDS.with(|f| f.replace(0))
}

/// Gives a budget unit back on drop unless progress was made.
///
/// Returned by [`poll_proceed`].
#[must_use = "dropping the guard gives the unit back; call made_progress() once the operation succeeded"]
pub struct RestoreOnPending(Option<u8>);

impl RestoreOnPending {
    /// Marks the unit as spent: the operation did its work.
    pub fn made_progress(mut self) {
        self.0 = None;
    }
}

impl Drop for RestoreOnPending {
    fn drop(&mut self) {
        if let Some(n) = self.0 {
            CURRENT.with(|c| {
                if c.get().is_some() {
                    c.set(Some(n));
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn budget_runs_out_after_budget_units_then_yields() {
        let mut cx = Context::from_waker(Waker::noop());
        with_budget(|| {
            for _ in 0..BUDGET {
                match poll_proceed(&mut cx) {
                    Poll::Ready(g) => g.made_progress(),
                    Poll::Pending => panic!("budget ran out early"),
                }
            }
            assert!(!has_budget_remaining());
            assert!(poll_proceed(&mut cx).is_pending());
        });
        assert!(has_budget_remaining(), "outside a poll there is no budget");
        assert_eq!(take_forced_yields(), 1);
    }

    #[test]
    fn unit_is_given_back_without_progress() {
        let mut cx = Context::from_waker(Waker::noop());
        with_budget(|| {
            for _ in 0..(BUDGET as usize * 3) {
                let g = match poll_proceed(&mut cx) {
                    Poll::Ready(g) => g,
                    Poll::Pending => panic!("unit was not given back"),
                };
                drop(g);
            }
        });
    }
}
