//! A TCP echo server on gort's network poller.
//!
//! ```text
//! cargo run --release --example echo                 # serve on 127.0.0.1:7878 until Ctrl-C
//! cargo run --release --example echo -- --port 9000  # another port
//! cargo run --release --example echo -- --selftest   # serve, run a 3 s load of 50 connections, print round trips/s, exit
//! cargo run --release --example echo_client -- 127.0.0.1:7878 --conns 100 --secs 10
//! ```
//!
//! Each connection is a task copying what it reads back to the writer.
//! The accept loop shows the back-off a server needs when `accept` fails
//! for lack of resources (out of file descriptors, `EMFILE`/`ENFILE`, or
//! buffers): the error is a value, the listener stays usable, and
//! retrying at once would spin. Like Go's `http.Server`, wait 5 ms,
//! doubling up to 1 s while the errors go on, and start again after a
//! success.

#[path = "load/mod.rs"]
mod load;

use std::io;
use std::time::Duration;

use gort::net::{TcpListener, TcpStream};

async fn serve_conn(mut s: TcpStream) -> io::Result<u64> {
    s.set_nodelay(true)?;
    let (mut r, mut w) = s.split();
    gort::io::copy(&mut r, &mut w).await
}

/// Go's `http.Server.Serve` back-off for temporary accept errors.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

async fn serve(listener: TcpListener) -> io::Result<()> {
    let mut backoff = Duration::ZERO;
    loop {
        match listener.accept().await {
            Ok((s, _peer)) => {
                backoff = Duration::ZERO;
                gort::spawn(async move {
                    // A peer that resets is its own business.
                    let _ = serve_conn(s).await;
                });
            }
            Err(e) if is_temporary(&e) => {
                backoff = (backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
                eprintln!("echo: accept: {e}; retrying in {backoff:?}");
                gort::time::sleep(backoff).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Errors after which the listener works again later (Go's `Temporary()`):
/// descriptors or memory ran out, or a connection died in the backlog.
fn is_temporary(e: &io::Error) -> bool {
    // Linux errno values (the example keeps to std; a real server would
    // take them from the libc crate).
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    const ENOBUFS: i32 = 105;
    const ENOMEM: i32 = 12;
    matches!(e.raw_os_error(), Some(EMFILE | ENFILE | ENOBUFS | ENOMEM))
        || matches!(
            e.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::Interrupted
        )
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let selftest = args.iter().any(|a| a == "--selftest");
    let port: u16 = match args.iter().position(|a| a == "--port") {
        Some(i) => args
            .get(i + 1)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "--port takes a number"))?,
        None if selftest => 0,
        None => 7878,
    };
    let rt = gort::runtime::Builder::new().build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        if !selftest {
            println!("echo: listening on {addr} (Ctrl-C to stop)");
            return serve(listener).await;
        }
        gort::spawn(serve(listener));
        println!("echo: listening on {addr}; self-test: 50 connections for 3 s");
        let report = load::run(addr, 50, 3.0, 64).await?;
        println!("echo: {report}");
        Ok(())
    })
}
