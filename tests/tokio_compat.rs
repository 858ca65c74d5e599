//! tokio's names on gort: JoinSet, pin!, join!, try_join!, the builder's
//! tokio methods and the macros' tokio arguments; tokio-util's codecs
//! (`Framed`, `FramedRead`, `FramedWrite` with `LinesCodec`) on gort's TCP
//! streams and their halves.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gort::task::JoinSet;

// A paused clock fires the timers one deadline at a time, so the
// completion order is deterministic.
#[gort::test(flavor = "multi_thread", worker_threads = 2, start_paused = true)]
async fn join_set_returns_outputs_in_completion_order() {
    let mut set = JoinSet::new();
    // Later-spawned tasks finish first.
    for i in 0..5u64 {
        set.spawn(async move {
            gort::time::sleep(Duration::from_millis(50 - 10 * i)).await;
            i
        });
    }
    assert_eq!(set.len(), 5);
    let mut order = Vec::new();
    while let Some(r) = set.join_next().await {
        order.push(r.unwrap());
    }
    assert_eq!(order, [4, 3, 2, 1, 0]);
    assert!(set.is_empty());
    assert!(set.join_next().await.is_none());
}

#[gort::test(start_paused = true)]
async fn join_set_abort_and_drop_cancel_tasks() {
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let mut set = JoinSet::new();
    for _ in 0..10 {
        let c = Count(dropped.clone());
        set.spawn(async move {
            let _c = c;
            gort::time::sleep(Duration::from_secs(3600)).await;
        });
    }
    let abort = set.spawn(async { std::future::pending::<()>().await });
    abort.abort();
    let first = set.join_next().await.unwrap();
    assert!(first.unwrap_err().is_cancelled());
    set.shutdown().await;
    assert_eq!(dropped.load(SeqCst), 10);
    assert!(set.is_empty());
}

#[gort::test]
async fn join_set_join_all_and_try_join_next() {
    let mut set = JoinSet::new();
    for i in 0..100u32 {
        set.spawn(async move { i });
    }
    let mut all = set.join_all().await;
    all.sort();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
    let mut set: JoinSet<u8> = JoinSet::new();
    assert!(set.try_join_next().is_none());
}

#[gort::test]
async fn join_runs_futures_concurrently_and_returns_every_output() {
    let (tx, rx) = gort::sync::chan::<u32>(0);
    // The receiver and the sender must run concurrently in one task.
    let (got, sent) = gort::join!(rx.recv(), async {
        tx.send(5).await.unwrap();
        "sent"
    });
    assert_eq!((got, sent), (Some(5), "sent"));
    let (a, b, c) = gort::join!(async { 1 }, async { 2u8 }, async { "three" });
    assert_eq!((a, b, c), (1, 2, "three"));
}

/// tokio's `biased;` in `join!` / `try_join!`: the futures are polled in
/// the order written on every poll (gort's join always does that).
#[gort::test]
async fn join_and_try_join_accept_biased_and_poll_in_source_order() {
    use std::cell::RefCell;
    let order = RefCell::new(Vec::new());
    let step = |name: &'static str| {
        let order = &order;
        async move {
            for round in 0..3 {
                order.borrow_mut().push((round, name));
                gort::task::yield_now().await;
            }
            name
        }
    };
    let (a, b, c) = gort::join!(biased; step("a"), step("b"), step("c"));
    assert_eq!((a, b, c), ("a", "b", "c"));
    let expected: Vec<_> = (0..3)
        .flat_map(|r| [(r, "a"), (r, "b"), (r, "c")])
        .collect();
    assert_eq!(*order.borrow(), expected);
    let r: Result<(u8, u8), &str> = gort::try_join!(biased; async { Ok(1) }, async { Ok(2) },);
    assert_eq!(r, Ok((1, 2)));
}

#[gort::test(start_paused = true)]
async fn try_join_returns_the_first_error_without_waiting_for_the_rest() {
    let start = gort::time::Instant::now();
    let r: Result<((), ()), &str> = gort::try_join!(
        async {
            gort::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        },
        async {
            gort::time::sleep(Duration::from_secs(1)).await;
            Err("failed")
        }
    );
    assert_eq!(r, Err("failed"));
    assert_eq!(gort::time::Instant::now() - start, Duration::from_secs(1));
}

#[gort::test]
async fn pin_lets_a_future_be_polled_by_reference_in_a_select_loop() {
    let sleep = gort::time::sleep(Duration::from_millis(1));
    gort::pin!(sleep);
    (&mut sleep).await;
    assert!(sleep.is_elapsed());
}

#[test]
fn tokio_builder_names_build_runtimes() {
    let rt = gort::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .thread_name("my-worker")
        .max_blocking_threads(4)
        .build()
        .unwrap();
    assert_eq!(rt.handle().gomaxprocs(), 3);
    let name = rt.block_on(async {
        gort::spawn(async { std::thread::current().name().map(String::from) })
            .await
            .unwrap()
    });
    assert_eq!(name.as_deref(), Some("my-worker"));
    let rt = gort::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(rt.handle().gomaxprocs(), 1);
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// The runtime surface of issue 12, written as tokio code with the paths
/// changed: every name resolves and does what tokio's does.
#[test]
fn tokio_runtime_and_task_surface_ports_by_changing_the_path() {
    use gort::runtime::{Builder, Handle, Runtime};
    use gort::task::{self, AbortHandle, JoinError, JoinHandle, JoinSet};

    let rt: Runtime = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("surface")
        .max_blocking_threads(2)
        .build()
        .unwrap();
    assert!(Handle::try_current().is_err());
    let out = rt.block_on(async {
        let h = Handle::current();
        assert!(Handle::try_current().is_ok());
        let a: JoinHandle<u32> = h.spawn(async { 1 });
        let b: JoinHandle<u32> = task::spawn(async { 2 });
        let c = task::spawn_blocking(|| 3u32);
        let d = h.spawn_blocking(|| 4u32);
        let e = task::spawn(async { task::block_in_place(|| 5u32) });
        task::yield_now().await;
        let stuck = task::spawn(std::future::pending::<()>());
        let abort: AbortHandle = stuck.abort_handle();
        abort.abort();
        let err: JoinError = stuck.await.unwrap_err();
        assert!(err.is_cancelled());
        let mut set = JoinSet::new();
        set.spawn(async { 6u32 });
        let six = set.join_next().await.unwrap().unwrap();
        a.await.unwrap()
            + b.await.unwrap()
            + c.await.unwrap()
            + d.await.unwrap()
            + e.await.unwrap()
            + six
    });
    assert_eq!(out, 21);
    assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
    let h = rt.handle().clone();
    let from_outside =
        std::thread::spawn(move || h.block_on(async { task::spawn(async { 8 }).await.unwrap() }))
            .join()
            .unwrap();
    assert_eq!(from_outside, 8);
    rt.shutdown_timeout(Duration::from_secs(5));
}

/// A line server on tokio-util's `Framed<TcpStream, LinesCodec>`: every
/// line comes back upper-cased, until the client closes.
async fn upper_case_line_server(listener: gort::net::TcpListener) -> usize {
    use futures_util::{SinkExt, StreamExt};
    use tokio_util::codec::{Framed, LinesCodec};

    let (stream, _) = listener.accept().await.unwrap();
    let mut lines = Framed::new(stream, LinesCodec::new());
    let mut served = 0;
    while let Some(line) = lines.next().await {
        lines.send(line.unwrap().to_uppercase()).await.unwrap();
        served += 1;
    }
    served
}

#[gort::test(procs = 2)]
async fn tokio_util_framed_lines_codec_round_trips_on_a_gort_tcp_stream() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_util::codec::{Framed, LinesCodec};

    const N: usize = 200;
    let listener = gort::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = gort::spawn(upper_case_line_server(listener));
    let stream = gort::net::TcpStream::connect(addr).await.unwrap();
    let mut client = Framed::new(stream, LinesCodec::new());
    for i in 0..N {
        client.send(format!("line {i} of gort")).await.unwrap();
        let back = client.next().await.unwrap().unwrap();
        assert_eq!(back, format!("LINE {i} OF GORT"));
    }
    // Every reply was exactly one line: nothing is left over in the buffer.
    let parts = client.into_parts();
    assert!(parts.read_buf.is_empty());
    drop(parts.io);
    assert_eq!(server.await.unwrap(), N);
}

#[gort::test(procs = 2)]
async fn tokio_util_framed_read_and_write_work_on_split_halves() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec};

    const N: usize = 100;
    let listener = gort::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = gort::spawn(upper_case_line_server(listener));
    let stream = gort::net::TcpStream::connect(addr).await.unwrap();
    let (r, w) = gort::io::split(stream);
    let mut sink = FramedWrite::new(w, LinesCodec::new());
    let mut source = FramedRead::new(r, LinesCodec::new());
    // All lines go out in one burst from one task while another reads them
    // back: the halves are used concurrently.
    let writer = gort::spawn(async move {
        for i in 0..N {
            sink.feed(format!("split {i}")).await.unwrap();
        }
        SinkExt::<String>::flush(&mut sink).await.unwrap();
        sink
    });
    let mut got = Vec::new();
    while got.len() < N {
        got.push(source.next().await.unwrap().unwrap());
    }
    let want: Vec<String> = (0..N).map(|i| format!("SPLIT {i}")).collect();
    assert_eq!(got, want);
    let sink = writer.await.unwrap();
    // Reunite and close: the server sees EOF and reports every line served.
    let stream = source.into_inner().unsplit(sink.into_inner());
    drop(stream);
    assert_eq!(server.await.unwrap(), N);
}

/// The owned halves of a gort TcpStream (`into_split`) with the codec.
#[gort::test(procs = 2)]
async fn tokio_util_framed_read_and_write_work_on_owned_halves() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec};

    let listener = gort::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = gort::spawn(upper_case_line_server(listener));
    let stream = gort::net::TcpStream::connect(addr).await.unwrap();
    let (r, w) = stream.into_split();
    let mut sink = FramedWrite::new(w, LinesCodec::new());
    let mut source = FramedRead::new(r, LinesCodec::new());
    for word in ["go", "gort", "tokio"] {
        sink.send(word).await.unwrap();
        assert_eq!(source.next().await.unwrap().unwrap(), word.to_uppercase());
    }
    drop(sink);
    assert!(source.next().await.is_none());
    assert_eq!(server.await.unwrap(), 3);
}

// tokio's select! forms on the runtime: a JoinHandle by `&mut`, a pinned
// sleep by `&mut`, an `if` guard, a refutable pattern disabling a closed
// channel's case, and the select used as an expression.
#[gort::test(start_paused = true)]
async fn select_takes_tokio_forms_with_join_handles_and_pinned_sleeps() {
    let (tx, rx) = gort::sync::chan::<u32>(0);
    let mut producer = gort::spawn(async move {
        for i in 0..3 {
            tx.send(i).await.unwrap();
        }
    });
    let sleep = gort::time::sleep(Duration::from_secs(10));
    gort::pin!(sleep);
    let (mut got, mut joined) = (Vec::new(), false);
    loop {
        gort::select! {
            Some(v) = rx.recv() => got.push(v),
            r = &mut producer, if !joined => {
                r.unwrap();
                joined = true;
            }
            _ = &mut sleep => break,
        }
    }
    assert_eq!(got, [0, 1, 2]);
    assert!(joined);
    let v = gort::select! {
        biased;
        r = gort::spawn(async { 7 }) => r.unwrap(),
        _ = gort::time::sleep(Duration::from_secs(3600)) => 0,
    };
    assert_eq!(v, 7);
}
