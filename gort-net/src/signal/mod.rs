//! Signals woken through the network poller: tokio's `signal::ctrl_c` and
//! `signal::unix::{signal, SignalKind, Signal}` (re-exported as
//! `gort::signal`).
//!
//! Go's `os/signal` (signal_unix.go, sigqueue.go) installs one handler that
//! sets a bit in a mask and wakes the goroutine blocked in
//! `signal_recv`, which then fans the signal out to every channel
//! registered with `signal.Notify` — dropping it for a channel that is
//! full. gort keeps that shape, with tokio's types on top:
//! - the handler (`registry.rs`) sets the signal's `pending` flag and
//!   writes one byte to a process-wide non-blocking socket pair — both
//!   async-signal-safe;
//! - every [`unix::Signal`] registers a duplicate of the socket pair's read
//!   end with its runtime's poller, so the byte's readiness edge wakes the
//!   tasks waiting in `recv` (Go's `sigsend` waking `signal_recv`);
//! - whichever task wakes first drains the socket and turns each pending
//!   flag into one more count in that signal's delivery counter, waking
//!   every `Signal` of that kind (the fan-out);
//! - a `Signal` remembers the count it last returned for, so `recv`
//!   returns once for any number of deliveries since the last call:
//!   signals coalesce, as in tokio and as with Go's one-slot channels.
//!
//! Departures: a handler, once installed for a signal, stays installed for
//! the life of the process (tokio does the same): after the first
//! `ctrl_c()`, Ctrl-C no longer kills the process by default. gort does
//! not chain to a handler installed before it. Each `Signal` holds one
//! duplicated descriptor.

mod registry;
pub mod unix;

use std::io;

/// Waits for Ctrl-C (`SIGINT`), tokio's `signal::ctrl_c`.
///
/// The first call installs gort's handler for `SIGINT`, which replaces the
/// default action (terminating the process) for the rest of the process's
/// life. Resolves once a `SIGINT` arrives after the future was first
/// polled; fails only if the handler cannot be installed or there is no
/// gort runtime.
///
/// ```no_run
/// #[gort::main]
/// async fn main() -> std::io::Result<()> {
///     gort::signal::ctrl_c().await?;
///     println!("shutting down");
///     Ok(())
/// }
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut sig = unix::signal(unix::SignalKind::interrupt())?;
    match sig.recv().await {
        Some(()) => Ok(()),
        None => Err(io::Error::other(
            "gort: the runtime's poller stopped before SIGINT arrived",
        )),
    }
}
