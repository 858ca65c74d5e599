//! UDP over loopback.

mod common;

use std::sync::Arc;

use gort::net::UdpSocket;

#[test]
fn udp_round_trip_keeps_datagrams_and_their_senders() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let server = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = server.local_addr().unwrap();
        // An echo server: each datagram goes back to its sender.
        let echo = gort::spawn({
            let server = server.clone();
            async move {
                let mut buf = [0u8; 64];
                for _ in 0..200 {
                    let (n, from) = server.recv_from(&mut buf).await.unwrap();
                    server.send_to(&buf[..n], from).await.unwrap();
                }
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(addr).await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr);
        let mut buf = [0u8; 64];
        for i in 0..200u32 {
            let msg = i.to_le_bytes();
            client.send(&msg).await.unwrap();
            // Loopback does not drop or reorder a ping-pong's datagrams.
            let n = client.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &msg);
        }
        echo.await.unwrap();
    });
}
