//! A 4-ary min-heap keyed by deadline (Go's per-P timer heap, ≤ 1.22).
//!
//! Go uses a 4-ary heap because a timer heap is mostly pushed and popped
//! at the top: the tree is half as deep as a binary heap's, so a sift-up
//! (push) touches half the levels, and a sift-down reads four children that
//! sit in one or two cache lines. Ties are broken by insertion order, so
//! timers with equal deadlines fire in the order they were set.

/// An entry: deadline (ns on the runtime clock), insertion number, value.
pub(crate) struct Entry<T> {
    pub(crate) when: u64,
    pub(crate) seq: u64,
    pub(crate) value: T,
}

impl<T> Entry<T> {
    fn key(&self) -> (u64, u64) {
        (self.when, self.seq)
    }
}

pub(crate) struct Heap<T> {
    v: Vec<Entry<T>>,
    next_seq: u64,
}

impl<T> Heap<T> {
    pub(crate) fn new() -> Heap<T> {
        Heap {
            v: Vec::new(),
            next_seq: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.v.len()
    }

    /// The value of the earliest entry.
    pub(crate) fn peek_value(&self) -> Option<&T> {
        self.v.first().map(|e| &e.value)
    }

    /// The earliest deadline.
    pub(crate) fn peek_when(&self) -> Option<u64> {
        self.v.first().map(|e| e.when)
    }

    pub(crate) fn push(&mut self, when: u64, value: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.v.push(Entry { when, seq, value });
        self.sift_up(self.v.len() - 1);
    }

    /// Removes the earliest entry.
    pub(crate) fn pop(&mut self) -> Option<Entry<T>> {
        let last = self.v.pop()?;
        if self.v.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.v[0], last);
        self.sift_down(0);
        Some(top)
    }

    /// Keeps only the entries for which `keep` is true, rebuilding the heap
    /// in O(n) (Go's `clearDeletedTimers`).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.v.retain(|e| keep(&e.value));
        for i in (0..self.v.len()).rev() {
            self.sift_down(i);
        }
    }

    /// Drops every entry and returns the allocation to the allocator when
    /// the heap was large, so a burst of timers does not pin memory.
    pub(crate) fn shrink_if_sparse(&mut self) {
        if self.v.capacity() > 1024 && self.v.len() < self.v.capacity() / 4 {
            self.v.shrink_to(self.v.len() * 2);
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 4;
            if self.v[i].key() >= self.v[parent].key() {
                break;
            }
            self.v.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.v.len();
        loop {
            let first = 4 * i + 1;
            if first >= n {
                return;
            }
            let last = (first + 4).min(n);
            let mut min = first;
            for c in first + 1..last {
                if self.v[c].key() < self.v[min].key() {
                    min = c;
                }
            }
            if self.v[min].key() >= self.v[i].key() {
                return;
            }
            self.v.swap(i, min);
            i = min;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_deadline_order_and_equal_deadlines_in_insertion_order() {
        let mut h = Heap::new();
        let whens = [50u64, 10, 30, 10, 90, 0, 30, 70, 10, 20, 60, 40, 80, 5];
        for (i, w) in whens.iter().enumerate() {
            h.push(*w, i);
        }
        let mut out = Vec::new();
        while let Some(e) = h.pop() {
            out.push((e.when, e.value));
        }
        let mut expect: Vec<(u64, usize)> = whens.iter().copied().zip(0..).collect();
        expect.sort(); // by when, then by index = insertion order
        assert_eq!(out, expect);
    }

    #[test]
    fn random_pushes_and_pops_match_a_sorted_model() {
        let mut h = Heap::new();
        let mut model: Vec<(u64, u64)> = Vec::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut seq = 0u64;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 3 == 0 && !model.is_empty() {
                model.sort();
                let m = model.remove(0);
                let e = h.pop().unwrap();
                assert_eq!((e.when, e.value), m);
            } else {
                let w = x % 1000;
                h.push(w, seq);
                model.push((w, seq));
                seq += 1;
            }
            assert_eq!(h.len(), model.len());
        }
    }

    #[test]
    fn retain_rebuilds_a_valid_heap() {
        let mut h = Heap::new();
        for i in 0..200u64 {
            h.push((i * 7919) % 1000, i);
        }
        h.retain(|v| v % 3 != 0);
        assert_eq!(h.len(), 200 - 67);
        let mut last = 0;
        while let Some(e) = h.pop() {
            assert!(e.when >= last);
            assert_ne!(e.value % 3, 0);
            last = e.when;
        }
    }
}
