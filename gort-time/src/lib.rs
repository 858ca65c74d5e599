//! gort-time: timers on per-P heaps (Go's runtime/time.go, 1.14–1.22).
//!
//! Every P owns a 4-ary min-heap of timers; the M that runs a P fires its
//! expired timers in the schedule loop, an idle M steals other Ps' expired
//! timers, and the one M blocked in the driver sleeps exactly until the
//! earliest deadline — never a fixed tick, so an idle runtime uses no CPU.
//! See [`driver`] for the mechanism and [`TimeDriver`] for the hook into
//! gort-core.
//!
//! The API is tokio's (`sleep`, `sleep_until`, `timeout`, `timeout_at`,
//! `interval`, `Instant`) plus Go's `Timer` and `after_func`, and a clock
//! that tests can pause ([`pause`], [`resume`], [`advance`]) and that jumps
//! to the next timer whenever the runtime is idle.
//!
//! ```
//! # let rt = gort_core::runtime::Builder::new().procs(2).timers(gort_time::TimeDriver::new(false)).build().unwrap();
//! # rt.block_on(async {
//! use std::time::Duration;
//! let r = gort_time::timeout(Duration::from_millis(50), gort_time::sleep(Duration::from_millis(1))).await;
//! assert!(r.is_ok());
//! # });
//! ```

#![warn(missing_docs)]

mod clock;
pub mod driver;
mod heap;
mod interval;
mod loom;
mod sleep;
mod timeout;
mod timer;

use std::time::Duration as StdDuration;

pub use clock::Instant;
pub use driver::TimeDriver;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::Duration;
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
pub use timer::{after_func, Timer};

fn current_driver_or_panic<R>(what: &str, f: impl FnOnce(&TimeDriver) -> R) -> R {
    driver::with_current_driver(|d| match d {
        Some(d) => f(d),
        None => panic!("gort::time::{what} called outside a gort runtime with timers"),
    })
}

/// Pauses the current runtime's clock (tests): time then moves only by
/// [`advance`], or jumps to the next timer when the runtime is idle.
///
/// # Panics
/// Outside a gort runtime.
pub fn pause() {
    current_driver_or_panic("pause", |d| d.clock.pause());
}

/// Lets a paused clock run again from where it stands.
///
/// # Panics
/// Outside a gort runtime.
pub fn resume() {
    current_driver_or_panic("resume", |d| d.clock.resume());
}

/// Moves a paused clock forward by `d` (at most to the end of the clock's
/// range, ~584 years from its start), fires the timers that became due,
/// and yields so their tasks run.
///
/// # Panics
/// Outside a gort runtime, or if the clock is not paused.
pub async fn advance(d: StdDuration) {
    current_driver_or_panic("advance", |drv| {
        assert!(
            drv.clock.advance(d),
            "gort::time::advance: the clock is not paused; call gort::time::pause() first"
        );
        drv.fire_all_expired();
    });
    gort_core::yield_now().await;
}
