//! `Semaphore`: a weighted, FIFO counting semaphore — Go's
//! `golang.org/x/sync/semaphore.Weighted`, and the `semacquire` wait of the
//! runtime.
//!
//! Permits and a FIFO queue of waiting acquires live under one lock. An
//! acquire of `n` succeeds at once only if nobody is queued and `n`
//! permits are free; otherwise it queues. Releasing permits grants them to
//! waiters strictly in order: a large request at the head blocks smaller
//! ones behind it (as `x/sync/semaphore` does), so no request starves.
//!
//! Cancellation: a queued acquire that is dropped leaves the queue (and may
//! unblock smaller requests behind it); one that was already granted gives
//! its permits back.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::mutex::refresh_waker;
use crate::primitives::{lock, Mutex};
use crate::waitq::WaitQueue;

/// A weighted counting semaphore with FIFO fairness.
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let sem = gort_sync::Semaphore::new(3);
/// let two = block_on(sem.acquire(2));
/// assert_eq!(sem.available_permits(), 1);
/// assert!(sem.try_acquire(2).is_err());
/// drop(two);
/// assert_eq!(sem.available_permits(), 3);
/// ```
pub struct Semaphore {
    state: Mutex<State>,
}

struct State {
    permits: usize,
    queue: WaitQueue<Waiter>,
}

struct Waiter {
    waker: Waker,
    need: usize,
    granted: bool,
}

/// [`Semaphore::try_acquire`] could not take the permits right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryAcquireError;

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not enough permits available")
    }
}

impl std::error::Error for TryAcquireError {}

/// Permits borrowed from a [`Semaphore`]; given back on drop.
#[must_use = "the permits are released as soon as this is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

/// Permits from an `Arc<Semaphore>`, usable in `'static` tasks; given back
/// on drop.
#[must_use = "the permits are released as soon as this is dropped"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    n: usize,
}

impl State {
    /// Grants permits to the queue head while they suffice, in order.
    fn grant(&mut self, wakers: &mut Vec<Waker>) {
        while let Some(k) = self.queue.head() {
            let w = self.queue.get_mut(k);
            if w.need > self.permits {
                break;
            }
            self.permits -= w.need;
            w.granted = true;
            wakers.push(std::mem::replace(&mut w.waker, Waker::noop().clone()));
            self.queue.unlink(k);
        }
    }
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// ```
    /// assert_eq!(gort_sync::Semaphore::new(4).available_permits(), 4);
    /// ```
    pub fn new(permits: usize) -> Self {
        Semaphore {
            state: Mutex::new(State {
                permits,
                queue: WaitQueue::new(),
            }),
        }
    }

    /// Permits free right now (a snapshot).
    ///
    /// ```
    /// let sem = gort_sync::Semaphore::new(2);
    /// let _p = sem.try_acquire(1).unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        lock(&self.state).permits
    }

    /// Adds `n` permits, granting them to waiters in order.
    ///
    /// ```
    /// let sem = gort_sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert!(sem.try_acquire(2).is_ok());
    /// ```
    pub fn add_permits(&self, n: usize) {
        let mut wakers = Vec::new();
        {
            let mut st = lock(&self.state);
            st.permits += n;
            st.grant(&mut wakers);
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Waits for `n` permits, in FIFO order with other acquires (wait reason
    /// "semacquire").
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let sem = gort_sync::Semaphore::new(1);
    /// let p = block_on(sem.acquire(1));
    /// assert_eq!(p.num_permits(), 1);
    /// ```
    pub fn acquire(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            n,
            key: None,
        }
    }

    /// [`acquire`](Semaphore::acquire) for an `Arc<Semaphore>`: the permit
    /// keeps the semaphore alive.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// use std::sync::Arc;
    /// let sem = Arc::new(gort_sync::Semaphore::new(1));
    /// let p = block_on(sem.clone().acquire_owned(1));
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(p);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub async fn acquire_owned(self: Arc<Self>, n: usize) -> OwnedSemaphorePermit {
        self.acquire(n).await.forget();
        OwnedSemaphorePermit { sem: self, n }
    }

    /// Takes `n` permits if they are free and nobody is queued ahead.
    ///
    /// ```
    /// let sem = gort_sync::Semaphore::new(1);
    /// let p = sem.try_acquire(1).unwrap();
    /// assert!(sem.try_acquire(1).is_err());
    /// drop(p);
    /// ```
    pub fn try_acquire(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let mut st = lock(&self.state);
        if st.queue.head().is_some() || st.permits < n {
            return Err(TryAcquireError);
        }
        st.permits -= n;
        Ok(SemaphorePermit { sem: self, n })
    }

    /// [`try_acquire`](Semaphore::try_acquire) for an `Arc<Semaphore>`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(gort_sync::Semaphore::new(1));
    /// let p = sem.clone().try_acquire_owned(1).unwrap();
    /// assert_eq!(p.num_permits(), 1);
    /// ```
    pub fn try_acquire_owned(
        self: Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire(n)?.forget();
        Ok(OwnedSemaphorePermit { sem: self, n })
    }
}

/// The future of [`Semaphore::acquire`].
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    n: usize,
    key: Option<usize>,
}

impl<'a> Future for Acquire<'a> {
    type Output = SemaphorePermit<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphorePermit<'a>> {
        let this = self.get_mut();
        let coop = ready!(poll_proceed(cx));
        // Declared before the guard, so dropped after it.
        let stale;
        let mut st = lock(&this.sem.state);
        match this.key {
            Some(k) => {
                let w = st.queue.get_mut(k);
                if !w.granted {
                    stale = refresh_waker(&mut w.waker, cx.waker());
                    drop(st);
                    drop(stale);
                    set_wait_reason(WaitReason::SemAcquire);
                    return Poll::Pending;
                }
                st.queue.remove(k);
                this.key = None;
            }
            None if st.queue.head().is_none() && st.permits >= this.n => st.permits -= this.n,
            None => {
                this.key = Some(st.queue.push_back(Waiter {
                    waker: cx.waker().clone(),
                    need: this.n,
                    granted: false,
                }));
                set_wait_reason(WaitReason::SemAcquire);
                return Poll::Pending;
            }
        }
        coop.made_progress();
        Poll::Ready(SemaphorePermit {
            sem: this.sem,
            n: this.n,
        })
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(k) = self.key else { return };
        let mut wakers = Vec::new();
        let w = {
            let mut st = lock(&self.sem.state);
            let w = st.queue.remove(k);
            if w.granted {
                st.permits += w.need;
            }
            st.grant(&mut wakers);
            w
        };
        drop(w);
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    ///
    /// ```
    /// let sem = gort_sync::Semaphore::new(5);
    /// assert_eq!(sem.try_acquire(3).unwrap().num_permits(), 3);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Drops the permit without giving the permits back.
    ///
    /// ```
    /// let sem = gort_sync::Semaphore::new(1);
    /// sem.try_acquire(1).unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl OwnedSemaphorePermit {
    /// How many permits this holds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(gort_sync::Semaphore::new(2));
    /// assert_eq!(sem.try_acquire_owned(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.add_permits(self.n);
        }
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.add_permits(self.n);
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("n", &self.n)
            .finish()
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("n", &self.n)
            .finish()
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("n", &self.n)
            .field("queued", &self.key.is_some())
            .finish()
    }
}
