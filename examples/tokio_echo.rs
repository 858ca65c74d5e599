//! The same TCP echo server as `echo.rs`, on tokio's multi-threaded
//! runtime, for comparison under `echo_client` (dev-only: tokio is a
//! dev-dependency).
//!
//! ```text
//! cargo run --release --example tokio_echo                 # 127.0.0.1:7879
//! cargo run --release --example echo_client -- 127.0.0.1:7879 --conns 100 --secs 10
//! ```

use std::io;

use tokio::net::{TcpListener, TcpStream};

async fn serve_conn(mut s: TcpStream) -> io::Result<u64> {
    s.set_nodelay(true)?;
    let (mut r, mut w) = s.split();
    tokio::io::copy(&mut r, &mut w).await
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = match args.iter().position(|a| a == "--port") {
        Some(i) => args
            .get(i + 1)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "--port takes a number"))?,
        None => 7879,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!(
            "tokio_echo: listening on {} (Ctrl-C to stop)",
            listener.local_addr()?
        );
        loop {
            match listener.accept().await {
                Ok((s, _)) => {
                    tokio::spawn(async move {
                        let _ = serve_conn(s).await;
                    });
                }
                Err(e) => {
                    eprintln!("tokio_echo: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        }
    })
}
