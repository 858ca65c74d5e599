//! Model checks of Go's `sync` types under loom: Semaphore, Once /
//! OnceCell and WaitGroup.
//!
//! Run with `scripts/loom-sync.sh`. As in `tests/loom.rs`, each model is
//! two or three threads doing one or two operations each, the code under
//! test is the real one (gort-sync's locks are loom's under `--cfg loom`),
//! and a lost wake-up shows as loom's deadlock report.
#![cfg(loom)]

#[path = "common/loom.rs"]
mod loom_common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex as StdMutex;

use gort_sync::{NegativeCounter, Once, OnceCell, Semaphore, TryAcquireError, WaitGroup};
use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use loom_common::poll_once;

// The counters and logs below are std's, not loom's: they are the test's
// bookkeeping (loom runs its threads on one OS thread, so they are exact),
// and loom atomics would only add interleavings of the bookkeeping itself.

#[test]
fn loom_semaphore_permit_excludes_and_every_permit_comes_back() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let inside = Arc::new(AtomicUsize::new(0));
        let spawn_user = || {
            let (sem, inside) = (sem.clone(), inside.clone());
            thread::spawn(move || {
                let p = block_on(sem.acquire()).unwrap();
                assert_eq!(inside.fetch_add(1, SeqCst), 0, "two permit holders");
                inside.fetch_sub(1, SeqCst);
                drop(p);
            })
        };
        let a = spawn_user();
        let b = spawn_user();
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(sem.available_permits(), 1, "a permit was lost or made");
    });
}

#[test]
fn loom_semaphore_first_queued_waiter_gets_the_released_permits_before_a_smaller_newcomer() {
    loom::model(|| {
        // One permit free, the head of the queue needs two: a later
        // request for one must queue behind it, not take the free one.
        let sem = Arc::new(Semaphore::new(1));
        let order = Arc::new(StdMutex::new(Vec::new()));
        let mut first = Box::pin(sem.acquire_many(2));
        assert!(poll_once(first.as_mut()).is_pending(), "one permit of two");
        let (sem2, order2) = (sem.clone(), order.clone());
        let second = thread::spawn(move || {
            let p = block_on(sem2.acquire()).unwrap();
            order2.lock().unwrap().push("second");
            drop(p);
        });
        let sem3 = sem.clone();
        let releaser = thread::spawn(move || sem3.add_permits(1));
        let p = block_on(first).unwrap();
        order.lock().unwrap().push("first");
        drop(p);
        releaser.join().unwrap();
        second.join().unwrap();
        assert_eq!(*order.lock().unwrap(), ["first", "second"]);
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn loom_semaphore_cancelled_acquire_returns_its_assignment_to_the_next_waiter() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let mut cancelled = Box::pin(sem.acquire());
        assert!(poll_once(cancelled.as_mut()).is_pending(), "no permit yet");
        let sem2 = sem.clone();
        let releaser = thread::spawn(move || sem2.add_permits(1));
        let sem3 = sem.clone();
        // Queued behind the cancelled acquire, or after it left: it must
        // get the one permit either way (loom reports a deadlock if not).
        let waiter = thread::spawn(move || drop(block_on(sem3.acquire()).unwrap()));
        drop(cancelled);
        releaser.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 1, "the permit was lost");
    });
}

#[test]
fn loom_semaphore_close_fails_the_waiter_or_lets_it_finish_and_conserves_permits() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let sem2 = sem.clone();
        let waiter = thread::spawn(move || block_on(sem2.acquire()).map(drop).is_ok());
        let sem3 = sem.clone();
        let releaser = thread::spawn(move || sem3.add_permits(1));
        sem.close();
        let got = waiter.join().unwrap();
        releaser.join().unwrap();
        // Granted before the close (then released), or failed by it: the
        // one permit is back either way, and later acquires fail.
        assert_eq!(
            sem.available_permits(),
            1,
            "closing lost a permit (got: {got})"
        );
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
        assert!(block_on(sem.acquire()).is_err());
    });
}

#[test]
fn loom_once_racing_call_once_runs_f_once_and_both_return_after_it() {
    loom::model(|| {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let caller = || {
            let (once, runs) = (once.clone(), runs.clone());
            thread::spawn(move || {
                block_on(once.call_once(|| {
                    runs.fetch_add(1, SeqCst);
                }));
                // Go's rule: no caller returns before f has returned.
                assert_eq!(runs.load(SeqCst), 1, "returned before f ran");
                assert!(once.is_done());
            })
        };
        let a = caller();
        let b = caller();
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(runs.load(SeqCst), 1);
    });
}

#[test]
fn loom_once_cell_racing_get_or_init_initialises_once_and_both_see_the_value() {
    loom::model(|| {
        let cell = Arc::new(OnceCell::new());
        let inits = Arc::new(AtomicUsize::new(0));
        let getter = |v: u32| {
            let (cell, inits) = (cell.clone(), inits.clone());
            thread::spawn(move || {
                *block_on(cell.get_or_init(|| async {
                    inits.fetch_add(1, SeqCst);
                    v
                }))
            })
        };
        let a = getter(1);
        let b = getter(2);
        let (x, y) = (a.join().unwrap(), b.join().unwrap());
        assert_eq!(x, y, "the two callers saw different values");
        assert_eq!(cell.get(), Some(&x));
        assert_eq!(inits.load(SeqCst), 1);
    });
}

#[test]
fn loom_once_cancelled_async_initialiser_hands_the_run_to_the_waiting_caller() {
    loom::model(|| {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        // Claims the run (nobody else is there yet) and never finishes it.
        let mut cancelled = Box::pin(once.call_once_async(std::future::pending::<()>));
        assert!(poll_once(cancelled.as_mut()).is_pending());
        let (once2, runs2) = (once.clone(), runs.clone());
        let caller = thread::spawn(move || {
            block_on(once2.call_once(|| {
                runs2.fetch_add(1, SeqCst);
            }))
        });
        drop(cancelled);
        caller.join().unwrap();
        assert!(once.is_done());
        assert_eq!(runs.load(SeqCst), 1);
    });
}

/// The payload of the initialiser's deliberate panic, kept out of the
/// test output by [`quiet_deliberate_panics`].
struct DeliberatePanic;

fn quiet_deliberate_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<DeliberatePanic>() {
                default(info);
            }
        }));
    });
}

#[test]
fn loom_once_initialiser_that_panics_lets_the_racing_caller_run_its_own() {
    quiet_deliberate_panics();
    // Interleavings in which the panicking initialiser claimed the run.
    static PANICKED_FIRST: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let once2 = once.clone();
        let panicker = thread::spawn(move || {
            panic::catch_unwind(AssertUnwindSafe(|| {
                block_on(once2.call_once(|| panic::panic_any(DeliberatePanic)));
            }))
            .is_err()
        });
        block_on(once.call_once(|| {
            runs.fetch_add(1, SeqCst);
        }));
        // The panicking f ran only if it claimed the run first; then the
        // panic must have handed the run on rather than finish the Once.
        if panicker.join().unwrap() {
            PANICKED_FIRST.fetch_add(1, SeqCst);
        }
        assert!(once.is_done());
        assert_eq!(runs.load(SeqCst), 1, "the surviving caller's f ran once");
    });
    assert!(
        PANICKED_FIRST.load(SeqCst) > 0,
        "loom never let the panicking initialiser run first"
    );
}

#[test]
fn loom_waitgroup_wait_returns_only_after_both_dones_and_is_woken_by_the_last() {
    loom::model(|| {
        let wg = WaitGroup::new();
        wg.add(2).unwrap();
        let work = Arc::new(AtomicUsize::new(0));
        let worker = || {
            let (wg, work) = (wg.clone(), work.clone());
            thread::spawn(move || {
                work.fetch_add(1, SeqCst);
                wg.done().unwrap();
            })
        };
        let a = worker();
        let b = worker();
        block_on(wg.wait());
        assert_eq!(work.load(SeqCst), 2, "wait returned before the count hit 0");
        assert_eq!(wg.count(), 0);
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn loom_waitgroup_done_below_zero_fails_exactly_once_and_leaves_the_count_at_zero() {
    loom::model(|| {
        let wg = WaitGroup::new();
        wg.add(1).unwrap();
        let doner = || {
            let wg = wg.clone();
            thread::spawn(move || wg.done())
        };
        let a = doner();
        let b = doner();
        block_on(wg.wait());
        let mut results = [a.join().unwrap(), b.join().unwrap()];
        results.sort_by_key(Result::is_err);
        assert_eq!(results, [Ok(()), Err(NegativeCounter)]);
        assert_eq!(wg.count(), 0, "the failed done changed the counter");
    });
}

#[test]
fn loom_waitgroup_cancelled_wait_does_not_take_the_wake_of_another() {
    loom::model(|| {
        let wg = WaitGroup::new();
        wg.add(1).unwrap();
        let mut cancelled = Box::pin(wg.wait());
        assert!(poll_once(cancelled.as_mut()).is_pending(), "count is 1");
        let wg2 = wg.clone();
        let waiter = thread::spawn(move || block_on(wg2.wait()));
        let wg3 = wg.clone();
        let doner = thread::spawn(move || wg3.done().unwrap());
        // Dropped while the done may be releasing it.
        drop(cancelled);
        doner.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(wg.count(), 0);
    });
}
