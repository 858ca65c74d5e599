//! Deadlock detection (Go's "all goroutines are asleep - deadlock!").
//!
//! The rule counts threads: a foreign thread alive means "someone might
//! still wake us", so no deadlock is declared. libtest runs tests on
//! threads of its own, so this file has no harness: `main` is the parent,
//! and each scenario runs in a child process (this same binary with
//! `GORT_CHILD` set) whose only thread outside the runtime is the one in
//! `block_on`, as in a real program.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use gort::runtime::Builder;

fn main() {
    if let Ok(scenario) = std::env::var("GORT_CHILD") {
        child(&scenario);
        return;
    }
    let tests: [(&str, fn()); 5] = [
        (
            "program_deadlocked_on_a_channel_panics_with_gos_message_and_the_dump",
            deadlocked_program_panics,
        ),
        (
            "current_thread_program_deadlocked_panics_with_gos_message_and_the_dump",
            current_thread_deadlock_panics,
        ),
        (
            "program_woken_later_from_an_outside_thread_is_not_called_deadlocked",
            woken_from_outside_is_not_deadlock,
        ),
        (
            "deadlock_detection_can_be_turned_off",
            detection_can_be_turned_off,
        ),
        (
            "monitor_with_duration_max_settings_still_detects_deadlock",
            duration_max_settings_still_detect_deadlock,
        ),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, t) in tests {
        match std::panic::catch_unwind(t) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}

fn child(scenario: &str) {
    match scenario {
        "deadlock_on_chan" => {
            let rt = Builder::new().procs(2).build().unwrap();
            rt.block_on(async {
                let (_tx, rx) = gort::sync::chan::<u32>(0);
                let h = gort::task::Builder::new()
                    .name("stuck-receiver")
                    .spawn(async move { rx.recv().await });
                // Nobody will ever send: Go reports a deadlock here.
                let _ = h.await;
            });
            println!("UNREACHABLE: block_on returned");
        }
        "deadlock_on_chan_current_thread" => {
            let rt = Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                let (_tx, rx) = gort::sync::chan::<u32>(0);
                let h = gort::task::Builder::new()
                    .name("stuck-receiver")
                    .spawn(async move { rx.recv().await });
                let _ = h.await;
            });
            println!("UNREACHABLE: block_on returned");
        }
        "woken_from_outside" => {
            let rt = Builder::new().procs(2).build().unwrap();
            let (tx, rx) = gort::sync::chan::<u32>(0);
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                tx.send_blocking(7).unwrap();
            });
            let v =
                rt.block_on(
                    async move { gort::spawn(async move { rx.recv().await }).await.unwrap() },
                );
            t.join().unwrap();
            println!("OK {v:?}");
        }
        "detection_off" => {
            // The deadlock above with the check off: by the Builder, or by
            // GORT_DEBUG=checkdead=0 when that is set.
            let mut b = Builder::new();
            b.procs(2);
            if std::env::var_os("GORT_DEBUG").is_none() {
                b.deadlock_detection(false);
            }
            let rt = b.build().unwrap();
            println!("STARTED");
            rt.block_on(async {
                let (_tx, rx) = gort::sync::chan::<u32>(0);
                let _ = gort::spawn(async move { rx.recv().await }).await;
            });
        }
        "deadlock_with_duration_max_settings" => {
            // A schedtrace period or hand-off threshold past the clock's
            // range used to kill the monitor, and the deadlock check with it.
            let rt = Builder::new()
                .procs(2)
                .schedtrace(Some(Duration::MAX))
                .handoff_after(Duration::MAX)
                .build()
                .unwrap();
            rt.block_on(async {
                let (_tx, rx) = gort::sync::chan::<u32>(0);
                let _ = gort::spawn(async move { rx.recv().await }).await;
            });
            println!("UNREACHABLE: block_on returned");
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn command(scenario: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("GORT_CHILD", scenario)
        .env_remove("GORT_DEBUG")
        .env_remove("GORT_MAXPROCS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn deadlocked_program_panics() {
    let out: Output = command("deadlock_on_chan", &[]).output().unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success(), "the child should have panicked");
    assert!(
        err.contains("all goroutines are asleep - deadlock!"),
        "{err}"
    );
    assert!(err.contains("\"stuck-receiver\" [chan receive"), "{err}");
    assert!(!text(&out.stdout).contains("UNREACHABLE"));
}

/// The same program on a current-thread runtime, whose `block_on` thread
/// is asleep in the poller when the check fires.
fn current_thread_deadlock_panics() {
    let out: Output = command("deadlock_on_chan_current_thread", &[])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success(), "the child should have panicked");
    assert!(
        err.contains("all goroutines are asleep - deadlock!"),
        "{err}"
    );
    assert!(err.contains("\"stuck-receiver\" [chan receive"), "{err}");
    assert!(!text(&out.stdout).contains("UNREACHABLE"));
}

fn woken_from_outside_is_not_deadlock() {
    let out = command("woken_from_outside", &[]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("OK Some(7)"),
        "{}",
        text(&out.stdout)
    );
}

/// With detection on, the same program panics within tens of
/// milliseconds (above); off, it must still be waiting a second later.
fn detection_can_be_turned_off() {
    for env in [&[][..], &[("GORT_DEBUG", "checkdead=0")][..]] {
        let mut child = command("detection_off", env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs(1));
        let still_running = child.try_wait().unwrap().is_none();
        child.kill().ok();
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert!(still_running, "the child ended: {err}");
        assert!(text(&out.stdout).contains("STARTED"), "{err}");
        assert!(!err.contains("deadlock"), "{err}");
    }
}

fn duration_max_settings_still_detect_deadlock() {
    let mut child = command("deadlock_with_duration_max_settings", &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Without a monitor the child would wait forever: cap it.
    let end = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() >= end {
            child.kill().unwrap();
            panic!("no deadlock declared within 30 s: the monitor is dead");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out: Output = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("all goroutines are asleep - deadlock!"),
        "stderr: {err}"
    );
    assert!(!text(&out.stdout).contains("UNREACHABLE"));
}
