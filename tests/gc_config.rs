//! GC configuration: GOGC, the memory limit, bad GORT_* values, gctrace.
//! The heap is process-wide, so every scenario runs in a fresh child
//! process (this binary re-executed with `GORT_GC_CHILD` naming it); the
//! binary has no libtest harness (`harness = false`), so nothing else
//! allocates in the child's heap. Counts only, never wall-clock.

use std::process::{Command, Output};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use gort::gc::{self, Gc, Trace};

/// A value whose Drop can panic. In a child process: a cycle run by any
/// other test would see the panic.
#[derive(Trace)]
struct PanicsOnDrop {
    #[gc(skip)]
    drops: Arc<AtomicUsize>,
    #[gc(skip)]
    panic: bool,
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.panic {
            panic!("boom in Drop");
        }
    }
}

/// Allocates `n` objects of about 48 bytes each and drops them.
fn churn(n: usize) {
    for i in 0..n {
        drop(Gc::new([i as u64; 4]));
    }
}

fn child(name: &str) {
    match name {
        "gogc_off_never_collects_automatically" => {
            assert_eq!(gc::set_gc_percent(None), Some(100));
            churn(300_000); // ~14 MiB: far past the 4 MiB heap minimum
            let s = gc::read_mem_stats();
            assert_eq!(s.num_gc, 0, "GOGC=off collected on its own");
            assert_eq!(s.heap_objects, 300_000);
            assert_eq!(s.next_gc, u64::MAX);
            gc::collect();
            let s = gc::read_mem_stats();
            assert_eq!((s.num_gc, s.num_forced_gc), (1, 1));
            assert_eq!((s.frees, s.heap_objects, s.heap_alloc), (300_000, 0, 0));
        }
        "gogc_off_from_env" => {
            churn(300_000);
            assert_eq!(gc::read_mem_stats().num_gc, 0);
            gc::collect();
            assert_eq!(gc::read_mem_stats().num_gc, 1);
        }
        "gogc_50_collects_more_often_than_200" => {
            // The same pattern twice: 20 000 live objects, 1 000 000
            // allocations of garbage.
            let run = |percent| {
                gc::set_gc_percent(Some(percent));
                gc::collect();
                let live: Vec<Gc<[u64; 4]>> = (0..20_000).map(|i| Gc::new([i; 4])).collect();
                let before = gc::read_mem_stats().num_gc;
                churn(1_000_000);
                let n = gc::read_mem_stats().num_gc - before;
                assert!(live.iter().enumerate().all(|(i, g)| g[3] == i as u64));
                n
            };
            let at_50 = run(50);
            let at_200 = run(200);
            println!("GOGC=50: {at_50} cycles, GOGC=200: {at_200} cycles");
            assert!(
                at_50 > at_200,
                "GOGC=50 ran {at_50} cycles, GOGC=200 {at_200}"
            );
            assert!(at_200 > 0);
        }
        "memlimit_forces_collection" => {
            gc::set_gc_percent(None);
            let limit = 2 << 20;
            gc::set_memory_limit(limit);
            let mut peak = 0;
            for i in 0..200_000u64 {
                drop(Gc::new([i; 4]));
                peak = peak.max(gc::read_mem_stats().heap_alloc);
            }
            let s = gc::read_mem_stats();
            assert!(s.num_gc > 0, "the memory limit never started a cycle");
            assert!(
                peak <= limit,
                "heap peaked at {peak} over the {limit} limit"
            );
        }
        "memlimit_from_env" => {
            churn(200_000);
            let s = gc::read_mem_stats();
            assert_eq!(s.memory_limit, 2 << 20);
            assert!(s.num_gc > 0);
        }
        "bad_gogc_fails_build" | "bad_memlimit_fails_build" => {
            let e = gort::runtime::Builder::new().build().unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
            println!("{e}");
            let again = gc::configure_from_env().unwrap_err().to_string();
            assert_eq!(again, e.to_string());
        }
        "gctrace_prints_one_line_per_cycle" => {
            churn(1000);
            gc::collect();
            gc::collect();
        }
        "a_panicking_drop_does_not_leak_the_rest_of_the_cycle" => {
            let drops = Arc::new(AtomicUsize::new(0));
            let objs: Vec<Gc<PanicsOnDrop>> = (0..10)
                .map(|i| {
                    Gc::new(PanicsOnDrop {
                        drops: drops.clone(),
                        panic: i == 3,
                    })
                })
                .collect();
            drop(objs);
            let r = std::panic::catch_unwind(gc::collect);
            assert!(r.is_err(), "the Drop's panic reaches collect()");
            assert_eq!(drops.load(Ordering::SeqCst), 10);
            let s = gc::read_mem_stats();
            assert_eq!((s.frees, s.heap_objects), (10, 0));
            gc::collect(); // the heap still works
            assert_eq!(gc::read_mem_stats().num_gc, 2);
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn run(name: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("GORT_GC_CHILD", name)
        .env_remove("GORT_GOGC")
        .env_remove("GORT_MEMLIMIT")
        .env_remove("GORT_DEBUG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{name} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("gc_config: {name} ... ok");
    out
}

fn main() {
    if let Ok(name) = std::env::var("GORT_GC_CHILD") {
        child(&name);
        return;
    }
    run("gogc_off_never_collects_automatically", &[]);
    run("gogc_off_from_env", &[("GORT_GOGC", "off")]);
    let out = run("gogc_50_collects_more_often_than_200", &[]);
    print!("{}", String::from_utf8_lossy(&out.stdout));
    run("memlimit_forces_collection", &[]);
    run("a_panicking_drop_does_not_leak_the_rest_of_the_cycle", &[]);
    run(
        "memlimit_from_env",
        &[("GORT_GOGC", "off"), ("GORT_MEMLIMIT", "2MiB")],
    );

    let out = run("bad_gogc_fails_build", &[("GORT_GOGC", "lots")]);
    let msg = String::from_utf8_lossy(&out.stdout);
    assert!(msg.contains("GORT_GOGC=\"lots\""), "{msg}");
    let out = run("bad_memlimit_fails_build", &[("GORT_MEMLIMIT", "12MB")]);
    let msg = String::from_utf8_lossy(&out.stdout);
    assert!(msg.contains("GORT_MEMLIMIT=\"12MB\""), "{msg}");

    let out = run(
        "gctrace_prints_one_line_per_cycle",
        &[("GORT_DEBUG", "gctrace=1")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("gc ")).collect();
    assert_eq!(lines.len(), 2, "{err}");
    for (n, l) in lines.iter().enumerate() {
        // gc 1 @0.012s: 0.210 ms pause, 0->0 MB, 4 MB goal, 1000 objects freed
        assert!(l.starts_with(&format!("gc {} @", n + 1)), "{l}");
        assert!(l.contains("s: ") && l.contains(" ms pause, "), "{l}");
        assert!(l.contains(" MB goal, "), "{l}");
    }
    assert!(lines[0].ends_with(", 1000 objects freed"), "{}", lines[0]);
    assert!(lines[1].ends_with(", 0 objects freed"), "{}", lines[1]);
}
