//! The thread-local "current runtime" (tokio's context, Go's `getg().m.p`).
//!
//! A thread is *in* a runtime while it is one of its Ms, a blocking-pool
//! thread, or inside `Runtime::block_on` / `Handle::enter`. `spawn` and
//! `Handle::current` read it.

use std::cell::{Cell, RefCell};

use crate::runtime::Handle;

thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
    /// Depth of `block_on` calls on this thread.
    static BLOCK_ON_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Restores the previous runtime on drop.
pub(crate) struct EnterGuard {
    prev: Option<Handle>,
}

/// Makes `handle` the current runtime of this thread until the guard drops.
pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let prev = CURRENT.with(|c| c.replace(Some(handle)));
    EnterGuard { prev }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
    }
}

/// Runs `f` with the current runtime, if any.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    CURRENT.with(|c| f(c.borrow().as_ref()))
}

pub(crate) struct BlockOnGuard;

pub(crate) fn enter_block_on() -> BlockOnGuard {
    BLOCK_ON_DEPTH.with(|d| d.set(d.get() + 1));
    BlockOnGuard
}

impl Drop for BlockOnGuard {
    fn drop(&mut self) {
        BLOCK_ON_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

pub(crate) fn in_block_on() -> bool {
    BLOCK_ON_DEPTH.with(|d| d.get() > 0)
}
