//! gort: an async runtime for Rust that reinterprets the Go runtime.

pub use gort_core::{coop, wait};
pub use gort_macros::{main, test};
