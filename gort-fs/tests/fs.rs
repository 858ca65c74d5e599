//! gort::fs round trips in a fresh temporary directory: whole-file
//! helpers, directories and their listing, rename/copy/link/remove, and
//! `File` reads, writes and seeks through tokio's extension traits.

use std::io::{ErrorKind, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use gort::fs::{self, File, OpenOptions};
use gort::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// A unique empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "gort-fs-test-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn runtime() -> gort::runtime::Runtime {
    gort::runtime::Builder::new().procs(2).build().unwrap()
}

#[test]
fn write_then_read_returns_the_same_bytes() {
    let dir = TempDir::new("rw");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    runtime().block_on(async {
        let p = dir.0.join("data.bin");
        fs::write(&p, &data).await.unwrap();
        assert_eq!(fs::read(&p).await.unwrap(), data);
        assert_eq!(fs::metadata(&p).await.unwrap().len(), 100_000);
        fs::write(dir.0.join("t.txt"), "line one\nline two\n")
            .await
            .unwrap();
        assert_eq!(
            fs::read_to_string(dir.0.join("t.txt")).await.unwrap(),
            "line one\nline two\n"
        );
        let err = fs::read_to_string(&p).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
    });
}

#[test]
fn read_dir_lists_every_entry_across_chunks() {
    let dir = TempDir::new("ls");
    runtime().block_on(async {
        // 70 files and 3 directories: more than two 32-entry chunks.
        for i in 0..70 {
            fs::write(dir.0.join(format!("f{i:02}")), [i as u8])
                .await
                .unwrap();
        }
        for d in ["a", "b", "c"] {
            fs::create_dir(dir.0.join(d)).await.unwrap();
        }
        let mut rd = fs::read_dir(&dir.0).await.unwrap();
        let (mut files, mut dirs) = (Vec::new(), 0);
        while let Some(e) = rd.next_entry().await.unwrap() {
            assert_eq!(e.path(), dir.0.join(e.file_name()));
            if e.file_type().await.unwrap().is_dir() {
                dirs += 1;
            } else {
                assert_eq!(e.metadata().await.unwrap().len(), 1);
                files.push(e.file_name().into_string().unwrap());
            }
        }
        assert!(rd.next_entry().await.unwrap().is_none());
        files.sort();
        let want: Vec<String> = (0..70).map(|i| format!("f{i:02}")).collect();
        assert_eq!(files, want);
        assert_eq!(dirs, 3);
    });
}

#[test]
fn rename_copy_link_and_remove_move_files_as_std_does() {
    let dir = TempDir::new("mv");
    runtime().block_on(async {
        let (a, b, c, d) = (
            dir.0.join("a"),
            dir.0.join("b"),
            dir.0.join("c"),
            dir.0.join("d"),
        );
        fs::write(&a, b"payload").await.unwrap();
        fs::rename(&a, &b).await.unwrap();
        assert!(!fs::try_exists(&a).await.unwrap());
        assert_eq!(fs::copy(&b, &c).await.unwrap(), 7);
        fs::hard_link(&c, &d).await.unwrap();
        assert_eq!(fs::read(&d).await.unwrap(), b"payload");
        assert_eq!(
            fs::canonicalize(&d).await.unwrap(),
            std::fs::canonicalize(&d).unwrap()
        );
        assert!(fs::symlink_metadata(&d).await.unwrap().is_file());
        for p in [&b, &c, &d] {
            fs::remove_file(p).await.unwrap();
        }
        let nested = dir.0.join("x/y/z");
        fs::create_dir_all(&nested).await.unwrap();
        fs::write(nested.join("f"), b"").await.unwrap();
        let err = fs::remove_dir(dir.0.join("x")).await.unwrap_err();
        assert_ne!(err.kind(), ErrorKind::NotFound);
        fs::remove_dir_all(dir.0.join("x")).await.unwrap();
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
        let err = fs::remove_file(&a).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    });
}

#[test]
fn file_write_seek_and_read_see_one_cursor() {
    let dir = TempDir::new("file");
    runtime().block_on(async {
        let p = dir.0.join("f");
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .await
            .unwrap();
        // Writes return before they reach the file; the seek waits for them.
        for i in 0..10u8 {
            f.write_all(&[b'0' + i; 100]).await.unwrap();
        }
        assert_eq!(f.seek(SeekFrom::Start(250)).await.unwrap(), 250);
        let mut buf = [0u8; 100];
        f.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf[..50], &[b'2'; 50]);
        assert_eq!(&buf[50..], &[b'3'; 50]);
        // A write after a read lands where the reader stands, even though
        // the read may have buffered further ahead.
        f.write_all(b"XYZ").await.unwrap();
        assert_eq!(f.seek(SeekFrom::Current(0)).await.unwrap(), 353);
        f.seek(SeekFrom::End(-10)).await.unwrap();
        let mut tail = Vec::new();
        assert_eq!(f.read_to_end(&mut tail).await.unwrap(), 10);
        assert_eq!(tail, [b'9'; 10]);
        f.set_len(400).await.unwrap();
        f.sync_all().await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 400);
        drop(f);

        let all = fs::read(&p).await.unwrap();
        assert_eq!(all.len(), 400);
        assert_eq!(&all[350..353], b"XYZ");
        assert_eq!(all[349], b'3');
        assert_eq!(all[353], b'3');

        let mut f = File::open(&p).await.unwrap();
        let mut s = Vec::new();
        assert_eq!(f.read_to_end(&mut s).await.unwrap(), 400);
        assert_eq!(s, all);
        let std = f.into_std().await;
        assert_eq!(std.metadata().unwrap().len(), 400);
    });
}

#[test]
fn a_large_write_is_split_and_read_back_whole() {
    let dir = TempDir::new("big");
    runtime().block_on(async {
        let p = dir.0.join("big");
        let data: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
        let mut f = File::create(&p).await.unwrap();
        f.write_all(&data).await.unwrap();
        f.flush().await.unwrap();
        drop(f);
        let mut back = Vec::new();
        let n = File::open(&p)
            .await
            .unwrap()
            .read_to_end(&mut back)
            .await
            .unwrap();
        assert_eq!(n, data.len());
        assert!(back == data);
    });
}

#[test]
fn writing_a_read_only_file_reports_the_error_on_flush() {
    let dir = TempDir::new("ro");
    runtime().block_on(async {
        let p = dir.0.join("ro");
        fs::write(&p, b"x").await.unwrap();
        let mut f = File::open(&p).await.unwrap();
        // The write is accepted into the buffer; the failure surfaces later.
        let first = f.write(b"nope").await;
        let err = match first {
            Ok(n) => {
                assert_eq!(n, 4);
                f.flush().await.unwrap_err()
            }
            Err(e) => e,
        };
        assert_ne!(err.kind(), ErrorKind::NotFound);
        assert_eq!(fs::read(&p).await.unwrap(), b"x");
    });
}
