//! The twin of `hyper_server.rs` on tokio (dev-only, for comparison):
//! the same service, HTTP/1.1 with keep-alive and HTTP/2 prior knowledge,
//! on tokio's multi-thread runtime with hyper-util's adapters.
//!
//! ```text
//! cargo run --release --example tokio_hyper_server -- --port 3001
//! ```

use std::convert::Infallible;
use std::io;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

#[tokio::main]
async fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = match args.iter().position(|a| a == "--port") {
        Some(i) => args
            .get(i + 1)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "--port takes a number"))?,
        None => 3001,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("hyper on tokio: http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let mut preface = [0u8; 14];
            let h2 = matches!(stream.peek(&mut preface).await, Ok(n) if n == preface.len() && preface == H2_PREFACE);
            let io = TokioIo::new(stream);
            let res = if h2 {
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .timer(TokioTimer::new())
                    .serve_connection(io, service_fn(hello))
                    .await
            } else {
                hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .keep_alive(true)
                    .serve_connection(io, service_fn(hello))
                    .await
            };
            if let Err(e) = res {
                eprintln!("connection: {e}");
            }
        });
    }
}
