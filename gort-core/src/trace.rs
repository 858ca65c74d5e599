//! Go's `schedtrace` / `scheddetail` lines and `checkdead`.
//!
//! Both run on the monitor thread. `schedtrace` prints, every interval:
//!
//! ```text
//! SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=0 idlethreads=2 runqueue=0 [3 1]
//! ```
//!
//! — Go's format: Ps, idle Ps, threads (Ms, the monitor, blocking-pool
//! and locked threads), spinning Ms, idle Ms, the global queue's length and
//! each P's queue length. With `scheddetail=1` a line per P (status as Go
//! numbers them: 0 idle, 1 running, 2 in a poll — gort's "syscall"),
//! `schedtick`, polls, owner M, queue size, timers and monitor hand-offs,
//! and a line per M (its P, the task it polls, spinning, blocked).
//!
//! `checkdead` is Go's "all goroutines are asleep - deadlock!": see
//! [`is_dead`] for the rule.

use std::fmt::Write;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use crate::metrics::Event;
use crate::processor::P_IDLE;
use crate::sched::Shared;

/// The SCHED line (and detail lines), without a trailing newline.
pub(crate) fn schedtrace(sh: &Shared, detail: bool) -> String {
    let ms = sh.started.elapsed().as_millis();
    let n = sh.nprocs();
    let idle_ms = crate::idle::Idle::idle_ms(&sh.idle.lock());
    let threads = runtime_threads(sh);
    let mut out = format!(
        "SCHED {ms}ms: gomaxprocs={n} idleprocs={} threads={threads} spinningthreads={} idlethreads={idle_ms} runqueue={}",
        sh.idle.npidle.load(SeqCst),
        sh.idle.nmspinning.load(SeqCst),
        sh.inject.len(),
    );
    if detail {
        let _ = write!(
            out,
            " stopwait={} sysmonwait={} handoffs={} blockinghandoffs={}",
            u8::from(sh.stw.load(Relaxed)),
            u8::from(sh.monitor.is_sleeping()),
            sh.counters.get(Event::Handoffs),
            sh.counters.get(Event::HandoffsBlocking),
        );
        let ms = sh.ms.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (i, p) in sh.procs.iter().enumerate() {
            let (owner, state) = p.status();
            let m = if state == P_IDLE { -1 } else { owner as i64 };
            let timers = sh.timers.as_ref().map_or(0, |t| t.len(i));
            let _ = write!(
                out,
                "\n  P{i}: status={state} schedtick={} polls={} m={m} runqsize={} timerslen={timers} handoffs={}",
                p.schedtick.load(Relaxed),
                p.poll_seq.load(Relaxed),
                p.queue_len.load(Relaxed),
                p.handoffs.load(Relaxed),
            );
        }
        for m in ms.iter() {
            let curg = m.curg.load(Relaxed);
            let _ = write!(
                out,
                "\n  M{}: p={} curg={} spinning={} blocked={}",
                m.id,
                m.p.load(Relaxed),
                if curg == 0 { -1 } else { curg as i64 },
                m.spinning.load(Relaxed),
                m.blocked.load(Relaxed),
            );
        }
    } else {
        out.push_str(" [");
        for (i, p) in sh.procs.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{}", p.queue_len.load(Relaxed));
        }
        out.push(']');
    }
    out
}

/// Threads the runtime itself runs: Ms, the monitor, blocking-pool and
/// locked threads, and the SIGQUIT reader.
fn runtime_threads(sh: &Shared) -> usize {
    sh.threads_alive.load(SeqCst)
        + 1
        + sh.blocking.threads()
        + sh.locked_threads.load(SeqCst)
        + crate::sigquit::THREADS.load(SeqCst)
}

/// Live threads of this process, if the OS tells (Linux).
fn process_threads() -> Option<usize> {
    // Miri runs isolated from the OS: no /proc, so no deadlock report.
    if cfg!(miri) {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Go's `checkdead`, gort's rule: the runtime is dead when someone waits in
/// `block_on`, and nothing could ever wake a task again:
/// - every P is idle with empty queues, no M is inside a poll, no blocking
///   or `block_in_place` work runs, no locked thread lives, no `block_on`
///   future is being polled;
/// - no timer is pending and no socket is waited on;
/// - every live thread of the process is the runtime's own or a thread
///   parked in this runtime's `block_on`. A foreign thread might hold a
///   `Sender` or a `Handle` and wake something later, so its presence
///   means "not dead" — the way Go misses a deadlock behind a goroutine
///   blocked in a syscall. Tests that want the check therefore run it in a
///   process of their own.
pub(crate) fn is_dead(sh: &Shared) -> bool {
    if !sh.config.checkdead || sh.block_on_threads.load(SeqCst) == 0 || !sh.is_quiescent() {
        return false;
    }
    if sh.timers.as_ref().is_some_and(|t| t.has_pending()) || sh.driver.has_waiters() {
        return false;
    }
    if sh.locked_threads.load(SeqCst) > 0 {
        return false;
    }
    if sh
        .ms
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|m| m.curg.load(SeqCst) != 0)
    {
        return false;
    }
    let ours = runtime_threads(sh) + sh.block_on_threads.load(SeqCst);
    matches!(process_threads(), Some(n) if n <= ours)
}

/// A fingerprint of scheduler activity: equal before and after a pause
/// means nothing ran in between.
pub(crate) fn activity(sh: &Shared) -> (u64, u64, usize, u64) {
    (
        sh.procs.iter_all().map(|p| p.poll_seq.load(SeqCst)).sum(),
        sh.inject.pushed(),
        sh.owned.len(),
        sh.block_on_polls.load(SeqCst),
    )
}
