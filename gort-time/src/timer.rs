//! `Timer` and `after_func`: Go's `time.Timer`, `time.NewTimer`,
//! `time.AfterFunc`.
//!
//! A `Timer` is armed when created. Awaiting it completes when it fires
//! (Go's `<-t.C`). `stop` and `reset` return what Go's do:
//! - `stop() -> bool`: true if this call stopped the timer, false if it had
//!   already fired or been stopped;
//! - `reset(d) -> bool`: true if the timer was still armed, false if it had
//!   fired or been stopped; either way it fires `d` from now.
//!
//! Like Go since 1.23, a fire that no one has awaited yet is discarded by
//! `stop` and `reset`: after either, awaiting waits for the next fire, so
//! there is no stale tick to drain. A stopped timer that is awaited waits
//! until a `reset`.
//!
//! `after_func(d, f)` runs `f` in a new task when the timer fires, unless
//! stopped first; `reset` arms it again and `f` runs again, as in Go.
//! Dropping a plain `Timer` stops it (nobody could await it any more);
//! dropping the `Timer` of `after_func` does not: as in Go, the function
//! still runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use gort_core::runtime::Handle;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::clock::Instant;
use crate::driver::{Action, TimerShared};
use crate::sleep::driver;

/// Go's `time.Timer`. See the [module docs](self) for the semantics.
///
/// ```
/// # let rt = gort_core::runtime::Builder::new().procs(1).timers(gort_time::TimeDriver::new(true)).build().unwrap();
/// # rt.block_on(async {
/// use std::time::Duration;
/// let mut t = gort_time::Timer::new(Duration::from_secs(5));
/// assert!(t.stop());          // stopped before firing
/// assert!(!t.stop());         // already stopped
/// assert!(!t.reset(Duration::from_secs(1))); // was not armed
/// (&mut t).await;             // fires after one (virtual) second
/// assert!(!t.stop());         // already fired
/// # });
/// ```
pub struct Timer {
    handle: Handle,
    shared: Arc<TimerShared>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").finish_non_exhaustive()
    }
}

impl Timer {
    /// A timer that fires after `d` (Go's `time.NewTimer`).
    ///
    /// # Panics
    /// Outside a gort runtime.
    #[track_caller]
    pub fn new(d: Duration) -> Timer {
        Timer::with_action(d, Action::Wake)
    }

    #[track_caller]
    fn with_action(d: Duration, action: Action) -> Timer {
        let handle = Handle::try_current()
            .unwrap_or_else(|_| panic!("gort::time::Timer created outside a gort runtime"));
        let shared = TimerShared::new(action);
        let t = Timer { handle, shared };
        t.reset(d);
        t
    }

    /// Fires `d` from now. Returns whether the timer was still armed.
    pub fn reset(&self, d: Duration) -> bool {
        let drv = driver(&self.handle);
        let deadline = Instant::now()
            .checked_add(d)
            .unwrap_or_else(Instant::far_future);
        let when = drv.clock.ns(deadline);
        drv.arm(&self.handle, &self.shared, when)
    }

    /// Stops the timer. Returns whether this call stopped it (false if it
    /// had fired or been stopped already).
    pub fn stop(&self) -> bool {
        driver(&self.handle).stop(&self.shared)
    }
}

impl Future for Timer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let coop = std::task::ready!(gort_core::coop::poll_proceed(cx));
        if self.shared.poll_fired(cx.waker(), true) {
            coop.made_progress();
            return Poll::Ready(());
        }
        set_wait_reason(WaitReason::Sleep);
        Poll::Pending
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if matches!(self.shared.action, Action::Wake) {
            driver(&self.handle).stop(&self.shared);
        }
    }
}

/// Runs `f` in a new task after `d`, unless the returned timer is stopped
/// first (Go's `time.AfterFunc`). Awaiting the timer completes when it
/// fires, i.e. when the task running `f` has been spawned.
///
/// # Panics
/// Outside a gort runtime.
///
/// ```
/// # let rt = gort_core::runtime::Builder::new().procs(1).timers(gort_time::TimeDriver::new(true)).build().unwrap();
/// # rt.block_on(async {
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// let ran = Arc::new(AtomicBool::new(false));
/// let r = ran.clone();
/// let cancelled = gort_time::after_func(Duration::from_secs(1), || panic!("never runs"));
/// assert!(cancelled.stop());
/// let t = gort_time::after_func(Duration::from_secs(2), move || r.store(true, Ordering::SeqCst));
/// t.await;
/// gort_time::sleep(Duration::from_secs(1)).await;
/// assert!(ran.load(Ordering::SeqCst));
/// # });
/// ```
#[track_caller]
pub fn after_func<F>(d: Duration, f: F) -> Timer
where
    F: Fn() + Send + Sync + 'static,
{
    Timer::with_action(d, Action::Func(Arc::new(f)))
}
