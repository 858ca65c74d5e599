//! `Once` and `OnceCell<T>`: Go's `sync.Once` (sync/once.go), for async
//! initialisers too.
//!
//! One state under a lock: not run, running, done; plus the callers
//! waiting for the running one (wait reason "sync.Once.Do"). Go's `Do`
//! returns to every caller only after `f` has returned, and treats a
//! panicking `f` as done. gort departs on the second point: if the
//! initialiser panics, or its future is dropped (cancelled) midway, the
//! `Once` goes back to "not run" and the next waiting caller runs it —
//! a cancelled async initialiser must not leave a half-initialised value
//! looking finished (this is what tokio's `OnceCell` does too).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use gort_core::wait::{set_wait_reason, WaitReason};

use crate::primitives::{lock, Mutex};
use crate::waitq::WaitQueue;

/// Runs an initialiser exactly once, however many tasks ask (Go's
/// `sync.Once`).
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let once = gort_sync::Once::new();
/// let mut runs = 0;
/// block_on(once.call_once(|| runs += 1));
/// block_on(once.call_once(|| runs += 1));
/// assert_eq!(runs, 1);
/// assert!(once.is_done());
/// ```
pub struct Once {
    state: Mutex<State>,
}

struct State {
    status: Status,
    waiters: WaitQueue<Waker>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    NotRun,
    Running,
    Done,
}

/// Puts a running `Once` back to "not run" unless disarmed: a panic or a
/// cancellation of the initialiser.
struct Reset<'a>(Option<&'a Once>);

impl Drop for Reset<'_> {
    fn drop(&mut self) {
        if let Some(once) = self.0 {
            once.finish(Status::NotRun);
        }
    }
}

impl Once {
    /// A `Once` that has not run.
    ///
    /// ```
    /// assert!(!gort_sync::Once::new().is_done());
    /// ```
    pub fn new() -> Self {
        Once {
            state: Mutex::new(State {
                status: Status::NotRun,
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// Whether an initialiser has completed.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let once = gort_sync::Once::new();
    /// block_on(once.call_once(|| ()));
    /// assert!(once.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        lock(&self.state).status == Status::Done
    }

    /// Runs `f` if no call has completed yet; returns once some call has
    /// (Go's `Do`).
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let once = gort_sync::Once::new();
    /// let mut log = Vec::new();
    /// block_on(once.call_once(|| log.push("init")));
    /// assert_eq!(log, ["init"]);
    /// ```
    pub async fn call_once<F: FnOnce()>(&self, f: F) {
        self.call_once_async(|| async { f() }).await;
    }

    /// [`call_once`](Once::call_once) with an async initialiser: the future
    /// `f()` is awaited by the one caller that runs it, the others wait.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let once = gort_sync::Once::new();
    /// block_on(once.call_once_async(|| async { /* connect, load, ... */ }));
    /// assert!(once.is_done());
    /// ```
    pub async fn call_once_async<F, Fut>(&self, f: F)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ()>,
    {
        if (OnceWait {
            once: self,
            key: None,
        })
        .await
            == Status::Done
        {
            return;
        }
        // We hold the run (state `Running`): a panic or a cancellation of
        // `f()` resets it and wakes the waiters, one of which takes over.
        let mut reset = Reset(Some(self));
        f().await;
        reset.0 = None;
        self.finish(Status::Done);
    }

    /// Claims the run without waiting: `Some(NotRun)` means the caller now
    /// runs it (state `Running`); otherwise the state it is in.
    fn try_claim(&self) -> Status {
        let mut st = lock(&self.state);
        let now = st.status;
        if now == Status::NotRun {
            st.status = Status::Running;
        }
        now
    }

    /// Leaves the running state and wakes every waiter.
    fn finish(&self, status: Status) {
        let wakers: Vec<Waker> = {
            let mut st = lock(&self.state);
            st.status = status;
            let mut wakers = Vec::new();
            while let Some(k) = st.waiters.head() {
                st.waiters.unlink(k);
                wakers.push(std::mem::replace(
                    st.waiters.get_mut(k),
                    Waker::noop().clone(),
                ));
            }
            wakers
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// Waits while another caller runs the initialiser; then reports `Done`,
/// or claims the run (returns `NotRun`, leaving the state `Running`).
struct OnceWait<'a> {
    once: &'a Once,
    key: Option<usize>,
}

impl Future for OnceWait<'_> {
    type Output = Status;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Status> {
        let this = self.get_mut();
        // Declared before the guard, so our old waker is dropped after it.
        let stale;
        let mut st = lock(&this.once.state);
        stale = this.key.take().map(|k| st.waiters.remove(k));
        match st.status {
            Status::Done => Poll::Ready(Status::Done),
            Status::NotRun => {
                st.status = Status::Running;
                Poll::Ready(Status::NotRun)
            }
            Status::Running => {
                this.key = Some(st.waiters.push_back(cx.waker().clone()));
                drop(st);
                drop(stale);
                set_wait_reason(WaitReason::OnceWait);
                Poll::Pending
            }
        }
    }
}

impl Drop for OnceWait<'_> {
    fn drop(&mut self) {
        if let Some(k) = self.key {
            // The statement ends (releasing the lock) before `w` is dropped.
            let w = lock(&self.once.state).waiters.remove(k);
            drop(w);
        }
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("status", &lock(&self.state).status)
            .finish()
    }
}

/// A value initialised once, possibly by an async initialiser; callers
/// that arrive while it runs wait for it. Built on [`Once`].
///
/// It has tokio's `OnceCell` API: [`get_or_init`](OnceCell::get_or_init),
/// [`get_or_try_init`](OnceCell::get_or_try_init), [`get`](OnceCell::get),
/// [`set`](OnceCell::set) with [`SetError`], [`initialized`](OnceCell::initialized),
/// [`new_with`](OnceCell::new_with), [`get_mut`](OnceCell::get_mut),
/// [`into_inner`](OnceCell::into_inner), [`take`](OnceCell::take).
/// A failing or cancelled initialiser leaves the cell empty, and the next
/// waiting caller runs its own.
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let cell = gort_sync::OnceCell::new();
/// let v = block_on(cell.get_or_init(|| async { 42 }));
/// assert_eq!(*v, 42);
/// assert_eq!(block_on(cell.get_or_init(|| async { 0 })), &42);
/// ```
pub struct OnceCell<T> {
    once: Once,
    value: OnceLock<T>,
}

impl<T> OnceCell<T> {
    /// An empty cell.
    ///
    /// ```
    /// assert!(gort_sync::OnceCell::<u8>::new().get().is_none());
    /// ```
    pub fn new() -> Self {
        OnceCell {
            once: Once::new(),
            value: OnceLock::new(),
        }
    }

    /// The value, if initialised.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let cell = gort_sync::OnceCell::new();
    /// block_on(cell.get_or_init(|| async { "v" }));
    /// assert_eq!(cell.get(), Some(&"v"));
    /// ```
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// The value, running `f` to produce it if no call has yet.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let cell = gort_sync::OnceCell::new();
    /// assert_eq!(block_on(cell.get_or_init(|| async { 1 + 1 })), &2);
    /// ```
    pub async fn get_or_init<F, Fut>(&self, f: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if let Some(v) = self.value.get() {
            return v;
        }
        self.once
            .call_once_async(|| async {
                let v = f().await;
                let _ = self.value.set(v);
            })
            .await;
        self.value.get().expect("Once completed without a value")
    }
}

impl<T> OnceCell<T> {
    /// A cell holding `value` if `Some`, else empty.
    ///
    /// ```
    /// assert_eq!(gort_sync::OnceCell::new_with(Some(3)).get(), Some(&3));
    /// ```
    pub fn new_with(value: Option<T>) -> Self {
        let cell = OnceCell::new();
        if let Some(v) = value {
            let _unset_cell_accepts = cell.set(v);
        }
        cell
    }

    /// Whether the cell holds a value.
    ///
    /// ```
    /// let cell = gort_sync::OnceCell::new();
    /// assert!(!cell.initialized());
    /// cell.set(1).unwrap();
    /// assert!(cell.initialized());
    /// ```
    pub fn initialized(&self) -> bool {
        self.value.get().is_some()
    }

    /// Stores `value` if the cell is empty and no initialiser is running;
    /// otherwise gives it back in the error.
    ///
    /// ```
    /// use gort_sync::{OnceCell, SetError};
    /// let cell = OnceCell::new();
    /// cell.set(1).unwrap();
    /// assert!(matches!(cell.set(2), Err(SetError::AlreadyInitializedError(2))));
    /// ```
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        match self.once.try_claim() {
            Status::Done => Err(SetError::AlreadyInitializedError(value)),
            Status::Running => Err(SetError::InitializingError(value)),
            Status::NotRun => {
                let stored = self.value.set(value);
                self.once.finish(Status::Done);
                stored.map_err(SetError::AlreadyInitializedError)
            }
        }
    }

    /// The value, running the fallible `f` to produce it if the cell is
    /// empty. An `Err` from `f` is returned and leaves the cell empty.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let cell = gort_sync::OnceCell::new();
    /// assert_eq!(block_on(cell.get_or_try_init(|| async { Err::<u8, _>("no") })), Err("no"));
    /// assert!(!cell.initialized());
    /// assert_eq!(block_on(cell.get_or_try_init(|| async { Ok::<_, ()>(4) })), Ok(&4));
    /// ```
    pub async fn get_or_try_init<E, F, Fut>(&self, f: F) -> Result<&T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(v) = self.value.get() {
            return Ok(v);
        }
        if (OnceWait {
            once: &self.once,
            key: None,
        })
        .await
            == Status::NotRun
        {
            // We run the initialiser; a panic, a cancellation or an `Err`
            // puts the cell back to empty (dropping `reset`).
            let mut reset = Reset(Some(&self.once));
            let v = f().await?;
            let _ = self.value.set(v);
            reset.0 = None;
            self.once.finish(Status::Done);
        }
        Ok(self.value.get().expect("Once completed without a value"))
    }

    /// A mutable reference to the value, if any.
    ///
    /// ```
    /// let mut cell = gort_sync::OnceCell::new_with(Some(1));
    /// *cell.get_mut().unwrap() += 1;
    /// assert_eq!(cell.get(), Some(&2));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.get_mut()
    }

    /// The value, consuming the cell.
    ///
    /// ```
    /// assert_eq!(gort_sync::OnceCell::new_with(Some(5)).into_inner(), Some(5));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }

    /// Takes the value out, leaving the cell empty (and initialisable
    /// again).
    ///
    /// ```
    /// let mut cell = gort_sync::OnceCell::new_with(Some(5));
    /// assert_eq!(cell.take(), Some(5));
    /// assert!(cell.set(6).is_ok());
    /// ```
    pub fn take(&mut self) -> Option<T> {
        std::mem::take(self).into_inner()
    }
}

/// Why [`OnceCell::set`] did not store the value; it is given back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetError<T> {
    /// The cell already holds a value.
    AlreadyInitializedError(T),
    /// An initialiser is running right now.
    InitializingError(T),
}

impl<T> SetError<T> {
    /// Whether the cell already held a value.
    ///
    /// ```
    /// let cell = gort_sync::OnceCell::new_with(Some(1));
    /// assert!(cell.set(2).unwrap_err().is_already_init_err());
    /// ```
    pub fn is_already_init_err(&self) -> bool {
        matches!(self, SetError::AlreadyInitializedError(_))
    }

    /// Whether an initialiser was running.
    ///
    /// ```
    /// let cell = gort_sync::OnceCell::new_with(Some(1));
    /// assert!(!cell.set(2).unwrap_err().is_initializing_err());
    /// ```
    pub fn is_initializing_err(&self) -> bool {
        matches!(self, SetError::InitializingError(_))
    }
}

impl<T> fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::AlreadyInitializedError(_) => f.write_str("cell already initialized"),
            SetError::InitializingError(_) => f.write_str("cell is being initialized"),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for SetError<T> {}

impl<T> From<T> for OnceCell<T> {
    fn from(value: T) -> Self {
        OnceCell::new_with(Some(value))
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        OnceCell::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell")
            .field("value", &self.value.get())
            .finish()
    }
}
