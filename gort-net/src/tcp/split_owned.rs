//! Owned halves of a `TcpStream` (tokio's `tcp::OwnedReadHalf` /
//! `OwnedWriteHalf`): the reader and the writer of one connection in two
//! tasks, as Go programs do with one `net.Conn` in two goroutines.
//!
//! Both halves share the stream through an `Arc`; the socket closes when
//! both are gone. Dropping the write half shuts the write side down (the
//! peer reads end of stream), unless it was [`OwnedWriteHalf::forget`]-ten.

use std::error::Error;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::io::{impl_async_read, impl_async_write, inherent_read_methods, inherent_write_methods};
use crate::tcp::TcpStream;

/// The read half of [`TcpStream::into_split`].
pub struct OwnedReadHalf {
    inner: Arc<TcpStream>,
}

/// The write half of [`TcpStream::into_split`].
pub struct OwnedWriteHalf {
    inner: Arc<TcpStream>,
    shutdown_on_drop: bool,
}

/// Returned by `reunite` when the halves come from different streams; it
/// gives both back.
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

pub(crate) fn split_owned(stream: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let inner = Arc::new(stream);
    (
        OwnedReadHalf {
            inner: inner.clone(),
        },
        OwnedWriteHalf {
            inner,
            shutdown_on_drop: true,
        },
    )
}

fn reunite(read: OwnedReadHalf, mut write: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
    if !Arc::ptr_eq(&read.inner, &write.inner) {
        return Err(ReuniteError(read, write));
    }
    write.shutdown_on_drop = false;
    drop(write);
    Ok(Arc::try_unwrap(read.inner).expect("the two halves held the only references to the stream"))
}

impl OwnedReadHalf {
    /// Puts the two halves of one stream back together; fails (giving the
    /// halves back) if they come from different streams.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// let (s, _) = l.accept().await?;
    /// let (r1, w1) = c.into_split();
    /// let (r2, w2) = s.into_split();
    /// // Halves of different streams are given back.
    /// let gort::net::tcp::ReuniteError(r1, w2) = r1.reunite(w2).unwrap_err();
    /// let _c = r1.reunite(w1).expect("same stream");
    /// let _s = w2.reunite(r2).expect("same stream");
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        reunite(self, other)
    }

    inherent_read_methods!(|s| s.inner.io);

    /// See [`TcpStream::peek`].
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.peek(buf).await
    }

    /// See [`TcpStream::poll_peek`].
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.inner.poll_peek(cx, buf)
    }

    /// See [`TcpStream::readable`].
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }

    /// See [`TcpStream::try_read`].
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_read(buf)
    }

    /// See [`TcpStream::set_read_deadline`].
    pub fn set_read_deadline(&self, deadline: Option<gort_time::Instant>) -> io::Result<()> {
        self.inner.set_read_deadline(deadline)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl OwnedWriteHalf {
    /// Puts the two halves of one stream back together; see
    /// [`OwnedReadHalf::reunite`].
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        reunite(other, self)
    }

    /// Drops the half without shutting the write side down.
    ///
    /// ```
    /// # gort::runtime::Runtime::new()?.block_on(async {
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gort::net::TcpStream::connect(l.local_addr()?).await?;
    /// let (s, _) = l.accept().await?;
    /// let (_r, w) = c.into_split();
    /// w.forget(); // no FIN: the peer does not see end of stream
    /// let mut s = s;
    /// s.set_read_deadline(Some(gort::time::Instant::now() + std::time::Duration::from_millis(10)))?;
    /// assert_eq!(s.read(&mut [0; 1]).await.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }

    inherent_write_methods!(|s| s.inner.io);

    /// See [`TcpStream::writable`].
    pub async fn writable(&self) -> io::Result<()> {
        self.inner.writable().await
    }

    /// See [`TcpStream::try_write`].
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_write(buf)
    }

    /// See [`TcpStream::set_write_deadline`].
    pub fn set_write_deadline(&self, deadline: Option<gort_time::Instant>) -> io::Result<()> {
        self.inner.set_write_deadline(deadline)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // The peer may already be gone; nothing to report from a drop.
            let _ = self.inner.shutdown_std(Shutdown::Write);
        }
    }
}

impl_async_read!(OwnedReadHalf, |s| s.inner.io);
impl_async_write!(OwnedWriteHalf, |s| s.inner.io);

impl AsRef<TcpStream> for OwnedReadHalf {
    fn as_ref(&self) -> &TcpStream {
        &self.inner
    }
}

impl AsRef<TcpStream> for OwnedWriteHalf {
    fn as_ref(&self) -> &TcpStream {
        &self.inner
    }
}

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedReadHalf").field(&*self.inner).finish()
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedWriteHalf").field(&*self.inner).finish()
    }
}

impl fmt::Debug for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl Error for ReuniteError {}
