//! WaitGroup, Semaphore, RwMutex, Once, OnceCell and Cond.

mod common;

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::thread;

use common::{block_on, poll_once, CountingWaker, Executor};
use gort_sync::{Cond, Mutex, NegativeCounter, Once, OnceCell, RwMutex, Semaphore, WaitGroup};

/// Rounds per task in the multi-task tests (Miri runs far fewer).
const ROUNDS: usize = if cfg!(miri) { 10 } else { 500 };

// ---- WaitGroup ----

#[test]
fn wait_returns_once_every_task_called_done() {
    let exec = Executor::new(2);
    let wg = WaitGroup::new();
    let finished = Arc::new(AtomicUsize::new(0));
    wg.add(8).unwrap();
    for _ in 0..8 {
        let (wg, finished) = (wg.clone(), finished.clone());
        exec.spawn(async move {
            finished.fetch_add(1, Ordering::SeqCst);
            wg.done().unwrap();
        });
    }
    block_on(wg.wait());
    assert_eq!(finished.load(Ordering::SeqCst), 8);
    exec.wait_idle();
}

#[test]
fn wait_blocks_while_the_counter_is_positive_and_wakes_every_waiter_at_zero() {
    let wg = WaitGroup::new();
    wg.add(2).unwrap();
    let (woken, waker) = CountingWaker::new();
    let mut a = pin!(wg.wait());
    let mut b = pin!(wg.wait());
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    assert!(poll_once(b.as_mut(), &waker).is_pending());
    wg.done().unwrap();
    assert_eq!(woken.count(), 0);
    wg.done().unwrap();
    assert_eq!(woken.count(), 2);
    assert!(poll_once(a.as_mut(), &waker).is_ready());
    assert!(poll_once(b.as_mut(), &waker).is_ready());
}

#[test]
fn negative_wait_group_counter_is_an_error_and_changes_nothing() {
    let wg = WaitGroup::new();
    assert_eq!(wg.done(), Err(NegativeCounter));
    wg.add(1).unwrap();
    assert_eq!(wg.add(-2), Err(NegativeCounter));
    assert_eq!(wg.count(), 1);
}

#[test]
fn wait_group_clones_share_one_counter() {
    let wg = WaitGroup::new();
    let wg2 = wg.clone();
    wg.add(1).unwrap();
    assert_eq!(wg2.count(), 1);
    wg2.done().unwrap();
    assert_eq!(wg.count(), 0);
}

// ---- Semaphore ----

#[test]
fn semaphore_never_lends_more_permits_than_it_has() {
    let exec = Executor::new(4);
    let sem = Arc::new(Semaphore::new(3));
    let inside = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    for i in 0..16usize {
        let (sem, inside, max) = (sem.clone(), inside.clone(), max.clone());
        exec.spawn(async move {
            for _ in 0..ROUNDS {
                let n = 1 + i % 2;
                let p = sem.clone().acquire_many_owned(n as u32).await.unwrap();
                let now = inside.fetch_add(n, Ordering::SeqCst) + n;
                max.fetch_max(now, Ordering::SeqCst);
                inside.fetch_sub(n, Ordering::SeqCst);
                drop(p);
            }
        });
    }
    exec.wait_idle();
    assert!(max.load(Ordering::SeqCst) <= 3);
    assert_eq!(sem.available_permits(), 3);
}

#[test]
fn semaphore_serves_waiters_fifo_and_a_large_request_blocks_later_small_ones() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire_many(2).unwrap();
    let mut big = pin!(sem.acquire_many(2));
    let mut small = pin!(sem.acquire());
    assert!(poll_once(big.as_mut(), Waker::noop()).is_pending());
    assert!(poll_once(small.as_mut(), Waker::noop()).is_pending());
    assert!(
        sem.try_acquire().is_err(),
        "try_acquire does not jump the queue"
    );
    drop(held);
    let Poll::Ready(big_permit) = poll_once(big.as_mut(), Waker::noop()) else {
        panic!("the head of the queue was not served first")
    };
    assert!(poll_once(small.as_mut(), Waker::noop()).is_pending());
    drop(big_permit);
    assert!(poll_once(small.as_mut(), Waker::noop()).is_ready());
}

#[test]
fn dropped_acquire_gives_back_granted_permits_and_unblocks_the_queue() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut huge = Box::pin(sem.acquire_many(5));
    let (woken, waker) = CountingWaker::new();
    let mut one = pin!(sem.acquire());
    assert!(poll_once(huge.as_mut(), Waker::noop()).is_pending());
    assert!(poll_once(one.as_mut(), &waker).is_pending());
    drop(held);
    assert_eq!(woken.count(), 0, "blocked behind the larger request");
    drop(huge);
    assert_eq!(woken.count(), 1);
    assert!(poll_once(one.as_mut(), &waker).is_ready());

    let sem = Semaphore::new(0);
    let mut granted = Box::pin(sem.acquire_many(2));
    assert!(poll_once(granted.as_mut(), Waker::noop()).is_pending());
    sem.add_permits(2);
    drop(granted);
    assert_eq!(
        sem.available_permits(),
        2,
        "granted but never taken: given back"
    );
}

#[test]
fn forgotten_permits_are_not_returned() {
    let sem = Semaphore::new(2);
    sem.try_acquire().unwrap().forget();
    assert_eq!(sem.available_permits(), 1);
}

// ---- RwMutex ----

#[test]
fn readers_share_and_writers_exclude() {
    let rw = RwMutex::new(0);
    let r1 = rw.try_read().unwrap();
    let r2 = rw.try_read().unwrap();
    assert!(rw.try_write().is_err());
    drop((r1, r2));
    let w = rw.try_write().unwrap();
    assert!(rw.try_read().is_err());
    assert!(rw.try_write().is_err());
    drop(w);
}

#[test]
fn pending_writer_blocks_new_readers() {
    let rw = RwMutex::new(Vec::new());
    let r1 = rw.try_read().unwrap();
    let mut w = pin!(rw.write());
    assert!(poll_once(w.as_mut(), Waker::noop()).is_pending());
    assert!(
        rw.try_read().is_err(),
        "a waiting writer blocks new readers"
    );
    let mut r2 = pin!(rw.read());
    assert!(poll_once(r2.as_mut(), Waker::noop()).is_pending());
    drop(r1);
    let Poll::Ready(mut g) = poll_once(w.as_mut(), Waker::noop()) else {
        panic!("the writer did not get the lock after the first reader left");
    };
    g.push("writer");
    drop(g);
    let Poll::Ready(g) = poll_once(r2.as_mut(), Waker::noop()) else {
        panic!("the reader that queued behind the writer was not released");
    };
    assert_eq!(*g, ["writer"], "the writer went before the later reader");
}

#[test]
fn readers_and_writers_alternate_under_load() {
    // After a write, the readers that queued during it go first, then the
    // next writer: the order is decided by who queued when.
    let rw = RwMutex::new(Vec::new());
    let w0 = rw.try_write().unwrap();
    let mut r1 = pin!(rw.read());
    let mut w1 = pin!(rw.write());
    let mut r2 = pin!(rw.read());
    for p in [
        poll_once(r1.as_mut(), Waker::noop()).is_pending(),
        poll_once(r2.as_mut(), Waker::noop()).is_pending(),
    ] {
        assert!(p);
    }
    assert!(poll_once(w1.as_mut(), Waker::noop()).is_pending());
    drop(w0);
    let Poll::Ready(a) = poll_once(r1.as_mut(), Waker::noop()) else {
        panic!("r1")
    };
    let Poll::Ready(b) = poll_once(r2.as_mut(), Waker::noop()) else {
        panic!("r2")
    };
    assert!(
        poll_once(w1.as_mut(), Waker::noop()).is_pending(),
        "readers first"
    );
    drop((a, b));
    let Poll::Ready(mut g) = poll_once(w1.as_mut(), Waker::noop()) else {
        panic!("w1")
    };
    g.push(1);
}

#[test]
fn dropped_waiting_writer_releases_the_readers_it_held_back() {
    let rw = RwMutex::new(());
    let r = rw.try_read().unwrap();
    let mut w = Box::pin(rw.write());
    assert!(poll_once(w.as_mut(), Waker::noop()).is_pending());
    let (woken, waker) = CountingWaker::new();
    let mut r2 = pin!(rw.read());
    assert!(poll_once(r2.as_mut(), &waker).is_pending());
    drop(w);
    assert_eq!(woken.count(), 1);
    assert!(poll_once(r2.as_mut(), &waker).is_ready());
    drop(r);
}

#[test]
fn rw_mutex_keeps_data_consistent_across_tasks() {
    let exec = Executor::new(4);
    let rw = Arc::new(RwMutex::new((0u64, 0u64)));
    for t in 0..8 {
        let rw = rw.clone();
        exec.spawn(async move {
            for _ in 0..ROUNDS {
                if t % 2 == 0 {
                    let mut g = rw.write().await;
                    g.0 += 1;
                    g.1 += 1;
                } else {
                    let g = rw.read().await;
                    assert_eq!(g.0, g.1, "a reader saw a half-done write");
                }
            }
        });
    }
    exec.wait_idle();
    let writes = 4 * ROUNDS as u64;
    assert_eq!(*rw.try_read().unwrap(), (writes, writes));
}

// ---- Once / OnceCell ----

#[test]
fn once_runs_the_initialiser_exactly_once_across_tasks() {
    let exec = Executor::new(4);
    let once = Arc::new(Once::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let after = Arc::new(AtomicUsize::new(0));
    for _ in 0..16 {
        let (once, runs, after) = (once.clone(), runs.clone(), after.clone());
        exec.spawn(async move {
            once.call_once(|| {
                runs.fetch_add(1, Ordering::SeqCst);
            })
            .await;
            assert_eq!(
                runs.load(Ordering::SeqCst),
                1,
                "returned before the initialiser finished"
            );
            after.fetch_add(1, Ordering::SeqCst);
        });
    }
    exec.wait_idle();
    assert_eq!(
        (runs.load(Ordering::SeqCst), after.load(Ordering::SeqCst)),
        (1, 16)
    );
}

#[test]
fn callers_wait_while_the_initialiser_runs() {
    let once = Once::new();
    let (gate_tx, gate_rx) = gort_sync::chan::<()>(0);
    let mut first = pin!(once.call_once_async(|| async {
        gate_rx.recv().await;
    }));
    assert!(poll_once(first.as_mut(), Waker::noop()).is_pending());
    let (woken, waker) = CountingWaker::new();
    let mut second = pin!(once.call_once(|| panic!("second initialiser ran")));
    assert!(poll_once(second.as_mut(), &waker).is_pending());
    gate_tx.try_send(()).unwrap();
    assert!(poll_once(first.as_mut(), Waker::noop()).is_ready());
    assert_eq!(woken.count(), 1);
    assert!(poll_once(second.as_mut(), &waker).is_ready());
    assert!(once.is_done());
}

#[test]
fn cancelled_initialiser_lets_the_next_caller_run_it() {
    let once = Once::new();
    let (_gate_tx, gate_rx) = gort_sync::chan::<()>(0);
    {
        let mut first = Box::pin(once.call_once_async(|| async {
            gate_rx.recv().await;
        }));
        assert!(poll_once(first.as_mut(), Waker::noop()).is_pending());
    }
    assert!(!once.is_done());
    let mut ran = false;
    block_on(once.call_once(|| ran = true));
    assert!(ran && once.is_done());
}

#[test]
fn once_cell_initialises_once_with_an_async_initialiser() {
    let cell = OnceCell::new();
    let calls = AtomicUsize::new(0);
    for _ in 0..3 {
        let v = block_on(cell.get_or_init(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            "value"
        }));
        assert_eq!(*v, "value");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cell.get(), Some(&"value"));
}

// ---- Cond ----

#[test]
fn signal_wakes_the_oldest_waiter_and_broadcast_wakes_all() {
    let m = Mutex::new(0);
    let cond = Cond::new();
    let wakers: Vec<_> = (0..3).map(|_| CountingWaker::new()).collect();
    let mut waits: Vec<_> = (0..3)
        .map(|_| {
            let g = m.try_lock().unwrap();
            Box::pin(cond.wait(g))
        })
        .map(|mut f| {
            assert!(
                poll_once(f.as_mut(), Waker::noop()).is_pending(),
                "wait unlocks the mutex"
            );
            f
        })
        .collect();
    for (f, (_, w)) in waits.iter_mut().zip(&wakers) {
        assert!(poll_once(f.as_mut(), w).is_pending());
    }
    cond.signal();
    let counts = || wakers.iter().map(|(c, _)| c.count()).collect::<Vec<_>>();
    assert_eq!(counts(), [1, 0, 0]);
    let Poll::Ready(g) = poll_once(waits[0].as_mut(), &wakers[0].1) else {
        panic!("signalled waiter")
    };
    drop(g);
    cond.broadcast();
    assert_eq!(counts(), [1, 1, 1]);
    for (f, (_, w)) in waits.iter_mut().zip(&wakers).skip(1) {
        let Poll::Ready(g) = poll_once(f.as_mut(), w) else {
            panic!("broadcast waiter")
        };
        drop(g);
    }
}

#[test]
fn a_signal_sent_to_a_cancelled_waiter_moves_to_the_next() {
    let m = Mutex::new(());
    let cond = Cond::new();
    let mut first = Box::pin(cond.wait(m.try_lock().unwrap()));
    assert!(poll_once(first.as_mut(), Waker::noop()).is_pending());
    let (woken, waker) = CountingWaker::new();
    let mut second = pin!(cond.wait(m.try_lock().unwrap()));
    assert!(poll_once(second.as_mut(), &waker).is_pending());
    cond.signal();
    drop(first);
    assert_eq!(woken.count(), 1);
    assert!(poll_once(second.as_mut(), &waker).is_ready());
}

#[test]
fn cond_coordinates_a_producer_and_consumers_across_threads() {
    let state = Arc::new((Mutex::new(Vec::<u32>::new()), Cond::new()));
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let state = state.clone();
            thread::spawn(move || {
                block_on(async {
                    let (m, cond) = &*state;
                    let mut got = 0;
                    loop {
                        let mut g = m.lock().await;
                        while g.is_empty() {
                            g = cond.wait(g).await;
                        }
                        let v = g.pop().unwrap();
                        if v == u32::MAX {
                            return got;
                        }
                        got += 1;
                    }
                })
            })
        })
        .collect();
    block_on(async {
        let (m, cond) = &*state;
        for i in 0..ROUNDS as u32 {
            m.lock().await.insert(0, i);
            cond.signal();
        }
        for _ in 0..3 {
            m.lock().await.insert(0, u32::MAX);
            cond.broadcast();
        }
    });
    let total: u32 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(total, ROUNDS as u32);
}
