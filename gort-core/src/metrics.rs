//! Scheduler counters, read without stopping anything (Go's
//! runtime/metrics spirit).
//!
//! Each P has a set of counters that only its owner writes, with a plain
//! relaxed load and store (no read-modify-write, no shared cache line);
//! events that happen without a P (a spawn from outside, the monitor's
//! hand-offs) go to the runtime's own set with `fetch_add`. Reading sums
//! them. The `metrics` feature (on by default) compiles the event counts
//! and the wait-reason bookkeeping in; without it they cost nothing and
//! read as zero (benches/scheduler.rs measures the difference).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Event counters: one set per P and one for the runtime.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) spawned: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) steals: AtomicU64,
    /// Tasks moved by those steals.
    pub(crate) stolen: AtomicU64,
    pub(crate) global_takes: AtomicU64,
    pub(crate) overflows: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) unparks: AtomicU64,
    /// Ps retaken by the monitor from a poll that ran too long.
    pub(crate) handoffs: AtomicU64,
    /// Ps handed off by `block_in_place`.
    pub(crate) handoffs_blocking: AtomicU64,
    pub(crate) forced_yields: AtomicU64,
}

/// Which counter an event goes to.
#[derive(Clone, Copy)]
pub(crate) enum Event {
    Spawned,
    Completed,
    Steals,
    Stolen,
    GlobalTakes,
    Overflows,
    Parks,
    Unparks,
    Handoffs,
    HandoffsBlocking,
    ForcedYields,
}

impl Counters {
    fn field(&self, e: Event) -> &AtomicU64 {
        match e {
            Event::Spawned => &self.spawned,
            Event::Completed => &self.completed,
            Event::Steals => &self.steals,
            Event::Stolen => &self.stolen,
            Event::GlobalTakes => &self.global_takes,
            Event::Overflows => &self.overflows,
            Event::Parks => &self.parks,
            Event::Unparks => &self.unparks,
            Event::Handoffs => &self.handoffs,
            Event::HandoffsBlocking => &self.handoffs_blocking,
            Event::ForcedYields => &self.forced_yields,
        }
    }

    /// Counts `n` events on a set that only the caller writes (a P's, by
    /// its owner).
    #[inline]
    pub(crate) fn add_owned(&self, e: Event, n: u64) {
        if cfg!(feature = "metrics") {
            let f = self.field(e);
            f.store(f.load(Relaxed) + n, Relaxed);
        }
    }

    /// Counts `n` events on a set that many threads write.
    #[inline]
    pub(crate) fn add_shared(&self, e: Event, n: u64) {
        if cfg!(feature = "metrics") {
            self.field(e).fetch_add(n, Relaxed);
        }
    }

    pub(crate) fn get(&self, e: Event) -> u64 {
        self.field(e).load(Relaxed)
    }
}

/// A snapshot of a runtime's scheduler counters (relaxed reads; Go's
/// runtime/metrics spirit: reading never stops anything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Number of Ps.
    pub procs: usize,
    /// Ps on the idle list now.
    pub idle_procs: usize,
    /// Live tasks (spawned, not completed).
    pub live_tasks: usize,
    /// Tasks spawned.
    pub spawned: u64,
    /// Tasks completed (finished, panicked or cancelled).
    pub completed: u64,
    /// Task polls.
    pub polls: u64,
    /// Successful steals from another P's queue.
    pub steals: u64,
    /// Tasks moved by those steals.
    pub stolen_tasks: u64,
    /// Takes from the global queue.
    pub global_takes: u64,
    /// Local queues that overflowed half into the global queue.
    pub overflows: u64,
    /// Times an M released its P for lack of work.
    pub parks: u64,
    /// Times an idle M was woken with a P.
    pub unparks: u64,
    /// Ps the monitor retook from a poll that ran over 10 ms.
    pub monitor_handoffs: u64,
    /// Ps handed off by `block_in_place`.
    pub blocking_handoffs: u64,
    /// Times a leaf future returned `Pending` because the budget ran out.
    pub budget_forced_yields: u64,
    /// Tasks in the global queue now.
    pub global_queue_depth: usize,
    /// Tasks queued on each P now (local queue, runnext, yielded).
    pub local_queue_depth: Vec<usize>,
    /// Threads of the blocking pool now.
    pub blocking_threads: usize,
    /// Worker threads (Ms) alive now.
    pub workers: usize,
}
