//! tokio's `sync::broadcast`: every receiver gets every value, from a
//! ring of the newest `cap` values.
//!
//! One lock around a ring (a `VecDeque`) of the retained values, the
//! position of its oldest value (`head`) and of the next send (`tail`),
//! the handle counts and the queue of waiting receivers. Each receiver
//! holds the position of the next value it will read.
//!
//! tokio's rules, each a test in `tests/tokio_sync.rs`:
//! - the capacity is rounded up to a power of two (tokio does this), and
//!   `channel(0)`, which tokio rejects with a panic, gets capacity 1;
//! - a send with the ring full evicts the oldest value. A receiver whose
//!   next position was evicted gets `Lagged(n)`, `n` the number of values
//!   it missed, and then continues from the oldest retained value;
//! - a value is kept until every receiver alive at its send has read it or
//!   it is evicted ([`Sender::len`] counts those values);
//! - a send with no receiver fails and gives the value back; once every
//!   sender is gone, receivers read what is retained and then get `Closed`.
//!
//! Values are stored as `Arc<T>`, so the lock never runs user code: a
//! receiver clones the `Arc` under the lock and `T` (or, being the last
//! reader, unwraps it) after releasing it. Receive waits record the wait
//! reason "chan receive".

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as ValueArc;
use std::task::{ready, Context, Poll, Waker};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::block::block_on;
use crate::primitives::{lock, Arc, Mutex};
use crate::waitq::{poll_receivers_gone, remove_waiter, WaitQueue};

/// tokio's `broadcast::error`.
pub mod error {
    use std::fmt;

    /// No receiver exists; the value is given back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub struct SendError<T>(pub T);

    /// Why [`Receiver::recv`](super::Receiver::recv) returned no value.
    #[derive(Debug, PartialEq, Eq, Clone)]
    pub enum RecvError {
        /// Every sender is gone and every retained value was read.
        Closed,
        /// The receiver fell behind: this many values were evicted before
        /// it read them. The next receive returns the oldest retained one.
        Lagged(u64),
    }

    /// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no
    /// value.
    #[derive(Debug, PartialEq, Eq, Clone)]
    pub enum TryRecvError {
        /// Nothing new yet; senders remain.
        Empty,
        /// Every sender is gone and every retained value was read.
        Closed,
        /// The receiver fell behind by this many values (see
        /// [`RecvError::Lagged`]).
        Lagged(u64),
    }

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
            match self {
                RecvError::Closed => f.write_str("channel closed"),
                RecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
            }
        }
    }

    impl std::error::Error for RecvError {}

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
                TryRecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{RecvError, SendError, TryRecvError};

struct Shared<T> {
    cap: usize,
    state: Mutex<State<T>>,
}

struct State<T> {
    /// Retained values, oldest first; `ring[i]` is at position `head + i`.
    ring: VecDeque<Slot<T>>,
    head: u64,
    /// The position the next send gets (`head + ring.len()`).
    tail: u64,
    senders: usize,
    receivers: usize,
    /// Receivers waiting for a value past `tail`; all woken by a send or
    /// the last sender's drop.
    waiters: WaitQueue<Waker>,
    /// Tasks in `Sender::closed`; woken when the last receiver goes.
    closed: WaitQueue<Waker>,
}

struct Slot<T> {
    /// Receivers, alive at the send, that have not read it yet.
    rem: usize,
    /// `None` once `rem` reached zero.
    val: Option<ValueArc<T>>,
}

/// What a receive found under the lock.
enum Found<T> {
    Value(ValueArc<T>),
    Lagged(u64),
    Empty,
    Closed,
}

/// Makes a broadcast channel retaining the newest `capacity` values
/// (rounded up to a power of two; 0 counts as 1).
///
/// ```
/// let (tx, mut a) = gort_sync::broadcast::channel(4);
/// let mut b = tx.subscribe();
/// tx.send(1).unwrap();
/// assert_eq!(a.try_recv(), Ok(1));
/// assert_eq!(b.try_recv(), Ok(1));
/// ```
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let cap = capacity
        .max(1)
        .checked_next_power_of_two()
        .unwrap_or(capacity);
    let shared = Arc::new(Shared {
        cap,
        state: Mutex::new(State {
            ring: VecDeque::with_capacity(cap.min(1024)),
            head: 0,
            tail: 0,
            senders: 1,
            receivers: 1,
            waiters: WaitQueue::new(),
            closed: WaitQueue::new(),
        }),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

/// Sends values to every receiver; clone it to send from several tasks.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Receives every value sent after it was made, in order.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The position of the next value to read.
    next: u64,
}

fn take_all(q: &mut WaitQueue<Waker>) -> Vec<Waker> {
    let mut wakers = Vec::new();
    while let Some(k) = q.head() {
        q.unlink(k);
        wakers.push(std::mem::replace(q.get_mut(k), Waker::noop().clone()));
    }
    wakers
}

impl<T> State<T> {
    /// Reads the value at `*next`, if any (advancing `*next`), or says why
    /// not. Called under the lock; runs no user code.
    fn read(&mut self, next: &mut u64) -> Found<T> {
        if *next < self.head {
            let missed = self.head - *next;
            *next = self.head;
            return Found::Lagged(missed);
        }
        if *next == self.tail {
            return if self.senders == 0 {
                Found::Closed
            } else {
                Found::Empty
            };
        }
        let slot = &mut self.ring[(*next - self.head) as usize];
        *next += 1;
        slot.rem -= 1;
        let val = if slot.rem == 0 {
            slot.val.take()
        } else {
            slot.val.clone()
        };
        Found::Value(val.expect("a receiver counted in `rem` finds the value"))
    }

    /// Forgets a receiver that will read nothing more from `next` on.
    fn leave(&mut self, next: u64) -> Vec<ValueArc<T>> {
        let mut dropped = Vec::new();
        let from = next.max(self.head);
        for pos in from..self.tail {
            let slot = &mut self.ring[(pos - self.head) as usize];
            slot.rem -= 1;
            if slot.rem == 0 {
                dropped.extend(slot.val.take());
            }
        }
        dropped
    }
}

/// Clones a value read under the lock, after the lock is released.
fn owned<T: Clone>(v: ValueArc<T>) -> T {
    ValueArc::try_unwrap(v).unwrap_or_else(|shared| (*shared).clone())
}

impl<T> Sender<T> {
    /// Sends `v` to every current receiver, returning how many there are;
    /// `Err(v)` if there is none. With the ring full the oldest value is
    /// evicted (receivers that missed it get `Lagged`).
    ///
    /// ```
    /// let (tx, rx) = gort_sync::broadcast::channel(2);
    /// assert_eq!(tx.send("a").unwrap(), 1);
    /// drop(rx);
    /// assert_eq!(tx.send("b").unwrap_err().0, "b");
    /// ```
    pub fn send(&self, v: T) -> Result<usize, SendError<T>> {
        let (n, evicted, wakers) = {
            let mut st = lock(&self.shared.state);
            if st.receivers == 0 {
                return Err(SendError(v));
            }
            let evicted = if st.ring.len() == self.shared.cap {
                st.head += 1;
                st.ring.pop_front()
            } else {
                None
            };
            let rem = st.receivers;
            st.ring.push_back(Slot {
                rem,
                val: Some(ValueArc::new(v)),
            });
            st.tail += 1;
            (rem, evicted, take_all(&mut st.waiters))
        };
        drop(evicted);
        wakers.into_iter().for_each(Waker::wake);
        Ok(n)
    }

    /// A new receiver, receiving the values sent from now on.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::broadcast::channel::<u8>(2);
    /// let mut late = tx.subscribe();
    /// assert!(late.try_recv().is_err());
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        let next = {
            let mut st = lock(&self.shared.state);
            st.receivers += 1;
            st.tail
        };
        Receiver {
            shared: self.shared.clone(),
            next,
        }
    }

    /// Live receivers.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::broadcast::channel::<u8>(2);
    /// assert_eq!(tx.receiver_count(), 1);
    /// ```
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared.state).receivers
    }

    /// Live senders.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::broadcast::channel::<u8>(2);
    /// assert_eq!(tx.clone().strong_count(), 2);
    /// ```
    pub fn strong_count(&self) -> usize {
        lock(&self.shared.state).senders
    }

    /// Values some receiver alive at their send has not read yet (and not
    /// evicted).
    ///
    /// ```
    /// let (tx, mut rx) = gort_sync::broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// rx.try_recv().unwrap();
    /// assert_eq!(tx.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        let st = lock(&self.shared.state);
        st.ring.iter().filter(|s| s.rem > 0).count()
    }

    /// Whether [`len`](Sender::len) is 0.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::broadcast::channel::<u8>(4);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether both senders belong to one channel.
    ///
    /// ```
    /// let (tx, _rx) = gort_sync::broadcast::channel::<u8>(4);
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Completes once every receiver is gone.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let (tx, rx) = gort_sync::broadcast::channel::<u8>(4);
    /// drop(rx);
    /// block_on(tx.closed());
    /// ```
    pub fn closed(&self) -> Closed<'_, T> {
        Closed {
            shared: &self.shared,
            key: None,
        }
    }
}

impl<T: Clone> Receiver<T> {
    /// Receives the next value, waiting for one. `Lagged(n)` if `n` values
    /// were evicted before this receiver read them (the next call returns
    /// the oldest retained value); `Closed` once every sender is gone and
    /// everything retained was read.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// use gort_sync::broadcast::{self, error::RecvError};
    /// let (tx, mut rx) = broadcast::channel(2);
    /// for v in [10, 20, 30] {
    ///     tx.send(v).unwrap();
    /// }
    /// assert_eq!(block_on(rx.recv()), Err(RecvError::Lagged(1)));
    /// assert_eq!(block_on(rx.recv()), Ok(20));
    /// assert_eq!(block_on(rx.recv()), Ok(30));
    /// drop(tx);
    /// assert_eq!(block_on(rx.recv()), Err(RecvError::Closed));
    /// ```
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv {
            rx: self,
            key: None,
        }
    }

    /// Receives without waiting.
    ///
    /// ```
    /// use gort_sync::broadcast::{self, error::TryRecvError};
    /// let (tx, mut rx) = broadcast::channel::<u8>(2);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let found = lock(&self.shared.state).read(&mut self.next);
        match found {
            Found::Value(v) => Ok(owned(v)),
            Found::Lagged(n) => Err(TryRecvError::Lagged(n)),
            Found::Empty => Err(TryRecvError::Empty),
            Found::Closed => Err(TryRecvError::Closed),
        }
    }

    /// [`recv`](Receiver::recv) from code that is not async.
    ///
    /// ```
    /// let (tx, mut rx) = gort_sync::broadcast::channel(2);
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.blocking_recv(), Ok(1));
    /// ```
    pub fn blocking_recv(&mut self) -> Result<T, RecvError> {
        block_on(self.recv())
    }
}

impl<T> Receiver<T> {
    /// A new receiver on the same channel, receiving values sent from now
    /// on (not this one's backlog).
    ///
    /// ```
    /// let (tx, rx) = gort_sync::broadcast::channel(2);
    /// tx.send(1).unwrap();
    /// let mut rx2 = rx.resubscribe();
    /// assert!(rx2.try_recv().is_err());
    /// ```
    pub fn resubscribe(&self) -> Self {
        let next = {
            let mut st = lock(&self.shared.state);
            st.receivers += 1;
            st.tail
        };
        Receiver {
            shared: self.shared.clone(),
            next,
        }
    }

    /// Values sent that this receiver has not read yet (more than the
    /// capacity means the next receive reports `Lagged`).
    ///
    /// ```
    /// let (tx, rx) = gort_sync::broadcast::channel(2);
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        (lock(&self.shared.state).tail - self.next) as usize
    }

    /// Whether [`len`](Receiver::len) is 0.
    ///
    /// ```
    /// let (_tx, rx) = gort_sync::broadcast::channel::<u8>(2);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every sender is gone (values may still be retained).
    ///
    /// ```
    /// let (tx, rx) = gort_sync::broadcast::channel::<u8>(2);
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.state).senders == 0
    }

    /// Whether both receivers belong to one channel.
    ///
    /// ```
    /// let (_tx, rx) = gort_sync::broadcast::channel::<u8>(2);
    /// assert!(rx.same_channel(&rx.resubscribe()));
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// The future of [`Receiver::recv`].
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, T> {
    rx: &'a mut Receiver<T>,
    key: Option<usize>,
}

impl<T: Clone> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let coop = ready!(poll_proceed(cx));
        let stale;
        let mut st = lock(&this.rx.shared.state);
        let r = match st.read(&mut this.rx.next) {
            Found::Value(v) => Ok(v),
            Found::Lagged(n) => Err(RecvError::Lagged(n)),
            Found::Closed => Err(RecvError::Closed),
            Found::Empty => {
                // Re-register at every pending poll: a send unlinks every
                // waiter it wakes, and this one may have been woken.
                stale = st.waiters.relink(&mut this.key, cx.waker());
                drop(st);
                drop(stale);
                set_wait_reason(WaitReason::ChanReceive);
                return Poll::Pending;
            }
        };
        let w = this.key.take().map(|k| st.waiters.remove(k));
        drop(st);
        drop(w);
        coop.made_progress();
        Poll::Ready(r.map(owned))
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        remove_waiter(&self.rx.shared.state, self.key, |s| &mut s.waiters);
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

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        lock(&self.shared.state).senders += 1;
        Sender {
            shared: self.shared.clone(),
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
            take_all(&mut st.waiters)
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let (dropped, wakers) = {
            let mut st = lock(&self.shared.state);
            let dropped = st.leave(self.next);
            st.receivers -= 1;
            let wakers = if st.receivers == 0 {
                take_all(&mut st.closed)
            } else {
                Vec::new()
            };
            (dropped, wakers)
        };
        drop(dropped);
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.shared.cap)
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("next", &self.next)
            .finish()
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv")
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
