//! Running a future to completion on a plain thread by parking it: the
//! engine of `send_blocking` / `recv_blocking`.
//!
//! This is not an executor: it polls one future on the calling thread and
//! parks the thread (`std::thread::park`) until the future's waker unparks
//! it. Outside a gort task there is no cooperative budget, and the poll runs
//! `unconstrained` so that calling it from inside a task (which blocks that
//! task's worker — don't) cannot spin on an exhausted budget.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` on this thread until it completes, parking in between.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = gort_core::coop::unconstrained(|| fut.as_mut().poll(&mut cx)) {
            return v;
        }
        thread::park();
    }
}
