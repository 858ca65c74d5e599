//! `gort::io::{stdin, stdout, stderr}` in a child process (this test
//! binary re-executed with an environment variable): the parent feeds
//! its stdin and reads back exactly what it wrote to stdout and stderr.

use std::io::Write;
use std::process::{Command, Stdio};

use gort::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const CHILD_ENV: &str = "GORT_FS_STDIO_CHILD";
const TEST_NAME: &str = "child_stdio_round_trips_through_the_blocking_pool";
const LINES: usize = 2_000;

#[test]
fn child_stdio_round_trips_through_the_blocking_pool() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([TEST_NAME, "--exact", "--test-threads=1", "--quiet"])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for i in 0..LINES {
            writeln!(input, "{i}").unwrap();
        }
        // Dropping `input` closes the pipe: the child sees EOF.
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stderr}\n{stdout}");

    // libtest's header and summary surround the child's own lines.
    let mut lines = stdout.lines().skip_while(|l| *l != "begin");
    assert_eq!(lines.next(), Some("begin"), "{stdout}");
    for i in 0..LINES {
        assert_eq!(lines.next(), Some(format!("echo {}", i * 2).as_str()));
    }
    let want_sum: usize = (0..LINES).sum();
    assert_eq!(
        lines.next(),
        Some(format!("lines {LINES} sum {want_sum}").as_str())
    );
    let big = lines.next().unwrap();
    assert_eq!(big.len(), 300_000);
    assert!(big.bytes().all(|b| b == b'x'));
    assert!(stderr.contains("to stderr 12345\n"), "{stderr}");
}

fn child() {
    let rt = gort::runtime::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let mut out = gort::io::stdout();
        out.write_all(b"begin\n").await.unwrap();
        let mut lines = BufReader::new(gort::io::stdin()).lines();
        let (mut n, mut sum) = (0usize, 0usize);
        while let Some(l) = lines.next_line().await.unwrap() {
            let v: usize = l.parse().unwrap();
            out.write_all(format!("echo {}\n", v * 2).as_bytes())
                .await
                .unwrap();
            n += 1;
            sum += v;
        }
        out.write_all(format!("lines {n} sum {sum}\n").as_bytes())
            .await
            .unwrap();
        // One write larger than a pipe buffer, copied and written on the pool.
        let mut big = vec![b'x'; 300_000];
        big.push(b'\n');
        let wrote = out.write(&big).await.unwrap();
        assert_eq!(wrote, big.len());
        out.flush().await.unwrap();
        let mut err = gort::io::stderr();
        err.write_all(b"to stderr 12345\n").await.unwrap();
        err.flush().await.unwrap();
    });
}
