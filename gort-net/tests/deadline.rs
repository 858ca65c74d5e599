//! Go's deadlines: an operation past its deadline fails with `TimedOut`,
//! whether it was blocked when the deadline came or started after it; a
//! deadline moved later (or removed) makes the socket usable again.

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use gort::net::{TcpListener, TcpStream, UdpSocket};
use gort::time::Instant;

async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (c, s)
}

#[test]
fn a_blocked_read_fails_with_timed_out_at_its_deadline_and_a_reset_makes_reads_work_again() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let (mut c, mut s) = pair().await;
        s.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)))
            .unwrap();
        let mut buf = [0u8; 4];
        // Nobody writes: the read is parked when the deadline comes.
        let err = s.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        // Still past the deadline: fails at once, even with data there.
        c.write_all(b"data").await.unwrap();
        assert_eq!(
            s.read(&mut buf).await.unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        // A later deadline makes the socket usable again; nothing was lost.
        s.set_read_deadline(Some(Instant::now() + Duration::from_secs(60)))
            .unwrap();
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"data");
        // So does removing it.
        s.set_read_deadline(Some(Instant::now())).unwrap();
        assert_eq!(
            s.read(&mut buf).await.unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        s.set_read_deadline(None).unwrap();
        c.write_all(b"more").await.unwrap();
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"more");
    });
}

#[test]
fn an_extended_deadline_does_not_fire_at_the_old_time() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let (mut c, mut s) = pair().await;
        s.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)))
            .unwrap();
        // Extended before it passes: the timer is re-armed for the later
        // deadline and the read does not fail at the old time.
        s.set_read_deadline(Some(Instant::now() + Duration::from_secs(60)))
            .unwrap();
        let writer = gort::spawn(async move {
            gort::time::sleep(Duration::from_millis(100)).await;
            c.write_all(b"late").await.unwrap();
            c
        });
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"late");
        drop(writer.await.unwrap());
    });
}

#[test]
fn a_write_blocked_on_a_full_send_buffer_fails_at_its_write_deadline() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let (mut c, s) = pair().await;
        // The peer never reads: writes fill both socket buffers and block.
        c.set_write_deadline(Some(Instant::now() + Duration::from_millis(50)))
            .unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0usize;
        let err = loop {
            match c.write(&chunk).await {
                Ok(n) => written += n,
                Err(e) => break e,
            }
            assert!(written < 1 << 30, "the send buffer never filled");
        };
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(written > 0);
        // Reads are not affected by the write deadline.
        c.set_read_deadline(Some(Instant::now())).unwrap();
        c.set_read_deadline(None).unwrap();
        drop(s);
    });
}

#[test]
fn set_deadline_covers_both_directions_and_accept_has_its_own() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let (mut c, _s) = pair().await;
        c.set_deadline(Some(Instant::now())).unwrap();
        assert_eq!(
            c.read(&mut [0u8; 1]).await.unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        assert_eq!(c.write(b"x").await.unwrap_err().kind(), ErrorKind::TimedOut);
        c.set_deadline(None).unwrap();
        assert_eq!(c.write(b"x").await.unwrap(), 1);

        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.set_deadline(Some(Instant::now() + Duration::from_millis(20)))
            .unwrap();
        assert_eq!(l.accept().await.unwrap_err().kind(), ErrorKind::TimedOut);
    });
}

#[test]
fn a_udp_receive_times_out_and_then_receives() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        b.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)))
            .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(
            b.recv_from(&mut buf).await.unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        b.set_read_deadline(None).unwrap();
        a.send_to(b"dgram", b.local_addr().unwrap()).await.unwrap();
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"dgram"[..], a.local_addr().unwrap()));
    });
}

#[test]
fn many_deadlines_on_one_idle_runtime_all_fire() {
    // Every M idle: the one blocked in the poller must wake for each
    // deadline (the earliest first), with no other event to wake it.
    let rt = common::runtime(2);
    let fired = rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let tasks: Vec<_> = (0..20u64)
            .map(|i| {
                gort::spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    // Deadlines in reverse order of creation.
                    s.set_read_deadline(Some(Instant::now() + Duration::from_millis(60 - 2 * i)))
                        .unwrap();
                    s.read(&mut [0u8; 1]).await.unwrap_err().kind()
                })
            })
            .collect();
        let mut fired = 0;
        for t in tasks {
            assert_eq!(t.await.unwrap(), ErrorKind::TimedOut);
            fired += 1;
        }
        drop(l);
        fired
    });
    assert_eq!(fired, 20);
}

#[test]
fn deadlines_follow_the_runtimes_paused_clock() {
    // A paused clock jumps to the next timer when every task is idle: an
    // hour-long deadline fires at once in real time, and the operation
    // still fails with TimedOut at (virtual) deadline time.
    let rt = gort::runtime::Builder::new()
        .procs(1)
        .start_paused(true)
        .build()
        .unwrap();
    let waited = rt.block_on(async {
        let (_c, mut s) = pair().await;
        let start = Instant::now();
        s.set_read_deadline(Some(start + Duration::from_secs(3600)))
            .unwrap();
        let err = s.read(&mut [0u8; 1]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        Instant::now() - start
    });
    assert!(waited >= Duration::from_secs(3600), "{waited:?}");
}

#[test]
fn connect_timeout_connects_within_its_timeout() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let c = TcpStream::connect_timeout(&addr, Duration::from_secs(30))
            .await
            .unwrap();
        let (_s, peer) = l.accept().await.unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        // The write deadline used for the connect is gone afterwards.
        let mut c = c;
        assert_eq!(c.write(b"x").await.unwrap(), 1);
    });
}

#[test]
fn a_deadline_fires_while_the_p_never_runs_dry() {
    // One P kept busy by a task that yields in a loop: the P never runs
    // dry, so the poller is never polled from find_runnable, but the
    // deadline is a runtime timer, checked in every schedule loop.
    let rt = common::runtime(1);
    rt.block_on(async {
        let (_c, mut s) = pair().await;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = gort::spawn({
            let done = done.clone();
            async move {
                let mut spins = 0u64;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    gort::yield_now().await;
                    spins += 1;
                    assert!(spins < 200_000_000, "the deadline never fired");
                }
            }
        });
        let reader = gort::spawn(async move {
            s.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)))
                .unwrap();
            s.read(&mut [0u8; 1]).await.unwrap_err().kind()
        });
        let kind = reader.await.unwrap();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        busy.await.unwrap();
        assert_eq!(kind, ErrorKind::TimedOut);
    });
}
