//! `File` and `OpenOptions`: tokio's `fs::File` on gort's blocking pool.
//!
//! A `File` holds the std file (shared with the closure in flight) and a
//! state machine: `Idle` with a buffer, or `Busy` with the one blocking
//! operation (read, write or seek) running on the pool (tokio's
//! `fs/file.rs`). Reads fill the buffer and hand it out across calls; a
//! write copies into the buffer and returns, and the write's error comes
//! back from the next write, flush or seek. Before a write or seek, unread
//! read-ahead is given back by seeking the cursor back over it, so the
//! cursor is where the reader stands.

use std::fs::{Metadata, Permissions};
use std::future::{poll_fn, Future};
use std::io::{self, Seek, SeekFrom};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use gort_core::JoinHandle;
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

use crate::blocking::{asyncify, join_error, Buf};

/// An open file (tokio's `fs::File`): implements tokio's `AsyncRead`,
/// `AsyncWrite` and `AsyncSeek`, so `AsyncReadExt`, `AsyncWriteExt` and
/// `AsyncSeekExt` work on it.
///
/// ```
/// use gort::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
/// use std::io::SeekFrom;
///
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let p = std::env::temp_dir().join(format!("gort-fs-doc-file-{}", std::process::id()));
/// let mut f = gort::fs::OpenOptions::new()
///     .read(true).write(true).create(true).truncate(true)
///     .open(&p).await?;
/// f.write_all(b"hello, file").await?;
/// f.seek(SeekFrom::Start(7)).await?;
/// let mut s = String::new();
/// f.read_to_string(&mut s).await?;
/// assert_eq!(s, "file");
/// gort::fs::remove_file(&p).await?;
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
///
/// Dropping a `File` with a write in flight lets that write finish on the
/// pool, but its error is lost: `flush` first to see it.
#[derive(Debug)]
pub struct File {
    std: Arc<std::fs::File>,
    /// Locked only inside `&self` methods' polls, never across an await;
    /// `&mut self` paths use `get_mut`.
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: State,
    /// The error of a write that completed after its `poll_write` returned.
    last_write_err: Option<io::ErrorKind>,
    /// The cursor after the last completed seek (what `poll_complete`
    /// reports when no seek is in flight, as tokio does).
    pos: u64,
}

#[derive(Debug)]
enum State {
    Idle(Option<Buf>),
    Busy(JoinHandle<(Operation, Buf)>),
}

#[derive(Debug)]
enum Operation {
    Read(io::Result<usize>),
    Write(io::Result<()>),
    Seek(io::Result<u64>),
}

impl Inner {
    /// Waits out the operation in flight and returns its result;
    /// `None` when there was none.
    fn poll_busy(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Operation>>> {
        let State::Busy(rx) = &mut self.state else {
            return Poll::Ready(None);
        };
        Poll::Ready(Some(match ready!(Pin::new(rx).poll(cx)) {
            Ok((op, buf)) => {
                self.state = State::Idle(Some(buf));
                Ok(op)
            }
            Err(e) => {
                self.state = State::Idle(Some(Buf::default()));
                Err(join_error(e))
            }
        }))
    }

    /// Waits until nothing is in flight, keeping a failed write's error
    /// for the next write or flush.
    fn poll_complete_inflight(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match ready!(self.poll_busy(cx)) {
            Some(Ok(Operation::Write(Err(e)))) => self.last_write_err = Some(e.kind()),
            Some(Ok(Operation::Seek(Ok(pos)))) => self.pos = pos,
            _ => {}
        }
        Poll::Ready(())
    }

    fn take_buf(&mut self) -> Buf {
        match &mut self.state {
            State::Idle(cell) => cell.take().unwrap_or_default(),
            State::Busy(_) => unreachable!("take_buf is called only when idle"),
        }
    }
}

impl File {
    /// Opens a file read-only (`std::fs::File::open`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let err = gort::fs::File::open("/no/such/gort/file").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        Ok(File::from_std(
            asyncify(move || std::fs::File::open(path)).await?,
        ))
    }

    /// Creates a file write-only, truncating it if it exists
    /// (`std::fs::File::create`).
    ///
    /// ```
    /// use gort::io::AsyncWriteExt;
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let p = std::env::temp_dir().join(format!("gort-fs-doc-create-{}", std::process::id()));
    /// let mut f = gort::fs::File::create(&p).await?;
    /// f.write_all(b"abc").await?;
    /// f.flush().await?;
    /// assert_eq!(f.metadata().await?.len(), 3);
    /// gort::fs::remove_file(&p).await?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        Ok(File::from_std(
            asyncify(move || std::fs::File::create(path)).await?,
        ))
    }

    /// An [`OpenOptions`] with everything off (`File::options`).
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open std file.
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let p = std::env::temp_dir().join(format!("gort-fs-doc-fromstd-{}", std::process::id()));
    /// let f = gort::fs::File::from_std(std::fs::File::create(&p)?);
    /// assert!(f.metadata().await?.is_file());
    /// gort::fs::remove_file(&p).await?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn from_std(std: std::fs::File) -> File {
        File {
            std: Arc::new(std),
            inner: Mutex::new(Inner {
                state: State::Idle(Some(Buf::default())),
                last_write_err: None,
                pos: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the operation in flight, then runs `f` on the std file on
    /// the blocking pool, first giving back unread read-ahead (the cursor
    /// moves back to where the reader stands).
    async fn idle_then<T, F>(&self, f: F) -> io::Result<T>
    where
        F: FnOnce(&std::fs::File) -> io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let back = poll_fn(|cx| {
            let mut inner = self.lock();
            ready!(inner.poll_complete_inflight(cx));
            let mut buf = inner.take_buf();
            let back = buf.discard_read();
            inner.state = State::Idle(Some(buf));
            Poll::Ready(back)
        })
        .await;
        let std = self.std.clone();
        asyncify(move || {
            if back != 0 {
                (&*std).seek(SeekFrom::Current(back))?;
            }
            f(&std)
        })
        .await
    }

    /// The file's metadata (`std::fs::File::metadata`).
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = self.std.clone();
        asyncify(move || std.metadata()).await
    }

    /// Waits for writes in flight, then flushes data and metadata to the
    /// device (`fsync`, `std::fs::File::sync_all`).
    pub async fn sync_all(&self) -> io::Result<()> {
        self.idle_then(|f| f.sync_all()).await
    }

    /// As [`File::sync_all`], without metadata that reading does not need
    /// (`fdatasync`, `std::fs::File::sync_data`).
    pub async fn sync_data(&self) -> io::Result<()> {
        self.idle_then(|f| f.sync_data()).await
    }

    /// Truncates or extends the file to `size` bytes; the cursor does not
    /// move (`std::fs::File::set_len`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let p = std::env::temp_dir().join(format!("gort-fs-doc-setlen-{}", std::process::id()));
    /// let f = gort::fs::File::create(&p).await?;
    /// f.set_len(10).await?;
    /// assert_eq!(f.metadata().await?.len(), 10);
    /// gort::fs::remove_file(&p).await?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        self.idle_then(move |f| f.set_len(size)).await
    }

    /// Changes the file's permissions (`std::fs::File::set_permissions`).
    pub async fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        let std = self.std.clone();
        asyncify(move || std.set_permissions(perm)).await
    }

    /// Waits for the operation in flight and gives back the std file
    /// (tokio's `into_std`). If a clone of it is still held by a blocking
    /// closure that did not finish, a duplicate descriptor is returned.
    pub async fn into_std(self) -> std::fs::File {
        poll_fn(|cx| self.lock().poll_complete_inflight(cx)).await;
        Arc::try_unwrap(self.std).unwrap_or_else(|std| {
            std.try_clone()
                .expect("gort: duplicating a file descriptor for into_std")
        })
    }
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let inner = me.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        loop {
            match &mut inner.state {
                State::Idle(cell) => {
                    let mut buf = cell.take().unwrap_or_default();
                    if !buf.is_empty() || dst.remaining() == 0 {
                        buf.copy_to(dst);
                        *cell = Some(buf);
                        return Poll::Ready(Ok(()));
                    }
                    let std = me.std.clone();
                    let max = dst.remaining();
                    inner.state = State::Busy(gort_core::spawn_blocking(move || {
                        let res = buf.read_from(&mut &*std, max);
                        (Operation::Read(res), buf)
                    }));
                }
                State::Busy(_) => match ready!(inner.poll_busy(cx)) {
                    Some(Ok(Operation::Read(Ok(_)))) => {
                        // Hand out what was read; nothing (0 bytes) is EOF.
                        let mut buf = inner.take_buf();
                        buf.copy_to(dst);
                        inner.state = State::Idle(Some(buf));
                        return Poll::Ready(Ok(()));
                    }
                    Some(Ok(Operation::Read(Err(e)))) | Some(Err(e)) => return Poll::Ready(Err(e)),
                    Some(Ok(Operation::Write(Err(e)))) => inner.last_write_err = Some(e.kind()),
                    Some(Ok(Operation::Seek(Ok(pos)))) => inner.pos = pos,
                    _ => {}
                },
            }
        }
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let inner = me.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(kind) = inner.last_write_err.take() {
            return Poll::Ready(Err(kind.into()));
        }
        loop {
            match &mut inner.state {
                State::Idle(_) => {
                    let mut buf = inner.take_buf();
                    let back = buf.discard_read();
                    let n = buf.copy_from(src);
                    let std = me.std.clone();
                    inner.state = State::Busy(gort_core::spawn_blocking(move || {
                        let mut f = &*std;
                        let res = if back != 0 {
                            f.seek(SeekFrom::Current(back))
                                .and_then(|_| buf.write_to(&mut f))
                        } else {
                            buf.write_to(&mut f)
                        };
                        // A failed seek skipped the write: drop its bytes so
                        // they are not taken for read-ahead.
                        buf.clear();
                        (Operation::Write(res), buf)
                    }));
                    return Poll::Ready(Ok(n));
                }
                State::Busy(_) => match ready!(inner.poll_busy(cx)) {
                    Some(Ok(Operation::Write(Err(e)))) | Some(Err(e)) => {
                        return Poll::Ready(Err(e))
                    }
                    Some(Ok(Operation::Seek(Ok(pos)))) => inner.pos = pos,
                    _ => {}
                },
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let inner = self
            .get_mut()
            .inner
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        ready!(inner.poll_complete_inflight(cx));
        match inner.last_write_err.take() {
            Some(kind) => Poll::Ready(Err(kind.into())),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, mut pos: SeekFrom) -> io::Result<()> {
        let me = self.get_mut();
        let inner = me.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        if let State::Busy(_) = inner.state {
            return Err(io::Error::other(
                "other file operation is pending, call poll_complete before start_seek",
            ));
        }
        let mut buf = inner.take_buf();
        let back = buf.discard_read();
        if let SeekFrom::Current(off) = &mut pos {
            *off += back;
        }
        let std = me.std.clone();
        inner.state = State::Busy(gort_core::spawn_blocking(move || {
            (Operation::Seek((&*std).seek(pos)), buf)
        }));
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let inner = self
            .get_mut()
            .inner
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(kind) = inner.last_write_err.take() {
            return Poll::Ready(Err(kind.into()));
        }
        loop {
            match ready!(inner.poll_busy(cx)) {
                None => return Poll::Ready(Ok(inner.pos)),
                Some(Ok(Operation::Seek(res))) => {
                    if let Ok(pos) = res {
                        inner.pos = pos;
                    }
                    return Poll::Ready(res);
                }
                Some(Ok(Operation::Write(Err(e)))) | Some(Err(e)) => return Poll::Ready(Err(e)),
                Some(Ok(_)) => {}
            }
        }
    }
}

/// Options for opening a file (tokio's `fs::OpenOptions`, wrapping
/// `std::fs::OpenOptions`); the open itself runs on the blocking pool.
///
/// ```
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let p = std::env::temp_dir().join(format!("gort-fs-doc-oo-{}", std::process::id()));
/// let f = gort::fs::OpenOptions::new().write(true).create_new(true).open(&p).await?;
/// drop(f);
/// let again = gort::fs::OpenOptions::new().write(true).create_new(true).open(&p).await;
/// assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// gort::fs::remove_file(&p).await?;
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// Every option off.
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Every write goes to the end of the file.
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Truncate an existing file to length 0 (needs `write`).
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Create the file if it does not exist (needs `write` or `append`).
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists.
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// The permission bits of a file this creates (Unix).
    #[cfg(unix)]
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }

    /// Extra `open(2)` flags (Unix).
    #[cfg(unix)]
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.0, flags);
        self
    }

    /// Opens `path` with these options.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let opts = self.0.clone();
        let path = path.as_ref().to_owned();
        Ok(File::from_std(asyncify(move || opts.open(path)).await?))
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(o: std::fs::OpenOptions) -> OpenOptions {
        OpenOptions(o)
    }
}
