//! gort: an async runtime for Rust that reinterprets the Go runtime.

pub use gort_core::{coop, wait};

/// Go's channels and `sync` package: see [`gort_sync`].
pub mod sync {
    pub use gort_sync::*;
}

pub use gort_sync::select;
