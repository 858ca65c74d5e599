//! Unix domain sockets: stream and datagram round trips.

#![cfg(unix)]

mod common;

use gort::net::{UnixDatagram, UnixListener, UnixStream};

fn temp_path(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("gort-net-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn unix_stream_round_trip_through_a_listener() {
    let rt = common::runtime(2);
    let path = temp_path("stream.sock");
    rt.block_on(async {
        let l = UnixListener::bind(&path).unwrap();
        let server = gort::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await.unwrap();
            }
        });
        let mut c = UnixStream::connect(&path).await.unwrap();
        for i in 0..100u32 {
            let msg = [i.to_le_bytes(), (i * 7).to_le_bytes()].concat();
            c.write_all(&msg).await.unwrap();
            let mut got = [0u8; 8];
            c.read_exact(&mut got).await.unwrap();
            assert_eq!(&got[..], &msg[..]);
        }
        c.shutdown().await.unwrap();
        assert_eq!(c.read(&mut [0u8; 1]).await.unwrap(), 0);
        server.await.unwrap();
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unix_datagram_round_trip_between_bound_sockets() {
    let rt = common::runtime(2);
    let (pa, pb) = (temp_path("a.dgram"), temp_path("b.dgram"));
    rt.block_on(async {
        let a = UnixDatagram::bind(&pa).unwrap();
        let b = UnixDatagram::bind(&pb).unwrap();
        for i in 0..50u8 {
            a.send_to(&[i; 3], &pb).await.unwrap();
            let mut buf = [0u8; 8];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &[i; 3]);
            assert_eq!(from.as_pathname(), Some(pa.as_path()));
            b.send_to(&buf[..n], &pa).await.unwrap();
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &[i; 3]);
        }
        let (x, y) = UnixDatagram::pair().unwrap();
        x.send(b"pair").await.unwrap();
        let mut buf = [0u8; 8];
        let n = y.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pair");
    });
    std::fs::remove_file(&pa).unwrap();
    std::fs::remove_file(&pb).unwrap();
}
