//! The TCP echo server written in blocking style: one goroutine per
//! connection, started with `gort::go`, each a plain loop of read and
//! write calls that park only their own goroutine (`gort::coro::wait`).
//!
//! ```text
//! cargo run --release --example coro_echo                 # serve on 127.0.0.1:7879 until Ctrl-C
//! cargo run --release --example coro_echo -- --port 9000  # another port
//! cargo run --release --example coro_echo -- --selftest   # serve, run a 3 s load of 50 connections, print round trips/s, exit
//! cargo run --release --example echo_client -- 127.0.0.1:7879 --conns 100 --secs 10
//! ```
//!
//! Compare `echo.rs`, the same server as async tasks: the code here reads
//! like Go's `for { n, err := c.Read(buf); ...; c.Write(buf[:n]) }`.
//!
//! Starting a goroutine is `unsafe` (it may resume on another OS thread
//! after every `wait`; gort-core's `coro` docs have the contract): each
//! `gort::go` below says why its goroutine keeps the contract.

#[path = "load/mod.rs"]
mod load;

use std::io;
use std::time::Duration;

use gort::coro::wait;
use gort::net::{TcpListener, TcpStream};

/// Go's `conn.Read`: blocks this goroutine until some bytes arrive.
fn read(s: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match s.try_read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait(s.readable())?,
            r => return r,
        }
    }
}

/// Go's `conn.Write`: blocks this goroutine until all of `buf` is written.
fn write_all(s: &TcpStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match s.try_write(buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait(s.writable())?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Go's `time.Sleep` for this goroutine. Never inlined: `sleep` reads the
/// runtime's clock through a thread-local when it is made, and that read
/// must not share a frame with the switches of the caller's loop.
#[inline(never)]
fn sleep(d: Duration) {
    wait(gort::time::sleep(d));
}

fn serve_conn(s: TcpStream) -> io::Result<u64> {
    s.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = read(&s, &mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        write_all(&s, &buf[..n])?;
        total += n as u64;
    }
}

/// The accept loop, a goroutine too. Temporary accept errors (out of
/// descriptors, a connection reset in the backlog) back off as in
/// `echo.rs` (Go's `http.Server.Serve`): 5 ms doubling up to 1 s.
fn serve(listener: TcpListener) -> io::Result<()> {
    let mut backoff = Duration::ZERO;
    loop {
        match wait(listener.accept()) {
            Ok((s, _peer)) => {
                backoff = Duration::ZERO;
                // SAFETY: across its waits the connection's goroutine holds
                // its socket and buffer (`Send`) and touches no thread-local
                // itself.
                unsafe {
                    gort::go(move || {
                        // A peer that resets is its own business.
                        let _ = serve_conn(s);
                    })
                };
            }
            Err(e) if is_temporary(&e) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                eprintln!("coro_echo: accept: {e}; retrying in {backoff:?}");
                sleep(backoff);
            }
            Err(e) => return Err(e),
        }
    }
}

fn is_temporary(e: &io::Error) -> bool {
    // Linux errno values: EMFILE, ENFILE, ENOBUFS, ENOMEM.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
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
        None => 7879,
    };
    let rt = gort::runtime::Builder::new().build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        if !selftest {
            println!("coro_echo: listening on {addr} (Ctrl-C to stop)");
            // SAFETY: across its waits the accept loop holds the listener, a
            // `Duration` and the accepted socket (all `Send`); its
            // thread-local reads (`go`, `sleep`) run in frames of their own.
            return unsafe { gort::go(move || serve(listener)) }.await?;
        }
        // SAFETY: as above.
        unsafe { gort::go(move || serve(listener)) };
        println!("coro_echo: listening on {addr}; self-test: 50 connections for 3 s");
        let report = load::run(addr, 50, 3.0, 64).await?;
        println!("coro_echo: {report}");
        Ok(())
    })
}
