//! tokio's `sync::mpsc`, built on gort's Go channel core.
//!
//! [`channel`] and [`unbounded_channel`] make a channel with one
//! [`Receiver`] and cloneable [`Sender`]s, with tokio's names, methods and
//! error types (see [`error`]). Underneath is the same `Chan` as
//! [`chan`](crate::chan): one lock, a ring buffer, FIFO queues of blocked
//! senders and receivers, direct hand-off. So a `recv()` or `send(v)` written
//! directly as a [`select!`](crate::select!) case is a channel case and
//! commits exactly once: a losing `recv` never takes a value.
//!
//! ## tokio's semantics, and how the core provides them
//! - The channel closes for the receiver when every [`Sender`] is dropped
//!   ([`WeakSender`]s don't count): buffered values drain first, then
//!   `recv` returns `None`. That is the core's "last sender closes".
//! - [`Receiver::close`] is the core's `closechan`: sends fail from then
//!   on, buffered values still drain. Reservations ([`Permit`]) taken before
//!   it can still send, and `recv` does not return `None` while one is
//!   outstanding (the core counts them like values in flight).
//! - Dropping the [`Receiver`] makes every send fail with the value given
//!   back and drops the buffered values.
//! - [`Sender::reserve`] waits in the senders' FIFO queue for a buffer slot
//!   and holds it (the core's `reserved` count) until the [`Permit`] sends
//!   or is dropped.
//!
//! ## Departures from tokio
//! - `channel(0)` panics in tokio. gort must not panic on bad input, so it
//!   makes a channel of capacity 1 (the nearest valid tokio channel;
//!   [`Sender::max_capacity`] reports 1). A Go rendezvous channel is
//!   [`chan(0)`](crate::chan).
//! - `blocking_send` / `blocking_recv` park the calling thread; tokio
//!   panics when they are called inside a runtime, gort does not check
//!   (calling them inside a task still blocks that task's worker: don't).
//! - `send_timeout` is left out (gort-sync does not depend on timers); use
//!   `gort::time::timeout(d, tx.send(v))`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use super::core::Chan;
use super::{RecvFuture, SendFuture};
use crate::block::block_on;
use crate::primitives::Arc;
use crate::select::{ChanCase, SelectCase, SelectCtx, Wrap};

/// tokio's `mpsc::error`: the errors of [`mpsc`](self)'s operations.
pub mod error {
    use std::fmt;

    pub use crate::chan::{SendError, TrySendError};

    /// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no
    /// value.
    ///
    /// ```
    /// use gort_sync::mpsc::{self, error::TryRecvError};
    /// let (tx, mut rx) = mpsc::channel::<u8>(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum TryRecvError {
        /// No value is buffered right now, but senders remain.
        Empty,
        /// Every sender is gone (or the receiver closed the channel) and
        /// the buffer is drained.
        Disconnected,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("receiving on an empty channel"),
                TryRecvError::Disconnected => f.write_str("receiving on a closed channel"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{SendError, TryRecvError, TrySendError};

/// The capacity `channel(n)` really gets: `channel(0)` is capacity 1.
fn bounded_cap(n: usize) -> usize {
    n.max(1)
}

/// A bounded channel holding up to `buffer` values (tokio's
/// `mpsc::channel`). `buffer == 0`, which tokio rejects with a panic, makes
/// a channel of capacity 1.
///
/// ```
/// let (tx, mut rx) = gort_sync::mpsc::channel(2);
/// std::thread::spawn(move || {
///     for i in 0..3 {
///         tx.blocking_send(i).unwrap();
///     }
/// });
/// let got: Vec<i32> = std::iter::from_fn(|| rx.blocking_recv()).collect();
/// assert_eq!(got, [0, 1, 2]);
/// ```
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = super::chan(bounded_cap(buffer));
    (Sender { inner: tx }, Receiver { inner: rx })
}

/// An unbounded channel: sends never wait (tokio's
/// `mpsc::unbounded_channel`).
///
/// ```
/// let (tx, mut rx) = gort_sync::mpsc::unbounded_channel();
/// for i in 0..1000 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(std::iter::from_fn(|| rx.blocking_recv()).count(), 1000);
/// ```
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let (tx, rx) = super::chan(usize::MAX);
    (
        UnboundedSender { inner: tx },
        UnboundedReceiver { inner: rx },
    )
}

/// The sending half of a bounded channel; clone it to send from several
/// tasks. The channel closes when the last `Sender` is dropped.
pub struct Sender<T> {
    inner: super::Sender<T>,
}

/// A sender that does not keep the channel open (tokio's
/// `mpsc::WeakSender`); [`upgrade`](WeakSender::upgrade) it to send.
pub struct WeakSender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of a bounded channel.
pub struct Receiver<T> {
    inner: super::Receiver<T>,
}

/// The sending half of an unbounded channel.
pub struct UnboundedSender<T> {
    inner: super::Sender<T>,
}

/// A sender that does not keep an unbounded channel open.
pub struct WeakUnboundedSender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of an unbounded channel.
pub struct UnboundedReceiver<T> {
    inner: super::Receiver<T>,
}

/// A buffer slot held by [`Sender::reserve`]: [`send`](Permit::send) fills
/// it without waiting; dropping the permit gives the slot back.
#[must_use = "the reserved slot is given back as soon as this is dropped"]
pub struct Permit<'a, T> {
    chan: &'a Chan<T>,
}

/// A buffer slot held by [`Sender::reserve_owned`]; owns its `Sender`.
#[must_use = "the reserved slot is given back as soon as this is dropped"]
pub struct OwnedPermit<T> {
    sender: Option<Sender<T>>,
}

/// The future of [`Sender::reserve`].
#[must_use = "futures do nothing unless polled"]
pub struct Reserve<'a, T> {
    chan: &'a Chan<T>,
    key: Option<usize>,
}

/// The future of [`Sender::closed`] / [`UnboundedSender::closed`].
#[must_use = "futures do nothing unless polled"]
pub struct Closed<'a, T> {
    chan: &'a Chan<T>,
    key: Option<usize>,
}

/// The future of [`Receiver::recv_many`] / [`UnboundedReceiver::recv_many`].
///
/// A `select!` case too: it commits exactly once, so a losing `recv_many`
/// case takes no value.
#[must_use = "futures do nothing unless polled"]
pub struct RecvMany<'a, T> {
    recv: RecvFuture<'a, T>,
    chan: &'a Chan<T>,
    buffer: &'a mut Vec<T>,
    limit: usize,
}

fn chan_of<T>(s: &super::Sender<T>) -> &Chan<T> {
    s.chan.as_deref().expect("mpsc channels are never nil")
}

fn rchan_of<T>(r: &super::Receiver<T>) -> &Chan<T> {
    r.chan.as_deref().expect("mpsc channels are never nil")
}

fn same<T>(a: &super::Sender<T>, b: &super::Sender<T>) -> bool {
    std::ptr::eq(chan_of(a), chan_of(b))
}

fn downgrade<T>(s: &super::Sender<T>) -> Arc<Chan<T>> {
    s.chan.clone().expect("mpsc channels are never nil")
}

fn upgrade<T>(chan: &Arc<Chan<T>>) -> Option<super::Sender<T>> {
    chan.try_add_sender().then(|| super::Sender {
        chan: Some(chan.clone()),
    })
}

impl<T> Sender<T> {
    /// Sends `v`, waiting for buffer room; `Err` gives `v` back once the
    /// receiver is dropped or closed. A `select!` channel case: `v` is sent
    /// only if the case is chosen.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (tx, mut rx) = gort_sync::mpsc::channel(1);
    /// block_on(tx.send(1)).unwrap();
    /// assert_eq!(block_on(rx.recv()), Some(1));
    /// drop(rx);
    /// assert_eq!(block_on(tx.send(2)).unwrap_err().0, 2);
    /// ```
    pub fn send(&self, v: T) -> SendFuture<'_, T> {
        self.inner.send(v)
    }

    /// Sends without waiting: `Full(v)` if the buffer is full, `Closed(v)`
    /// if the receiver is gone or closed.
    ///
    /// ```
    /// use gort_sync::mpsc::{self, error::TrySendError};
    /// let (tx, rx) = mpsc::channel(1);
    /// tx.try_send(1).unwrap();
    /// assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    /// drop(rx);
    /// assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    /// ```
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        self.inner.try_send(v)
    }

    /// [`send`](Sender::send) from code that is not async: parks the thread.
    ///
    /// ```
    /// let (tx, mut rx) = gort_sync::mpsc::channel(1);
    /// tx.blocking_send("a").unwrap();
    /// assert_eq!(rx.blocking_recv(), Some("a"));
    /// ```
    pub fn blocking_send(&self, v: T) -> Result<(), SendError<T>> {
        block_on(self.send(v))
    }

    /// Waits for a buffer slot and holds it: the [`Permit`] then sends
    /// without waiting. `Err` once the receiver is dropped or closed.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (tx, mut rx) = gort_sync::mpsc::channel(1);
    /// let permit = block_on(tx.reserve()).unwrap();
    /// assert!(tx.try_send(0).is_err(), "the only slot is held");
    /// permit.send(7);
    /// assert_eq!(rx.try_recv(), Ok(7));
    /// ```
    pub fn reserve(&self) -> Reserve<'_, T> {
        Reserve {
            chan: chan_of(&self.inner),
            key: None,
        }
    }

    /// [`reserve`](Sender::reserve) `n` slots, one [`Permit`] each, in
    /// order; `Err` if the channel closes first (the permits already
    /// taken are given back). `n` larger than the capacity waits until the
    /// receiver takes values.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (tx, mut rx) = gort_sync::mpsc::channel(2);
    /// let permits = block_on(tx.reserve_many(2)).unwrap();
    /// assert_eq!(tx.capacity(), 0);
    /// for (i, p) in permits.into_iter().enumerate() {
    ///     p.send(i);
    /// }
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub async fn reserve_many(&self, n: usize) -> Result<Vec<Permit<'_, T>>, SendError<()>> {
        let mut permits = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            permits.push(self.reserve().await?);
        }
        Ok(permits)
    }

    /// [`reserve`](Sender::reserve) that keeps the `Sender` inside the
    /// permit (for `'static` tasks).
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (tx, mut rx) = gort_sync::mpsc::channel(1);
    /// let permit = block_on(tx.reserve_owned()).unwrap();
    /// let tx = permit.send(3);
    /// assert_eq!(rx.try_recv(), Ok(3));
    /// drop(tx);
    /// ```
    pub async fn reserve_owned(self) -> Result<OwnedPermit<T>, SendError<()>> {
        self.reserve().await?.hold();
        Ok(OwnedPermit { sender: Some(self) })
    }

    /// Takes a slot without waiting: `Full(())` if none is free,
    /// `Closed(())` if the receiver is gone or closed.
    ///
    /// ```
    /// use gort_sync::mpsc::{self, error::TrySendError};
    /// let (tx, _rx) = mpsc::channel::<u8>(1);
    /// let p = tx.try_reserve().unwrap();
    /// assert!(matches!(tx.try_reserve(), Err(TrySendError::Full(()))));
    /// drop(p);
    /// assert!(tx.try_reserve().is_ok());
    /// ```
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        let chan = chan_of(&self.inner);
        match chan.try_reserve() {
            Ok(()) => Ok(Permit { chan }),
            Err(true) => Err(TrySendError::Closed(())),
            Err(false) => Err(TrySendError::Full(())),
        }
    }

    /// [`try_reserve`](Sender::try_reserve) keeping the `Sender` in the
    /// permit; the `Sender` comes back in the error.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::mpsc::channel::<u8>(1);
    /// let p = tx.try_reserve_owned().unwrap();
    /// let tx = p.release();
    /// assert_eq!(tx.capacity(), 1);
    /// ```
    pub fn try_reserve_owned(self) -> Result<OwnedPermit<T>, TrySendError<Self>> {
        match chan_of(&self.inner).try_reserve() {
            Ok(()) => Ok(OwnedPermit { sender: Some(self) }),
            Err(true) => Err(TrySendError::Closed(self)),
            Err(false) => Err(TrySendError::Full(self)),
        }
    }

    /// Completes once the receiver is dropped or closed (sends fail from
    /// then on).
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (tx, rx) = gort_sync::mpsc::channel::<u8>(1);
    /// drop(rx);
    /// block_on(tx.closed());
    /// assert!(tx.is_closed());
    /// ```
    pub fn closed(&self) -> Closed<'_, T> {
        Closed {
            chan: chan_of(&self.inner),
            key: None,
        }
    }

    /// Whether sends now fail: the receiver is dropped or closed.
    ///
    /// ```
    /// let (tx, mut rx) = gort_sync::mpsc::channel::<u8>(1);
    /// rx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Free slots right now: the capacity minus buffered values and held
    /// permits.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::mpsc::channel(3);
    /// tx.try_send(1).unwrap();
    /// let _p = tx.try_reserve().unwrap();
    /// assert_eq!(tx.capacity(), 1);
    /// ```
    pub fn capacity(&self) -> usize {
        chan_of(&self.inner).capacity()
    }

    /// The capacity the channel was made with (1 for `channel(0)`).
    ///
    /// ```
    /// assert_eq!(gort_sync::mpsc::channel::<u8>(8).0.max_capacity(), 8);
    /// assert_eq!(gort_sync::mpsc::channel::<u8>(0).0.max_capacity(), 1);
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.inner.cap()
    }

    /// Whether both senders send on the same channel.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::mpsc::channel::<u8>(1);
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&gort_sync::mpsc::channel(1).0));
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        same(&self.inner, &other.inner)
    }

    /// A [`WeakSender`] that does not keep the channel open.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::mpsc::channel::<u8>(1);
    /// let weak = tx.downgrade();
    /// assert!(weak.upgrade().is_some());
    /// drop(tx);
    /// assert!(weak.upgrade().is_none());
    /// ```
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            chan: downgrade(&self.inner),
        }
    }

    /// Live `Sender`s of this channel (weak ones not counted).
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::mpsc::channel::<u8>(1);
    /// let _tx2 = tx.clone();
    /// assert_eq!(tx.strong_count(), 2);
    /// ```
    pub fn strong_count(&self) -> usize {
        chan_of(&self.inner).sender_count()
    }
}

impl<T> WeakSender<T> {
    /// A [`Sender`], if any `Sender` of the channel is still alive.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::mpsc::channel::<u8>(1);
    /// let weak = tx.downgrade();
    /// weak.upgrade().unwrap().try_send(1).unwrap();
    /// ```
    pub fn upgrade(&self) -> Option<Sender<T>> {
        upgrade(&self.chan).map(|inner| Sender { inner })
    }
}

impl<T> UnboundedSender<T> {
    /// Sends `v` without waiting; `Err` gives it back once the receiver is
    /// dropped or closed.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::mpsc::unbounded_channel();
    /// tx.send(1).unwrap();
    /// drop(rx);
    /// assert_eq!(tx.send(2).unwrap_err().0, 2);
    /// ```
    pub fn send(&self, v: T) -> Result<(), SendError<T>> {
        self.inner
            .try_send(v)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Completes once the receiver is dropped or closed.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (tx, mut rx) = gort_sync::mpsc::unbounded_channel::<u8>();
    /// rx.close();
    /// block_on(tx.closed());
    /// ```
    pub fn closed(&self) -> Closed<'_, T> {
        Closed {
            chan: chan_of(&self.inner),
            key: None,
        }
    }

    /// Whether sends now fail.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::mpsc::unbounded_channel::<u8>();
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Whether both senders send on the same channel.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::mpsc::unbounded_channel::<u8>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        same(&self.inner, &other.inner)
    }

    /// A [`WeakUnboundedSender`] that does not keep the channel open.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::mpsc::unbounded_channel::<u8>();
    /// let weak = tx.downgrade();
    /// drop(tx);
    /// assert!(weak.upgrade().is_none());
    /// ```
    pub fn downgrade(&self) -> WeakUnboundedSender<T> {
        WeakUnboundedSender {
            chan: downgrade(&self.inner),
        }
    }

    /// Live `UnboundedSender`s of this channel.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::mpsc::unbounded_channel::<u8>();
    /// assert_eq!(tx.strong_count(), 1);
    /// ```
    pub fn strong_count(&self) -> usize {
        chan_of(&self.inner).sender_count()
    }
}

impl<T> WeakUnboundedSender<T> {
    /// An [`UnboundedSender`], if any is still alive.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::mpsc::unbounded_channel::<u8>();
    /// assert!(tx.downgrade().upgrade().is_some());
    /// ```
    pub fn upgrade(&self) -> Option<UnboundedSender<T>> {
        upgrade(&self.chan).map(|inner| UnboundedSender { inner })
    }
}

/// The receiver methods, the same for bounded and unbounded channels.
macro_rules! receiver_methods {
    ($chan:literal, $send1:literal) => {
        /// Receives the next value, waiting for one; `None` once every
        /// sender is gone (or [`close`](Self::close) was called) and the
        /// buffer is drained. A `select!` channel case: a losing case takes
        /// no value.
        ///
        /// ```
        /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
        /// #     let mut f = std::pin::pin!(f);
        /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
        /// # }
        #[doc = concat!("let (tx, mut rx) = gort_sync::mpsc::", $chan, ";")]
        /// drop(tx);
        /// assert_eq!(block_on(rx.recv()), None);
        /// ```
        pub fn recv(&mut self) -> RecvFuture<'_, T> {
            self.inner.recv()
        }

        /// Receives up to `limit` values into `buffer`, waiting for at
        /// least one; returns how many were added. 0 means the channel is
        /// closed and drained, or `limit` is 0.
        ///
        /// ```
        /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
        /// #     let mut f = std::pin::pin!(f);
        /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
        /// # }
        #[doc = concat!("let (tx, mut rx) = gort_sync::mpsc::", $chan, ";")]
        /// let mut buf = Vec::new();
        /// drop(tx);
        /// assert_eq!(block_on(rx.recv_many(&mut buf, 4)), 0);
        /// ```
        pub fn recv_many<'a>(
            &'a mut self,
            buffer: &'a mut Vec<T>,
            limit: usize,
        ) -> RecvMany<'a, T> {
            RecvMany {
                recv: self.inner.recv(),
                chan: rchan_of(&self.inner),
                buffer,
                limit,
            }
        }

        /// Receives without waiting: `Empty` if nothing is buffered,
        /// `Disconnected` once closed and drained.
        ///
        /// ```
        /// use gort_sync::mpsc::error::TryRecvError;
        #[doc = concat!("let (tx, mut rx) = gort_sync::mpsc::", $chan, ";")]
        /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        /// drop(tx);
        /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        /// ```
        pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
            self.inner.try_recv().map_err(|e| match e {
                crate::TryRecvError::Empty => TryRecvError::Empty,
                crate::TryRecvError::Closed => TryRecvError::Disconnected,
            })
        }

        /// [`recv`](Self::recv) from code that is not async: parks the
        /// thread.
        ///
        /// ```
        #[doc = concat!("let (tx, mut rx) = gort_sync::mpsc::", $chan, ";")]
        /// drop(tx);
        /// assert_eq!(rx.blocking_recv(), None);
        /// ```
        pub fn blocking_recv(&mut self) -> Option<T> {
            block_on(self.recv())
        }

        /// [`recv_many`](Self::recv_many) from code that is not async.
        ///
        /// ```
        #[doc = concat!("let (tx, mut rx) = gort_sync::mpsc::", $chan, ";")]
        /// drop(tx);
        /// assert_eq!(rx.blocking_recv_many(&mut Vec::<u8>::new(), 2), 0);
        /// ```
        pub fn blocking_recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
            block_on(self.recv_many(buffer, limit))
        }

        /// Closes the channel from the receiving side: sends fail from now
        /// on, buffered values (and those of permits already held) can
        /// still be received, then `recv` returns `None`.
        ///
        /// ```
        #[doc = concat!("let (tx, mut rx) = gort_sync::mpsc::", $chan, ";")]
        #[doc = $send1]
        /// rx.close();
        /// assert!(tx.is_closed());
        /// assert_eq!(rx.blocking_recv(), Some(1));
        /// assert_eq!(rx.blocking_recv(), None);
        /// ```
        pub fn close(&mut self) {
            // A second close (or one after the senders went) is a no-op.
            rchan_of(&self.inner).close();
        }

        /// Polls for the next value (a stream's `poll_next`): `Ready(None)`
        /// once closed and drained. A pending poll keeps a registration in
        /// the receiver that holds no value back from `recv`.
        ///
        /// ```
        /// use std::task::{Context, Poll, Waker};
        #[doc = concat!("let (tx, mut rx) = gort_sync::mpsc::", $chan, ";")]
        /// let mut cx = Context::from_waker(Waker::noop());
        /// assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
        /// drop(tx);
        /// assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
        /// ```
        pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
            futures_core::Stream::poll_next(Pin::new(&mut self.inner), cx)
        }

        /// Values buffered right now.
        ///
        /// ```
        #[doc = concat!("let (tx, rx) = gort_sync::mpsc::", $chan, ";")]
        #[doc = $send1]
        /// assert_eq!(rx.len(), 1);
        /// ```
        pub fn len(&self) -> usize {
            self.inner.len()
        }

        /// Whether no value is buffered right now.
        ///
        /// ```
        #[doc = concat!("let (_tx, rx) = gort_sync::mpsc::", $chan, ";")]
        /// assert!(rx.is_empty());
        /// ```
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// Whether the channel is closed: every sender gone or
        /// [`close`](Self::close) called (values may still be buffered).
        ///
        /// ```
        #[doc = concat!("let (tx, mut rx) = gort_sync::mpsc::", $chan, ";")]
        /// assert!(!rx.is_closed());
        /// drop(tx);
        /// assert!(rx.is_closed());
        /// ```
        pub fn is_closed(&self) -> bool {
            self.inner.is_closed()
        }
    };
}

impl<T> Receiver<T> {
    receiver_methods!("channel::<u8>(4)", "tx.try_send(1).unwrap();");

    /// The capacity the channel was made with.
    ///
    /// ```
    /// let (_tx, rx) = gort_sync::mpsc::channel::<u8>(4);
    /// assert_eq!(rx.max_capacity(), 4);
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.inner.cap()
    }

    /// Free slots right now.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::mpsc::channel(4);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.capacity(), 3);
    /// ```
    pub fn capacity(&self) -> usize {
        rchan_of(&self.inner).capacity()
    }
}

impl<T> UnboundedReceiver<T> {
    receiver_methods!("unbounded_channel::<u8>()", "tx.send(1).unwrap();");
}

impl<'a, T> Permit<'a, T> {
    /// Sends `v` into the held slot; never waits. If the receiver was
    /// dropped meanwhile, `v` is dropped.
    ///
    /// ```
    /// let (tx, mut rx) = gort_sync::mpsc::channel(1);
    /// tx.try_reserve().unwrap().send("v");
    /// assert_eq!(rx.try_recv(), Ok("v"));
    /// ```
    pub fn send(self, v: T) {
        let chan = self.chan;
        self.hold();
        drop(chan.send_reserved(v));
    }

    /// Forgets the permit without giving its slot back: the slot stays
    /// counted as reserved until the owner sends or releases it.
    fn hold(self) {
        std::mem::forget(self);
    }
}

impl<T> OwnedPermit<T> {
    /// Sends `v` into the held slot and gives the `Sender` back.
    ///
    /// ```
    /// let (tx, mut rx) = gort_sync::mpsc::channel(1);
    /// let tx = tx.try_reserve_owned().unwrap().send(1);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(tx.capacity(), 1);
    /// ```
    pub fn send(mut self, v: T) -> Sender<T> {
        let sender = self.sender.take().expect("an OwnedPermit holds its sender");
        drop(chan_of(&sender.inner).send_reserved(v));
        sender
    }

    /// Gives the slot back unused, returning the `Sender`.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::mpsc::channel::<u8>(1);
    /// let tx = tx.try_reserve_owned().unwrap().release();
    /// assert_eq!(tx.capacity(), 1);
    /// ```
    pub fn release(mut self) -> Sender<T> {
        let sender = self.sender.take().expect("an OwnedPermit holds its sender");
        chan_of(&sender.inner).release_reservation();
        sender
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.chan.release_reservation();
    }
}

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(s) = &self.sender {
            chan_of(&s.inner).release_reservation();
        }
    }
}

impl<'a, T> Future for Reserve<'a, T> {
    type Output = Result<Permit<'a, T>, SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let coop = ready!(poll_proceed(cx));
        match this.chan.poll_reserve(cx.waker(), &mut this.key) {
            Poll::Ready(held) => {
                coop.made_progress();
                Poll::Ready(if held {
                    Ok(Permit { chan: this.chan })
                } else {
                    Err(SendError(()))
                })
            }
            Poll::Pending => {
                set_wait_reason(WaitReason::ChanSend);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Reserve<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.chan.cancel_send(key);
        }
    }
}

impl<T> Future for Closed<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let coop = ready!(poll_proceed(cx));
        match this.chan.poll_closed(cx.waker(), &mut this.key) {
            Poll::Ready(()) => {
                coop.made_progress();
                Poll::Ready(())
            }
            Poll::Pending => {
                set_wait_reason(WaitReason::ChanSend);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Closed<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.chan.cancel_closed(key);
        }
    }
}

impl<T> RecvMany<'_, T> {
    /// Stores the value the receive committed with, plus whatever else is
    /// buffered, up to the limit.
    fn finish(&mut self, first: Option<T>) -> usize {
        let Some(v) = first else { return 0 };
        self.buffer.push(v);
        let mut n = 1;
        while n < self.limit {
            match self.chan.try_recv() {
                Ok(v) => {
                    self.buffer.push(v);
                    n += 1;
                }
                Err(_) => break,
            }
        }
        n
    }
}

impl<T> Future for RecvMany<'_, T> {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let this = self.get_mut();
        if this.limit == 0 {
            return Poll::Ready(0);
        }
        let first = ready!(Pin::new(&mut this.recv).poll(cx));
        Poll::Ready(this.finish(first))
    }
}

impl<T> SelectCase for RecvMany<'_, T> {
    type Output = usize;

    fn poll_case(self: Pin<&mut Self>, cx: &mut Context<'_>, ctx: &SelectCtx<'_>) -> Poll<usize> {
        let this = self.get_mut();
        if this.limit == 0 {
            return if !ctx.register && ctx.win() {
                Poll::Ready(0)
            } else {
                Poll::Pending
            };
        }
        // The receive commits (winning the select's token) before any value
        // is taken; the extra values are taken only by the winner.
        let first = ready!(Pin::new(&mut this.recv).poll_case(cx, ctx));
        Poll::Ready(this.finish(first))
    }
}

impl<'a, T> ChanCase for Wrap<RecvMany<'a, T>> {
    type Case = RecvMany<'a, T>;

    fn __gort_into_case(&self) -> Self::Case {
        self.take()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        UnboundedSender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        WeakSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for WeakUnboundedSender<T> {
    fn clone(&self) -> Self {
        WeakUnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

macro_rules! debug_as {
    ($($ty:ident),*) => {$(
        impl<T> fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($ty), " { .. }"))
            }
        }
    )*};
}

debug_as!(
    Sender,
    Receiver,
    UnboundedSender,
    UnboundedReceiver,
    WeakSender,
    WeakUnboundedSender,
    OwnedPermit
);

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Permit { .. }")
    }
}

impl<T> fmt::Debug for Reserve<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reserve")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}

impl<T> fmt::Debug for Closed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closed")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}

impl<T> fmt::Debug for RecvMany<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvMany")
            .field("limit", &self.limit)
            .finish()
    }
}
