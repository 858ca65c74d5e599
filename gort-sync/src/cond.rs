//! `Cond`: Go's `sync.Cond` (sync/cond.go, runtime `notifyList`).
//!
//! A waiter joins the notify list *before* it unlocks the mutex (Go's
//! `notifyListAdd` then `L.Unlock()`), so a `signal` sent between the
//! unlock and the wait is not lost. `signal` wakes the oldest waiter,
//! `broadcast` every waiter; the woken task then re-locks the mutex.
//!
//! Departure from Go: a wait may be cancelled (its future dropped). A
//! cancelled waiter that had already been signalled passes the signal to
//! the next waiter, so `signal` is never swallowed by a task that went
//! away.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::mutex::{refresh_waker, MutexGuard};
use crate::primitives::{lock, Mutex};
use crate::waitq::WaitQueue;

/// A condition variable for [`Mutex`](crate::Mutex) (Go's `sync.Cond`).
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } std::thread::yield_now(); }
/// # }
/// use std::sync::Arc;
/// let pair = Arc::new((gort_sync::Mutex::new(false), gort_sync::Cond::new()));
/// let p2 = pair.clone();
/// let t = std::thread::spawn(move || {
///     block_on(async {
///         *p2.0.lock().await = true;
///         p2.1.signal();
///     })
/// });
/// block_on(async {
///     let (m, cond) = &*pair;
///     let mut ready = m.lock().await;
///     while !*ready {
///         ready = cond.wait(ready).await;
///     }
/// });
/// t.join().unwrap();
/// ```
pub struct Cond {
    waiters: Mutex<WaitQueue<Waiter>>,
}

struct Waiter {
    waker: Waker,
    notified: bool,
}

impl Cond {
    /// A condition variable with no waiters.
    ///
    /// ```
    /// gort_sync::Cond::new().broadcast(); // nobody to wake
    /// ```
    pub fn new() -> Self {
        Cond {
            waiters: Mutex::new(WaitQueue::new()),
        }
    }

    /// Unlocks `guard`'s mutex, waits for [`signal`](Cond::signal) or
    /// [`broadcast`](Cond::broadcast) (wait reason "sync.Cond.Wait"), then
    /// locks it again. As in Go, re-check the condition in a loop.
    ///
    /// See [`Cond`] for an example.
    pub async fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex = MutexGuard::mutex(&guard);
        let notified = Notified {
            cond: self,
            key: Some(lock(&self.waiters).push_back(Waiter {
                waker: Waker::noop().clone(),
                notified: false,
            })),
        };
        drop(guard);
        notified.await;
        mutex.lock().await
    }

    /// Wakes the oldest waiter, if any.
    ///
    /// ```
    /// gort_sync::Cond::new().signal();
    /// ```
    pub fn signal(&self) {
        let waker = Self::notify_one(&mut lock(&self.waiters));
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes every waiter.
    ///
    /// ```
    /// gort_sync::Cond::new().broadcast();
    /// ```
    pub fn broadcast(&self) {
        let wakers: Vec<Waker> = {
            let mut q = lock(&self.waiters);
            std::iter::from_fn(|| Self::notify_one(&mut q)).collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    fn notify_one(q: &mut WaitQueue<Waiter>) -> Option<Waker> {
        let k = q.head()?;
        q.unlink(k);
        let w = q.get_mut(k);
        w.notified = true;
        Some(std::mem::replace(&mut w.waker, Waker::noop().clone()))
    }
}

/// Waits for this waiter's notification.
struct Notified<'a> {
    cond: &'a Cond,
    key: Option<usize>,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let coop = ready!(poll_proceed(cx));
        let k = this.key.expect("Notified polled after completion");
        // Declared before the guard, so dropped after it.
        let stale;
        let mut q = lock(&this.cond.waiters);
        let w = q.get_mut(k);
        if !w.notified {
            stale = refresh_waker(&mut w.waker, cx.waker());
            drop(q);
            drop(stale);
            set_wait_reason(WaitReason::CondWait);
            return Poll::Pending;
        }
        q.remove(k);
        this.key = None;
        coop.made_progress();
        Poll::Ready(())
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(k) = self.key else { return };
        let (ours, next) = {
            let mut q = lock(&self.cond.waiters);
            let ours = q.remove(k);
            let next = if ours.notified {
                Cond::notify_one(&mut q)
            } else {
                None
            };
            (ours, next)
        };
        drop(ours);
        if let Some(w) = next {
            w.wake();
        }
    }
}

impl Default for Cond {
    fn default() -> Self {
        Cond::new()
    }
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cond").finish_non_exhaustive()
    }
}
