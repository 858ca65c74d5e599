//! The synchronization shim of the driver: std's locks and atomics in a
//! normal build, loom's under `cfg(loom)` (gort-core's `loom` module does
//! the same for the scheduler). The timer and heap locks and the heaps'
//! published atomics come from here, so the driver's loom models check the
//! real arm, stop and fire code. `Arc<TimerShared>` stays std's: it is
//! shared with the `Sleep` and `Timer` futures, which the models do not run.

pub(crate) mod sync {
    #[cfg(loom)]
    pub(crate) use loom::sync::{Mutex, MutexGuard};
    #[cfg(not(loom))]
    pub(crate) use std::sync::{Mutex, MutexGuard};

    pub(crate) mod atomic {
        #[cfg(loom)]
        pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
        #[cfg(not(loom))]
        pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    }
}
