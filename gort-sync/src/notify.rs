//! tokio's `Notify`: wake one waiting task, or all of them, without data.
//!
//! One lock around: a single stored permit, a FIFO queue of registered
//! [`Notified`] futures, and a count of `notify_waiters` calls. It is Go's
//! `sync.Cond` plus a one-permit memory, with tokio's rules:
//!
//! - [`Notify::notify_one`] completes the oldest registered waiter; if none
//!   is registered it stores the permit (at most one: two calls with nobody
//!   waiting store one permit). The next `notified()` to be polled consumes
//!   it.
//! - [`Notify::notify_waiters`] completes every registered waiter *and*
//!   every `Notified` created before the call, even if not yet polled
//!   (each future remembers the call count at creation); it stores no
//!   permit.
//! - A future registers on its first poll or [`Notified::enable`]. One that
//!   was completed by `notify_one` and is dropped before it returned passes
//!   the notification on to the next waiter (or back to the permit), so a
//!   cancelled waiter loses no wake-up.
//!
//! Waits record the wait reason "sync.Notify.Notified".

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::primitives::{lock, Mutex};
use crate::waitq::WaitQueue;
// std's Arc even under loom: `notified_owned` takes `self: Arc<Self>`,
// which only std's Arc allows as a receiver on stable.
use std::sync::Arc;

/// Notifies tasks (tokio's `Notify`).
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let notify = gort_sync::Notify::new();
/// notify.notify_one(); // nobody waits: the permit is stored
/// block_on(notify.notified()); // and consumed here
/// ```
pub struct Notify {
    state: Mutex<State>,
}

struct State {
    permit: bool,
    /// `notify_waiters` calls so far (wrapping).
    calls: usize,
    waiters: WaitQueue<Waiter>,
}

struct Waiter {
    waker: Option<Waker>,
    notified: Option<Kind>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `notify_one`: the oldest waiter was picked.
    One,
    /// `notify_last`: the newest waiter was picked.
    Last,
    All,
}

/// Where a `Notified` future is.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Not registered yet.
    Init,
    /// Registered as this waiter key.
    Waiting(usize),
    Done,
}

#[derive(Debug)]
struct Registration {
    /// `notify_waiters` calls when the future was created.
    calls: usize,
    step: Step,
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    notify: &'a Notify,
    reg: Registration,
}

/// The future of [`Notify::notified_owned`]: owns an `Arc<Notify>`.
#[must_use = "futures do nothing unless polled"]
pub struct OwnedNotified {
    notify: Arc<Notify>,
    reg: Registration,
}

impl Notify {
    /// A `Notify` with no permit and no waiters.
    ///
    /// ```
    /// let _n = gort_sync::Notify::new();
    /// ```
    pub fn new() -> Self {
        Notify {
            state: Mutex::new(State {
                permit: false,
                calls: 0,
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// [`new`](Notify::new) usable in a `static`.
    ///
    /// ```
    /// static N: gort_sync::Notify = gort_sync::Notify::const_new();
    /// N.notify_one();
    /// ```
    #[cfg(not(loom))]
    pub const fn const_new() -> Self {
        Notify {
            state: Mutex::new(State {
                permit: false,
                calls: 0,
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// A future completed by `notify_one` (or a stored permit) once it is
    /// polled or enabled, and by any `notify_waiters` call made after this
    /// call.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let notify = gort_sync::Notify::new();
    /// let fut = notify.notified();
    /// notify.notify_waiters(); // reaches `fut`, created before the call
    /// block_on(fut);
    /// ```
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            reg: Registration {
                calls: lock(&self.state).calls,
                step: Step::Init,
            },
        }
    }

    /// [`notified`](Notify::notified) for an `Arc<Notify>` (for `'static`
    /// futures).
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let notify = std::sync::Arc::new(gort_sync::Notify::new());
    /// notify.notify_one();
    /// block_on(notify.clone().notified_owned());
    /// ```
    pub fn notified_owned(self: Arc<Self>) -> OwnedNotified {
        let calls = lock(&self.state).calls;
        OwnedNotified {
            notify: self,
            reg: Registration {
                calls,
                step: Step::Init,
            },
        }
    }

    /// Completes the oldest registered waiter, or stores one permit if none
    /// is registered.
    ///
    /// ```
    /// let notify = gort_sync::Notify::new();
    /// notify.notify_one();
    /// notify.notify_one(); // still one permit
    /// ```
    pub fn notify_one(&self) {
        self.notify_from(Kind::One);
    }

    /// Like [`notify_one`](Notify::notify_one) but completes the newest
    /// registered waiter.
    ///
    /// ```
    /// let notify = gort_sync::Notify::new();
    /// notify.notify_last();
    /// ```
    pub fn notify_last(&self) {
        self.notify_from(Kind::Last);
    }

    fn notify_from(&self, kind: Kind) {
        let waker = {
            let mut st = lock(&self.state);
            st.notify_one(kind)
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Completes every registered waiter and every `Notified` created
    /// before this call; stores no permit.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let notify = gort_sync::Notify::new();
    /// let (a, b) = (notify.notified(), notify.notified());
    /// notify.notify_waiters();
    /// block_on(a);
    /// block_on(b);
    /// ```
    pub fn notify_waiters(&self) {
        let wakers: Vec<Waker> = {
            let mut st = lock(&self.state);
            st.calls = st.calls.wrapping_add(1);
            let mut wakers = Vec::new();
            while let Some(k) = st.waiters.head() {
                st.waiters.unlink(k);
                let w = st.waiters.get_mut(k);
                w.notified = Some(Kind::All);
                wakers.extend(w.waker.take());
            }
            wakers
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl State {
    /// Completes the oldest (`One`) or newest (`Last`) waiter, or stores
    /// the permit; returns the waker to wake after unlocking.
    fn notify_one(&mut self, kind: Kind) -> Option<Waker> {
        let pick = match kind {
            Kind::Last => self.waiters.tail(),
            Kind::One | Kind::All => self.waiters.head(),
        };
        match pick {
            Some(k) => {
                self.waiters.unlink(k);
                let w = self.waiters.get_mut(k);
                w.notified = Some(kind);
                w.waker.take()
            }
            None => {
                self.permit = true;
                None
            }
        }
    }
}

impl Registration {
    /// Registers (if not yet) and reports whether the future is notified.
    /// `waker` is `None` for `enable`.
    fn poll(&mut self, notify: &Notify, waker: Option<&Waker>) -> bool {
        let stale;
        let mut st = lock(&notify.state);
        match self.step {
            Step::Done => true,
            Step::Init => {
                if st.calls != self.calls || std::mem::take(&mut st.permit) {
                    self.step = Step::Done;
                    return true;
                }
                let k = st.waiters.push_back(Waiter {
                    waker: waker.cloned(),
                    notified: None,
                });
                self.step = Step::Waiting(k);
                false
            }
            Step::Waiting(k) => {
                if st.waiters.get(k).notified.is_some() || st.calls != self.calls {
                    let w = st.waiters.remove(k);
                    drop(st);
                    drop(w);
                    self.step = Step::Done;
                    return true;
                }
                let Some(waker) = waker else { return false };
                let w = st.waiters.get_mut(k);
                stale = match &w.waker {
                    Some(old) if old.will_wake(waker) => None,
                    _ => w.waker.replace(waker.clone()),
                };
                drop(st);
                drop(stale);
                false
            }
        }
    }

    fn poll_fut(&mut self, notify: &Notify, cx: &mut Context<'_>) -> Poll<()> {
        if let Step::Done = self.step {
            return Poll::Ready(());
        }
        let coop = ready!(poll_proceed(cx));
        if self.poll(notify, Some(cx.waker())) {
            coop.made_progress();
            Poll::Ready(())
        } else {
            set_wait_reason(WaitReason::NotifyWait);
            Poll::Pending
        }
    }

    /// Unregisters; a `notify_one` (`notify_last`) this waiter received but
    /// never returned goes to the oldest (newest) remaining waiter or back
    /// to the permit.
    fn drop_in(&mut self, notify: &Notify) {
        let Step::Waiting(k) = self.step else { return };
        let (w, forward) = {
            let mut st = lock(&notify.state);
            let w = st.waiters.remove(k);
            let forward = match w.notified {
                Some(kind @ (Kind::One | Kind::Last)) => st.notify_one(kind),
                _ => None,
            };
            (w, forward)
        };
        drop(w);
        if let Some(f) = forward {
            f.wake();
        }
    }
}

impl Notified<'_> {
    /// Registers this future to receive `notify_one` without polling it;
    /// `true` if it is already notified (then the next poll is `Ready`).
    ///
    /// ```
    /// let notify = gort_sync::Notify::new();
    /// let mut fut = std::pin::pin!(notify.notified());
    /// assert!(!fut.as_mut().enable());
    /// notify.notify_one(); // goes to `fut`, not to the permit
    /// assert!(fut.as_mut().enable());
    /// ```
    pub fn enable(self: Pin<&mut Self>) -> bool {
        let this = self.get_mut();
        this.reg.poll(this.notify, None)
    }
}

impl OwnedNotified {
    /// [`Notified::enable`] for the owned future.
    ///
    /// ```
    /// let notify = std::sync::Arc::new(gort_sync::Notify::new());
    /// let mut fut = std::pin::pin!(notify.clone().notified_owned());
    /// assert!(!fut.as_mut().enable());
    /// ```
    pub fn enable(self: Pin<&mut Self>) -> bool {
        let this = self.get_mut();
        this.reg.poll(&this.notify, None)
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.reg.poll_fut(this.notify, cx)
    }
}

impl Future for OwnedNotified {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.reg.poll_fut(&this.notify, cx)
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        self.reg.drop_in(self.notify);
    }
}

impl Drop for OwnedNotified {
    fn drop(&mut self) {
        self.reg.drop_in(&self.notify);
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify")
            .field("permit", &lock(&self.state).permit)
            .finish()
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("step", &self.reg.step)
            .finish()
    }
}

impl fmt::Debug for OwnedNotified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedNotified")
            .field("step", &self.reg.step)
            .finish()
    }
}
