//! gort-core: the runtime proper.
//!
//! Go's G/M/P scheduler (runtime/proc.go) for Rust futures, the task and
//! `JoinHandle`, the runtime `Builder`, and the seams the other gort crates
//! plug into: the cooperative budget ([`coop`]), wait reasons ([`wait`]) and
//! the driver interface for timers and the network poller ([`driver`]),
//! and stackful goroutines ([`coro`]: `go`, `wait`).
//!
//! Users depend on the `gort` facade crate, which re-exports this one.
//!
//! ```
//! let rt = gort_core::runtime::Builder::new().procs(2).build().unwrap();
//! let sum = rt.block_on(async {
//!     let hs: Vec<_> = (0..10u64).map(|i| gort_core::spawn(async move { i * i })).collect();
//!     let mut sum = 0;
//!     for h in hs {
//!         sum += h.await.unwrap();
//!     }
//!     sum
//! });
//! assert_eq!(sum, 285);
//! ```

#![warn(missing_docs)]

mod allp;
mod blocking;
mod clock;
mod config;
mod context;
pub mod coop;
pub mod coro;
mod cpu;
mod current_thread;
pub mod driver;
mod dump;
pub mod gc;
mod idle;
mod inject;
mod loom;
pub mod metrics;
mod monitor;
mod processor;
pub(crate) mod queue;
pub mod runtime;
mod sched;
mod sigquit;
pub mod task;
mod trace;
pub mod wait;
mod worker;

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use task::{AbortHandle, JoinError, JoinHandle};

/// Spawns a task on the current runtime (Go's `go` statement for futures).
///
/// From inside a task the new task goes to the current P's `runnext`, so it
/// runs next on this P, unless another P steals it first; from outside it
/// goes to the global queue and an idle P is woken.
///
/// # Panics
/// Outside a runtime: there is nowhere to run the task.
///
/// ```
/// let rt = gort_core::runtime::Builder::new().procs(2).build().unwrap();
/// rt.block_on(async {
///     let h = gort_core::spawn(async { "hi" });
///     assert_eq!(h.await.unwrap(), "hi");
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let loc = Location::caller();
    context::with_current(|h| match h {
        Some(h) => sched::Shared::spawn(h, future, None, loc),
        None => panic!(
            "gort::spawn called outside a gort runtime: call it from a task, inside \
             Runtime::block_on, or after Handle::enter"
        ),
    })
}

/// Runs a blocking closure on the runtime's blocking pool and returns its
/// result through a `JoinHandle`.
///
/// # Panics
/// Outside a runtime.
///
/// ```
/// let rt = gort_core::runtime::Builder::new().procs(1).build().unwrap();
/// let n = rt.block_on(async { gort_core::spawn_blocking(|| 40 + 2).await.unwrap() });
/// assert_eq!(n, 42);
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let loc = Location::caller();
    context::with_current(|h| match h {
        Some(h) => blocking::spawn_blocking(h, f, loc),
        None => panic!(
            "gort::spawn_blocking called outside a gort runtime: call it from a task, inside \
             Runtime::block_on, or after Handle::enter"
        ),
    })
}

/// Runs blocking code on the current worker thread after handing its P
/// (and the tasks queued on it) to another worker, like a Go goroutine in
/// a blocking syscall. Outside a worker it just calls `f`.
///
/// ```
/// let rt = gort_core::runtime::Builder::new().procs(1).build().unwrap();
/// let v = rt.block_on(async {
///     gort_core::spawn(async { gort_core::block_in_place(|| 7) }).await.unwrap()
/// });
/// assert_eq!(v, 7);
/// ```
pub fn block_in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    blocking::block_in_place(f)
}

/// Yields to the scheduler (Go's `runtime.Gosched`): every other task
/// runnable on this P, and every task that was in the global queue, gets a
/// turn before the caller runs again.
///
/// ```
/// let rt = gort_core::runtime::Builder::new().procs(1).build().unwrap();
/// rt.block_on(async { gort_core::yield_now().await });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Inside a gort task the poller re-queues the task itself (Go's
        // Gosched); anywhere else the waker is woken as usual.
        if !task::raw::request_yield(cx.waker()) {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}
