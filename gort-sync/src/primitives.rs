//! The synchronisation primitives gort-sync is built from, swapped for
//! loom's model-checked versions under `--cfg loom`.
//!
//! Every `Mutex`, `RwLock`, `Arc` and atomic that takes part in a
//! primitive's state machine comes from here, so `scripts/loom-sync.sh`
//! checks the real code, not a copy of it. A std lock left in a model is
//! worse than unchecked: loom runs its threads on one OS thread, so a std
//! lock held across a loom yield point blocks the whole process when the
//! next model thread asks for it.
//!
//! Left as std on purpose: `Notify` and `Semaphore` keep std's `Arc` (their
//! `*_owned` methods take `self: Arc<Self>`, a receiver only std's `Arc`
//! allows), `broadcast` stores its values in std's `Arc` (only the lock
//! orders them), and `OnceCell` its value in a `OnceLock` (written and read
//! only on the far side of its `Once`'s lock).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `m`, ignoring poisoning.
///
/// gort-sync never runs user code (a `Drop` of `T`, a waker's `wake` or
/// its `drop`) while it holds one of its own locks — user code may re-enter
/// the primitive (`tests/reentrancy.rs`) — so a poisoned lock can only come
/// from a panic in gort-sync itself; the state it protects is still
/// consistent at every point where such a panic could start, so going on is
/// sound.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// One step of a bounded spin: waiting for another thread to finish a
/// two-instruction critical section (a select token's `BUSY` window).
pub(crate) fn spin() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}
