//! The monitor thread (Go's `sysmon`).
//!
//! Go's sysmon runs without a P, wakes every 20 µs to 10 ms, and among
//! other things retakes Ps from goroutines that have been running or in a
//! syscall for over 10 ms. A future cannot be preempted, but the P it runs
//! on can be taken away from it: when the monitor sees a P in `POLLING`
//! whose poll sequence has not moved for [`FORCE_HANDOFF`] (configurable), it CASes the P
//! away from the stuck M and hands it, with its queue, to another M
//! (`handoff_p`). The stuck M finds its P gone when the poll returns and
//! goes looking for an idle one. Every such event is counted.
//!
//! Like Go's sysmon, the monitor sleeps for good while every P is idle
//! (`sysmonwait`), so an idle runtime costs no CPU; taking a P off the idle
//! list wakes it.

use std::sync::atomic::{
    AtomicBool,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::processor::P_POLLING;
use crate::sched::Shared;

/// By default, a poll holding a P longer than this gets its P handed off
/// (Go's `forcePreemptNS`, 10 ms). `Builder::handoff_after` changes it.
pub(crate) const FORCE_HANDOFF: Duration = Duration::from_millis(10);

/// How often the monitor looks while some P is busy: a quarter of the
/// hand-off threshold (2.5 ms by default) keeps the hand-off within 1.25×
/// the threshold of a poll's start, at ~400 wake-ups per second only while
/// the runtime is busy. Never less than [`MIN_TICK`].
fn tick(handoff_after: Duration) -> Duration {
    (handoff_after / 4).clamp(MIN_TICK, FORCE_HANDOFF / 4)
}

/// Go's sysmon never sleeps less than 20 µs; neither does gort's.
const MIN_TICK: Duration = Duration::from_micros(20);

pub(crate) struct MonitorShared {
    lock: Mutex<MonitorState>,
    cond: Condvar,
    sleeping: AtomicBool,
}

struct MonitorState {
    stop: bool,
}

impl MonitorShared {
    pub(crate) fn new() -> MonitorShared {
        MonitorShared {
            lock: Mutex::new(MonitorState { stop: false }),
            cond: Condvar::new(),
            sleeping: AtomicBool::new(false),
        }
    }

    /// A P became busy: wake the monitor if it sleeps for good.
    pub(crate) fn wake(&self) {
        if self.sleeping.load(SeqCst) {
            let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.cond.notify_one();
        }
    }

    pub(crate) fn stop(&self) {
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        g.stop = true;
        self.cond.notify_one();
    }
}

/// Per-P memory of the monitor: the poll sequence last seen and when.
struct Seen {
    seq: u64,
    since: Instant,
}

/// Thread main of the monitor.
pub(crate) fn run(shared: Arc<Shared>) {
    let mon = &shared.monitor;
    let mut seen: Vec<Seen> = Vec::new();
    let mut g = mon.lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if g.stop {
            return;
        }
        let n = shared.nprocs();
        if shared.idle.npidle.load(SeqCst) == n {
            // Every P idle: sleep until one is taken (Go's sysmonwait). The
            // flag is raised before the re-check, and `wake` reads it after
            // taking a P: one of the two sees the other.
            mon.sleeping.store(true, SeqCst);
            if shared.idle.npidle.load(SeqCst) == n && !g.stop {
                g = mon.cond.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            mon.sleeping.store(false, SeqCst);
            continue;
        }
        g = mon
            .cond
            .wait_timeout(g, tick(shared.config.handoff_after))
            .unwrap_or_else(|e| e.into_inner())
            .0;
        if g.stop {
            return;
        }
        drop(g);
        let now = crate::clock::refresh();
        seen.resize_with(shared.nprocs(), || Seen { seq: 0, since: now });
        for (i, pp) in shared.procs.iter().enumerate() {
            let seq = pp.poll_seq.load(Relaxed);
            let (owner, state) = pp.status();
            let s = &mut seen[i];
            if state != P_POLLING || seq != s.seq {
                s.seq = seq;
                s.since = now;
                continue;
            }
            if now.duration_since(s.since) >= shared.config.handoff_after && pp.retake(owner) {
                shared.counters.handoffs.fetch_add(1, Relaxed);
                s.since = now;
                shared.handoff_p(i);
            }
        }
        g = mon.lock.lock().unwrap_or_else(|e| e.into_inner());
    }
}
