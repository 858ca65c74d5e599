//! tcp_echo: 50 loopback connections each doing 100 round trips of 64
//! bytes against an echo server on gort, then on tokio (2 workers each).
//! The client is the same for both: a gort runtime of its own with 1 P,
//! so the two servers meet the same load.

use std::net::SocketAddr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

mod common;
use common::{gort_rt, tokio_rt};

const CONNS: usize = 50;
const ROUND_TRIPS: usize = 100;
const MSG: usize = 64;

fn gort_server(rt: &gort::runtime::Runtime) -> SocketAddr {
    rt.block_on(async {
        let l = gort::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        gort::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                gort::spawn(async move {
                    let mut buf = [0u8; MSG];
                    while s.read_exact(&mut buf).await.is_ok() {
                        if s.write_all(&buf).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    })
}

fn tokio_server(rt: &tokio::runtime::Runtime) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; MSG];
                    while s.read_exact(&mut buf).await.is_ok() {
                        if s.write_all(&buf).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    })
}

/// The shared client: CONNS connections, ROUND_TRIPS each.
fn run_client(client: &gort::runtime::Runtime, addr: SocketAddr) {
    client.block_on(async move {
        let hs: Vec<_> = (0..CONNS)
            .map(|_| {
                gort::spawn(async move {
                    let mut s = gort::net::TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    let msg = [7u8; MSG];
                    let mut buf = [0u8; MSG];
                    for _ in 0..ROUND_TRIPS {
                        s.write_all(&msg).await.unwrap();
                        s.read_exact(&mut buf).await.unwrap();
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
}

fn tcp_echo(c: &mut Criterion) {
    let client = gort::runtime::Builder::new().procs(1).build().unwrap();
    let mut g = c.benchmark_group("tcp_echo");
    g.throughput(Throughput::Elements((CONNS * ROUND_TRIPS) as u64));
    g.sample_size(20);
    let rt = gort_rt();
    let addr = gort_server(&rt);
    g.bench_function("gort", |b| b.iter(|| run_client(&client, addr)));
    drop(rt);
    let rt = tokio_rt();
    let addr = tokio_server(&rt);
    g.bench_function("tokio", |b| b.iter(|| run_client(&client, addr)));
    g.finish();
}

criterion_group!(net, tcp_echo);
criterion_main!(net);
