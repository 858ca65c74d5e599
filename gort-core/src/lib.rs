//! gort-core: the runtime proper.
//!
//! Go's G/M/P scheduler (runtime/proc.go) for Rust futures, the task and
//! `JoinHandle`, the runtime `Builder`, and the seams the other gort crates
//! plug into: the cooperative budget ([`coop`]), wait reasons ([`wait`]) and
//! the driver interface for timers and the network poller.
//!
//! Users depend on the `gort` facade crate, which re-exports this one.

#![warn(missing_docs)]

pub mod coop;
pub mod wait;
