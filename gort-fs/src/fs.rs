//! tokio's `fs` functions: each one is the std function of the same name,
//! run on gort's blocking pool.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use gort_core::JoinHandle;

use crate::blocking::{asyncify, join_error};

/// Reads a whole file into a vector (`std::fs::read`).
///
/// ```
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let dir = std::env::temp_dir().join(format!("gort-fs-doc-read-{}", std::process::id()));
/// gort::fs::create_dir_all(&dir).await?;
/// gort::fs::write(dir.join("a"), b"abc").await?;
/// assert_eq!(gort::fs::read(dir.join("a")).await?, b"abc");
/// gort::fs::remove_dir_all(&dir).await?;
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read(path)).await
}

/// Reads a whole file into a string (`std::fs::read_to_string`); fails
/// with `InvalidData` if it is not UTF-8.
///
/// ```
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let p = std::env::temp_dir().join(format!("gort-fs-doc-rts-{}", std::process::id()));
/// gort::fs::write(&p, "héllo").await?;
/// assert_eq!(gort::fs::read_to_string(&p).await?, "héllo");
/// gort::fs::remove_file(&p).await?;
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read_to_string(path)).await
}

/// Creates or truncates a file and writes `contents` (`std::fs::write`).
/// The bytes are copied once, to move them to the blocking pool.
///
/// ```
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let p = std::env::temp_dir().join(format!("gort-fs-doc-write-{}", std::process::id()));
/// gort::fs::write(&p, b"12345").await?;
/// assert_eq!(gort::fs::metadata(&p).await?.len(), 5);
/// gort::fs::remove_file(&p).await?;
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    let contents = contents.as_ref().to_owned();
    asyncify(move || std::fs::write(path, contents)).await
}

macro_rules! path_fn {
    ($(#[$doc:meta])* $name:ident -> $ret:ty) => {
        $(#[$doc])*
        pub async fn $name(path: impl AsRef<Path>) -> io::Result<$ret> {
            let path = path.as_ref().to_owned();
            asyncify(move || std::fs::$name(path)).await
        }
    };
}

macro_rules! two_path_fn {
    ($(#[$doc:meta])* $name:ident -> $ret:ty) => {
        $(#[$doc])*
        pub async fn $name(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<$ret> {
            let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
            asyncify(move || std::fs::$name(from, to)).await
        }
    };
}

path_fn!(
    /// Creates a directory; its parent must exist (`std::fs::create_dir`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let d = std::env::temp_dir().join(format!("gort-fs-doc-cd-{}", std::process::id()));
    /// gort::fs::create_dir(&d).await?;
    /// assert!(gort::fs::metadata(&d).await?.is_dir());
    /// gort::fs::remove_dir(&d).await?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    create_dir -> ()
);
path_fn!(
    /// Creates a directory and every missing parent
    /// (`std::fs::create_dir_all`); an existing directory is not an error.
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let d = std::env::temp_dir().join(format!("gort-fs-doc-cda-{}", std::process::id()));
    /// gort::fs::create_dir_all(d.join("x/y")).await?;
    /// assert!(gort::fs::try_exists(d.join("x/y")).await?);
    /// gort::fs::remove_dir_all(&d).await?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    create_dir_all -> ()
);
path_fn!(
    /// Removes a file (`std::fs::remove_file`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let p = std::env::temp_dir().join(format!("gort-fs-doc-rf-{}", std::process::id()));
    /// gort::fs::write(&p, b"").await?;
    /// gort::fs::remove_file(&p).await?;
    /// assert!(!gort::fs::try_exists(&p).await?);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    remove_file -> ()
);
path_fn!(
    /// Removes an empty directory (`std::fs::remove_dir`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let d = std::env::temp_dir().join(format!("gort-fs-doc-rd-{}", std::process::id()));
    /// gort::fs::create_dir(&d).await?;
    /// gort::fs::remove_dir(&d).await?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    remove_dir -> ()
);
path_fn!(
    /// Removes a directory and everything in it (`std::fs::remove_dir_all`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let d = std::env::temp_dir().join(format!("gort-fs-doc-rda-{}", std::process::id()));
    /// gort::fs::create_dir_all(d.join("sub")).await?;
    /// gort::fs::write(d.join("sub/f"), b"x").await?;
    /// gort::fs::remove_dir_all(&d).await?;
    /// assert!(!gort::fs::try_exists(&d).await?);
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    remove_dir_all -> ()
);
path_fn!(
    /// The metadata of a path, following symlinks (`std::fs::metadata`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// assert!(gort::fs::metadata(std::env::temp_dir()).await?.is_dir());
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    metadata -> Metadata
);
path_fn!(
    /// The metadata of a path without following a final symlink
    /// (`std::fs::symlink_metadata`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let m = gort::fs::symlink_metadata(std::env::temp_dir()).await?;
    /// assert!(m.is_dir() || m.file_type().is_symlink());
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    symlink_metadata -> Metadata
);
path_fn!(
    /// The absolute path with every symlink resolved
    /// (`std::fs::canonicalize`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// assert!(gort::fs::canonicalize(".").await?.is_absolute());
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    canonicalize -> PathBuf
);
two_path_fn!(
    /// Renames a file or directory, replacing `to` if it is a file
    /// (`std::fs::rename`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let a = std::env::temp_dir().join(format!("gort-fs-doc-mv-a-{}", std::process::id()));
    /// let b = a.with_file_name(format!("gort-fs-doc-mv-b-{}", std::process::id()));
    /// gort::fs::write(&a, b"x").await?;
    /// gort::fs::rename(&a, &b).await?;
    /// assert_eq!(gort::fs::read(&b).await?, b"x");
    /// gort::fs::remove_file(&b).await?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    rename -> ()
);
two_path_fn!(
    /// Copies a file's contents and permissions; returns the number of
    /// bytes copied (`std::fs::copy`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let a = std::env::temp_dir().join(format!("gort-fs-doc-cp-a-{}", std::process::id()));
    /// let b = a.with_file_name(format!("gort-fs-doc-cp-b-{}", std::process::id()));
    /// gort::fs::write(&a, b"four").await?;
    /// assert_eq!(gort::fs::copy(&a, &b).await?, 4);
    /// gort::fs::remove_file(&a).await?;
    /// gort::fs::remove_file(&b).await?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    copy -> u64
);
two_path_fn!(
    /// Makes `to` a new name for the file `from` (`std::fs::hard_link`).
    ///
    /// ```
    /// # gort::runtime::Builder::new().build()?.block_on(async {
    /// let a = std::env::temp_dir().join(format!("gort-fs-doc-ln-a-{}", std::process::id()));
    /// let b = a.with_file_name(format!("gort-fs-doc-ln-b-{}", std::process::id()));
    /// gort::fs::write(&a, b"same").await?;
    /// gort::fs::hard_link(&a, &b).await?;
    /// assert_eq!(gort::fs::read(&b).await?, b"same");
    /// gort::fs::remove_file(&a).await?;
    /// gort::fs::remove_file(&b).await?;
    /// # Ok::<_, std::io::Error>(()) })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    hard_link -> ()
);

/// Whether `path` exists: `Ok(false)` for a missing path or a broken
/// symlink, `Err` when that cannot be known, e.g. permission denied
/// (`std::fs::exists`, tokio's `try_exists`).
///
/// ```
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// assert!(gort::fs::try_exists(std::env::temp_dir()).await?);
/// assert!(!gort::fs::try_exists("/no/such/gort/path").await?);
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = path.as_ref().to_owned();
    asyncify(move || path.try_exists()).await
}

/// How many entries one blocking call reads ahead (tokio's `CHUNK_SIZE`):
/// one pool round trip per 32 entries instead of one per entry.
const CHUNK_SIZE: usize = 32;

type Chunk = (VecDeque<io::Result<DirEntry>>, std::fs::ReadDir, bool);

/// The entries of a directory (tokio's `ReadDir`), from [`read_dir`].
/// Entries come in no particular order; `.` and `..` are skipped.
#[derive(Debug)]
pub struct ReadDir {
    state: ReadDirState,
}

#[derive(Debug)]
enum ReadDirState {
    /// Read-ahead entries, the std iterator, and whether it has more.
    Idle(Option<Chunk>),
    Pending(JoinHandle<Chunk>),
}

/// Opens a directory for reading its entries (`std::fs::read_dir`).
///
/// ```
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// let d = std::env::temp_dir().join(format!("gort-fs-doc-ls-{}", std::process::id()));
/// gort::fs::create_dir_all(&d).await?;
/// gort::fs::write(d.join("only"), b"").await?;
/// let mut entries = gort::fs::read_dir(&d).await?;
/// let e = entries.next_entry().await?.expect("one entry");
/// assert_eq!(e.file_name(), "only");
/// assert!(entries.next_entry().await?.is_none());
/// gort::fs::remove_dir_all(&d).await?;
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let std = asyncify(move || std::fs::read_dir(path)).await?;
    Ok(ReadDir {
        state: ReadDirState::Idle(Some((VecDeque::new(), std, true))),
    })
}

impl ReadDir {
    /// The next entry, or `None` when the directory has no more.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        std::future::poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// The poll form of [`ReadDir::next_entry`].
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            match &mut self.state {
                ReadDirState::Idle(cell) => {
                    let Some((mut buf, mut std, more)) = cell.take() else {
                        return Poll::Ready(Ok(None));
                    };
                    if let Some(entry) = buf.pop_front() {
                        *cell = Some((buf, std, more));
                        return Poll::Ready(entry.map(Some));
                    }
                    if !more {
                        *cell = Some((buf, std, false));
                        return Poll::Ready(Ok(None));
                    }
                    self.state = ReadDirState::Pending(gort_core::spawn_blocking(move || {
                        let more = next_chunk(&mut buf, &mut std);
                        (buf, std, more)
                    }));
                }
                ReadDirState::Pending(rx) => match ready!(Pin::new(rx).poll(cx)) {
                    Ok(chunk) => self.state = ReadDirState::Idle(Some(chunk)),
                    Err(e) => {
                        self.state = ReadDirState::Idle(None);
                        return Poll::Ready(Err(join_error(e)));
                    }
                },
            }
        }
    }
}

/// Reads up to [`CHUNK_SIZE`] entries; false when the iterator ended.
fn next_chunk(buf: &mut VecDeque<io::Result<DirEntry>>, std: &mut std::fs::ReadDir) -> bool {
    for _ in 0..CHUNK_SIZE {
        let Some(entry) = std.next() else {
            return false;
        };
        buf.push_back(entry.map(|e| DirEntry(Arc::new(e))));
    }
    true
}

/// One entry of a [`ReadDir`] (tokio's `DirEntry`).
#[derive(Debug)]
pub struct DirEntry(Arc<std::fs::DirEntry>);

impl DirEntry {
    /// The entry's full path: the directory given to [`read_dir`] joined
    /// with the file name.
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }

    /// The entry's file name, without the directory.
    pub fn file_name(&self) -> OsString {
        self.0.file_name()
    }

    /// The entry's inode number (Unix).
    #[cfg(unix)]
    pub fn ino(&self) -> u64 {
        std::os::unix::fs::DirEntryExt::ino(&*self.0)
    }

    /// The entry's metadata, not following a final symlink; may need a
    /// syscall, so it runs on the blocking pool.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let e = self.0.clone();
        asyncify(move || e.metadata()).await
    }

    /// The entry's file type; on most Unix file systems this needs no
    /// syscall, elsewhere it runs on the blocking pool.
    pub async fn file_type(&self) -> io::Result<FileType> {
        let e = self.0.clone();
        asyncify(move || e.file_type()).await
    }
}
