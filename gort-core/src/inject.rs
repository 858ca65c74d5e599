//! The global run queue (Go's `sched.runq`, `globrunqput`, `globrunqget`).
//!
//! Tasks spawned or woken from outside the runtime's workers, half of an
//! overflowing local queue, and tasks of an M that lost its P all land
//! here. Go guards it with `sched.lock`; gort gives it a lock of its own so
//! that taking from it never contends with idle-P bookkeeping. An atomic
//! length lets `find_runnable` skip the lock when it is empty.
//!
//! Two monotonic counters, `pushed` and `popped`, let `yield_now` ask "has
//! everything that was in the global queue when I yielded been taken?"
//! without holding the lock (see `processor.rs`).

use std::collections::VecDeque;
use std::sync::atomic::{
    AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Mutex;

use crate::queue::{Overflow, LOCAL_QUEUE_CAPACITY};
use crate::task::Notified;

pub(crate) struct Inject {
    queue: Mutex<VecDeque<Notified>>,
    len: AtomicUsize,
    pushed: AtomicU64,
    popped: AtomicU64,
}

impl Inject {
    pub(crate) fn new() -> Inject {
        Inject {
            queue: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
            pushed: AtomicU64::new(0),
            popped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Notified>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(Acquire) == 0
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Acquire)
    }

    /// How many tasks have ever been pushed.
    pub(crate) fn pushed(&self) -> u64 {
        self.pushed.load(Acquire)
    }

    /// How many tasks have ever been taken.
    pub(crate) fn popped(&self) -> u64 {
        self.popped.load(Acquire)
    }

    /// globrunqput: append one task.
    pub(crate) fn push(&self, task: Notified) {
        let mut q = self.lock();
        q.push_back(task);
        self.pushed.fetch_add(1, Relaxed);
        self.len.store(q.len(), Release);
    }

    /// Takes one task.
    pub(crate) fn pop(&self) -> Option<Notified> {
        if self.is_empty() {
            return None;
        }
        let mut q = self.lock();
        let t = q.pop_front();
        if t.is_some() {
            self.popped.fetch_add(1, Relaxed);
        }
        self.len.store(q.len(), Release);
        t
    }

    /// globrunqget: takes one task to run and up to `max_batch - 1` more for
    /// the caller's local queue. Go's batch is `len/gomaxprocs + 1`, capped
    /// at half a local queue, so the global queue is shared fairly among Ps.
    pub(crate) fn pop_batch(
        &self,
        nprocs: usize,
        max_batch: usize,
    ) -> Option<(Notified, Vec<Notified>)> {
        if self.is_empty() {
            return None;
        }
        let mut q = self.lock();
        let len = q.len();
        if len == 0 {
            return None;
        }
        // At least one (the task to run), even when the local queue is full.
        let cap = max_batch.clamp(1, LOCAL_QUEUE_CAPACITY / 2);
        let n = (len / nprocs.max(1) + 1).min(len).min(cap);
        let first = q.pop_front()?;
        let rest: Vec<Notified> = q.drain(..n - 1).collect();
        self.popped.fetch_add(n as u64, Relaxed);
        self.len.store(q.len(), Release);
        Some((first, rest))
    }

    /// Takes everything (shutdown).
    pub(crate) fn drain(&self) -> Vec<Notified> {
        let mut q = self.lock();
        let v: Vec<Notified> = q.drain(..).collect();
        self.popped.fetch_add(v.len() as u64, Relaxed);
        self.len.store(0, Release);
        v
    }
}

impl Overflow<Notified> for Inject {
    fn push_batch<I: Iterator<Item = Notified>>(&self, iter: I) {
        let mut q = self.lock();
        let before = q.len();
        q.extend(iter);
        self.pushed.fetch_add((q.len() - before) as u64, Relaxed);
        self.len.store(q.len(), Release);
    }
}
