//! Spawns tasks across the Ps and prints which worker ran each one.
//!
//! Run with `cargo run --release --example hello`. Set `GORT_MAXPROCS=4`
//! to change the number of Ps. `-- --idle 2` then keeps the runtime alive
//! and idle for 2 s, with one task asleep on a 10 s timer, and prints the
//! CPU time the process used meanwhile (from /proc/self/stat, Linux): an
//! idle gort runtime has nothing that ticks (the M waiting for the timer
//! blocks until its deadline), so it should be ~0%.

use std::time::Duration;

fn main() {
    let idle_secs: Option<f64> = {
        let args: Vec<String> = std::env::args().collect();
        args.iter()
            .position(|a| a == "--idle")
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse().expect("--idle takes a number of seconds"))
    };
    let rt = gort::runtime::Runtime::new().expect("failed to build the runtime");
    rt.block_on(run());
    if let Some(secs) = idle_secs {
        // The runtime is alive with one pending timer; its Ms and monitor
        // are asleep.
        let _sleeper = rt.spawn(gort::time::sleep(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(50));
        let before = cpu_ticks();
        std::thread::sleep(Duration::from_secs_f64(secs));
        let after = cpu_ticks();
        match (before, after) {
            (Some(b), Some(a)) => {
                let hz = 100.0; // USER_HZ on Linux
                let used = (a - b) as f64 / hz;
                println!(
                    "idle for {secs} s: {} CPU ticks = {:.3} s of CPU ({:.2}%)",
                    a - b,
                    used,
                    100.0 * used / secs
                );
            }
            _ => println!("idle for {secs} s: /proc/self/stat is not readable here"),
        }
    }
}

/// utime + stime of this process, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

async fn run() {
    let handle = gort::runtime::Handle::current();
    println!("gort: {} Ps", handle.procs());

    let tasks: Vec<_> = (0..8)
        .map(|i| {
            gort::spawn(async move {
                // A little blocking work so the tasks spread over the Ps.
                gort::block_in_place(|| std::thread::sleep(Duration::from_millis(20)));
                let p = gort::runtime::Handle::current().current_proc();
                let thread = std::thread::current().id();
                (i, p, thread)
            })
        })
        .collect();

    for t in tasks {
        let (i, p, thread) = t.await.expect("task panicked");
        match p {
            Some(p) => println!("task {i} finished on P{p} ({thread:?})"),
            None => println!("task {i} finished on {thread:?} without a P"),
        }
    }

    let m = handle.metrics();
    println!(
        "spawned={} completed={} steals={} parks={} unparks={} workers={}",
        m.spawned, m.completed, m.steals, m.parks, m.unparks, m.workers
    );
}
