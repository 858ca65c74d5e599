use gort_time::Instant;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::fd::PollFd;
use crate::poll_desc::Direction;
use crate::ready::{Interest, Ready};

/// A Unix domain datagram socket.
///
/// ```
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let (a, b) = gort::net::UnixDatagram::pair()?;
/// a.send(b"one").await?;
/// a.send(b"two").await?;
/// let mut buf = [0; 8];
/// let n = b.recv(&mut buf).await?;
/// assert_eq!(&buf[..n], b"one"); // datagram boundaries are kept
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct UnixDatagram {
    io: PollFd<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds to the socket file `path`. Must be called inside a gort runtime.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("gort-doc-{}-{}", std::process::id(), line!()));
    /// let _ = std::fs::remove_file(&path);
    /// let socket = gort::net::UnixDatagram::bind(&path)?;
    /// let sender = gort::net::UnixDatagram::unbound()?;
    /// sender.send_to(b"hi", &path).await?;
    /// let mut buf = [0; 2];
    /// let (n, _from) = socket.recv_from(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"hi");
    /// std::fs::remove_file(&path)?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::new(mio::net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no address (it can send, and receive replies
    /// only on a connected pair).
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::new(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair of sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::new(a)?, UnixDatagram::new(b)?))
    }

    fn new(s: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: PollFd::new(s)?,
        })
    }

    /// Takes over a `std::os::unix::net::UnixDatagram`, switching it to
    /// non-blocking mode.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::new(mio::net::UnixDatagram::from_std(socket))
    }

    /// Deregisters the socket and returns it, still non-blocking.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        Ok(self.io.into_inner().into())
    }

    /// Sets the default destination of `send` and the only source `recv`
    /// accepts.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("gort-doc-{}-{}", std::process::id(), line!()));
    /// let _ = std::fs::remove_file(&path);
    /// let server = gort::net::UnixDatagram::bind(&path)?;
    /// let client = gort::net::UnixDatagram::unbound()?;
    /// client.connect(&path)?;
    /// assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// client.send(b"ping").await?;
    /// let mut buf = [0; 4];
    /// assert_eq!(server.recv(&mut buf).await?, 4);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.io.get_ref().connect(path)
    }

    /// Sends one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Write, |s| s.send(buf)).await
    }

    /// Receives one datagram.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Read, |s| s.recv(buf)).await
    }

    /// Sends one datagram to the socket file `target`.
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], target: P) -> io::Result<usize> {
        let target = target.as_ref();
        self.io
            .async_io(Direction::Write, |s| s.send_to(buf, target))
            .await
    }

    /// Receives one datagram and its sender's address.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, |s| s.recv_from(buf))
            .await
    }

    /// Sends without waiting.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let (a, b) = gort::net::UnixDatagram::pair()?;
    /// a.writable().await?;
    /// a.try_send(b"now")?;
    /// let mut buf = [0; 8];
    /// let n = loop {
    ///     b.readable().await?;
    ///     match b.try_recv(&mut buf) {
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///         r => break r?,
    ///     }
    /// };
    /// assert_eq!(&buf[..n], b"now");
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Write, |s| s.send(buf))
    }

    /// Receives without waiting.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, |s| s.recv(buf))
    }

    /// Waits until the socket may be ready for one of `interest`'s directions.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.ready(interest).await
    }

    /// Waits until the socket may be readable.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(|_| ())
    }

    /// Waits until the socket may be writable.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(|_| ())
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Shuts down the read, write, or both directions.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Sets the read deadline (Go's `SetReadDeadline`).
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let (a, _b) = gort::net::UnixDatagram::pair()?;
    /// a.set_read_deadline(Some(gort::time::Instant::now() + std::time::Duration::from_millis(10)))?;
    /// assert_eq!(a.recv(&mut [0; 1]).await.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_read_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.io.set_deadline(Direction::Read, deadline)
    }

    /// Sets the write deadline (Go's `SetWriteDeadline`).
    pub fn set_write_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.io.set_deadline(Direction::Write, deadline)
    }

    /// Sets both deadlines (Go's `SetDeadline`).
    pub fn set_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.set_read_deadline(deadline)?;
        self.set_write_deadline(deadline)
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl std::os::fd::AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl std::os::fd::AsFd for UnixDatagram {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
