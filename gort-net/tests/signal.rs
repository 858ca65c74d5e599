//! Signals through the poller: `recv` returns after a delivery raised on
//! this process, deliveries coalesce, every `Signal` of a kind sees each
//! delivery, other kinds do not wake it; `ctrl_c` resolves on SIGINT in a
//! child process (so the harness itself is never interrupted).

#![cfg(unix)]

mod common;

use std::future::Future;
use std::process::Command;
use std::task::Poll;
use std::time::Duration;

use gort::signal::unix::{signal, SignalKind};

fn raise(sig: libc::c_int) {
    // SAFETY: raise(3) only sends a signal to this thread; every test
    // raises only signals whose gort handler is installed.
    let r = unsafe { libc::raise(sig) };
    assert_eq!(r, 0);
}

/// Awaits `fut` for at most `d`; `None` on timeout.
async fn within<F: std::future::Future>(d: Duration, fut: F) -> Option<F::Output> {
    gort::time::timeout(d, fut).await.ok()
}

#[test]
fn recv_returns_after_sigusr1_is_raised() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let mut s = signal(SignalKind::user_defined1()).unwrap();
        let waiter = gort::spawn(async move {
            let got = s.recv().await;
            (got, s)
        });
        gort::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "recv returned before any signal");
        raise(libc::SIGUSR1);
        let (got, mut s) = within(Duration::from_secs(10), waiter)
            .await
            .expect("recv woken by the poller")
            .unwrap();
        assert_eq!(got, Some(()));
        // Nothing since: the next recv waits.
        assert!(within(Duration::from_millis(50), s.recv()).await.is_none());
    });
}

#[test]
fn deliveries_coalesce_and_reach_every_signal_of_the_kind_only() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let mut a = signal(SignalKind::user_defined2()).unwrap();
        let mut b = signal(SignalKind::user_defined2()).unwrap();
        let mut other = signal(SignalKind::hangup()).unwrap();
        for _ in 0..3 {
            raise(libc::SIGUSR2);
        }
        let d = Duration::from_secs(10);
        assert_eq!(within(d, a.recv()).await, Some(Some(())));
        assert_eq!(within(d, b.recv()).await, Some(Some(())));
        // Three raises before the first recv: one delivery each, no more.
        let short = Duration::from_millis(50);
        assert!(within(short, a.recv()).await.is_none());
        assert!(within(short, b.recv()).await.is_none());
        assert!(within(short, other.recv()).await.is_none());
        // A fresh Signal does not see deliveries from before it existed.
        let mut late = signal(SignalKind::user_defined2()).unwrap();
        assert!(within(short, late.recv()).await.is_none());
        raise(libc::SIGHUP);
        assert_eq!(within(d, other.recv()).await, Some(Some(())));
        assert!(within(short, a.recv()).await.is_none());
    });
}

#[test]
fn a_main_future_waiting_only_on_a_signal_sleeps_in_the_poller_until_it_comes() {
    let rt = common::runtime(2);
    let got = rt.block_on(async {
        // Nothing spawned, no timer: only the poller can wake block_on, and
        // the deadlock check must count the signal wait as I/O.
        let mut s = signal(SignalKind::window_change()).unwrap();
        let sender = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: kill(2) on our own pid with a signal gort handles.
            let r = unsafe { libc::kill(libc::getpid(), libc::SIGWINCH) };
            assert_eq!(r, 0);
        });
        let got = s.recv().await;
        sender.join().unwrap();
        got
    });
    assert_eq!(got, Some(()));
}

#[test]
fn uncatchable_and_fault_signals_are_refused() {
    let rt = common::runtime(1);
    rt.block_on(async {
        for sig in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, 0, 1000] {
            let err = signal(SignalKind::from_raw(sig)).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{sig}");
        }
    });
}

const CHILD_ENV: &str = "GORT_NET_CTRL_C_CHILD";
const TEST_NAME: &str = "ctrl_c_resolves_on_sigint_in_a_child_process";

#[test]
fn ctrl_c_resolves_on_sigint_in_a_child_process() {
    if std::env::var_os(CHILD_ENV).is_some() {
        ctrl_c_child();
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
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert!(stdout.contains("ctrl_c resolved after SIGINT"), "{stdout}");
}

fn ctrl_c_child() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let mut fut = std::pin::pin!(gort::signal::ctrl_c());
        // Poll once: that installs the handler (until then SIGINT would
        // kill this process) and parks the future on the poller.
        let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        raise(libc::SIGINT);
        within(Duration::from_secs(10), fut)
            .await
            .expect("ctrl_c woken")
            .unwrap();
        println!("ctrl_c resolved after SIGINT");
    });
}
