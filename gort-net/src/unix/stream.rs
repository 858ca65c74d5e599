use gort_time::Instant;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use crate::fd::PollFd;
use crate::io::{impl_async_read, impl_async_write, inherent_read_methods, inherent_write_methods};
use crate::poll_desc::Direction;
use crate::ready::{Interest, Ready};

/// A Unix domain stream socket, with the same API as
/// [`TcpStream`](crate::TcpStream) where it applies.
///
/// ```
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let (mut a, mut b) = gort::net::UnixStream::pair()?;
/// a.write_all(b"ping").await?;
/// a.shutdown().await?;
/// let mut got = Vec::new();
/// gort::io::copy(&mut b, &mut got).await?; // until a's end of stream
/// assert_eq!(got, b"ping");
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct UnixStream {
    io: PollFd<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket file `path`.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("gort-doc-{}-{}", std::process::id(), line!()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = gort::net::UnixListener::bind(&path)?;
    /// let client = gort::net::UnixStream::connect(&path).await?;
    /// let (server, _) = listener.accept().await?;
    /// assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// assert!(server.take_error()?.is_none());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let s = UnixStream::new(mio::net::UnixStream::connect(path)?)?;
        poll_fn(|cx| {
            s.io.poll_io(cx, Direction::Write, |s| match s.take_error()? {
                Some(e) => Err(e),
                None => Ok(()),
            })
        })
        .await?;
        Ok(s)
    }

    /// A connected pair of sockets.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let (mut a, mut b) = gort::net::UnixStream::pair()?;
    /// a.write_all(b"to b").await?;
    /// let mut buf = [0; 4];
    /// b.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"to b");
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::new(a)?, UnixStream::new(b)?))
    }

    pub(crate) fn new(s: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: PollFd::new(s)?,
        })
    }

    /// Takes over a connected `std::os::unix::net::UnixStream`, switching
    /// it to non-blocking mode.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::new(mio::net::UnixStream::from_std(stream))
    }

    /// Deregisters the socket and returns it, still non-blocking.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        Ok(self.io.into_inner().into())
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    inherent_read_methods!(|s| s.io);
    inherent_write_methods!(|s| s.io);

    /// Waits until the socket may be ready for one of `interest`'s directions.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// use gort::io::Interest;
    ///
    /// let (a, b) = gort::net::UnixStream::pair()?;
    /// assert!(a.ready(Interest::WRITABLE).await?.is_writable());
    /// a.try_write(b"x")?;
    /// let mut buf = [0; 1];
    /// let n = loop {
    ///     b.readable().await?;
    ///     match b.try_read(&mut buf) {
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///         r => break r?,
    ///     }
    /// };
    /// assert_eq!(&buf[..n], b"x");
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
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

    /// The poll form of [`UnixStream::readable`].
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Interest::READABLE).map_ok(|_| ())
    }

    /// The poll form of [`UnixStream::writable`].
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Interest::WRITABLE).map_ok(|_| ())
    }

    /// Reads what is available now, without waiting.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read(buf)
    }

    /// Writes what fits now, without waiting.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_write(buf)
    }

    /// Reads what is available now into several buffers, without waiting:
    /// `WouldBlock` if the socket is not known to be readable.
    pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.io.try_read_vectored(bufs)
    }

    /// Writes what fits now from several buffers, without waiting.
    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.io.try_write_vectored(bufs)
    }

    /// Reads what is available now into `buf`'s spare capacity, advancing
    /// it, without waiting (tokio's `try_read_buf`).
    pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.io.try_read_buf(buf)
    }

    /// Sets the read deadline (Go's `SetReadDeadline`); see
    /// [`TcpStream::set_read_deadline`](crate::TcpStream::set_read_deadline).
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let (mut a, _b) = gort::net::UnixStream::pair()?;
    /// a.set_read_deadline(Some(gort::time::Instant::now() + std::time::Duration::from_millis(10)))?;
    /// assert_eq!(a.read(&mut [0; 1]).await.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
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

    /// Shuts down the read, write, or both halves (std's `shutdown`; the
    /// async [`shutdown`](UnixStream::shutdown) is the write half).
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let (a, mut b) = gort::net::UnixStream::pair()?;
    /// a.shutdown_std(std::net::Shutdown::Both)?;
    /// assert_eq!(b.read(&mut [0; 1]).await?, 0);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }
}

impl_async_read!(UnixStream, |s| s.io);
impl_async_write!(UnixStream, |s| s.io);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl std::os::fd::AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl std::os::fd::AsFd for UnixStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl TryFrom<std::os::unix::net::UnixStream> for UnixStream {
    type Error = io::Error;

    /// [`UnixStream::from_std`].
    fn try_from(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        UnixStream::from_std(stream)
    }
}
