//! hyper 1.x server and client on gort (`gort::compat::hyper`), over
//! loopback, HTTP/1.1 with keep-alive and HTTP/2.

use std::convert::Infallible;

use bytes::Bytes;
use gort::compat::hyper::{GortExecutor, GortIo, GortTimer};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};

async fn echo_path(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("hello {}", req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// Serves `conns` connections, each with HTTP/1.1 or HTTP/2 as asked.
async fn serve(listener: gort::net::TcpListener, conns: usize, h2: bool) {
    for _ in 0..conns {
        let (stream, _) = listener.accept().await.unwrap();
        gort::spawn(async move {
            let io = GortIo::new(stream);
            if h2 {
                hyper::server::conn::http2::Builder::new(GortExecutor)
                    .timer(GortTimer)
                    .serve_connection(io, service_fn(echo_path))
                    .await
                    .unwrap();
            } else {
                hyper::server::conn::http1::Builder::new()
                    .timer(GortTimer)
                    .serve_connection(io, service_fn(echo_path))
                    .await
                    .unwrap();
            }
        });
    }
}

fn request(path: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .uri(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

#[gort::test(procs = 2)]
async fn hyper_http1_client_fetches_from_a_hyper_server_over_one_kept_alive_connection() {
    let listener = gort::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = gort::spawn(serve(listener, 1, false));
    let stream = gort::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(GortIo::new(stream))
        .await
        .unwrap();
    let driver = gort::spawn(conn);
    for i in 0..10 {
        // HTTP/1 sends one request at a time: wait for the connection.
        sender.ready().await.unwrap();
        let resp = sender
            .send_request(request(&format!("/n{i}")))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, format!("hello /n{i}").as_bytes());
    }
    drop(sender);
    driver.await.unwrap().unwrap();
    server.await.unwrap();
}

#[gort::test(procs = 2)]
async fn hyper_http2_client_multiplexes_requests_to_a_hyper_server() {
    let listener = gort::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = gort::spawn(serve(listener, 1, true));
    let stream = gort::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::Builder::new(GortExecutor)
        .timer(GortTimer)
        .handshake(GortIo::new(stream))
        .await
        .unwrap();
    let driver = gort::spawn(conn);
    let reqs: Vec<_> = (0..20)
        .map(|i| {
            let mut s = sender.clone();
            gort::spawn(async move {
                let resp = s
                    .send_request(request(&format!("http://localhost/s{i}")))
                    .await
                    .unwrap();
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                (i, body)
            })
        })
        .collect();
    for r in reqs {
        let (i, body) = r.await.unwrap();
        assert_eq!(body, format!("hello /s{i}").as_bytes());
    }
    drop(sender);
    driver.await.unwrap().unwrap();
    server.await.unwrap();
}
