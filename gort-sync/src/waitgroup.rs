//! `WaitGroup`: Go's `sync.WaitGroup` (sync/waitgroup.go).
//!
//! A counter and a list of waiters under one lock. `add` changes the
//! counter; when it reaches zero every waiter is released. Go packs the
//! counter and the waiter count into one atomic word and panics on a
//! negative counter; gort keeps a lock (a `WaitGroup` is not a hot path) and
//! returns [`NegativeCounter`] instead, leaving the counter unchanged.
//! Clones share one counter, as passing `&wg` does in Go.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::mutex::refresh_waker;
use crate::primitives::{lock, Arc, Mutex};
use crate::waitq::WaitQueue;

/// Waits for a collection of tasks to finish (Go's `sync.WaitGroup`).
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let wg = gort_sync::WaitGroup::new();
/// wg.add(2).unwrap();
/// for _ in 0..2 {
///     let wg = wg.clone();
///     std::thread::spawn(move || wg.done().unwrap()).join().unwrap();
/// }
/// block_on(wg.wait());
/// assert_eq!(wg.count(), 0);
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Mutex<State>>,
}

struct State {
    count: usize,
    waiters: WaitQueue<Waiter>,
}

struct Waiter {
    waker: Waker,
    released: bool,
}

/// [`WaitGroup::add`] would make the counter negative (Go panics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegativeCounter;

impl fmt::Display for NegativeCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sync: negative WaitGroup counter")
    }
}

impl std::error::Error for NegativeCounter {}

impl WaitGroup {
    /// A wait group with counter zero.
    ///
    /// ```
    /// assert_eq!(gort_sync::WaitGroup::new().count(), 0);
    /// ```
    pub fn new() -> Self {
        WaitGroup {
            inner: Arc::new(Mutex::new(State {
                count: 0,
                waiters: WaitQueue::new(),
            })),
        }
    }

    /// Adds `delta` (may be negative) to the counter; at zero every waiter
    /// is released. `Err(NegativeCounter)` leaves the counter unchanged.
    ///
    /// ```
    /// let wg = gort_sync::WaitGroup::new();
    /// wg.add(1).unwrap();
    /// assert!(wg.add(-2).is_err());
    /// assert_eq!(wg.count(), 1);
    /// ```
    pub fn add(&self, delta: isize) -> Result<(), NegativeCounter> {
        let wakers: Vec<Waker> = {
            let mut st = lock(&self.inner);
            let count = st.count.checked_add_signed(delta).ok_or(NegativeCounter)?;
            st.count = count;
            if count > 0 {
                return Ok(());
            }
            let mut wakers = Vec::new();
            while let Some(k) = st.waiters.head() {
                st.waiters.unlink(k);
                let w = st.waiters.get_mut(k);
                w.released = true;
                wakers.push(std::mem::replace(&mut w.waker, Waker::noop().clone()));
            }
            wakers
        };
        wakers.into_iter().for_each(Waker::wake);
        Ok(())
    }

    /// Decrements the counter (Go's `Done`).
    ///
    /// ```
    /// let wg = gort_sync::WaitGroup::new();
    /// wg.add(1).unwrap();
    /// wg.done().unwrap();
    /// assert!(wg.done().is_err());
    /// ```
    pub fn done(&self) -> Result<(), NegativeCounter> {
        self.add(-1)
    }

    /// The counter right now (a snapshot).
    ///
    /// ```
    /// let wg = gort_sync::WaitGroup::new();
    /// wg.add(3).unwrap();
    /// assert_eq!(wg.count(), 3);
    /// ```
    pub fn count(&self) -> usize {
        lock(&self.inner).count
    }

    /// Waits until the counter is zero (wait reason "sync.WaitGroup.Wait").
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let wg = gort_sync::WaitGroup::new();
    /// block_on(wg.wait()); // zero: returns at once
    /// ```
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            wg: self,
            key: None,
        }
    }
}

/// The future of [`WaitGroup::wait`].
#[must_use = "futures do nothing unless polled"]
pub struct Wait<'a> {
    wg: &'a WaitGroup,
    key: Option<usize>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let coop = ready!(poll_proceed(cx));
        // Declared before the guard, so dropped after it.
        let stale;
        let mut st = lock(&this.wg.inner);
        if let Some(k) = this.key {
            let w = st.waiters.get_mut(k);
            if !w.released {
                stale = refresh_waker(&mut w.waker, cx.waker());
                drop(st);
                drop(stale);
                set_wait_reason(WaitReason::WaitGroupWait);
                return Poll::Pending;
            }
            st.waiters.remove(k);
            this.key = None;
        } else if st.count > 0 {
            this.key = Some(st.waiters.push_back(Waiter {
                waker: cx.waker().clone(),
                released: false,
            }));
            set_wait_reason(WaitReason::WaitGroupWait);
            return Poll::Pending;
        }
        coop.made_progress();
        Poll::Ready(())
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(k) = self.key {
            // The statement ends (releasing the lock) before `w` is dropped.
            let w = lock(&self.wg.inner).waiters.remove(k);
            drop(w);
        }
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}
