//! gort-net: the network poller and sockets (re-exported as `gort::net`
//! and `gort::io`).
//!
//! Go's runtime/netpoll.go, netpoll_epoll.go and
//! internal/poll/fd_poll_runtime.go, reinterpreted for futures on mio:
//!
//! | Go | gort-net |
//! |---|---|
//! | the process's epoll instance, `netpoll(delay)`, `netpollBreak` | [`Poller`], one per runtime, installed as its `Driver`: `park`, `unpark` (`netpoll.rs`) |
//! | `pollDesc`: `rg`/`wg`, `rd`/`wd`, `fdseq` | `PollDesc`: readiness word with a tick, waiter lists, deadlines (`poll_desc.rs`) |
//! | `internal/poll.FD`: syscall, `EAGAIN` → `waitRead` | `PollFd`: `poll_io` (`fd.rs`) |
//! | `netpolldeadlineimpl`, the `pd.rt`/`pd.wt` timers | `deadline.rs`, on gort-time's `after_func` |
//! | `os/signal`: `sigsend`, `signal_recv`, `Notify`'s fan-out | [`signal`] (Unix): a handler writing to a socket pair on the poller |
//! | `net.TCPListener`, `net.TCPConn`, `net.UDPConn`, `net.UnixConn` | [`TcpListener`], [`TcpStream`], [`UdpSocket`], [`UnixListener`], [`UnixStream`], [`UnixDatagram`] |
//!
//! The API is tokio's (`tokio::net`), so a tokio program ports by changing
//! its imports, plus Go's deadlines (`set_read_deadline`, …). Streams
//! implement tokio's and futures-io's `AsyncRead`/`AsyncWrite` ([`io`]).
//!
//! How a read works: the socket was registered with the poller once, edge
//! triggered, when it was created. `read` charges the task's cooperative
//! budget and, if the socket may be readable, makes the `read(2)` call; on
//! `EAGAIN` it clears the readiness and parks the task as the socket's read
//! waiter ("IO wait" in task dumps). When a P runs dry, its M polls the
//! poller without blocking; when the whole runtime is idle, one M blocks in
//! it. The event sets the readiness and wakes the waiter, which retries.
//!
//! ```
//! use gort::net::{TcpListener, TcpStream};
//!
//! # gort::runtime::Builder::new().build()?.block_on(async {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! gort::spawn(async move {
//!     loop {
//!         let (mut s, _) = listener.accept().await?;
//!         gort::spawn(async move {
//!             let (mut r, mut w) = s.split();
//!             gort::io::copy(&mut r, &mut w).await
//!         });
//!     }
//!     #[allow(unreachable_code)]
//!     Ok::<_, std::io::Error>(())
//! });
//! let mut c = TcpStream::connect(addr).await?;
//! c.write_all(b"echo").await?;
//! let mut buf = [0; 4];
//! c.read_exact(&mut buf).await?;
//! assert_eq!(&buf, b"echo");
//! # Ok::<_, std::io::Error>(()) })?;
//! # Ok::<_, std::io::Error>(())
//! ```

#![warn(missing_docs)]

mod addr;
mod deadline;
mod fd;
pub mod io;
mod loom;
mod netpoll;
mod poll_desc;
mod ready;
#[cfg(unix)]
pub mod signal;
pub mod tcp;
mod udp;
#[cfg(unix)]
pub mod unix;

pub use addr::ToSocketAddrs;
pub use netpoll::Poller;
pub use ready::{Interest, Ready};
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixDatagram, UnixListener, UnixStream};
