//! A non-blocking socket registered with the poller: Go's `internal/poll.FD`
//! with its `pollDesc` half (internal/poll/fd_poll_runtime.go).
//!
//! Go's `FD.Read` is: `prepareRead` (fail at once if the fd is closing or
//! its deadline has passed), then loop { the syscall; on `EAGAIN`,
//! `waitRead` parks the goroutine until the poller or a deadline wakes it }.
//! [`PollFd::poll_io`] is that loop for a future: the syscall is attempted
//! whenever the descriptor may be ready, `WouldBlock` clears the readiness
//! it was attempted under, and an empty readiness parks the task.
//!
//! Every operation first charges the task's cooperative budget
//! ([`gort_core::coop::poll_proceed`]), so a task looping on a socket that
//! is always ready yields its P after a budget's worth of operations.
//!
//! Invariants: the socket is registered from [`PollFd::new`] until it is
//! dropped or [`PollFd::into_inner`] takes it back; dropping deregisters it,
//! which wakes any task still waiting on it with an error.
//!
//! Departure from Go: no `fdMutex`. Go serialises concurrent readers (and
//! writers) of one fd; gort's API is tokio's, where `&self` methods let
//! several tasks use a socket at once, and the kernel orders their
//! syscalls.

use gort_core::coop;
use gort_time::Instant;
use mio::event::Source;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use crate::deadline::DeadlineTimers;
use crate::netpoll::{Inner, Poller};
use crate::poll_desc::{Direction, PollDesc, ReadyEvent};
use crate::ready::{Interest, Ready};

/// A registered socket.
pub(crate) struct PollFd<E: Source> {
    io: Option<E>,
    desc: Arc<PollDesc>,
    poller: Arc<Inner>,
    deadlines: DeadlineTimers,
}

impl<E: Source> PollFd<E> {
    /// Registers `io` with the current runtime's poller, assuming it may
    /// already be readable and writable (the first syscall finds out).
    pub(crate) fn new(io: E) -> io::Result<PollFd<E>> {
        PollFd::with_readiness(io, Ready::READABLE | Ready::WRITABLE)
    }

    /// Registers `io` with its readiness starting as `initial` (empty for a
    /// socket whose connect is in progress: writable means connected).
    pub(crate) fn with_readiness(mut io: E, initial: Ready) -> io::Result<PollFd<E>> {
        let poller = Poller::current()?;
        let desc = poller.register(&mut io, initial)?;
        Ok(PollFd {
            io: Some(io),
            desc,
            poller,
            deadlines: DeadlineTimers::default(),
        })
    }

    /// The socket.
    pub(crate) fn get_ref(&self) -> &E {
        self.io
            .as_ref()
            .expect("PollFd holds its socket until into_inner or drop")
    }

    /// Deregisters the socket and gives it back.
    pub(crate) fn into_inner(mut self) -> E {
        let mut io = self
            .io
            .take()
            .expect("PollFd holds its socket until into_inner or drop");
        self.poller.deregister(&mut io, &self.desc);
        io
    }

    /// Ready for `dir` now, or the task's waker is registered.
    fn poll_ready_dir(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<io::Result<ReadyEvent>> {
        let r = self.desc.poll_ready(cx, dir, &self.poller.nwaiters);
        if r.is_pending() {
            self.poller.ensure_polled();
        }
        r
    }

    /// Waits until the socket is ready for one of `interest`'s directions
    /// (tokio's `poll_read_ready`/`poll_write_ready`). Charges the budget.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<Ready>> {
        let coop = ready!(coop::poll_proceed(cx));
        let r = self.poll_readiness(cx, interest);
        if r.is_ready() {
            coop.made_progress();
        }
        r
    }

    /// The readiness of `interest`'s directions, registering `cx` for the
    /// ones not ready; no budget charged.
    fn poll_readiness(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<Ready>> {
        let mut out = Ready::EMPTY;
        let mut pending = false;
        for (wanted, dir) in [
            (interest.is_readable(), Direction::Read),
            (interest.is_writable(), Direction::Write),
        ] {
            if !wanted {
                continue;
            }
            match self.desc.poll_ready(cx, dir, &self.poller.nwaiters) {
                Poll::Ready(Ok(ev)) => out |= ev.ready,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => pending = true,
            }
        }
        if out.is_empty() {
            if pending {
                self.poller.ensure_polled();
            }
            return Poll::Pending;
        }
        Poll::Ready(Ok(out))
    }

    /// Waits for `interest` (tokio's `ready`, `readable`, `writable`). Like
    /// tokio's, it charges no budget: the operation that follows (a
    /// `try_read`, `try_write`) does the work, and a loop of ready + try
    /// on a socket that stays ready must not be told to yield by `ready`.
    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        poll_fn(|cx| self.poll_readiness(cx, interest)).await
    }

    /// Go's `FD.Read` loop for any syscall `f` in direction `dir`: run it
    /// while the socket may be ready; on `WouldBlock` clear that readiness
    /// and wait for the next event.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut f: impl FnMut(&E) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let coop = ready!(coop::poll_proceed(cx));
        loop {
            let ev = match self.poll_ready_dir(cx, dir) {
                Poll::Ready(Ok(ev)) => ev,
                Poll::Ready(Err(e)) => {
                    coop.made_progress();
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            };
            match f(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.desc.clear_readiness(ev),
                r => {
                    coop.made_progress();
                    return Poll::Ready(r);
                }
            }
        }
    }

    /// `f` once if the socket may be ready for `dir`, else `WouldBlock`
    /// (tokio's `try_read`, `try_io`). Never waits, never charges the budget.
    pub(crate) fn try_io<R>(
        &self,
        dir: Direction,
        f: impl FnOnce(&E) -> io::Result<R>,
    ) -> io::Result<R> {
        let Some(ev) = self.desc.ready_now(dir)? else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        match f(self.get_ref()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.desc.clear_readiness(ev);
                Err(e)
            }
            r => r,
        }
    }

    /// The future form of [`PollFd::poll_io`].
    pub(crate) async fn async_io<R>(
        &self,
        dir: Direction,
        mut f: impl FnMut(&E) -> io::Result<R>,
    ) -> io::Result<R> {
        poll_fn(|cx| self.poll_io(cx, dir, &mut f)).await
    }

    /// Sets or clears the deadline of `dir` (Go's `SetReadDeadline`,
    /// `SetWriteDeadline`).
    pub(crate) fn set_deadline(&self, dir: Direction, deadline: Option<Instant>) -> io::Result<()> {
        self.deadlines.set(&self.poller, &self.desc, dir, deadline)
    }
}

impl<E: Source> PollFd<E>
where
    for<'a> &'a E: Read + Write,
{
    /// A read on a stream socket. A short read means the receive buffer
    /// was drained, so the readiness is cleared without the extra syscall
    /// that would return `WouldBlock` (an edge that arrived meanwhile has
    /// bumped the tick and is kept).
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let coop = ready!(coop::poll_proceed(cx));
        loop {
            let ev = match self.poll_ready_dir(cx, Direction::Read) {
                Poll::Ready(Ok(ev)) => ev,
                Poll::Ready(Err(e)) => {
                    coop.made_progress();
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            };
            match (&mut self.get_ref()).read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.desc.clear_readiness(ev),
                r => {
                    if let Ok(n) = r {
                        if n > 0 && n < buf.len() {
                            self.desc.clear_readiness(ev);
                        }
                    }
                    coop.made_progress();
                    return Poll::Ready(r);
                }
            }
        }
    }

    /// A write on a stream socket; a short write means the send buffer is
    /// full, and clears the write readiness as a short read does.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let coop = ready!(coop::poll_proceed(cx));
        loop {
            let ev = match self.poll_ready_dir(cx, Direction::Write) {
                Poll::Ready(Ok(ev)) => ev,
                Poll::Ready(Err(e)) => {
                    coop.made_progress();
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            };
            match (&mut self.get_ref()).write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.desc.clear_readiness(ev),
                r => {
                    if let Ok(n) = r {
                        if n > 0 && n < buf.len() {
                            self.desc.clear_readiness(ev);
                        }
                    }
                    coop.made_progress();
                    return Poll::Ready(r);
                }
            }
        }
    }

    /// A vectored write on a stream socket.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Direction::Write, |io| {
            let mut io = io;
            io.write_vectored(bufs)
        })
    }

    /// `try_read` on a stream socket.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.try_io(Direction::Read, |io| {
            let mut io = io;
            io.read(buf)
        })
    }

    /// `try_write` on a stream socket.
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_io(Direction::Write, |io| {
            let mut io = io;
            io.write(buf)
        })
    }

    /// `try_read_vectored` on a stream socket.
    pub(crate) fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.try_io(Direction::Read, |io| {
            let mut io = io;
            io.read_vectored(bufs)
        })
    }

    /// `try_write_vectored` on a stream socket.
    pub(crate) fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.try_io(Direction::Write, |io| {
            let mut io = io;
            io.write_vectored(bufs)
        })
    }

    /// `try_read_buf` on a stream socket: reads into `buf`'s spare
    /// capacity and advances it.
    pub(crate) fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.try_io(Direction::Read, |io| {
            let mut io = io;
            let dst = buf.chunk_mut();
            // `read` on a socket only writes into the slice (the kernel copies
            // bytes in, never reads them); tokio's `try_read_buf` does the same.
            // SAFETY: so handing it the uninitialised spare capacity as
            // `&mut [u8]` exposes no uninitialised byte.
            let dst =
                unsafe { &mut *(dst as *mut _ as *mut [std::mem::MaybeUninit<u8>] as *mut [u8]) };
            let n = io.read(dst)?;
            // SAFETY: `read` initialised the first `n` bytes of the chunk.
            unsafe { buf.advance_mut(n) };
            Ok(n)
        })
    }
}

impl<E: Source> Drop for PollFd<E> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            self.poller.deregister(&mut io, &self.desc);
        }
    }
}

impl<E: Source + std::fmt::Debug> std::fmt::Debug for PollFd<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    /// A socket's registration can end while a task still waits on its
    /// descriptor (the socket dropped elsewhere, or its poller gone): the
    /// waiter is woken and gets an error instead of hanging.
    #[test]
    fn dropping_a_socket_wakes_a_task_waiting_on_it_with_an_error() {
        let rt = gort_core::runtime::Builder::new()
            .procs(2)
            .driver(Arc::new(Poller::new().unwrap()))
            .build()
            .unwrap();
        let err = rt.block_on(async {
            let (a, _b) = mio::net::UnixStream::pair().unwrap();
            let fd = PollFd::with_readiness(a, Ready::EMPTY).unwrap();
            let (desc, poller) = (fd.desc.clone(), fd.poller.clone());
            // The waiter holds the descriptor, not the socket.
            let waiter = gort_core::spawn(async move {
                poll_fn(|cx| {
                    let r = desc.poll_ready(cx, Direction::Read, &poller.nwaiters);
                    if r.is_pending() {
                        poller.ensure_polled();
                    }
                    r
                })
                .await
                .map(|_| ())
            });
            while fd.poller.nwaiters.load(Ordering::SeqCst) == 0 {
                gort_core::yield_now().await;
            }
            drop(fd);
            waiter.await.unwrap().unwrap_err()
        });
        assert_eq!(err.kind(), io::ErrorKind::NotConnected, "{err}");
    }
}
