//! `TcpListener`: a listening socket on the poller (Go's `net.TCPListener`).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::addr::{each_addr, ToSocketAddrs};
use crate::fd::PollFd;
use crate::poll_desc::Direction;
use crate::tcp::TcpStream;

/// A TCP socket listening for connections.
///
/// `accept` errors are values, never panics. When the process runs out of
/// file descriptors (`EMFILE`, `ENFILE`) or the kernel out of buffers,
/// `accept` returns that error and the listener stays usable: the pending
/// connection waits in the backlog until descriptors are freed. A server
/// should then back off before accepting again rather than retry in a
/// loop — Go's `http.Server` sleeps 5 ms, doubling up to 1 s, and resets
/// after a success; `examples/echo.rs` does the same.
///
/// ```
/// use gort::net::{TcpListener, TcpStream};
///
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let client = gort::spawn(async move { TcpStream::connect(addr).await });
/// let (stream, peer) = listener.accept().await?;
/// let client = client.await.unwrap()?;
/// assert_eq!(peer, client.local_addr()?);
/// # drop(stream);
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct TcpListener {
    io: PollFd<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` and listens (with `SO_REUSEADDR`, as Go and tokio
    /// do, and a backlog of 1024; use [`TcpSocket`](crate::TcpSocket) for
    /// other options). Tries each address `addr` resolves to; fails with
    /// the last error, e.g. `AddrInUse`.
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let taken = l.local_addr()?;
    /// let err = gort::net::TcpListener::bind(taken).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| async move {
            TcpListener::new(mio::net::TcpListener::bind(a)?)
        })
        .await
    }

    pub(crate) fn new(l: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: PollFd::new(l)?,
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// Fails with `EMFILE`/`ENFILE` (raw OS errors) when out of file
    /// descriptors; see the type's docs for the back-off to use.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = l.local_addr()?;
    /// let client = gort::spawn(async move { gort::net::TcpStream::connect(addr).await });
    /// let (stream, peer) = l.accept().await?;
    /// assert_eq!(peer, client.await.unwrap()?.local_addr()?);
    /// assert_eq!(stream.local_addr()?, addr);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, addr) = self.io.async_io(Direction::Read, |l| l.accept()).await?;
        Ok((TcpStream::new(s)?, addr))
    }

    /// The poll form of [`TcpListener::accept`].
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.io
            .poll_io(cx, Direction::Read, |l| l.accept())
            .map(|r| r.and_then(|(s, a)| Ok((TcpStream::new(s)?, a))))
    }

    /// The accepted connections as a [`Stream`] (never ends; errors are
    /// items, and the stream keeps going after one).
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    /// use futures_core::Stream;
    ///
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = l.local_addr()?;
    /// gort::spawn(async move { gort::net::TcpStream::connect(addr).await });
    /// let mut incoming = l.incoming();
    /// let first = poll_fn(|cx| Pin::new(&mut incoming).poll_next(cx)).await;
    /// assert!(first.unwrap().is_ok());
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The local address (with the port the system chose for port 0).
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = l.local_addr()?;
    /// assert!(addr.ip().is_loopback() && addr.port() != 0);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets the IP time-to-live of accepted sockets.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// l.set_ttl(42)?;
    /// assert_eq!(l.ttl()?, 42);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Takes over a listening `std::net::TcpListener`, switching it to
    /// non-blocking mode. Must be called inside a gort runtime.
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = std_listener.local_addr()?;
    /// let l = gort::net::TcpListener::from_std(std_listener)?;
    /// assert_eq!(l.local_addr()?, addr);
    /// let std_again = l.into_std()?;
    /// assert_eq!(std_again.local_addr()?, addr);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::new(mio::net::TcpListener::from_std(listener))
    }

    /// Deregisters the socket and returns it as a
    /// `std::net::TcpListener`, still in non-blocking mode.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        Ok(self.io.into_inner().into())
    }

    /// Sets a deadline for `accept` (Go's `TCPListener.SetDeadline`): an
    /// accept blocked at `deadline`, or started after it, fails with
    /// `TimedOut`. `None` removes it.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// use std::time::Duration;
    ///
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// l.set_deadline(Some(gort::time::Instant::now() + Duration::from_millis(10)))?;
    /// let err = l.accept().await.unwrap_err(); // nobody connects
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_deadline(&self, deadline: Option<gort_time::Instant>) -> io::Result<()> {
        self.io.set_deadline(Direction::Read, deadline)
    }
}

/// The stream of [`TcpListener::incoming`].
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(s, _)| s)))
    }
}

impl fmt::Debug for Incoming<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("listener", self.listener)
            .finish()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for TcpListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
