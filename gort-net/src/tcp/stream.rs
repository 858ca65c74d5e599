//! `TcpStream`: a TCP connection on the poller (Go's `net.TCPConn`, with
//! tokio's method names and signatures).

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::task::{Context, Poll};
use std::time::Duration;

use gort_time::Instant;

use crate::addr::{each_addr, ToSocketAddrs};
use crate::fd::PollFd;
use crate::io::{impl_async_read, impl_async_write, inherent_read_methods, inherent_write_methods};
use crate::poll_desc::Direction;
use crate::ready::{Interest, Ready};
use crate::tcp::split::{self, ReadHalf, WriteHalf};
use crate::tcp::split_owned::{self, OwnedReadHalf, OwnedWriteHalf};

/// A TCP connection.
///
/// Reading and writing go through the runtime's network poller: an
/// operation that would block parks the task ("IO wait" in task dumps)
/// until the socket is ready, its deadline passes, or the socket is closed.
/// It implements tokio's and futures-io's `AsyncRead`/`AsyncWrite`, and has
/// the common operations as inherent async methods.
///
/// ```
/// use gort::net::{TcpListener, TcpStream};
///
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// gort::spawn(async move {
///     let (mut s, _) = listener.accept().await?;
///     let mut buf = [0; 4];
///     s.read_exact(&mut buf).await?;
///     s.write_all(&buf).await
/// });
/// let mut s = TcpStream::connect(addr).await?;
/// s.write_all(b"ping").await?;
/// let mut buf = [0; 4];
/// s.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct TcpStream {
    pub(crate) io: PollFd<mio::net::TcpStream>,
}

impl TcpStream {
    /// Opens a connection to `addr`, trying each address it resolves to
    /// until one connects. Fails with the last address's error, e.g.
    /// `ConnectionRefused`.
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let s = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// assert_eq!(s.peer_addr()?, l.local_addr()?);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, TcpStream::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let s = mio::net::TcpStream::connect(addr)?;
        TcpStream::connecting(s).await
    }

    /// Like [`TcpStream::connect`] for one address, failing with
    /// `TimedOut` if the connection is not established within `timeout`
    /// (std's `TcpStream::connect_timeout`, as an async function). A
    /// timeout past the clock's range, such as `Duration::MAX`, never
    /// expires.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let s = gort::net::TcpStream::connect_timeout(&l.local_addr()?, Duration::from_secs(5)).await?;
    /// assert_eq!(s.peer_addr()?, l.local_addr()?);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let s = mio::net::TcpStream::connect(*addr)?;
        let fd = PollFd::with_readiness(s, Ready::EMPTY)?;
        // A timeout past the clock's range never expires (as `sleep`).
        fd.set_deadline(Direction::Write, Instant::now().checked_add(timeout))?;
        wait_connected(&fd).await?;
        fd.set_deadline(Direction::Write, None)?;
        Ok(TcpStream { io: fd })
    }

    /// Registers a socket whose connect is in progress and waits for it to
    /// finish.
    pub(crate) async fn connecting(s: mio::net::TcpStream) -> io::Result<TcpStream> {
        let fd = PollFd::with_readiness(s, Ready::EMPTY)?;
        wait_connected(&fd).await?;
        Ok(TcpStream { io: fd })
    }

    /// A stream for a connected socket (from `accept`).
    pub(crate) fn new(s: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: PollFd::new(s)?,
        })
    }

    /// Takes over a connected `std::net::TcpStream`, switching it to
    /// non-blocking mode. Must be called inside a gort runtime.
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let std_stream = std::net::TcpStream::connect(l.local_addr()?)?;
    /// let s = gort::net::TcpStream::from_std(std_stream)?;
    /// assert_eq!(s.peer_addr()?, l.local_addr()?);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::new(mio::net::TcpStream::from_std(stream))
    }

    /// Deregisters the socket and returns it as a `std::net::TcpStream`,
    /// still in non-blocking mode (as tokio's `into_std`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let s = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// let std_stream = s.into_std()?;
    /// std_stream.set_nonblocking(false)?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Ok(self.io.into_inner().into())
    }

    /// The remote address.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// let (s, _) = l.accept().await?;
    /// assert_eq!(c.peer_addr()?, l.local_addr()?);
    /// assert_eq!(c.local_addr()?, s.peer_addr()?);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when true). Go sets
    /// it on every TCP connection by default; tokio and gort leave the
    /// system default.
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let s = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// s.set_nodelay(true)?;
    /// assert!(s.nodelay()?);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets `SO_LINGER`. `Some(Duration::ZERO)` makes closing the socket
    /// send a reset instead of a FIN. The kernel counts whole seconds in a
    /// C `int`: a longer linger is capped at `c_int::MAX` seconds.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// let (s, _) = l.accept().await?;
    /// use std::time::Duration;
    /// s.set_linger(Some(Duration::ZERO))?;
    /// assert_eq!(s.linger()?, Some(Duration::ZERO));
    /// drop(s); // sends a reset
    /// let mut c = c;
    /// let err = c.read(&mut [0; 1]).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        socket2::SockRef::from(self.io.get_ref()).set_linger(crate::tcp::clamp_linger(linger))
    }

    /// Sets `SO_LINGER` to zero: closing the socket sends a reset
    /// (tokio's `set_zero_linger`).
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// The `SO_LINGER` setting.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        socket2::SockRef::from(self.io.get_ref()).linger()
    }

    /// Sets the IP time-to-live.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// let (s, _) = l.accept().await?;
    /// c.set_ttl(16)?;
    /// assert_eq!(c.ttl()?, 16);
    /// assert!(s.take_error()?.is_none());
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

    /// Takes the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    inherent_read_methods!(|s| s.io);
    inherent_write_methods!(|s| s.io);

    /// Reads into `buf` without removing the data from the socket's queue:
    /// the next read returns it again.
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// # let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let mut c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// # let (mut s, _) = l.accept().await?;
    /// c.write_all(b"hi").await?;
    /// let mut buf = [0; 2];
    /// let n = s.peek(&mut buf).await?;
    /// assert_eq!(&buf[..n], &b"hi"[..n]);
    /// s.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"hi");
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Read, |s| s.peek(buf)).await
    }

    /// The poll form of [`TcpStream::peek`].
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, Direction::Read, |s| s.peek(buf))
    }

    /// Waits until the socket is ready for one of `interest`'s directions
    /// and returns the readiness seen. The readiness may be spurious: the
    /// `try_*` call that follows can still return `WouldBlock`.
    ///
    /// ```
    /// use gort::io::Interest;
    ///
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// # let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let s = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// let ready = s.ready(Interest::READABLE | Interest::WRITABLE).await?;
    /// if ready.is_writable() {
    ///     let n = s.try_write(b"x")?;
    ///     assert_eq!(n, 1);
    /// }
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.ready(interest).await
    }

    /// Waits until the socket may be readable (then use [`try_read`]).
    ///
    /// [`try_read`]: TcpStream::try_read
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// let (s, _) = l.accept().await?;
    /// let mut c = c;
    /// c.write_all(b"x").await?;
    /// s.readable().await?;
    /// let mut buf = [0; 1];
    /// // Readiness can be spurious: a real program loops on WouldBlock.
    /// match s.try_read(&mut buf) {
    ///     Ok(n) => assert_eq!(&buf[..n], b"x"),
    ///     Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
    /// }
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(|_| ())
    }

    /// Waits until the socket may be writable (then use [`try_write`]).
    ///
    /// [`try_write`]: TcpStream::try_write
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// let (s, _) = l.accept().await?;
    /// c.writable().await?;
    /// let n = c.try_write(b"hello")?;
    /// assert_eq!(n, 5);
    /// # drop(s);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(|_| ())
    }

    /// The poll form of [`TcpStream::readable`].
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Interest::READABLE).map_ok(|_| ())
    }

    /// The poll form of [`TcpStream::writable`].
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Interest::WRITABLE).map_ok(|_| ())
    }

    /// Reads what is available now into `buf`, without waiting: `WouldBlock`
    /// if the socket is not known to be readable.
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// # let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let mut c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// # let (s, _) = l.accept().await?;
    /// c.write_all(b"data").await?;
    /// let mut buf = [0; 16];
    /// let n = loop {
    ///     s.readable().await?;
    ///     match s.try_read(&mut buf) {
    ///         Ok(n) => break n,
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///         Err(e) => return Err(e),
    ///     }
    /// };
    /// assert_eq!(&buf[..n], b"data");
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read(buf)
    }

    /// Writes what fits now, without waiting: `WouldBlock` if the socket
    /// is not known to be writable.
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

    /// Splits into a read half and a write half borrowing the stream, for
    /// use at the same time within one task (e.g. `copy` both ways).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// # let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let mut c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// # let (mut s, _) = l.accept().await?;
    /// let (mut r, mut w) = s.split();
    /// w.write_all(b"x").await?;
    /// # c.write_all(b"y").await?;
    /// let mut b = [0; 1];
    /// r.read_exact(&mut b).await?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split::split(self)
    }

    /// Splits into owned halves that can move to different tasks; put them
    /// back together with [`OwnedReadHalf::reunite`]. Dropping the write
    /// half shuts the write side down.
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// # let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// let (r, mut w) = c.into_split();
    /// let writer = gort::spawn(async move { w.write_all(b"hello").await.map(|_| w) });
    /// let w = writer.await.unwrap()?;
    /// let stream = r.reunite(w).expect("halves of the same stream");
    /// # drop(stream);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split_owned::split_owned(self)
    }

    /// Sets the read deadline (Go's `SetReadDeadline`): a read, peek or
    /// readiness wait for reading that is still blocked at `deadline`, or
    /// starts after it, fails with `io::ErrorKind::TimedOut`. `None`
    /// removes the deadline; setting a later deadline after a timeout makes
    /// reads work again. The deadline is absolute, not per operation: to
    /// time out idle connections, extend it before each read.
    ///
    /// ```
    /// use gort::time::Instant;
    /// use std::time::Duration;
    ///
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// # let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let mut s = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// s.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// let err = s.read(&mut [0; 8]).await.unwrap_err(); // nobody writes
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// s.set_read_deadline(None)?; // usable again
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_read_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.io.set_deadline(Direction::Read, deadline)
    }

    /// Sets the write deadline (Go's `SetWriteDeadline`); see
    /// [`TcpStream::set_read_deadline`].
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// let (s, _) = l.accept().await?;
    /// use std::time::Duration;
    /// let mut c = c;
    /// // The peer never reads: the write blocks once the buffers are full.
    /// c.set_write_deadline(Some(gort::time::Instant::now() + Duration::from_millis(20)))?;
    /// let chunk = vec![0u8; 1 << 16];
    /// let err = loop {
    ///     if let Err(e) = c.write(&chunk).await {
    ///         break e;
    ///     }
    /// };
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # drop(s);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_write_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.io.set_deadline(Direction::Write, deadline)
    }

    /// Sets both deadlines (Go's `SetDeadline`).
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// let (s, _) = l.accept().await?;
    /// let mut c = c;
    /// c.set_deadline(Some(gort::time::Instant::now()))?; // already past
    /// assert_eq!(c.write(b"x").await.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// c.set_deadline(None)?;
    /// assert_eq!(c.write(b"x").await?, 1);
    /// # drop(s);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.set_read_deadline(deadline)?;
        self.set_write_deadline(deadline)
    }

    pub(crate) fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }
}

/// Waits until a non-blocking connect finishes: the socket becomes
/// writable, and then either `SO_ERROR` holds the failure or the peer
/// address is known (mio's documented protocol).
async fn wait_connected(fd: &PollFd<mio::net::TcpStream>) -> io::Result<()> {
    poll_fn(|cx| {
        fd.poll_io(cx, Direction::Write, |s| {
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        })
    })
    .await
}

impl_async_read!(TcpStream, |s| s.io);
impl_async_write!(TcpStream, |s| s.io);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for TcpStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl TryFrom<std::net::TcpStream> for TcpStream {
    type Error = io::Error;

    /// [`TcpStream::from_std`].
    fn try_from(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::from_std(stream)
    }
}
