//! The bounded echo load shared by `echo_client` and `echo --selftest`:
//! `conns` connections, each sending a `size`-byte message and reading the
//! echo back, one at a time, until `secs` have passed. Every echo is
//! checked byte for byte.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gort::net::TcpStream;

/// What a load run did.
pub struct Report {
    pub conns: usize,
    pub round_trips: u64,
    pub elapsed: Duration,
}

impl Report {
    pub fn per_sec(&self) -> f64 {
        self.round_trips as f64 / self.elapsed.as_secs_f64()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "conns={} secs={:.1} round_trips={} round_trips_per_sec={:.0}",
            self.conns,
            self.elapsed.as_secs_f64(),
            self.round_trips,
            self.per_sec()
        )
    }
}

/// Runs the load against `addr`; call it inside a gort runtime.
pub async fn run(
    addr: SocketAddr,
    conns: usize,
    secs: f64,
    size: usize,
) -> std::io::Result<Report> {
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..conns)
        .map(|c| {
            gort::spawn(async move {
                let mut s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                let msg: Vec<u8> = (0..size).map(|i| (i + c) as u8).collect();
                let mut back = vec![0u8; size];
                let mut n = 0u64;
                while Instant::now() < end {
                    s.write_all(&msg).await?;
                    s.read_exact(&mut back).await?;
                    if back != msg {
                        return Err(std::io::Error::other("echo differs from the message"));
                    }
                    n += 1;
                }
                Ok::<_, std::io::Error>(n)
            })
        })
        .collect();
    let mut round_trips = 0;
    for t in tasks {
        round_trips += t
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
    }
    Ok(Report {
        conns,
        round_trips,
        elapsed: start.elapsed(),
    })
}
