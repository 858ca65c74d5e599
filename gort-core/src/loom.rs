//! The synchronization shim: std's primitives in a normal build, loom's under
//! `cfg(loom)`.
//!
//! Every lock-free structure of the runtime (the run queue, and later the
//! scheduler's idle/spinning state and the task header) imports its atomics,
//! `Arc`, `Mutex` and threads from here instead of from `std`, so that
//! `RUSTFLAGS="--cfg loom"` swaps in loom's model-checked versions without a
//! single `cfg` in the code that uses them. This is the same seam tokio keeps
//! in its own `loom` module.
//!
//! Only names that exist with the same API in both std and loom are listed.
//! Some of them have no user yet (the scheduler will need them), hence the
//! `unused_imports` allowance.
#![allow(unused_imports)]

pub(crate) mod sync {
    #[cfg(loom)]
    pub(crate) use loom::sync::{Arc, Mutex};
    #[cfg(loom)]
    pub(crate) use loom::sync::{Condvar, MutexGuard};
    #[cfg(not(loom))]
    pub(crate) use std::sync::{Arc, Mutex};
    #[cfg(not(loom))]
    pub(crate) use std::sync::{Condvar, MutexGuard};

    pub(crate) mod atomic {
        #[cfg(loom)]
        pub(crate) use loom::sync::atomic::{
            AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
        };
        #[cfg(not(loom))]
        pub(crate) use std::sync::atomic::{
            AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
        };
    }
}

/// loom's `UnsafeCell` tracks every access and reports two that race; its
/// API hands out the pointer inside a closure. The std build gets the same
/// API over `std::cell::UnsafeCell`, at no cost.
pub(crate) mod cell {
    #[cfg(loom)]
    pub(crate) use loom::cell::UnsafeCell;

    #[cfg(not(loom))]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        pub(crate) fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

pub(crate) mod thread {
    #[cfg(loom)]
    pub(crate) use loom::thread::{spawn, yield_now, JoinHandle};
    #[cfg(not(loom))]
    pub(crate) use std::thread::{spawn, yield_now, JoinHandle};
}

pub(crate) mod hint {
    #[cfg(loom)]
    pub(crate) use loom::hint::spin_loop;
    #[cfg(not(loom))]
    pub(crate) use std::hint::spin_loop;
}
