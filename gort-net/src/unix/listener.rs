use std::fmt;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use crate::fd::PollFd;
use crate::poll_desc::Direction;
use crate::unix::UnixStream;

/// A Unix domain socket listening for stream connections.
///
/// As with [`TcpListener`](crate::TcpListener), `accept` returns
/// descriptor exhaustion as an error and the listener keeps working.
///
/// ```
/// use gort::net::{UnixListener, UnixStream};
///
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let dir = std::env::temp_dir().join(format!("gort-doc-ul-{}", std::process::id()));
/// let _ = std::fs::remove_file(&dir);
/// let listener = UnixListener::bind(&dir)?;
/// let client = gort::spawn({
///     let dir = dir.clone();
///     async move { UnixStream::connect(dir).await }
/// });
/// let (mut server_side, _) = listener.accept().await?;
/// let mut client = client.await.unwrap()?;
/// client.write_all(b"hi").await?;
/// let mut buf = [0; 2];
/// server_side.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hi");
/// std::fs::remove_file(&dir)?;
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct UnixListener {
    io: PollFd<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist) and listens.
    /// Must be called inside a gort runtime.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("gort-doc-{}-{}", std::process::id(), line!()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = gort::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::new(mio::net::UnixListener::bind(path)?)
    }

    fn new(l: mio::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: PollFd::new(l)?,
        })
    }

    /// Takes over a `std::os::unix::net::UnixListener`, switching it to
    /// non-blocking mode.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("gort-doc-{}-{}", std::process::id(), line!()));
    /// let _ = std::fs::remove_file(&path);
    /// let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    /// let listener = gort::net::UnixListener::from_std(std_listener)?;
    /// let back = listener.into_std()?;
    /// assert!(back.local_addr()?.as_pathname().is_some());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        UnixListener::new(mio::net::UnixListener::from_std(listener))
    }

    /// Deregisters the socket and returns it, still non-blocking.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        Ok(self.io.into_inner().into())
    }

    /// Waits for a connection.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("gort-doc-{}-{}", std::process::id(), line!()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = gort::net::UnixListener::bind(&path)?;
    /// let _client = gort::net::UnixStream::connect(&path).await?;
    /// let (_stream, _addr) = listener.accept().await?;
    /// assert!(listener.take_error()?.is_none());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, addr) = self.io.async_io(Direction::Read, |l| l.accept()).await?;
        Ok((UnixStream::new(s)?, addr))
    }

    /// The poll form of [`UnixListener::accept`].
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.io
            .poll_io(cx, Direction::Read, |l| l.accept())
            .map(|r| r.and_then(|(s, a)| Ok((UnixStream::new(s)?, a))))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl std::os::fd::AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl std::os::fd::AsFd for UnixListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
