//! Real tokio programs, written by other people, moved to gort by the one
//! rewrite: `tokio` becomes `gort`.
//!
//! The programs are pinned in `tests/port/upstream/pins.json` (crate,
//! version, path, sha256, the edits each needed); their bytes are not in
//! this repository (`tests/port/upstream/README.md` says why). This test:
//!
//! 1. has cargo download the pinned crates (`cargo metadata` on a generated
//!    manifest gives each package's unpacked source directory);
//! 2. checks every pinned file's sha256 — proof that what runs is verbatim;
//! 3. copies each into one generated project under the target dir, with
//!    `tokio` rewritten to `gort` as a whole word (so `tokio_tungstenite`,
//!    `tokio_test`, `TokioIo` stay) and the listed edits applied;
//! 4. builds every program with one `cargo build --all-targets`;
//! 5. runs each server on a free loopback port, drives it with a client and
//!    asserts the exact bytes that come back; runs the pinned test files with
//!    `cargo test` and asserts how many pass.
//!
//! Every child process is killed when its guard drops, failure or not, and
//! every wait has a deadline: a hung program fails the test with its stderr.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

const PINS: &str = include_str!("port/upstream/pins.json");
const MANIFEST_TEMPLATE: &str = include_str!("port/Cargo.toml.in");
const LOCK: &str = include_str!("port/Cargo.lock");

/// How long cargo may take to download the pinned crates.
const FETCH_DEADLINE: Duration = Duration::from_secs(600);
/// How long the one build of every program may take (cold, 2 cores).
const BUILD_DEADLINE: Duration = Duration::from_secs(1200);
/// How long a server may take to start listening, or a client to finish.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

struct Program {
    name: String,
    krate: String,
    path: String,
    sha256: String,
    kind: String,
    /// Other files of the crate the program needs: (path, sha256).
    needs: Vec<(String, String)>,
    edits: Vec<(String, String)>,
    tests_passed: Option<u64>,
    /// Tests of an upstream test file not run, each with its reason.
    skip: Vec<String>,
    /// A client program: run by the named server's driver.
    client_of: Option<String>,
}

fn programs() -> (BTreeMap<String, String>, Vec<Program>) {
    let pins: Value = serde_json::from_str(PINS).expect("pins.json parses");
    let crates = pins["crates"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, c)| (name.clone(), c["version"].as_str().unwrap().to_string()))
        .collect();
    let programs = pins["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Program {
            name: p["name"].as_str().unwrap().to_string(),
            krate: p["crate"].as_str().unwrap().to_string(),
            path: p["path"].as_str().unwrap().to_string(),
            sha256: p["sha256"].as_str().unwrap().to_string(),
            kind: p["kind"].as_str().unwrap().to_string(),
            needs: p["needs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| {
                    let s = |k: &str| n[k].as_str().unwrap().to_string();
                    (s("path"), s("sha256"))
                })
                .collect(),
            edits: p["edits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let s = |k: &str| e[k].as_str().unwrap().to_string();
                    (s("from"), s("to"))
                })
                .collect(),
            tests_passed: p["tests_passed"].as_u64(),
            skip: p["skip"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["test"].as_str().unwrap().to_string())
                .collect(),
            client_of: p["client_of"].as_str().map(String::from),
        })
        .collect();
    (crates, programs)
}

/// A child process killed (and reaped) when dropped, whatever happened.
struct Proc {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Proc {
    fn spawn(name: &str, mut cmd: Command, logs: &Path) -> Proc {
        let stdout = logs.join(format!("{name}.stdout"));
        let stderr = logs.join(format!("{name}.stderr"));
        cmd.stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).unwrap())
            .stderr(fs::File::create(&stderr).unwrap());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start {cmd:?}: {e}"));
        Proc {
            name: name.to_string(),
            child,
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Fails the test with what the process printed.
    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!(
            "{}: {why}\n--- stdout\n{}\n--- stderr\n{}",
            self.name,
            tail(&self.stdout(), 6000),
            tail(&self.stderr(), 6000)
        );
    }

    /// Waits for exit until `deadline`; past it, kills and fails.
    fn wait(&mut self, deadline: Duration) -> ExitStatus {
        let end = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > end {
                self.fail(&format!("still running after {deadline:?}"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls until `addr` accepts a connection; fails if the process exits
    /// first or the deadline passes.
    fn wait_listening(&mut self, addr: SocketAddr) {
        let end = Instant::now() + RUN_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.fail(&format!("exited with {status} before listening on {addr}"));
            }
            if TcpStream::connect(addr).is_ok() {
                return;
            }
            if Instant::now() > end {
                self.fail(&format!("not listening on {addr} after {RUN_DEADLINE:?}"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls the process's stdout (or stderr) until `text` appears `n` times.
    fn wait_output(&mut self, text: &str, n: usize, stderr: bool) {
        let end = Instant::now() + RUN_DEADLINE;
        loop {
            let out = if stderr { self.stderr() } else { self.stdout() };
            if out.matches(text).count() >= n {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                self.fail(&format!("exited with {status} before printing {text:?}"));
            }
            if Instant::now() > end {
                self.fail(&format!("did not print {text:?} {n} times"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn cargo(dir: &Path, target: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    cmd
}

/// Runs cargo to completion within `deadline`; fails with its stderr.
fn run_cargo(name: &str, cmd: Command, logs: &Path, deadline: Duration, hint: &str) -> Proc {
    let mut p = Proc::spawn(name, cmd, logs);
    let status = p.wait(deadline);
    if !status.success() {
        p.fail(&format!("{status}{hint}"));
    }
    p
}

/// Writes `contents` unless the file already holds them, so reruns keep
/// mtimes and cargo builds incrementally.
fn write_if_changed(path: &Path, contents: &str) {
    if fs::read_to_string(path).ok().as_deref() != Some(contents) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }
}

/// `tokio` → `gort` wherever `tokio` is a whole identifier: `tokio::`,
/// `#[tokio::main]`, `use tokio`, `tokio::select!`. `tokio_stream`,
/// `tokio_util`, `tokio_tungstenite`, `TokioIo` are other identifiers and
/// stay.
fn rewrite_tokio(src: &str) -> String {
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut last = 0;
    for (i, _) in src.match_indices("tokio") {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + 5).copied();
        if !before.is_some_and(ident) && !after.is_some_and(ident) {
            out.push_str(&src[last..i]);
            out.push_str("gort");
            last = i + 5;
        }
    }
    out.push_str(&src[last..]);
    out
}

/// Downloads the pinned crates with cargo and returns each one's source dir.
fn fetch_crates(port: &Path, crates: &BTreeMap<String, String>) -> BTreeMap<String, PathBuf> {
    let dir = port.join("fetch");
    let mut manifest = String::from(
        "[package]\nname = \"gort-port-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[workspace]\n\n[lib]\npath = \"lib.rs\"\n\n[dependencies]\n",
    );
    for (name, version) in crates {
        manifest.push_str(&format!("{name} = \"={version}\"\n"));
    }
    write_if_changed(&dir.join("Cargo.toml"), &manifest);
    write_if_changed(&dir.join("lib.rs"), "");
    let mut cmd = cargo(&dir, &port.join("target"));
    cmd.args(["metadata", "--format-version", "1"]);
    let p = run_cargo(
        "cargo-metadata",
        cmd,
        port,
        FETCH_DEADLINE,
        "\n\nThe port test needs crates.io: cargo could not download the pinned \
         crates (tests/port/upstream/pins.json). This is a failure, not a skip.",
    );
    let meta: Value = serde_json::from_str(&p.stdout()).expect("cargo metadata prints JSON");
    let mut dirs = BTreeMap::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        if crates.get(name).map(String::as_str) == pkg["version"].as_str() {
            let manifest = Path::new(pkg["manifest_path"].as_str().unwrap());
            dirs.insert(name.to_string(), manifest.parent().unwrap().to_path_buf());
        }
    }
    for name in crates.keys() {
        assert!(dirs.contains_key(name), "cargo metadata has no {name}");
    }
    dirs
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Copies, verifies and rewrites every program into the generated project.
fn generate_project(
    port: &Path,
    dirs: &BTreeMap<String, PathBuf>,
    programs: &[Program],
) -> PathBuf {
    let project = port.join("project");
    let mut targets = String::new();
    for p in programs {
        let src_dir = &dirs[&p.krate];
        let file = src_dir.join(&p.path);
        let bytes = fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let sha = sha256_hex(&bytes);
        assert_eq!(
            sha, p.sha256,
            "{} {}: sha256 differs from the pin: not the verbatim upstream file",
            p.krate, p.path
        );
        let mut src = rewrite_tokio(std::str::from_utf8(&bytes).unwrap());
        for (from, to) in &p.edits {
            assert_eq!(
                src.matches(from.as_str()).count(),
                1,
                "{}: the edit's text {from:?} must occur exactly once",
                p.name
            );
            src = src.replacen(from.as_str(), to, 1);
        }
        let dest = match p.kind.as_str() {
            "lib" => "src/lib.rs".to_string(),
            "bin" => format!("src/bin/{}.rs", p.name),
            "example" => format!("examples/{}.rs", p.name),
            "test" => format!("tests/{}.rs", p.name),
            k => panic!("{}: unknown kind {k}", p.name),
        };
        write_if_changed(&project.join(&dest), &src);
        for (need, sha) in &p.needs {
            let bytes = fs::read(src_dir.join(need)).unwrap();
            assert_eq!(
                &sha256_hex(&bytes),
                sha,
                "{} {need}: sha256 differs from the pin: not the verbatim upstream file",
                p.krate
            );
            let src = rewrite_tokio(std::str::from_utf8(&bytes).unwrap());
            write_if_changed(&project.join(need), &src);
        }
        // One library (the crate whose bins, examples and tests use it
        // under its own name); any number of the other targets.
        let header = if p.kind == "lib" {
            "[lib]".to_string()
        } else {
            format!("[[{}]]", p.kind)
        };
        targets.push_str(&format!(
            "\n{header}\nname = \"{}\"\npath = \"{dest}\"\n",
            p.name
        ));
    }
    let gort = env!("CARGO_MANIFEST_DIR");
    let manifest = MANIFEST_TEMPLATE.replace("@GORT_PATH@", gort) + &targets;
    write_if_changed(&project.join("Cargo.toml"), &manifest);
    if !programs.iter().any(|p| p.kind == "lib") {
        write_if_changed(&project.join("src/lib.rs"), "");
    }
    if !LOCK.is_empty() {
        write_if_changed(&project.join("Cargo.lock"), LOCK);
    }
    project
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(RUN_DEADLINE)).unwrap();
    s.set_write_timeout(Some(RUN_DEADLINE)).unwrap();
    s
}

/// Reads one HTTP/1.1 response with a Content-Length body; returns it with
/// the `date` header (the one varying line) removed.
fn read_http_response(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "EOF inside the headers");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0; len];
    s.read_exact(&mut body).unwrap();
    let head: String = head
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("date: "))
        .collect();
    head + std::str::from_utf8(&body).unwrap()
}

/// The RFC 6455 example key and the accept value a server must derive.
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Opens a WebSocket on `path`; returns the stream and the response head.
fn ws_connect(addr: SocketAddr, path: &str) -> (TcpStream, String) {
    let mut s = connect(addr);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let head = read_http_response(&mut s);
    (s, head)
}

/// A client frame: FIN + opcode, masked payload (clients must mask).
fn ws_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// The exact bytes of an unmasked server frame.
fn ws_server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

fn ws_read_exact(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0; n];
    s.read_exact(&mut got).unwrap();
    got
}

fn hyper_util_server(bin: &Path, logs: &Path) {
    let addr = free_addr();
    let mut cmd = Command::new(bin.join("examples/hyper_util_server"));
    cmd.env("GORT_PORT_ADDR", addr.to_string());
    let mut server = Proc::spawn("hyper_util_server", cmd, logs);
    server.wait_listening(addr);
    for i in 0..3 {
        let mut s = connect(addr);
        write!(s, "GET /{i} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        assert_eq!(
            read_http_response(&mut s),
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 14\r\n\r\n\
             Hello, world!\n"
        );
    }
    // Three requests and the readiness probe's empty connection.
    server.wait_output("handled a request from", 4, false);
    assert!(server
        .stdout()
        .starts_with(&format!("listening on http://{addr}\n")));
}

fn hyper_util_server_graceful(bin: &Path, logs: &Path) {
    let addr = free_addr();
    let mut cmd = Command::new(bin.join("examples/hyper_util_server_graceful"));
    cmd.env("GORT_PORT_ADDR", addr.to_string());
    let mut server = Proc::spawn("hyper_util_server_graceful", cmd, logs);
    server.wait_listening(addr);
    // The readiness probe's connection, gone before the real one.
    server.wait_output("connection dropped", 1, true);
    // A kept-alive connection: served (the handler sleeps 5 s), then idle
    // when ctrl-c arrives, so graceful shutdown closes it and the program
    // returns from main.
    let mut s = connect(addr);
    write!(s, "GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    assert_eq!(
        read_http_response(&mut s),
        "HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nHello World!"
    );
    let kill = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"", "the idle connection is closed without bytes");
    let status = server.wait(RUN_DEADLINE);
    if !status.success() {
        server.fail(&format!("exited with {status}"));
    }
    let err = server.stderr();
    assert!(
        err.contains("Ctrl-C received, starting shutdown\n"),
        "{err}"
    );
    // The connection task may print "connection dropped" after this line:
    // the watched connection signals the shutdown before its task returns.
    assert!(err.contains("Gracefully shutdown!\n"), "{err}");
}

fn tungstenite_echo_server(bin: &Path, logs: &Path) {
    let addr = free_addr();
    let mut cmd = Command::new(bin.join("examples/tungstenite_echo_server"));
    cmd.arg(addr.to_string());
    let mut server = Proc::spawn("tungstenite_echo_server", cmd, logs);
    server.wait_listening(addr);
    let (mut s, head) = ws_connect(addr, "/");
    assert_eq!(
        head,
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\
             sec-websocket-accept: {WS_ACCEPT}\r\n\r\n"
        )
    );
    for i in 0..5 {
        let text = format!("hello gort {i}");
        s.write_all(&ws_frame(0x1, text.as_bytes())).unwrap();
        let want = ws_server_frame(0x1, text.as_bytes());
        assert_eq!(ws_read_exact(&mut s, want.len()), want);
        let bin = [i as u8, 0xff, 0x00, 0x7f];
        s.write_all(&ws_frame(0x2, &bin)).unwrap();
        let want = ws_server_frame(0x2, &bin);
        assert_eq!(ws_read_exact(&mut s, want.len()), want);
    }
}

/// Two WebSocket clients on a broadcast chat server: what one sends, the
/// other receives, byte for byte. The server registers a peer just after
/// the handshake, so the sender repeats its (identical) message until the
/// other side has one: bounded, and the bytes asserted are exact.
fn chat(addr: SocketAddr, path: &str, expect_head: &str) {
    let (mut a, head_a) = ws_connect(addr, path);
    let (mut b, head_b) = ws_connect(addr, path);
    assert_eq!(head_a, expect_head);
    assert_eq!(head_b, expect_head);
    let msg = b"hi from a";
    let want = ws_server_frame(0x1, msg);
    b.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..300 {
        a.write_all(&ws_frame(0x1, msg)).unwrap();
        let mut buf = [0u8; 64];
        match b.read(&mut buf) {
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() >= want.len() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("chat read: {e}"),
        }
    }
    assert!(got.len() >= want.len(), "b never received a's message");
    assert_eq!(&got[..want.len()], &want[..]);
}

fn tungstenite_chat_server(bin: &Path, logs: &Path) {
    let addr = free_addr();
    let mut cmd = Command::new(bin.join("examples/tungstenite_chat_server"));
    cmd.arg(addr.to_string());
    let mut server = Proc::spawn("tungstenite_chat_server", cmd, logs);
    server.wait_listening(addr);
    chat(
        addr,
        "/",
        &format!(
            "HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\
             sec-websocket-accept: {WS_ACCEPT}\r\n\r\n"
        ),
    );
    server.wait_output("Received a message from", 1, false);
}

fn tungstenite_hyper_upgrade_server(bin: &Path, logs: &Path) {
    let addr = free_addr();
    let mut cmd = Command::new(bin.join("examples/tungstenite_hyper_upgrade_server"));
    cmd.arg(addr.to_string());
    let mut server = Proc::spawn("tungstenite_hyper_upgrade_server", cmd, logs);
    server.wait_listening(addr);
    let mut s = connect(addr);
    write!(s, "GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    assert_eq!(
        read_http_response(&mut s),
        "HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nHello World!"
    );
    chat(
        addr,
        "/socket",
        &format!(
            "HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\
             sec-websocket-accept: {WS_ACCEPT}\r\nmycustomheader: :)\r\n\
             some_tungstenite_header: header_value\r\n\r\n"
        ),
    );
    server.wait_output("Received a message from", 1, false);
}

/// A server program's client: runs the built binary under `bin`, logs in
/// the second path, asserts what it serves.
type Driver = fn(&Path, &Path);

/// Runs a client program to completion and returns its stdout; fails
/// with its output if it fails or outlives the deadline.
fn run_client(name: &str, mut cmd: Command, logs: &Path) -> String {
    cmd.env("RUST_LOG", "off");
    let mut p = Proc::spawn(name, cmd, logs);
    let status = p.wait(RUN_DEADLINE);
    if !status.success() {
        p.fail(&format!("exited with {status}"));
    }
    p.stdout()
}

/// mini-redis: its server, driven by its own clients — the cli, and the
/// hello_world, pub and sub examples.
fn mini_redis(bin: &Path, logs: &Path) {
    let addr = free_addr();
    let port = addr.port().to_string();
    let mut cmd = Command::new(bin.join("mini-redis-server"));
    cmd.args(["--port", &port]).env("RUST_LOG", "off");
    let mut server = Proc::spawn("mini-redis-server", cmd, logs);
    server.wait_listening(addr);

    let cli = |args: &[&str]| {
        let mut cmd = Command::new(bin.join("mini-redis-cli"));
        cmd.args(["--port", &port]).args(args);
        run_client("mini-redis-cli", cmd, logs)
    };
    assert_eq!(cli(&["get", "foo"]), "(nil)\n");
    assert_eq!(cli(&["set", "foo", "bar"]), "OK\n");
    assert_eq!(cli(&["get", "foo"]), "\"bar\"\n");
    assert_eq!(cli(&["set", "foo", "gort"]), "OK\n");
    assert_eq!(cli(&["get", "foo"]), "\"gort\"\n");

    let example = |name: &str| {
        let mut cmd = Command::new(bin.join("examples").join(name));
        cmd.env("GORT_PORT_ADDR", addr.to_string());
        cmd
    };
    assert_eq!(
        run_client(
            "mini_redis_hello_world",
            example("mini_redis_hello_world"),
            logs
        ),
        "got value from the server; success=true\n"
    );
    assert_eq!(cli(&["get", "hello"]), "\"world\"\n");

    // sub waits for one message on channel foo; pub publishes one. sub's
    // subscription is not observable from outside, so pub runs until sub
    // has its message (each run publishes the same bytes): bounded.
    let mut sub = Proc::spawn("mini_redis_sub", example("mini_redis_sub"), logs);
    for _ in 0..200 {
        if sub.child.try_wait().unwrap().is_some() {
            break;
        }
        run_client("mini_redis_pub", example("mini_redis_pub"), logs);
        thread::sleep(Duration::from_millis(20));
    }
    let status = sub.wait(RUN_DEADLINE);
    if !status.success() {
        sub.fail(&format!("exited with {status}"));
    }
    assert_eq!(
        sub.stdout(),
        "got message from the channel: foo; message = b\"bar\"\n"
    );
}

/// Runs one pinned test file with `cargo test` and returns how many passed.
fn upstream_tests(project: &Path, target: &Path, logs: &Path, name: &str, skip: &[String]) -> u64 {
    let mut cmd = cargo(project, target);
    cmd.args(["test", "--test", name, "--", "--exact"]);
    for t in skip {
        cmd.args(["--skip", t]);
    }
    let p = run_cargo(name, cmd, logs, RUN_DEADLINE * 2, "");
    let out = p.stdout();
    let line = out
        .lines()
        .find(|l| l.starts_with("test result: ok."))
        .unwrap_or_else(|| panic!("{name}: no test result line\n{out}"));
    line.split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{name}: {line}"))
}

#[test]
fn tokio_programs_run_on_gort_after_the_one_rewrite() {
    let port = Path::new(env!("CARGO_TARGET_TMPDIR")).join("port");
    let logs = port.join("logs");
    fs::create_dir_all(&logs).unwrap();
    let target = port.join("target");
    let (crates, programs) = programs();
    let dirs = fetch_crates(&port, &crates);
    let project = generate_project(&port, &dirs, &programs);

    let mut cmd = cargo(&project, &target);
    cmd.args(["build", "--all-targets"]);
    run_cargo("cargo-build", cmd, &logs, BUILD_DEADLINE, "");
    let bin = target.join("debug");

    let servers: &[(&str, Driver)] = &[
        ("hyper_util_server", hyper_util_server),
        ("hyper_util_server_graceful", hyper_util_server_graceful),
        ("tungstenite_echo_server", tungstenite_echo_server),
        ("tungstenite_chat_server", tungstenite_chat_server),
        (
            "tungstenite_hyper_upgrade_server",
            tungstenite_hyper_upgrade_server,
        ),
        ("mini-redis-server", mini_redis),
    ];
    for p in &programs {
        match p.kind.as_str() {
            "test" => {
                let passed = upstream_tests(&project, &target, &logs, &p.name, &p.skip);
                assert_eq!(
                    Some(passed),
                    p.tests_passed,
                    "{}: tests passed vs pins.json's tests_passed",
                    p.name
                );
                eprintln!("port: {} ({} {}): {passed} passed", p.name, p.krate, p.path);
            }
            "lib" => {}
            _ if p.client_of.is_some() => {
                let server = p.client_of.as_deref().unwrap();
                assert!(
                    programs.iter().any(|q| q.name == server),
                    "{}: its server {server} is not pinned",
                    p.name
                );
            }
            _ => {
                let run = servers
                    .iter()
                    .find(|(n, _)| *n == p.name)
                    .unwrap_or_else(|| panic!("{}: no driver in tests/port.rs", p.name));
                (run.1)(&bin, &logs);
                eprintln!("port: {} ({} {}): ok", p.name, p.krate, p.path);
            }
        }
    }
}
