//! Every public API that takes a `Duration` or an `Instant`, given the
//! extremes: `Duration::MAX` (or an instant far past any clock reading),
//! and `Duration::ZERO` where it has a meaning of its own. A deadline past
//! the clock's range means "never", as `sleep` has always done; a setting
//! that cannot mean anything is a clear error. Nothing panics or hangs.
//!
//! Each test asserts the outcome: the call returned, the connection works,
//! the monitor still hands a stuck P off and still detects a deadlock.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use gort::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixStream};
use gort::runtime::{Builder, Runtime};
use gort::time::{after_func, interval, interval_at, sleep, sleep_until, timeout, timeout_at};
use gort::time::{Instant, Timer};

/// Far past the end of every runtime clock (which counts u64 nanoseconds,
/// ~584 years), but still a valid `Instant`.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(1 << 40)
}

/// Runs `f` on a thread of its own and fails the test if it has not
/// returned after `cap` (only reached when the call hangs).
fn returns_within<R: Send + 'static>(cap: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(cap)
        .unwrap_or_else(|e| panic!("the call did not return within {cap:?}: {e}"))
}

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

/// Blocks the thread until `cond` holds (capped; the cap is only reached
/// when the behaviour under test is broken).
fn block_until(cond: impl Fn() -> bool) {
    let end = std::time::Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(std::time::Instant::now() < end, "condition not reached");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `fut` is still pending after `d` of runtime time.
async fn still_pending_after<F: Future>(d: Duration, fut: F) -> bool {
    timeout(d, fut).await.is_err()
}

// ---- gort-core: Builder and Runtime ----

#[test]
fn shutdown_timeout_with_duration_max_returns() {
    for rt in [rt(2), Builder::new_current_thread().build().unwrap()] {
        let n = rt.block_on(async { gort::spawn(async { 7 }).await.unwrap() });
        assert_eq!(n, 7);
        // A task still parked: shutdown must cancel it and return.
        let parked = Arc::new(AtomicUsize::new(0));
        struct CountDrop(Arc<AtomicUsize>);
        impl Drop for CountDrop {
            fn drop(&mut self) {
                self.0.fetch_add(1, SeqCst);
            }
        }
        let p = CountDrop(parked.clone());
        rt.spawn(async move {
            let _p = p;
            std::future::pending::<()>().await
        });
        returns_within(Duration::from_secs(30), move || {
            rt.shutdown_timeout(Duration::MAX)
        });
        assert_eq!(parked.load(SeqCst), 1);
    }
}

/// On 1 P: a task blocks its thread until the ten tasks it queued on its
/// P have run, which only a monitor hand-off makes possible. (That the
/// monitor also still declares a deadlock after these settings is in
/// `tests/deadlock.rs`, which runs in a process of its own.)
fn monitor_hands_off_a_stuck_p(rt: Runtime) {
    let handle = rt.handle().clone();
    let ran = rt.block_on(async {
        gort::spawn(async {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..10 {
                let d = done.clone();
                gort::spawn(async move {
                    d.fetch_add(1, SeqCst);
                });
            }
            block_until(|| done.load(SeqCst) == 10);
            done.load(SeqCst)
        })
        .await
        .unwrap()
    });
    assert_eq!(ran, 10);
    assert!(handle.metrics().monitor_handoffs >= 1);
}

#[test]
fn schedtrace_every_duration_max_keeps_the_monitor_alive() {
    let rt = Builder::new()
        .procs(1)
        .schedtrace(Some(Duration::MAX))
        .build()
        .unwrap();
    returns_within(Duration::from_secs(60), move || {
        monitor_hands_off_a_stuck_p(rt)
    });
}

#[test]
fn schedtrace_every_zero_is_off_and_keeps_the_monitor_alive() {
    let rt = Builder::new()
        .procs(1)
        .schedtrace(Some(Duration::ZERO))
        .build()
        .unwrap();
    returns_within(Duration::from_secs(60), move || {
        monitor_hands_off_a_stuck_p(rt)
    });
}

#[test]
fn handoff_after_duration_max_never_hands_off() {
    let rt = Builder::new()
        .procs(1)
        .handoff_after(Duration::MAX)
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let ran_during_block = rt.block_on(async {
        gort::spawn(async {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..10 {
                let d = done.clone();
                gort::spawn(async move {
                    d.fetch_add(1, SeqCst);
                });
            }
            // Long past the default 10 ms threshold.
            std::thread::sleep(Duration::from_millis(50));
            done.load(SeqCst)
        })
        .await
        .unwrap()
    });
    assert_eq!(ran_during_block, 0);
    assert_eq!(handle.metrics().monitor_handoffs, 0);
    // The runtime still runs tasks.
    assert_eq!(
        rt.block_on(async { gort::spawn(async { 1 }).await.unwrap() }),
        1
    );
}

#[test]
fn handoff_after_zero_is_an_invalid_input_error() {
    let err = Builder::new()
        .handoff_after(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("handoff_after"), "{err}");
}

// ---- gort-time ----

#[gort::test]
async fn sleep_with_duration_max_never_fires() {
    assert!(still_pending_after(Duration::from_millis(20), sleep(Duration::MAX)).await);
}

#[gort::test]
async fn sleep_until_the_far_future_never_fires() {
    assert!(still_pending_after(Duration::from_millis(20), sleep_until(far_future())).await);
}

#[gort::test]
async fn sleep_reset_to_the_far_future_never_fires() {
    let mut s = Box::pin(sleep(Duration::from_millis(1)));
    s.as_mut().reset(far_future());
    assert!(still_pending_after(Duration::from_millis(20), s).await);
}

#[gort::test]
async fn timeout_with_duration_max_returns_the_output() {
    assert_eq!(timeout(Duration::MAX, async { 7 }).await, Ok(7));
    let later = timeout(Duration::MAX, async {
        sleep(Duration::from_millis(5)).await;
        8
    });
    assert_eq!(later.await, Ok(8));
}

#[gort::test]
async fn timeout_at_the_far_future_returns_the_output() {
    assert_eq!(timeout_at(far_future(), async { 7 }).await, Ok(7));
}

#[gort::test]
async fn timeout_with_duration_zero_returns_a_ready_output_and_elapses_otherwise() {
    assert_eq!(timeout(Duration::ZERO, async { 7 }).await, Ok(7));
    assert!(timeout(Duration::ZERO, std::future::pending::<()>())
        .await
        .is_err());
}

#[gort::test]
async fn interval_with_duration_max_ticks_once() {
    let mut iv = interval(Duration::MAX);
    iv.tick().await;
    assert!(still_pending_after(Duration::from_millis(20), iv.tick()).await);
    assert_eq!(iv.period(), Duration::MAX);
}

#[gort::test]
async fn interval_at_the_far_future_never_ticks() {
    let mut iv = interval_at(far_future(), Duration::MAX);
    assert!(still_pending_after(Duration::from_millis(20), iv.tick()).await);
}

#[gort::test]
async fn interval_reset_after_duration_max_and_reset_at_the_far_future_never_tick() {
    let mut iv = interval(Duration::from_millis(1));
    iv.tick().await;
    iv.reset_after(Duration::MAX);
    assert!(still_pending_after(Duration::from_millis(20), iv.tick()).await);
    iv.reset_at(far_future());
    assert!(still_pending_after(Duration::from_millis(20), iv.tick()).await);
}

#[gort::test]
async fn timer_new_and_reset_with_duration_max_never_fire() {
    let t = Timer::new(Duration::MAX);
    assert!(t.reset(Duration::MAX), "the timer is still armed");
    assert!(still_pending_after(Duration::from_millis(20), t).await);
}

#[gort::test]
async fn after_func_with_duration_max_never_runs() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let t = after_func(Duration::MAX, move || r.store(true, SeqCst));
    sleep(Duration::from_millis(20)).await;
    assert!(t.stop(), "stop finds the timer still armed");
    assert!(!ran.load(SeqCst));
}

#[gort::test(start_paused = true)]
async fn advance_by_duration_max_moves_a_paused_clock_forward() {
    let before = Instant::now();
    let hour = gort::spawn(sleep(Duration::from_secs(3600)));
    gort::time::advance(Duration::MAX).await;
    assert!(Instant::now() > before + Duration::from_secs(3600));
    hour.await.unwrap();
    // The clock is at the end of its range and stays there.
    let end = Instant::now();
    gort::time::advance(Duration::from_secs(1)).await;
    assert!(Instant::now() >= end);
}

// ---- gort-net ----

async fn echo_one_byte(a: &mut TcpStream, b: &mut TcpStream) -> io::Result<()> {
    a.write_all(b"x").await?;
    let mut buf = [0u8; 1];
    b.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"x");
    Ok(())
}

#[gort::test]
async fn connect_timeout_with_duration_max_connects() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut c = TcpStream::connect_timeout(&l.local_addr().unwrap(), Duration::MAX)
        .await
        .unwrap();
    let (mut s, _) = l.accept().await.unwrap();
    echo_one_byte(&mut c, &mut s).await.unwrap();
    echo_one_byte(&mut s, &mut c).await.unwrap();
}

#[gort::test]
async fn far_future_deadlines_on_tcp_never_fire() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.set_deadline(Some(far_future())).unwrap();
    let addr = l.local_addr().unwrap();
    // The kernel completes a loopback connect before the accept.
    let mut c = TcpStream::connect(addr).await.unwrap();
    let (mut s, _) = l.accept().await.unwrap();
    c.set_deadline(Some(far_future())).unwrap();
    s.set_read_deadline(Some(far_future())).unwrap();
    s.set_write_deadline(Some(far_future())).unwrap();
    let mut buf = [0u8; 1];
    assert!(still_pending_after(Duration::from_millis(20), s.read(&mut buf)).await);
    echo_one_byte(&mut c, &mut s).await.unwrap();
    echo_one_byte(&mut s, &mut c).await.unwrap();
    let (mut r, mut w) = c.into_split();
    r.set_read_deadline(Some(far_future())).unwrap();
    w.set_write_deadline(Some(far_future())).unwrap();
    w.write_all(b"y").await.unwrap();
    s.write_all(b"z").await.unwrap();
    r.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"z");
}

#[gort::test]
async fn far_future_deadlines_on_udp_and_unix_never_fire() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.set_deadline(Some(far_future())).unwrap();
    b.set_read_deadline(Some(far_future())).unwrap();
    b.set_write_deadline(Some(far_future())).unwrap();
    a.send_to(b"u", b.local_addr().unwrap()).await.unwrap();
    let mut buf = [0u8; 4];
    let (n, from) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"u"[..], a.local_addr().unwrap()));

    let (mut x, mut y) = UnixStream::pair().unwrap();
    x.set_deadline(Some(far_future())).unwrap();
    y.set_read_deadline(Some(far_future())).unwrap();
    y.set_write_deadline(Some(far_future())).unwrap();
    x.write_all(b"s").await.unwrap();
    y.read_exact(&mut buf[..1]).await.unwrap();
    assert_eq!(&buf[..1], b"s");

    let (p, q) = UnixDatagram::pair().unwrap();
    p.set_deadline(Some(far_future())).unwrap();
    q.set_read_deadline(Some(far_future())).unwrap();
    q.set_write_deadline(Some(far_future())).unwrap();
    p.send(b"d").await.unwrap();
    let n = q.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"d");
}

#[gort::test]
async fn set_linger_with_duration_max_is_clamped_and_the_stream_still_works() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (mut s, _) = l.accept().await.unwrap();
    c.set_linger(Some(Duration::MAX)).unwrap();
    let linger = c.linger().unwrap().expect("linger is on");
    assert!(linger >= Duration::from_secs(3600), "{linger:?}");
    // 2^32 s truncated to a C int would be 0: a reset on close.
    c.set_linger(Some(Duration::from_secs(1 << 32))).unwrap();
    let linger = c.linger().unwrap().expect("linger is on");
    assert!(linger >= Duration::from_secs(3600), "{linger:?}");
    let socket = gort::net::TcpSocket::new_v4().unwrap();
    socket.set_linger(Some(Duration::MAX)).unwrap();
    assert!(socket.linger().unwrap().expect("linger is on") >= Duration::from_secs(3600));
    echo_one_byte(&mut c, &mut s).await.unwrap();
}
