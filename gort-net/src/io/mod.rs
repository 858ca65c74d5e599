//! I/O traits and helpers (re-exported by the facade as `gort::io`).
//!
//! gort's streams implement two sets of traits:
//! - tokio's [`AsyncRead`] / [`AsyncWrite`] (from the `tokio` crate with
//!   its default features off: the trait definitions and [`ReadBuf`], no
//!   tokio runtime), so tokio-util codecs, hyper-util and tower run on
//!   them unchanged;
//! - the `futures-io` traits, re-exported here as [`futures::AsyncRead`]
//!   and [`futures::AsyncWrite`], for the `futures` ecosystem.
//!
//! The rest of tokio's `io` module that needs no runtime comes from tokio's
//! `io-util` feature, re-exported under tokio's names: the extension
//! traits ([`AsyncReadExt`], [`AsyncWriteExt`], [`AsyncBufReadExt`],
//! [`AsyncSeekExt`]), [`BufReader`], [`BufWriter`], [`BufStream`],
//! [`Lines`], [`split`], [`join`], [`duplex`], [`simplex`], [`empty`],
//! [`sink`], [`repeat`], and std's `Error`, `ErrorKind`,
//! `Result`, `SeekFrom` as tokio re-exports them. They
//! are plain combinators over the traits: no reactor, no timer, no thread.
//!
//! [`copy`], [`copy_buf`], [`copy_bidirectional`] and
//! [`copy_bidirectional_with_sizes`] are gort's own (`copy.rs`), with
//! tokio's signatures and behaviour: they are the ones this module has
//! always documented, and they charge gort's cooperative budget (tokio's
//! combinators compiled without tokio's runtime charge none); tokio's are
//! not re-exported, so the names do not clash.
//!
//! ```
//! use gort::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//!
//! # gort::runtime::Builder::new().build()?.block_on(async {
//! let (client, server) = gort::io::duplex(64);
//! let (r, mut w) = gort::io::split(client);
//! w.write_all(b"one\ntwo\n").await?;
//! drop((r, w)); // both halves gone: the other end reads EOF
//! let mut lines = BufReader::new(server).lines();
//! assert_eq!(lines.next_line().await?.as_deref(), Some("one"));
//! assert_eq!(lines.next_line().await?.as_deref(), Some("two"));
//! assert_eq!(lines.next_line().await?, None);
//! # Ok::<_, std::io::Error>(()) })?;
//! # Ok::<_, std::io::Error>(())
//! ```

mod copy;

pub use copy::{copy, copy_bidirectional, copy_bidirectional_with_sizes, copy_buf};
pub use std::io::{Error, ErrorKind, Result, SeekFrom};
pub use tokio::io::{
    duplex, empty, join, repeat, simplex, sink, split, AsyncBufRead, AsyncBufReadExt, AsyncRead,
    AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWrite, AsyncWriteExt, BufReader, BufStream,
    BufWriter, Chain, DuplexStream, Empty, Join, Lines, ReadBuf, ReadHalf, Repeat, SimplexStream,
    Sink, Split, Take, WriteHalf,
};

pub use crate::ready::{Interest, Ready};

/// The `futures-io` traits, which gort's streams implement too.
pub mod futures {
    pub use futures_io::{AsyncRead, AsyncWrite};
}

/// Implements tokio's and futures-io's read traits for a type whose
/// `PollFd` is reached by the given expression.
macro_rules! impl_async_read {
    ($ty:ty, |$s:ident| $fd:expr) => {
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $s = &*self;
                // Read straight into the unfilled, possibly uninitialised,
                // part: zeroing it first (`initialize_unfilled`) cost a
                // memset of hyper's whole read buffer on every read (2% of
                // the hyper server's profile). tokio reads the same way.
                // The slice is the ReadBuf's unfilled part. It goes only to
                // `PollFd::poll_read`, i.e. mio's `Read` for a socket: a
                // `recv(2)`/`read(2)` that writes into it and never reads it.
                // SAFETY: no uninitialised byte is read; exactly the `n`
                // bytes the kernel wrote are then marked initialised.
                let unfilled = unsafe {
                    &mut *(buf.unfilled_mut() as *mut [std::mem::MaybeUninit<u8>] as *mut [u8])
                };
                let n = std::task::ready!($fd.poll_read(cx, unfilled))?;
                // SAFETY: the read above initialised the first `n` bytes.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                std::task::Poll::Ready(Ok(()))
            }
        }

        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $fd.poll_read(cx, buf)
            }
        }
    };
}

/// Implements tokio's and futures-io's write traits; `shutdown` and
/// `close` shut the write side down.
macro_rules! impl_async_write {
    ($ty:ty, |$s:ident| $fd:expr) => {
        impl tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $fd.poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $fd.poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $s = &*self;
                std::task::Poll::Ready($crate::io::shutdown_write($fd.get_ref()))
            }
        }

        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $fd.poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $fd.poll_write_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $s = &*self;
                std::task::Poll::Ready($crate::io::shutdown_write($fd.get_ref()))
            }
        }
    };
}

/// The inherent async read methods of a stream or read half (the names and
/// signatures of tokio's `AsyncReadExt`, so ported calls resolve to them).
macro_rules! inherent_read_methods {
    (|$s:ident| $fd:expr) => {
        /// Reads into `buf`, waiting until at least one byte is available.
        /// Returns the number of bytes read; `Ok(0)` means end of stream
        /// (the peer shut down its write side) or an empty `buf`.
        ///
        /// Fails with `TimedOut` past the read deadline.
        pub async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let $s = &*self;
            std::future::poll_fn(|cx| $fd.poll_read(cx, buf)).await
        }

        /// Reads exactly `buf.len()` bytes. Fails with `UnexpectedEof` if
        /// the stream ends first (what was read is in `buf`, but how much
        /// is lost, as with tokio's `read_exact`). Returns `buf.len()`.
        pub async fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let $s = &*self;
            let mut done = 0;
            while done < buf.len() {
                let n = std::future::poll_fn(|cx| $fd.poll_read(cx, &mut buf[done..])).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                done += n;
            }
            Ok(done)
        }
    };
}

/// The inherent async write methods of a stream or write half.
macro_rules! inherent_write_methods {
    (|$s:ident| $fd:expr) => {
        /// Writes some of `buf`, waiting until the socket can take at
        /// least one byte. Returns how many bytes were written.
        ///
        /// Fails with `TimedOut` past the write deadline, `BrokenPipe` or
        /// `ConnectionReset` if the peer is gone.
        pub async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let $s = &*self;
            std::future::poll_fn(|cx| $fd.poll_write(cx, buf)).await
        }

        /// Writes all of `buf`.
        pub async fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
            let $s = &*self;
            let mut done = 0;
            while done < buf.len() {
                let n = std::future::poll_fn(|cx| $fd.poll_write(cx, &buf[done..])).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                done += n;
            }
            Ok(())
        }

        /// Does nothing: writes go straight to the socket. Kept so code
        /// written against `AsyncWriteExt::flush` ports unchanged.
        pub async fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }

        /// Shuts the write side down: the peer reads end of stream once it
        /// has read everything written before (TCP's FIN). Reading from
        /// this side still works.
        pub async fn shutdown(&mut self) -> std::io::Result<()> {
            let $s = &*self;
            $crate::io::shutdown_write($fd.get_ref())
        }
    };
}

pub(crate) use {impl_async_read, impl_async_write, inherent_read_methods, inherent_write_methods};

/// Shuts down the write side of a stream socket. `NotConnected` is success,
/// as in tokio: the peer's reset may have closed the connection before the
/// call (a race with the kernel, not an error of the caller's).
pub(crate) fn shutdown_write<S: ShutdownWrite>(io: &S) -> std::io::Result<()> {
    match io.shutdown_write() {
        Err(e) if e.kind() == std::io::ErrorKind::NotConnected => Ok(()),
        r => r,
    }
}

/// mio's stream sockets, whose `shutdown` takes std's `Shutdown`.
pub(crate) trait ShutdownWrite {
    fn shutdown_write(&self) -> std::io::Result<()>;
}

impl ShutdownWrite for mio::net::TcpStream {
    fn shutdown_write(&self) -> std::io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

#[cfg(unix)]
impl ShutdownWrite for mio::net::UnixStream {
    fn shutdown_write(&self) -> std::io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}
