//! A FIFO queue of waiters: Go's `waitq` of `sudog`s (runtime/chan.go).
//!
//! Go links `sudog`s allocated from a per-P cache into a doubly linked list
//! so a goroutine woken by one `select` case can unlink itself from the other
//! channels in O(1). gort keeps the same shape without raw pointers: the
//! nodes live in a slab (a `Vec` plus a free list) owned by the channel's
//! lock, and a waiting future holds only its node's key.
//!
//! Invariants (all under the owning channel's lock):
//! - A key stays valid, and names the same waiter, from [`WaitQueue::push_back`]
//!   until [`WaitQueue::remove`]; only the future that pushed a node removes
//!   it, so keys are never reused under a live future (no ABA).
//! - A node is *linked* (in FIFO order) while it may still be matched. A
//!   node that was matched, closed or skipped is unlinked but stays in the
//!   slab until its future collects the result or is dropped.

use std::task::{Context, Poll, Waker};

use crate::primitives::{lock, Mutex};

/// No node: the end of a list, or of the free list.
const NIL: usize = usize::MAX;

pub(crate) struct WaitQueue<W> {
    slots: Vec<Slot<W>>,
    /// First vacant slot, threaded through `Slot::Vacant`.
    free: usize,
    head: usize,
    tail: usize,
}

enum Slot<W> {
    Vacant { next_free: usize },
    Occupied(Node<W>),
}

struct Node<W> {
    prev: usize,
    next: usize,
    linked: bool,
    waiter: W,
}

impl<W> WaitQueue<W> {
    pub(crate) const fn new() -> Self {
        WaitQueue {
            slots: Vec::new(),
            free: NIL,
            head: NIL,
            tail: NIL,
        }
    }

    /// Appends a waiter at the tail and returns its key.
    pub(crate) fn push_back(&mut self, waiter: W) -> usize {
        let key = self.alloc(Node {
            prev: self.tail,
            next: NIL,
            linked: true,
            waiter,
        });
        if self.tail == NIL {
            self.head = key;
        } else {
            self.node_mut(self.tail).next = key;
        }
        self.tail = key;
        key
    }

    /// Puts a waiter at the head (Go's LIFO requeue of a waiter that has
    /// already waited) and returns its key.
    pub(crate) fn push_front(&mut self, waiter: W) -> usize {
        let key = self.alloc(Node {
            prev: NIL,
            next: self.head,
            linked: true,
            waiter,
        });
        if self.head == NIL {
            self.tail = key;
        } else {
            self.node_mut(self.head).prev = key;
        }
        self.head = key;
        key
    }

    fn alloc(&mut self, node: Node<W>) -> usize {
        if self.free == NIL {
            self.slots.push(Slot::Occupied(node));
            self.slots.len() - 1
        } else {
            let key = self.free;
            self.free = match self.slots[key] {
                Slot::Vacant { next_free } => next_free,
                Slot::Occupied(_) => unreachable!("free list names an occupied slot"),
            };
            self.slots[key] = Slot::Occupied(node);
            key
        }
    }

    /// The oldest linked waiter.
    pub(crate) fn head(&self) -> Option<usize> {
        (self.head != NIL).then_some(self.head)
    }

    /// The newest linked waiter.
    pub(crate) fn tail(&self) -> Option<usize> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// The linked waiter after `key` (which must be linked).
    pub(crate) fn next(&self, key: usize) -> Option<usize> {
        let next = self.node(key).next;
        (next != NIL).then_some(next)
    }

    pub(crate) fn get(&self, key: usize) -> &W {
        &self.node(key).waiter
    }

    pub(crate) fn get_mut(&mut self, key: usize) -> &mut W {
        &mut self.node_mut(key).waiter
    }

    /// Takes `key` out of the FIFO order; it stays in the slab. No-op when
    /// already unlinked.
    pub(crate) fn unlink(&mut self, key: usize) {
        let (prev, next) = {
            let n = self.node_mut(key);
            if !n.linked {
                return;
            }
            n.linked = false;
            (n.prev, n.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
    }

    /// Unlinks `key` if needed, frees its slot and returns its waiter.
    pub(crate) fn remove(&mut self, key: usize) -> W {
        self.unlink(key);
        let slot = std::mem::replace(
            &mut self.slots[key],
            Slot::Vacant {
                next_free: self.free,
            },
        );
        self.free = key;
        match slot {
            Slot::Occupied(n) => n.waiter,
            Slot::Vacant { .. } => unreachable!("removed a vacant waiter slot"),
        }
    }

    fn node(&self, key: usize) -> &Node<W> {
        match &self.slots[key] {
            Slot::Occupied(n) => n,
            Slot::Vacant { .. } => unreachable!("waiter key names a vacant slot"),
        }
    }

    fn node_mut(&mut self, key: usize) -> &mut Node<W> {
        match &mut self.slots[key] {
            Slot::Occupied(n) => n,
            Slot::Vacant { .. } => unreachable!("waiter key names a vacant slot"),
        }
    }
}

impl WaitQueue<Waker> {
    /// Links `waker` afresh as waiter `*key`, unlinking the old node: a
    /// waiter that a wake-all unlinked must be linked again if the state it
    /// waits for was undone before its task ran. Returns the old waker, to
    /// drop after the lock (a waker's drop may run user code).
    pub(crate) fn relink(&mut self, key: &mut Option<usize>, waker: &Waker) -> Option<Waker> {
        let old = key.take().map(|k| self.remove(k));
        *key = Some(self.push_back(waker.clone()));
        old
    }
}

/// Removes waiter `key` (if registered) from queue `q` of `state`, for a
/// dropped future; the waker is dropped after the lock.
pub(crate) fn remove_waiter<S>(
    state: &Mutex<S>,
    key: Option<usize>,
    q: fn(&mut S) -> &mut WaitQueue<Waker>,
) {
    if let Some(k) = key {
        let w = q(&mut lock(state)).remove(k);
        drop(w);
    }
}

/// The `closed()` future of a watch or broadcast sender, polled: ready once
/// `receivers(state)` is 0; otherwise the task's waker is linked in
/// `closed(state)` afresh at every pending poll (the wake that unlinks it
/// may be undone by a new receiver before the task runs).
pub(crate) fn poll_receivers_gone<S>(
    state: &Mutex<S>,
    key: &mut Option<usize>,
    cx: &mut Context<'_>,
    receivers: fn(&S) -> usize,
    closed: fn(&mut S) -> &mut WaitQueue<Waker>,
) -> Poll<()> {
    let coop = std::task::ready!(gort_core::coop::poll_proceed(cx));
    let mut st = lock(state);
    if receivers(&st) == 0 {
        let w = key.take().map(|k| closed(&mut st).remove(k));
        drop(st);
        drop(w);
        coop.made_progress();
        return Poll::Ready(());
    }
    let stale = closed(&mut st).relink(key, cx.waker());
    drop(st);
    drop(stale);
    gort_core::wait::set_wait_reason(gort_core::wait::WaitReason::ChanSend);
    Poll::Pending
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn order(q: &WaitQueue<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cur = q.head();
        while let Some(k) = cur {
            out.push(*q.get(k));
            cur = q.next(k);
        }
        out
    }

    #[test]
    fn waiters_come_out_in_push_order_and_unlink_from_the_middle() {
        let mut q = WaitQueue::new();
        let keys: Vec<usize> = (0..5).map(|i| q.push_back(i)).collect();
        assert_eq!(order(&q), [0, 1, 2, 3, 4]);
        q.unlink(keys[2]);
        q.unlink(keys[2]);
        q.unlink(keys[0]);
        q.unlink(keys[4]);
        assert_eq!(order(&q), [1, 3]);
        assert_eq!(q.remove(keys[2]), 2);
        let k = q.push_back(9);
        assert_eq!(k, keys[2], "freed slots are reused");
        let f = q.push_front(8);
        assert_eq!(order(&q), [8, 1, 3, 9]);
        for k in [keys[0], keys[1], keys[3], keys[4], k, f] {
            q.remove(k);
        }
        assert_eq!(q.head(), None);
    }
}
