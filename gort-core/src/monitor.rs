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
    /// Signalled when the monitor thread leaves its loop.
    exited_cond: Condvar,
    sleeping: AtomicBool,
}

struct MonitorState {
    stop: bool,
    /// The monitor thread has left its loop: it retakes no P any more.
    exited: bool,
}

impl MonitorShared {
    pub(crate) fn new() -> MonitorShared {
        MonitorShared {
            lock: Mutex::new(MonitorState {
                stop: false,
                exited: false,
            }),
            cond: Condvar::new(),
            exited_cond: Condvar::new(),
            sleeping: AtomicBool::new(false),
        }
    }

    pub(crate) fn is_sleeping(&self) -> bool {
        self.sleeping.load(SeqCst)
    }

    /// A P became busy: wake the monitor if it sleeps for good.
    pub(crate) fn wake(&self) {
        if self.sleeping.load(SeqCst) {
            let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.cond.notify_one();
        }
    }

    /// Stops the monitor and waits until it has left its loop, so that
    /// it retakes and hands off no P after this returns (shutdown drains
    /// the Ps next). Its loop never blocks on anything but this lock and
    /// its condvar, so the wait is short.
    pub(crate) fn stop(&self) {
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        g.stop = true;
        self.cond.notify_one();
        while !g.exited {
            g = self.exited_cond.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Marks the monitor exited when its thread leaves `run`, by return or
/// by panic.
struct Exited<'a>(&'a MonitorShared);

impl Drop for Exited<'_> {
    fn drop(&mut self) {
        let mut g = self.0.lock.lock().unwrap_or_else(|e| e.into_inner());
        g.exited = true;
        self.0.exited_cond.notify_all();
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
    let _exited = Exited(mon);
    let mut seen: Vec<Seen> = Vec::new();
    let trace_every = shared.config.schedtrace;
    // A period past the clock's range never comes: no line at all.
    let mut next_trace = trace_every.and_then(|d| Instant::now().checked_add(d));
    let mut g = mon.lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if g.stop {
            return;
        }
        let n = shared.nprocs();
        if shared.idle.npidle.load(SeqCst) == n {
            drop(g);
            check_dead(&shared);
            g = mon.lock.lock().unwrap_or_else(|e| e.into_inner());
            // Every P idle: sleep until one is taken (Go's sysmonwait), or
            // until the next schedtrace line. The flag is raised before the
            // re-check, and `wake` reads it after taking a P: one of the two
            // sees the other.
            mon.sleeping.store(true, SeqCst);
            if shared.idle.npidle.load(SeqCst) == n && !g.stop {
                g = match next_trace {
                    None => mon.cond.wait(g).unwrap_or_else(|e| e.into_inner()),
                    Some(t) => {
                        let d = t.saturating_duration_since(Instant::now());
                        mon.cond
                            .wait_timeout(g, d)
                            .unwrap_or_else(|e| e.into_inner())
                            .0
                    }
                };
            }
            mon.sleeping.store(false, SeqCst);
        } else {
            g = mon
                .cond
                .wait_timeout(g, tick(shared.config.handoff_after))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if g.stop {
            return;
        }
        drop(g);
        let now = crate::clock::refresh();
        if let (Some(t), Some(every)) = (next_trace, trace_every) {
            if now >= t {
                eprintln!(
                    "{}",
                    crate::trace::schedtrace(&shared, shared.config.scheddetail)
                );
                // The next line one period after this one, or after now
                // when the monitor fell behind (never in a burst).
                let base = now.checked_sub(every).map_or(t, |behind| t.max(behind));
                next_trace = base.checked_add(every);
            }
        }
        // A current-thread runtime has no other thread to hand a P to.
        if shared.current_thread.is_none() {
            retake(&shared, &mut seen, now);
        }
        g = mon.lock.lock().unwrap_or_else(|e| e.into_inner());
    }
}

/// Go's `retake`: hand off every P whose poll has not moved for the
/// hand-off threshold.
fn retake(shared: &Arc<Shared>, seen: &mut Vec<Seen>, now: Instant) {
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
            shared
                .counters
                .add_shared(crate::metrics::Event::Handoffs, 1);
            pp.handoffs.fetch_add(1, Relaxed);
            s.since = now;
            shared.handoff_p(i);
        }
    }
}

/// How long the runtime must look dead, with no activity at all, before
/// the deadlock is declared: the check reads several counters that are not
/// updated together, so it must see the same quiet state twice.
const DEAD_CONFIRM: Duration = Duration::from_millis(20);

/// Go's `checkdead`, run when every P has gone idle.
fn check_dead(shared: &Arc<Shared>) {
    if !crate::trace::is_dead(shared) {
        return;
    }
    let before = crate::trace::activity(shared);
    std::thread::sleep(DEAD_CONFIRM);
    if !crate::trace::is_dead(shared) || crate::trace::activity(shared) != before {
        return;
    }
    shared.deadlocked.store(true, SeqCst);
    for t in shared
        .block_on_waiters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        t.unpark();
    }
}
