//! tokio's `Barrier`: `n` tasks wait until all `n` have arrived.
//!
//! One lock around the arrival count, a generation number and the queue
//! of waiting tasks. The `n`-th arrival of a generation is its leader: it
//! starts the next generation (so the barrier is reusable) and wakes every
//! waiter of the one that completed. Each waiter remembers its generation
//! and completes when the generation has moved on.
//!
//! As in tokio, an arrival counts from the first poll of [`Barrier::wait`]:
//! dropping the future afterwards does not take the arrival back. `n == 0`
//! behaves as `n == 1` (tokio does the same). Waits record the wait reason
//! "sync.Barrier.Wait".

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::primitives::{lock, Mutex};
use crate::waitq::WaitQueue;

/// Makes `n` tasks meet (tokio's `Barrier`).
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let barrier = gort_sync::Barrier::new(1);
/// assert!(block_on(barrier.wait()).is_leader());
/// assert!(block_on(barrier.wait()).is_leader(), "reusable");
/// ```
pub struct Barrier {
    n: usize,
    state: Mutex<State>,
}

struct State {
    arrived: usize,
    generation: u64,
    waiters: WaitQueue<Waker>,
}

/// What [`Barrier::wait`] returns: whether this task was the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one waiter of each generation (the last to arrive).
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let b = gort_sync::Barrier::new(1);
    /// assert!(block_on(b.wait()).is_leader());
    /// ```
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

/// The future of [`Barrier::wait`].
#[must_use = "futures do nothing unless polled"]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    /// Set at the first poll: the generation waited on and the waiter key.
    waiting: Option<(u64, usize)>,
    done: bool,
}

impl Barrier {
    /// A barrier for `n` tasks (`0` counts as `1`).
    ///
    /// ```
    /// let _b = gort_sync::Barrier::new(4);
    /// ```
    pub fn new(n: usize) -> Self {
        Barrier {
            n: n.max(1),
            state: Mutex::new(State {
                arrived: 0,
                generation: 0,
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// Arrives and waits for the other `n - 1` tasks of this generation.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// use std::sync::Arc;
    /// let b = Arc::new(gort_sync::Barrier::new(2));
    /// let b2 = b.clone();
    /// let t = std::thread::spawn(move || block_on(b2.wait()).is_leader());
    /// let here = block_on(b.wait()).is_leader();
    /// assert!(here ^ t.join().unwrap(), "exactly one leader");
    /// ```
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            waiting: None,
            done: false,
        }
    }
}

impl Future for BarrierWait<'_> {
    type Output = BarrierWaitResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(BarrierWaitResult(false));
        }
        let coop = ready!(poll_proceed(cx));
        let mut st = lock(&this.barrier.state);
        match this.waiting {
            None => {
                st.arrived += 1;
                if st.arrived == this.barrier.n {
                    st.arrived = 0;
                    st.generation = st.generation.wrapping_add(1);
                    let mut wakers = Vec::new();
                    while let Some(k) = st.waiters.head() {
                        st.waiters.unlink(k);
                        wakers.push(std::mem::replace(
                            st.waiters.get_mut(k),
                            Waker::noop().clone(),
                        ));
                    }
                    drop(st);
                    wakers.into_iter().for_each(Waker::wake);
                    coop.made_progress();
                    this.done = true;
                    return Poll::Ready(BarrierWaitResult(true));
                }
                let k = st.waiters.push_back(cx.waker().clone());
                this.waiting = Some((st.generation, k));
            }
            Some((generation, k)) => {
                if st.generation != generation {
                    let w = st.waiters.remove(k);
                    drop(st);
                    drop(w);
                    this.waiting = None;
                    this.done = true;
                    coop.made_progress();
                    return Poll::Ready(BarrierWaitResult(false));
                }
                let w = st.waiters.get_mut(k);
                let stale =
                    (!w.will_wake(cx.waker())).then(|| std::mem::replace(w, cx.waker().clone()));
                drop(st);
                drop(stale);
            }
        }
        set_wait_reason(WaitReason::BarrierWait);
        Poll::Pending
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if let Some((_, k)) = self.waiting {
            let w = lock(&self.barrier.state).waiters.remove(k);
            drop(w);
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .field("arrived", &st.arrived)
            .field("generation", &st.generation)
            .finish()
    }
}

impl fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait")
            .field("waiting", &self.waiting.is_some())
            .finish()
    }
}
