//! Timers (gort-time): `sleep`, `timeout`, `interval`, Go's `Timer` and
//! `after_func`, and a clock tests can pause.

pub use gort_time::{
    advance, after_func, interval, interval_at, pause, resume, sleep, sleep_until, timeout,
    timeout_at, Duration, Elapsed, Instant, Interval, MissedTickBehavior, Sleep, Timeout, Timer,
};

/// Errors of this module, under tokio's path.
pub mod error {
    pub use gort_time::Elapsed;
}
