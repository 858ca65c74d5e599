//! `interval`: a periodic tick (Go's `time.Ticker`, tokio's `Interval`).
//!
//! Missed ticks: when the consumer falls behind by a whole period or more,
//! what happens depends on [`MissedTickBehavior`]. The default is Go's
//! ticker behaviour, [`MissedTickBehavior::Skip`]: Go's ticker channel
//! holds one tick and drops the rest, so a slow receiver gets one late tick
//! at once and then ticks on the original schedule (start + k·period).
//! tokio's default is `Burst`; code ported from tokio that depends on
//! catching up every missed tick must ask for it.
//!
//! Like tokio's, and unlike Go's `NewTicker`, the first tick completes
//! immediately (at the start instant).

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::clock::Instant;
use crate::sleep::{sleep_until, Sleep};

/// What an [`Interval`] does with ticks it missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire every missed tick, as fast as possible, until caught up.
    Burst,
    /// Fire once now, then every `period` from now: the schedule shifts.
    Delay,
    /// Fire once now, then on the original schedule, dropping the missed
    /// ticks (Go's ticker; the default).
    #[default]
    Skip,
}

/// `t + d`, or the far future when that overflows (a `Duration::MAX`
/// period never ticks again rather than panicking, as in tokio).
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or_else(Instant::far_future)
}

impl MissedTickBehavior {
    fn next(self, scheduled: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => later(scheduled, period),
            MissedTickBehavior::Delay => later(now, period),
            MissedTickBehavior::Skip => {
                let behind = now.duration_since(scheduled).as_nanos();
                let p = period.as_nanos().max(1);
                let steps = u32::try_from(behind / p + 1).unwrap_or(u32::MAX);
                later(scheduled, period.saturating_mul(steps))
            }
        }
    }
}

/// Ticks every `period`, the first tick at once.
///
/// # Panics
/// If `period` is zero.
///
/// ```
/// # let rt = gort_core::runtime::Builder::new().procs(1).timers(gort_time::TimeDriver::new(true)).build().unwrap();
/// # rt.block_on(async {
/// use std::time::Duration;
/// let mut iv = gort_time::interval(Duration::from_secs(60));
/// let t0 = iv.tick().await; // at once
/// let t1 = iv.tick().await; // a minute later (instantly, on a paused clock)
/// assert_eq!(t1 - t0, Duration::from_secs(60));
/// # });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
/// If `period` is zero.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "gort::time::interval: the period must be non-zero"
    );
    Interval {
        delay: sleep_until(start),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// A periodic timer; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    delay: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        std::task::ready!(Pin::new(&mut self.delay).poll(cx));
        let scheduled = self.delay.deadline();
        let now = Instant::now();
        let next = if now >= later(scheduled, self.period) {
            self.missed.next(scheduled, now, self.period)
        } else {
            later(scheduled, self.period)
        };
        Pin::new(&mut self.delay).reset(next);
        Poll::Ready(scheduled)
    }

    /// The next tick comes one period from now.
    pub fn reset(&mut self) {
        Pin::new(&mut self.delay).reset(later(Instant::now(), self.period));
    }

    /// The next tick comes at once.
    pub fn reset_immediately(&mut self) {
        Pin::new(&mut self.delay).reset(Instant::now());
    }

    /// The next tick comes after `after`.
    pub fn reset_after(&mut self, after: Duration) {
        Pin::new(&mut self.delay).reset(later(Instant::now(), after));
    }

    /// The next tick comes at `deadline`.
    pub fn reset_at(&mut self, deadline: Instant) {
        Pin::new(&mut self.delay).reset(deadline);
    }

    /// The behaviour for missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets the behaviour for missed ticks.
    pub fn set_missed_tick_behavior(&mut self, b: MissedTickBehavior) {
        self.missed = b;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_lands_on_the_next_multiple_of_the_period_after_now() {
        let t0 = Instant::now();
        let p = Duration::from_millis(10);
        let b = MissedTickBehavior::Skip;
        assert_eq!(
            b.next(t0, t0 + Duration::from_millis(35), p),
            t0 + Duration::from_millis(40)
        );
        assert_eq!(
            b.next(t0, t0 + Duration::from_millis(40), p),
            t0 + Duration::from_millis(50)
        );
        assert_eq!(
            MissedTickBehavior::Burst.next(t0, t0 + Duration::from_millis(35), p),
            t0 + p
        );
        assert_eq!(
            MissedTickBehavior::Delay.next(t0, t0 + Duration::from_millis(35), p),
            t0 + Duration::from_millis(45)
        );
    }
}
