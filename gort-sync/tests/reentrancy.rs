//! Dropping a waker runs its owner's code (often: freeing a task, whose
//! future holds handles to the very channel or lock that held the waker).
//! A primitive must therefore never drop a waker while holding its own
//! lock — neither the stale waker it replaces when re-polled with a new
//! one, nor the waker of a waiter removed on cancellation. Each test uses a
//! waker whose drop touches the primitive again and would deadlock if it
//! ran under the primitive's lock.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::thread;
use std::time::Duration;

use common::poll_once;
use gort_sync::{chan, Cond, Mutex, Once, RwMutex, Semaphore, WaitGroup};

/// A waker that runs `on_drop` when its last clone is dropped.
struct ReentrantWaker<F: Fn() + Send + Sync>(F);

impl<F: Fn() + Send + Sync> Wake for ReentrantWaker<F> {
    fn wake(self: Arc<Self>) {}
}

impl<F: Fn() + Send + Sync> Drop for ReentrantWaker<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

fn reentrant(on_drop: impl Fn() + Send + Sync + 'static) -> Waker {
    Waker::from(Arc::new(ReentrantWaker(on_drop)))
}

/// Runs `f` on a thread; fails if it has not finished within 10 s.
fn no_deadlock(what: &str, f: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        f();
        let _ = done_tx.send(());
    });
    if done_rx.recv_timeout(Duration::from_secs(10)).is_err() {
        panic!("{what}: deadlock (a waker was dropped under the primitive's lock)");
    }
}

/// Parks `fut` with a waker that re-enters through `touch` when dropped,
/// lets the primitive own the last clone, then either re-polls with
/// another waker (the stale one is replaced) or drops the future (its
/// waiter is removed).
fn park_then<F: Future + ?Sized>(
    mut fut: Pin<Box<F>>,
    touch: impl Fn() + Send + Sync + 'static,
    repoll: bool,
) {
    let w = reentrant(touch);
    assert!(poll_once(fut.as_mut(), &w).is_pending());
    drop(w);
    if repoll {
        assert!(poll_once(fut.as_mut(), Waker::noop()).is_pending());
    }
    drop(fut);
}

#[test]
fn channel_drops_no_waker_under_its_lock() {
    for repoll in [true, false] {
        no_deadlock("recv", move || {
            let (tx, rx) = chan::<u32>(0);
            let probe = tx.clone();
            park_then(
                Box::pin(rx.recv()),
                move || {
                    let _ = probe.len();
                },
                repoll,
            );
        });
        no_deadlock("send", move || {
            let (tx, rx) = chan::<u32>(0);
            let probe = rx.clone();
            park_then(
                Box::pin(tx.send(1)),
                move || {
                    let _ = probe.len();
                },
                repoll,
            );
        });
    }
}

#[test]
fn mutex_drops_no_waker_under_its_lock() {
    for repoll in [true, false] {
        no_deadlock("lock", move || {
            let m = Arc::new(Mutex::new(()));
            let g = m.try_lock().unwrap();
            let probe = m.clone();
            // Polling a contended lock() takes the mutex's queue lock.
            park_then(
                Box::pin(m.lock()),
                move || drop(poll_once(Box::pin(probe.lock()).as_mut(), Waker::noop())),
                repoll,
            );
            drop(g);
        });
    }
}

#[test]
fn rwmutex_drops_no_waker_under_its_lock() {
    for repoll in [true, false] {
        no_deadlock("read", move || {
            let rw = Arc::new(RwMutex::new(()));
            let g = rw.try_write().unwrap();
            let probe = rw.clone();
            park_then(Box::pin(rw.read()), move || drop(probe.try_read()), repoll);
            drop(g);
        });
        no_deadlock("write", move || {
            let rw = Arc::new(RwMutex::new(()));
            let g = rw.try_read().unwrap();
            let probe = rw.clone();
            park_then(Box::pin(rw.write()), move || drop(probe.try_read()), repoll);
            drop(g);
        });
    }
}

#[test]
fn semaphore_drops_no_waker_under_its_lock() {
    for repoll in [true, false] {
        no_deadlock("acquire", move || {
            let s = Arc::new(Semaphore::new(0));
            let probe = s.clone();
            park_then(
                Box::pin(s.acquire()),
                move || {
                    let _ = probe.available_permits();
                },
                repoll,
            );
        });
    }
}

#[test]
fn wait_group_drops_no_waker_under_its_lock() {
    for repoll in [true, false] {
        no_deadlock("wait", move || {
            let wg = WaitGroup::new();
            wg.add(1).unwrap();
            let probe = wg.clone();
            park_then(
                Box::pin(wg.wait()),
                move || {
                    let _ = probe.count();
                },
                repoll,
            );
        });
    }
}

#[test]
fn cond_drops_no_waker_under_its_lock() {
    for repoll in [true, false] {
        no_deadlock("cond wait", move || {
            let pair = Arc::new((Mutex::new(()), Cond::new()));
            let probe = pair.clone();
            let p = pair.clone();
            park_then(
                Box::pin(async move {
                    let g = p.0.lock().await;
                    drop(p.1.wait(g).await);
                }),
                move || probe.1.signal(),
                repoll,
            );
        });
    }
}

#[test]
fn once_drops_no_waker_under_its_lock() {
    for repoll in [true, false] {
        no_deadlock("call_once", move || {
            let once = Arc::new(Once::new());
            // A first caller is running the initialiser (parked inside it).
            let o = once.clone();
            let mut runner = Box::pin(async move {
                o.call_once_async(std::future::pending::<()>).await;
            });
            assert!(poll_once(runner.as_mut(), Waker::noop()).is_pending());
            let probe = once.clone();
            let o = once.clone();
            park_then(
                Box::pin(async move { o.call_once(|| ()).await }),
                move || {
                    let _ = probe.is_done();
                },
                repoll,
            );
            drop(runner);
        });
    }
}
