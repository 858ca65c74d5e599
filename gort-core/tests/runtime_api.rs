//! Go's runtime package functions: GOMAXPROCS on a live runtime,
//! NumGoroutine, LockOSThread (spawn_locked), NumCPU, Version.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use gort_core::runtime::{self, Builder, Handle};

fn block_until(cond: impl Fn() -> bool) {
    let end = std::time::Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(
            std::time::Instant::now() < end,
            "condition not reached in 30 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn set_gomaxprocs_2_to_4_to_1_keeps_every_task_running_to_completion() {
    const TASKS: usize = 64;
    let rt = Builder::new().procs(2).build().unwrap();
    let h = rt.handle().clone();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let seen: Arc<Mutex<Vec<usize>>> = Arc::default();
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            let (stop, done, seen) = (stop.clone(), done.clone(), seen.clone());
            h.spawn(async move {
                let mut polls = 0u64;
                while !stop.load(SeqCst) {
                    if let Some(p) = Handle::current().current_proc() {
                        let mut s = seen.lock().unwrap();
                        if !s.contains(&p) {
                            s.push(p);
                        }
                    }
                    polls += 1;
                    gort_core::yield_now().await;
                }
                done.fetch_add(1, SeqCst);
                polls
            })
        })
        .collect();
    block_until(|| h.metrics().polls > 1000);
    assert_eq!(h.set_gomaxprocs(4).unwrap(), 2);
    assert_eq!(h.gomaxprocs(), 4);
    // With four Ps and 64 runnable tasks, the new Ps get work.
    block_until(|| seen.lock().unwrap().iter().any(|&p| p >= 2));
    assert_eq!(h.set_gomaxprocs(1).unwrap(), 4);
    assert_eq!(h.gomaxprocs(), 1);
    seen.lock().unwrap().clear();
    let polls_at_shrink = h.metrics().polls;
    block_until(|| h.metrics().polls > polls_at_shrink + 1000);
    assert_eq!(
        *seen.lock().unwrap(),
        [0],
        "only P0 runs tasks after shrinking to 1"
    );
    stop.store(true, SeqCst);
    let total: u64 = rt.block_on(async move {
        let mut t = 0;
        for j in handles {
            t += j.await.unwrap();
        }
        t
    });
    assert_eq!(done.load(SeqCst), TASKS);
    assert!(total > 0);
    assert_eq!(h.metrics().local_queue_depth.len(), 1);
}

#[test]
fn set_gomaxprocs_from_inside_a_task_and_bad_values() {
    let rt = Builder::new().procs(2).build().unwrap();
    let prev = rt.block_on(async {
        gort_core::spawn(async {
            let prev = runtime::set_gomaxprocs(3).unwrap();
            assert_eq!(runtime::gomaxprocs(), 3);
            // Still runs tasks afterwards.
            gort_core::spawn(async { 1 }).await.unwrap();
            prev
        })
        .await
        .unwrap()
    });
    assert_eq!(prev, 2);
    for bad in [0, runtime::MAX_PROCS + 1] {
        let e = rt.handle().set_gomaxprocs(bad).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }
    assert_eq!(rt.handle().gomaxprocs(), 3);
    assert!(runtime::set_gomaxprocs(2).is_err(), "outside a runtime");
}

#[test]
fn num_goroutine_counts_live_tasks() {
    let rt = Builder::new().procs(1).build().unwrap();
    let n = rt.block_on(async {
        let hs: Vec<_> = (0..10)
            .map(|_| gort_core::spawn(std::future::pending::<()>()))
            .collect();
        let n = runtime::num_goroutine();
        for h in &hs {
            h.abort();
        }
        for h in hs {
            assert!(h.await.unwrap_err().is_cancelled());
        }
        (n, runtime::num_goroutine())
    });
    assert_eq!(n, (10, 0));
    assert_eq!(runtime::num_goroutine(), 0, "outside a runtime");
}

/// Records the thread of every poll and yields a few times.
struct ThreadLog {
    polls: Rc<Cell<u32>>,
    threads: Arc<Mutex<Vec<std::thread::ThreadId>>>,
}

impl Future for ThreadLog {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        let n = self.polls.get() + 1;
        self.polls.set(n);
        if n == 20 {
            return Poll::Ready(n);
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn spawn_locked_runs_a_non_send_future_with_every_poll_on_one_thread() {
    let rt = Builder::new().procs(2).build().unwrap();
    let threads: Arc<Mutex<Vec<std::thread::ThreadId>>> = Arc::default();
    let t = threads.clone();
    let polls = rt.block_on(async move {
        runtime::spawn_locked(move || {
            let polls = Rc::new(Cell::new(0)); // !Send
            ThreadLog { polls, threads: t }
        })
        .unwrap()
        .await
        .unwrap()
    });
    assert_eq!(polls, 20);
    let ts = threads.lock().unwrap();
    assert_eq!(ts.len(), 20);
    assert!(
        ts.iter().all(|id| *id == ts[0]),
        "polls moved between threads"
    );
    assert_ne!(ts[0], std::thread::current().id());
}

#[test]
fn num_cpu_and_version() {
    assert!(runtime::num_cpu() >= 1);
    assert!(runtime::version().starts_with("gort"));
    if std::env::var_os("GORT_MAXPROCS").is_none() {
        // Outside a runtime: what a default runtime would get.
        assert_eq!(runtime::gomaxprocs(), runtime::num_cpu());
    }
}
