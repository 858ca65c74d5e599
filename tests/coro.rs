//! Stackful goroutines (`gort::go`, `gort::coro`) on the real runtime.
//!
//! The context switch is assembly, which Miri cannot run: this file is
//! compiled out under Miri.
#![cfg(not(miri))]

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::thread::ThreadId;

use gort::coro::wait;

fn rt(procs: usize) -> gort::runtime::Runtime {
    gort::runtime::Builder::new().procs(procs).build().unwrap()
}

/// One P whose monitor never hands it away: a task queued behind the
/// running goroutine can run only when the goroutine gives the P up (on a
/// slow or loaded machine a 10 ms handoff would let it run elsewhere and
/// make the ordering tests meaningless).
fn one_p_without_handoff() -> gort::runtime::Runtime {
    gort::runtime::Builder::new()
        .procs(1)
        .handoff_after(std::time::Duration::from_secs(3600))
        .build()
        .unwrap()
}

#[test]
fn go_runs_closure_on_its_own_stack_and_returns_through_join_handle() {
    let outer = 0u8;
    let outer_sp = &outer as *const u8 as usize;
    let (v, sp) = rt(1).block_on(async {
        // SAFETY: the goroutine never switches.
        unsafe {
            gort::go(|| {
                let local = 41;
                (local + 1, &local as *const i32 as usize)
            })
        }
        .await
        .unwrap()
    });
    assert_eq!(v, 42);
    // The coroutine's locals live in its mmap'd stack, not near this thread's.
    assert!(sp.abs_diff(outer_sp) > 1 << 20, "{sp:#x} vs {outer_sp:#x}");
}

#[test]
fn hundred_thousand_coroutines_each_doing_a_channel_send_receive_all_complete() {
    const TOTAL: usize = 100_000;
    // Waves keep the number of live stacks (two kernel mappings each) far
    // below vm.max_map_count; the pool reuses stacks across waves.
    const WAVE: usize = 2_000;
    let done = Arc::new(AtomicUsize::new(0));
    let sum = rt(2).block_on({
        let done = done.clone();
        async move {
            let mut sum = 0u64;
            for wave in 0..TOTAL / WAVE {
                let (tx, rx) = gort::sync::chan::<u64>(0);
                let mut hs = Vec::with_capacity(WAVE);
                for i in 0..WAVE / 2 {
                    let tx = tx.clone();
                    let d = done.clone();
                    let v = (wave * WAVE + i) as u64;
                    let small = gort::coro::Builder::new().stack_size(32 * 1024);
                    // SAFETY: across its wait the goroutine holds a
                    // channel endpoint, an `Arc` and an integer, all
                    // `Send`; no thread-locals.
                    hs.push(unsafe {
                        small.spawn(move || {
                            wait(tx.send(v)).unwrap();
                            d.fetch_add(1, SeqCst);
                            0
                        })
                    });
                    let rx = rx.clone();
                    let d = done.clone();
                    let small = gort::coro::Builder::new().stack_size(32 * 1024);
                    // SAFETY: as above.
                    hs.push(unsafe {
                        small.spawn(move || {
                            let v = wait(rx.recv()).unwrap();
                            d.fetch_add(1, SeqCst);
                            v
                        })
                    });
                }
                drop(tx);
                for h in hs {
                    sum += h.await.unwrap();
                }
            }
            sum
        }
    });
    assert_eq!(done.load(SeqCst), TOTAL);
    let expected: u64 = (0..TOTAL / WAVE)
        .flat_map(|w| (0..WAVE / 2).map(move |i| (w * WAVE + i) as u64))
        .sum();
    assert_eq!(sum, expected, "every sent value was received exactly once");
}

/// The `go` contract lets a goroutine hold these across a switch because
/// they are `Send` (the test compiles only if they are).
#[test]
fn gort_guards_and_handles_the_go_contract_allows_across_a_switch_are_send() {
    fn send<T: Send>() {}
    send::<gort::sync::MutexGuard<'static, Vec<u8>>>();
    send::<gort::sync::OwnedMutexGuard<Vec<u8>>>();
    send::<gort::sync::RwMutexReadGuard<'static, Vec<u8>>>();
    send::<gort::sync::RwMutexWriteGuard<'static, Vec<u8>>>();
    send::<gort::sync::SemaphorePermit<'static>>();
    send::<gort::sync::OwnedSemaphorePermit>();
    send::<gort::sync::mpsc::Permit<'static, Vec<u8>>>();
    send::<gort::sync::mpsc::OwnedPermit<Vec<u8>>>();
    send::<gort::sync::Sender<Vec<u8>>>();
    send::<gort::sync::Receiver<Vec<u8>>>();
    send::<gort::JoinHandle<Vec<u8>>>();
    send::<gort::gc::Gc<u64>>();
}

#[test]
fn coroutine_blocked_in_wait_on_a_channel_does_not_block_its_m() {
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let l = log.clone();
    one_p_without_handoff().block_on(async move {
        let (tx, rx) = gort::sync::chan::<u32>(0);
        let receiver = gort::coro::Builder::new().name("receiver");
        // SAFETY: across its waits the goroutine holds an `Arc`, a channel
        // endpoint and a `JoinHandle` (all `Send`); std `MutexGuard`s are
        // temporaries and `gort::spawn` runs before the first switch.
        let a = unsafe {
            receiver.spawn(move || {
                let l2 = l.clone();
                // One P: this task can only run once the coroutine gives the P up.
                let b = gort::spawn(async move {
                    l2.lock().unwrap().push("b: runs".to_string());
                    let dump = gort::runtime::dump_tasks();
                    let line = dump
                        .lines()
                        .find(|s| s.contains("\"receiver\""))
                        .unwrap_or_default()
                        .to_string();
                    l2.lock().unwrap().push(format!("b: sees {line}"));
                    tx.send(7).await.unwrap();
                });
                l.lock().unwrap().push("a: waiting".to_string());
                let v = wait(rx.recv()).unwrap();
                l.lock().unwrap().push(format!("a: got {v}"));
                wait(b).unwrap();
            })
        };
        a.await.unwrap();
    });
    let log = log.lock().unwrap();
    assert_eq!(log[0], "a: waiting");
    assert_eq!(log[1], "b: runs");
    assert!(
        log[2].contains("[chan receive"),
        "the dump shows the coroutine's wait reason: {}",
        log[2]
    );
    assert_eq!(log[3], "a: got 7");
}

#[test]
fn coroutine_yield_now_lets_the_other_tasks_of_its_p_run_first() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    one_p_without_handoff().block_on(async move {
        // SAFETY: across its switches the goroutine holds an `Arc` and a
        // `JoinHandle`, both `Send`; each std `MutexGuard` is a temporary
        // dropped before the next switch; `gort::spawn` runs only before.
        unsafe {
            gort::go(move || {
                let l2 = l.clone();
                let b = gort::spawn(async move { l2.lock().unwrap().push("b") });
                l.lock().unwrap().push("a: before yield");
                gort::coro::yield_now();
                l.lock().unwrap().push("a: after yield");
                wait(b).unwrap();
            })
        }
        .await
        .unwrap();
    });
    assert_eq!(
        *log.lock().unwrap(),
        ["a: before yield", "b", "a: after yield"]
    );
}

#[test]
fn coroutines_count_as_goroutines_while_they_wait() {
    rt(2).block_on(async {
        let base = gort::runtime::num_goroutine();
        let (tx, rx) = gort::sync::chan::<()>(0);
        let hs: Vec<_> = (0..10)
            .map(|_| {
                let rx = rx.clone();
                // SAFETY: across its wait the goroutine holds its `Send`
                // receiver only.
                unsafe { gort::go(move || wait(rx.recv())) }
            })
            .collect();
        // Let them all reach their wait.
        while gort::runtime::num_goroutine() < base + 10 {
            gort::task::yield_now().await;
        }
        assert_eq!(gort::runtime::num_goroutine(), base + 10);
        tx.close().unwrap();
        for h in hs {
            assert_eq!(h.await.unwrap(), None);
        }
        assert_eq!(gort::runtime::num_goroutine(), base);
    });
}

/// The id of the running thread, looked up in a frame of its own: a
/// goroutine that asks before and after a switch must not reuse the
/// thread-local address computed before it (rule 3 of the `go` contract).
#[inline(never)]
fn this_thread() -> ThreadId {
    std::thread::current().id()
}

#[test]
fn coroutines_migrate_between_ms_under_stealing_and_still_complete() {
    // Two Ps; each coroutine yields many times and, between yields, holds
    // its M in a short blocking sleep, so the queue of that P piles up and
    // the other P's M steals from it. Repeat until some coroutine has been
    // resumed on more than one thread (bounded attempts, no timing assert).
    const COROS: usize = 8;
    const ROUNDS: usize = 30;
    let mut migrated = false;
    for _attempt in 0..10 {
        let seen: Vec<HashSet<ThreadId>> = rt(2).block_on(async {
            let hs: Vec<_> = (0..COROS)
                .map(|_| {
                    // SAFETY: across its switches the goroutine holds a
                    // `HashSet` of thread ids (`Send`); it reads the current
                    // thread only through `this_thread`, never inlined.
                    unsafe {
                        gort::go(|| {
                            let mut seen = HashSet::new();
                            for _ in 0..ROUNDS {
                                seen.insert(this_thread());
                                std::thread::sleep(std::time::Duration::from_micros(200));
                                gort::coro::yield_now();
                            }
                            seen.insert(this_thread());
                            seen
                        })
                    }
                })
                .collect();
            let mut out = Vec::new();
            for h in hs {
                out.push(h.await.unwrap());
            }
            out
        });
        assert_eq!(seen.len(), COROS, "every coroutine completed");
        if seen.iter().any(|s| s.len() > 1) {
            migrated = true;
            break;
        }
    }
    assert!(migrated, "no coroutine ever resumed on a second M");
}

#[test]
fn panic_in_coroutine_comes_back_as_join_error_and_runtime_keeps_running() {
    let (err, after) = rt(1).block_on(async {
        // SAFETY: neither goroutine switches.
        let err = unsafe { gort::go(|| -> u32 { panic!("boom in coroutine") }) }
            .await
            .unwrap_err();
        // SAFETY: as above.
        let after = unsafe { gort::go(|| 5) }.await.unwrap();
        (err, after)
    });
    assert!(err.is_panic());
    assert_eq!(
        *err.into_panic().downcast::<&'static str>().unwrap(),
        "boom in coroutine"
    );
    assert_eq!(after, 5);
}

struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn abort_of_a_suspended_coroutine_drops_the_values_on_its_stack() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let (cancelled, after_wait) = rt(1).block_on(async move {
        let (_tx, rx) = gort::sync::chan::<()>(0);
        let reached = Arc::new(AtomicUsize::new(0));
        let r = reached.clone();
        // SAFETY: across its wait the goroutine holds its receiver and two
        // `Arc`s, all `Send`; no thread-locals.
        let h = unsafe {
            gort::go(move || {
                let _on_stack = CountDrop(d);
                r.store(1, SeqCst);
                wait(rx.recv()); // never ready: `_tx` lives in the caller
                r.store(2, SeqCst);
            })
        };
        while reached.load(SeqCst) == 0 {
            gort::task::yield_now().await;
        }
        h.abort();
        let err = h.await.unwrap_err();
        (err.is_cancelled(), reached.load(SeqCst))
    });
    assert!(cancelled);
    assert_eq!(after_wait, 1, "the code after the aborted wait never ran");
    assert_eq!(
        drops.load(SeqCst),
        1,
        "the value on the coroutine stack was dropped"
    );
}

#[test]
fn abort_from_another_os_thread_unwinds_a_coroutine_parked_in_wait() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let (cancelled, after_wait) = rt(2).block_on(async move {
        let (_tx, rx) = gort::sync::chan::<()>(0);
        let reached = Arc::new(AtomicUsize::new(0));
        let r = reached.clone();
        // SAFETY: across its wait the goroutine holds its receiver and two
        // `Arc`s, all `Send`; no thread-locals.
        let h = unsafe {
            gort::go(move || {
                let _on_stack = CountDrop(d);
                r.store(1, SeqCst);
                wait(rx.recv()); // never ready: `_tx` lives in the caller
                r.store(2, SeqCst);
            })
        };
        while reached.load(SeqCst) == 0 {
            gort::task::yield_now().await;
        }
        let abort = h.abort_handle();
        std::thread::spawn(move || abort.abort()).join().unwrap();
        let err = h.await.unwrap_err();
        (err.is_cancelled(), reached.load(SeqCst))
    });
    assert!(cancelled);
    assert_eq!(after_wait, 1, "the code after the aborted wait never ran");
    assert_eq!(
        drops.load(SeqCst),
        1,
        "the value on the coroutine stack was dropped"
    );
}

#[test]
fn aborted_coroutine_that_catches_the_cancel_unwinds_again_at_its_next_wait() {
    let log = Arc::new(Mutex::new(Vec::<&'static str>::new()));
    let l = log.clone();
    let cancelled = rt(1).block_on(async move {
        let (_tx, rx) = gort::sync::chan::<()>(0);
        let reached = Arc::new(AtomicUsize::new(0));
        let r = reached.clone();
        // SAFETY: across its waits the goroutine holds its receiver, two
        // `Arc`s and the caught payload (a `Box<dyn Any + Send>`); each std
        // `MutexGuard` is a temporary dropped before the next switch.
        let h = unsafe {
            gort::go(move || {
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    r.store(1, SeqCst);
                    wait(rx.recv());
                    l.lock().unwrap().push("after the first wait");
                }));
                l.lock().unwrap().push(if caught.is_err() {
                    "caught the cancellation"
                } else {
                    "first wait returned"
                });
                // Still cancelled: this wait unwinds too.
                wait(rx.recv());
                l.lock().unwrap().push("after the second wait");
            })
        };
        while reached.load(SeqCst) == 0 {
            gort::task::yield_now().await;
        }
        h.abort();
        h.await.unwrap_err().is_cancelled()
    });
    assert!(cancelled);
    assert_eq!(*log.lock().unwrap(), ["caught the cancellation"]);
}

#[test]
fn runtime_drop_unwinds_a_coroutine_suspended_in_yield_now() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let rt = rt(2);
    rt.block_on(async move {
        let reached = Arc::new(AtomicUsize::new(0));
        let r = reached.clone();
        // SAFETY: across its switches the goroutine holds two `Arc`s.
        unsafe {
            gort::go(move || {
                let _on_stack = CountDrop(d);
                r.store(1, SeqCst);
                loop {
                    gort::coro::yield_now();
                }
            })
        };
        while reached.load(SeqCst) == 0 {
            gort::task::yield_now().await;
        }
    });
    assert_eq!(drops.load(SeqCst), 0, "the coroutine still runs");
    drop(rt);
    assert_eq!(
        drops.load(SeqCst),
        1,
        "shutdown unwound the coroutine's stack"
    );
}

/// Whether a runtime was current, and the name of the thread, at a drop.
type DropSeen = Arc<Mutex<Option<(bool, Option<String>)>>>;

/// Records, when dropped, whether a runtime was current and which thread
/// ran the drop.
struct RecordDrop(DropSeen);

impl Drop for RecordDrop {
    fn drop(&mut self) {
        let runtime = gort::runtime::Handle::try_current().is_ok();
        let thread = std::thread::current().name().map(String::from);
        *self.0.lock().unwrap() = Some((runtime, thread));
    }
}

#[test]
fn coroutine_dropped_by_a_panicking_task_unwinds_on_a_fresh_thread_that_sees_the_runtime() {
    let seen: DropSeen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let err = rt(1).block_on(async move {
        gort::spawn(async move {
            let (_tx, rx) = gort::sync::chan::<()>(0);
            // SAFETY: across its wait the goroutine holds its receiver and
            // an `Arc`; only this task polls it.
            let mut coro = unsafe {
                gort::coro::CoroFuture::new(move || {
                    let _r = RecordDrop(s);
                    wait(rx.recv());
                })
            };
            let parked =
                std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut coro).poll(cx).is_pending()))
                    .await;
            assert!(parked, "the goroutine parks in its wait");
            panic!("a task panics with a parked goroutine in its frame");
        })
        .await
        .unwrap_err()
    });
    assert!(err.is_panic());
    assert_eq!(
        *seen.lock().unwrap(),
        Some((true, Some("gort-coro-cancel".to_string()))),
        "the goroutine's stack unwound on the cancel thread, inside the runtime"
    );
}

#[test]
fn wait_outside_a_coroutine_blocks_the_thread_and_hands_its_p_off() {
    let v = rt(1).block_on(async {
        let (tx, rx) = gort::sync::chan::<u32>(0);
        let blocked = gort::spawn(async move { wait(rx.recv()) });
        let sender = gort::spawn(async move { tx.send(9).await.unwrap() });
        sender.await.unwrap();
        blocked.await.unwrap()
    });
    assert_eq!(v, Some(9));
    // And on a plain thread.
    assert_eq!(wait(async { 3 }), 3);
}

const OVERFLOW_CHILD: &str = "GORT_CORO_TEST_OVERFLOW_CHILD";

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let buf = std::hint::black_box([n as u8; 512]);
    if n == 0 {
        return buf[0] as u64;
    }
    std::hint::black_box(recurse(n - 1)) + buf[7] as u64
}

#[test]
fn deep_recursion_hits_the_guard_page_and_aborts_with_the_overflow_message() {
    if std::env::var_os(OVERFLOW_CHILD).is_some() {
        rt(1).block_on(async {
            let deep = gort::coro::Builder::new()
                .name("deep-recursion")
                .stack_size(64 * 1024);
            // SAFETY: the goroutine never switches.
            let h = unsafe { deep.spawn(|| recurse(1_000_000)) };
            let _ = h.await;
        });
        unreachable!("the recursion must overflow its 64 KiB stack");
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "deep_recursion_hits_the_guard_page_and_aborts_with_the_overflow_message",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(OVERFLOW_CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("goroutine stack overflow"),
        "stderr: {stderr}"
    );
    assert!(stderr.contains("\"deep-recursion\""), "stderr: {stderr}");
    assert!(!out.status.success());
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc_sigabrt()),
        "the child died by abort: {:?}",
        out.status
    );
}

fn libc_sigabrt() -> i32 {
    6 // SIGABRT on Linux and the BSDs
}

/// Calls `wait` from its destructor, which may run while the goroutine
/// unwinds: that `wait` must block the thread, never switch stacks.
struct WaitOnDrop(Arc<AtomicUsize>);

impl Drop for WaitOnDrop {
    fn drop(&mut self) {
        let v = wait(async { 1 });
        self.0.fetch_add(v, SeqCst);
    }
}

#[test]
fn wait_in_a_destructor_during_unwinding_blocks_instead_of_switching() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (d1, d2) = (drops.clone(), drops.clone());
    let (panicked, cancelled) = rt(1).block_on(async move {
        // SAFETY: the goroutine's one `wait` runs in a destructor during the
        // unwind, where it blocks the thread instead of switching.
        let p = unsafe {
            gort::go(move || {
                let _g = WaitOnDrop(d1);
                panic!("unwind through a waiting destructor");
            })
        }
        .await
        .unwrap_err();
        let (_tx, rx) = gort::sync::chan::<()>(0);
        let started = Arc::new(AtomicUsize::new(0));
        let s = started.clone();
        // SAFETY: across its wait the goroutine holds its receiver and two
        // `Arc`s; the destructor's `wait` blocks instead of switching.
        let h = unsafe {
            gort::go(move || {
                let _g = WaitOnDrop(d2);
                s.store(1, SeqCst);
                wait(rx.recv());
            })
        };
        while started.load(SeqCst) == 0 {
            gort::task::yield_now().await;
        }
        h.abort();
        (p.is_panic(), h.await.unwrap_err().is_cancelled())
    });
    assert!(panicked);
    assert!(cancelled);
    assert_eq!(drops.load(SeqCst), 2, "both destructors ran their wait");
}

/// Selects the scenario a re-executed copy of this test binary runs.
const PANIC_DROP_CHILD: &str = "GORT_CORO_TEST_PANIC_DROP_CHILD";

/// Prints to stderr when dropped, so the parent sees which values on a
/// cancelled coroutine's stack were dropped.
struct Announce(&'static str);

impl Drop for Announce {
    fn drop(&mut self) {
        eprintln!("dropped: {}", self.0);
    }
}

/// Re-runs the test `name` of this binary in a child process with
/// `PANIC_DROP_CHILD` set, waits at most 60 s for it, and returns its exit
/// status and stderr; a child still running then is killed and the test
/// fails (the hang the scenario must not have).
fn run_panic_drop_child(name: &str) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(PANIC_DROP_CHILD, "1")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        pipe.read_to_string(&mut s).ok();
        s
    });
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() >= give_up {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let Some(status) = status else {
        child.kill().unwrap();
        child.wait().unwrap();
        let stderr = reader.join().unwrap();
        panic!("the child still ran after 60 s: the runtime drop hung\nstderr: {stderr}");
    };
    (status, reader.join().unwrap())
}

/// Set by a child scenario's coroutine once it has reached the point the
/// scenario is about.
static CHILD_CORO_STARTED: AtomicUsize = AtomicUsize::new(0);

const CHILD_PANIC: &str = "assertion failed in a test with a coroutine alive";

/// Child side: runs `body` as a coroutine on a 2-P runtime, waits until it
/// stores 1 in `CHILD_CORO_STARTED`, then panics, so the runtime is dropped
/// while this thread unwinds (a failing `assert!` in a `#[gort::test]`).
///
/// # Safety
/// `body` keeps the contract of `gort::go`.
unsafe fn drop_runtime_while_panicking(body: impl FnOnce() + Send + 'static) {
    let rt = rt(2);
    rt.block_on(async {
        // SAFETY: our caller says `body` keeps the contract.
        unsafe { gort::go(body) };
        while CHILD_CORO_STARTED.load(SeqCst) == 0 {
            gort::task::yield_now().await;
        }
    });
    panic!("{CHILD_PANIC}");
}

/// Parent side: the child ended by the test's own panic, and printed each
/// of `lines` (in that order) on its way.
fn assert_child_panicked_after(name: &str, lines: &[&str]) {
    let (status, stderr) = run_panic_drop_child(name);
    assert_eq!(
        status.code(),
        Some(101),
        "the test failed with its panic: {stderr}"
    );
    assert!(stderr.contains(CHILD_PANIC), "stderr: {stderr}");
    let mut rest = &stderr[..];
    for line in lines {
        match rest.find(line) {
            Some(at) => rest = &rest[at + line.len()..],
            None => panic!("{line:?} missing or out of order in the child's stderr: {stderr}"),
        }
    }
}

#[test]
fn runtime_dropped_while_its_thread_panics_cancels_a_coroutine_parked_in_wait() {
    if std::env::var_os(PANIC_DROP_CHILD).is_some() {
        // SAFETY: across its waits the goroutine holds only `Send` values
        // (its channel endpoints, an `Announce`).
        return unsafe {
            drop_runtime_while_panicking(|| {
                let _on_stack = Announce("parked coroutine's local");
                // The sender lives on this stack, so the receive never completes.
                let (_tx, rx) = gort::sync::chan::<()>(0);
                CHILD_CORO_STARTED.store(1, SeqCst);
                wait(rx.recv());
                unreachable!("the receive never completes");
            })
        };
    }
    assert_child_panicked_after(
        "runtime_dropped_while_its_thread_panics_cancels_a_coroutine_parked_in_wait",
        &["dropped: parked coroutine's local"],
    );
}

#[test]
fn runtime_dropped_while_its_thread_panics_cancels_a_coroutine_suspended_in_yield_now() {
    if std::env::var_os(PANIC_DROP_CHILD).is_some() {
        // SAFETY: across its switches the goroutine holds an `Announce`.
        return unsafe {
            drop_runtime_while_panicking(|| {
                let _on_stack = Announce("yielding coroutine's local");
                CHILD_CORO_STARTED.store(1, SeqCst);
                loop {
                    gort::coro::yield_now();
                }
            })
        };
    }
    assert_child_panicked_after(
        "runtime_dropped_while_its_thread_panics_cancels_a_coroutine_suspended_in_yield_now",
        &["dropped: yielding coroutine's local"],
    );
}

#[test]
fn runtime_dropped_while_its_thread_panics_unwinds_a_coroutine_again_after_it_catches_the_cancel() {
    if std::env::var_os(PANIC_DROP_CHILD).is_some() {
        // SAFETY: across its waits the goroutine holds `Announce`s, its
        // channel endpoints and the caught payload, all `Send`; `eprintln!`
        // takes and drops stderr's lock between two switches.
        return unsafe {
            drop_runtime_while_panicking(|| {
                let _outer = Announce("outer local");
                let (_tx, rx) = gort::sync::chan::<()>(0);
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _inner = Announce("inner local");
                    CHILD_CORO_STARTED.store(1, SeqCst);
                    wait(rx.recv());
                }));
                eprintln!("caught the cancellation: {}", caught.is_err());
                // Still cancelled: this wait unwinds too, holding the payload.
                wait(rx.recv());
                unreachable!("the receive never completes");
            })
        };
    }
    assert_child_panicked_after(
        "runtime_dropped_while_its_thread_panics_unwinds_a_coroutine_again_after_it_catches_the_cancel",
        &[
            "dropped: inner local",
            "caught the cancellation: true",
            "dropped: outer local",
        ],
    );
}

/// Calls `wait` on a ready future from its destructor, and says so.
struct WaitOnDropAnnounce(&'static str);

impl Drop for WaitOnDropAnnounce {
    fn drop(&mut self) {
        let v = wait(async { 7 });
        eprintln!("dropped: {} (its wait gave {v})", self.0);
    }
}

#[test]
fn runtime_dropped_while_its_thread_panics_lets_a_cancelled_coroutines_destructor_wait() {
    if std::env::var_os(PANIC_DROP_CHILD).is_some() {
        // SAFETY: across its wait the goroutine holds `Send` values; the
        // destructor's `wait` blocks instead of switching.
        return unsafe {
            drop_runtime_while_panicking(|| {
                let _on_stack = WaitOnDropAnnounce("waiting destructor");
                let (_tx, rx) = gort::sync::chan::<()>(0);
                CHILD_CORO_STARTED.store(1, SeqCst);
                wait(rx.recv());
                unreachable!("the receive never completes");
            })
        };
    }
    assert_child_panicked_after(
        "runtime_dropped_while_its_thread_panics_lets_a_cancelled_coroutines_destructor_wait",
        &["dropped: waiting destructor (its wait gave 7)"],
    );
}
