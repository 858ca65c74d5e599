//! `UdpSocket` on the poller (Go's `net.UDPConn`, tokio's method names).

use gort_time::Instant;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use crate::addr::{each_addr, to_addrs, ToSocketAddrs};
use crate::fd::PollFd;
use crate::poll_desc::Direction;
use crate::ready::{Interest, Ready};

/// A UDP socket.
///
/// All operations take `&self`, so one socket can be shared (in an `Arc`)
/// by a receiving task and a sending task.
///
/// ```
/// use gort::net::UdpSocket;
///
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let a = UdpSocket::bind("127.0.0.1:0").await?;
/// let b = UdpSocket::bind("127.0.0.1:0").await?;
/// a.send_to(b"ping", b.local_addr()?).await?;
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct UdpSocket {
    io: PollFd<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (the first of its addresses that binds).
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let socket = gort::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| async move {
            UdpSocket::new(mio::net::UdpSocket::bind(a)?)
        })
        .await
    }

    fn new(s: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: PollFd::new(s)?,
        })
    }

    /// Takes over a bound `std::net::UdpSocket`, switching it to
    /// non-blocking mode.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let addr = std_socket.local_addr()?;
    /// let socket = gort::net::UdpSocket::from_std(std_socket)?;
    /// assert_eq!(socket.into_std()?.local_addr()?, addr);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::new(mio::net::UdpSocket::from_std(socket))
    }

    /// Deregisters the socket and returns it, still non-blocking.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Ok(self.io.into_inner().into())
    }

    /// Sets the default destination of [`send`](UdpSocket::send) and the
    /// only source [`recv`](UdpSocket::recv) accepts.
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let a = gort::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = gort::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(b.local_addr()?).await?;
    /// b.connect(a.local_addr()?).await?;
    /// a.send(b"hi").await?;
    /// let mut buf = [0; 8];
    /// let n = b.recv(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"hi");
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| async move { self.io.get_ref().connect(a) }).await
    }

    /// Sends `buf` as one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Write, |s| s.send(buf)).await
    }

    /// Receives one datagram from the connected peer into `buf` (the rest
    /// of a longer datagram is discarded).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Read, |s| s.recv(buf)).await
    }

    /// Sends `buf` as one datagram to `target`.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let a = gort::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = gort::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// let n = a.send_to(b"hello", b.local_addr()?).await?;
    /// assert_eq!(n, 5);
    /// let mut buf = [0; 3]; // a short buffer truncates the datagram
    /// let (n, from) = b.recv_from(&mut buf).await?;
    /// assert_eq!((&buf[..n], from), (&b"hel"[..], a.local_addr()?));
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let addrs = to_addrs(target).await?;
        let Some(&addr) = addrs.first() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no addresses to send data to",
            ));
        };
        self.io
            .async_io(Direction::Write, |s| s.send_to(buf, addr))
            .await
    }

    /// Receives one datagram into `buf` and returns its length and sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, |s| s.recv_from(buf))
            .await
    }

    /// Receives one datagram without removing it from the queue.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let a = gort::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = gort::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.send_to(b"once", b.local_addr()?).await?;
    /// let mut buf = [0; 8];
    /// let (n, _) = b.peek_from(&mut buf).await?;
    /// let (m, _) = b.recv_from(&mut buf).await?; // the same datagram again
    /// assert_eq!((n, m), (4, 4));
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, |s| s.peek_from(buf))
            .await
    }

    /// The poll form of [`UdpSocket::recv_from`].
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_io(cx, Direction::Read, |s| s.recv_from(buf))
    }

    /// The poll form of [`UdpSocket::send_to`] for one address.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(cx, Direction::Write, |s| s.send_to(buf, target))
    }

    /// Sends without waiting: `WouldBlock` if not known to be writable.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let a = gort::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = gort::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.writable().await?;
    /// a.try_send_to(b"now", b.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// let (n, _) = loop {
    ///     b.readable().await?;
    ///     match b.try_recv_from(&mut buf) {
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///         r => break r?,
    ///     }
    /// };
    /// assert_eq!(&buf[..n], b"now");
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io.try_io(Direction::Write, |s| s.send_to(buf, target))
    }

    /// Receives without waiting: `WouldBlock` if not known to be readable.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Direction::Read, |s| s.recv_from(buf))
    }

    /// Sends to the connected peer without waiting.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Write, |s| s.send(buf))
    }

    /// Receives from the connected peer without waiting.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, |s| s.recv(buf))
    }

    /// Waits until the socket may be ready for one of `interest`'s directions.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// use gort::io::Interest;
    ///
    /// let socket = gort::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// let ready = socket.ready(Interest::WRITABLE).await?;
    /// assert!(ready.is_writable());
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

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address (`NotConnected` if none).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let socket = gort::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// socket.set_broadcast(true)?;
    /// assert!(socket.broadcast()?);
    /// socket.set_ttl(8)?;
    /// assert_eq!(socket.ttl()?, 8);
    /// assert!(socket.take_error()?.is_none());
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Sets the IP time-to-live.
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

    /// Sets the read deadline (Go's `SetReadDeadline`): a receive blocked
    /// at `deadline`, or started after it, fails with `TimedOut`.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let socket = gort::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// socket.set_read_deadline(Some(gort::time::Instant::now() + std::time::Duration::from_millis(10)))?;
    /// let err = socket.recv_from(&mut [0; 8]).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
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

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for UdpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
