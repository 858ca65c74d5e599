//! `copy`, `copy_buf` and `copy_bidirectional`: tokio's functions (and Go's `io.Copy`)
//! over tokio's I/O traits.
//!
//! A [`Transfer`] owns one buffer and moves bytes from a reader to a
//! writer: fill the buffer when it is empty, drain it into the writer,
//! and at end of stream flush. While the reader has nothing to give, a
//! writer that took bytes since the last flush is flushed, so buffered
//! writers (a `BufWriter` in between) do not sit on data while the copy
//! waits. Each buffer moved charges one unit of the cooperative budget (as
//! tokio's copy does), so a copy between two always-ready streams — even
//! in-memory ones that know nothing of the budget — yields its P like any
//! other task.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use gort_core::coop;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

/// tokio's and Go's copy buffer size (Go's `io.Copy` uses 32 KiB; 8 KiB
/// matches tokio so ported code behaves the same).
const BUF_SIZE: usize = 8 * 1024;

/// One direction of a copy.
struct Transfer {
    buf: Box<[u8]>,
    /// Bytes `buf[pos..cap]` are read but not yet written.
    pos: usize,
    cap: usize,
    /// Bytes written so far.
    total: u64,
    read_done: bool,
    need_flush: bool,
}

impl Transfer {
    fn new() -> Transfer {
        Transfer::with_size(BUF_SIZE)
    }

    fn with_size(size: usize) -> Transfer {
        Transfer {
            buf: vec![0; size].into_boxed_slice(),
            pos: 0,
            cap: 0,
            total: 0,
            read_done: false,
            need_flush: false,
        }
    }

    /// Copies until the reader's end of stream, then flushes; returns the
    /// number of bytes copied.
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut reader: Pin<&mut R>,
        mut writer: Pin<&mut W>,
    ) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            // One unit of the task's budget per buffer moved, as tokio's
            // copy charges: a copy between ends that are always ready (a
            // slice into a Vec, a duplex pipe) still yields to the other
            // tasks and to a `select!`'s other branches.
            let coop = ready!(coop::poll_proceed(cx));
            if self.pos == self.cap && !self.read_done {
                let mut rb = ReadBuf::new(&mut self.buf);
                match reader.as_mut().poll_read(cx, &mut rb) {
                    Poll::Pending => {
                        if self.need_flush {
                            ready!(writer.as_mut().poll_flush(cx))?;
                            self.need_flush = false;
                        }
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        self.pos = 0;
                        self.cap = n;
                        if n == 0 {
                            self.read_done = true;
                        }
                    }
                }
            }
            while self.pos < self.cap {
                let n = match writer
                    .as_mut()
                    .poll_write(cx, &self.buf[self.pos..self.cap])
                {
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => ready!(other)?,
                };
                if n == 0 {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "write zero bytes into the copy's writer",
                    )));
                }
                self.pos += n;
                self.total += n as u64;
                self.need_flush = true;
            }
            coop.made_progress();
            if self.read_done {
                ready!(writer.as_mut().poll_flush(cx))?;
                self.need_flush = false;
                return Poll::Ready(Ok(self.total));
            }
        }
    }
}

/// Copies everything `reader` yields into `writer`, until end of stream,
/// then flushes `writer`. Returns the number of bytes copied (Go's
/// `io.Copy`, tokio's `io::copy`).
///
/// ```
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let mut src: &[u8] = b"hello";
/// let mut dst: Vec<u8> = Vec::new();
/// let n = gort::io::copy(&mut src, &mut dst).await?;
/// assert_eq!((n, &dst[..]), (5, &b"hello"[..]));
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn copy<R, W>(reader: &mut R, writer: &mut W) -> io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut t = Transfer::new();
    poll_fn(|cx| t.poll_copy(cx, Pin::new(&mut *reader), Pin::new(&mut *writer))).await
}

/// State of one direction of [`copy_bidirectional`].
enum Leg {
    Copying(Transfer),
    ShuttingDown(u64),
    Done(u64),
}

impl Leg {
    fn poll<R, W>(&mut self, cx: &mut Context<'_>, r: &mut R, w: &mut W) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + AsyncWrite + Unpin + ?Sized,
        W: AsyncRead + AsyncWrite + Unpin + ?Sized,
    {
        loop {
            match self {
                Leg::Copying(t) => {
                    let n = ready!(t.poll_copy(cx, Pin::new(&mut *r), Pin::new(&mut *w)))?;
                    *self = Leg::ShuttingDown(n);
                }
                Leg::ShuttingDown(n) => {
                    ready!(Pin::new(&mut *w).poll_shutdown(cx))?;
                    *self = Leg::Done(*n);
                }
                Leg::Done(n) => return Poll::Ready(Ok(*n)),
            }
        }
    }
}

/// Copies everything the buffered `reader` yields into `writer`, straight
/// from the reader's own buffer, until end of stream, then flushes
/// `writer`. Returns the number of bytes copied (tokio's `io::copy_buf`).
/// Each buffer moved charges one unit of the cooperative budget, as in
/// [`copy`].
///
/// ```
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let mut src = gort::io::BufReader::new(&b"hello"[..]);
/// let mut dst: Vec<u8> = Vec::new();
/// let n = gort::io::copy_buf(&mut src, &mut dst).await?;
/// assert_eq!((n, &dst[..]), (5, &b"hello"[..]));
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn copy_buf<R, W>(reader: &mut R, writer: &mut W) -> io::Result<u64>
where
    R: AsyncBufRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut total = 0u64;
    let mut need_flush = false;
    poll_fn(|cx| loop {
        let coop = ready!(coop::poll_proceed(cx));
        let buf = match Pin::new(&mut *reader).poll_fill_buf(cx) {
            Poll::Ready(Ok(buf)) => buf,
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {
                // The reader may be waiting for what the writer holds.
                if need_flush {
                    ready!(Pin::new(&mut *writer).poll_flush(cx))?;
                    need_flush = false;
                }
                return Poll::Pending;
            }
        };
        if buf.is_empty() {
            ready!(Pin::new(&mut *writer).poll_flush(cx))?;
            return Poll::Ready(Ok(total));
        }
        let n = match ready!(Pin::new(&mut *writer).poll_write(cx, buf)) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => r?,
        };
        if n == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write zero bytes into the copy's writer",
            )));
        }
        Pin::new(&mut *reader).consume(n);
        total += n as u64;
        need_flush = true;
        coop.made_progress();
    })
    .await
}

/// Copies in both directions between `a` and `b` at once (a proxy). When
/// one side reaches end of stream, the other side's write half is shut
/// down; it finishes when both directions have. Returns the bytes copied
/// from `a` to `b` and from `b` to `a`. The first error of either
/// direction ends it.
///
/// ```
/// use gort::net::{TcpListener, TcpStream};
///
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// // An echo server is a proxy from a socket to itself; here, a proxy
/// // between a client and a backend that sends a greeting and hangs up.
/// let backend = TcpListener::bind("127.0.0.1:0").await?;
/// let front = TcpListener::bind("127.0.0.1:0").await?;
/// let (baddr, faddr) = (backend.local_addr()?, front.local_addr()?);
/// gort::spawn(async move {
///     let (mut s, _) = backend.accept().await?;
///     s.write_all(b"hello").await?;
///     s.shutdown().await?;
///     let mut rest = Vec::new();
///     gort::io::copy(&mut s, &mut rest).await
/// });
/// gort::spawn(async move {
///     let (mut client, _) = front.accept().await?;
///     let mut server = TcpStream::connect(baddr).await?;
///     gort::io::copy_bidirectional(&mut client, &mut server).await
/// });
/// let mut c = TcpStream::connect(faddr).await?;
/// let mut buf = [0; 5];
/// c.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hello");
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn copy_bidirectional<A, B>(a: &mut A, b: &mut B) -> io::Result<(u64, u64)>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    copy_bidirectional_with_sizes(a, b, BUF_SIZE, BUF_SIZE).await
}

/// [`copy_bidirectional`] with a buffer of `a_to_b` bytes for the copy
/// from `a` to `b` and one of `b_to_a` bytes for the other direction
/// (tokio's signature). Panics, as tokio's does, if a size is 0.
///
/// ```
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// use gort::io::AsyncWriteExt;
/// let (mut a, mut a_peer) = gort::io::duplex(64);
/// let (mut b, mut b_peer) = gort::io::duplex(64);
/// a_peer.write_all(b"ping").await?;
/// a_peer.shutdown().await?;
/// b_peer.shutdown().await?;
/// // One-byte buffers: still every byte, in order.
/// let n = gort::io::copy_bidirectional_with_sizes(&mut a, &mut b, 1, 1).await?;
/// assert_eq!(n, (4, 0));
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn copy_bidirectional_with_sizes<A, B>(
    a: &mut A,
    b: &mut B,
    a_to_b: usize,
    b_to_a: usize,
) -> io::Result<(u64, u64)>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    // A zero-byte buffer reads nothing, which reads as end of stream.
    assert!(a_to_b > 0, "`a_to_b_buf_size` must be greater than 0");
    assert!(b_to_a > 0, "`b_to_a_buf_size` must be greater than 0");
    let mut a_to_b = Leg::Copying(Transfer::with_size(a_to_b));
    let mut b_to_a = Leg::Copying(Transfer::with_size(b_to_a));
    poll_fn(|cx| {
        let ab = a_to_b.poll(cx, &mut *a, &mut *b)?;
        let ba = b_to_a.poll(cx, &mut *b, &mut *a)?;
        match (ab, ba) {
            (Poll::Ready(x), Poll::Ready(y)) => Poll::Ready(Ok((x, y))),
            _ => Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    /// A reader that yields its chunks one per poll, pending in between.
    struct Chunks(Vec<&'static [u8]>, bool);

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.1 = !self.1;
            if self.1 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if !self.0.is_empty() {
                let c = self.0.remove(0);
                buf.put_slice(c);
            }
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn copy_moves_every_byte_in_order_across_pending_reads() {
        let mut r = Chunks(vec![b"ab", b"cde", b"f"], false);
        let mut w: Vec<u8> = Vec::new();
        let mut t = Transfer::new();
        let mut cx = Context::from_waker(Waker::noop());
        let n = loop {
            if let Poll::Ready(n) = t.poll_copy(&mut cx, Pin::new(&mut r), Pin::new(&mut w)) {
                break n.unwrap();
            }
        };
        assert_eq!(n, 6);
        assert_eq!(w, b"abcdef");
    }
}
