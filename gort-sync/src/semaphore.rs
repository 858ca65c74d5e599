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
//!
//! The API is tokio's (`acquire`, `acquire_many`, `acquire_owned`,
//! `try_acquire*`, `close`, `forget_permits`, `AcquireError`,
//! `TryAcquireError::{Closed, NoPermits}`), so code written for
//! `tokio::sync::Semaphore` runs unchanged; the fairness is the same as
//! tokio's (FIFO, a large request at the head blocks smaller ones).
//! [`Semaphore::close`] fails every queued acquire and every later one;
//! permits already held stay valid.

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
/// let two = block_on(sem.acquire_many(2)).unwrap();
/// assert_eq!(sem.available_permits(), 1);
/// assert!(sem.try_acquire_many(2).is_err());
/// drop(two);
/// assert_eq!(sem.available_permits(), 3);
/// ```
pub struct Semaphore {
    state: Mutex<State>,
}

struct State {
    permits: usize,
    /// `close` was called: queued and later acquires fail. Never cleared.
    closed: bool,
    queue: WaitQueue<Waiter>,
}

struct Waiter {
    waker: Waker,
    need: usize,
    granted: bool,
}

/// Why [`Semaphore::try_acquire`] took no permits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits are free (or others are queued ahead).
    NoPermits,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

/// [`Semaphore::acquire`] failed: the semaphore was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl std::error::Error for AcquireError {}

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
    /// The most permits a semaphore holds (tokio's value); more are capped.
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` permits (at most
    /// [`MAX_PERMITS`](Semaphore::MAX_PERMITS)).
    ///
    /// ```
    /// assert_eq!(gort_sync::Semaphore::new(4).available_permits(), 4);
    /// ```
    pub fn new(permits: usize) -> Self {
        Semaphore {
            state: Mutex::new(State {
                permits: permits.min(Self::MAX_PERMITS),
                closed: false,
                queue: WaitQueue::new(),
            }),
        }
    }

    /// [`new`](Semaphore::new) usable in a `static`.
    ///
    /// ```
    /// static SEM: gort_sync::Semaphore = gort_sync::Semaphore::const_new(2);
    /// assert_eq!(SEM.available_permits(), 2);
    /// ```
    #[cfg(not(loom))]
    pub const fn const_new(permits: usize) -> Self {
        let permits = if permits > Self::MAX_PERMITS {
            Self::MAX_PERMITS
        } else {
            permits
        };
        Semaphore {
            state: Mutex::new(State {
                permits,
                closed: false,
                queue: WaitQueue::new(),
            }),
        }
    }

    /// Closes the semaphore: every queued acquire and every later one
    /// fails; permits already held stay valid and are still returned.
    ///
    /// ```
    /// use gort_sync::{Semaphore, TryAcquireError};
    /// let sem = Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    /// ```
    pub fn close(&self) {
        let mut wakers = Vec::new();
        {
            let mut st = lock(&self.state);
            st.closed = true;
            while let Some(k) = st.queue.head() {
                st.queue.unlink(k);
                let w = st.queue.get_mut(k);
                wakers.push(std::mem::replace(&mut w.waker, Waker::noop().clone()));
            }
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Whether [`close`](Semaphore::close) was called.
    ///
    /// ```
    /// assert!(!gort_sync::Semaphore::new(1).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Removes up to `n` free permits for good; returns how many.
    ///
    /// ```
    /// let sem = gort_sync::Semaphore::new(3);
    /// assert_eq!(sem.forget_permits(5), 3);
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        let mut st = lock(&self.state);
        let n = n.min(st.permits);
        st.permits -= n;
        n
    }

    /// Permits free right now (a snapshot).
    ///
    /// ```
    /// let sem = gort_sync::Semaphore::new(2);
    /// let _p = sem.try_acquire().unwrap();
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
    /// assert!(sem.try_acquire_many(2).is_ok());
    /// ```
    pub fn add_permits(&self, n: usize) {
        let mut wakers = Vec::new();
        {
            let mut st = lock(&self.state);
            st.permits = st.permits.saturating_add(n).min(Self::MAX_PERMITS);
            st.grant(&mut wakers);
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Waits for one permit, in FIFO order with other acquires (wait
    /// reason "semacquire"); `Err` if the semaphore is closed.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let sem = gort_sync::Semaphore::new(1);
    /// let p = block_on(sem.acquire()).unwrap();
    /// assert_eq!(p.num_permits(), 1);
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_n(1)
    }

    /// Waits for `n` permits at once (Go's `Weighted.Acquire(ctx, n)`).
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let sem = gort_sync::Semaphore::new(3);
    /// let p = block_on(sem.acquire_many(3)).unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(p);
    /// ```
    pub fn acquire_many(&self, n: u32) -> Acquire<'_> {
        self.acquire_n(n as usize)
    }

    fn acquire_n(&self, n: usize) -> Acquire<'_> {
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
    /// let p = block_on(sem.clone().acquire_owned()).unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(p);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// [`acquire_many`](Semaphore::acquire_many) for an `Arc<Semaphore>`.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// use std::sync::Arc;
    /// let sem = Arc::new(gort_sync::Semaphore::new(2));
    /// let p = block_on(sem.clone().acquire_many_owned(2)).unwrap();
    /// assert_eq!(p.num_permits(), 2);
    /// ```
    pub async fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        let n = n as usize;
        self.acquire_n(n).await?.forget();
        Ok(OwnedSemaphorePermit { sem: self, n })
    }

    /// Takes one permit if it is free and nobody is queued ahead.
    ///
    /// ```
    /// use gort_sync::{Semaphore, TryAcquireError};
    /// let sem = Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// drop(p);
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_n(1)
    }

    /// Takes `n` permits if they are free and nobody is queued ahead.
    ///
    /// ```
    /// let sem = gort_sync::Semaphore::new(2);
    /// assert!(sem.try_acquire_many(3).is_err());
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_n(n as usize)
    }

    fn try_acquire_n(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(TryAcquireError::Closed);
        }
        if st.queue.head().is_some() || st.permits < n {
            return Err(TryAcquireError::NoPermits);
        }
        st.permits -= n;
        Ok(SemaphorePermit { sem: self, n })
    }

    /// [`try_acquire`](Semaphore::try_acquire) for an `Arc<Semaphore>`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(gort_sync::Semaphore::new(1));
    /// let p = sem.clone().try_acquire_owned().unwrap();
    /// assert_eq!(p.num_permits(), 1);
    /// ```
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// [`try_acquire_many`](Semaphore::try_acquire_many) for an
    /// `Arc<Semaphore>`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(gort_sync::Semaphore::new(2));
    /// assert_eq!(sem.try_acquire_many_owned(2).unwrap().num_permits(), 2);
    /// ```
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        let n = n as usize;
        self.try_acquire_n(n)?.forget();
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
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let coop = ready!(poll_proceed(cx));
        // Declared before the guard, so dropped after it.
        let stale;
        let mut st = lock(&this.sem.state);
        match this.key {
            Some(k) => {
                let w = st.queue.get_mut(k);
                if !w.granted && st.closed {
                    let w = st.queue.remove(k);
                    this.key = None;
                    drop(st);
                    drop(w);
                    coop.made_progress();
                    return Poll::Ready(Err(AcquireError(())));
                }
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
            None if st.closed => {
                coop.made_progress();
                return Poll::Ready(Err(AcquireError(())));
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
        Poll::Ready(Ok(SemaphorePermit {
            sem: this.sem,
            n: this.n,
        }))
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
    /// assert_eq!(sem.try_acquire_many(3).unwrap().num_permits(), 3);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Drops the permit without giving the permits back.
    ///
    /// ```
    /// let sem = gort_sync::Semaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.n = 0;
    }

    /// Moves `other`'s permits into this one. Both must come from the same
    /// semaphore; permits of another semaphore are given back to it
    /// instead (tokio panics).
    ///
    /// ```
    /// let sem = gort_sync::Semaphore::new(3);
    /// let mut a = sem.try_acquire().unwrap();
    /// a.merge(sem.try_acquire_many(2).unwrap());
    /// assert_eq!(a.num_permits(), 3);
    /// ```
    pub fn merge(&mut self, mut other: Self) {
        if std::ptr::eq(self.sem, other.sem) {
            self.n += std::mem::take(&mut other.n);
        }
    }

    /// Splits `n` permits off into a new permit; `None` if this one holds
    /// fewer.
    ///
    /// ```
    /// let sem = gort_sync::Semaphore::new(3);
    /// let mut a = sem.try_acquire_many(3).unwrap();
    /// let b = a.split(1).unwrap();
    /// assert_eq!((a.num_permits(), b.num_permits()), (2, 1));
    /// ```
    pub fn split(&mut self, n: usize) -> Option<Self> {
        if n > self.n {
            return None;
        }
        self.n -= n;
        Some(SemaphorePermit { sem: self.sem, n })
    }
}

impl OwnedSemaphorePermit {
    /// How many permits this holds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(gort_sync::Semaphore::new(2));
    /// assert_eq!(sem.try_acquire_many_owned(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// The semaphore the permits belong to.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(gort_sync::Semaphore::new(2));
    /// let p = sem.clone().try_acquire_owned().unwrap();
    /// assert!(Arc::ptr_eq(p.semaphore(), &sem));
    /// ```
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// Drops the permit without giving the permits back.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(gort_sync::Semaphore::new(1));
    /// sem.clone().try_acquire_owned().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.n = 0;
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
