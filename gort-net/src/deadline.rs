//! Read and write deadlines (Go's `SetReadDeadline`/`SetWriteDeadline`;
//! runtime/netpoll.go's `poll_runtime_pollSetDeadline` and
//! `netpolldeadlineimpl`).
//!
//! A deadline has two parts, as in Go:
//! - the state in the socket's [`PollDesc`]: the deadline, and whether it
//!   has passed. Every operation checks it first, so an operation started
//!   after the deadline fails with `TimedOut` even before any timer fires;
//! - a timer that wakes the operations still blocked when the deadline
//!   comes, so they fail too instead of waiting for data that never comes.
//!
//! Go arms a runtime timer per pollDesc direction. gort's timers
//! (gort-time) are not part of this crate's dependencies yet, so the
//! poller keeps its own min-heap of deadline timers ([`Deadlines`]), as
//! Go's netpoller did before its deadlines moved into the timer heap:
//! - an idle M blocking in the poller blocks no longer than the earliest
//!   deadline; setting an earlier deadline than the one it blocks for
//!   interrupts it (Go's `wakeNetPoller`);
//! - every poll, blocking or not, fires the deadlines that have passed.
//!
//! An operation blocked on a socket is a poller waiter, so while it waits
//! `find_runnable` keeps polling whenever a P runs dry, and an idle M
//! blocks in the poller: its deadline fires within one poll of passing.
//! The limit is Go's for I/O readiness: on a runtime whose Ps never run
//! dry, both wait until one does.
//!
//! Each descriptor direction has at most one live entry in the heap:
//! moving a deadline later (what servers do before every read) arms
//! nothing; the entry fires at the old time and re-arms itself for the
//! new one. Entries are keyed by poller token, so the entry of a closed
//! socket finds nothing (or a different generation) and is dropped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::netpoll::Inner;
use crate::poll_desc::{to_ns, Direction, PollDesc};

/// One armed deadline timer: when (ns since the deadline origin), which
/// socket, which direction.
type Entry = Reverse<(u64, usize, bool)>;

/// The poller's deadline timers.
pub(crate) struct Deadlines {
    heap: Mutex<BinaryHeap<Entry>>,
    /// The earliest entry's time, `u64::MAX` when empty; read without the
    /// lock on every poll.
    earliest: AtomicU64,
}

impl Deadlines {
    pub(crate) fn new() -> Deadlines {
        Deadlines {
            heap: Mutex::new(BinaryHeap::new()),
            earliest: AtomicU64::new(u64::MAX),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BinaryHeap<Entry>> {
        self.heap.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms a timer for `at`.
    pub(crate) fn push(&self, at: u64, token: usize, dir: Direction) {
        let mut h = self.lock();
        h.push(Reverse((at, token, dir == Direction::Write)));
        self.earliest.fetch_min(at, Ordering::SeqCst);
    }

    /// Whether no timer is armed (checked on every poll, without the clock).
    pub(crate) fn is_empty(&self) -> bool {
        self.earliest.load(Ordering::SeqCst) == u64::MAX
    }

    /// How long a poll starting now may block at most.
    pub(crate) fn cap(&self, timeout: Option<Duration>) -> Option<Duration> {
        let at = self.earliest.load(Ordering::SeqCst);
        if at == u64::MAX {
            return timeout;
        }
        let d = Duration::from_nanos(at.saturating_sub(to_ns(Instant::now())));
        Some(timeout.map_or(d, |t| t.min(d)))
    }

    /// Removes and returns the timers due at `now`.
    pub(crate) fn take_due(&self, now: u64, out: &mut Vec<(u64, usize, Direction)>) {
        if self.earliest.load(Ordering::SeqCst) > now {
            return;
        }
        let mut h = self.lock();
        while let Some(Reverse((at, token, write))) = h.peek().copied() {
            if at > now {
                break;
            }
            h.pop();
            let dir = if write {
                Direction::Write
            } else {
                Direction::Read
            };
            out.push((at, token, dir));
        }
        let next = h.peek().map_or(u64::MAX, |Reverse((at, _, _))| *at);
        self.earliest.store(next, Ordering::SeqCst);
    }
}

/// Sets or clears `desc`'s deadline for `dir`, arming a timer if needed.
pub(crate) fn set(
    poller: &Arc<Inner>,
    desc: &PollDesc,
    dir: Direction,
    deadline: Option<Instant>,
) -> io::Result<()> {
    if let Some(at) = desc.set_deadline(dir, deadline, &poller.nwaiters)? {
        poller.arm_deadline(at, desc.token, dir);
    }
    Ok(())
}
