//! `RwMutex<T>`: Go's `sync.RWMutex` (sync/rwmutex.go) as an async lock.
//!
//! Many readers or one writer. Go's writer preference: once a writer is
//! waiting, new readers wait too, so a stream of readers cannot starve a
//! writer. When a writer unlocks, every reader that queued during the write
//! is released together (Go's `readerWait` hand-over), then the next writer
//! waits for them to finish — readers and writers alternate under load.
//!
//! As in Go, the reader count is an atomic word, so an uncontended
//! `read()` and its unlock are one atomic operation each and never touch a
//! lock (Go's `readerCount`). Everything else — the writer, the waiting
//! writers, two FIFO queues — lives under one short lock, which keeps
//! cancellation (a dropped `read()`/`write()` future) straightforward: a
//! waiting writer that is dropped releases the readers it was holding back;
//! a future dropped after being granted unlocks.
//!
//! ## The reader word
//! `count` holds the number of readers holding the lock, plus [`BLOCKED`]:
//! set exactly while a writer holds the lock or waits for it (`writer ||
//! writers_waiting > 0`), and changed only under the state lock. A reader
//! takes the lock by incrementing `count` while `BLOCKED` is clear (a CAS);
//! otherwise it goes to the lock and queues. A writer sets `BLOCKED` with
//! one `fetch_or` under the lock: if no reader was counted, the lock is its;
//! otherwise it queues, and the reader whose decrement brings the count to
//! zero with `BLOCKED` set takes the state lock and hands it the lock. Go's
//! `readerWait` count of departing readers is not needed: new readers cannot
//! enter while `BLOCKED` is set, so "the count reached zero" is the moment.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::mutex::{refresh_waker, TryLockError};
use crate::primitives::{lock, AtomicUsize, Mutex, Ordering};
use crate::waitq::WaitQueue;

/// New readers must queue: a writer holds the lock or waits for it. Set and
/// cleared only under the state lock (so it always equals `writer ||
/// writers_waiting > 0` there); the reader fast paths only read it.
const BLOCKED: usize = 1 << (usize::BITS - 1);
/// The number of readers holding the lock: the bits below [`BLOCKED`].
const READERS: usize = BLOCKED - 1;

/// A reader–writer lock with Go's writer preference.
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let rw = gort_sync::RwMutex::new(1);
/// block_on(async {
///     let a = rw.read().await;
///     let b = rw.read().await;
///     assert_eq!(*a + *b, 2);
///     drop((a, b));
///     *rw.write().await += 1;
/// });
/// assert_eq!(rw.into_inner(), 2);
/// ```
pub struct RwMutex<T: ?Sized> {
    /// Readers holding the lock, and [`BLOCKED`] (see the module docs).
    count: AtomicUsize,
    state: Mutex<State>,
    data: UnsafeCell<T>,
}

// SAFETY: readers on several threads share `&T` (needs `T: Sync`); a
// writer gets `&mut T` on whichever thread holds the guard (needs `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwMutex<T> {}
// SAFETY: moving the lock moves the `T` it owns.
unsafe impl<T: ?Sized + Send> Send for RwMutex<T> {}

struct State {
    /// A writer holds the lock (granted, guard or not yet polled).
    writer: bool,
    /// Writers queued in `writeq`: while non-zero, new readers queue.
    writers_waiting: usize,
    readq: WaitQueue<Waiter>,
    writeq: WaitQueue<Waiter>,
}

struct Waiter {
    waker: Waker,
    granted: bool,
}

fn grant(q: &mut WaitQueue<Waiter>, k: usize, wakers: &mut Vec<Waker>) {
    q.unlink(k);
    let w = q.get_mut(k);
    w.granted = true;
    wakers.push(std::mem::replace(&mut w.waker, Waker::noop().clone()));
}

impl State {
    /// Releases every queued reader; each counts as a holder from now on.
    fn grant_readers(&mut self, count: &AtomicUsize, wakers: &mut Vec<Waker>) {
        let mut n = 0;
        while let Some(k) = self.readq.head() {
            n += 1;
            grant(&mut self.readq, k, wakers);
        }
        if n > 0 {
            count.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Gives the lock to the next writer if nobody holds it. Readers cannot
    /// join meanwhile: writers are waiting, so `BLOCKED` is set.
    fn grant_writer(&mut self, count: &AtomicUsize, wakers: &mut Vec<Waker>) {
        if self.writer || count.load(Ordering::Acquire) & READERS != 0 {
            return;
        }
        if let Some(k) = self.writeq.head() {
            self.writer = true;
            self.writers_waiting -= 1;
            grant(&mut self.writeq, k, wakers);
        }
    }

    /// Makes `BLOCKED` equal `writer || writers_waiting > 0` again.
    fn sync_blocked(&self, count: &AtomicUsize) {
        if self.writer || self.writers_waiting > 0 {
            count.fetch_or(BLOCKED, Ordering::AcqRel);
        } else {
            count.fetch_and(!BLOCKED, Ordering::Release);
        }
    }

    /// A reader holding the lock leaves, under the state lock.
    fn read_unlock(&mut self, count: &AtomicUsize, wakers: &mut Vec<Waker>) {
        count.fetch_sub(1, Ordering::Release);
        self.grant_writer(count, wakers);
    }

    fn write_unlock(&mut self, count: &AtomicUsize, wakers: &mut Vec<Waker>) {
        self.writer = false;
        self.grant_readers(count, wakers);
        self.grant_writer(count, wakers);
        self.sync_blocked(count);
    }
}

impl<T> RwMutex<T> {
    /// A new, unlocked lock holding `value`.
    ///
    /// ```
    /// let rw = gort_sync::RwMutex::new('x');
    /// assert_eq!(*rw.try_read().unwrap(), 'x');
    /// ```
    pub fn new(value: T) -> Self {
        RwMutex {
            count: AtomicUsize::new(0),
            state: Mutex::new(State {
                writer: false,
                writers_waiting: 0,
                readq: WaitQueue::new(),
                writeq: WaitQueue::new(),
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the value.
    ///
    /// ```
    /// assert_eq!(gort_sync::RwMutex::new(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwMutex<T> {
    /// Waits for shared access (Go's `RLock`, wait reason
    /// "sync.RWMutex.RLock"). Waits while a writer holds or awaits the lock.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let rw = gort_sync::RwMutex::new(vec![1, 2]);
    /// assert_eq!(block_on(rw.read()).len(), 2);
    /// ```
    pub fn read(&self) -> Read<'_, T> {
        Read {
            rw: self,
            key: None,
        }
    }

    /// Waits for exclusive access (Go's `Lock`, wait reason
    /// "sync.RWMutex.Lock").
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// let rw = gort_sync::RwMutex::new(0);
    /// *block_on(rw.write()) = 7;
    /// assert_eq!(*rw.try_read().unwrap(), 7);
    /// ```
    pub fn write(&self) -> Write<'_, T> {
        Write {
            rw: self,
            key: None,
        }
    }

    /// Shared access if available now (no writer holding or waiting).
    ///
    /// ```
    /// let rw = gort_sync::RwMutex::new(());
    /// let w = rw.try_write().unwrap();
    /// assert!(rw.try_read().is_err());
    /// drop(w);
    /// assert!(rw.try_read().is_ok());
    /// ```
    pub fn try_read(&self) -> Result<RwMutexReadGuard<'_, T>, TryLockError> {
        if self.try_read_fast() {
            Ok(self.read_guard())
        } else {
            Err(TryLockError)
        }
    }

    /// Exclusive access if the lock is free now.
    ///
    /// ```
    /// let rw = gort_sync::RwMutex::new(());
    /// let r = rw.try_read().unwrap();
    /// assert!(rw.try_write().is_err());
    /// drop(r);
    /// assert!(rw.try_write().is_ok());
    /// ```
    pub fn try_write(&self) -> Result<RwMutexWriteGuard<'_, T>, TryLockError> {
        let mut st = lock(&self.state);
        // Free means: no reader, no writer, nobody waiting (`count == 0`).
        if self
            .count
            .compare_exchange(0, BLOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(TryLockError);
        }
        st.writer = true;
        Ok(self.write_guard())
    }

    /// A mutable reference to the value, through exclusive access.
    ///
    /// ```
    /// let mut rw = gort_sync::RwMutex::new(1);
    /// *rw.get_mut() += 1;
    /// assert_eq!(rw.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    fn read_guard(&self) -> RwMutexReadGuard<'_, T> {
        RwMutexReadGuard {
            rw: self,
            _marker: PhantomData,
        }
    }

    fn write_guard(&self) -> RwMutexWriteGuard<'_, T> {
        RwMutexWriteGuard {
            rw: self,
            _marker: PhantomData,
        }
    }

    /// Runs `f` under the state lock, then wakes what it collected and
    /// drops what it returned (a removed waiter) after the lock is released.
    fn with_state<R>(&self, f: impl FnOnce(&mut State, &AtomicUsize, &mut Vec<Waker>) -> R) {
        let mut wakers = Vec::new();
        let removed = f(&mut lock(&self.state), &self.count, &mut wakers);
        drop(removed);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Takes a read lock without the state lock if no writer holds or
    /// waits for it (Go's `RLock` fast path).
    fn try_read_fast(&self) -> bool {
        let mut s = self.count.load(Ordering::Relaxed);
        loop {
            if s & BLOCKED != 0 {
                return false;
            }
            match self
                .count
                .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// Releases a read lock (Go's `RUnlock`): one atomic decrement, plus the
    /// state lock only for the last reader a waiting writer needs gone.
    fn read_unlock(&self) {
        let prev = self.count.fetch_sub(1, Ordering::Release);
        if prev & BLOCKED != 0 && prev & READERS == 1 {
            self.with_state(|st, count, wakers| st.grant_writer(count, wakers));
        }
    }
}

/// Shared access to an [`RwMutex`]; released on drop.
#[must_use = "the read lock is released as soon as the guard is dropped"]
pub struct RwMutexReadGuard<'a, T: ?Sized> {
    rw: &'a RwMutex<T>,
    /// Send and Sync iff `T: Sync`, like `&T`.
    _marker: PhantomData<&'a T>,
}

/// Exclusive access to an [`RwMutex`]; released on drop.
#[must_use = "the write lock is released as soon as the guard is dropped"]
pub struct RwMutexWriteGuard<'a, T: ?Sized> {
    rw: &'a RwMutex<T>,
    /// Send iff `T: Send`, Sync iff `T: Sync`, like `&mut T`.
    _marker: PhantomData<&'a mut T>,
}

/// The future of [`RwMutex::read`].
#[must_use = "futures do nothing unless polled"]
pub struct Read<'a, T: ?Sized> {
    rw: &'a RwMutex<T>,
    key: Option<usize>,
}

/// The future of [`RwMutex::write`].
#[must_use = "futures do nothing unless polled"]
pub struct Write<'a, T: ?Sized> {
    rw: &'a RwMutex<T>,
    key: Option<usize>,
}

/// Polls a queued waiter: `None` if not queued, `Some(true)` once granted
/// (and removed), `Some(false)` while still waiting — then `stale` gets the
/// replaced waker, to be dropped after the lock is released.
fn poll_granted(
    q: &mut WaitQueue<Waiter>,
    key: &mut Option<usize>,
    cx: &Context<'_>,
    stale: &mut Option<Waker>,
) -> Option<bool> {
    let k = (*key)?;
    let w = q.get_mut(k);
    if w.granted {
        q.remove(k);
        *key = None;
        return Some(true);
    }
    *stale = refresh_waker(&mut w.waker, cx.waker());
    Some(false)
}

impl<'a, T: ?Sized> Future for Read<'a, T> {
    type Output = RwMutexReadGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let coop = ready!(poll_proceed(cx));
        if this.key.is_none() && this.rw.try_read_fast() {
            coop.made_progress();
            return Poll::Ready(this.rw.read_guard());
        }
        // Declared before the guard, so dropped after it.
        let mut stale = None;
        let mut st = lock(&this.rw.state);
        match poll_granted(&mut st.readq, &mut this.key, cx, &mut stale) {
            Some(true) => {}
            Some(false) => {
                set_wait_reason(WaitReason::RwMutexRLock);
                return Poll::Pending;
            }
            // The writer left meanwhile (`BLOCKED` is clear under the lock).
            None if !st.writer && st.writers_waiting == 0 => {
                this.rw.count.fetch_add(1, Ordering::Acquire);
            }
            None => {
                this.key = Some(st.readq.push_back(Waiter {
                    waker: cx.waker().clone(),
                    granted: false,
                }));
                set_wait_reason(WaitReason::RwMutexRLock);
                return Poll::Pending;
            }
        }
        coop.made_progress();
        Poll::Ready(this.rw.read_guard())
    }
}

impl<'a, T: ?Sized> Future for Write<'a, T> {
    type Output = RwMutexWriteGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let coop = ready!(poll_proceed(cx));
        let mut stale = None;
        let mut st = lock(&this.rw.state);
        match poll_granted(&mut st.writeq, &mut this.key, cx, &mut stale) {
            Some(true) => {}
            Some(false) => {
                set_wait_reason(WaitReason::RwMutexLock);
                return Poll::Pending;
            }
            None => {
                // With no writer holding or waiting, set `BLOCKED`: from now
                // on no reader can join, and if none was counted the lock is
                // ours. Otherwise `BLOCKED` stays set (by us or the writers
                // ahead) and we queue: the last reader to leave, or the
                // writer ahead, hands us the lock.
                let free = !st.writer
                    && st.writers_waiting == 0
                    && this.rw.count.fetch_or(BLOCKED, Ordering::AcqRel) & READERS == 0;
                if free {
                    st.writer = true;
                } else {
                    st.writers_waiting += 1;
                    this.key = Some(st.writeq.push_back(Waiter {
                        waker: cx.waker().clone(),
                        granted: false,
                    }));
                    set_wait_reason(WaitReason::RwMutexLock);
                    return Poll::Pending;
                }
            }
        }
        coop.made_progress();
        Poll::Ready(this.rw.write_guard())
    }
}

impl<T: ?Sized> Drop for Read<'_, T> {
    fn drop(&mut self) {
        let Some(k) = self.key else { return };
        self.rw.with_state(|st, count, wakers| {
            let w = st.readq.remove(k);
            if w.granted {
                st.read_unlock(count, wakers);
            }
            w
        });
    }
}

impl<T: ?Sized> Drop for Write<'_, T> {
    fn drop(&mut self) {
        let Some(k) = self.key else { return };
        self.rw.with_state(|st, count, wakers| {
            let w = st.writeq.remove(k);
            if w.granted {
                st.write_unlock(count, wakers);
            } else {
                st.writers_waiting -= 1;
                if st.writers_waiting == 0 && !st.writer {
                    // The readers were only waiting for this writer.
                    st.grant_readers(count, wakers);
                }
                st.grant_writer(count, wakers);
                st.sync_blocked(count);
            }
            w
        });
    }
}

impl<T: ?Sized> Drop for RwMutexReadGuard<'_, T> {
    fn drop(&mut self) {
        self.rw.read_unlock();
    }
}

impl<T: ?Sized> Drop for RwMutexWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.rw.with_state(State::write_unlock);
    }
}

impl<T: ?Sized> Deref for RwMutexReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // While a read guard exists it is counted in `count`'s reader bits; a
        // writer is granted only when those are zero with `BLOCKED` set (so
        // none can be added).
        // SAFETY: so no writer holds the lock and nobody has `&mut T`.
        unsafe { &*self.rw.data.get() }
    }
}

impl<T: ?Sized> Deref for RwMutexWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: while a write guard exists `writer` and `BLOCKED` are set
        // and the reader count is zero (readers queue instead of counting
        // themselves in): this guard is the only access.
        unsafe { &*self.rw.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwMutexWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes it the only access through
        // this guard.
        unsafe { &mut *self.rw.data.get() }
    }
}

impl<T: ?Sized> fmt::Debug for RwMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("RwMutex")
            .field("readers", &(self.count.load(Ordering::Relaxed) & READERS))
            .field("writer", &st.writer)
            .field("writers_waiting", &st.writers_waiting)
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutexReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutexWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> fmt::Debug for Read<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Read")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

impl<T: ?Sized> fmt::Debug for Write<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

impl<T: Default> Default for RwMutex<T> {
    fn default() -> Self {
        RwMutex::new(T::default())
    }
}
