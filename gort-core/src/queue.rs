//! The P's local run queue: Go's `runq` (runtime/proc.go: `runqput`,
//! `runqputslow`, `runqget`, `runqgrab`, `runqsteal`, `runqputbatch`).
//!
//! A fixed ring of [`LOCAL_QUEUE_CAPACITY`] slots with two `u32` cursors:
//!
//! * `tail` is written only by the P that owns the queue (the producer), with
//!   `Release`, after the slots it publishes; everybody else reads it with
//!   `Acquire`.
//! * `head` is advanced only by compare-and-swap (`AcqRel`), by whoever takes
//!   items out: the owner popping (`runqget`) or spilling half to the global
//!   queue (`runqputslow`), and other Ps stealing half (`runqgrab`).
//!
//! Both cursors run freely and wrap at `u32::MAX` (Go's `uint32` arithmetic);
//! a slot's index is `cursor % LOCAL_QUEUE_CAPACITY`.
//!
//! # Invariants
//!
//! 1. `tail - head <= LOCAL_QUEUE_CAPACITY` (wrapping), as seen by the owner.
//!    The owner only writes a slot after a fresh `Acquire` load of `head`
//!    shows room, so it never overwrites an item that was not taken.
//! 2. The items in slots `head..tail` are owned by the queue. A consumer owns
//!    the items of `head..head + n` once, and only once, its CAS moves `head`
//!    from `head` to `head + n`. Slot contents it read before a *failed* CAS
//!    are discarded, never converted back into items.
//! 3. The `Acquire` load of `head` by the owner synchronises with the
//!    `Release` of the consumer's CAS, so every read of a slot by the consumer
//!    that took it happens before the owner reuses that slot.
//! 4. `head` never moves backwards, so a consumer whose CAS from `h` succeeds
//!    knows nobody took index `h` or beyond in the meantime, hence the owner
//!    has not rewritten any slot it read (apart from ABA after 2^32 operations
//!    between its load and its CAS, which Go and tokio accept too).
//!
//! Slots are `AtomicPtr<()>` accessed with `Relaxed`: a stealer copies slots
//! before its CAS decides whether they are its to take, and that copy may race
//! with the owner overwriting them (Go's `runqgrab` does the same with plain
//! `guintptr` loads, which Go's memory model allows and Rust's does not).
//! Items are therefore pointer-like ([`Item`]) so a slot holds one word.
//!
//! # Where this departs from Go
//!
//! * Ownership is in the types, as in tokio: [`Local`] (the owner's handle,
//!   `&mut self`, not `Clone`) and [`Steal`] (other Ps' handle, `Clone +
//!   Sync`), instead of one `p` struct whose owner is a comment.
//! * `runnext` is not here: it is the scheduler's single slot next to the ring
//!   and is stolen (Go's `stealRunNextG`) by the scheduler, not by this file.
//! * [`Steal::steal_into`] bounds the number of items it takes by the free
//!   slots of its destination, where Go throws if the destination overflows
//!   (Go only steals into an empty queue; this keeps the function total).
//! * [`Local::push_back_or_overflow`] hands the spilled half to an
//!   [`Overflow`] (the scheduler's global queue) as an iterator that reads the
//!   ring lazily, instead of copying it into a 129-item array on the stack.

use std::fmt;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crate::loom::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use crate::loom::sync::Arc;

/// Number of slots in a P's local run queue.
///
/// 256 is Go's figure (`runq [256]guintptr`): enough that a P that spawns in
/// bursts rarely spills to the global queue, small enough (2 KiB of slots)
/// that every P can have one. Under `cfg(loom)` it is 4, so the model checker
/// reaches "full", "half stolen" and index wrap-around in a handful of
/// operations; with 256 it would never explore those states.
#[cfg(not(loom))]
pub(crate) const LOCAL_QUEUE_CAPACITY: usize = 256;
/// Number of slots in a P's local run queue: 4 under loom so the model
/// checker reaches "full", "half stolen" and wrap-around in few operations.
#[cfg(loom)]
pub(crate) const LOCAL_QUEUE_CAPACITY: usize = 4;

const MASK: usize = LOCAL_QUEUE_CAPACITY - 1;

/// `LOCAL_QUEUE_CAPACITY` as a cursor difference.
const CAPACITY: u32 = LOCAL_QUEUE_CAPACITY as u32;

/// How many items a full queue spills to the global queue, and the most a
/// single steal takes: half the ring (Go's `len(pp.runq)/2`).
const HALF: u32 = CAPACITY / 2;

// Slot indices are computed with a mask, and the ring must hold at least two
// items for "half" to be a positive number.
const _: () = assert!(LOCAL_QUEUE_CAPACITY.is_power_of_two() && LOCAL_QUEUE_CAPACITY >= 2);

/// A value the run queue can hold: something that converts to a non-null
/// pointer and back (the scheduler's task reference, `Box<T>` in tests).
///
/// # Safety
///
/// `into_raw` must return a pointer that owns `self`, and `from_raw` on that
/// pointer must give back an equal owner, on any thread (hence `Send`). The
/// queue calls `from_raw` exactly once for each `into_raw`, and never
/// dereferences the pointer itself.
pub(crate) unsafe trait Item: Send + 'static {
    /// Gives up ownership of `self` as a pointer.
    fn into_raw(self) -> NonNull<()>;

    /// Takes ownership back.
    ///
    /// # Safety
    ///
    /// `ptr` came from `into_raw` and ownership is transferred back exactly once.
    unsafe fn from_raw(ptr: NonNull<()>) -> Self;
}

// SAFETY: `Box::leak` hands out the box's unique pointer without freeing it,
// and `Box::from_raw` on that same pointer rebuilds the box (the pairing the
// `Box::leak` documentation allows). `T: Send` makes moving it across threads
// sound.
unsafe impl<T: Send + 'static> Item for Box<T> {
    fn into_raw(self) -> NonNull<()> {
        NonNull::from(Box::leak(self)).cast()
    }

    unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        // SAFETY: by the caller's contract `ptr` is the `Box::leak` pointer of
        // a `Box<T>` whose ownership nobody else holds.
        unsafe { Box::from_raw(ptr.cast::<T>().as_ptr()) }
    }
}

/// Where [`Local::push_back_or_overflow`] sends half of a full queue: the
/// scheduler's global run queue (Go's `globrunqputbatch`).
pub(crate) trait Overflow<T> {
    /// Takes every item of `iter`, oldest first. Items the implementation does
    /// not consume are dropped when `iter` is dropped.
    fn push_batch<I: Iterator<Item = T>>(&self, iter: I);
}

/// Builds a queue and its two handles.
pub(crate) fn local<T: Item>() -> (Steal<T>, Local<T>) {
    local_starting_at(0)
}

/// Builds a queue whose cursors start at `index` (tests start near
/// `u32::MAX` to cross the wrap-around).
fn local_starting_at<T: Item>(index: u32) -> (Steal<T>, Local<T>) {
    let inner = Arc::new(Inner {
        head: AtomicU32::new(index),
        tail: AtomicU32::new(index),
        slots: (0..LOCAL_QUEUE_CAPACITY)
            .map(|_| AtomicPtr::new(ptr::null_mut()))
            .collect(),
        _items: PhantomData,
    });
    (
        Steal {
            inner: inner.clone(),
        },
        Local { inner },
    )
}

/// The state shared by the handles of one queue.
// Aligned to 128 bytes (two cache lines, the unit of the adjacent-line
// prefetcher): each P's queue is written on every push and pop by its owner,
// and without the padding two Ps' small `Inner`s share a line and every pop
// on one core misses in the other's cache.
#[repr(align(128))]
struct Inner<T: Item> {
    /// Index of the oldest item. Advanced by CAS by the owner (pop, overflow)
    /// and by stealers; never moves backwards.
    head: AtomicU32,
    /// Index one past the newest item. Only written by the owner (`Release`),
    /// read by everyone.
    tail: AtomicU32,
    /// `LOCAL_QUEUE_CAPACITY` slots, each an item's `into_raw` pointer (or
    /// null before first use). Written only by this queue's owner: by its
    /// pushes, and by `steal_into` when this queue is the destination (the
    /// caller then holds this queue's `&mut Local`).
    slots: Box<[AtomicPtr<()>]>,
    /// The queue owns `T`s through the slots. `fn() -> T` keeps `Inner`
    /// `Send + Sync` for any `T` (items are moved, never shared by reference;
    /// `Item: Send` makes the move sound).
    _items: PhantomData<fn() -> T>,
}

impl<T: Item> Inner<T> {
    fn slot(&self, index: u32) -> &AtomicPtr<()> {
        &self.slots[index as usize & MASK]
    }

    /// Number of items, clamped: a consumer may see a `tail` newer than its
    /// `head` by more than a full ring while others pop and the owner pushes.
    fn len(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        (tail.wrapping_sub(head) as usize).min(LOCAL_QUEUE_CAPACITY)
    }
}

/// Turns a slot's contents back into an item.
///
/// # Safety
///
/// `ptr` was read from a slot whose index the caller has taken (its head CAS
/// over that index succeeded, or the slot is its private one beyond its own
/// tail), after the write that put an item there became visible to it.
unsafe fn take<T: Item>(ptr: *mut ()) -> T {
    debug_assert!(!ptr.is_null(), "run queue slot read before it was written");
    // SAFETY: by the caller's contract the slot held an `into_raw` pointer
    // (never null) that nobody else will convert back.
    unsafe { T::from_raw(NonNull::new_unchecked(ptr)) }
}

/// Producer handle. Only the thread that owns the P uses it: it is not
/// `Clone`, and every method that changes the queue takes `&mut self`.
pub(crate) struct Local<T: Item> {
    inner: Arc<Inner<T>>,
}

impl<T: Item> Local<T> {
    /// Number of queued items (exact for the owner up to concurrent steals,
    /// which only lower it).
    pub(crate) fn len(&self) -> usize {
        let head = self.inner.head.load(Ordering::Acquire);
        // The owner is the only writer of `tail`, so its own last store is
        // what a relaxed load returns.
        let tail = self.inner.tail.load(Ordering::Relaxed);
        tail.wrapping_sub(head) as usize
    }

    /// True if the queue holds no item.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free slots: how many items `push_back_batch` may take at once.
    pub(crate) fn remaining_slots(&self) -> usize {
        LOCAL_QUEUE_CAPACITY - self.len()
    }

    /// Go's `runqput`: pushes `item` at the tail. When the ring is full, Go's
    /// `runqputslow`: moves the older half (`LOCAL_QUEUE_CAPACITY / 2` items,
    /// oldest first) followed by `item` to `overflow` in one batch.
    ///
    /// Returns true if it overflowed (the scheduler counts it).
    pub(crate) fn push_back_or_overflow<O: Overflow<T>>(&mut self, item: T, overflow: &O) -> bool {
        let tail = self.inner.tail.load(Ordering::Relaxed);
        let mut item = item;
        loop {
            let head = self.inner.head.load(Ordering::Acquire);
            if tail.wrapping_sub(head) < CAPACITY {
                self.inner
                    .slot(tail)
                    .store(item.into_raw().as_ptr(), Ordering::Relaxed);
                self.inner
                    .tail
                    .store(tail.wrapping_add(1), Ordering::Release);
                return false;
            }
            match self.push_overflow(item, head, tail, overflow) {
                Ok(()) => return true,
                // A stealer took items since `head` was loaded: there is room.
                Err(back) => item = back,
            }
        }
    }

    /// Go's `runqputslow`: claims the oldest half of a full ring with one CAS
    /// on `head`, then hands it and `item` to `overflow`. Gives `item` back if
    /// the CAS lost to a stealer.
    fn push_overflow<O: Overflow<T>>(
        &mut self,
        item: T,
        head: u32,
        tail: u32,
        overflow: &O,
    ) -> Result<(), T> {
        // Invariant 1: the owner never sees more than a full ring.
        debug_assert_eq!(tail.wrapping_sub(head), CAPACITY);
        let end = head.wrapping_add(HALF);
        if self
            .inner
            .head
            .compare_exchange(head, end, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(item);
        }
        overflow.push_batch(Spilled {
            inner: &self.inner,
            next: head,
            end,
            last: Some(item),
        });
        Ok(())
    }

    /// Go's `runqputbatch` without the global-queue fallback: pushes `items`
    /// at the tail, in order.
    ///
    /// # Panics
    ///
    /// If `items.len() > self.remaining_slots()` (the caller guarantees it
    /// is not); nothing is pushed then.
    pub(crate) fn push_back_batch(&mut self, items: impl ExactSizeIterator<Item = T>) {
        let room = self.remaining_slots();
        assert!(
            items.len() <= room,
            "push_back_batch: {} items for {} free slots",
            items.len(),
            room
        );
        let mut tail = self.inner.tail.load(Ordering::Relaxed);
        // `take(room)` keeps invariant 1 even if `len()` lied; each item is
        // published as it is written, so a panicking iterator leaks nothing.
        for item in items.take(room) {
            self.inner
                .slot(tail)
                .store(item.into_raw().as_ptr(), Ordering::Relaxed);
            tail = tail.wrapping_add(1);
            self.inner.tail.store(tail, Ordering::Release);
        }
    }

    /// Go's `runqget`: pops the oldest item (FIFO).
    pub(crate) fn pop(&mut self) -> Option<T> {
        let tail = self.inner.tail.load(Ordering::Relaxed);
        let mut head = self.inner.head.load(Ordering::Acquire);
        loop {
            if head == tail {
                return None;
            }
            // The owner wrote this slot itself, so it sees its contents.
            let ptr = self.inner.slot(head).load(Ordering::Relaxed);
            match self.inner.head.compare_exchange(
                head,
                head.wrapping_add(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                // SAFETY: the CAS moved `head` past this index, so the item is
                // ours alone (invariant 2), and the owner wrote the slot.
                Ok(_) => return Some(unsafe { take(ptr) }),
                Err(actual) => head = actual,
            }
        }
    }
}

impl<T: Item> Drop for Local<T> {
    /// The scheduler drains every P's queue at shutdown (DESIGN.md: "Shutdown
    /// drops every remaining task exactly once"), so this normally finds the
    /// queue empty. If not, it drops each remaining item exactly once: it pops
    /// them like any consumer, so items a stealer takes meanwhile are the
    /// stealer's. It never panics.
    fn drop(&mut self) {
        while let Some(item) = self.pop() {
            drop(item);
        }
    }
}

impl<T: Item> fmt::Debug for Local<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Local").field("len", &self.len()).finish()
    }
}

/// Consumer handle for other Ps. May be used from many threads at once.
pub(crate) struct Steal<T: Item> {
    inner: Arc<Inner<T>>,
}

impl<T: Item> Clone for Steal<T> {
    fn clone(&self) -> Self {
        Steal {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Item> Steal<T> {
    /// Number of queued items: a snapshot, possibly stale by the time it
    /// returns.
    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }

    /// True if the queue held no item when looked at.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Go's `runqsteal`: takes half (rounded up) of this queue's items, oldest
    /// first, into `dst`, and returns the newest of them to run at once; the
    /// others are published at `dst`'s tail.
    ///
    /// Returns `None` if this queue was empty, or if `dst` has no free slot.
    /// Takes fewer than half if `dst` has fewer free slots than that (Go
    /// throws instead; the scheduler only steals into an empty queue).
    /// `dst` must be the `Local` of a different queue.
    pub(crate) fn steal_into(&self, dst: &mut Local<T>) -> Option<T> {
        debug_assert!(
            !Arc::ptr_eq(&self.inner, &dst.inner),
            "steal_into: a queue cannot steal from itself"
        );
        let dst_tail = dst.inner.tail.load(Ordering::Relaxed);
        // Its `Acquire` load of `dst`'s head orders the reads by `dst`'s own
        // stealers of the slots they took before `grab` rewrites them.
        let room = dst.remaining_slots() as u32;
        if room == 0 {
            return None;
        }
        let n = self.grab(&dst.inner, dst_tail, room)?;
        // The newest stolen item runs now; the others are published.
        let last = dst_tail.wrapping_add(n - 1);
        let ptr = dst.inner.slot(last).load(Ordering::Relaxed);
        if n > 1 {
            dst.inner.tail.store(last, Ordering::Release);
        }
        // `grab` won the CAS over the `n` items it copied into `dst`'s slots
        // `dst_tail..dst_tail + n` (invariant 2); those slots lie past `dst`'s
        // tail, so only this thread (the owner of `dst`) has written them.
        // SAFETY: index `last` is not published, so no one else takes it.
        Some(unsafe { take(ptr) })
    }

    /// Go's `runqgrab`: copies half (rounded up, at most `room`) of this
    /// queue's items into `dst`'s slots starting at `dst_tail`, then claims
    /// them with a CAS on `head`. Returns how many it claimed, `None` if the
    /// queue was empty. The caller publishes them.
    fn grab(&self, dst: &Inner<T>, dst_tail: u32, room: u32) -> Option<u32> {
        loop {
            // `head` first: it only grows, so `tail - head` cannot underflow.
            let head = self.inner.head.load(Ordering::Acquire);
            let tail = self.inner.tail.load(Ordering::Acquire);
            let len = tail.wrapping_sub(head);
            let half = len - len / 2;
            if half == 0 {
                return None;
            }
            if half > HALF {
                // Torn read: `head` went stale while the owner pushed past a
                // full ring's worth. The CAS would fail anyway (`head` moved);
                // looking again saves copying slots for nothing.
                crate::loom::hint::spin_loop();
                continue;
            }
            let n = half.min(room);
            for i in 0..n {
                // May race with the owner overwriting the slot if `head` is
                // already stale; the CAS below then fails and the copy is
                // ignored (invariant 4). Slots `dst_tail..` are not published,
                // so nobody takes what is written there.
                let ptr = self
                    .inner
                    .slot(head.wrapping_add(i))
                    .load(Ordering::Relaxed);
                dst.slot(dst_tail.wrapping_add(i))
                    .store(ptr, Ordering::Relaxed);
            }
            if self
                .inner
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(n),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
            {
                return Some(n);
            }
        }
    }
}

impl<T: Item> fmt::Debug for Steal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Steal").field("len", &self.len()).finish()
    }
}

/// The half of a full ring that `push_overflow` claimed, then the item that
/// did not fit, read lazily from the ring.
///
/// Its slots are safe to read until it is dropped: `head` has moved past
/// them, so no consumer takes them, and only the owner could rewrite them,
/// which is blocked in `push_back_or_overflow` (it holds `&mut Local`).
/// Items the overflow does not consume are dropped with the iterator.
struct Spilled<'a, T: Item> {
    inner: &'a Inner<T>,
    next: u32,
    end: u32,
    last: Option<T>,
}

impl<T: Item> Iterator for Spilled<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.next == self.end {
            return self.last.take();
        }
        let ptr = self.inner.slot(self.next).load(Ordering::Relaxed);
        self.next = self.next.wrapping_add(1);
        // SAFETY: `push_overflow` claimed indices `next..end` with its CAS
        // (invariant 2), the owner wrote them, and `next` is advanced past
        // each index before returning it, so each is taken once.
        Some(unsafe { take(ptr) })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end.wrapping_sub(self.next) as usize + usize::from(self.last.is_some());
        (n, Some(n))
    }
}

impl<T: Item> ExactSizeIterator for Spilled<'_, T> {}

impl<T: Item> Drop for Spilled<'_, T> {
    fn drop(&mut self) {
        self.for_each(drop);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::sync::Mutex;
    use std::thread;

    /// The scheduler's global queue, reduced to what the tests look at.
    #[derive(Default)]
    struct Global {
        batches: Mutex<Vec<Vec<usize>>>,
    }

    impl Overflow<Box<usize>> for Global {
        fn push_batch<I: Iterator<Item = Box<usize>>>(&self, iter: I) {
            let batch = iter.map(|b| *b).collect();
            self.batches.lock().unwrap().push(batch);
        }
    }

    fn drain(q: &mut Local<Box<usize>>) -> Vec<usize> {
        std::iter::from_fn(|| q.pop()).map(|b| *b).collect()
    }

    fn push_all(q: &mut Local<Box<usize>>, items: std::ops::Range<usize>) {
        let global = Global::default();
        for i in items {
            assert!(!q.push_back_or_overflow(Box::new(i), &global));
        }
    }

    #[test]
    fn pop_returns_items_in_push_order() {
        let (_steal, mut q) = local();
        push_all(&mut q, 0..10);
        assert_eq!(q.len(), 10);
        assert_eq!(drain(&mut q), (0..10).collect::<Vec<_>>());
        assert!(q.is_empty());
        assert!(q.pop().is_none());
    }

    #[test]
    fn len_and_remaining_slots_count_items_and_free_slots() {
        let (steal, mut q) = local();
        assert_eq!((q.len(), q.remaining_slots()), (0, LOCAL_QUEUE_CAPACITY));
        push_all(&mut q, 0..5);
        q.pop();
        assert_eq!(q.len(), 4);
        assert_eq!(steal.len(), 4);
        assert!(!steal.is_empty());
        assert_eq!(q.remaining_slots(), LOCAL_QUEUE_CAPACITY - 4);
    }

    #[test]
    fn push_of_257th_item_overflows_once_with_129_items_and_keeps_128() {
        assert_eq!(LOCAL_QUEUE_CAPACITY, 256);
        let (_steal, mut q) = local();
        let global = Global::default();
        let overflows = (0..257)
            .filter(|&i| q.push_back_or_overflow(Box::new(i), &global))
            .count();
        assert_eq!(overflows, 1);
        let batches = global.batches.into_inner().unwrap();
        assert_eq!(batches.len(), 1);
        // The oldest half, oldest first, then the item that did not fit.
        let expected: Vec<usize> = (0..128).chain([256]).collect();
        assert_eq!(batches[0], expected);
        assert_eq!(batches[0].len(), 129);
        assert_eq!(q.len(), 128);
        assert_eq!(drain(&mut q), (128..256).collect::<Vec<_>>());
    }

    #[test]
    fn overflow_items_not_taken_by_the_global_queue_are_dropped_once() {
        struct TakesTwo(AtomicUsize);
        impl Overflow<Counted> for TakesTwo {
            fn push_batch<I: Iterator<Item = Counted>>(&self, iter: I) {
                self.0.fetch_add(iter.take(2).count(), Ordering::Relaxed);
            }
        }
        let drops = drop_counters(LOCAL_QUEUE_CAPACITY + 1);
        let (_steal, mut q) = local();
        let overflow = TakesTwo(AtomicUsize::new(0));
        for i in 0..=LOCAL_QUEUE_CAPACITY {
            q.push_back_or_overflow(Counted(i, drops.clone()), &overflow);
        }
        assert_eq!(overflow.0.load(Ordering::Relaxed), 2);
        let dropped = drops
            .iter()
            .filter(|d| d.load(Ordering::Relaxed) == 1)
            .count();
        assert_eq!(dropped, LOCAL_QUEUE_CAPACITY / 2 + 1);
        drop(q);
        assert!(drops.iter().all(|d| d.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn push_back_batch_appends_in_order_after_existing_items() {
        let (_steal, mut q) = local();
        push_all(&mut q, 0..3);
        q.push_back_batch((3..LOCAL_QUEUE_CAPACITY).map(Box::new));
        assert_eq!(q.remaining_slots(), 0);
        assert_eq!(drain(&mut q), (0..LOCAL_QUEUE_CAPACITY).collect::<Vec<_>>());
    }

    #[test]
    #[should_panic(expected = "push_back_batch: 2 items for 1 free slots")]
    fn push_back_batch_beyond_free_slots_panics() {
        let (_steal, mut q) = local();
        push_all(&mut q, 0..LOCAL_QUEUE_CAPACITY - 1);
        q.push_back_batch([Box::new(0), Box::new(1)].into_iter());
    }

    #[test]
    fn steal_takes_half_rounded_up_and_returns_the_newest_of_them() {
        let (victim, mut q) = local();
        push_all(&mut q, 0..5);
        let (_dst_steal, mut dst) = local();
        let got = victim.steal_into(&mut dst).map(|b| *b);
        // 3 of 5 taken: items 0 and 1 land in dst, item 2 is returned.
        assert_eq!(got, Some(2));
        assert_eq!(drain(&mut dst), vec![0, 1]);
        assert_eq!(drain(&mut q), vec![3, 4]);
    }

    #[test]
    fn steal_of_a_single_item_returns_it_and_leaves_dst_empty() {
        let (victim, mut q) = local();
        push_all(&mut q, 7..8);
        let (_dst_steal, mut dst) = local();
        assert_eq!(victim.steal_into(&mut dst).map(|b| *b), Some(7));
        assert!(dst.is_empty());
        assert!(q.is_empty());
    }

    #[test]
    fn steal_from_an_empty_queue_returns_none() {
        let (victim, _q) = local::<Box<usize>>();
        let (_dst_steal, mut dst) = local();
        assert!(victim.steal_into(&mut dst).is_none());
        assert!(dst.is_empty());
    }

    #[test]
    fn steal_of_a_full_queue_takes_128_items() {
        let (victim, mut q) = local();
        push_all(&mut q, 0..LOCAL_QUEUE_CAPACITY);
        let (_dst_steal, mut dst) = local();
        assert_eq!(victim.steal_into(&mut dst).map(|b| *b), Some(127));
        assert_eq!(dst.len(), 127);
        assert_eq!(q.len(), 128);
    }

    #[test]
    fn steal_takes_no_more_than_dst_free_slots() {
        let (victim, mut q) = local();
        push_all(&mut q, 0..10);
        let (_dst_steal, mut dst) = local();
        push_all(&mut dst, 100..100 + LOCAL_QUEUE_CAPACITY - 2);
        // Half of 10 is 5, but dst has 2 free slots: take 2, return the 2nd.
        assert_eq!(victim.steal_into(&mut dst).map(|b| *b), Some(1));
        assert_eq!(dst.remaining_slots(), 1);
        assert_eq!(q.len(), 8);
        push_all(&mut dst, 0..1);
        assert!(victim.steal_into(&mut dst).is_none());
        assert_eq!(q.len(), 8);
    }

    #[test]
    fn cursors_wrap_around_u32_max() {
        let (victim, mut q) = local_starting_at(u32::MAX - 2);
        let global = Global::default();
        for i in 0..=LOCAL_QUEUE_CAPACITY {
            q.push_back_or_overflow(Box::new(i), &global);
        }
        assert_eq!(global.batches.lock().unwrap()[0].len(), 129);
        assert_eq!(victim.len(), 128);
        let (_dst_steal, mut dst) = local_starting_at(u32::MAX);
        assert_eq!(victim.steal_into(&mut dst).map(|b| *b), Some(191));
        assert_eq!(drain(&mut dst), (128..191).collect::<Vec<_>>());
        assert_eq!(drain(&mut q), (192..256).collect::<Vec<_>>());
    }

    /// An item that counts its drops in `counters[id]`.
    struct Counted(usize, Arc<Vec<AtomicUsize>>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.1[self.0].fetch_add(1, Ordering::Relaxed);
        }
    }

    // SAFETY: same as `Box<T>`: the pointer is `Box::leak` of a `Box<Counted>`.
    unsafe impl Item for Counted {
        fn into_raw(self) -> NonNull<()> {
            Item::into_raw(Box::new(self))
        }

        unsafe fn from_raw(ptr: NonNull<()>) -> Self {
            // SAFETY: forwarded contract: `ptr` is a `Box<Counted>`'s, owned once.
            *unsafe { <Box<Counted> as Item>::from_raw(ptr) }
        }
    }

    fn drop_counters(n: usize) -> Arc<Vec<AtomicUsize>> {
        Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect())
    }

    #[test]
    fn dropping_a_non_empty_local_drops_each_remaining_item_once() {
        let drops = drop_counters(10);
        let (steal, mut q) = local();
        q.push_back_batch((0..10).map(|i| Counted(i, drops.clone())));
        drop(q.pop());
        drop(q.pop());
        drop(q);
        let counts: Vec<usize> = drops.iter().map(|d| d.load(Ordering::Relaxed)).collect();
        assert_eq!(counts, vec![1; 10]);
        assert!(steal.is_empty());
    }

    /// 1 producer pushing (and now and then popping) while 3 Ps steal from it:
    /// every item comes out exactly once, through a pop, a steal, or the
    /// global queue.
    #[test]
    fn every_item_is_taken_exactly_once_with_one_producer_and_three_stealers() {
        let items = if cfg!(miri) { 1_000 } else { 100_000 };
        let seen = Arc::new((0..items).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let done = Arc::new(AtomicBool::new(false));
        let (victim, mut q) = local::<Box<usize>>();

        // One stealer steals whenever it can, one once the ring is half
        // full, one only when it is nearly full, so steals also race the
        // owner's overflow (which under Miri's scheduler would not happen
        // otherwise: eager stealers keep the ring short).
        let thresholds = [1, LOCAL_QUEUE_CAPACITY / 2, LOCAL_QUEUE_CAPACITY - 8];
        let stealers: Vec<_> = thresholds
            .into_iter()
            .map(|threshold| {
                let (victim, seen, done) = (victim.clone(), seen.clone(), done.clone());
                thread::spawn(move || {
                    let (_mine, mut dst) = local::<Box<usize>>();
                    let mut taken = 0;
                    loop {
                        let finished = done.load(Ordering::Acquire);
                        if !finished && victim.len() < threshold {
                            thread::yield_now();
                            continue;
                        }
                        match victim.steal_into(&mut dst) {
                            Some(item) => {
                                for i in
                                    std::iter::once(item).chain(std::iter::from_fn(|| dst.pop()))
                                {
                                    seen[*i].fetch_add(1, Ordering::Relaxed);
                                    taken += 1;
                                }
                            }
                            None if finished => return taken,
                            None => thread::yield_now(),
                        }
                    }
                })
            })
            .collect();

        let global = Global::default();
        let mut popped = 0;
        for i in 0..items {
            q.push_back_or_overflow(Box::new(i), &global);
            // Pop now and then during the first half only, so the second
            // half fills the ring and overflows while stealers are busy.
            if i % 3 == 0 && i < items / 2 {
                if let Some(item) = q.pop() {
                    seen[*item].fetch_add(1, Ordering::Relaxed);
                    popped += 1;
                }
            }
        }
        for item in drain(&mut q) {
            seen[item].fetch_add(1, Ordering::Relaxed);
            popped += 1;
        }
        done.store(true, Ordering::Release);
        let stolen: usize = stealers.into_iter().map(|s| s.join().unwrap()).sum();
        let mut spilled = 0;
        for item in global.batches.into_inner().unwrap().into_iter().flatten() {
            seen[item].fetch_add(1, Ordering::Relaxed);
            spilled += 1;
        }

        assert_eq!(popped + stolen + spilled, items);
        let wrong: Vec<usize> = (0..items)
            .filter(|&i| seen[i].load(Ordering::Relaxed) != 1)
            .collect();
        assert!(wrong.is_empty(), "items not seen exactly once: {wrong:?}");
    }
}

/// Model-checked races, with `LOCAL_QUEUE_CAPACITY == 4` (so half is 2).
/// Each model asserts that every item pushed comes out exactly once, whether
/// by a pop, a steal or the overflow batch. Run with `scripts/loom.sh`.
///
/// Loom does not model load buffering (a load reading a store that comes
/// later in the other thread's program order), so it cannot catch a missing
/// `Release` on a consumer's head CAS or a missing `Acquire` on the owner's
/// head load (invariant 3). Those orderings rest on the argument in the
/// module doc, as in Go and tokio.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::thread;
    use std::cell::RefCell;

    /// The global queue; only the owner's thread pushes to it.
    #[derive(Default)]
    struct Global(RefCell<Vec<usize>>);

    impl Overflow<Box<usize>> for Global {
        fn push_batch<I: Iterator<Item = Box<usize>>>(&self, iter: I) {
            self.0.borrow_mut().extend(iter.map(|b| *b));
        }
    }

    fn push(q: &mut Local<Box<usize>>, items: std::ops::Range<usize>, global: &Global) {
        for i in items {
            q.push_back_or_overflow(Box::new(i), global);
        }
    }

    fn drain(q: &mut Local<Box<usize>>) -> Vec<usize> {
        std::iter::from_fn(|| q.pop()).map(|b| *b).collect()
    }

    /// What a thief P does: one steal into its own queue, then runs it all.
    fn steal_and_run(victim: &Steal<Box<usize>>) -> Vec<usize> {
        let (_steal, mut dst) = local();
        let mut got: Vec<usize> = victim
            .steal_into(&mut dst)
            .map(|b| *b)
            .into_iter()
            .collect();
        got.extend(drain(&mut dst));
        got
    }

    fn spawn_thief(victim: &Steal<Box<usize>>) -> thread::JoinHandle<Vec<usize>> {
        let victim = victim.clone();
        thread::spawn(move || steal_and_run(&victim))
    }

    fn assert_each_once(mut got: Vec<usize>, items: usize) {
        got.sort_unstable();
        assert_eq!(got, (0..items).collect::<Vec<_>>());
    }

    #[test]
    fn push_racing_a_steal_loses_and_duplicates_nothing() {
        loom::model(|| {
            let global = Global::default();
            let (victim, mut q) = local();
            push(&mut q, 0..1, &global);
            let thief = spawn_thief(&victim);
            // 5 items in a ring of 4: overflows unless the thief took some.
            push(&mut q, 1..5, &global);
            let mut got = drain(&mut q);
            got.extend(thief.join().unwrap());
            got.extend(global.0.take());
            assert_each_once(got, 5);
        });
    }

    #[test]
    fn pop_and_steal_racing_for_the_last_item_take_it_once() {
        loom::model(|| {
            let global = Global::default();
            let (victim, mut q) = local();
            push(&mut q, 0..1, &global);
            let thief = spawn_thief(&victim);
            let popped: Vec<usize> = q.pop().map(|b| *b).into_iter().collect();
            let stolen = thief.join().unwrap();
            assert_eq!(popped.len() + stolen.len(), 1);
            assert_each_once(popped.into_iter().chain(stolen).collect(), 1);
            assert!(q.is_empty());
        });
    }

    #[test]
    fn overflow_racing_a_steal_sends_each_item_to_one_place() {
        loom::model(|| {
            let global = Global::default();
            let (victim, mut q) = local();
            push(&mut q, 0..LOCAL_QUEUE_CAPACITY, &global);
            let thief = spawn_thief(&victim);
            let overflowed = q.push_back_or_overflow(Box::new(LOCAL_QUEUE_CAPACITY), &global);
            let stolen = thief.join().unwrap();
            let spilled = global.0.take();
            if overflowed {
                // The older half plus the new item went out first; the
                // thief came later and took half (rounded up) of the 2 left.
                assert_eq!(spilled, vec![0, 1, 4]);
                assert_eq!(stolen, vec![2]);
            } else {
                // The thief's CAS won: it took the 2 oldest, and the push
                // found room.
                assert_eq!(spilled, Vec::<usize>::new());
                assert_eq!(stolen, vec![1, 0]);
            }
            let mut got = drain(&mut q);
            got.extend(stolen);
            got.extend(spilled);
            assert_each_once(got, LOCAL_QUEUE_CAPACITY + 1);
        });
    }

    #[test]
    fn two_stealers_and_the_owner_popping_take_each_item_once() {
        loom::model(|| {
            let global = Global::default();
            let (victim, mut q) = local();
            push(&mut q, 0..LOCAL_QUEUE_CAPACITY, &global);
            let thieves = [spawn_thief(&victim), spawn_thief(&victim)];
            let mut got: Vec<usize> = q.pop().map(|b| *b).into_iter().collect();
            for thief in thieves {
                got.extend(thief.join().unwrap());
            }
            got.extend(drain(&mut q));
            assert_each_once(got, LOCAL_QUEUE_CAPACITY);
        });
    }

    #[test]
    fn steal_into_a_queue_that_another_p_steals_from_publishes_each_item_once() {
        loom::model(|| {
            let global = Global::default();
            // `mine`: the thief's own queue. Items 0, 1, 2 pass through
            // slots 0..3, so those slots hold stale pointers once popped.
            let (mine_steal, mut mine) = local();
            push(&mut mine, 0..3, &global);
            // `victim`: a full queue, items 3, 4, 5, 6.
            let (victim, mut victim_local) = local();
            push(&mut victim_local, 3..7, &global);
            // Another P steals from `mine`. Its view may be stale (head 0)
            // while `mine`'s owner pops 0..3 and then steals items 3 and 4
            // into slots 3 and 0, so it may read slot 0 as it is rewritten;
            // or it may see the published item 3 in slot 3.
            let other = spawn_thief(&mine_steal);
            let mut got = drain(&mut mine);
            got.extend(victim.steal_into(&mut mine).map(|b| *b));
            got.extend(drain(&mut mine));
            got.extend(other.join().unwrap());
            got.extend(drain(&mut victim_local));
            assert_each_once(got, 7);
            assert!(victim.is_empty() && mine_steal.is_empty());
        });
    }

    #[test]
    fn push_back_batch_racing_a_steal_loses_and_duplicates_nothing() {
        loom::model(|| {
            let global = Global::default();
            let (victim, mut q) = local();
            push(&mut q, 0..1, &global);
            let thief = spawn_thief(&victim);
            q.push_back_batch((1..LOCAL_QUEUE_CAPACITY).map(Box::new));
            let mut got = drain(&mut q);
            got.extend(thief.join().unwrap());
            assert_each_once(got, LOCAL_QUEUE_CAPACITY);
        });
    }
}
