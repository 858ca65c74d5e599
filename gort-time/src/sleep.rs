//! `sleep`, `sleep_until` and the `Sleep` future (Go's `time.Sleep`,
//! tokio's `time::sleep`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use gort_core::runtime::Handle;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::clock::Instant;
use crate::driver::{Action, TimeDriver, TimerShared};

/// Waits until `duration` has elapsed. `sleep(Duration::ZERO)` yields to
/// the scheduler once instead of registering a timer.
///
/// ```
/// # let rt = gort_core::runtime::Builder::new().procs(1).timers(gort_time::TimeDriver::new(false)).build().unwrap();
/// # rt.block_on(async {
/// let start = gort_time::Instant::now();
/// gort_time::sleep(std::time::Duration::from_millis(10)).await;
/// assert!(start.elapsed() >= std::time::Duration::from_millis(10));
/// # });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let mut s = sleep_until(
        Instant::now()
            .checked_add(duration)
            .unwrap_or_else(Instant::far_future),
    );
    s.yield_first = duration.is_zero();
    // The deadline was in the future when the clock was read above, so the
    // first poll arms the timer without reading the clock again; if the
    // deadline passes before that poll, the P's next timer check fires it
    // (tokio's sleep registers the same way).
    s.known_future = !duration.is_zero();
    s
}

/// Waits until `deadline`. A deadline in the past completes at once.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        entry: None,
        yield_first: false,
        known_future: false,
        elapsed: false,
    }
}

/// A timer registered with the current runtime's time driver (tokio's
/// `Sleep`). The timer is registered on the first poll and removed when
/// the `Sleep` is dropped or completes.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    entry: Option<(Handle, Arc<TimerShared>)>,
    yield_first: bool,
    /// The deadline was later than the clock when this was made: the first
    /// poll need not compare it with the clock.
    known_future: bool,
    /// A poll returned `Ready` (and no reset since).
    elapsed: bool,
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

pub(crate) fn driver(handle: &Handle) -> &TimeDriver {
    handle.timers_as::<TimeDriver>().unwrap_or_else(|| {
        panic!(
            "this gort runtime has no timer driver: build it with gort::runtime::Builder, \
             which installs one"
        )
    })
}

pub(crate) fn current_handle(what: &str) -> Handle {
    Handle::try_current().unwrap_or_else(|_| {
        panic!(
            "{what} polled outside a gort runtime: await it in a task or inside Runtime::block_on"
        )
    })
}

impl Sleep {
    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the sleep has elapsed: its timer fired, or a poll found
    /// the deadline passed (tokio's meaning: a `Sleep` created for a
    /// deadline already past is not elapsed until it is polled).
    pub fn is_elapsed(&self) -> bool {
        self.elapsed || self.entry.as_ref().is_some_and(|(_, t)| t.has_fired())
    }

    /// Moves the deadline, re-arming the timer if it was armed.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.get_mut();
        this.deadline = deadline;
        this.yield_first = false;
        this.known_future = false;
        this.elapsed = false;
        if let Some((h, t)) = &this.entry {
            let d = driver(h);
            let when = d.clock.ns(deadline);
            if when <= d.clock.now_ns() {
                // Already due: the next poll is ready without waiting for
                // a P's timer check (tokio fires a timer reset into the
                // past at once).
                this.disarm();
                this.entry = None;
            } else {
                d.arm(h, t, when);
            }
        }
    }

    /// A zero duration behaves as an elapsed deadline (for `timeout`).
    pub(crate) fn without_zero_yield(mut self) -> Sleep {
        self.yield_first = false;
        self
    }

    fn disarm(&mut self) {
        if let Some((h, t)) = &self.entry {
            // A no-op (one lock) when the timer already fired.
            driver(h).stop(t);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let coop = std::task::ready!(gort_core::coop::poll_proceed(cx));
        if this.yield_first {
            this.yield_first = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match &this.entry {
            None => {
                let h = current_handle("gort::time::Sleep");
                let d = driver(&h);
                let when = d.clock.ns(this.deadline);
                if !this.known_future && when <= d.clock.now_ns() {
                    coop.made_progress();
                    this.elapsed = true;
                    return Poll::Ready(());
                }
                let t = TimerShared::new(Action::Wake);
                // The waker is stored in the same critical section that
                // arms the timer, before its entry reaches the heap: the
                // timer may fire at once.
                d.arm_with_waker(&h, &t, when, Some(cx.waker()));
                this.entry = Some((h, t));
            }
            Some((_, t)) => {
                if t.poll_fired(cx.waker(), false) {
                    coop.made_progress();
                    this.elapsed = true;
                    return Poll::Ready(());
                }
            }
        }
        set_wait_reason(WaitReason::Sleep);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.disarm();
    }
}
