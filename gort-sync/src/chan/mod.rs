//! Go channels: [`chan`], [`Sender`], [`Receiver`].
//!
//! A reinterpretation of Go's runtime/chan.go for futures: `chansend` is
//! [`Sender::send`], `chanrecv` is [`Receiver::recv`], `closechan` is
//! [`Sender::close`]. The mechanism (one lock, a ring buffer, FIFO queues of
//! blocked senders and receivers, direct hand-off) and its invariants are
//! described in the `core` module; this one holds the handles users see.
//!
//! ## Go semantics
//! - `chan::<T>(0)` is unbuffered: a send completes only once a receiver has
//!   taken the value. `chan::<T>(n)` buffers `n` values; FIFO order; blocked
//!   senders and receivers are served first come, first served.
//! - [`Sender::close`] wakes every blocked receiver and sender. Receivers
//!   drain buffered values first, then get `None`. A send on a closed
//!   channel returns the value in `Err` (Go panics). A second close is an
//!   `Err(CloseError)` (Go panics).
//! - A nil channel ([`Sender::nil`], [`Receiver::nil`]) is never ready: use
//!   it to switch a `select!` case off.
//! - Everything written before a send is visible after the matching receive
//!   (the channel lock orders them).
//!
//! ## Choices where Go has none
//! - Only the sending side closes: [`Sender::close`]. There is no
//!   `Receiver::close`; Go has none either, since closing is the producer's
//!   "no more values". A consumer that wants producers to stop drops its
//!   receivers.
//! - When the last [`Sender`] is dropped the channel closes, so receivers
//!   see `None` instead of blocking forever (Go leaks them).
//! - When the last [`Receiver`] is dropped no value can ever be received:
//!   buffered values are dropped, and every send (blocked or later) fails
//!   with its value given back, so producers don't hang. [`Sender::is_closed`]
//!   reports it; [`Sender::close`] still succeeds once.
//! - Cancellation: dropping a pending `send` drops its value exactly once
//!   without delivering it; a value already handed to a `recv` future that
//!   is dropped before returning it goes to the next waiting receiver or
//!   back to the front of the buffer. While such a value is in flight, a
//!   closed channel is not yet drained: receives wait for it rather than
//!   return `None`, so a consumer that stops at `None` cannot miss it.

mod core;
pub mod mpsc;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use self::core::Chan;
use crate::block::block_on;
use crate::primitives::Arc;
use crate::select::{ChanCase, SelectCase, SelectCtx, Wrap};

/// Creates a channel with room for `cap` buffered values; `cap == 0` makes
/// it unbuffered (every send waits for a receiver). Go's `make(chan T, cap)`.
///
/// # Examples
///
/// ```
/// let (tx, rx) = gort_sync::chan::<u32>(0);
/// let producer = std::thread::spawn(move || {
///     for i in 0..3 {
///         tx.send_blocking(i).unwrap();
///     }
///     // `tx` dropped here: the channel closes.
/// });
/// let got: Vec<u32> = std::iter::from_fn(|| rx.recv_blocking()).collect();
/// assert_eq!(got, [0, 1, 2]);
/// producer.join().unwrap();
/// ```
pub fn chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let c = Arc::new(Chan::new(cap));
    (
        Sender {
            chan: Some(c.clone()),
        },
        Receiver {
            chan: Some(c),
            stream_key: None,
        },
    )
}

/// The sending half of a channel. Clone it to send from several tasks.
///
/// The channel closes when the last `Sender` is dropped.
pub struct Sender<T> {
    /// `None` for a nil channel.
    chan: Option<Arc<Chan<T>>>,
}

/// The receiving half of a channel. Clone it to receive from several tasks
/// (each value goes to exactly one receiver).
///
/// Also a [`futures_core::Stream`] of the values, ending when the channel is
/// closed and drained. A pending `poll_next` stays registered in the
/// `Receiver` (a dropped `next()` cannot unregister it), so it only asks to
/// be woken: senders serve `recv` futures and select cases first, and a
/// value sent while only streams wait is buffered for whichever receiver
/// comes first — an abandoned `next()` holds nothing back.
pub struct Receiver<T> {
    /// `None` for a nil channel.
    chan: Option<Arc<Chan<T>>>,
    /// The waiter of a pending `poll_next`, kept across polls.
    stream_key: Option<usize>,
}

/// The channel is closed (or has no receivers left); the value is given back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Why [`Sender::try_send`] did not send; the value is given back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// No receiver is waiting and the buffer is full (or the channel is nil).
    Full(T),
    /// The channel is closed or has no receivers left.
    Closed(T),
}

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No value is buffered and no sender is waiting (or the channel is nil).
    Empty,
    /// The channel is closed and drained.
    Closed,
}

/// [`Sender::close`] on a channel that was already closed, or on a nil
/// channel (both panic in Go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseError;

impl<T> SendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }

    /// Whether the send failed because the channel is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("send on closed channel")
    }
}

impl<T> std::error::Error for SendError<T> {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("channel full"),
            TrySendError::Closed(_) => f.write_str("send on closed channel"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("channel empty"),
            TryRecvError::Closed => f.write_str("channel closed and drained"),
        }
    }
}

impl std::error::Error for TryRecvError {}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("close of closed or nil channel")
    }
}

impl std::error::Error for CloseError {}

impl<T> Sender<T> {
    /// A nil channel's sender: [`send`](Sender::send) never completes,
    /// [`try_send`](Sender::try_send) reports `Full`. Use it to switch a
    /// `select!` case off.
    ///
    /// ```
    /// let tx = gort_sync::Sender::<u32>::nil();
    /// assert!(tx.try_send(1).is_err());
    /// assert_eq!(tx.cap(), 0);
    /// ```
    pub fn nil() -> Self {
        Sender { chan: None }
    }

    /// Sends `v`, waiting until a receiver takes it (unbuffered) or there
    /// is room in the buffer. `Err` gives `v` back if the channel is closed
    /// or every receiver is gone. Dropping the future before it completes
    /// drops `v` without delivering it.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (tx, rx) = gort_sync::chan(1);
    /// block_on(tx.send("hi")).unwrap();
    /// assert_eq!(rx.try_recv(), Ok("hi"));
    /// tx.close().unwrap();
    /// assert_eq!(block_on(tx.send("late")).unwrap_err().into_inner(), "late");
    /// ```
    pub fn send(&self, v: T) -> SendFuture<'_, T> {
        SendFuture {
            chan: self.chan.as_deref(),
            key: None,
            value: Some(v),
        }
    }

    /// Sends without waiting: `Full(v)` if it would block, `Closed(v)` if
    /// the channel is closed (Go's `select { case ch <- v: default: }`).
    ///
    /// ```
    /// use gort_sync::TrySendError;
    /// let (tx, rx) = gort_sync::chan(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    /// drop(rx);
    /// assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    /// ```
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        match &self.chan {
            None => Err(TrySendError::Full(v)),
            Some(c) => c.try_send(v).map_err(|(v, closed)| {
                if closed {
                    TrySendError::Closed(v)
                } else {
                    TrySendError::Full(v)
                }
            }),
        }
    }

    /// [`send`](Sender::send) for code that is not async: parks the calling
    /// thread until the send completes. Don't call it from inside a task.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::chan(0);
    /// let t = std::thread::spawn(move || tx.send_blocking(5));
    /// assert_eq!(rx.recv_blocking(), Some(5));
    /// t.join().unwrap().unwrap();
    /// ```
    pub fn send_blocking(&self, v: T) -> Result<(), SendError<T>> {
        block_on(self.send(v))
    }

    /// Closes the channel (Go's `close(ch)`): blocked receivers and senders
    /// wake; receivers drain the buffer, then get `None`; sends fail.
    /// `Err(CloseError)` if it was already closed (including by the last
    /// sender being dropped, which cannot be observed from a live sender)
    /// or the channel is nil.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::chan(2);
    /// tx.try_send(1).unwrap();
    /// tx.close().unwrap();
    /// assert!(tx.close().is_err());
    /// assert_eq!(rx.recv_blocking(), Some(1));
    /// assert_eq!(rx.recv_blocking(), None);
    /// ```
    pub fn close(&self) -> Result<(), CloseError> {
        match &self.chan {
            Some(c) if c.close() => Ok(()),
            _ => Err(CloseError),
        }
    }

    /// Whether sends now fail: the channel was closed or every receiver is
    /// gone. False for a nil channel.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::chan::<u8>(0);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.as_ref().is_some_and(|c| c.is_closed())
    }

    /// Buffered values right now (Go's `len(ch)`): a snapshot.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::chan(4);
    /// tx.try_send('a').unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.as_ref().map_or(0, |c| c.len())
    }

    /// Whether no value is buffered right now.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::chan::<u8>(4);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer size given to [`chan`] (Go's `cap(ch)`); 0 for nil.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::chan::<u8>(4);
    /// assert_eq!(tx.cap(), 4);
    /// ```
    pub fn cap(&self) -> usize {
        self.chan.as_ref().map_or(0, |c| c.cap())
    }
}

impl<T> Receiver<T> {
    /// A nil channel's receiver: [`recv`](Receiver::recv) never completes,
    /// [`try_recv`](Receiver::try_recv) reports `Empty`.
    ///
    /// ```
    /// let rx = gort_sync::Receiver::<u32>::nil();
    /// assert_eq!(rx.try_recv(), Err(gort_sync::TryRecvError::Empty));
    /// ```
    pub fn nil() -> Self {
        Receiver {
            chan: None,
            stream_key: None,
        }
    }

    /// Receives the next value, waiting for one; `None` once the channel is
    /// closed and drained (Go's `v, ok := <-ch` with `ok == false`).
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (tx, rx) = gort_sync::chan(1);
    /// tx.try_send(7).unwrap();
    /// drop(tx);
    /// assert_eq!(block_on(rx.recv()), Some(7));
    /// assert_eq!(block_on(rx.recv()), None);
    /// ```
    pub fn recv(&self) -> RecvFuture<'_, T> {
        RecvFuture {
            chan: self.chan.as_deref(),
            key: None,
            done: false,
        }
    }

    /// Receives without waiting: `Empty` if no value is ready, `Closed` if
    /// the channel is closed and drained.
    ///
    /// ```
    /// use gort_sync::TryRecvError;
    /// let (tx, rx) = gort_sync::chan(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match &self.chan {
            None => Err(TryRecvError::Empty),
            Some(c) => c.try_recv().map_err(|closed| {
                if closed {
                    TryRecvError::Closed
                } else {
                    TryRecvError::Empty
                }
            }),
        }
    }

    /// [`recv`](Receiver::recv) for code that is not async: parks the
    /// calling thread until a value or the close arrives.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::chan(0);
    /// std::thread::spawn(move || tx.send_blocking("x"));
    /// assert_eq!(rx.recv_blocking(), Some("x"));
    /// assert_eq!(rx.recv_blocking(), None);
    /// ```
    pub fn recv_blocking(&self) -> Option<T> {
        block_on(self.recv())
    }

    /// Whether the channel is closed (values may still be buffered).
    ///
    /// ```
    /// let (tx, rx) = gort_sync::chan::<u8>(1);
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.as_ref().is_some_and(|c| c.is_closed())
    }

    /// Buffered values right now (Go's `len(ch)`): a snapshot.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::chan(4);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.as_ref().map_or(0, |c| c.len())
    }

    /// Whether no value is buffered right now.
    ///
    /// ```
    /// let (_tx, rx) = gort_sync::chan::<u8>(4);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer size given to [`chan`] (Go's `cap(ch)`); 0 for nil.
    ///
    /// ```
    /// let (_tx, rx) = gort_sync::chan::<u8>(0);
    /// assert_eq!(rx.cap(), 0);
    /// ```
    pub fn cap(&self) -> usize {
        self.chan.as_ref().map_or(0, |c| c.cap())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        if let Some(c) = &self.chan {
            c.add_sender();
        }
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        if let Some(c) = &self.chan {
            c.add_receiver();
        }
        Receiver {
            chan: self.chan.clone(),
            stream_key: None,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(c) = &self.chan {
            c.drop_sender();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(c) = &self.chan {
            if let Some(key) = self.stream_key.take() {
                c.cancel_recv(key);
            }
            c.drop_receiver();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("nil", &self.chan.is_none())
            .field("len", &self.len())
            .field("cap", &self.cap())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("nil", &self.chan.is_none())
            .field("len", &self.len())
            .field("cap", &self.cap())
            .finish()
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let Some(chan) = this.chan.as_deref() else {
            set_wait_reason(WaitReason::ChanReceive);
            return Poll::Pending;
        };
        let coop = ready!(poll_proceed(cx));
        match chan.poll_recv(cx.waker(), &mut this.stream_key, None, true) {
            Poll::Ready(v) => {
                coop.made_progress();
                Poll::Ready(v)
            }
            Poll::Pending => {
                set_wait_reason(WaitReason::ChanReceive);
                Poll::Pending
            }
        }
    }
}

/// The future of [`Receiver::recv`].
///
/// Dropping it while it waits is safe: a value already handed to it goes to
/// the next receiver or back to the front of the buffer.
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T> {
    chan: Option<&'a Chan<T>>,
    key: Option<usize>,
    done: bool,
}

/// The future of [`Sender::send`].
///
/// Dropping it before it completes drops the value, undelivered.
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    chan: Option<&'a Chan<T>>,
    key: Option<usize>,
    value: Option<T>,
}

// The value is never pinned: it is moved into the channel by value.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        assert!(!this.done, "recv future polled after completion");
        let Some(chan) = this.chan else {
            set_wait_reason(WaitReason::ChanReceive);
            return Poll::Pending;
        };
        let coop = ready!(poll_proceed(cx));
        match chan.poll_recv(cx.waker(), &mut this.key, None, false) {
            Poll::Ready(v) => {
                coop.made_progress();
                this.done = true;
                Poll::Ready(v)
            }
            Poll::Pending => {
                set_wait_reason(WaitReason::ChanReceive);
                Poll::Pending
            }
        }
    }
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(chan) = this.chan else {
            set_wait_reason(WaitReason::ChanSend);
            return Poll::Pending;
        };
        let coop = ready!(poll_proceed(cx));
        match chan.poll_send(cx.waker(), &mut this.key, &mut this.value, None) {
            Poll::Ready(r) => {
                coop.made_progress();
                Poll::Ready(r.map_err(SendError))
            }
            Poll::Pending => {
                set_wait_reason(WaitReason::ChanSend);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        if let (Some(chan), Some(key)) = (self.chan, self.key) {
            chan.cancel_recv(key);
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        if let (Some(chan), Some(key)) = (self.chan, self.key) {
            chan.cancel_send(key);
        }
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}

impl<T> SelectCase for RecvFuture<'_, T> {
    type Output = Option<T>;

    fn poll_case(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        ctx: &SelectCtx<'_>,
    ) -> Poll<Option<T>> {
        let this = self.get_mut();
        match this.chan {
            // Pass 2 of a poll whose pass 1 just checked this waiter.
            Some(_) if ctx.register && this.key.is_some() => Poll::Pending,
            Some(chan) => chan.poll_recv(cx.waker(), &mut this.key, Some(ctx), false),
            None => Poll::Pending,
        }
    }

    fn withdraw(self: Pin<&mut Self>) {
        let this = self.get_mut();
        if let (Some(chan), Some(key)) = (this.chan, this.key.take()) {
            chan.cancel_recv(key);
        }
    }
}

impl<T> SelectCase for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll_case(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        ctx: &SelectCtx<'_>,
    ) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.chan {
            // Pass 2 of a poll whose pass 1 just checked this waiter.
            Some(_) if ctx.register && this.key.is_some() => Poll::Pending,
            Some(chan) => chan
                .poll_send(cx.waker(), &mut this.key, &mut this.value, Some(ctx))
                .map(|r| r.map_err(SendError)),
            None => Poll::Pending,
        }
    }

    fn withdraw(self: Pin<&mut Self>) {
        let this = self.get_mut();
        if let (Some(chan), Some(key)) = (this.chan, this.key.take()) {
            this.value = chan.withdraw_send(key);
        }
    }
}

impl<'a, T> ChanCase for Wrap<RecvFuture<'a, T>> {
    type Case = RecvFuture<'a, T>;

    fn __gort_into_case(&self) -> Self::Case {
        self.take()
    }
}

impl<'a, T> ChanCase for Wrap<SendFuture<'a, T>> {
    type Case = SendFuture<'a, T>;

    fn __gort_into_case(&self) -> Self::Case {
        self.take()
    }
}
