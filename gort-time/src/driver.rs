//! The time driver: one 4-ary timer heap per P (Go's `pp.timers`,
//! `addtimer`, `deltimer`, `modtimer`, `checkTimers`, `runtimer`).
//!
//! - A timer armed from a task goes on the heap of the P that runs the
//!   task; armed from a thread that holds no P (the `block_on` thread, a
//!   blocking-pool thread) it goes on the Ps in turn (round robin), so no
//!   single heap's lock becomes the one every outside thread meets.
//! - The M that owns a P runs its expired timers in its schedule loop
//!   (`run_expired`, Go's checkTimers); an M looking for work runs other
//!   Ps' expired timers on its last stealing round, so a P whose M is stuck
//!   in a long poll does not delay its timers beyond the monitor's hand-off;
//!   the idle M blocks in the driver until the earliest deadline over all
//!   heaps (gort-core's `Timers` seam).
//! - Stopping or re-arming a timer does not search the heap: the timer's
//!   generation moves on, and its old entry becomes stale (Go's
//!   `timerDeleted`). Stale entries are dropped when they reach the top,
//!   and a heap rebuilds itself without them once they are more than half
//!   of it (Go's `clearDeletedTimers`), so create-and-cancel streams keep
//!   memory bounded. The stale count is exact: an entry is counted by
//!   whoever makes it stale while holding the timer's lock (as Go's
//!   `deltimer` counts while the timer is `timerModifying`), so whoever
//!   pops it finds it counted.
//! - Adding a timer that becomes its heap's earliest calls
//!   `wake_netpoller`, so an M blocked in the driver with a later timeout
//!   wakes up for it.
//!
//! Lock order: a heap's lock, then a timer's lock. Arming and stopping take
//! them one after the other, never nested.
//!
//! The heap side of arming (`arm_on`) and firing (`fire_expired`) needs no
//! runtime, so the loom models at the end of this file run the real stop,
//! reset and fire code against each other (`scripts/loom-net-time.sh`).

use std::sync::Arc;
use std::task::Waker;
use std::time::Instant as StdInstant;

use gort_core::driver::Timers;
use gort_core::runtime::Handle;
#[cfg(not(loom))]
use gort_core::runtime::MAX_PROCS;

use crate::clock::Clock;
use crate::heap::Heap;
use crate::loom::sync::atomic::{
    AtomicU64, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use crate::loom::sync::{Mutex, MutexGuard};

/// Stale entries tolerated before a heap rebuilds itself: at least this
/// many, and more than half the heap.
const CLEAN_MIN_STALE: usize = 64;

/// Heaps a driver allocates: one for every P the runtime may ever have.
/// Under loom, two: the models use one or two Ps, and every heap is a
/// lock and three atomics that loom tracks.
#[cfg(not(loom))]
const HEAPS: usize = MAX_PROCS;
#[cfg(loom)]
const HEAPS: usize = 2;

/// What firing a timer does.
pub(crate) enum Action {
    /// Wake the waker stored by the last poll (Sleep, Timer).
    Wake,
    /// Spawn a task that calls this function (after_func).
    Func(Arc<dyn Fn() + Send + Sync>),
}

struct TimerState {
    /// Bumped on every arm and stop; a heap entry with another generation
    /// is stale.
    gen: u64,
    /// An entry with the current generation is in heap `p`.
    armed: bool,
    /// Fired and not yet observed by a poll.
    fired: bool,
    p: usize,
    waker: Option<Waker>,
}

/// One timer, shared by its future and its heap entry.
pub(crate) struct TimerShared {
    state: Mutex<TimerState>,
    pub(crate) action: Action,
}

impl TimerShared {
    pub(crate) fn new(action: Action) -> Arc<TimerShared> {
        Arc::new(TimerShared {
            state: Mutex::new(TimerState {
                gen: 0,
                armed: false,
                fired: false,
                p: 0,
                waker: None,
            }),
            action,
        })
    }

    fn lock(&self) -> MutexGuard<'_, TimerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the timer fired since it was last armed (no waker stored).
    pub(crate) fn has_fired(&self) -> bool {
        self.lock().fired
    }

    /// Whether the timer fired since it was last armed; clears the flag
    /// if `consume`. Otherwise stores `waker` for the fire.
    pub(crate) fn poll_fired(&self, waker: &Waker, consume: bool) -> bool {
        let mut s = self.lock();
        if s.fired {
            if consume {
                s.fired = false;
            }
            return true;
        }
        match &s.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => s.waker = Some(waker.clone()),
        }
        false
    }
}

#[repr(align(128))]
struct PHeap {
    heap: Mutex<Heap<(Arc<TimerShared>, u64)>>,
    /// Earliest deadline in the heap (ns), 0 when empty: Go's `timer0When`,
    /// read without the lock by the schedule loop.
    next_when: AtomicU64,
    /// Entries, stale ones included.
    len: AtomicUsize,
    /// Entries known to be stale.
    stale: AtomicUsize,
}

impl PHeap {
    fn new() -> PHeap {
        PHeap {
            heap: Mutex::new(Heap::new()),
            next_when: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            stale: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Heap<(Arc<TimerShared>, u64)>> {
        self.heap.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, h: &Heap<(Arc<TimerShared>, u64)>) {
        self.next_when.store(h.peek_when().unwrap_or(0), Release);
        self.len.store(h.len(), Release);
    }

    /// Drops stale entries if they are all of the heap, or over half of a
    /// heap with at least `CLEAN_MIN_STALE` of them (lock held).
    fn maybe_clean(&self, h: &mut Heap<(Arc<TimerShared>, u64)>) {
        let live = |(t, gen): &(Arc<TimerShared>, u64)| {
            let s = t.lock();
            s.armed && s.gen == *gen
        };
        let stale = self.stale.load(Acquire);
        if stale == 0 {
            return;
        }
        let before = h.len();
        if stale >= before {
            // Likely all stale (a create-and-cancel stream): drop stale
            // entries from the top, which costs only what it removes.
            while h.peek_value().is_some_and(|v| !live(v)) {
                h.pop();
            }
        } else if stale >= CLEAN_MIN_STALE && stale * 2 >= before {
            h.retain(|v| live(v));
        }
        let removed = before - h.len();
        if removed > 0 {
            h.shrink_if_sparse();
            // Subtract what went rather than storing zero: a stop running
            // concurrently (it counts without the heap lock) is not lost.
            let _ = self
                .stale
                .fetch_update(AcqRel, Acquire, |n| Some(n.saturating_sub(removed)));
        }
    }
}

/// gort-time's implementation of gort-core's [`Timers`] seam, installed by
/// `gort::runtime::Builder`.
pub struct TimeDriver {
    pub(crate) clock: Clock,
    heaps: Box<[PHeap]>,
    nprocs: AtomicUsize,
    round_robin: AtomicUsize,
}

impl TimeDriver {
    /// A driver whose clock starts running, or paused (tests).
    pub fn new(start_paused: bool) -> Arc<TimeDriver> {
        Arc::new(TimeDriver {
            clock: Clock::new(start_paused),
            // Heaps for every P the runtime may ever have, so `resize` needs
            // no reallocation under concurrent use; 128 bytes each when empty.
            heaps: (0..HEAPS).map(|_| PHeap::new()).collect(),
            nprocs: AtomicUsize::new(1),
            round_robin: AtomicUsize::new(0),
        })
    }

    fn nprocs(&self) -> usize {
        self.nprocs.load(Relaxed).clamp(1, self.heaps.len())
    }

    /// Arms `timer` to fire at clock reading `when`, on the current P or
    /// the next P in turn. Any earlier arming is superseded. Returns
    /// whether it was armed before (Go's `Reset` result).
    pub(crate) fn arm(&self, handle: &Handle, timer: &Arc<TimerShared>, when: u64) -> bool {
        self.arm_with_waker(handle, timer, when, None)
    }

    /// [`arm`](Self::arm), storing `waker` for the fire in the same
    /// critical section (a first poll: one lock of the timer, not two).
    pub(crate) fn arm_with_waker(
        &self,
        handle: &Handle,
        timer: &Arc<TimerShared>,
        when: u64,
        waker: Option<&Waker>,
    ) -> bool {
        let p = handle
            .current_proc()
            .unwrap_or_else(|| self.round_robin.fetch_add(1, Relaxed) % self.nprocs());
        let (was_armed, earliest) = self.arm_on(p, timer, when, waker);
        if earliest {
            match self.clock.real_deadline(when) {
                Some(real) => handle.wake_netpoller(real),
                // Paused: make sure some M is idle in the driver to advance
                // the clock once everything else has stopped.
                None => handle.wake_netpoller(StdInstant::now()),
            }
        }
        was_armed
    }

    /// The heap side of [`arm_with_waker`](Self::arm_with_waker), on P
    /// `p`'s heap. Returns whether the timer was armed before, and whether
    /// it is now its heap's earliest (the caller then wakes the netpoller).
    fn arm_on(
        &self,
        p: usize,
        timer: &Arc<TimerShared>,
        when: u64,
        waker: Option<&Waker>,
    ) -> (bool, bool) {
        let (gen, was_armed) = {
            let mut s = timer.lock();
            let was_armed = s.armed;
            if was_armed {
                self.heaps[s.p].stale.fetch_add(1, AcqRel);
            }
            s.gen += 1;
            s.armed = true;
            s.fired = false;
            s.p = p;
            if let Some(w) = waker {
                match &s.waker {
                    Some(old) if old.will_wake(w) => {}
                    _ => s.waker = Some(w.clone()),
                }
            }
            (s.gen, was_armed)
        };
        let ph = &self.heaps[p];
        let earliest = {
            let mut h = ph.lock();
            let before = h.peek_when();
            h.push(when, (timer.clone(), gen));
            ph.maybe_clean(&mut h);
            ph.publish(&h);
            before.is_none_or(|b| when < b)
        };
        (was_armed, earliest)
    }

    /// Stops `timer`. Returns whether it was armed (so this call stopped it).
    pub(crate) fn stop(&self, timer: &TimerShared) -> bool {
        let mut s = timer.lock();
        s.fired = false;
        if !s.armed {
            return false;
        }
        s.armed = false;
        let old_gen = s.gen;
        s.gen += 1;
        let ph = &self.heaps[s.p];
        // Counted before the timer lock goes, as `arm` counts a superseded
        // entry: whoever pops the entry and finds it stale (which takes this
        // lock) finds it counted, so the count never runs below the stale
        // entries it stands for and never gains one for an entry that is gone.
        let stale = ph.stale.fetch_add(1, AcqRel) + 1;
        let waker = s.waker.take();
        drop(s);
        drop(waker);
        // The common create-and-cancel case: this timer's entry is all its
        // heap holds. Take it out now, under the heap's lock alone, rather
        // than cleaning (which locks the timer again).
        if ph.len.load(Acquire) == 1 {
            let mut h = ph.lock();
            let ours = h.len() == 1
                && h.peek_value()
                    .is_some_and(|(t, g)| std::ptr::eq(&**t, timer) && *g == old_gen);
            if ours {
                let entry = h.pop();
                ph.stale.fetch_sub(1, AcqRel);
                ph.publish(&h);
                drop(h);
                drop(entry);
                return true;
            }
        }
        // Everything in the heap is stale, or over half of a big heap:
        // rebuild now rather than when the entries reach the top.
        let len = ph.len.load(Acquire);
        if stale >= len || (stale >= CLEAN_MIN_STALE && stale * 2 >= len) {
            let mut h = ph.lock();
            ph.maybe_clean(&mut h);
            ph.publish(&h);
        }
        true
    }

    /// Pops every entry of heap `ph` that is due at clock reading `now`:
    /// a live one fires (its waker is woken), a stale one is dropped.
    /// Returns the fired `after_func` timers, for the caller to spawn.
    fn fire_expired(&self, ph: &PHeap, now: u64) -> Vec<Arc<TimerShared>> {
        let mut fired: Vec<Arc<TimerShared>> = Vec::new();
        let mut wakers: Vec<Waker> = Vec::new();
        {
            let mut h = ph.lock();
            while h.peek_when().is_some_and(|w| w <= now) {
                let e = h.pop().expect("peeked");
                let (timer, gen) = e.value;
                let mut s = timer.lock();
                if s.armed && s.gen == gen {
                    s.armed = false;
                    s.fired = true;
                    if let Some(w) = s.waker.take() {
                        wakers.push(w);
                    }
                    drop(s);
                    if matches!(timer.action, Action::Func(_)) {
                        fired.push(timer);
                    }
                } else {
                    drop(s);
                    let _ = ph.stale.fetch_update(AcqRel, Acquire, |n| n.checked_sub(1));
                }
            }
            ph.maybe_clean(&mut h);
            ph.publish(&h);
        }
        for w in wakers {
            w.wake();
        }
        fired
    }

    /// Runs every expired timer of every P (used by `advance`).
    pub(crate) fn fire_all_expired(&self) {
        for p in 0..self.nprocs() {
            self.run_expired(p);
        }
    }

    /// Number of entries (stale included) in every heap: a test hook.
    pub fn heap_sizes(&self) -> Vec<usize> {
        self.heaps[..self.nprocs()]
            .iter()
            .map(|h| h.len.load(Acquire))
            .collect()
    }

    /// The earliest deadline over all heaps (clock reading).
    fn earliest(&self) -> Option<u64> {
        self.heaps[..self.nprocs()]
            .iter()
            .map(|h| h.next_when.load(Acquire))
            .filter(|&w| w != 0)
            .min()
    }
}

/// Runs `f` with the time driver of the current runtime, if any.
pub(crate) fn with_current_driver<R>(f: impl FnOnce(Option<&TimeDriver>) -> R) -> R {
    Handle::with_current(|h| f(h.and_then(|h| h.timers_as::<TimeDriver>())))
}

impl Timers for TimeDriver {
    fn run_expired(&self, p: usize) -> Option<StdInstant> {
        let ph = self.heaps.get(p)?;
        let next = ph.next_when.load(Acquire);
        if next == 0 {
            return None;
        }
        let now = self.clock.now_ns();
        if next > now {
            return self.clock.real_deadline(next);
        }
        let fired = self.fire_expired(ph, now);
        if !fired.is_empty() {
            Handle::with_current(|h| {
                for t in fired {
                    if let (Some(h), Action::Func(f)) = (h, &t.action) {
                        let f = f.clone();
                        h.spawn(async move { f() });
                    }
                }
            });
        }
        let next = ph.next_when.load(Acquire);
        if next == 0 {
            None
        } else {
            self.clock.real_deadline(next)
        }
    }

    fn next_deadline(&self, p: usize) -> Option<StdInstant> {
        let next = self.heaps.get(p)?.next_when.load(Acquire);
        if next == 0 {
            None
        } else {
            self.clock.real_deadline(next)
        }
    }

    fn resize(&self, nprocs: usize) {
        let new = nprocs.clamp(1, self.heaps.len());
        let old = self.nprocs.swap(new, AcqRel);
        // Fewer Ps: the timers of the removed ones move to P0 (Go's
        // `moveTimers` in procresize).
        for p in new..old.max(new) {
            let moved: Vec<_> = {
                let ph = &self.heaps[p];
                let mut h = ph.lock();
                let mut v = Vec::with_capacity(h.len());
                while let Some(e) = h.pop() {
                    v.push(e);
                }
                ph.publish(&h);
                v
            };
            if moved.is_empty() {
                continue;
            }
            let p0 = &self.heaps[0];
            let mut h = p0.lock();
            for e in moved {
                let (timer, gen) = e.value;
                let mut s = timer.lock();
                if s.armed && s.gen == gen {
                    s.p = 0;
                    drop(s);
                    h.push(e.when, (timer, gen));
                } else {
                    // Uncount it here, under the timer's lock, rather than
                    // zeroing the count: a stop that read `p` before the
                    // move counts its entry on this heap, maybe after the
                    // heap was emptied.
                    drop(s);
                    let _ = self.heaps[p]
                        .stale
                        .fetch_update(AcqRel, Acquire, |n| n.checked_sub(1));
                }
            }
            p0.publish(&h);
        }
    }

    fn len(&self, p: usize) -> usize {
        self.heaps.get(p).map_or(0, |h| h.len.load(Acquire))
    }

    fn has_pending(&self) -> bool {
        // Stale entries count too: a false "pending" only delays a deadlock
        // report, a false "none" would report one wrongly.
        self.heaps.iter().any(|h| h.len.load(Acquire) > 0)
    }

    fn is_paused(&self) -> bool {
        self.clock.is_paused()
    }

    fn advance_idle(&self) -> bool {
        match self.earliest() {
            Some(when) => {
                self.clock.advance_to(when);
                true
            }
            None => false,
        }
    }

    fn shutdown(&self) {
        for ph in self.heaps.iter() {
            let mut h = ph.lock();
            while let Some(e) = h.pop() {
                let (timer, _) = e.value;
                let mut s = timer.lock();
                s.armed = false;
                s.waker = None;
            }
            ph.publish(&h);
        }
    }
}

/// Model-checked races of arm, stop and fire on one heap
/// (`scripts/loom-net-time.sh`), on a paused clock standing at 0 so that a
/// timer armed for 0 is due. Each model asserts Go's results (`Stop` is
/// true iff it prevented the fire, `Reset` true iff the timer was armed),
/// that a waker or `after_func` runs at most once and a parked poll is
/// never left unwoken, and that the heap's stale count matches the stale
/// entries it holds.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    use super::{Action, TimeDriver, TimerShared, Timers};
    use crate::loom::sync::atomic::Ordering::Acquire;
    use loom::thread;

    #[derive(Default)]
    struct CountWake(AtomicUsize);

    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn counting_waker() -> (Arc<CountWake>, Waker) {
        let c = Arc::new(CountWake::default());
        (c.clone(), Waker::from(c))
    }

    /// Heap 0's entries and its count of stale ones.
    fn heap0(drv: &TimeDriver) -> (usize, usize) {
        let ph = &drv.heaps[0];
        let _h = ph.lock();
        (ph.len.load(Acquire), ph.stale.load(Acquire))
    }

    /// Heap `p`'s entries and its count of stale ones.
    fn heap(drv: &TimeDriver, p: usize) -> (usize, usize) {
        let ph = &drv.heaps[p];
        let _h = ph.lock();
        (ph.len.load(Acquire), ph.stale.load(Acquire))
    }

    /// What one M's timer check does: fire heap 0's due timers and run the
    /// `after_func`s (here: call them).
    fn fire(drv: &TimeDriver) {
        for t in drv.fire_expired(&drv.heaps[0], 0) {
            if let Action::Func(f) = &t.action {
                f();
            }
        }
    }

    #[test]
    fn stop_racing_the_fire_returns_true_iff_it_prevented_the_fire() {
        loom::model(|| {
            let drv = TimeDriver::new(true);
            let timer = TimerShared::new(Action::Wake);
            let (woken, w) = counting_waker();
            assert_eq!(drv.arm_on(0, &timer, 0, Some(&w)), (false, true));
            let d = drv.clone();
            let m = thread::spawn(move || fire(&d));
            let stopped = drv.stop(&timer);
            m.join().unwrap();
            assert_eq!(woken.0.load(SeqCst), usize::from(!stopped));
            assert!(!timer.has_fired(), "stop discards an unobserved fire");
            assert_eq!(heap0(&drv), (0, 0), "(entries, stale count)");
        });
    }

    #[test]
    fn poll_racing_the_fire_is_ready_or_woken_exactly_once() {
        loom::model(|| {
            let drv = TimeDriver::new(true);
            let timer = TimerShared::new(Action::Wake);
            drv.arm_on(0, &timer, 0, None);
            let d = drv.clone();
            let m = thread::spawn(move || fire(&d));
            let (woken, w) = counting_waker();
            let ready = timer.poll_fired(&w, true);
            m.join().unwrap();
            if ready {
                assert_eq!(woken.0.load(SeqCst), 0);
            } else {
                // Parked before the fire: woken by it, and ready now.
                assert_eq!(woken.0.load(SeqCst), 1);
                assert!(timer.poll_fired(&w, true));
            }
            assert_eq!(heap0(&drv), (0, 0), "(entries, stale count)");
        });
    }

    #[test]
    fn two_ms_firing_one_heap_run_an_after_func_once_unless_stopped() {
        loom::model(|| {
            let drv = TimeDriver::new(true);
            let calls = Arc::new(AtomicUsize::new(0));
            let c = calls.clone();
            let timer = TimerShared::new(Action::Func(Arc::new(move || {
                c.fetch_add(1, SeqCst);
            })));
            drv.arm_on(0, &timer, 0, None);
            let ms: Vec<_> = (0..2)
                .map(|_| {
                    let d = drv.clone();
                    thread::spawn(move || fire(&d))
                })
                .collect();
            let stopped = drv.stop(&timer);
            for m in ms {
                m.join().unwrap();
            }
            assert_eq!(calls.load(SeqCst), usize::from(!stopped));
            assert_eq!(heap0(&drv), (0, 0), "(entries, stale count)");
        });
    }

    #[test]
    fn stop_racing_a_shrink_of_gomaxprocs_leaves_both_stale_counts_exact() {
        loom::model(|| {
            let drv = TimeDriver::new(true);
            Timers::resize(&*drv, 2);
            let timer = TimerShared::new(Action::Wake);
            drv.arm_on(1, &timer, 10, None);
            let d = drv.clone();
            // P1 goes away: its timers move to P0.
            let shrink = thread::spawn(move || Timers::resize(&*d, 1));
            assert!(drv.stop(&timer), "it was armed");
            shrink.join().unwrap();
            assert_eq!(heap(&drv, 1), (0, 0), "P1: (entries, stale count)");
            let (len, stale) = heap(&drv, 0);
            assert_eq!(
                len, stale,
                "P0 holds only the stopped timer's entry, if any"
            );
        });
    }

    #[test]
    fn reset_racing_the_fire_reports_whether_the_timer_was_armed() {
        loom::model(|| {
            let drv = TimeDriver::new(true);
            let timer = TimerShared::new(Action::Wake);
            let (woken, w) = counting_waker();
            drv.arm_on(0, &timer, 0, Some(&w));
            let d = drv.clone();
            let m = thread::spawn(move || fire(&d));
            // Re-arm for later (not due at 0).
            let (was_armed, _) = drv.arm_on(0, &timer, 10, None);
            m.join().unwrap();
            // The reset came first (the old entry went stale, no fire) or
            // after the fire (the timer was no longer armed).
            assert_eq!(woken.0.load(SeqCst), usize::from(!was_armed));
            let (len, stale) = heap0(&drv);
            assert_eq!(len - stale, 1, "only the new arming is live");
            // It is armed now, so stopping it prevents its fire.
            assert!(drv.stop(&timer));
            fire(&drv);
            assert_eq!(woken.0.load(SeqCst), usize::from(!was_armed));
        });
    }
}
