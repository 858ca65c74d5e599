//! hyper 1.x on gort: [`GortExecutor`], [`GortTimer`] and [`GortIo`], the
//! same shape as hyper-util's `TokioExecutor`, `TokioTimer` and `TokioIo`,
//! so a hyper server or client runs on gort's scheduler, timers and
//! sockets with no tokio runtime in the build (enable the `hyper` feature).
//!
//! ```no_run
//! use gort::compat::hyper::{GortExecutor, GortIo, GortTimer};
//! # async fn serve(listener: gort::net::TcpListener) -> std::io::Result<()> {
//! let (stream, _) = listener.accept().await?;
//! let io = GortIo::new(stream);
//! # let _ = (io, GortExecutor, GortTimer);
//! // hyper::server::conn::http1::Builder::new().timer(GortTimer).serve_connection(io, service)
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Executor, ReadBufCursor, Sleep, Timer};

use crate::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Spawns hyper's background futures (HTTP/2 connection tasks) as gort tasks.
#[derive(Debug, Clone, Copy, Default)]
pub struct GortExecutor;

impl GortExecutor {
    /// The executor.
    pub fn new() -> GortExecutor {
        GortExecutor
    }
}

impl<F> Executor<F> for GortExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        drop(crate::spawn(fut));
    }
}

/// hyper's timer (keep-alive, header read timeouts) on gort-time.
#[derive(Debug, Clone, Copy, Default)]
pub struct GortTimer;

impl GortTimer {
    /// The timer.
    pub fn new() -> GortTimer {
        GortTimer
    }
}

/// A gort `Sleep` as hyper's `Sleep`.
struct GortSleep {
    inner: crate::time::Sleep,
}

impl Future for GortSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

impl Sleep for GortSleep {}

impl Timer for GortTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(GortSleep {
            inner: crate::time::sleep(duration),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(GortSleep {
            inner: crate::time::sleep_until(deadline.into()),
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        if let Some(s) = sleep.as_mut().downcast_mut_pin::<GortSleep>() {
            // SAFETY: GortSleep is Unpin (gort's Sleep is), so moving out
            // of the pin is sound.
            let s = unsafe { s.get_unchecked_mut() };
            Pin::new(&mut s.inner).reset(new_deadline.into());
        } else {
            *sleep = self.sleep_until(new_deadline);
        }
    }
}

/// Wraps a gort stream (anything with tokio's `AsyncRead` / `AsyncWrite`,
/// as gort's sockets have) to give it hyper's `Read` / `Write`.
#[derive(Debug)]
pub struct GortIo<T> {
    inner: T,
}

impl<T> GortIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> GortIo<T> {
        GortIo { inner }
    }

    /// The wrapped stream.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for GortIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: the ReadBuf below is built over hyper's uninitialised
        // spare capacity and only ever initialises or fills it; `advance`
        // is then called with exactly the number of bytes it filled.
        let n = unsafe {
            let mut rb = ReadBuf::uninit(buf.as_mut());
            match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => rb.filled().len(),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        };
        // SAFETY: `n` bytes were written into the cursor's buffer above.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for GortIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
}
