//! The synchronization shim of the poll descriptor: std's lock and atomic
//! in a normal build, loom's under `cfg(loom)` (gort-core's `loom` module
//! does the same for the scheduler), so the loom models in `poll_desc.rs`
//! check the real readiness word and waiter lists. The poller's own state
//! (`netpoll.rs`: mio, the slab, the waiter count) stays std's; the models
//! do not run a poller.

pub(crate) mod sync {
    #[cfg(loom)]
    pub(crate) use loom::sync::{Mutex, MutexGuard};
    #[cfg(not(loom))]
    pub(crate) use std::sync::{Mutex, MutexGuard};

    pub(crate) mod atomic {
        #[cfg(loom)]
        pub(crate) use loom::sync::atomic::AtomicUsize;
        #[cfg(not(loom))]
        pub(crate) use std::sync::atomic::AtomicUsize;
    }
}
