//! `Mutex<T>`: Go's `sync.Mutex` (sync/mutex.go) as an async, guard-based lock.
//!
//! ## Go's two modes
//! In **normal mode** waiters queue FIFO, but a woken waiter does not own
//! the lock: it competes with tasks that are arriving right now, and those
//! usually win (they are already running). Throughput is high. A waiter that
//! loses is put back at the *front* of the queue. A waiter that has waited
//! more than [`STARVATION_THRESHOLD`] (1 ms) switches the mutex to
//! **starvation mode**: unlock hands ownership directly to the waiter at
//! the front, and newcomers neither take the lock nor spin — they queue at
//! the tail. The mutex leaves starvation mode when the waiter that receives
//! it is the last one, or has waited less than 1 ms.
//!
//! ## State word
//! `state` packs Go's bits: [`MUTEX_LOCKED`], [`MUTEX_WOKEN`],
//! [`MUTEX_STARVING`], and the number of queued waiters from
//! [`MUTEX_WAITER_SHIFT`] up. The uncontended paths are one CAS each:
//! lock `0 → LOCKED`, unlock `LOCKED → 0`. Every other transition is made
//! while holding `queue`'s lock, which owns the waiter queue.
//!
//! Invariant: whenever the waiter count is non-zero, or `WOKEN` or
//! `STARVING` is set, `state != 0` and `state != LOCKED`, so neither fast
//! path can succeed and every change to the state is serialised by the
//! queue lock. The count equals the number of waiters linked in the queue.
//!
//! ## Departures from Go
//! - Go's waiters park on a runtime semaphore and may spin first; here a
//!   waiter is a future in the queue (no spinning: a task that cannot take
//!   the lock yields its P instead).
//! - Cancellation: a waiting lock future may be dropped. If it was woken in
//!   normal mode it passes the wake-up on; if ownership was already handed
//!   to it in starvation mode it unlocks, handing it on in turn.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::primitives::{lock, AtomicUsize, Mutex as StdMutex, Ordering};
use crate::waitq::WaitQueue;

/// The mutex is held. Set by the task that takes it; cleared by unlock
/// (in normal mode). In starvation mode unlock keeps it set and hands the
/// ownership to the first waiter.
pub const MUTEX_LOCKED: usize = 1 << 0;
/// A waiter has been woken in normal mode and has not yet tried to take the
/// lock; while set, unlock wakes nobody else. Cleared by that waiter (or by
/// its cancellation). Never set together with `MUTEX_STARVING` by unlock.
pub const MUTEX_WOKEN: usize = 1 << 1;
/// Starvation mode: unlock hands ownership to the front waiter and
/// newcomers queue behind it. Set by a waiter that waited longer than
/// [`STARVATION_THRESHOLD`]; cleared when the handed-to waiter is the last
/// or waited less than that. Only set while waiters are queued.
pub const MUTEX_STARVING: usize = 1 << 2;
/// The waiter count occupies the bits from here up.
pub const MUTEX_WAITER_SHIFT: u32 = 3;
/// One waiter in the count.
const ONE_WAITER: usize = 1 << MUTEX_WAITER_SHIFT;

/// How long a waiter may be passed over before the mutex switches to
/// starvation mode: Go's `starvationThresholdNs`, 1 ms — long enough that
/// normal mode's throughput wins under ordinary contention, short enough
/// that tail latency stays bounded.
#[cfg(not(loom))]
pub const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);
/// Under loom the threshold is out of reach: loom needs every execution of
/// a model to take the same branches, and wall-clock time would not. The
/// loom models check normal mode; starvation mode is tested by ordering in
/// `tests/mutex.rs`.
#[cfg(loom)]
pub const STARVATION_THRESHOLD: Duration = Duration::from_secs(3600);

/// An async mutual-exclusion lock with Go's fairness (see the module docs).
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let m = gort_sync::Mutex::new(0);
/// block_on(async {
///     *m.lock().await += 1;
/// });
/// assert_eq!(*m.try_lock().unwrap(), 1);
/// ```
pub struct Mutex<T: ?Sized> {
    state: AtomicUsize,
    queue: StdMutex<WaitQueue<Waiter>>,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands out access to `data` to one guard at a time, so it
// may be shared between threads whenever `T` may be sent between them.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: moving the mutex moves the `T` it owns.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

struct Waiter {
    waker: Waker,
    since: Instant,
    status: Status,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    /// Woken in normal mode: may now compete for the lock.
    Woken,
    /// Ownership handed over in starvation mode: the lock is ours.
    Granted,
}

/// Proof of holding a [`Mutex`]; unlocks on drop.
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Send iff `T: Send`, Sync iff `T: Sync`, like `&mut T`.
    _marker: PhantomData<&'a mut T>,
}

/// [`Mutex::try_lock`] found the mutex held (or in starvation mode, where
/// the lock belongs to the waiters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError;

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mutex is locked")
    }
}

impl std::error::Error for TryLockError {}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`.
    ///
    /// ```
    /// let m = gort_sync::Mutex::new(vec![1]);
    /// assert_eq!(m.into_inner(), vec![1]);
    /// ```
    pub fn new(value: T) -> Self {
        Mutex {
            state: AtomicUsize::new(0),
            queue: StdMutex::new(WaitQueue::new()),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the value.
    ///
    /// ```
    /// let m = gort_sync::Mutex::new(3);
    /// assert_eq!(m.into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock (wait reason "sync.Mutex.Lock").
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let m = gort_sync::Mutex::new(String::new());
    /// block_on(async { m.lock().await.push_str("go") });
    /// assert_eq!(*m.try_lock().unwrap(), "go");
    /// ```
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            key: None,
            since: None,
            done: false,
        }
    }

    /// Takes the lock if it is free right now (Go's `TryLock`).
    ///
    /// ```
    /// let m = gort_sync::Mutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(g);
    /// assert!(m.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (MUTEX_LOCKED | MUTEX_STARVING) != 0 {
                return Err(TryLockError);
            }
            match self.state.compare_exchange_weak(
                s,
                s | MUTEX_LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(self.guard()),
                Err(now) => s = now,
            }
        }
    }

    /// [`lock`](Mutex::lock) from code that is not async: parks the
    /// thread until the lock is taken (tokio's `blocking_lock`).
    ///
    /// ```
    /// let m = gort_sync::Mutex::new(1);
    /// *m.blocking_lock() += 1;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        crate::block::block_on(self.lock())
    }

    /// [`lock`](Mutex::lock) for an `Arc<Mutex>`: the guard keeps the mutex
    /// alive, so it can be held across `'static` tasks (tokio's
    /// `lock_owned`).
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// use std::sync::Arc;
    /// let m = Arc::new(gort_sync::Mutex::new(1));
    /// let mut g = block_on(m.clone().lock_owned());
    /// *g += 1;
    /// drop(g);
    /// assert_eq!(*m.try_lock().unwrap(), 2);
    /// ```
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        std::mem::forget(self.lock().await);
        OwnedMutexGuard {
            mutex: self,
            _marker: PhantomData,
        }
    }

    /// [`try_lock`](Mutex::try_lock) for an `Arc<Mutex>`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(gort_sync::Mutex::new(()));
    /// let g = m.clone().try_lock_owned().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(g);
    /// ```
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        std::mem::forget(self.try_lock()?);
        Ok(OwnedMutexGuard {
            mutex: self,
            _marker: PhantomData,
        })
    }

    /// Releases the lock held by a guard (fast path: nobody waits).
    fn unlock(&self) {
        if self
            .state
            .compare_exchange(MUTEX_LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    /// A mutable reference to the value, through exclusive access.
    ///
    /// ```
    /// let mut m = gort_sync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Whether the mutex is in starvation mode right now (a snapshot, for
    /// diagnostics and tests).
    ///
    /// ```
    /// assert!(!gort_sync::Mutex::new(()).is_starving());
    /// ```
    pub fn is_starving(&self) -> bool {
        self.state.load(Ordering::Relaxed) & MUTEX_STARVING != 0
    }

    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            mutex: self,
            _marker: PhantomData,
        }
    }

    /// Go's `unlockSlow`, under the queue lock.
    fn unlock_slow(&self) {
        let waker = {
            let mut q = lock(&self.queue);
            self.unlock_locked(&mut q)
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn unlock_locked(&self, q: &mut WaitQueue<Waiter>) -> Option<Waker> {
        let s = self.state.load(Ordering::Relaxed);
        debug_assert!(s & MUTEX_LOCKED != 0, "unlock of unlocked mutex");
        if s & MUTEX_STARVING != 0 {
            // Hand ownership to the front waiter; LOCKED stays set.
            let k = q.head().expect("starving mutex without waiters");
            q.unlink(k);
            let w = q.get_mut(k);
            w.status = Status::Granted;
            let mut delta = ONE_WAITER;
            if s >> MUTEX_WAITER_SHIFT == 1 || w.since.elapsed() < STARVATION_THRESHOLD {
                delta += MUTEX_STARVING;
            }
            self.state.fetch_sub(delta, Ordering::Release);
            return Some(std::mem::replace(&mut w.waker, Waker::noop().clone()));
        }
        // Normal mode: release, then wake one waiter unless one is already
        // awake and about to compete.
        let s = self.state.fetch_and(!MUTEX_LOCKED, Ordering::Release) & !MUTEX_LOCKED;
        self.wake_one_locked(q, s)
    }

    /// Wakes the front waiter in normal mode if the state `s` allows it.
    fn wake_one_locked(&self, q: &mut WaitQueue<Waiter>, s: usize) -> Option<Waker> {
        if s >> MUTEX_WAITER_SHIFT == 0 || s & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING) != 0 {
            return None;
        }
        let k = q.head()?;
        q.unlink(k);
        self.state.fetch_add(MUTEX_WOKEN, Ordering::Relaxed);
        self.state.fetch_sub(ONE_WAITER, Ordering::Relaxed);
        let w = q.get_mut(k);
        w.status = Status::Woken;
        Some(std::mem::replace(&mut w.waker, Waker::noop().clone()))
    }
}

/// Replaces `slot` with `waker` if it would not wake the same task,
/// returning the old waker for the caller to drop once its lock is released
/// (dropping a waker may run code that re-enters the primitive).
pub(crate) fn refresh_waker(slot: &mut Waker, waker: &Waker) -> Option<Waker> {
    (!slot.will_wake(waker)).then(|| std::mem::replace(slot, waker.clone()))
}

/// The future of [`Mutex::lock`].
#[must_use = "futures do nothing unless polled"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Our waiter in the queue, while queued or woken or granted.
    key: Option<usize>,
    /// When this lock call first had to wait (Go's `waitStartTime`).
    since: Option<Instant>,
    done: bool,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let this = self.get_mut();
        assert!(!this.done, "lock future polled after completion");
        let m = this.mutex;
        if this.key.is_none()
            && m.state
                .compare_exchange(0, MUTEX_LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            // The fast path charges no budget unit: like an uncontended Go
            // Lock, it cannot park.
            this.done = true;
            return Poll::Ready(m.guard());
        }
        let coop = ready!(poll_proceed(cx));
        // Declared before the guard, so dropped after it: a waker's drop
        // may re-enter this mutex.
        let stale;
        let mut q = lock(&m.queue);
        let mut awoke = false;
        if let Some(k) = this.key {
            match q.get(k).status {
                Status::Granted => {
                    q.remove(k);
                    this.key = None;
                    this.done = true;
                    coop.made_progress();
                    return Poll::Ready(m.guard());
                }
                Status::Woken => {
                    q.remove(k);
                    this.key = None;
                    awoke = true;
                }
                Status::Waiting => {
                    stale = refresh_waker(&mut q.get_mut(k).waker, cx.waker());
                    drop(q);
                    drop(stale);
                    set_wait_reason(WaitReason::MutexLock);
                    return Poll::Pending;
                }
            }
        }
        // Go's lockSlow loop body, with the state stable under the queue lock
        // except for the LOCKED bit (fast-path lockers only succeed from 0).
        let mut s = m.state.load(Ordering::Relaxed);
        loop {
            let mut new = s;
            if awoke {
                new &= !MUTEX_WOKEN;
            }
            if s & (MUTEX_LOCKED | MUTEX_STARVING) == 0 {
                match m.state.compare_exchange(
                    s,
                    new | MUTEX_LOCKED,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        this.done = true;
                        coop.made_progress();
                        return Poll::Ready(m.guard());
                    }
                    Err(now) => {
                        s = now;
                        continue;
                    }
                }
            }
            // Queue up. A waiter that has already waited goes back to the
            // front (Go's queueLifo) and may switch the mutex to starvation.
            let since = *this.since.get_or_insert_with(Instant::now);
            new += ONE_WAITER;
            if awoke && s & MUTEX_LOCKED != 0 && since.elapsed() > STARVATION_THRESHOLD {
                new |= MUTEX_STARVING;
            }
            if m.state
                .compare_exchange(s, new, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                s = m.state.load(Ordering::Relaxed);
                continue;
            }
            let waiter = Waiter {
                waker: cx.waker().clone(),
                since,
                status: Status::Waiting,
            };
            let k = if awoke {
                q.push_front(waiter)
            } else {
                q.push_back(waiter)
            };
            this.key = Some(k);
            set_wait_reason(WaitReason::MutexLock);
            return Poll::Pending;
        }
    }
}

impl<T: ?Sized> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        let Some(k) = self.key else { return };
        let m = self.mutex;
        // Declared before the guard, so our waiter (and its waker) is
        // dropped after the queue lock is released.
        let w;
        let waker = {
            let mut q = lock(&m.queue);
            w = q.remove(k);
            match w.status {
                Status::Waiting => {
                    let mut dec = ONE_WAITER;
                    let s = m.state.load(Ordering::Relaxed);
                    if s >> MUTEX_WAITER_SHIFT == 1 {
                        dec += s & MUTEX_STARVING;
                    }
                    m.state.fetch_sub(dec, Ordering::Relaxed);
                    None
                }
                Status::Woken => {
                    // Pass the wake-up on.
                    let s = m.state.fetch_and(!MUTEX_WOKEN, Ordering::Relaxed) & !MUTEX_WOKEN;
                    m.wake_one_locked(&mut q, s)
                }
                // We own the lock: unlock it, handing it on.
                Status::Granted => m.unlock_locked(&mut q),
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

/// Proof of holding a [`Mutex`] owned through an `Arc` (from
/// [`Mutex::lock_owned`]); unlocks on drop.
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct OwnedMutexGuard<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
    /// Neither `Send` nor `Sync` by itself: the impls below add them with
    /// the bounds of `&mut T`.
    _marker: PhantomData<*mut T>,
}

// SAFETY: the guard is exclusive access to the `T`, like `&mut T`, which is
// `Send` when `T: Send`; the `Arc` it owns is `Send` under the same bound.
unsafe impl<T: ?Sized + Send> Send for OwnedMutexGuard<T> {}
// SAFETY: sharing the guard shares `&T` (through `Deref`), which needs
// `T: Sync`; the mutex itself is `Sync` when `T: Send`.
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedMutexGuard<T> {}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// The mutex this guard locks.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(gort_sync::Mutex::new(0));
    /// let g = m.clone().try_lock_owned().unwrap();
    /// assert!(Arc::ptr_eq(gort_sync::OwnedMutexGuard::mutex(&g), &m));
    /// ```
    pub fn mutex(guard: &Self) -> &Arc<Mutex<T>> {
        &guard.mutex
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while its owner holds the lock, so
        // no other reference to the data is live.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access
        // through the guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (used by [`Cond`](crate::Cond) to re-lock).
    pub fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a guard exists only while this task holds the lock, so no
        // other reference to the data is live.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access
        // through the guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.load(Ordering::Relaxed);
        f.debug_struct("Mutex")
            .field("locked", &(s & MUTEX_LOCKED != 0))
            .field("starving", &(s & MUTEX_STARVING != 0))
            .field("waiters", &(s >> MUTEX_WAITER_SHIFT))
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}
