//! The finalizer thread (Go's `runfinq` goroutine, `fing`).
//!
//! Go runs every finalizer on one goroutine. gort's heap is process-wide
//! and may collect when no runtime exists (or in a program that never
//! builds one), so the finalizers run on one dedicated std thread, started
//! on the first queued finalizer. Like Go's, they run one at a time, in
//! the order the cycles queued them; a finalizer that blocks delays the
//! others. A panicking finalizer is reported on stderr and the thread goes
//! on with the next one.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, PoisonError};

/// A queued finalizer: the user's function with its object's handle.
pub(crate) type Finalizer = Box<dyn FnOnce() + Send>;

struct Queue {
    jobs: VecDeque<Finalizer>,
    /// Finalizers queued and not finished (queued + running).
    pending: usize,
    /// A finalizer thread is running (it clears this when it exits).
    running: bool,
    /// The last thread started, for `wait` to join.
    thread: Option<std::thread::JoinHandle<()>>,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    jobs: VecDeque::new(),
    pending: 0,
    running: false,
    thread: None,
});
/// Signals `wait`: the finalizer thread exited.
static CHANGED: Condvar = Condvar::new();

/// Hands a cycle's finalizers to the finalizer thread.
pub(crate) fn queue(fs: Vec<Finalizer>) {
    if fs.is_empty() {
        return;
    }
    let mut q = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
    q.pending += fs.len();
    q.jobs.extend(fs);
    if !q.running {
        q.running = true;
        // A previous thread, if any, has stopped taking jobs; its handle is
        // dropped (detached) as it returns.
        q.thread = Some(
            std::thread::Builder::new()
                .name("gort-finalizer".into())
                .spawn(run_finq)
                .expect("gort::gc: cannot start the finalizer thread"),
        );
    }
}

/// Go's `runfinq`: runs queued finalizers until the queue is empty.
fn run_finq() {
    let mut q = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        match q.jobs.pop_front() {
            Some(f) => {
                drop(q);
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
                    eprintln!("gort::gc: a finalizer panicked");
                }
                q = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
                q.pending -= 1;
            }
            None => {
                q.running = false;
                CHANGED.notify_all();
                return;
            }
        }
    }
}

/// Blocks until every finalizer queued so far has run and the finalizer
/// thread has exited.
pub(crate) fn wait() {
    let mut q = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
    while q.pending > 0 || q.running {
        q = CHANGED.wait(q).unwrap_or_else(PoisonError::into_inner);
    }
    let thread = q.thread.take();
    drop(q);
    if let Some(t) = thread {
        // It has cleared `running`, so it is returning; it cannot panic
        // (finalizer panics are caught).
        let _ = t.join();
    }
}
