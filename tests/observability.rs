//! Go's observability in gort: schedtrace lines, SIGQUIT dumps, metrics
//! (deadlock detection is in tests/deadlock.rs). Behaviours that end or signal a process run in
//! a child: this test binary re-executed with one test selected, on the
//! main thread (`--test-threads=1`), and `GORT_CHILD` naming the scenario.

use std::process::{Command, Output};
use std::time::Duration;

use gort::runtime::Builder;

/// Runs scenario `name` in a child process (see `child_entry`).
fn run_child(name: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["child_entry", "--exact", "--test-threads=1", "--nocapture"])
        .env("GORT_CHILD", name)
        .env_remove("GORT_DEBUG")
        .env_remove("GORT_MAXPROCS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The child side: does nothing unless `GORT_CHILD` is set.
#[test]
fn child_entry() {
    let Ok(name) = std::env::var("GORT_CHILD") else {
        return;
    };
    match name.as_str() {
        "schedtrace" => {
            let rt = Builder::new().procs(2).build().unwrap();
            rt.block_on(async {
                let hs: Vec<_> = (0..4)
                    .map(|_| {
                        gort::spawn(async { gort::time::sleep(Duration::from_millis(350)).await })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
            });
            println!("OK");
        }
        "sigquit" => {
            let rt = Builder::new()
                .procs(1)
                .dump_on_sigquit(true)
                .build()
                .unwrap();
            rt.block_on(async {
                let _h = gort::task::Builder::new()
                    .name("sleepy")
                    .spawn(gort::time::sleep(Duration::from_secs(3600)));
                gort::time::sleep(Duration::from_millis(50)).await;
                // SAFETY: raise(2) sends SIGQUIT to this process, whose
                // handler only writes to a pipe.
                unsafe { libc_raise_sigquit() };
                gort::time::sleep(Duration::from_millis(300)).await;
            });
            println!("OK still alive after SIGQUIT");
        }
        other => panic!("unknown child scenario {other}"),
    }
}

extern "C" {
    fn raise(sig: i32) -> i32;
}

/// SIGQUIT is 3 on every Unix gort supports.
unsafe fn libc_raise_sigquit() {
    // SAFETY: raise is async-signal-safe and takes any signal number.
    unsafe { raise(3) };
}

/// Parses `SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5
/// spinningthreads=0 idlethreads=2 runqueue=0 [3 1]` into its numbers.
/// A SCHED line's `key=value` fields, in order, and its per-P queue lengths.
type Sched = (Vec<(String, u64)>, Vec<u64>);

fn parse_sched(line: &str) -> Option<Sched> {
    let rest = line.strip_prefix("SCHED ")?;
    let (ms, rest) = rest.split_once("ms: ")?;
    ms.parse::<u64>().ok()?;
    let (fields, queues) = rest.split_once(" [")?;
    let queues = queues.strip_suffix(']')?;
    let kv = fields
        .split(' ')
        .map(|f| {
            let (k, v) = f.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect::<Option<Vec<_>>>()?;
    let qs = if queues.is_empty() {
        Vec::new()
    } else {
        queues
            .split(' ')
            .map(|q| q.parse().ok())
            .collect::<Option<Vec<u64>>>()?
    };
    Some((kv, qs))
}

#[test]
fn schedtrace_lines_follow_gos_format_with_consistent_numbers() {
    let out = run_child("schedtrace", &[("GORT_DEBUG", "schedtrace=100")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let lines: Vec<_> = err.lines().filter(|l| l.starts_with("SCHED ")).collect();
    assert!(
        lines.len() >= 2,
        "expected periodic SCHED lines, got:\n{err}"
    );
    for l in &lines {
        let (kv, qs) = parse_sched(l).unwrap_or_else(|| panic!("not Go's format: {l}"));
        let keys: Vec<_> = kv.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "gomaxprocs",
                "idleprocs",
                "threads",
                "spinningthreads",
                "idlethreads",
                "runqueue"
            ],
            "{l}"
        );
        let get = |k: &str| kv.iter().find(|(n, _)| n == k).unwrap().1;
        assert_eq!(get("gomaxprocs"), 2);
        assert_eq!(qs.len(), 2, "one queue length per P: {l}");
        assert!(get("idleprocs") <= 2);
        assert!(get("spinningthreads") <= get("threads"));
        assert!(get("idlethreads") <= get("threads"));
    }
}

#[test]
fn scheddetail_prints_a_line_per_p_and_per_m() {
    let out = run_child(
        "schedtrace",
        &[("GORT_DEBUG", "schedtrace=100,scheddetail=1")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("  P0: status="), "{err}");
    assert!(err.contains("  P1: status="), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("  M") && l.contains(" curg=")),
        "{err}"
    );
    assert!(err.contains(" handoffs="), "{err}");
}

#[test]
fn sigquit_prints_the_task_dump_and_the_process_keeps_running() {
    let out = run_child("sigquit", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("\"sleepy\" [sleep,"), "{err}");
    assert!(text(&out.stdout).contains("OK still alive after SIGQUIT"));
}

#[test]
fn bad_gort_debug_fails_build_naming_the_variable() {
    // Checked in a child so this process's environment stays untouched.
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "child_bad_env",
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ])
        .env("GORT_DEBUG", "schedtrace=soon")
        .env("GORT_CHILD_BAD_ENV", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("GORT_DEBUG=\"schedtrace=soon\" is not valid"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn child_bad_env() {
    if std::env::var_os("GORT_CHILD_BAD_ENV").is_none() {
        return;
    }
    let e = Builder::new().build().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    println!("{e}");
}

#[test]
fn metrics_counters_move_as_the_scheduler_works() {
    let rt = Builder::new().procs(2).build().unwrap();
    let before = rt.handle().metrics();
    rt.block_on(async {
        let hs: Vec<_> = (0..100).map(|i| gort::spawn(async move { i })).collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    let after = rt.handle().metrics();
    assert_eq!(after.spawned - before.spawned, 100);
    assert_eq!(after.completed - before.completed, 100);
    assert!(after.polls - before.polls >= 100);
    assert!(
        after.global_takes > before.global_takes,
        "tasks spawned from block_on go through the global queue"
    );
    assert_eq!(after.procs, 2);
    assert_eq!(after.local_queue_depth.len(), 2);
    assert_eq!(
        gort::runtime::metrics(),
        gort::runtime::RuntimeMetrics::default(),
        "outside a runtime"
    );
}
