//! The blocking-pool adapter: an owned buffer that moves between a task
//! and a `spawn_blocking` closure, and [`Blocking`], which turns a
//! blocking `Read`/`Write` (stdin, stdout, stderr) into tokio's
//! `AsyncRead`/`AsyncWrite`.
//!
//! This is tokio's `io/blocking.rs` on gort's pool (Go's
//! `entersyscall`/`exitsyscall`, by way of `gort_core::spawn_blocking`).
//! Invariant: at most one blocking operation per handle is in flight; while
//! it runs, the closure owns both the buffer and the handle, and the task
//! holds only the `JoinHandle`. `poll_write` copies the caller's bytes into
//! the owned buffer and returns at once; the write completes on the pool,
//! and its error (if any) comes back from the next write or flush.

use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use gort_core::{JoinError, JoinHandle};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest buffer one blocking operation reads or writes (tokio's
/// `DEFAULT_MAX_BUF_SIZE`): bounds the memory a single `write` copies.
pub(crate) const MAX_BUF: usize = 2 * 1024 * 1024;

/// Bytes `buf[pos..]` are data not yet handed to the reader (after a read)
/// or not yet written (before a write).
#[derive(Debug, Default)]
pub(crate) struct Buf {
    buf: Vec<u8>,
    pos: usize,
}

impl Buf {
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Moves as much buffered data as fits into `dst`.
    pub(crate) fn copy_to(&mut self, dst: &mut ReadBuf<'_>) -> usize {
        let n = self.len().min(dst.remaining());
        dst.put_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        if self.pos == self.buf.len() {
            self.clear();
        }
        n
    }

    /// Copies up to [`MAX_BUF`] bytes of `src` into the (empty) buffer.
    pub(crate) fn copy_from(&mut self, src: &[u8]) -> usize {
        debug_assert!(self.is_empty());
        let n = src.len().min(MAX_BUF);
        self.buf.extend_from_slice(&src[..n]);
        n
    }

    /// Drops unread data; returns the (non-positive) offset that moves a
    /// file's cursor back to where the reader stands.
    pub(crate) fn discard_read(&mut self) -> i64 {
        let back = -(self.len() as i64);
        self.clear();
        back
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.pos = 0;
    }

    /// One blocking read of at most `max` bytes (on the pool). Retries
    /// `Interrupted`, as std's `read_exact` does.
    pub(crate) fn read_from<R: Read>(&mut self, rd: &mut R, max: usize) -> io::Result<usize> {
        debug_assert!(self.is_empty());
        self.buf.resize(max.min(MAX_BUF), 0);
        let res = loop {
            match rd.read(&mut self.buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        self.buf.truncate(*res.as_ref().unwrap_or(&0));
        res
    }

    /// Writes everything buffered (on the pool), then empties the buffer.
    pub(crate) fn write_to<W: Write>(&mut self, wr: &mut W) -> io::Result<()> {
        let res = wr.write_all(&self.buf[self.pos..]);
        self.clear();
        res
    }
}

/// A blocking operation that never finished: the pool dropped it (runtime
/// shutdown) or it panicked. The handle it held is gone with it.
pub(crate) fn join_error(e: JoinError) -> io::Error {
    io::Error::other(format!("gort: blocking I/O operation failed: {e}"))
}

/// Runs `f` on the blocking pool and waits for it (tokio's `asyncify`).
pub(crate) async fn asyncify<F, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    gort_core::spawn_blocking(f).await.map_err(join_error)?
}

fn lost() -> io::Error {
    io::Error::other("gort: handle lost to a blocking operation that did not finish")
}

enum State<T> {
    /// No operation in flight; the buffer may hold read-ahead data.
    Idle(Option<Buf>),
    /// The closure owns the handle and the buffer until it returns them.
    Busy(JoinHandle<(io::Result<usize>, Buf, T)>),
}

/// A blocking reader or writer driven from a task: every read, write and
/// flush runs on gort's blocking pool, one at a time.
pub(crate) struct Blocking<T> {
    inner: Option<T>,
    state: State<T>,
    need_flush: bool,
}

impl<T> Blocking<T> {
    pub(crate) fn new(inner: T) -> Blocking<T> {
        Blocking {
            inner: Some(inner),
            state: State::Idle(Some(Buf::default())),
            need_flush: false,
        }
    }
}

// Nothing in a `Blocking` is pinned: the handle moves in and out of the
// closures by value.
impl<T> Unpin for Blocking<T> {}

impl<T: Send + 'static> Blocking<T> {
    /// Waits for the operation in flight; gives back its result (the
    /// handle and buffer return to `self`).
    fn poll_busy(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<usize>>> {
        let State::Busy(rx) = &mut self.state else {
            return Poll::Ready(None);
        };
        let out = ready!(Pin::new(rx).poll(cx));
        match out {
            Ok((res, buf, inner)) => {
                self.inner = Some(inner);
                self.state = State::Idle(Some(buf));
                Poll::Ready(Some(res))
            }
            Err(e) => {
                self.state = State::Idle(Some(Buf::default()));
                Poll::Ready(Some(Err(join_error(e))))
            }
        }
    }
}

/// Used read-only (`Stdin`): the operation in flight is always a read.
impl<T: Read + Send + 'static> AsyncRead for Blocking<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        loop {
            match &mut me.state {
                State::Idle(cell) => {
                    let mut buf = cell.take().unwrap_or_default();
                    if !buf.is_empty() || dst.remaining() == 0 {
                        buf.copy_to(dst);
                        *cell = Some(buf);
                        return Poll::Ready(Ok(()));
                    }
                    let Some(mut inner) = me.inner.take() else {
                        *cell = Some(buf);
                        return Poll::Ready(Err(lost()));
                    };
                    let max = dst.remaining();
                    me.state = State::Busy(gort_core::spawn_blocking(move || {
                        let res = buf.read_from(&mut inner, max);
                        (res, buf, inner)
                    }));
                }
                State::Busy(_) => {
                    match ready!(me.poll_busy(cx)) {
                        Some(Err(e)) => return Poll::Ready(Err(e)),
                        Some(Ok(_)) => {
                            // Hand out what was read; nothing (0 bytes) is EOF.
                            if let State::Idle(Some(buf)) = &mut me.state {
                                buf.copy_to(dst);
                            }
                            return Poll::Ready(Ok(()));
                        }
                        None => {}
                    }
                }
            }
        }
    }
}

impl<T: Write + Send + 'static> AsyncWrite for Blocking<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        loop {
            match &mut me.state {
                State::Idle(cell) => {
                    let mut buf = cell.take().unwrap_or_default();
                    let Some(mut inner) = me.inner.take() else {
                        *cell = Some(buf);
                        return Poll::Ready(Err(lost()));
                    };
                    let n = buf.copy_from(src);
                    me.state = State::Busy(gort_core::spawn_blocking(move || {
                        let res = buf.write_to(&mut inner).map(|()| n);
                        (res, buf, inner)
                    }));
                    me.need_flush = true;
                    return Poll::Ready(Ok(n));
                }
                State::Busy(_) => {
                    if let Some(Err(e)) = ready!(me.poll_busy(cx)) {
                        return Poll::Ready(Err(e));
                    }
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        loop {
            match &mut me.state {
                State::Idle(cell) => {
                    if !me.need_flush {
                        return Poll::Ready(Ok(()));
                    }
                    let buf = cell.take().unwrap_or_default();
                    let Some(mut inner) = me.inner.take() else {
                        *cell = Some(buf);
                        return Poll::Ready(Err(lost()));
                    };
                    me.need_flush = false;
                    me.state = State::Busy(gort_core::spawn_blocking(move || {
                        let res = inner.flush().map(|()| 0);
                        (res, buf, inner)
                    }));
                }
                State::Busy(_) => {
                    if let Some(Err(e)) = ready!(me.poll_busy(cx)) {
                        return Poll::Ready(Err(e));
                    }
                }
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
