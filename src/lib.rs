//! gort: an async runtime for Rust that reinterprets the Go runtime.
//!
//! Go's scheduler — Ps with local run queues and `runnext`, Ms that spin,
//! steal and park, a global queue served every 61st tick, a monitor that
//! hands a P away from a task stuck in a poll — runs your futures. Code
//! written for tokio moves over by changing imports.
//!
//! ```
//! #[gort::main(procs = 2)]
//! async fn main() {
//!     let handles: Vec<_> = (0..4u64).map(|i| gort::spawn(async move { i * 10 })).collect();
//!     let mut total = 0;
//!     for h in handles {
//!         total += h.await.unwrap();
//!     }
//!     assert_eq!(total, 60);
//! }
//! ```
//!
//! The crates behind this facade: `gort-core` (scheduler, tasks, runtime),
//! `gort-time` (per-P timer heaps), `gort-net` (the network poller and
//! sockets: [`net`], [`io`]), `gort-fs` (files and stdio on the blocking
//! pool: [`fs`]), `gort-sync` (channels, `select!`, mutexes),
//! `gort-macros` (`#[gort::main]`, `#[gort::test]`, `#[derive(Trace)]`);
//! the tracing GC is [`gc`].

pub use gort_core::coro::go;
pub use gort_core::{block_in_place, spawn, spawn_blocking, yield_now, JoinError, JoinHandle};
pub use gort_macros::{main, test};

pub mod compat;
#[doc(hidden)]
pub mod macros;
pub use macros::__private;
pub mod runtime;

/// The tracing garbage collector: `Gc<T>`, `GcCell<T>`, `#[derive(Trace)]`,
/// Go's GOGC / GOMEMLIMIT knobs, `read_mem_stats`, finalizers (gort-core's
/// `gc` module has the design: rooting, pause, finalizer rules).
///
/// ```
/// use gort::gc::{self, Gc, GcCell, Trace};
///
/// #[derive(Trace)]
/// struct Node {
///     next: GcCell<Option<Gc<Node>>>,
/// }
///
/// let a = Gc::new(Node { next: GcCell::new(None) });
/// let b = Gc::new(Node { next: GcCell::new(Some(a.clone())) });
/// *a.next.borrow_mut() = Some(b); // a cycle
/// drop(a);
/// gc::collect(); // frees both
/// println!("{:?}", gc::read_mem_stats().num_gc);
/// ```
pub mod gc {
    pub use gort_core::gc::*;
    pub use gort_macros::Trace;
}
pub mod time;

/// Go's channels and `sync` package: `chan`, `Mutex`, `RwMutex`,
/// `WaitGroup`, `Once`, `Cond`, `Semaphore` (gort-sync); and tokio's
/// `sync` types under tokio's names, built on them: `mpsc`, `oneshot`,
/// `watch`, `broadcast`, `Notify`, `Barrier`, `RwLock`, `OnceCell`.
pub mod sync {
    pub use gort_sync::*;
}

pub use gort_sync::select;

/// Stackful goroutines: [`go`] runs a closure on its own stack, and
/// [`coro::wait`] inside it blocks only that goroutine, so every gort API
/// works in blocking style (gort-core's `coro`; read its docs for stack
/// sizes, panics, cancellation and shutdown).
///
/// Spawning is `unsafe`: a goroutine may resume on another OS thread after
/// every `wait` or `yield_now`, which the compiler cannot see, so the
/// caller promises that nothing `!Send` (std's `MutexGuard`,
/// `stdout().lock()`, `Rc`, a `RefCell` borrow) and no reference into a
/// thread-local is held across one, and that no function reads one
/// thread-local both before and after one. The `# Safety` section of [`go`]
/// has the whole contract.
///
/// ```
/// #[gort::main(procs = 2)]
/// async fn main() {
///     let (tx, rx) = gort::sync::chan::<u32>(0);
///     // SAFETY: across its waits each goroutine holds only its channel
///     // endpoint and integers, all `Send`; neither touches a thread-local.
///     let producer = unsafe {
///         gort::go(move || {
///             for i in 0..3 {
///                 gort::coro::wait(tx.send(i)).unwrap();
///             }
///         })
///     };
///     // SAFETY: as above.
///     let consumer = unsafe {
///         gort::go(move || {
///             let mut sum = 0;
///             while let Some(v) = gort::coro::wait(rx.recv()) {
///                 sum += v;
///             }
///             sum
///         })
///     };
///     producer.await.unwrap();
///     assert_eq!(consumer.await.unwrap(), 3);
/// }
/// ```
pub mod coro {
    pub use gort_core::coro::{
        go, stack_stats, wait, yield_now, Builder, CoroFuture, StackStats, DEFAULT_STACK_SIZE,
    };
}

/// Tasks: spawning with options, handles, ids; `!Send` tasks with
/// [`task::LocalSet`] and [`task::spawn_local`].
///
/// ```
/// use std::rc::Rc;
/// let rt = gort::runtime::Builder::new_current_thread().build().unwrap();
/// let local = gort::task::LocalSet::new();
/// let v = local.block_on(&rt, async {
///     let shared = Rc::new(20); // !Send
///     let s = shared.clone();
///     let h = gort::task::spawn_local(async move { *s + 1 });
///     h.await.unwrap() + *shared
/// });
/// assert_eq!(v, 41);
/// ```
pub mod task {
    pub use gort_core::task::{
        spawn_local, AbortHandle, Builder, JoinError, JoinHandle, JoinSet, LocalSet, RunUntil,
        TaskId,
    };
    pub use gort_core::{block_in_place, spawn, spawn_blocking, yield_now, YieldNow};
}

/// The seams other crates plug into: the cooperative budget, wait reasons
/// and the driver interface.
pub mod rt {
    pub use gort_core::{coop, driver, wait};
}

/// Networking: TCP, UDP and Unix sockets on the runtime's network poller
/// (Go's netpoller), with tokio's API and Go's deadlines.
pub mod net {
    pub use gort_net::tcp;
    #[cfg(unix)]
    pub use gort_net::unix;
    pub use gort_net::{Poller, TcpListener, TcpSocket, TcpStream, ToSocketAddrs, UdpSocket};
    #[cfg(unix)]
    pub use gort_net::{UnixDatagram, UnixListener, UnixStream};
}

/// I/O traits and combinators with tokio's names (tokio's `AsyncRead`,
/// `AsyncWrite`, the `*Ext` traits, `BufReader`, `split`, `duplex`, ...;
/// futures-io's traits under `io::futures`), readiness types, `copy`,
/// `copy_bidirectional`, and `stdin`/`stdout`/`stderr` on the blocking pool.
pub mod io {
    pub use gort_fs::{stderr, stdin, stdout, Stderr, Stdin, Stdout};
    pub use gort_net::io::*;
}

/// Unix signals woken through the network poller, with tokio's API:
/// `ctrl_c()`, `unix::{signal, SignalKind, Signal}` (gort-net).
#[cfg(unix)]
pub mod signal {
    pub use gort_net::signal::*;
}

/// Files and directories with tokio's `fs` API, each operation run on the
/// blocking pool (gort-fs).
pub mod fs {
    pub use gort_fs::fs::*;
    pub use gort_fs::{File, OpenOptions};
}
