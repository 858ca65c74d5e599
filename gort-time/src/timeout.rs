//! `timeout` and `timeout_at` (tokio's names; Go writes them as a select
//! between the operation and `time.After`).

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::clock::Instant;
use crate::sleep::{sleep, sleep_until, Sleep};

/// The error of a [`timeout`] whose deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> std::io::Error {
        std::io::ErrorKind::TimedOut.into()
    }
}

/// Runs `future` for at most `duration`: its output, or `Err(Elapsed)`.
///
/// The future is polled before the timer, so a future that is ready at
/// once wins even with a zero duration, and never registers a timer.
///
/// ```
/// # let rt = gort_core::runtime::Builder::new().procs(1).timers(gort_time::TimeDriver::new(false)).build().unwrap();
/// # rt.block_on(async {
/// use std::time::Duration;
/// let ok = gort_time::timeout(Duration::from_secs(1), async { 7 }).await;
/// assert_eq!(ok, Ok(7));
/// let late = gort_time::timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
/// assert!(late.is_err());
/// # });
/// ```
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        future: future.into_future(),
        delay: sleep(duration).without_zero_yield(),
    }
}

/// Runs `future` until `deadline`: its output, or `Err(Elapsed)`.
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        future: future.into_future(),
        delay: sleep_until(deadline),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`timeout`] / [`timeout_at`].
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        delay: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The wrapped future, mutably.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    /// The wrapped future, dropping the timer.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        // The inner future may have spent the budget; the deadline must
        // still be able to fire, so the timer is polled unconstrained.
        let delay = Pin::new(this.delay);
        match gort_core::coop::unconstrained(|| delay.poll(cx)) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}
