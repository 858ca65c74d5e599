//! Helpers shared by gort-net's integration tests.

#![allow(dead_code)]

use std::time::Duration;

/// A runtime with the network poller (the facade's builder installs it).
pub fn runtime(procs: usize) -> gort::runtime::Runtime {
    gort::runtime::Builder::new()
        .procs(procs)
        .build()
        .expect("runtime")
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (a test with a
/// thousand connections needs over 2 000 descriptors). Returns the new
/// soft limit.
#[cfg(unix)]
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit struct we own.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(r, 0, "getrlimit: {}", std::io::Error::last_os_error());
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: setrlimit reads the rlimit struct we own.
        let r = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
        assert_eq!(r, 0, "setrlimit: {}", std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every platform
    let soft = lim.rlim_cur as u64;
    soft
}

/// Sets the soft `RLIMIT_NOFILE` (only ever called in a child process).
#[cfg(unix)]
pub fn set_fd_limit(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit struct we own.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(r, 0, "getrlimit: {}", std::io::Error::last_os_error());
    lim.rlim_cur = soft as libc::rlim_t;
    // SAFETY: setrlimit reads the rlimit struct we own.
    let r = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    assert_eq!(r, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

/// Generous cap on waits that must finish "promptly": only a hang hits it.
pub const HANG: Duration = Duration::from_secs(60);
