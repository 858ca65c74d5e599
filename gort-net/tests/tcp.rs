//! TCP over loopback: many connections, byte order, half-close, and the
//! errors a network service meets (reset, broken pipe, refused, in use).

mod common;

use std::io::ErrorKind;

use gort::net::{TcpListener, TcpStream};

/// An echo server: every connection gets its bytes back, until EOF.
async fn echo_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    gort::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            gort::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    let n = s.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    s.write_all(&buf[..n]).await.unwrap();
                }
            });
        }
    });
    addr
}

#[test]
fn thousand_connections_each_echo_a_hundred_messages_in_order() {
    const CONNS: usize = 1000;
    const MSGS: usize = 100;
    common::raise_fd_limit();
    let rt = common::runtime(2);
    let total = rt.block_on(async {
        let addr = echo_server().await;
        let clients: Vec<_> = (0..CONNS)
            .map(|c| {
                gort::spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    let mut got = [0u8; 16];
                    for m in 0..MSGS {
                        // Each message names its connection and sequence
                        // number, so a byte out of place or from another
                        // connection is caught.
                        let mut msg = [0u8; 16];
                        msg[..8].copy_from_slice(&(c as u64).to_le_bytes());
                        msg[8..].copy_from_slice(&(m as u64).to_le_bytes());
                        s.write_all(&msg).await.unwrap();
                        s.read_exact(&mut got).await.unwrap();
                        assert_eq!(got, msg, "connection {c} message {m}");
                    }
                    s.shutdown().await.unwrap();
                    assert_eq!(s.read(&mut got).await.unwrap(), 0, "EOF after the echoes");
                    MSGS
                })
            })
            .collect();
        let mut total = 0;
        for c in clients {
            total += c.await.unwrap();
        }
        total
    });
    assert_eq!(total, CONNS * MSGS);
}

#[test]
fn a_large_transfer_arrives_whole_and_in_order() {
    // 8 MiB each way through one connection: many short reads and writes,
    // full send buffers, readiness cleared and re-armed many times.
    const LEN: usize = 8 << 20;
    let rt = common::runtime(2);
    rt.block_on(async {
        let addr = echo_server().await;
        let s = TcpStream::connect(addr).await.unwrap();
        let (mut r, mut w) = s.into_split();
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        let expect = data.clone();
        let writer = gort::spawn(async move {
            w.write_all(&data).await.unwrap();
            w.shutdown().await.unwrap();
        });
        let mut got = Vec::with_capacity(LEN);
        gort::io::copy(&mut r, &mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got.len(), LEN);
        assert!(got == expect, "bytes differ");
    });
}

#[test]
fn shutdown_write_is_seen_as_eof_by_the_peer_which_can_still_answer() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = gort::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut all = Vec::new();
            let mut buf = [0u8; 64];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                all.extend_from_slice(&buf[..n]);
            }
            // Half-closed: the server still writes its answer.
            s.write_all(b"got it").await.unwrap();
            all
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"request").await.unwrap();
        c.shutdown().await.unwrap();
        let mut answer = Vec::new();
        gort::io::copy(&mut c, &mut answer).await.unwrap();
        assert_eq!(server.await.unwrap(), b"request");
        assert_eq!(answer, b"got it");
    });
}

#[test]
fn a_reset_connection_is_an_error_on_read_and_write_not_a_panic() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        // SO_LINGER 0: closing sends RST instead of FIN.
        s.set_linger(Some(std::time::Duration::ZERO)).unwrap();
        drop(s);
        let mut buf = [0u8; 8];
        let err = c.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        // Writing to a reset connection fails too (EPIPE once the reset has
        // been seen), possibly after one write the kernel still accepts.
        let mut failed = None;
        for _ in 0..3 {
            if let Err(e) = c.write_all(b"more").await {
                failed = Some(e);
                break;
            }
        }
        let err = failed.expect("writes to a reset connection fail");
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "{err}"
        );
    });
}

#[test]
fn binding_a_taken_address_is_addr_in_use() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = TcpListener::bind(l.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
    });
}

#[test]
fn connecting_to_a_closed_port_is_connection_refused() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn tcp_socket_builder_binds_with_reuseport_twice_and_connects() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let a = gort::net::TcpSocket::new_v4().unwrap();
        a.set_reuseport(true).unwrap();
        a.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = a.local_addr().unwrap();
        let la = a.listen(16).unwrap();
        // SO_REUSEPORT: a second listener on the same port.
        let b = gort::net::TcpSocket::new_v4().unwrap();
        b.set_reuseport(true).unwrap();
        assert!(b.reuseport().unwrap());
        b.bind(addr).unwrap();
        let lb = b.listen(16).unwrap();
        assert_eq!(la.local_addr().unwrap(), lb.local_addr().unwrap());
        let c = gort::net::TcpSocket::new_v4()
            .unwrap()
            .connect(addr)
            .await
            .unwrap();
        assert_eq!(c.peer_addr().unwrap(), addr);
    });
}

#[test]
fn from_std_and_into_std_round_trip_a_connection() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let l = TcpListener::from_std(l).unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let mut std_s = s.into_std().unwrap();
        std_s.set_nonblocking(false).unwrap();
        c.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        gort::block_in_place(|| std::io::Read::read_exact(&mut std_s, &mut b)).unwrap();
        assert_eq!(&b, b"x");
        let mut s = TcpStream::from_std(std_s).unwrap();
        s.write_all(b"y").await.unwrap();
        c.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"y");
    });
}

#[test]
fn tokio_and_futures_io_traits_drive_the_same_stream() {
    use std::future::poll_fn;
    use std::pin::Pin;

    let rt = common::runtime(2);
    rt.block_on(async {
        let addr = echo_server().await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        // tokio's traits.
        let n = poll_fn(|cx| gort::io::AsyncWrite::poll_write(Pin::new(&mut s), cx, b"tok"))
            .await
            .unwrap();
        assert_eq!(n, 3);
        let mut storage = [0u8; 3];
        let mut filled = 0;
        while filled < 3 {
            let mut rb = gort::io::ReadBuf::new(&mut storage[filled..]);
            poll_fn(|cx| gort::io::AsyncRead::poll_read(Pin::new(&mut s), cx, &mut rb))
                .await
                .unwrap();
            filled += rb.filled().len();
        }
        assert_eq!(&storage, b"tok");
        // futures-io's traits.
        let n =
            poll_fn(|cx| gort::io::futures::AsyncWrite::poll_write(Pin::new(&mut s), cx, b"fut"))
                .await
                .unwrap();
        assert_eq!(n, 3);
        let mut got = [0u8; 3];
        let mut filled = 0;
        while filled < 3 {
            filled += poll_fn(|cx| {
                gort::io::futures::AsyncRead::poll_read(Pin::new(&mut s), cx, &mut got[filled..])
            })
            .await
            .unwrap();
        }
        assert_eq!(&got, b"fut");
    });
}

// tokio's rule, which ported code relies on: shutting down the write side
// of a connection the peer has already reset succeeds (the kernel may
// report NotConnected; that race is not the caller's error).
#[test]
fn shutdown_after_the_peer_reset_the_connection_succeeds() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        s.set_zero_linger().unwrap();
        drop(s); // a reset
        let err = c.read(&mut [0; 1]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        c.shutdown().await.unwrap();
    });
}
