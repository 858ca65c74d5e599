//! Accepting with no file descriptors left: `accept` returns the error
//! (EMFILE) as a value, and the same listener accepts again once
//! descriptors are freed.
//!
//! The limit is lowered in a child process (this test binary re-executed
//! with `--exact` and an environment variable), so the other tests of the
//! suite keep their descriptors.

#![cfg(unix)]

mod common;

use std::fs::File;
use std::process::Command;

use gort::net::{TcpListener, TcpStream};

const CHILD_ENV: &str = "GORT_NET_FD_EXHAUSTION_CHILD";
const TEST_NAME: &str = "accept_under_fd_exhaustion_returns_an_error_and_recovers";

#[test]
fn accept_under_fd_exhaustion_returns_an_error_and_recovers() {
    if std::env::var_os(CHILD_ENV).is_some() {
        exhaust_and_recover();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([TEST_NAME, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    // The child really ran the scenario (not zero tests).
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert!(stdout.contains("accept failed with EMFILE"), "{stdout}");
}

fn exhaust_and_recover() {
    // Room for the runtime, the listener and a few connections.
    common::set_fd_limit(64);
    let rt = common::runtime(2);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        // Connected (in the backlog) before the descriptors run out.
        let mut first = TcpStream::connect(addr).await.unwrap();
        let mut second = TcpStream::connect(addr).await.unwrap();
        // Use up every descriptor left.
        let mut hogs = Vec::new();
        loop {
            match File::open("/dev/null") {
                Ok(f) => hogs.push(f),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                    break;
                }
            }
            assert!(hogs.len() < 64, "the limit did not apply");
        }
        // accept fails with the error, as a value, and keeps failing while
        // nothing is freed (a server backs off here).
        for _ in 0..3 {
            let err = l.accept().await.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        }
        println!("accept failed with EMFILE");
        // Free some descriptors: the same listener accepts both pending
        // connections, and they work.
        hogs.truncate(hogs.len().saturating_sub(8));
        let (mut a, _) = l.accept().await.unwrap();
        let (mut b, _) = l.accept().await.unwrap();
        first.write_all(b"1").await.unwrap();
        second.write_all(b"2").await.unwrap();
        let mut buf = [0u8; 1];
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"1");
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"2");
        // And it accepts new connections too.
        let _third = TcpStream::connect(addr).await.unwrap();
        let _ = l.accept().await.unwrap();
        drop(hogs);
    });
}
