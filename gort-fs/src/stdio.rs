//! `stdin()`, `stdout()`, `stderr()`: tokio's `io::stdin`/`stdout`/`stderr`
//! on gort's blocking pool.
//!
//! The process's standard streams are blocking descriptors that may be a
//! terminal, a pipe or a file, none of which the network poller can wait
//! on portably, so each read, write and flush runs as one
//! `gort_core::spawn_blocking` closure (Go parks the goroutine in a
//! syscall instead, `entersyscall`; tokio uses its blocking pool, as here).
//! See `blocking.rs` for the one-operation-in-flight rule.
//!
//! As in tokio: a write returns once its bytes are copied into the
//! handle's buffer, so call `flush` (or `shutdown`) before relying on the
//! output having reached the descriptor; two handles writing at once may
//! interleave their writes (each write is one `write_all` under std's
//! lock). A read that is waiting for input keeps a blocking thread busy
//! until input arrives, even if the reading future is dropped.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::blocking::Blocking;

/// The process's standard input, read on the blocking pool (tokio's
/// `Stdin`). Create it with [`stdin`].
pub struct Stdin {
    inner: Blocking<io::Stdin>,
}

/// The process's standard output, written on the blocking pool (tokio's
/// `Stdout`). Create it with [`stdout`].
pub struct Stdout {
    inner: Blocking<io::Stdout>,
}

/// The process's standard error, written on the blocking pool (tokio's
/// `Stderr`). Create it with [`stderr`].
pub struct Stderr {
    inner: Blocking<io::Stderr>,
}

/// A handle to standard input. Reads run on the blocking pool, so they
/// never block a P.
///
/// ```no_run
/// use gort::io::{AsyncBufReadExt, BufReader};
///
/// #[gort::main]
/// async fn main() -> std::io::Result<()> {
///     let mut lines = BufReader::new(gort::io::stdin()).lines();
///     while let Some(line) = lines.next_line().await? {
///         println!("got: {line}");
///     }
///     Ok(())
/// }
/// ```
pub fn stdin() -> Stdin {
    Stdin {
        inner: Blocking::new(io::stdin()),
    }
}

/// A handle to standard output. A write copies into the handle's buffer
/// and returns; the bytes reach the descriptor on the blocking pool.
/// Flush before exiting.
///
/// ```
/// use gort::io::AsyncWriteExt;
///
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let mut out = gort::io::stdout();
/// out.write_all(b"hello from the blocking pool\n").await?;
/// out.flush().await?;
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub fn stdout() -> Stdout {
    Stdout {
        inner: Blocking::new(io::stdout()),
    }
}

/// A handle to standard error, as [`stdout`].
///
/// ```
/// use gort::io::AsyncWriteExt;
///
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let mut err = gort::io::stderr();
/// err.write_all(b"warning\n").await?;
/// err.flush().await?;
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub fn stderr() -> Stderr {
    Stderr {
        inner: Blocking::new(io::stderr()),
    }
}

impl AsyncRead for Stdin {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

macro_rules! impl_write {
    ($ty:ty) => {
        impl AsyncWrite for $ty {
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

            fn poll_shutdown(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut self.inner).poll_shutdown(cx)
            }
        }
    };
}

impl_write!(Stdout);
impl_write!(Stderr);

macro_rules! impl_debug {
    ($ty:ident) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    };
}

impl_debug!(Stdin);
impl_debug!(Stdout);
impl_debug!(Stderr);
