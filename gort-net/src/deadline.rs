//! Read and write deadlines (Go's `SetReadDeadline`/`SetWriteDeadline`;
//! runtime/netpoll.go's `poll_runtime_pollSetDeadline` and
//! `netpolldeadlineimpl`).
//!
//! A deadline has two parts, as in Go:
//! - the state in the socket's [`PollDesc`]: the deadline, and whether it
//!   has passed. Every operation checks it first, so an operation started
//!   after the deadline fails with `TimedOut` even before any timer fires;
//! - a runtime timer per direction that wakes the operations still blocked
//!   when the deadline comes, so they fail too instead of waiting for data
//!   that never comes. Go arms `pd.rt`/`pd.wt` with `modtimer`; gort arms a
//!   gort-time [`after_func`] timer, on the per-P timer heaps, whose
//!   function marks the deadline passed and wakes the waiters. Timers are
//!   checked by every M in its schedule loop, so a deadline fires on time
//!   even when no P runs dry, and they follow the runtime's clock, so a
//!   paused test clock drives deadlines too.
//!
//! Moving a deadline resets the timer (O(log n), as Go's `modtimer`);
//! clearing it, or a deadline already past, stops the timer. A timer that
//! fires for a deadline that was moved later meanwhile finds the new
//! deadline in the future and does nothing (the move re-armed it). The
//! timers belong to the socket: dropping it stops them.
//!
//! The timer's function holds weak references only, so a pending deadline
//! keeps neither the descriptor nor the poller alive.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use gort_core::runtime::Handle;
use gort_time::{after_func, Instant, TimeDriver, Timer};

use crate::netpoll::Inner;
use crate::poll_desc::{Direction, PollDesc};

/// The deadline timers of one socket (Go's `pd.rt`, `pd.wt`), created on
/// first use.
#[derive(Default)]
pub(crate) struct DeadlineTimers {
    timers: Mutex<[Option<Timer>; 2]>,
}

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::Read => 0,
        Direction::Write => 1,
    }
}

impl DeadlineTimers {
    fn lock(&self) -> MutexGuard<'_, [Option<Timer>; 2]> {
        self.timers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets or clears `desc`'s deadline for `dir` and arms or stops the
    /// direction's timer to match.
    pub(crate) fn set(
        &self,
        poller: &Arc<Inner>,
        desc: &Arc<PollDesc>,
        dir: Direction,
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        // Serialises concurrent setters of one socket, so the timer ends up
        // armed for the deadline that was set last.
        let mut timers = self.lock();
        let timer = &mut timers[slot(dir)];
        if timer.is_none() && deadline.is_some_and(|d| d > Instant::now()) && !timers_available() {
            // Nothing could wake an operation blocked at the deadline.
            return Err(io::Error::other(
                "gort-net: a deadline needs a gort runtime with timers: set it from a task or \
                 inside block_on of a runtime built by gort::runtime::Builder",
            ));
        }
        let arm = desc.set_deadline(dir, deadline, &poller.nwaiters)?;
        let Some(deadline) = deadline.filter(|_| arm) else {
            if let Some(t) = timer {
                t.stop();
            }
            return Ok(());
        };
        let after = deadline.duration_since(Instant::now());
        match timer {
            Some(t) => {
                t.reset(after);
            }
            None => {
                let (d, p) = (Arc::downgrade(desc), Arc::downgrade(poller));
                *timer = Some(after_func(after, move || fire(&d, &p, dir)));
            }
        }
        Ok(())
    }
}

/// Whether this thread is in a runtime with gort-time's timers.
fn timers_available() -> bool {
    Handle::try_current().is_ok_and(|h| h.timers_as::<TimeDriver>().is_some())
}

/// The timer's function (Go's `netpollReadDeadline`/`netpollWriteDeadline`).
fn fire(desc: &Weak<PollDesc>, poller: &Weak<Inner>, dir: Direction) {
    if let (Some(desc), Some(poller)) = (desc.upgrade(), poller.upgrade()) {
        desc.fire_deadline(dir, &poller.nwaiters);
    }
}

impl Drop for DeadlineTimers {
    fn drop(&mut self) {
        // An after_func timer outlives its handle; stop it so a closed
        // socket leaves nothing in the timer heaps.
        for t in self.lock().iter().flatten() {
            t.stop();
        }
    }
}
