//! gort-sync: Go's channels, `select` and `sync` package for async Rust.
//!
//! - [`chan`] makes a Go channel: [`Sender`] / [`Receiver`], both `Clone`
//!   (MPMC), unbuffered or buffered, closable, usable from async tasks and,
//!   through the `*_blocking` methods, from plain threads.
//! - [`select!`] is Go's `select` statement: uniform random choice among
//!   ready cases, `default`, and exactly one case committing even under
//!   races with other threads.
//! - Go's `sync` package: [`Mutex`] (normal and starvation modes),
//!   [`RwMutex`] (writer preference), [`WaitGroup`], [`Once`] /
//!   [`OnceCell`], [`Cond`], and the weighted FIFO [`Semaphore`].
//! - tokio's `sync` module under tokio's names, built on the above (no
//!   tokio code): [`mpsc`] (on the Go channel core, so `recv()` and
//!   `send(v)` are exactly-once `select!` cases), [`oneshot`], [`watch`],
//!   [`broadcast`], [`Notify`], [`Barrier`], and tokio's method names on
//!   [`Semaphore`], [`Mutex`], [`RwLock`] (= [`RwMutex`]) and [`OnceCell`].
//!   Where gort differs from tokio (it never panics on bad input, e.g.
//!   `mpsc::channel(0)`), each module's docs say how.
//!
//! Every leaf future here charges gort's cooperative budget
//! ([`gort_core::coop`]) and records a wait reason ([`gort_core::wait`])
//! before returning `Pending`, so the runtime can preempt busy loops and
//! print Go-style task dumps. Wakers are plain [`std::task::Waker`]s: the
//! types work on any executor.
//!
//! Users normally reach this crate as `gort::sync` and `gort::select!`.

#![warn(missing_docs)]

mod barrier;
mod block;
pub mod broadcast;
mod chan;
mod cond;
mod macros;
mod mutex;
mod notify;
mod once;
pub mod oneshot;
mod primitives;
mod rand;
mod rwmutex;
mod select;
mod semaphore;
mod waitgroup;
mod waitq;
pub mod watch;

pub use barrier::{Barrier, BarrierWait, BarrierWaitResult};
pub use chan::mpsc;
pub use chan::{
    chan, CloseError, Receiver, RecvFuture, SendError, SendFuture, Sender, TryRecvError,
    TrySendError,
};
pub use cond::Cond;
pub use mutex::{
    Lock, Mutex, MutexGuard, OwnedMutexGuard, TryLockError, MUTEX_LOCKED, MUTEX_STARVING,
    MUTEX_WAITER_SHIFT, MUTEX_WOKEN, STARVATION_THRESHOLD,
};
pub use notify::{Notified, Notify, OwnedNotified};
pub use once::{Once, OnceCell, SetError};
pub use rwmutex::{Read, RwMutex, RwMutexReadGuard, RwMutexWriteGuard, Write};

/// tokio's name for [`RwMutex`]: `read`, `write`, `try_read`, `try_write`
/// (returning `Result<_, TryLockError>`), `get_mut`, `into_inner`.
///
/// ```
/// let lock = gort_sync::RwLock::new(1);
/// assert_eq!(*lock.try_read().unwrap(), 1);
/// *lock.try_write().unwrap() += 1;
/// assert_eq!(lock.into_inner(), 2);
/// ```
pub type RwLock<T> = RwMutex<T>;
/// tokio's name for [`RwMutexReadGuard`].
pub type RwLockReadGuard<'a, T> = RwMutexReadGuard<'a, T>;
/// tokio's name for [`RwMutexWriteGuard`].
pub type RwLockWriteGuard<'a, T> = RwMutexWriteGuard<'a, T>;
pub use semaphore::{
    Acquire, AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
pub use waitgroup::{NegativeCounter, Wait, WaitGroup};

/// Support for [`select!`]'s expansion; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::select::{
        AnyCase, ChanCase, FutureCase, NoCases, Outcome, Select, SelectCase, SelectCtx, Wrap,
    };
}
