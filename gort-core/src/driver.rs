//! The driver seam: where an idle M blocks, and the per-P timer hook.
//!
//! Go's scheduler calls `netpoll(0)` from `findRunnable` when a P runs dry,
//! lets one idle M block in `netpoll(delay)` with the delay set by the
//! earliest timer of any P, and interrupts that block with `netpollBreak`
//! when new work arrives. gort-core keeps the same shape without knowing
//! about sockets or timer heaps: it calls a [`Driver`] (the network poller
//! of gort-net, or the default [`ParkDriver`], a plain thread parker) and a
//! [`Timers`] hook (gort-time's per-P heaps). Both are installed on the
//! [`Builder`](crate::runtime::Builder); gort-core depends on neither crate.
//!
//! Contract the scheduler keeps:
//! - at most one thread is inside [`Driver::park`] with a non-zero timeout
//!   at a time (Go's `sched.lastpoll == 0`); a zero-timeout poll may run
//!   concurrently with nothing else blocking in it;
//! - `park` is only called by threads that hold no P, except for the
//!   zero-timeout poll of `find_runnable`;
//! - tasks woken from `park` are queued through their wakers as usual.

use std::any::Any;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// An event source the scheduler polls and an idle M blocks in (Go's netpoll).
///
/// Implemented by gort-net's poller; [`ParkDriver`] is the default.
pub trait Driver: Any + Send + Sync {
    /// Waits for events for at most `timeout` (`None`: until
    /// [`unpark`](Driver::unpark)), and wakes the tasks whose events fired.
    /// `Some(Duration::ZERO)` polls without blocking.
    fn park(&self, timeout: Option<Duration>);

    /// Makes a concurrent `park` return promptly, or the next one return at
    /// once (Go's netpollBreak). Callable from any thread.
    fn unpark(&self);

    /// Whether a non-blocking `park` could find anything (Go's
    /// `netpollWaiters > 0`). When false, `find_runnable` skips it.
    fn has_waiters(&self) -> bool {
        false
    }

    /// The runtime is shutting down and every task is cancelled: drop the
    /// wakers still registered (they keep task allocations, and through
    /// them the runtime, alive).
    fn shutdown(&self) {}
}

/// Per-P timer heaps (the hook gort-time implements).
///
/// P indices run from 0 to the current number of Ps minus one.
pub trait Timers: Any + Send + Sync {
    /// Go's checkTimers: runs P `p`'s expired timers (waking their tasks)
    /// and returns that P's earliest remaining deadline. Called by the M
    /// that owns P `p` in its schedule loop, and by idle Ms stealing
    /// expired timers of other Ps. Must be cheap when nothing is due.
    fn run_expired(&self, p: usize) -> Option<Instant>;

    /// The earliest deadline of P `p` (no side effects); the idle M blocks
    /// in the driver until the earliest over all Ps.
    fn next_deadline(&self, p: usize) -> Option<Instant>;

    /// The number of Ps is now `nprocs` (at build, and on `set_gomaxprocs`).
    fn resize(&self, nprocs: usize);

    /// Number of timers pending on P `p` (schedtrace's `timerslen`).
    fn len(&self, _p: usize) -> usize {
        0
    }

    /// Whether any timer is pending anywhere. A pending timer may wake a
    /// task, so the deadlock check stays quiet while this is true; the
    /// default says yes, to be safe.
    fn has_pending(&self) -> bool {
        true
    }

    /// Whether the clock is paused (tokio's test-util style): the
    /// scheduler then offers [`Timers::advance_idle`] whenever nothing can
    /// run, instead of sleeping until a deadline that will never come.
    fn is_paused(&self) -> bool {
        false
    }

    /// Called by the M about to block in the driver when every P is idle,
    /// no blocking work runs and no `block_on` future is being polled: a
    /// paused clock jumps to the earliest deadline. Returns whether it did
    /// (the M then fires the timers instead of blocking).
    fn advance_idle(&self) -> bool {
        false
    }

    /// The runtime is shutting down and every task is cancelled: drop every
    /// pending timer (their wakers keep task allocations, and through them
    /// the runtime, alive).
    fn shutdown(&self) {}
}

/// The default driver: a thread parker with a timeout. Nothing to poll.
#[derive(Default)]
pub struct ParkDriver {
    notified: Mutex<bool>,
    cond: Condvar,
}

impl ParkDriver {
    /// A new parker.
    pub fn new() -> ParkDriver {
        ParkDriver::default()
    }
}

impl Driver for ParkDriver {
    fn park(&self, timeout: Option<Duration>) {
        let mut n = self.notified.lock().unwrap_or_else(|e| e.into_inner());
        if *n || timeout == Some(Duration::ZERO) {
            *n = false;
            return;
        }
        // A timeout past the clock's range waits like no timeout.
        match timeout.and_then(|d| Instant::now().checked_add(d)) {
            None => {
                while !*n {
                    n = self.cond.wait(n).unwrap_or_else(|e| e.into_inner());
                }
            }
            Some(deadline) => {
                while !*n {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    n = self
                        .cond
                        .wait_timeout(n, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        *n = false;
    }

    fn unpark(&self) {
        let mut n = self.notified.lock().unwrap_or_else(|e| e.into_inner());
        *n = true;
        self.cond.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn unpark_before_park_makes_park_return_at_once() {
        let d = ParkDriver::new();
        d.unpark();
        d.park(None); // would hang forever without the stored notification
    }

    #[test]
    fn park_returns_when_unparked_from_another_thread() {
        let d = Arc::new(ParkDriver::new());
        let d2 = d.clone();
        let t = std::thread::spawn(move || d2.park(None));
        // Unpark until the parked thread has consumed a notification.
        while !t.is_finished() {
            d.unpark();
            std::thread::yield_now();
        }
        t.join().unwrap();
    }
}
