//! tokio's `sync::oneshot`: one value, sent once, from one task to another.
//!
//! One lock around the slot, whether each side is still there, and the
//! waker of each side (the receiver waiting for the value, the sender
//! waiting in [`Sender::closed`]). Sending stores the value and wakes the
//! receiver; dropping either side wakes the other.
//!
//! ## Departures from tokio
//! - Polling a [`Receiver`] again after it returned (tokio panics) returns
//!   `Err(RecvError)`: gort does not panic on misuse it can answer.
//! - `blocking_recv` parks the thread and does not check whether it is
//!   inside a runtime.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::block::block_on;
use crate::primitives::{lock, Arc, Mutex};

/// tokio's `oneshot::error`.
pub mod error {
    use std::fmt;

    /// The [`Sender`](super::Sender) was dropped without sending (or the
    /// value was already received).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RecvError(pub(crate) ());

    /// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no
    /// value.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum TryRecvError {
        /// Nothing sent yet; the sender is still alive.
        Empty,
        /// The sender was dropped without sending, or the value was already
        /// taken.
        Closed,
    }

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{RecvError, TryRecvError};

struct Inner<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    value: Option<T>,
    /// The sender sent or was dropped: no value will come after `value`.
    tx_done: bool,
    /// The receiver closed or was dropped: a send fails.
    rx_closed: bool,
    rx_waker: Option<Waker>,
    tx_waker: Option<Waker>,
}

/// Makes a oneshot channel (tokio's `oneshot::channel`).
///
/// ```
/// let (tx, rx) = gort_sync::oneshot::channel();
/// std::thread::spawn(move || tx.send(42).unwrap());
/// assert_eq!(rx.blocking_recv(), Ok(42));
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State {
            value: None,
            tx_done: false,
            rx_closed: false,
            rx_waker: None,
            tx_waker: None,
        }),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner: Some(inner) },
    )
}

/// Sends the one value of a [`channel`].
pub struct Sender<T> {
    /// `None` once sent.
    inner: Option<Arc<Inner<T>>>,
}

/// Receives the one value: a future of `Result<T, RecvError>`.
pub struct Receiver<T> {
    /// `None` once the value (or the error) was returned.
    inner: Option<Arc<Inner<T>>>,
}

impl<T> Sender<T> {
    /// Sends `v`; `Err(v)` if the receiver is dropped or closed.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(1), Err(1));
    /// ```
    pub fn send(mut self, v: T) -> Result<(), T> {
        let inner = self.inner.take().expect("a Sender holds its channel");
        let waker = {
            let mut st = lock(&inner.state);
            // The sender is consumed either way: no value will come.
            st.tx_done = true;
            if st.rx_closed {
                return Err(v);
            }
            st.value = Some(v);
            st.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Whether the receiver is dropped or closed.
    ///
    /// ```
    /// let (tx, mut rx) = gort_sync::oneshot::channel::<u8>();
    /// rx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.as_ref().is_none_or(|i| lock(&i.state).rx_closed)
    }

    /// Completes once the receiver is dropped or closed.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (mut tx, rx) = gort_sync::oneshot::channel::<u8>();
    /// drop(rx);
    /// block_on(tx.closed());
    /// ```
    pub async fn closed(&mut self) {
        std::future::poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Polls for the receiver to be dropped or closed.
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    /// let (mut tx, rx) = gort_sync::oneshot::channel::<u8>();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert_eq!(tx.poll_closed(&mut cx), Poll::Pending);
    /// drop(rx);
    /// assert_eq!(tx.poll_closed(&mut cx), Poll::Ready(()));
    /// ```
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = &self.inner else {
            return Poll::Ready(());
        };
        let coop = ready!(poll_proceed(cx));
        let stale;
        let mut st = lock(&inner.state);
        if st.rx_closed {
            coop.made_progress();
            return Poll::Ready(());
        }
        stale = st.tx_waker.replace(cx.waker().clone());
        drop(st);
        drop(stale);
        set_wait_reason(WaitReason::ChanSend);
        Poll::Pending
    }
}

impl<T> Receiver<T> {
    /// Takes the value without waiting: `Empty` if nothing is sent yet,
    /// `Closed` if the sender is gone without sending or the value was
    /// already taken.
    ///
    /// ```
    /// use gort_sync::oneshot::{self, error::TryRecvError};
    /// let (tx, mut rx) = oneshot::channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(5).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(5));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let Some(inner) = &self.inner else {
            return Err(TryRecvError::Closed);
        };
        let r = {
            let mut st = lock(&inner.state);
            match st.value.take() {
                Some(v) => Ok(v),
                None if st.tx_done || st.rx_closed => Err(TryRecvError::Closed),
                None => return Err(TryRecvError::Empty),
            }
        };
        self.inner = None;
        r
    }

    /// Closes the channel: a later `send` fails. A value sent before can
    /// still be received; without one, receiving now returns the error.
    ///
    /// ```
    /// let (tx, mut rx) = gort_sync::oneshot::channel::<u8>();
    /// rx.close();
    /// assert_eq!(tx.send(1), Err(1));
    /// ```
    pub fn close(&mut self) {
        if let Some(inner) = &self.inner {
            let waker = {
                let mut st = lock(&inner.state);
                st.rx_closed = true;
                st.tx_waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    /// Whether this receiver has returned its value or error.
    ///
    /// ```
    /// let (tx, mut rx) = gort_sync::oneshot::channel();
    /// tx.send(1).unwrap();
    /// rx.try_recv().unwrap();
    /// assert!(rx.is_terminated());
    /// ```
    pub fn is_terminated(&self) -> bool {
        self.inner.is_none()
    }

    /// Whether no value is waiting to be received right now.
    ///
    /// ```
    /// let (tx, rx) = gort_sync::oneshot::channel();
    /// assert!(rx.is_empty());
    /// tx.send(1).unwrap();
    /// assert!(!rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|i| lock(&i.state).value.is_none())
    }

    /// Waits for the value by parking the thread (for code that is not
    /// async).
    ///
    /// ```
    /// let (tx, rx) = gort_sync::oneshot::channel::<u8>();
    /// drop(tx);
    /// assert!(rx.blocking_recv().is_err());
    /// ```
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        block_on(self)
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(inner) = &this.inner else {
            return Poll::Ready(Err(RecvError(())));
        };
        let coop = ready!(poll_proceed(cx));
        let stale;
        let r = {
            let mut st = lock(&inner.state);
            match st.value.take() {
                Some(v) => Ok(v),
                // Closed by the receiver: nothing can be sent any more.
                None if st.tx_done || st.rx_closed => Err(RecvError(())),
                None => {
                    stale = st.rx_waker.replace(cx.waker().clone());
                    drop(st);
                    drop(stale);
                    set_wait_reason(WaitReason::ChanReceive);
                    return Poll::Pending;
                }
            }
        };
        coop.made_progress();
        this.inner = None;
        Poll::Ready(r)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let waker = {
                let mut st = lock(&inner.state);
                st.tx_done = true;
                st.rx_waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let (value, waker) = {
                let mut st = lock(&inner.state);
                st.rx_closed = true;
                (st.value.take(), st.tx_waker.take())
            };
            drop(value);
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("terminated", &self.is_terminated())
            .finish()
    }
}
