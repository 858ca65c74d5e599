//! The current-thread runtime (`Builder::new_current_thread`): one P,
//! driven by the thread in `block_on`. One test per rule of
//! `current_thread.rs`; every assertion is on thread ids, counts, orders
//! or states.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::Duration;

use gort_core::runtime::{Builder, Runtime};

fn ct() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

/// A one-shot gate: its `wait` future completes once `open` was called,
/// from any thread.
#[derive(Clone, Default)]
struct Gate(Arc<Mutex<(bool, Option<Waker>)>>);

impl Gate {
    fn open(&self) {
        let w = {
            let mut g = self.0.lock().unwrap();
            g.0 = true;
            g.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }

    fn wait(&self) -> GateWait {
        GateWait(self.clone())
    }
}

struct GateWait(Gate);

impl Future for GateWait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = (self.0).0.lock().unwrap();
        if g.0 {
            return Poll::Ready(());
        }
        g.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Records the thread of every poll of the wrapped future.
struct Record<F> {
    inner: Pin<Box<F>>,
    threads: Arc<Mutex<Vec<ThreadId>>>,
}

impl<F: Future> Future for Record<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.threads.lock().unwrap().push(thread::current().id());
        self.inner.as_mut().poll(cx)
    }
}

#[test]
fn every_task_polls_on_the_block_on_thread() {
    let rt = ct();
    let threads = Arc::new(Mutex::new(Vec::new()));
    let t = threads.clone();
    rt.block_on(async move {
        let hs: Vec<_> = (0..50)
            .map(|_| {
                let fut = async {
                    for _ in 0..3 {
                        gort_core::yield_now().await;
                    }
                };
                gort_core::spawn(Record {
                    inner: Box::pin(fut),
                    threads: t.clone(),
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    let threads = threads.lock().unwrap();
    assert_eq!(threads.len(), 50 * 4, "each task polled 4 times");
    let me = thread::current().id();
    assert!(threads.iter().all(|&id| id == me));
    assert_eq!(rt.handle().metrics().workers, 0, "no worker thread started");
}

#[test]
fn tasks_spawned_before_block_on_run_once_it_starts() {
    let rt = ct();
    let ran = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..10)
        .map(|_| {
            let ran = ran.clone();
            rt.spawn(async move {
                ran.fetch_add(1, SeqCst);
                thread::current().id()
            })
        })
        .collect();
    // No thread is in block_on: nothing runs them.
    assert_eq!(ran.load(SeqCst), 0);
    assert!(hs.iter().all(|h| !h.is_finished()));
    let ids = rt.block_on(async move {
        let mut ids = Vec::new();
        for h in hs {
            ids.push(h.await.unwrap());
        }
        ids
    });
    assert_eq!(ran.load(SeqCst), 10);
    assert!(ids.iter().all(|&id| id == thread::current().id()));
}

#[test]
fn tasks_left_pending_when_block_on_returns_run_at_the_next_block_on() {
    let rt = ct();
    let gate = Gate::default();
    let ran = Arc::new(AtomicUsize::new(0));
    let (g, r) = (gate.clone(), ran.clone());
    // Spawned from inside block_on, which returns without awaiting it.
    let h = rt
        .block_on(async move {
            let h = gort_core::spawn(async move {
                g.wait().await;
                r.fetch_add(1, SeqCst);
            });
            gort_core::yield_now().await;
            Some(h)
        })
        .unwrap();
    // Woken while nobody drives the P: it waits, queued.
    gate.open();
    assert_eq!(ran.load(SeqCst), 0);
    assert!(!h.is_finished());
    rt.block_on(h).unwrap();
    assert_eq!(ran.load(SeqCst), 1);
}

#[test]
fn ten_thousand_tasks_each_complete_exactly_once() {
    const N: usize = 10_000;
    let rt = ct();
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let r = runs.clone();
    let sum = rt.block_on(async move {
        let hs: Vec<_> = (0..N)
            .map(|i| {
                let r = r.clone();
                gort_core::spawn(async move {
                    r[i].fetch_add(1, SeqCst);
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, N * (N - 1) / 2);
    assert!(runs.iter().all(|c| c.load(SeqCst) == 1));
    let m = rt.handle().metrics();
    assert_eq!(m.spawned, N as u64);
    assert_eq!(m.completed, N as u64);
    assert_eq!(rt.handle().num_tasks(), 0);
}

#[test]
fn a_second_concurrent_block_on_waits_and_takes_the_p_over_when_the_first_leaves() {
    let rt = Arc::new(ct());
    let (a_driving_tx, a_driving) = std::sync::mpsc::channel();
    let release_a = Gate::default();
    let a_left = Gate::default();
    let a = {
        let (rt, release_a, a_left) = (rt.clone(), release_a.clone(), a_left.clone());
        thread::spawn(move || {
            rt.block_on(async move {
                // Alone in block_on: this thread drives the P.
                a_driving_tx.send(()).unwrap();
                release_a.wait().await;
            });
            a_left.open();
            thread::current().id()
        })
    };
    a_driving.recv().unwrap();
    let (ran_while_a_drives, ran_after_a_left) = rt.block_on(async move {
        // A drives the P: a task spawned from here runs on A's thread.
        let first = gort_core::spawn(async { thread::current().id() })
            .await
            .unwrap();
        release_a.open();
        a_left.wait().await;
        // A has left: this thread took the P over.
        let second = gort_core::spawn(async { thread::current().id() })
            .await
            .unwrap();
        (first, second)
    });
    let a_id = a.join().unwrap();
    assert_eq!(ran_while_a_drives, a_id);
    assert_eq!(ran_after_a_left, thread::current().id());
}

#[test]
fn a_task_blocking_its_thread_stalls_the_others_and_is_not_handed_off() {
    let rt = Builder::new_current_thread()
        .handoff_after(Duration::from_millis(1))
        .build()
        .unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (o1, o2) = (order.clone(), order.clone());
    let other = rt.block_on(async move {
        let blocker = gort_core::spawn(async move {
            // Far past the hand-off threshold; on a multi-thread runtime
            // the monitor would move the P away.
            thread::sleep(Duration::from_millis(30));
            o1.lock().unwrap().push("blocker done");
        });
        let other = gort_core::spawn(async move {
            o2.lock().unwrap().push("other");
            thread::current().id()
        });
        blocker.await.unwrap();
        other.await.unwrap()
    });
    assert_eq!(*order.lock().unwrap(), vec!["blocker done", "other"]);
    assert_eq!(other, thread::current().id());
    assert_eq!(rt.handle().metrics().monitor_handoffs, 0);
}

#[test]
fn block_in_place_runs_inline_and_keeps_the_p() {
    let rt = ct();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let (inside, seen) = rt.block_on(async move {
        gort_core::spawn(async move {
            let r2 = r.clone();
            let sibling = gort_core::spawn(async move {
                r2.fetch_add(1, SeqCst);
            });
            let out = gort_core::block_in_place(|| (thread::current().id(), r.load(SeqCst)));
            sibling.await.unwrap();
            out
        })
        .await
        .unwrap()
    });
    assert_eq!(inside, thread::current().id());
    assert_eq!(seen, 0, "no other task ran during the closure");
    assert_eq!(ran.load(SeqCst), 1);
}

#[test]
fn spawn_blocking_runs_off_the_block_on_thread() {
    let rt = ct();
    let id = rt.block_on(async {
        gort_core::spawn_blocking(|| thread::current().id())
            .await
            .unwrap()
    });
    assert_ne!(id, thread::current().id());
}

#[test]
fn set_gomaxprocs_on_current_thread_is_an_error_not_a_panic() {
    let rt = ct();
    let h = rt.handle();
    assert_eq!(h.gomaxprocs(), 1);
    let e = h.set_gomaxprocs(4).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
    assert_eq!(h.set_gomaxprocs(1).unwrap(), 1);
    let from_task = rt.block_on(async {
        gort_core::spawn(async { gort_core::runtime::set_gomaxprocs(2) })
            .await
            .unwrap()
    });
    assert!(from_task.is_err());
    assert_eq!(h.gomaxprocs(), 1);
}

#[test]
fn procs_and_worker_threads_are_ignored_by_current_thread() {
    let rt = Builder::new_current_thread()
        .worker_threads(8)
        .build()
        .unwrap();
    assert_eq!(rt.handle().gomaxprocs(), 1);
}

#[test]
fn dump_and_metrics_see_current_thread_tasks() {
    let rt = ct();
    let dump = rt.block_on(async {
        let _h = gort_core::task::Builder::new()
            .name("parked")
            .spawn(std::future::pending::<()>());
        // One P in FIFO order: once this one ran, "parked" was polled.
        gort_core::spawn(async {}).await.unwrap();
        gort_core::runtime::dump_tasks()
    });
    assert!(dump.contains("\"parked\" [waiting"), "{dump}");
    let m = rt.handle().metrics();
    assert_eq!(m.procs, 1);
    assert_eq!(m.live_tasks, 1);
    assert_eq!(m.workers, 0);
}

#[test]
fn a_wake_from_another_thread_reaches_a_sleeping_driver() {
    let rt = ct();
    let gate = Gate::default();
    let g = gate.clone();
    let id = rt.block_on(async move {
        let h = gort_core::spawn(async move {
            g.wait().await;
            thread::current().id()
        });
        let opener = thread::spawn(move || gate.open());
        let id = h.await.unwrap();
        opener.join().unwrap();
        id
    });
    assert_eq!(id, thread::current().id());
}

#[test]
fn block_on_inside_a_current_thread_task_is_refused_with_a_panic_join_error() {
    let rt = ct();
    let err = rt.block_on(async {
        gort_core::spawn(async { gort_core::runtime::Handle::current().block_on(async { 1 }) })
            .await
            .unwrap_err()
    });
    assert!(err.is_panic());
}

#[test]
fn dropping_a_current_thread_runtime_drops_each_queued_task_once() {
    struct DropCount(Arc<AtomicUsize>);
    impl Drop for DropCount {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let rt = ct();
    for _ in 0..5 {
        let d = DropCount(drops.clone());
        rt.spawn(async move {
            let _d = d;
        });
    }
    drop(rt);
    assert_eq!(drops.load(SeqCst), 5);
}

#[test]
fn shutdown_while_another_thread_drives_waits_for_it_and_cancels_every_task_once() {
    struct DropCount(Arc<AtomicUsize>);
    impl Drop for DropCount {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let rt = ct();
    let handle = rt.handle().clone();
    let drops = Arc::new(AtomicUsize::new(0));
    let (driving_tx, driving) = std::sync::mpsc::channel();
    let gate = Gate::default();
    let (d, g) = (drops.clone(), gate.clone());
    let driver = thread::spawn(move || {
        handle.block_on(async move {
            for _ in 0..8 {
                let d = DropCount(d.clone());
                gort_core::spawn(async move {
                    let _d = d;
                    std::future::pending::<()>().await
                });
            }
            gort_core::yield_now().await; // the 8 tasks run and park
            driving_tx.send(()).unwrap();
            g.wait().await;
            "returned"
        })
    });
    driving.recv().unwrap();
    rt.shutdown_timeout(Duration::from_secs(10));
    assert_eq!(drops.load(SeqCst), 8);
    // The driver let go of the P and now waits for its own future only.
    gate.open();
    assert_eq!(driver.join().unwrap(), "returned");
}

#[test]
fn a_yielding_block_on_future_lets_every_queued_task_run_first() {
    let rt = ct();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    rt.block_on(async move {
        for i in 0..3 {
            let o = o.clone();
            gort_core::spawn(async move { o.lock().unwrap().push(format!("task {i}")) });
        }
        gort_core::yield_now().await;
        o.lock().unwrap().push("block_on future".to_string());
    });
    assert_eq!(
        *order.lock().unwrap(),
        vec!["task 0", "task 1", "task 2", "block_on future"]
    );
}
