//! A coarse process clock for bookkeeping that must not read the time on
//! every poll (how long a task has been waiting, for dumps).
//!
//! The monitor thread refreshes it on each of its ticks, and so does any
//! thread that asks for the precise time anyway. Go does the same kind of
//! thing: `g.waitsince` is only approximate.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

static COARSE_MS: AtomicU64 = AtomicU64::new(0);

/// The process's time origin for the coarse clock and for schedtrace.
pub(crate) fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Milliseconds since [`origin`], as of the last refresh (at least 1, so 0
/// can mean "never").
pub(crate) fn coarse_now_ms() -> u64 {
    COARSE_MS.load(Relaxed).max(1)
}

/// Reads the precise time and refreshes the coarse clock.
pub(crate) fn refresh() -> Instant {
    let now = Instant::now();
    let ms = now.saturating_duration_since(origin()).as_millis() as u64;
    COARSE_MS.fetch_max(ms, Relaxed);
    now
}

/// Nanoseconds from [`origin`] to `t` (0 if `t` is earlier), at least 1.
pub(crate) fn ns_since_origin(t: Instant) -> u64 {
    (t.saturating_duration_since(origin()).as_nanos() as u64).max(1)
}
