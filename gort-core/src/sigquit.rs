//! SIGQUIT prints the task dump (Go's goroutine dump on SIGQUIT), without
//! killing the process, for runtimes built with `dump_on_sigquit(true)` or
//! `GORT_DEBUG=sigquit=1`.
//!
//! The signal handler only writes one byte to a pipe (async-signal-safe);
//! a thread named `gort-sigquit` reads it and prints the dump of every
//! registered runtime that is still alive to stderr. Unix only; elsewhere
//! the option does nothing.

use std::sync::{Arc, Mutex, Weak};

use crate::sched::Shared;

/// Threads this module started (0 or 1): the deadlock check counts them
/// as the runtime's own.
pub(crate) static THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

static RUNTIMES: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// Registers a runtime for SIGQUIT dumps, installing the handler once.
pub(crate) fn register(shared: &Arc<Shared>, enable: bool) -> std::io::Result<()> {
    if !enable {
        return Ok(());
    }
    imp::install()?;
    let mut r = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    r.retain(|w| w.strong_count() > 0);
    r.push(Arc::downgrade(shared));
    Ok(())
}

fn dump_all() {
    let live: Vec<Arc<Shared>> = {
        let mut r = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
        r.retain(|w| w.strong_count() > 0);
        r.iter().filter_map(Weak::upgrade).collect()
    };
    for (i, sh) in live.iter().enumerate() {
        eprintln!("SIGQUIT: gort runtime {i}\n{}", crate::dump::dump(sh));
    }
}

#[cfg(unix)]
mod imp {
    use std::sync::atomic::{AtomicI32, Ordering::SeqCst};
    use std::sync::OnceLock;

    static WRITE_FD: AtomicI32 = AtomicI32::new(-1);
    static INSTALLED: OnceLock<std::io::Result<()>> = OnceLock::new();

    extern "C" fn on_sigquit(_: libc::c_int) {
        let fd = WRITE_FD.load(SeqCst);
        if fd >= 0 {
            let b = [b'q'];
            // SAFETY: write(2) is async-signal-safe; the buffer is valid for
            // one byte. A full pipe (EAGAIN) just drops this request: a dump
            // is already pending.
            unsafe { libc::write(fd, b.as_ptr().cast(), 1) };
        }
    }

    pub(super) fn install() -> std::io::Result<()> {
        INSTALLED
            .get_or_init(|| {
                let mut fds = [0i32; 2];
                // SAFETY: `fds` has room for the two descriptors pipe2 returns.
                if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let (rfd, wfd) = (fds[0], fds[1]);
                // SAFETY: wfd is our pipe's write end; making it non-blocking
                // keeps the handler from ever blocking.
                unsafe { libc::fcntl(wfd, libc::F_SETFL, libc::O_NONBLOCK) };
                WRITE_FD.store(wfd, SeqCst);
                std::thread::Builder::new()
                    .name("gort-sigquit".into())
                    .spawn(move || {
                        super::THREADS.fetch_add(1, SeqCst);
                        let mut buf = [0u8; 64];
                        loop {
                            // SAFETY: reading into a valid 64-byte buffer.
                            let n = unsafe { libc::read(rfd, buf.as_mut_ptr().cast(), buf.len()) };
                            if n > 0 {
                                super::dump_all();
                            } else if n < 0
                                && std::io::Error::last_os_error().kind()
                                    != std::io::ErrorKind::Interrupted
                            {
                                return;
                            }
                        }
                    })?;
                // SAFETY: a zeroed sigaction is a valid starting point; we set
                // the handler and SA_RESTART so interrupted syscalls resume.
                let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
                sa.sa_sigaction = on_sigquit as *const () as usize;
                sa.sa_flags = libc::SA_RESTART;
                // SAFETY: sa_mask is a field of the sigaction we own.
                unsafe { libc::sigemptyset(&mut sa.sa_mask) };
                // SAFETY: installing a handler for SIGQUIT with a valid struct.
                if unsafe { libc::sigaction(libc::SIGQUIT, &sa, std::ptr::null_mut()) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
            .as_ref()
            .map(|_| ())
            .map_err(|e| std::io::Error::new(e.kind(), e.to_string()))
    }
}

#[cfg(not(unix))]
mod imp {
    pub(super) fn install() -> std::io::Result<()> {
        Ok(())
    }
}
