//! The select token: Go's `g.selectDone`, made a per-select object.
//!
//! A `select!` that blocks registers one waiter on every channel case. All
//! of them point at one [`SelectToken`]. Whoever wants to complete one of
//! those waiters — a sender handing a value to a waiting receive case, a
//! receiver taking the value of a waiting send case, `close`, or the select
//! itself committing a case it found ready — must first *win* the token by
//! moving it from [`WAITING`] to the index of the case. Exactly one party
//! wins, so exactly one case commits; the others see the token decided and
//! skip (and unlink) the select's remaining waiters, as Go's
//! `waitq.dequeue` does after its `selectDone` CAS fails.
//!
//! ## States (one `AtomicUsize`)
//! - [`WAITING`]: no case has committed. Set at creation; cleared only by a
//!   win, or by the reset at the end of a failed pair claim.
//! - [`BUSY`]: a pair claim holds the token for an instant (see below). It
//!   can only be observed briefly; whoever sees it spins.
//! - `i < BUSY`: case `i` has committed. Final.
//!
//! ## Departure from Go: pair claims
//! Go's `selectgo` locks *all* its channels while it looks for a ready case,
//! so it never has to claim its own `selectDone`: nobody can see its
//! waiters yet. gort's select polls channels one at a time (their element
//! types differ, and holding many locks across a poll is what futures are
//! meant to avoid), so when it finds a ready case its earlier waiters may
//! already be registered; it must win its own token. If the counterpart is
//! itself a blocked select, two tokens must be won together. [`try_win_pair`]
//! does that by claiming the token at the lower address (creation order
//! under loom, which needs reproducible executions) to `BUSY`, then the
//! other directly, then resolving the first — the address order means no
//! two pair claims wait on each other in a cycle, and a `BUSY` holder
//! never takes a lock or waits on a lower token, so every spin is short.

use crate::primitives::{spin, Arc, AtomicUsize, Ordering};

/// No case has committed yet.
pub(crate) const WAITING: usize = usize::MAX;
/// A pair claim holds this token between its two CASes.
pub(crate) const BUSY: usize = usize::MAX - 1;

/// The shared "select done" word of one `select!`.
#[derive(Debug)]
pub struct SelectToken {
    state: AtomicUsize,
    /// Creation order, used instead of the address to order pair claims
    /// under loom, which needs every execution of a model to be
    /// reproducible (allocation addresses are not).
    #[cfg(loom)]
    id: u64,
}

/// A waiter's reference to the select it belongs to: the token and which
/// case of that select the waiter is.
#[derive(Debug, Clone)]
pub(crate) struct SelectRef {
    pub(crate) token: Arc<SelectToken>,
    pub(crate) case: usize,
}

/// Outcome of claiming a counterpart waiter.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Every token involved was won: the operation may complete.
    Won,
    /// The claimer's own select already committed another case.
    MeLost,
    /// The counterpart's select already committed another case: skip it.
    PeerLost,
}

impl SelectToken {
    pub(crate) fn new() -> Self {
        #[cfg(loom)]
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        SelectToken {
            state: AtomicUsize::new(WAITING),
            #[cfg(loom)]
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// The key pair claims are ordered by: the address (stable while the
    /// token lives), or the creation order under loom.
    fn order_key(&self) -> usize {
        #[cfg(loom)]
        return self.id as usize;
        #[cfg(not(loom))]
        return std::ptr::from_ref(self) as usize;
    }

    /// The committed case, or `None` while no case has committed. Waits out
    /// a `BUSY` window.
    pub(crate) fn decided(&self) -> Option<usize> {
        loop {
            match self.state.load(Ordering::Acquire) {
                WAITING => return None,
                BUSY => spin(),
                case => return Some(case),
            }
        }
    }

    /// Commits `case` if no case has committed yet.
    pub(crate) fn try_win(&self, case: usize) -> bool {
        debug_assert!(case < BUSY);
        loop {
            match self
                .state
                .compare_exchange(WAITING, case, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(BUSY) => spin(),
                Err(_) => return false,
            }
        }
    }

    /// Moves `WAITING` to `BUSY`; false if the token is decided.
    fn try_hold(&self) -> bool {
        loop {
            match self
                .state
                .compare_exchange(WAITING, BUSY, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(BUSY) => spin(),
                Err(_) => return false,
            }
        }
    }
}

impl SelectRef {
    /// Commits this waiter's case.
    pub(crate) fn try_win(&self) -> bool {
        self.token.try_win(self.case)
    }
}

/// Commits `me`'s case and `peer`'s case together, or neither.
///
/// The two tokens must differ (a select never matches its own waiter).
pub(crate) fn try_win_pair(
    me: &SelectToken,
    me_case: usize,
    peer: &SelectToken,
    peer_case: usize,
) -> Claim {
    debug_assert!(!std::ptr::eq(me, peer));
    let me_first = me.order_key() < peer.order_key();
    let ((first, first_case), (second, second_case)) = if me_first {
        ((me, me_case), (peer, peer_case))
    } else {
        ((peer, peer_case), (me, me_case))
    };
    let lost = |first_lost: bool| {
        if first_lost == me_first {
            Claim::MeLost
        } else {
            Claim::PeerLost
        }
    };
    if !first.try_hold() {
        return lost(true);
    }
    if second.try_win(second_case) {
        first.state.store(first_case, Ordering::Release);
        Claim::Won
    } else {
        first.state.store(WAITING, Ordering::Release);
        lost(false)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_claim_wins() {
        let t = SelectToken::new();
        assert_eq!(t.decided(), None);
        assert!(t.try_win(3));
        assert!(!t.try_win(1));
        assert_eq!(t.decided(), Some(3));
    }

    #[test]
    fn pair_claim_wins_both_or_neither_and_names_the_loser() {
        let (a, b, c) = (SelectToken::new(), SelectToken::new(), SelectToken::new());
        assert_eq!(try_win_pair(&a, 0, &b, 1), Claim::Won);
        assert_eq!((a.decided(), b.decided()), (Some(0), Some(1)));
        assert_eq!(try_win_pair(&c, 2, &a, 5), Claim::PeerLost);
        assert_eq!(
            c.decided(),
            None,
            "a failed pair claim leaves the winner untouched"
        );
        assert_eq!(try_win_pair(&b, 0, &c, 2), Claim::MeLost);
        assert_eq!(c.decided(), None);
    }
}
