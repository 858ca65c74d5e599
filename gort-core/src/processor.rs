//! P, the processor (Go's `p`): the right to run tasks, with its own run
//! queue.
//!
//! There are `GOMAXPROCS` Ps. An M (worker thread) must own a P to run
//! tasks. A P owns a 256-slot local run queue (`queue.rs`), the `runnext`
//! slot, the `yield_now` list and its counters. Other Ps steal from its
//! queue through the shared [`Steal`] handle and its `runnext` atomically.
//!
//! Ownership is the `status` word: `owner M id << 8 | state`.
//! - `IDLE`: on the idle list, nobody owns it (Go's `_Pidle`);
//! - `RUNNING`: the owner M is in scheduler code and may touch the owner-only
//!   fields (Go's `_Prunning`);
//! - `POLLING`: the owner M is inside a task's poll. The monitor may retake
//!   the P with a CAS from `POLLING`, exactly as Go's sysmon retakes a P in
//!   `_Psyscall`: a future cannot be preempted, but the P (and the tasks
//!   queued on it) can be handed to another M. The polling M itself uses its
//!   P during the poll (spawn, wakes into `runnext`) by CAS'ing back to
//!   `RUNNING` for the duration of the access ([`P::acquire_in_poll`]).
//!
//! The owner id in the word makes those CASes immune to ABA: an M whose P
//! was retaken cannot mistake the next owner's `POLLING` for its own.
//!
//! `runnext` (Go's `pp.runnext`): a task readied by the running task (spawned
//! or woken) runs next, ahead of the local queue, inheriting the time slice:
//! it does not advance `schedtick`. Go ends such a chain when the slice is
//! 10 ms old (sysmon preempts it); gort ends it by count,
//! [`RUNNEXT_STREAK_MAX`] runnext tasks in a row. When the chain ends, the
//! task waiting in `runnext` goes to the tail of the local queue (behind
//! the yielded tasks whose turn has come), and the next task comes from the
//! head with a slice of its own — so `schedtick` advances at least once
//! every `RUNNEXT_STREAK_MAX + 1` polls and the 61st-tick check of the
//! global queue happens even while two tasks wake each other forever.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::ptr::{self, NonNull};
use std::sync::atomic::{
    AtomicPtr, AtomicU64, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

use crate::inject::Inject;
use crate::queue::{self, Local, Steal};
use crate::task::raw::Header;
use crate::task::Notified;

/// On the idle list, unowned.
pub(crate) const P_IDLE: u64 = 0;
/// Owned by an M that is in scheduler code.
pub(crate) const P_RUNNING: u64 = 1;
/// Owned by an M that is inside a task poll; retakable.
pub(crate) const P_POLLING: u64 = 2;
const STATE_MASK: u64 = 0xff;

/// The owner id the monitor uses while it holds a retaken P.
pub(crate) const MONITOR_ID: u64 = 0;

/// How many tasks in a row may be taken from `runnext` (inheriting one time
/// slice) before the slice ends and the local queue's head gets a turn. Go
/// lets a runnext chain run for one 10 ms time slice; counting instead of
/// timing keeps the scheduler free of clock reads. 3 is tokio's figure for
/// its LIFO slot: a request/response pair keeps its cache-hot hand-off, a
/// task in the local queue waits at most three hand-offs, and one in the
/// global queue at most 61 slices of `RUNNEXT_STREAK_MAX + 1` polls.
pub(crate) const RUNNEXT_STREAK_MAX: u32 = 3;

/// Owner-only state: touched by the M that owns the P (status `RUNNING`).
pub(crate) struct Owned {
    pub(crate) local: Local<Notified>,
    /// Tasks taken from `runnext` in a row.
    runnext_streak: u32,
    /// Tasks that called `yield_now`, with the global queue's push count at
    /// the time: each may run again once the local queue is empty and
    /// everything that was in the global queue then has been taken.
    yielded: VecDeque<(u64, Notified)>,
}

// Aligned to 128 bytes: the owner writes `status`, `schedtick`, `poll_seq`
// and `queue_len` on every poll, and the Ps sit next to each other in one
// slice; without padding, neighbouring Ps would share cache lines.
#[repr(align(128))]
pub(crate) struct P {
    status: AtomicU64,
    runnext: AtomicPtr<Header>,
    pub(crate) steal: Steal<Notified>,
    owned: UnsafeCell<Owned>,
    /// Go's `schedtick`: tasks run that did not inherit a time slice.
    /// Written by the owner only.
    pub(crate) schedtick: AtomicU64,
    /// Every poll, runnext included; the monitor watches it to find a poll
    /// that holds the P too long. Written by the owner only.
    pub(crate) poll_seq: AtomicU64,
    /// Size of the local queue plus runnext, refreshed by the owner after
    /// each change so readers (schedtrace, metrics) need no owner access.
    pub(crate) queue_len: AtomicUsize,
    /// Times the monitor retook this P from a poll that ran too long.
    pub(crate) handoffs: AtomicU64,
    /// Event counters written by the owner only.
    pub(crate) counters: crate::metrics::Counters,
}

// SAFETY: `owned` is only accessed by the M that owns the P according to
// `status` (see the module doc); everything else is atomic.
unsafe impl Sync for P {}
// SAFETY: as above.
unsafe impl Send for P {}

impl P {
    pub(crate) fn new() -> P {
        let (steal, local) = queue::local();
        P {
            status: AtomicU64::new(P_IDLE),
            runnext: AtomicPtr::new(ptr::null_mut()),
            steal,
            owned: UnsafeCell::new(Owned {
                local,
                runnext_streak: 0,
                yielded: VecDeque::new(),
            }),
            schedtick: AtomicU64::new(0),
            poll_seq: AtomicU64::new(0),
            queue_len: AtomicUsize::new(0),
            handoffs: AtomicU64::new(0),
            counters: crate::metrics::Counters::default(),
        }
    }

    pub(crate) fn status(&self) -> (u64, u64) {
        let s = self.status.load(Acquire);
        (s >> 8, s & STATE_MASK)
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.status.load(Acquire) & STATE_MASK == P_IDLE
    }

    /// Marks the P owned by M `m` (from the idle list or a hand-off).
    pub(crate) fn set_owner(&self, m: u64) {
        self.status.store(m << 8 | P_RUNNING, Release);
    }

    pub(crate) fn set_idle(&self) {
        self.status.store(P_IDLE, Release);
    }

    /// The owner is about to poll a task.
    pub(crate) fn enter_poll(&self, m: u64) {
        self.status.store(m << 8 | P_POLLING, Release);
    }

    /// The owner's poll returned, or it wants its P during the poll. Fails
    /// if the monitor retook the P meanwhile.
    pub(crate) fn acquire_in_poll(&self, m: u64) -> bool {
        self.status
            .compare_exchange(m << 8 | P_POLLING, m << 8 | P_RUNNING, Acquire, Relaxed)
            .is_ok()
    }

    /// The monitor takes a P whose owner `m` is stuck in a poll.
    pub(crate) fn retake(&self, m: u64) -> bool {
        self.status
            .compare_exchange(
                m << 8 | P_POLLING,
                MONITOR_ID << 8 | P_RUNNING,
                AcqRel,
                Relaxed,
            )
            .is_ok()
    }

    /// Owner-only state.
    ///
    /// # Safety
    /// The caller owns the P (status `RUNNING` with its id) and holds no
    /// other reference obtained from this method.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn owned(&self) -> &mut Owned {
        // SAFETY: per the caller, ownership of the P serialises access.
        unsafe { &mut *self.owned.get() }
    }

    /// Whether the P has any queued task (readable by anyone).
    pub(crate) fn has_work(&self) -> bool {
        !self.steal.is_empty() || !self.runnext.load(Acquire).is_null()
    }

    fn update_len(&self, o: &Owned) {
        let rn = usize::from(!self.runnext.load(Relaxed).is_null());
        self.queue_len
            .store(o.local.len() + rn + o.yielded.len(), Relaxed);
    }

    /// runqput: `next` puts the task in `runnext`, kicking the previous
    /// occupant to the tail. Returns true if the local queue overflowed
    /// into the global queue.
    ///
    /// # Safety
    /// The caller owns the P.
    pub(crate) unsafe fn runq_put(&self, task: Notified, next: bool, inject: &Inject) -> bool {
        // SAFETY: the caller owns the P.
        let o = unsafe { self.owned() };
        let mut task = task;
        if next {
            let new = <Notified as queue::Item>::into_raw(task)
                .cast::<Header>()
                .as_ptr();
            let old = self.runnext.swap(new, AcqRel);
            match NonNull::new(old) {
                None => {
                    self.update_len(o);
                    return false;
                }
                // SAFETY: a non-null runnext owns one reference, now ours.
                Some(old) => task = unsafe { <Notified as queue::Item>::from_raw(old.cast()) },
            }
        }
        let overflowed = o.local.push_back_or_overflow(task, inject);
        self.update_len(o);
        overflowed
    }

    /// runqget: the next task to run and whether it inherits the time
    /// slice (came from `runnext`). After [`RUNNEXT_STREAK_MAX`] inherited
    /// runs the slice is over, even when the local queue is empty: the
    /// `runnext` task goes to the tail, after the yielded tasks whose turn
    /// has come, and the head runs on a slice of its own.
    ///
    /// # Safety
    /// The caller owns the P.
    pub(crate) unsafe fn runq_get(&self, inject: &Inject) -> Option<(Notified, bool)> {
        // SAFETY: the caller owns the P.
        let o = unsafe { self.owned() };
        if o.runnext_streak < RUNNEXT_STREAK_MAX {
            if let Some(t) = self.take_runnext() {
                o.runnext_streak += 1;
                self.update_len(o);
                return Some((t, true));
            }
        } else if let Some(t) = self.take_runnext() {
            o.runnext_streak = 0;
            release_yielded_into(o, inject, false);
            if o.local.is_empty() {
                // It would be the head: it runs now, on a new slice.
                self.update_len(o);
                return Some((t, false));
            }
            if o.local.push_back_or_overflow(t, inject) {
                self.counters.add_owned(crate::metrics::Event::Overflows, 1);
            }
        }
        o.runnext_streak = 0;
        let t = o.local.pop();
        self.update_len(o);
        t.map(|t| (t, false))
    }

    /// Whether `runnext` holds a task.
    pub(crate) fn has_runnext(&self) -> bool {
        !self.runnext.load(Acquire).is_null()
    }

    /// Free slots in the local queue.
    ///
    /// # Safety
    /// The caller owns the P.
    pub(crate) unsafe fn free_slots(&self) -> usize {
        // SAFETY: the caller owns the P.
        unsafe { self.owned() }.local.remaining_slots()
    }

    /// Takes `runnext` (owner, or a thief on the last stealing round).
    pub(crate) fn take_runnext(&self) -> Option<Notified> {
        if self.runnext.load(Relaxed).is_null() {
            return None;
        }
        let p = self.runnext.swap(ptr::null_mut(), AcqRel);
        // SAFETY: a non-null runnext owns one reference, now ours.
        NonNull::new(p).map(|p| unsafe { <Notified as queue::Item>::from_raw(p.cast()) })
    }

    /// Parks a task that called `yield_now` until the others had a turn.
    ///
    /// # Safety
    /// The caller owns the P.
    pub(crate) unsafe fn push_yielded(&self, task: Notified, inject: &Inject) {
        // SAFETY: the caller owns the P.
        let o = unsafe { self.owned() };
        o.yielded.push_back((inject.pushed(), task));
        self.update_len(o);
    }

    /// Moves yielded tasks whose turn has come into the local queue (call
    /// when the local queue is empty). Returns how many moved.
    ///
    /// # Safety
    /// The caller owns the P.
    pub(crate) unsafe fn release_yielded(&self, inject: &Inject, force: bool) -> usize {
        // SAFETY: the caller owns the P.
        let o = unsafe { self.owned() };
        let moved = release_yielded_into(o, inject, force);
        self.update_len(o);
        moved
    }

    /// Whether tasks are waiting in the yield list.
    ///
    /// # Safety
    /// The caller owns the P.
    pub(crate) unsafe fn has_yielded(&self) -> bool {
        // SAFETY: the caller owns the P.
        !unsafe { self.owned() }.yielded.is_empty()
    }

    /// Puts a batch taken from the global queue into the local queue.
    ///
    /// # Safety
    /// The caller owns the P, and the batch fits ([`P::free_slots`]).
    pub(crate) unsafe fn push_batch(&self, batch: Vec<Notified>) {
        // SAFETY: the caller owns the P.
        let o = unsafe { self.owned() };
        o.local.push_back_batch(batch.into_iter());
        self.update_len(o);
    }

    /// Steals half of this P's queue into `thief`'s local queue and returns
    /// one task to run.
    ///
    /// # Safety
    /// The caller owns `thief`, which is not `self`.
    pub(crate) unsafe fn steal_into(&self, thief: &P) -> Option<Notified> {
        // SAFETY: the caller owns `thief`.
        let o = unsafe { thief.owned() };
        let before = o.local.len();
        let t = self.steal.steal_into(&mut o.local);
        if t.is_some() {
            let moved = (o.local.len() - before) as u64 + 1;
            thief.counters.add_owned(crate::metrics::Event::Steals, 1);
            thief
                .counters
                .add_owned(crate::metrics::Event::Stolen, moved);
        }
        thief.update_len(o);
        t
    }

    /// Empties every queue of the P (shutdown, or a P removed by
    /// `set_gomaxprocs`).
    ///
    /// # Safety
    /// The caller owns the P: it is its M, or it took the P off the idle
    /// list or retook it from a poll (status `RUNNING` with its id).
    pub(crate) unsafe fn drain(&self) -> Vec<Notified> {
        let (owner, state) = self.status();
        debug_assert_ne!(
            state, P_POLLING,
            "P drained while M {owner} polls a task on it"
        );
        let mut out = Vec::new();
        out.extend(self.take_runnext());
        // SAFETY: per the caller.
        let o = unsafe { self.owned() };
        while let Some(t) = o.local.pop() {
            out.push(t);
        }
        out.extend(o.yielded.drain(..).map(|(_, t)| t));
        self.update_len(o);
        out
    }
}

/// Moves the yielded tasks whose turn has come (all of them if `force`)
/// to the tail of the local queue; returns how many moved.
fn release_yielded_into(o: &mut Owned, inject: &Inject, force: bool) -> usize {
    let popped = inject.popped();
    let mut moved = 0;
    while let Some((mark, _)) = o.yielded.front() {
        if !force && *mark > popped && !inject.is_empty() {
            break;
        }
        let (_, t) = o.yielded.pop_front().expect("front exists");
        o.local.push_back_or_overflow(t, inject);
        moved += 1;
    }
    moved
}

impl Drop for P {
    fn drop(&mut self) {
        // A runnext left at drop (runtime torn down) still owns a reference.
        drop(self.take_runnext());
    }
}
