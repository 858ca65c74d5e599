//! gort-fs: files, directories and the standard streams on gort's blocking
//! pool, with tokio's API (re-exported by the facade as `gort::fs` and, for
//! [`stdin`], [`stdout`], [`stderr`], in `gort::io`).
//!
//! Files cannot be waited on with epoll (a regular file is always
//! "ready"), so Go's `os` package simply makes the blocking syscall and the
//! runtime hands the P to another M while it runs (`entersyscall`,
//! `handoffp`). gort's equivalent for futures is `gort_core::spawn_blocking`:
//! each operation here is one closure on the blocking pool, and the task
//! waits for its `JoinHandle` — exactly tokio's `fs` and `io::stdio` design
//! (`asyncify`, `io::blocking::Blocking`), on gort's pool instead of
//! tokio's.
//!
//! | tokio | gort-fs |
//! |---|---|
//! | `tokio::fs::{read, write, read_dir, ...}` | the same names in [`fs`], re-exported as `gort::fs` |
//! | `tokio::fs::File`, `OpenOptions` | [`File`], [`OpenOptions`] (`file.rs`) |
//! | `tokio::io::{stdin, stdout, stderr}` | [`stdin`], [`stdout`], [`stderr`] (`stdio.rs`) |
//! | `io::blocking::Blocking`, `asyncify` | `blocking.rs` |
//!
//! Why one crate for files and stdio: both are blocking std handles driven
//! through the same adapter (`blocking.rs`); neither touches the network
//! poller, so putting stdio in gort-net would give it a second, unrelated
//! mechanism, and putting it in the facade would break the facade's
//! "re-exports only" invariant.
//!
//! Departures from tokio: none in the API. `spawn_blocking` panics outside
//! a gort runtime, as tokio's does outside a tokio runtime. Each operation
//! counts as blocking work for gort's deadlock check, so a task waiting on
//! a slow read is never reported as deadlocked.

#![warn(missing_docs)]

mod blocking;
mod file;
pub mod fs;
mod stdio;

pub use file::{File, OpenOptions};
pub use fs::{DirEntry, ReadDir};
pub use stdio::{stderr, stdin, stdout, Stderr, Stdin, Stdout};
