//! Unix domain sockets: stream listener, stream, datagram (Go's
//! `net.UnixListener`, `net.UnixConn`; tokio's names).

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use std::os::unix::net::SocketAddr;
pub use stream::UnixStream;
