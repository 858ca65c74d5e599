//! tokio's `sync::watch`: one value, many readers, each told when it
//! changes.
//!
//! The value lives in an `RwLock` (a [`Ref`] is its read guard);
//! beside it, one lock holds the version (bumped by every send), the
//! handle counts, and the queues of tasks waiting in
//! [`Receiver::changed`] and [`Sender::closed`]. Each receiver remembers
//! the version it has seen. Lock order is always value, then state: a
//! sender bumps the version while still holding the value's write lock,
//! and a receiver reads the version while holding the read lock, so the
//! version a receiver marks seen is exactly the value it read.
//!
//! tokio's rules kept: `changed` completes at once if the newest value is
//! unseen (even after the senders are gone), otherwise waits for a send,
//! and errs once every sender is dropped; `send` fails (storing nothing)
//! when no receiver exists, `send_replace` / `send_modify` always store;
//! a new receiver (`subscribe`) starts with the current value seen.
//!
//! Receive waits record "chan receive", `Sender::closed` "chan send". A
//! closure passed to `send_modify` that panics leaves the value as the
//! closure left it but notifies nobody (tokio's rule); the poisoned lock
//! is ignored by later users.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::primitives::{
    lock, Arc, AtomicU64, Mutex, Ordering, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
use crate::waitq::{poll_receivers_gone, remove_waiter, WaitQueue};

/// tokio's `watch::error`.
pub mod error {
    use std::fmt;

    /// No receiver exists; the value is given back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub struct SendError<T>(pub T);

    /// Every sender is gone.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RecvError(pub(crate) ());

    impl<T> fmt::Debug for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("SendError { .. }")
        }
    }

    impl<T> fmt::Display for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl<T> std::error::Error for SendError<T> {}

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}
}

use error::{RecvError, SendError};

struct Shared<T> {
    value: RwLock<T>,
    state: Mutex<State>,
}

struct State {
    version: u64,
    senders: usize,
    receivers: usize,
    /// Tasks in `Receiver::changed`; all woken on a send or the last sender's
    /// drop.
    changed: WaitQueue<Waker>,
    /// Tasks in `Sender::closed`; all woken when the last receiver goes.
    closed: WaitQueue<Waker>,
}

/// Makes a watch channel holding `init` (tokio's `watch::channel`).
///
/// ```
/// let (tx, rx) = gort_sync::watch::channel("a");
/// tx.send("b").unwrap();
/// assert_eq!(*rx.borrow(), "b");
/// ```
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let tx = Sender::new(init);
    let rx = tx.subscribe();
    (tx, rx)
}

/// Sends new values; clone it to send from several tasks.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Reads the newest value and waits for changes.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version last marked seen (`u64::MAX` after `mark_changed` on
    /// version 0; the version only grows, so no real version equals it).
    seen: AtomicU64,
}

/// A read lock on the value; hold it briefly (sends wait for it).
pub struct Ref<'a, T> {
    guard: RwLockReadGuard<'a, T>,
    has_changed: bool,
}

fn read<T>(v: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    v.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(v: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    v.write().unwrap_or_else(|e| e.into_inner())
}

fn take_all(q: &mut WaitQueue<Waker>) -> Vec<Waker> {
    let mut wakers = Vec::new();
    while let Some(k) = q.head() {
        q.unlink(k);
        wakers.push(std::mem::replace(q.get_mut(k), Waker::noop().clone()));
    }
    wakers
}

impl<T> Sender<T> {
    /// A sender with no receiver yet ([`subscribe`](Sender::subscribe)
    /// makes them).
    ///
    /// ```
    /// let tx = gort_sync::watch::Sender::new(0);
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn new(init: T) -> Self {
        Sender {
            shared: Arc::new(Shared {
                value: RwLock::new(init),
                state: Mutex::new(State {
                    version: 0,
                    senders: 1,
                    receivers: 0,
                    changed: WaitQueue::new(),
                    closed: WaitQueue::new(),
                }),
            }),
        }
    }

    /// Stores `v` and notifies the receivers; `Err(v)` (nothing stored) if
    /// there is no receiver.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::watch::channel(1);
    /// tx.send(2).unwrap();
    /// drop(rx);
    /// assert_eq!(tx.send(3).unwrap_err().0, 3);
    /// assert_eq!(*tx.borrow(), 2);
    /// ```
    pub fn send(&self, v: T) -> Result<(), SendError<T>> {
        if self.receiver_count() == 0 {
            return Err(SendError(v));
        }
        drop(self.send_replace(v));
        Ok(())
    }

    /// Stores `v` even without receivers, returning the old value.
    ///
    /// ```
    /// let tx = gort_sync::watch::Sender::new(1);
    /// assert_eq!(tx.send_replace(2), 1);
    /// ```
    pub fn send_replace(&self, v: T) -> T {
        let mut old = Some(v);
        self.send_if_modified(|cur| {
            old = Some(std::mem::replace(cur, old.take().expect("set above")));
            true
        });
        old.expect("the closure ran")
    }

    /// Modifies the value in place and notifies the receivers.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::watch::channel(vec![1]);
    /// tx.send_modify(|v| v.push(2));
    /// assert_eq!(*rx.borrow(), [1, 2]);
    /// ```
    pub fn send_modify<F: FnOnce(&mut T)>(&self, modify: F) {
        self.send_if_modified(|v| {
            modify(v);
            true
        });
    }

    /// Modifies the value in place; notifies the receivers only if `modify`
    /// returns true (and returns that).
    ///
    /// ```
    /// let (tx, rx) = gort_sync::watch::channel(1);
    /// assert!(!tx.send_if_modified(|_| false));
    /// assert!(!rx.has_changed().unwrap());
    /// assert!(tx.send_if_modified(|v| { *v = 2; true }));
    /// assert!(rx.has_changed().unwrap());
    /// ```
    pub fn send_if_modified<F: FnOnce(&mut T) -> bool>(&self, modify: F) -> bool {
        let mut guard = write(&self.shared.value);
        let modified = modify(&mut guard);
        if modified {
            let wakers = {
                let mut st = lock(&self.shared.state);
                st.version += 1;
                take_all(&mut st.changed)
            };
            drop(guard);
            wakers.into_iter().for_each(Waker::wake);
        }
        modified
    }

    /// The current value (not marked seen anywhere).
    ///
    /// ```
    /// let tx = gort_sync::watch::Sender::new(5);
    /// assert_eq!(*tx.borrow(), 5);
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: read(&self.shared.value),
            has_changed: false,
        }
    }

    /// A new receiver, with the current value marked seen.
    ///
    /// ```
    /// let tx = gort_sync::watch::Sender::new(0);
    /// let rx = tx.subscribe();
    /// assert!(!rx.has_changed().unwrap());
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        let version = {
            let mut st = lock(&self.shared.state);
            st.receivers += 1;
            st.version
        };
        Receiver {
            shared: self.shared.clone(),
            seen: AtomicU64::new(version),
        }
    }

    /// Live receivers.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::watch::channel(0);
    /// let _rx2 = rx.clone();
    /// assert_eq!(tx.receiver_count(), 2);
    /// ```
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared.state).receivers
    }

    /// Live senders.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::watch::channel(0);
    /// assert_eq!(tx.clone().sender_count(), 2);
    /// ```
    pub fn sender_count(&self) -> usize {
        lock(&self.shared.state).senders
    }

    /// Whether every receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::watch::channel(0);
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Completes once every receiver is gone.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (tx, rx) = gort_sync::watch::channel(0);
    /// drop(rx);
    /// block_on(tx.closed());
    /// ```
    pub fn closed(&self) -> Closed<'_, T> {
        Closed {
            shared: &self.shared,
            key: None,
        }
    }

    /// Whether both senders belong to one channel.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::watch::channel(0);
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// The future of [`Sender::closed`].
#[must_use = "futures do nothing unless polled"]
pub struct Closed<'a, T> {
    shared: &'a Shared<T>,
    key: Option<usize>,
}

impl<T> Future for Closed<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        poll_receivers_gone(
            &this.shared.state,
            &mut this.key,
            cx,
            |s| s.receivers,
            |s| &mut s.closed,
        )
    }
}

impl<T> Drop for Closed<'_, T> {
    fn drop(&mut self) {
        remove_waiter(&self.shared.state, self.key, |s| &mut s.closed);
    }
}

impl<T> fmt::Debug for Closed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closed")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}

impl<T> Receiver<T> {
    /// The newest value, without marking it seen.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert_eq!(*rx.borrow(), 2);
    /// assert!(rx.has_changed().unwrap(), "borrow does not mark it seen");
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        let guard = read(&self.shared.value);
        let version = lock(&self.shared.state).version;
        Ref {
            guard,
            has_changed: version != self.seen.load(Ordering::Relaxed),
        }
    }

    /// The newest value, marking it seen.
    ///
    /// ```
    /// let (tx, mut rx) = gort_sync::watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert!(rx.borrow_and_update().has_changed());
    /// assert!(!rx.has_changed().unwrap());
    /// ```
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        self.borrow_and_mark()
    }

    fn borrow_and_mark(&self) -> Ref<'_, T> {
        let guard = read(&self.shared.value);
        let version = lock(&self.shared.state).version;
        let seen = self.seen.swap(version, Ordering::Relaxed);
        Ref {
            guard,
            has_changed: version != seen,
        }
    }

    /// Whether a value not yet seen is there; `Err` once every sender is
    /// gone.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::watch::channel(1);
    /// assert_eq!(rx.has_changed(), Ok(false));
    /// drop(tx);
    /// assert!(rx.has_changed().is_err());
    /// ```
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let st = lock(&self.shared.state);
        if st.senders == 0 {
            return Err(RecvError(()));
        }
        Ok(st.version != self.seen.load(Ordering::Relaxed))
    }

    /// Marks the current value unseen: the next `changed` completes at once.
    ///
    /// ```
    /// let (_tx, mut rx) = gort_sync::watch::channel(1);
    /// rx.mark_changed();
    /// assert_eq!(rx.has_changed(), Ok(true));
    /// ```
    pub fn mark_changed(&mut self) {
        let version = lock(&self.shared.state).version;
        self.seen.store(version.wrapping_sub(1), Ordering::Relaxed);
    }

    /// Marks the current value seen.
    ///
    /// ```
    /// let (tx, mut rx) = gort_sync::watch::channel(1);
    /// tx.send(2).unwrap();
    /// rx.mark_unchanged();
    /// assert_eq!(rx.has_changed(), Ok(false));
    /// ```
    pub fn mark_unchanged(&mut self) {
        let version = lock(&self.shared.state).version;
        self.seen.store(version, Ordering::Relaxed);
    }

    /// Waits for a value not yet seen and marks it seen: at once if there
    /// is one; `Err` once every sender is gone and nothing new is left.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (tx, mut rx) = gort_sync::watch::channel(1);
    /// tx.send(2).unwrap();
    /// drop(tx);
    /// assert!(block_on(rx.changed()).is_ok());
    /// assert!(block_on(rx.changed()).is_err());
    /// ```
    pub fn changed(&mut self) -> Changed<'_, T> {
        Changed {
            rx: self,
            key: None,
        }
    }

    /// Waits until the value satisfies `f` (checking the current value
    /// first), marking it seen; `Err` once every sender is gone and the
    /// last value does not satisfy `f`.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (tx, mut rx) = gort_sync::watch::channel(1);
    /// tx.send(5).unwrap();
    /// assert_eq!(*block_on(rx.wait_for(|v| *v > 3)).unwrap(), 5);
    /// ```
    pub async fn wait_for(
        &mut self,
        mut f: impl FnMut(&T) -> bool,
    ) -> Result<Ref<'_, T>, RecvError> {
        let this: &Self = self;
        loop {
            let r = this.borrow_and_mark();
            if f(&r) {
                return Ok(r);
            }
            drop(r);
            (Changed {
                rx: this,
                key: None,
            })
            .await?;
        }
    }

    /// Whether every sender is gone.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::watch::channel(());
    /// assert!(!rx.is_closed());
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.state).senders == 0
    }

    /// Whether both receivers belong to one channel.
    ///
    /// ```
    /// let (_tx, rx) = gort_sync::watch::channel(0);
    /// assert!(rx.same_channel(&rx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// The future of [`Receiver::changed`].
#[must_use = "futures do nothing unless polled"]
pub struct Changed<'a, T> {
    rx: &'a Receiver<T>,
    key: Option<usize>,
}

impl<T> Future for Changed<'_, T> {
    type Output = Result<(), RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let coop = ready!(poll_proceed(cx));
        let shared = &this.rx.shared;
        let stale;
        let mut st = lock(&shared.state);
        let seen = this.rx.seen.load(Ordering::Relaxed);
        let done = if st.version != seen {
            this.rx.seen.store(st.version, Ordering::Relaxed);
            Some(Ok(()))
        } else if st.senders == 0 {
            Some(Err(RecvError(())))
        } else {
            None
        };
        if let Some(r) = done {
            let w = this.key.take().map(|k| st.changed.remove(k));
            drop(st);
            drop(w);
            coop.made_progress();
            return Poll::Ready(r);
        }
        stale = st.changed.relink(&mut this.key, cx.waker());
        drop(st);
        drop(stale);
        set_wait_reason(WaitReason::ChanReceive);
        Poll::Pending
    }
}

impl<T> Drop for Changed<'_, T> {
    fn drop(&mut self) {
        remove_waiter(&self.rx.shared.state, self.key, |s| &mut s.changed);
    }
}

impl<T> Ref<'_, T> {
    /// Whether this value was unseen by the receiver when borrowed (always
    /// false for [`Sender::borrow`]).
    ///
    /// ```
    /// let (tx, rx) = gort_sync::watch::channel(0);
    /// tx.send(1).unwrap();
    /// assert!(rx.borrow().has_changed());
    /// ```
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        lock(&self.shared.state).senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        lock(&self.shared.state).receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            seen: AtomicU64::new(self.seen.load(Ordering::Relaxed)),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let wakers = {
            let mut st = lock(&self.shared.state);
            st.senders -= 1;
            if st.senders > 0 {
                return;
            }
            take_all(&mut st.changed)
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let wakers = {
            let mut st = lock(&self.shared.state);
            st.receivers -= 1;
            if st.receivers > 0 {
                return;
            }
            take_all(&mut st.closed)
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("value", &*self.borrow())
            .finish()
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("value", &*self.borrow())
            .finish()
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T> fmt::Debug for Changed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Changed")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}
