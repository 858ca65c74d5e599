//! `LocalSet` and `spawn_local`: `!Send` tasks polled only on the thread
//! that owns their set, with the same `JoinHandle`, abort and panic
//! behaviour as every other task. Assertions are on thread ids, counts
//! and `JoinError` kinds.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::Poll;
use std::thread::{self, ThreadId};

use gort::runtime::{Builder, Runtime};
use gort::task::{spawn_local, LocalSet};

fn multi() -> Runtime {
    Builder::new().procs(2).build().unwrap()
}

fn current() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Records the thread of every poll of `fut`.
fn recorded<F: Future>(ids: Rc<RefCell<Vec<ThreadId>>>, fut: F) -> impl Future<Output = F::Output> {
    let mut fut = Box::pin(fut);
    poll_fn(move |cx| {
        ids.borrow_mut().push(thread::current().id());
        fut.as_mut().poll(cx)
    })
}

#[test]
fn an_rc_holding_task_polls_only_on_the_owner_thread_of_a_multi_thread_runtime() {
    let rt = multi();
    let local = LocalSet::new();
    let ids = Rc::new(RefCell::new(Vec::new()));
    let counter = Rc::new(Cell::new(0));
    let (i, c) = (ids.clone(), counter.clone());
    let total = local.block_on(&rt, async move {
        let hs: Vec<_> = (0..10)
            .map(|_| {
                let c = c.clone();
                spawn_local(recorded(i.clone(), async move {
                    for _ in 0..3 {
                        c.set(c.get() + 1);
                        gort::task::yield_now().await;
                    }
                    Rc::new(1) // a !Send output
                }))
            })
            .collect();
        let mut total = 0;
        for h in hs {
            total += *h.await.unwrap();
        }
        total
    });
    assert_eq!(total, 10);
    assert_eq!(counter.get(), 30);
    let ids = ids.borrow();
    assert_eq!(ids.len(), 40, "each task polled 4 times");
    assert!(ids.iter().all(|&id| id == thread::current().id()));
}

#[test]
fn a_waker_sent_to_another_thread_wakes_a_local_task() {
    let rt = multi();
    let local = LocalSet::new();
    let ids = Rc::new(RefCell::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let waker_thread = thread::spawn(move || {
        let w: std::task::Waker = rx.recv().unwrap();
        w.wake();
    });
    let i = ids.clone();
    let polls = local.block_on(&rt, async move {
        let mut tx = Some(tx);
        let polls = Rc::new(Cell::new(0));
        let p = polls.clone();
        spawn_local(recorded(
            i,
            poll_fn(move |cx| {
                p.set(p.get() + 1);
                match tx.take() {
                    Some(tx) => {
                        tx.send(cx.waker().clone()).unwrap();
                        Poll::Pending
                    }
                    None => Poll::Ready(()),
                }
            }),
        ))
        .await
        .unwrap();
        polls.get()
    });
    waker_thread.join().unwrap();
    assert_eq!(polls, 2);
    assert!(ids.borrow().iter().all(|&id| id == thread::current().id()));
}

#[test]
fn abort_from_another_thread_drops_the_local_future_exactly_once() {
    let rt = multi();
    let drops = Arc::new(AtomicUsize::new(0));
    let local = LocalSet::new();
    let d = DropCount(drops.clone());
    let h = local.spawn_local(async move {
        let _d = d;
        let _not_send = Rc::new(());
        std::future::pending::<()>().await
    });
    let abort = h.abort_handle();
    let err = local.block_on(&rt, async move {
        gort::task::yield_now().await; // the task is polled and parks
        thread::spawn(move || abort.abort()).join().unwrap();
        h.await.unwrap_err()
    });
    assert!(err.is_cancelled());
    assert_eq!(drops.load(SeqCst), 1);
    drop(local);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn a_panicking_local_task_gives_a_panic_join_error() {
    let rt = current();
    let local = LocalSet::new();
    let err = local.block_on(&rt, async {
        let _not_send = Rc::new(());
        spawn_local(async { panic!("local boom") })
            .await
            .unwrap_err()
    });
    assert!(err.is_panic());
    assert_eq!(
        err.into_panic().downcast_ref::<&str>().copied(),
        Some("local boom")
    );
}

#[test]
fn dropping_a_local_set_with_pending_tasks_drops_each_future_once() {
    let rt = current();
    let drops = Arc::new(AtomicUsize::new(0));
    let local = LocalSet::new();
    for _ in 0..100 {
        let d = DropCount(drops.clone());
        local.spawn_local(async move {
            let _d = d;
            std::future::pending::<()>().await
        });
    }
    // All 100 are polled once and park while this runs.
    local.block_on(&rt, async {
        let d = DropCount(drops.clone());
        spawn_local(async move {
            let _d = d;
        })
        .await
        .unwrap();
    });
    assert_eq!(drops.load(SeqCst), 1, "only the finished task's future");
    // 50 more that never run.
    for _ in 0..50 {
        let d = DropCount(drops.clone());
        local.spawn_local(async move {
            let _d = d;
        });
    }
    drop(local);
    assert_eq!(drops.load(SeqCst), 151);
}

#[test]
fn awaiting_a_local_set_completes_after_all_its_tasks() {
    let rt = Builder::new_current_thread()
        .start_paused(true)
        .build()
        .unwrap();
    let done = Rc::new(Cell::new(0));
    let local = LocalSet::new();
    for ms in [30u64, 10, 20] {
        let done = done.clone();
        local.spawn_local(async move {
            gort::time::sleep(std::time::Duration::from_millis(ms)).await;
            done.set(done.get() + 1);
        });
    }
    rt.block_on(local);
    assert_eq!(done.get(), 3);
}

#[test]
fn spawn_local_inside_block_on_without_a_local_set_runs_on_the_block_on_thread() {
    for (rt, is_current) in [(current(), true), (multi(), false)] {
        let ids = rt.block_on(async move {
            let cell = Rc::new(Cell::new(0));
            let c = cell.clone();
            let id = spawn_local(async move {
                c.set(1);
                thread::current().id()
            })
            .await
            .unwrap();
            assert_eq!(cell.get(), 1);
            // From a task of a current-thread runtime too: it polls here.
            let from_task = if is_current {
                gort::spawn(async { spawn_local(async { thread::current().id() }).await })
                    .await
                    .unwrap()
                    .unwrap()
            } else {
                id
            };
            (id, from_task)
        });
        assert_eq!(ids, (thread::current().id(), thread::current().id()));
    }
}

#[test]
fn local_tasks_left_when_block_on_returns_run_at_the_next_block_on_of_the_thread() {
    let rt = current();
    let ran = Rc::new(Cell::new(0));
    let r = ran.clone();
    let h = rt.block_on(async move {
        Some(spawn_local(async move {
            r.set(r.get() + 1);
        }))
    });
    assert_eq!(ran.get(), 0);
    rt.block_on(h.unwrap()).unwrap();
    assert_eq!(ran.get(), 1);
}

#[test]
fn spawn_local_on_a_multi_thread_worker_is_cancelled_not_a_panic() {
    let rt = multi();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCount(drops.clone());
    let res = rt.block_on(async move {
        gort::spawn(async move {
            spawn_local(async move {
                let _d = d;
                1
            })
            .await
        })
        .await
        .unwrap()
    });
    assert!(res.unwrap_err().is_cancelled());
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn spawn_local_in_a_spawn_locked_task_runs_on_its_thread() {
    let rt = multi();
    let (locked, local_task) = rt.block_on(async {
        gort::runtime::spawn_locked(|| async {
            let v = Rc::new(thread::current().id());
            let t = spawn_local(async { thread::current().id() }).await.unwrap();
            (*v, t)
        })
        .unwrap()
        .await
        .unwrap()
    });
    assert_eq!(locked, local_task);
    assert_ne!(locked, thread::current().id());
}

#[test]
fn join_set_spawn_local_collects_not_send_outputs_of_the_set() {
    let rt = current();
    let local = LocalSet::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let mut sum = local.block_on(&rt, async move {
        let mut set = gort::task::JoinSet::new();
        for i in 0..5u32 {
            let s = s.clone();
            set.spawn_local(async move {
                s.lock().unwrap().push(thread::current().id());
                Rc::new(i)
            });
        }
        let mut sum = Vec::new();
        while let Some(r) = set.join_next().await {
            sum.push(*r.unwrap());
        }
        sum
    });
    sum.sort();
    assert_eq!(sum, vec![0, 1, 2, 3, 4]);
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .all(|&id| id == thread::current().id()));
}
