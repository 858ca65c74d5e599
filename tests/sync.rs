//! gort::sync through the facade, as users write it: every blocking
//! operation shows Go's wait reason in the task dump, and channel leaf
//! futures charge the cooperative budget.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::runtime::Handle;
use gort::sync::{chan, Mutex, WaitGroup};

fn rt() -> gort::runtime::Runtime {
    gort::runtime::Builder::new().procs(2).build().unwrap()
}

/// Waits until the task named `name` is parked with `reason`, and returns
/// its dump line. (Polls the dump; the bound only stops a broken test.)
async fn parked_line(name: &str, reason: &str) -> String {
    let handle = Handle::current();
    let (quoted, bracket) = (format!("\"{name}\""), format!("[{reason}, "));
    for _ in 0..10_000 {
        let dump = handle.dump_tasks();
        if let Some(line) = dump.lines().find(|l| l.contains(&quoted)) {
            if line.contains(&bracket) {
                return line.to_string();
            }
        }
        gort::time::sleep(Duration::from_millis(1)).await;
    }
    panic!(
        "task {name:?} never parked with {reason:?}:\n{}",
        handle.dump_tasks()
    );
}

/// Checks the whole line: `task N "name" [reason, M ms]:`.
fn assert_dump_line(line: &str, name: &str, reason: &str) {
    let rest = line
        .strip_prefix("task ")
        .unwrap_or_else(|| panic!("{line}"));
    let (id, rest) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
    assert!(id.parse::<u64>().is_ok(), "task id in {line:?}");
    let ms = rest
        .strip_prefix(&format!("\"{name}\" [{reason}, "))
        .and_then(|r| r.strip_suffix(" ms]:"))
        .unwrap_or_else(|| panic!("format of {line:?}"));
    assert!(ms.parse::<u64>().is_ok(), "wait time in {line:?}");
}

#[test]
fn task_parked_on_recv_shows_chan_receive_in_the_dump() {
    rt().block_on(async {
        let (tx, rx) = chan::<u32>(0);
        let t = gort::task::Builder::new()
            .name("receiver")
            .spawn(async move { rx.recv().await });
        let line = parked_line("receiver", "chan receive").await;
        assert_dump_line(&line, "receiver", "chan receive");
        tx.send(1).await.unwrap();
        assert_eq!(t.await.unwrap(), Some(1));
    });
}

#[test]
fn task_parked_on_send_shows_chan_send_in_the_dump() {
    rt().block_on(async {
        let (tx, rx) = chan::<u32>(0);
        let t = gort::task::Builder::new()
            .name("sender")
            .spawn(async move { tx.send(2).await.is_ok() });
        let line = parked_line("sender", "chan send").await;
        assert_dump_line(&line, "sender", "chan send");
        assert_eq!(rx.recv().await, Some(2));
        assert!(t.await.unwrap());
    });
}

#[test]
fn task_parked_in_select_shows_select_in_the_dump() {
    rt().block_on(async {
        let (tx_a, rx_a) = chan::<u32>(0);
        let (_tx_b, rx_b) = chan::<u32>(0);
        let t = gort::task::Builder::new()
            .name("selector")
            .spawn(async move {
                gort::select! {
                    v = rx_a.recv() => v,
                    v = rx_b.recv() => v,
                }
            });
        let line = parked_line("selector", "select").await;
        assert_dump_line(&line, "selector", "select");
        tx_a.send(3).await.unwrap();
        assert_eq!(t.await.unwrap(), Some(3));
    });
}

#[test]
fn task_parked_on_a_locked_mutex_shows_sync_mutex_lock_in_the_dump() {
    rt().block_on(async {
        let m = Arc::new(Mutex::new(0));
        let held = m.lock().await;
        let m2 = m.clone();
        let t = gort::task::Builder::new()
            .name("locker")
            .spawn(async move { *m2.lock().await += 1 });
        let line = parked_line("locker", "sync.Mutex.Lock").await;
        assert_dump_line(&line, "locker", "sync.Mutex.Lock");
        drop(held);
        t.await.unwrap();
        assert_eq!(*m.lock().await, 1);
    });
}

#[test]
fn task_parked_on_a_wait_group_shows_sync_wait_group_wait_in_the_dump() {
    rt().block_on(async {
        let wg = WaitGroup::new();
        wg.add(1).unwrap();
        let wg2 = wg.clone();
        let t = gort::task::Builder::new()
            .name("waiter")
            .spawn(async move { wg2.wait().await });
        let line = parked_line("waiter", "sync.WaitGroup.Wait").await;
        assert_dump_line(&line, "waiter", "sync.WaitGroup.Wait");
        wg.done().unwrap();
        t.await.unwrap();
    });
}

#[test]
fn draining_a_full_channel_in_one_loop_lets_another_task_run_first() {
    // One P, and a monitor that never retakes it: only the cooperative
    // budget charged by each `recv` can make the consumer give way.
    const N: usize = 10_000;
    let rt = gort::runtime::Builder::new()
        .procs(1)
        .handoff_after(Duration::from_secs(3600))
        .build()
        .unwrap();
    let (other_ran_at, forced) = rt.block_on(async {
        let (tx, rx) = chan::<usize>(N);
        for i in 0..N {
            tx.try_send(i).unwrap();
        }
        let progress = Arc::new(AtomicUsize::new(0));
        let seen_at = Arc::new(AtomicUsize::new(usize::MAX));
        let (p, s) = (progress.clone(), seen_at.clone());
        let consumer = gort::spawn(async move {
            // Runnable on this P for the whole drain.
            let other =
                gort::spawn(async move { s.store(p.load(Ordering::SeqCst), Ordering::SeqCst) });
            for i in 0..N {
                assert_eq!(rx.recv().await, Some(i));
                progress.store(i + 1, Ordering::SeqCst);
            }
            other.await.unwrap();
        });
        consumer.await.unwrap();
        (
            seen_at.load(Ordering::SeqCst),
            Handle::current().metrics().budget_forced_yields,
        )
    });
    assert!(
        other_ran_at < N,
        "the other task ran only after the consumer drained all {N} values"
    );
    assert!(forced > 0, "no budget-forced yield was counted");
}
