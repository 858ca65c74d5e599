//! Hello world over HTTP/1.1 and HTTP/2 (prior knowledge), keep-alive, on
//! hyper 1.x running on gort (`gort::compat::hyper`), with no tokio
//! runtime in the build.
//!
//! ```text
//! cargo run --release --example hyper_server              # 127.0.0.1:3000
//! cargo run --release --example hyper_server -- --port 8080
//! curl http://127.0.0.1:3000/            # HTTP/1.1
//! curl --http2-prior-knowledge http://127.0.0.1:3000/
//! ```

use std::convert::Infallible;
use std::io;

use bytes::Bytes;
use gort::compat::hyper::{GortExecutor, GortIo, GortTimer};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

/// HTTP/2 connections start with this preface; anything else is HTTP/1.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

#[gort::main]
async fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = match args.iter().position(|a| a == "--port") {
        Some(i) => args
            .get(i + 1)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "--port takes a number"))?,
        None => 3000,
    };
    let listener = gort::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("hyper on gort: http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of fds and the like: back off, keep serving.
                eprintln!("accept: {e}");
                gort::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        gort::spawn(async move {
            let mut preface = [0u8; 14];
            let h2 = matches!(stream.peek(&mut preface).await, Ok(n) if n == preface.len() && preface == H2_PREFACE);
            let io = GortIo::new(stream);
            let res = if h2 {
                hyper::server::conn::http2::Builder::new(GortExecutor)
                    .timer(GortTimer)
                    .serve_connection(io, service_fn(hello))
                    .await
            } else {
                hyper::server::conn::http1::Builder::new()
                    .timer(GortTimer)
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
