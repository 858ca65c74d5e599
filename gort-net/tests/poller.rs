//! The poller as the scheduler's driver: woken from other threads, fair to
//! other tasks, visible in task dumps, and never leaving a waiter hanging.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use gort::net::{TcpListener, TcpStream};

/// Waits (on a plain thread) until every P of `rt` is idle.
fn wait_all_idle(rt: &gort::runtime::Runtime) {
    let h = rt.handle();
    let end = std::time::Instant::now() + common::HANG;
    while h.metrics().idle_procs != h.procs() {
        assert!(
            std::time::Instant::now() < end,
            "the runtime never went idle"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_spawn_from_another_thread_wakes_the_m_blocked_in_the_poller() {
    let rt = common::runtime(2);
    // A task parked on a socket: the idle M blocks in the poller (has
    // waiters, no timeout), the other on its parker.
    let l = rt.block_on(async { TcpListener::bind("127.0.0.1:0").await.unwrap() });
    let addr = l.local_addr().unwrap();
    let acceptor = rt.spawn(async move { l.accept().await.map(|(_, a)| a) });
    wait_all_idle(&rt);
    // Let the M settle into its blocking poll.
    std::thread::sleep(Duration::from_millis(20));
    // From a thread outside the runtime: spawn, and wait for the task to
    // run. Only the poller's wake-up (netpollBreak) can start an M now.
    let (tx, rx) = mpsc::channel();
    let h = rt.handle().clone();
    std::thread::spawn(move || {
        let _jh = h.spawn(async move {
            tx.send(7).unwrap();
        });
    });
    assert_eq!(
        rx.recv_timeout(common::HANG),
        Ok(7),
        "the spawned task never ran"
    );
    // The poller still delivers I/O after the wake-up.
    let c = rt.block_on(async { TcpStream::connect(addr).await.unwrap() });
    let peer = rt.block_on(acceptor).unwrap().unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
}

#[test]
fn a_socket_that_is_always_readable_cannot_monopolise_a_single_p() {
    // One P, and no monitor hand-off (an hour): only the cooperative
    // budget can let the other task run while the reader loops.
    let rt = gort::runtime::Builder::new()
        .procs(1)
        .handoff_after(Duration::from_secs(3600))
        .build()
        .unwrap();
    let (reads, forced) = rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        // The peer's FIN: every read now returns Ok(0) at once, forever.
        c.shutdown().await.unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = gort::spawn({
            let stop = stop.clone();
            async move {
                let mut buf = [0u8; 8];
                let mut reads = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    assert_eq!(s.read(&mut buf).await.unwrap(), 0);
                    reads += 1;
                    assert!(reads < 10_000_000, "the other task never ran");
                }
                reads
            }
        });
        // Queued behind the reader on the same P.
        let other = gort::spawn(async move {
            stop.store(true, Ordering::SeqCst);
        });
        other.await.unwrap();
        let reads = reader.await.unwrap();
        (
            reads,
            gort::runtime::Handle::current()
                .metrics()
                .budget_forced_yields,
        )
    });
    assert!(reads >= 1);
    assert!(forced >= 1, "the reader yielded because its budget ran out");
}

#[test]
fn a_task_parked_on_a_socket_shows_io_wait_in_the_dump() {
    let rt = common::runtime(1);
    let dump = rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _h = gort::task::Builder::new()
            .name("acceptor")
            .spawn(async move { l.accept().await.map(|_| ()) });
        // With one P, once this task has run the acceptor has been polled.
        gort::spawn(async {}).await.unwrap();
        gort::runtime::Handle::current().dump_tasks()
    });
    assert!(dump.contains("\"acceptor\" [IO wait"), "{dump}");
}

#[test]
fn a_main_future_waits_on_sockets_without_any_spawned_task() {
    // block_on's future runs on the calling thread, which is not an M; with
    // nothing spawned, no M exists until the socket wait starts one.
    let rt = common::runtime(2);
    let got = rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            std::io::Write::write_all(&mut c, b"late").unwrap();
            c
        });
        // Parks the main future: only a poller M can wake it.
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        client.join().unwrap();
        buf
    });
    assert_eq!(&got, b"late");
}

#[test]
fn dropping_a_runtime_wakes_a_reader_of_its_socket_on_another_runtime_with_an_error() {
    // A socket belongs to the poller of the runtime it was created in.
    // Here the reader runs on a second runtime; when the first one goes
    // away, its poller closes the socket's descriptor and the reader must
    // get an error, not hang.
    let owner = common::runtime(1);
    let (server_side, client) = owner.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (s, c)
    });
    let reader_rt = common::runtime(1);
    let parked = Arc::new(AtomicUsize::new(0));
    let reader = reader_rt.spawn({
        let parked = parked.clone();
        async move {
            let mut s = server_side;
            let mut buf = [0u8; 8];
            parked.store(1, Ordering::SeqCst);
            s.read(&mut buf).await
        }
    });
    // Wait until the reader is parked on the socket.
    let end = std::time::Instant::now() + common::HANG;
    while !(parked.load(Ordering::SeqCst) == 1
        && reader_rt.handle().dump_tasks().contains("IO wait"))
    {
        assert!(std::time::Instant::now() < end, "reader never parked");
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(owner);
    let res = reader_rt.block_on(reader).unwrap();
    let err = res.expect_err("the read must fail once its poller is gone");
    assert_eq!(err.kind(), std::io::ErrorKind::NotConnected, "{err}");
    drop(client);
}

/// Spins on `yield_now` until `s` reports its peer's close; returns the
/// number of yields it took, or fails after a bounded number.
async fn yield_until_read_closed(s: TcpStream) -> usize {
    for yields in 0..1_000_000 {
        let ready = s.ready(gort::io::Interest::READABLE).await.unwrap();
        if ready.is_read_closed() {
            return yields;
        }
        gort::task::yield_now().await;
    }
    panic!("never saw the peer's close while yielding");
}

/// A connected pair whose server side has already seen readiness (so
/// `ready` answers from the cached bits without registering a waiter) and
/// whose client is then closed.
async fn closed_pair() -> TcpStream {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    let mut c = c;
    gort::io::AsyncWriteExt::write_all(&mut c, b"x")
        .await
        .unwrap();
    s.readable().await.unwrap();
    drop(c);
    s
}

// tokio's `yield_now` contract, which ported code relies on: a yielded
// task runs again only after the driver has had a poll, so a loop of
// `ready` + `yield_now` sees new readiness even though nothing waits in
// the poller. One P, so no idle M sits in the driver to do it instead.
#[test]
fn a_task_spinning_on_yield_now_sees_its_peer_close_on_one_p() {
    let rt = common::runtime(1);
    let s = rt.block_on(closed_pair());
    let yields = rt.block_on(rt.spawn(yield_until_read_closed(s))).unwrap();
    assert!(yields < 1_000_000);
}

#[test]
fn a_current_thread_block_on_future_spinning_on_yield_now_sees_its_peer_close() {
    let rt = gort::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let yields = rt.block_on(async { yield_until_read_closed(closed_pair().await).await });
    assert!(yields < 1_000_000);
}
