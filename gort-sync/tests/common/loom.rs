//! Glue shared by the loom model files: one poll of a future inside
//! `loom::future::block_on`, and values that count their own drops.
//!
//! Included with `#[path]` by each `tests/loom*.rs`, so it is not part of
//! `common/mod.rs` (which the non-loom tests build).

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

// std's, not loom's: the count is bookkeeping of the test, read after the
// threads are joined, and loom atomics would add branch points for nothing.
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// Polls the inner future once, with `block_on`'s waker, and reports what
/// it returned: a future that registers and is then dropped or kept.
pub struct PollOnce<'a, F>(pub Pin<&'a mut F>);

impl<F: Future> Future for PollOnce<'_, F> {
    type Output = Poll<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(self.0.as_mut().poll(cx))
    }
}

/// Polls `fut` once (registering loom's waker for this thread).
pub fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    loom::future::block_on(PollOnce(fut))
}

/// Counts how many values it made are alive: each clone adds one, each
/// drop takes one away, so `live() == 0` at the end means none leaked and
/// none was dropped twice (that would underflow and panic).
#[derive(Clone)]
pub struct Census(Arc<AtomicUsize>);

impl Census {
    pub fn new() -> Self {
        Census(Arc::new(AtomicUsize::new(0)))
    }

    /// A new value `v` counted by this census.
    pub fn make(&self, v: u32) -> Counted {
        self.0.fetch_add(1, SeqCst);
        Counted {
            v,
            census: self.0.clone(),
        }
    }

    pub fn live(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// A value counted by a [`Census`].
pub struct Counted {
    pub v: u32,
    census: Arc<AtomicUsize>,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.census.fetch_add(1, SeqCst);
        Counted {
            v: self.v,
            census: self.census.clone(),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let before = self.census.fetch_sub(1, SeqCst);
        assert!(before > 0, "a value was dropped twice");
    }
}

impl std::fmt::Debug for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counted({})", self.v)
    }
}
