//! The runtime clock and gort's `Instant`.
//!
//! Each runtime's time driver keeps a clock that counts nanoseconds from
//! the driver's creation. Normally it follows the OS monotonic clock. In
//! tests it can be *paused* (tokio's test-util): it then stands still,
//! moves only by [`advance`](crate::advance), and jumps to the next timer
//! whenever the whole runtime is idle, so an hour of timers runs in
//! milliseconds. [`Instant::now`] reads the current runtime's clock, so
//! code that measures time sees the same virtual time as its timers.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::sync::atomic::{
    AtomicBool, AtomicU64,
    Ordering::{Acquire, Release, SeqCst},
};
use std::sync::Mutex;
use std::time::Duration;

pub(crate) struct Clock {
    origin: std::time::Instant,
    paused: AtomicBool,
    /// Virtual time while paused, in ns since `origin`.
    frozen: AtomicU64,
    /// Virtual minus real time (ns) while running: what `advance` added.
    skew: AtomicU64,
    /// Serialises pause / resume / advance.
    lock: Mutex<()>,
}

fn dur_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Clock {
    pub(crate) fn new(start_paused: bool) -> Clock {
        Clock {
            origin: std::time::Instant::now(),
            paused: AtomicBool::new(start_paused),
            frozen: AtomicU64::new(0),
            skew: AtomicU64::new(0),
            lock: Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Acquire)
    }

    /// Now, in ns since the origin.
    pub(crate) fn now_ns(&self) -> u64 {
        if self.paused.load(Acquire) {
            self.frozen.load(Acquire)
        } else {
            dur_ns(self.origin.elapsed()).saturating_add(self.skew.load(Acquire))
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.instant(self.now_ns())
    }

    /// The `Instant` of a clock reading.
    pub(crate) fn instant(&self, ns: u64) -> Instant {
        Instant {
            std: self.origin + Duration::from_nanos(ns),
        }
    }

    /// The clock reading of an `Instant` (0 for instants before the origin).
    pub(crate) fn ns(&self, t: Instant) -> u64 {
        dur_ns(t.std.saturating_duration_since(self.origin))
    }

    /// When, in real (OS) time, the clock will read `ns`; `None` while
    /// paused (it never gets there by itself).
    pub(crate) fn real_deadline(&self, ns: u64) -> Option<std::time::Instant> {
        if self.paused.load(Acquire) {
            return None;
        }
        let real = ns.saturating_sub(self.skew.load(Acquire));
        Some(self.origin + Duration::from_nanos(real))
    }

    pub(crate) fn pause(&self) {
        let _g = self.lock();
        if !self.paused.load(Acquire) {
            self.frozen.store(self.now_ns(), Release);
            self.paused.store(true, SeqCst);
        }
    }

    pub(crate) fn resume(&self) {
        let _g = self.lock();
        if self.paused.load(Acquire) {
            let real = dur_ns(self.origin.elapsed());
            self.skew
                .store(self.frozen.load(Acquire).saturating_sub(real), Release);
            self.paused.store(false, SeqCst);
        }
    }

    /// Moves a paused clock forward by `d`, stopping at the end of its
    /// range (a plain add would wrap it round to the past). Returns false
    /// if not paused.
    pub(crate) fn advance(&self, d: Duration) -> bool {
        let _g = self.lock();
        if !self.paused.load(Acquire) {
            return false;
        }
        // The lock serialises every writer of `frozen`.
        let to = self.frozen.load(Acquire).saturating_add(dur_ns(d));
        self.frozen.store(to, SeqCst);
        true
    }

    /// Moves a paused clock forward to `ns` if it is behind.
    pub(crate) fn advance_to(&self, ns: u64) {
        let _g = self.lock();
        if self.paused.load(Acquire) {
            self.frozen.fetch_max(ns, SeqCst);
        }
    }
}

/// A point in time that follows the runtime's clock (tokio's
/// `time::Instant`): the OS monotonic clock, or the virtual time of a
/// paused runtime.
///
/// ```
/// use gort_time::Instant;
/// use std::time::Duration;
///
/// let a = Instant::now();
/// let b = a + Duration::from_millis(5);
/// assert_eq!(b - a, Duration::from_millis(5));
/// assert_eq!(a.duration_since(b), Duration::ZERO); // saturates
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    std: std::time::Instant,
}

impl Instant {
    /// Now, on the current runtime's clock (the OS clock outside a runtime
    /// or when the clock is not paused).
    pub fn now() -> Instant {
        crate::driver::with_current_driver(|d| d.map(|d| d.clock.now()))
            .unwrap_or_else(|| Instant::from_std(std::time::Instant::now()))
    }

    /// Wraps a `std::time::Instant`.
    pub fn from_std(std: std::time::Instant) -> Instant {
        Instant { std }
    }

    /// The `std::time::Instant` this is.
    pub fn into_std(self) -> std::time::Instant {
        self.std
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// Time from `earlier` to `self`, `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.std.checked_duration_since(earlier.std)
    }

    /// Same as [`Instant::duration_since`].
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// Time since `self`, on the runtime's clock.
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// `self + d`, `None` on overflow.
    pub fn checked_add(&self, d: Duration) -> Option<Instant> {
        self.std.checked_add(d).map(Instant::from_std)
    }

    /// `self - d`, `None` on underflow.
    pub fn checked_sub(&self, d: Duration) -> Option<Instant> {
        self.std.checked_sub(d).map(Instant::from_std)
    }

    /// A deadline so far away it never comes (~30 years), for "no timeout".
    pub(crate) fn far_future() -> Instant {
        Instant::now() + Duration::from_secs(86400 * 365 * 30)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(std: std::time::Instant) -> Instant {
        Instant { std }
    }
}

impl From<Instant> for std::time::Instant {
    fn from(t: Instant) -> std::time::Instant {
        t.std
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant { std: self.std + d }
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        self.std += d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant { std: self.std - d }
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        self.std -= d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}
