//! tokio's runtime-free I/O combinators (`io-util`), re-exported as
//! `gort::io`, on gort's sockets: `lines` over a TCP pair, `split` and
//! `BufReader`/`BufWriter` on gort streams, `duplex`, `empty`/`sink`.

mod common;

use gort::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use gort::net::{TcpListener, TcpStream};

/// A connected loopback pair: (client, server).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (c, s)
}

#[test]
fn lines_over_a_tcp_pair_yields_every_line_in_order() {
    const LINES: usize = 5_000;
    let rt = common::runtime(2);
    let got = rt.block_on(async {
        let (mut c, s) = tcp_pair().await;
        let writer = gort::spawn(async move {
            let mut out = String::new();
            for i in 0..LINES {
                out.push_str(&format!("line {i}\n"));
            }
            // No trailing newline on the last line: `lines` still yields it.
            out.push_str("tail");
            AsyncWriteExt::write_all(&mut c, out.as_bytes())
                .await
                .unwrap();
            AsyncWriteExt::shutdown(&mut c).await.unwrap();
        });
        let mut lines = BufReader::new(s).lines();
        let mut got = Vec::new();
        while let Some(l) = lines.next_line().await.unwrap() {
            got.push(l);
        }
        writer.await.unwrap();
        got
    });
    assert_eq!(got.len(), LINES + 1);
    for (i, l) in got[..LINES].iter().enumerate() {
        assert_eq!(l, &format!("line {i}"));
    }
    assert_eq!(got[LINES], "tail");
}

#[test]
fn tokio_split_halves_of_a_gort_stream_work_from_two_tasks() {
    const N: usize = 64 * 1024;
    let rt = common::runtime(2);
    let (echoed, sum) = rt.block_on(async {
        let (c, s) = tcp_pair().await;
        // The server echoes through tokio's split (a lock between halves).
        let server = gort::spawn(async move {
            let (mut r, mut w) = gort::io::split(s);
            gort::io::copy(&mut r, &mut w).await.unwrap()
        });
        let (mut r, mut w) = gort::io::split(c);
        let writer = gort::spawn(async move {
            let mut bw = BufWriter::new(&mut w);
            for i in 0..N {
                bw.write_u8((i % 256) as u8).await.unwrap();
            }
            bw.flush().await.unwrap();
            drop(bw);
            w.shutdown().await.unwrap();
        });
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.unwrap();
        writer.await.unwrap();
        let echoed = server.await.unwrap();
        let sum: u64 = back.iter().map(|&b| b as u64).sum();
        assert_eq!(back.len(), N);
        assert!(back.iter().enumerate().all(|(i, &b)| b == (i % 256) as u8));
        (echoed, sum)
    });
    assert_eq!(echoed, N as u64);
    assert_eq!(sum, (N as u64 / 256) * (255 * 256 / 2));
}

#[test]
fn buf_reader_reads_framed_integers_and_lines_from_a_gort_stream() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let (mut c, s) = tcp_pair().await;
        gort::spawn(async move {
            AsyncWriteExt::write_u32(&mut c, 0xdead_beef).await.unwrap();
            AsyncWriteExt::write_u64_le(&mut c, 42).await.unwrap();
            AsyncWriteExt::write_all(&mut c, b"hello\nworld\n")
                .await
                .unwrap();
        });
        let mut r = BufReader::with_capacity(4, s);
        assert_eq!(r.read_u32().await.unwrap(), 0xdead_beef);
        assert_eq!(r.read_u64_le().await.unwrap(), 42);
        let mut line = String::new();
        assert_eq!(r.read_line(&mut line).await.unwrap(), 6);
        assert_eq!(line, "hello\n");
        let mut until = Vec::new();
        assert_eq!(r.read_until(b'\n', &mut until).await.unwrap(), 6);
        assert_eq!(until, b"world\n");
        // The writer task ended and dropped its stream: EOF.
        assert_eq!(r.read_line(&mut line).await.unwrap(), 0);
    });
}

#[test]
fn duplex_carries_bytes_both_ways_with_backpressure() {
    let rt = common::runtime(2);
    let (n, back) = rt.block_on(async {
        // An 8-byte pipe: 10 000 bytes need many hand-offs.
        let (mut a, mut b) = gort::io::duplex(8);
        let echo = gort::spawn(async move {
            let (mut r, mut w) = gort::io::split(&mut b);
            gort::io::copy(&mut r, &mut w).await.unwrap()
        });
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 199) as u8).collect();
        let (mut ar, mut aw) = gort::io::split(&mut a);
        let mut back = Vec::new();
        let ((), r) = gort_join(
            async {
                aw.write_all(&data).await.unwrap();
                aw.shutdown().await.unwrap();
            },
            async { ar.read_to_end(&mut back).await.unwrap() },
        )
        .await;
        assert_eq!(r, data.len());
        assert_eq!(back, data);
        (echo.await.unwrap(), back)
    });
    assert_eq!(n, 10_000);
    assert_eq!(back.len(), 10_000);
}

#[test]
fn empty_reads_nothing_and_sink_takes_everything() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let mut buf = Vec::new();
        assert_eq!(gort::io::empty().read_to_end(&mut buf).await.unwrap(), 0);
        let mut sink = gort::io::sink();
        sink.write_all(&[7; 1000]).await.unwrap();
        let mut r = gort::io::repeat(b'z').take(5);
        let mut s = String::new();
        r.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "zzzzz");
        let copied = gort::io::copy(&mut gort::io::repeat(1).take(3000), &mut sink)
            .await
            .unwrap();
        assert_eq!(copied, 3000);
    });
}

/// Runs two futures concurrently on one task (a minimal `join!`).
async fn gort_join<A, B>(a: A, b: B) -> (A::Output, B::Output)
where
    A: std::future::Future,
    B: std::future::Future,
{
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    (ra.unwrap(), rb.unwrap())
}
