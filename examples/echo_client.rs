//! A bounded load client for an echo server: `--conns` connections each
//! send a `--size`-byte message and read its echo back, one at a time,
//! for `--secs` seconds, then it prints the round trips per second.
//!
//! ```text
//! cargo run --release --example echo_client -- 127.0.0.1:7878 --conns 100 --secs 10
//! ```
//!
//! Run it against `examples/echo.rs` (gort) and `examples/tokio_echo.rs`
//! (tokio) to compare the servers under the same client.

#[path = "load/mod.rs"]
mod load;

use std::io;
use std::net::SocketAddr;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> io::Result<T> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args.get(i + 1).and_then(|v| v.parse().ok()).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{name} takes a value"))
        }),
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr: SocketAddr = match args.first().filter(|a| !a.starts_with("--")) {
        Some(a) => a
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{a}: {e}")))?,
        None => "127.0.0.1:7878".parse().expect("literal address"),
    };
    let conns: usize = arg(&args, "--conns", 100)?;
    let secs: f64 = arg(&args, "--secs", 10.0)?;
    let size: usize = arg(&args, "--size", 64)?;
    let rt = gort::runtime::Builder::new().build()?;
    let report = rt.block_on(load::run(addr, conns, secs, size))?;
    println!("echo_client {addr}: {report}");
    Ok(())
}
