//! `Mutex`: mutual exclusion, Go's normal mode (woken waiters compete with
//! newcomers) and starvation mode (direct FIFO hand-off), cancellation.

mod common;

use std::pin::pin;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::thread;
use std::time::Duration;

use common::{block_on, poll_once, CountingWaker, Executor};
use gort_sync::{Mutex, STARVATION_THRESHOLD};

#[test]
fn mutex_excludes_concurrent_critical_sections_across_threads() {
    const PER_THREAD: u64 = if cfg!(miri) { 50 } else { 20_000 };
    let m = Arc::new(Mutex::new(0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                block_on(async {
                    for _ in 0..PER_THREAD {
                        let mut g = m.lock().await;
                        let v = *g;
                        std::hint::black_box(());
                        *g = v + 1;
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.try_lock().unwrap(), 4 * PER_THREAD);
}

#[test]
fn mutex_excludes_concurrent_critical_sections_across_tasks() {
    let exec = Executor::new(4);
    let m = Arc::new(Mutex::new(Vec::new()));
    const PER_TASK: usize = if cfg!(miri) { 20 } else { 2_000 };
    for t in 0..8u32 {
        let m = m.clone();
        exec.spawn(async move {
            for i in 0..PER_TASK {
                let mut g = m.lock().await;
                let len = g.len();
                g.push((t, i));
                assert_eq!(g.len(), len + 1);
            }
        });
    }
    exec.wait_idle();
    assert_eq!(m.try_lock().unwrap().len(), 8 * PER_TASK);
}

#[test]
fn try_lock_fails_while_locked_and_succeeds_after_unlock() {
    let m = Mutex::new(1);
    let g = m.try_lock().unwrap();
    assert!(m.try_lock().is_err());
    drop(g);
    assert_eq!(*m.try_lock().unwrap(), 1);
}

#[test]
fn waiters_are_woken_one_at_a_time_in_fifo_order() {
    let m = Mutex::new(Vec::new());
    let g = m.try_lock().unwrap();
    let wakers: Vec<_> = (0..3).map(|_| CountingWaker::new()).collect();
    let mut futs: Vec<_> = (0..3).map(|_| Box::pin(m.lock())).collect();
    for (f, (_, w)) in futs.iter_mut().zip(&wakers) {
        assert!(poll_once(f.as_mut(), w).is_pending());
    }
    drop(g);
    let counts = || wakers.iter().map(|(c, _)| c.count()).collect::<Vec<_>>();
    assert_eq!(counts(), [1, 0, 0], "only the oldest waiter is woken");
    for i in 0..3 {
        let Poll::Ready(mut g) = poll_once(futs[i].as_mut(), &wakers[i].1) else {
            panic!("woken waiter {i} did not get the free lock");
        };
        g.push(i);
        drop(g);
    }
    assert_eq!(counts(), [1, 1, 1]);
    assert_eq!(*m.try_lock().unwrap(), [0, 1, 2]);
}

#[test]
fn woken_waiter_competes_with_newcomers_in_normal_mode() {
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    let mut w = pin!(m.lock());
    assert!(poll_once(w.as_mut(), Waker::noop()).is_pending());
    drop(g); // wakes `w`, which has not run yet
    let barger = m
        .try_lock()
        .expect("normal mode: a newcomer may take the lock");
    assert!(
        poll_once(w.as_mut(), Waker::noop()).is_pending(),
        "the woken waiter lost and re-queued"
    );
    // (Had it waited over 1 ms, the mutex is now starving and the unlock
    // hands it over; otherwise the unlock wakes it. Either way it gets it.)
    drop(barger);
    assert!(poll_once(w.as_mut(), Waker::noop()).is_ready());
}

#[test]
fn starving_waiter_gets_the_lock_by_hand_off_before_any_newcomer() {
    let m = Mutex::new(Vec::new());
    let hog = m.try_lock().unwrap();
    let mut victim = pin!(m.lock());
    assert!(poll_once(victim.as_mut(), Waker::noop()).is_pending());
    thread::sleep(STARVATION_THRESHOLD + Duration::from_millis(1));
    drop(hog); // normal mode: the victim is woken...
    let hog = m.try_lock().expect("...and a newcomer barges in");
    // The victim loses again after waiting > 1 ms: starvation mode.
    assert!(poll_once(victim.as_mut(), Waker::noop()).is_pending());
    assert!(m.is_starving());
    // Newcomers can no longer take the lock, nor jump the queue.
    assert!(m.try_lock().is_err());
    let mut newcomer = pin!(m.lock());
    assert!(poll_once(newcomer.as_mut(), Waker::noop()).is_pending());
    drop(hog); // hand-off: ownership goes straight to the victim
    assert!(
        m.try_lock().is_err(),
        "the lock was handed over, not released"
    );
    assert!(poll_once(newcomer.as_mut(), Waker::noop()).is_pending());
    let Poll::Ready(mut g) = poll_once(victim.as_mut(), Waker::noop()) else {
        panic!("the starving waiter was passed over");
    };
    g.push("victim");
    // The newcomer waited < 1 ms, so the next hand-off ends starvation mode.
    drop(g);
    assert!(!m.is_starving());
    let Poll::Ready(mut g) = poll_once(newcomer.as_mut(), Waker::noop()) else {
        panic!("the newcomer was not handed the lock");
    };
    g.push("newcomer");
    drop(g);
    assert_eq!(*m.try_lock().unwrap(), ["victim", "newcomer"]);
}

#[test]
fn dropping_a_woken_lock_future_passes_the_wake_up_on() {
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    let (first_woken, first_waker) = CountingWaker::new();
    let (second_woken, second_waker) = CountingWaker::new();
    let mut first = Box::pin(m.lock());
    let mut second = Box::pin(m.lock());
    assert!(poll_once(first.as_mut(), &first_waker).is_pending());
    assert!(poll_once(second.as_mut(), &second_waker).is_pending());
    drop(g);
    assert_eq!((first_woken.count(), second_woken.count()), (1, 0));
    drop(first);
    assert_eq!(
        second_woken.count(),
        1,
        "the wake-up moved to the next waiter"
    );
    assert!(poll_once(second.as_mut(), &second_waker).is_ready());
}

#[test]
fn dropping_a_lock_future_that_was_handed_the_lock_hands_it_on() {
    let m = Mutex::new(());
    let hog = m.try_lock().unwrap();
    let mut victim = Box::pin(m.lock());
    assert!(poll_once(victim.as_mut(), Waker::noop()).is_pending());
    thread::sleep(STARVATION_THRESHOLD + Duration::from_millis(1));
    drop(hog);
    let hog = m.try_lock().unwrap();
    assert!(poll_once(victim.as_mut(), Waker::noop()).is_pending());
    assert!(m.is_starving());
    let (next_woken, next_waker) = CountingWaker::new();
    let mut next = Box::pin(m.lock());
    assert!(poll_once(next.as_mut(), &next_waker).is_pending());
    drop(hog); // handed to the victim...
    drop(victim); // ...which is cancelled: it hands the lock on
    assert_eq!(next_woken.count(), 1);
    assert!(poll_once(next.as_mut(), &next_waker).is_ready());
    assert!(!m.is_starving());
}

#[test]
fn dropping_a_queued_lock_future_leaves_the_mutex_usable() {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    for _ in 0..10 {
        let mut f = Box::pin(m.lock());
        assert!(poll_once(f.as_mut(), Waker::noop()).is_pending());
    }
    drop(g);
    *m.try_lock().expect("no waiter left behind") += 1;
    assert_eq!(
        format!("{m:?}"),
        "Mutex { locked: false, starving: false, waiters: 0, .. }"
    );
}
