//! tokio's `signal::unix`: [`signal`] returns a [`Signal`] stream of one
//! [`SignalKind`]; see the [parent module](super) for how delivery works.

use std::fmt;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};

use crate::fd::PollFd;
use crate::poll_desc::Direction;

use super::registry;

/// A Unix signal number, with tokio's constructors for the common ones.
///
/// ```
/// use gort::signal::unix::SignalKind;
///
/// assert_eq!(SignalKind::interrupt().as_raw_value(), libc::SIGINT);
/// assert_eq!(SignalKind::from_raw(libc::SIGUSR1), SignalKind::user_defined1());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal number, e.g. a real-time one.
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal number.
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// `SIGALRM`.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`.
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT` (Ctrl-C).
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`.
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`. gort's own task dump on SIGQUIT (`dump_on_sigquit`)
    /// installs a handler for the same signal; use one or the other.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`.
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<libc::c_int> for SignalKind {
    fn from(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for libc::c_int {
    fn from(k: SignalKind) -> libc::c_int {
        k.0
    }
}

/// A stream of deliveries of one signal (tokio's `Signal`): each
/// [`recv`](Signal::recv) returns after at least one delivery since the
/// previous call (or since [`signal`] created it); several deliveries in
/// between count as one.
pub struct Signal {
    kind: SignalKind,
    slot: &'static registry::Slot,
    /// Distinguishes this `Signal`'s waker in the slot's waiter list.
    id: u64,
    /// The slot's delivery count this `Signal` last returned for.
    seen: u64,
    /// A duplicate of the socket pair's read end, on this runtime's poller.
    pipe: PollFd<mio::net::UnixStream>,
}

/// Listens for `kind`: installs gort's handler for it (once per process;
/// it replaces the signal's default action from then on) and registers
/// with the current runtime's poller.
///
/// Fails for `SIGILL`, `SIGFPE`, `SIGKILL`, `SIGSEGV` and `SIGSTOP`, an
/// invalid number, or outside a gort runtime.
///
/// ```
/// use gort::signal::unix::{signal, SignalKind};
///
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let mut usr2 = signal(SignalKind::user_defined2())?;
/// // SAFETY: raise(3) with a signal whose handler is installed.
/// unsafe { libc::raise(libc::SIGUSR2) };
/// assert_eq!(usr2.recv().await, Some(()));
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    let slot = registry::slot(kind.0)?;
    let read = registry::read_end()?;
    let pipe = PollFd::new(mio::net::UnixStream::from_std(read))?;
    registry::install(kind.0)?;
    // Deliveries flagged before now belong to the past, not to this Signal.
    registry::dispatch();
    Ok(Signal {
        kind,
        slot,
        id: NEXT_ID.fetch_add(1, Relaxed),
        seen: slot.deliveries(),
        pipe,
    })
}

impl Signal {
    /// Waits for the next delivery. `None` means no delivery can come any
    /// more: the runtime's poller is gone.
    pub async fn recv(&mut self) -> Option<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`Signal::recv`], for hand-written futures.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        // Drain the socket pair: the bytes only say "look at the flags".
        // Pending here means drained, with this task registered for the
        // next byte (or out of budget, and woken to come back).
        let mut scratch = [0u8; 64];
        loop {
            let r = self.pipe.poll_io(cx, Direction::Read, |s| {
                let mut s = s;
                s.read(&mut scratch)
            });
            match r {
                Poll::Ready(Ok(n)) if n > 0 => continue,
                Poll::Ready(Ok(_)) | Poll::Pending => break,
                Poll::Ready(Err(_)) => return Poll::Ready(None),
            }
        }
        registry::dispatch();
        if self.take_delivery() {
            return Poll::Ready(Some(()));
        }
        // A task on another runtime may dispatch between the check above
        // and this registration: check again after registering.
        self.slot.register(self.id, cx.waker());
        if self.take_delivery() {
            return Poll::Ready(Some(()));
        }
        Poll::Pending
    }

    /// Consumes the deliveries since the last call, if any.
    fn take_delivery(&mut self) -> bool {
        let now = self.slot.deliveries();
        if now == self.seen {
            return false;
        }
        self.seen = now;
        self.slot.unregister(self.id);
        true
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        self.slot.unregister(self.id);
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}
