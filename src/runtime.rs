//! The runtime: building it, entering it, its counters and task dumps.
//!
//! [`Builder`] is gort-core's builder with the drivers of the other gort
//! crates installed at `build`: the network poller of gort-net (and, once
//! it lands, the per-P timer heaps of gort-time). It also takes tokio's
//! builder method names so `tokio::runtime::Builder` code ports by
//! changing the path.

use std::io;
use std::time::Duration;

pub use gort_core::metrics::RuntimeMetrics;
pub use gort_core::runtime::{EnterGuard, Handle, Runtime, TryCurrentError, MAX_PROCS};

/// Configures and builds a [`Runtime`] with every gort driver installed.
///
/// ```
/// let rt = gort::runtime::Builder::new().procs(2).build().unwrap();
/// assert_eq!(rt.block_on(async { 40 + 2 }), 42);
/// ```
#[derive(Debug)]
pub struct Builder {
    core: gort_core::runtime::Builder,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// `GORT_MAXPROCS` Ps if set, else one per available CPU.
    pub fn new() -> Builder {
        Builder {
            core: gort_core::runtime::Builder::new(),
        }
    }

    /// tokio's name: the same as [`Builder::new`].
    pub fn new_multi_thread() -> Builder {
        Builder::new()
    }

    /// tokio's name for a runtime with one P.
    pub fn new_current_thread() -> Builder {
        Builder {
            core: gort_core::runtime::Builder::new_current_thread(),
        }
    }

    /// Number of Ps (Go's `GOMAXPROCS`), 1 to [`MAX_PROCS`]; overrides
    /// `GORT_MAXPROCS`.
    pub fn procs(&mut self, n: usize) -> &mut Builder {
        self.core.procs(n);
        self
    }

    /// tokio's name for [`Builder::procs`].
    pub fn worker_threads(&mut self, n: usize) -> &mut Builder {
        self.core.procs(n);
        self
    }

    /// Caps the `spawn_blocking` pool (default 512).
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Builder {
        self.core.max_blocking_threads(n);
        self
    }

    /// Names the runtime's threads.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.core.thread_name(name);
        self
    }

    /// Names the runtime's threads with a function called for each.
    pub fn thread_name_fn(
        &mut self,
        f: impl Fn() -> String + Send + Sync + 'static,
    ) -> &mut Builder {
        self.core.thread_name_fn(f);
        self
    }

    /// Stack size of the runtime's threads.
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Builder {
        self.core.thread_stack_size(bytes);
        self
    }

    /// How long one poll may hold its P before the monitor hands the P to
    /// another thread (default 10 ms, Go's figure).
    pub fn handoff_after(&mut self, d: Duration) -> &mut Builder {
        self.core.handoff_after(d);
        self
    }

    /// tokio compatibility: gort always runs its timer and I/O drivers, so
    /// this does nothing.
    pub fn enable_all(&mut self) -> &mut Builder {
        self
    }

    /// tokio compatibility: does nothing (timers are always on).
    pub fn enable_time(&mut self) -> &mut Builder {
        self
    }

    /// tokio compatibility: does nothing (I/O is always on).
    pub fn enable_io(&mut self) -> &mut Builder {
        self
    }

    /// Builds the runtime. Fails with `InvalidInput` on a bad setting or a
    /// bad `GORT_*` variable (the message names it and its value), or with
    /// the OS error if the network poller cannot be created.
    pub fn build(&mut self) -> io::Result<Runtime> {
        self.core
            .driver(std::sync::Arc::new(gort_net::Poller::new()?));
        self.core.build()
    }
}
