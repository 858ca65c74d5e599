//! The process-wide half of signal handling: the handler, the per-signal
//! `pending` flags and delivery counters, and the socket pair the handler
//! writes to (Go's `sig.mask` + `sigsend`, tokio's `signal::registry`).
//!
//! Invariants: the handler touches only statics (`WRITE_FD`, `SLOTS`'
//! atomics) and makes one `write(2)`, so it is async-signal-safe; the
//! write end is stored before any handler is installed and never closed.
//! A flag set by the handler is always followed by a byte, so a reader
//! that drains the socket and then swaps the flags never misses one: a
//! flag set after the swap comes with a byte that wakes the readers again.

use std::io;
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::task::Waker;

/// One more than the largest signal number handled: covers Linux's
/// real-time signals (`SIGRTMAX` is 64).
const NSIG: usize = 65;

/// Signals whose default action gort must not replace (tokio's list): the
/// hardware faults and the two that cannot be caught.
const FORBIDDEN: [libc::c_int; 5] = [
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGKILL,
    libc::SIGSEGV,
    libc::SIGSTOP,
];

/// The per-signal state.
pub(super) struct Slot {
    /// Set by the handler; swapped back to false by [`dispatch`].
    pending: AtomicBool,
    /// Deliveries dispatched so far (coalesced per drain).
    deliveries: AtomicU64,
    /// Whether gort's handler is installed for this signal.
    installed: Mutex<bool>,
    /// `Signal`s waiting in `recv`, by id: woken by [`dispatch`].
    waiters: Mutex<Vec<(u64, Waker)>>,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            pending: AtomicBool::new(false),
            deliveries: AtomicU64::new(0),
            installed: Mutex::new(false),
            waiters: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn deliveries(&self) -> u64 {
        self.deliveries.load(SeqCst)
    }

    fn lock_waiters(&self) -> MutexGuard<'_, Vec<(u64, Waker)>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers (or refreshes) the waker of `Signal` number `id`.
    pub(super) fn register(&self, id: u64, waker: &Waker) {
        let mut w = self.lock_waiters();
        match w.iter_mut().find(|(i, _)| *i == id) {
            Some((_, old)) => old.clone_from(waker),
            None => w.push((id, waker.clone())),
        }
    }

    /// Forgets `Signal` number `id` (it returned, or was dropped).
    pub(super) fn unregister(&self, id: u64) {
        self.lock_waiters().retain(|(i, _)| *i != id);
    }
}

static SLOTS: [Slot; NSIG] = [const { Slot::new() }; NSIG];

/// The write end of the socket pair; -1 until it exists.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// The read end; every `Signal` registers a duplicate of it.
static READ_END: OnceLock<Result<UnixStream, (io::ErrorKind, String)>> = OnceLock::new();

/// The slot of a valid, catchable signal number.
pub(super) fn slot(signum: libc::c_int) -> io::Result<&'static Slot> {
    if FORBIDDEN.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("gort: refusing to register signal {signum}"),
        ));
    }
    usize::try_from(signum)
        .ok()
        .filter(|&n| n > 0)
        .and_then(|n| SLOTS.get(n))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("gort: invalid signal number {signum}"),
            )
        })
}

/// A new duplicate of the socket pair's read end (non-blocking),
/// creating the pair on first use.
pub(super) fn read_end() -> io::Result<UnixStream> {
    let r = READ_END.get_or_init(|| {
        let make = || -> io::Result<UnixStream> {
            let (r, w) = UnixStream::pair()?;
            r.set_nonblocking(true)?;
            w.set_nonblocking(true)?;
            // The write end lives as long as the process: the handler may
            // run at any time after this store.
            WRITE_FD.store(w.into_raw_fd(), SeqCst);
            Ok(r)
        };
        make().map_err(|e| (e.kind(), e.to_string()))
    });
    match r {
        Ok(r) => r.try_clone(),
        Err((kind, msg)) => Err(io::Error::new(*kind, msg.clone())),
    }
}

/// Installs gort's handler for `signum` once. The socket pair must exist
/// ([`read_end`] was called).
pub(super) fn install(signum: libc::c_int) -> io::Result<()> {
    let slot = slot(signum)?;
    debug_assert!(WRITE_FD.load(SeqCst) >= 0);
    let mut installed = slot.installed.lock().unwrap_or_else(|e| e.into_inner());
    if *installed {
        return Ok(());
    }
    // SAFETY: an all-zero `sigaction` is a valid value of this plain C
    // struct (empty mask, no flags, SIG_DFL), filled in below.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    sa.sa_flags = libc::SA_RESTART;
    // SAFETY: `sa.sa_mask` is a valid, owned sigset_t.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: `sa` is fully initialised, its handler is an `extern "C"`
    // function that is async-signal-safe; we do not ask for the old action.
    if unsafe { libc::sigaction(signum, &sa, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    *installed = true;
    Ok(())
}

/// Turns every pending flag into one more delivery and wakes the waiters
/// of those signals. Call after draining the socket.
pub(super) fn dispatch() {
    for slot in &SLOTS {
        if slot.pending.swap(false, SeqCst) {
            slot.deliveries.fetch_add(1, SeqCst);
            let waiters = std::mem::take(&mut *slot.lock_waiters());
            for (_, w) in waiters {
                w.wake();
            }
        }
    }
}

/// The handler: flag the signal, write one byte. Saves and restores
/// `errno`, which `write` may change under the interrupted code.
extern "C" fn on_signal(signum: libc::c_int) {
    let saved = errno::get();
    if let Some(slot) = usize::try_from(signum).ok().and_then(|n| SLOTS.get(n)) {
        slot.pending.store(true, SeqCst);
    }
    let fd = WRITE_FD.load(SeqCst);
    if fd >= 0 {
        let b = [1u8];
        // SAFETY: write(2) is async-signal-safe and `b` is valid for one
        // byte. A full socket buffer (EAGAIN) loses nothing: a byte is
        // already waiting, and the flag is set.
        unsafe { libc::write(fd, b.as_ptr().cast(), 1) };
    }
    errno::set(saved);
}

/// `errno` access for the handler.
mod errno {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn location() -> *mut libc::c_int {
        // SAFETY: returns this thread's errno slot; always valid.
        unsafe { libc::__errno_location() }
    }

    #[cfg(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "dragonfly"
    ))]
    fn location() -> *mut libc::c_int {
        // SAFETY: returns this thread's errno slot; always valid.
        unsafe { libc::__error() }
    }

    #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
    fn location() -> *mut libc::c_int {
        // SAFETY: returns this thread's errno slot; always valid.
        unsafe { libc::__errno() }
    }

    pub(super) fn get() -> libc::c_int {
        // SAFETY: `location` points at this thread's errno.
        unsafe { *location() }
    }

    pub(super) fn set(v: libc::c_int) {
        // SAFETY: `location` points at this thread's errno.
        unsafe { *location() = v }
    }
}
