//! Model checks of the tokio-named types under loom: oneshot, watch,
//! broadcast and Notify.
//!
//! Run with `scripts/loom-sync.sh`. Each model is two or three threads
//! doing one or two operations each, so loom can explore every
//! interleaving within its preemption bound; the code under test is the
//! real one (gort-sync swaps its Mutex/RwLock/Arc/atomics for loom's under
//! `--cfg loom`). A lost wake-up shows as loom's deadlock report: every
//! `block_on` here parks until its waker is woken.
#![cfg(loom)]

#[path = "common/loom.rs"]
mod loom_common;

use std::pin::{pin, Pin};
use std::task::Poll;

use gort_sync::broadcast::{self, error::RecvError as BroadcastRecvError};
use gort_sync::{oneshot, watch, Notify};
use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use loom_common::{poll_once, Census, Counted};

#[test]
fn loom_oneshot_close_races_send_value_is_received_or_returned_never_both() {
    loom::model(|| {
        let (tx, mut rx) = oneshot::channel::<u32>();
        let t = thread::spawn(move || tx.send(7));
        rx.close();
        let got = block_on(&mut rx);
        let sent = t.join().unwrap();
        match (sent, got) {
            (Ok(()), Ok(7)) => {}
            (Err(7), Err(_)) => {}
            other => panic!("send and receive disagree: {other:?}"),
        }
        assert!(rx.is_terminated());
    });
}

#[test]
fn loom_oneshot_waiting_receiver_is_woken_by_send_and_by_sender_drop() {
    for send in [true, false] {
        loom::model(move || {
            let (tx, rx) = oneshot::channel::<u32>();
            let t = thread::spawn(move || {
                if send {
                    tx.send(5).unwrap();
                } else {
                    drop(tx);
                }
            });
            let got = block_on(rx);
            t.join().unwrap();
            if send {
                assert_eq!(got, Ok(5));
            } else {
                assert!(got.is_err());
            }
        });
    }
}

#[test]
fn loom_oneshot_registered_receiver_dropped_during_send_drops_the_value_exactly_once() {
    loom::model(|| {
        let census = Census::new();
        let (tx, mut rx) = oneshot::channel::<Counted>();
        let v = census.make(1);
        let t = thread::spawn(move || tx.send(v).map_err(|v| v.v));
        let received = match poll_once(Pin::new(&mut rx)) {
            Poll::Ready(r) => Some(r.expect("the sender is alive until it sends").v),
            Poll::Pending => None,
        };
        drop(rx);
        let sent = t.join().unwrap();
        match (sent, received) {
            // Received, or sent and then dropped with the receiver.
            (Ok(()), _) => {}
            // Refused: the receiver was gone, so it cannot have received.
            (Err(1), None) => {}
            other => panic!("send and receive disagree: {other:?}"),
        }
        assert_eq!(census.live(), 0, "the value leaked or was dropped twice");
    });
}

#[test]
fn loom_oneshot_sender_closed_is_woken_by_receiver_close_and_by_receiver_drop() {
    for close in [true, false] {
        loom::model(move || {
            let (mut tx, mut rx) = oneshot::channel::<u32>();
            let t = thread::spawn(move || {
                if close {
                    rx.close();
                    Some(rx)
                } else {
                    drop(rx);
                    None
                }
            });
            block_on(tx.closed());
            assert!(tx.is_closed());
            assert_eq!(tx.send(1), Err(1), "a closed oneshot refuses the value");
            let rx = t.join().unwrap();
            if let Some(mut rx) = rx {
                assert!(rx.try_recv().is_err());
            }
        });
    }
}

#[test]
fn loom_watch_changed_sees_the_last_send_once_and_errs_after_the_sender_drops() {
    loom::model(|| {
        let (tx, mut rx) = watch::channel(0u32);
        let t = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        let mut seen = Vec::new();
        while block_on(rx.changed()).is_ok() {
            seen.push(*rx.borrow_and_update());
        }
        t.join().unwrap();
        assert_eq!(
            seen.last(),
            Some(&2),
            "the last change was missed: {seen:?}"
        );
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "a value was seen twice: {seen:?}"
        );
        assert!(rx.has_changed().is_err(), "the sender is gone");
    });
}

#[test]
fn loom_watch_borrow_and_update_racing_a_send_marks_seen_exactly_the_value_it_read() {
    loom::model(|| {
        let (tx, mut rx) = watch::channel(0u32);
        let t = thread::spawn(move || {
            tx.send(1).unwrap();
            tx
        });
        let first = *rx.borrow_and_update();
        let tx = t.join().unwrap();
        // The send is done: it is unseen exactly when the borrow read 0.
        assert_eq!(rx.has_changed(), Ok(first == 0), "read {first}");
        if first == 0 {
            block_on(rx.changed()).unwrap();
            assert_eq!(*rx.borrow_and_update(), 1);
        }
        assert_eq!(rx.has_changed(), Ok(false));
        drop(tx);
    });
}

#[test]
fn loom_watch_sender_closed_is_woken_when_the_last_of_two_receivers_drops() {
    loom::model(|| {
        let (tx, rx) = watch::channel(0u32);
        let rx2 = rx.clone();
        let a = thread::spawn(move || drop(rx));
        let b = thread::spawn(move || drop(rx2));
        block_on(tx.closed());
        assert_eq!(tx.receiver_count(), 0);
        assert!(tx.send(1).is_err(), "no receiver: nothing stored");
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(*tx.borrow(), 0);
    });
}

/// What one broadcast receiver saw until `Closed`: each value it got, and
/// each lag it was told of, in order.
fn drain_broadcast(rx: &mut broadcast::Receiver<u32>) -> Vec<Result<u32, u64>> {
    let mut events = Vec::new();
    loop {
        match block_on(rx.recv()) {
            Ok(v) => events.push(Ok(v)),
            Err(BroadcastRecvError::Lagged(n)) => events.push(Err(n)),
            Err(BroadcastRecvError::Closed) => return events,
        }
    }
}

/// Checks that `events` accounts for each of the values `1..=sent` exactly
/// once, in order: received, or skipped inside a `Lagged(n)` of the right
/// size.
fn assert_each_value_once_or_lagged(events: &[Result<u32, u64>], sent: u32) {
    let mut next = 1;
    for e in events {
        match *e {
            Ok(v) => {
                assert_eq!(v, next, "out of order or twice: {events:?}");
                next += 1;
            }
            Err(n) => {
                assert!(n > 0, "an empty lag: {events:?}");
                next += u32::try_from(n).unwrap();
            }
        }
    }
    assert_eq!(next, sent + 1, "values unaccounted for: {events:?}");
}

#[test]
fn loom_broadcast_two_receivers_each_see_every_value_once_or_the_exact_lag() {
    loom::model(|| {
        let (tx, mut a) = broadcast::channel::<u32>(1);
        let mut b = tx.subscribe();
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
            // `tx` dropped: closed.
        });
        // The other receiver races only its first receive; it reads the
        // rest after the sender is gone (racing both drains triples the
        // model's run time for no new interleaving of the channel).
        let other = thread::spawn(move || {
            let first = block_on(b.recv());
            (first, b)
        });
        let mine = drain_broadcast(&mut a);
        sender.join().unwrap();
        let (first, mut b) = other.join().unwrap();
        let mut theirs = match first {
            Ok(v) => vec![Ok(v)],
            Err(BroadcastRecvError::Lagged(n)) => vec![Err(n)],
            Err(BroadcastRecvError::Closed) => panic!("closed before reading anything"),
        };
        theirs.extend(drain_broadcast(&mut b));
        assert_each_value_once_or_lagged(&mine, 2);
        assert_each_value_once_or_lagged(&theirs, 2);
    });
}

#[test]
fn loom_broadcast_capacity_two_receiver_racing_three_sends_sees_each_once_or_the_exact_lag() {
    loom::model(|| {
        let (tx, mut rx) = broadcast::channel::<u32>(2);
        let sender = thread::spawn(move || {
            for v in 1..=3 {
                tx.send(v).unwrap();
            }
        });
        let events = drain_broadcast(&mut rx);
        sender.join().unwrap();
        assert_each_value_once_or_lagged(&events, 3);
    });
}

#[test]
fn loom_broadcast_values_are_freed_once_read_by_every_receiver_or_left_behind() {
    loom::model(|| {
        let census = Census::new();
        let (tx, mut a) = broadcast::channel::<Counted>(2);
        let mut b = tx.subscribe();
        let made = census.clone();
        let sender = thread::spawn(move || {
            tx.send(made.make(1)).unwrap();
            tx.send(made.make(2)).unwrap();
        });
        // Reads at most one value, then leaves with the rest unread.
        let leaver = thread::spawn(move || {
            let got = b.try_recv().ok().map(|c| c.v);
            drop(b);
            got
        });
        let mut mine = Vec::new();
        loop {
            match block_on(a.recv()) {
                Ok(c) => mine.push(c.v),
                Err(BroadcastRecvError::Closed) => break,
                Err(e) => panic!("capacity 2 holds both values: {e:?}"),
            }
        }
        sender.join().unwrap();
        let left_with = leaver.join().unwrap();
        assert_eq!(mine, [1, 2]);
        assert!(matches!(left_with, None | Some(1)), "{left_with:?}");
        assert_eq!(census.live(), 0, "a value outlived its last reader");
        drop(a);
    });
}

#[test]
fn loom_notify_one_reaches_a_concurrently_registering_waiter_and_leaves_no_permit() {
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let n2 = n.clone();
        let t = thread::spawn(move || n2.notify_one());
        block_on(n.notified());
        t.join().unwrap();
        let mut again = pin!(n.notified());
        assert!(
            poll_once(again.as_mut()).is_pending(),
            "one notify_one completed two waits"
        );
    });
}

#[test]
fn loom_two_racing_notify_one_calls_complete_both_registered_waiters_and_store_nothing() {
    // (With nobody registered, two calls would store one permit: tokio's
    // rule. Both waiters register first here, so each call has one.)
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let mut a = Box::pin(n.notified());
        let mut b = Box::pin(n.notified());
        assert!(poll_once(a.as_mut()).is_pending());
        assert!(poll_once(b.as_mut()).is_pending());
        let notifier = |n: &Arc<Notify>| {
            let n = n.clone();
            thread::spawn(move || n.notify_one())
        };
        let x = notifier(&n);
        let y = notifier(&n);
        block_on(a);
        block_on(b);
        x.join().unwrap();
        y.join().unwrap();
        let mut again = pin!(n.notified());
        assert!(
            poll_once(again.as_mut()).is_pending(),
            "a third wake was stored"
        );
    });
}

#[test]
fn loom_notify_one_given_to_a_dropped_waiter_passes_on_to_the_next_or_the_permit() {
    // tokio's rule, kept by gort: a `Notified` that `notify_one` chose and
    // that is dropped before it returned hands the notification on.
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let mut first = Box::pin(n.notified());
        assert!(
            poll_once(first.as_mut()).is_pending(),
            "nothing notified yet"
        );
        let n2 = n.clone();
        let notifier = thread::spawn(move || n2.notify_one());
        let n3 = n.clone();
        let waiter = thread::spawn(move || block_on(n3.notified()));
        drop(first);
        notifier.join().unwrap();
        waiter.join().unwrap();
        let mut again = pin!(n.notified());
        assert!(
            poll_once(again.as_mut()).is_pending(),
            "the notification was duplicated"
        );
    });
}

#[test]
fn loom_notify_waiters_completes_futures_made_before_it_and_stores_no_permit() {
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let called = Arc::new(AtomicBool::new(false));
        let before = n.notified();
        let (n2, called2) = (n.clone(), called.clone());
        let t = thread::spawn(move || {
            n2.notify_waiters();
            called2.store(true, SeqCst);
        });
        // Made and registered while the call runs: completed by it only if
        // made before it.
        let after_call = called.load(SeqCst);
        let mut racing = pin!(n.notified());
        let first_poll = poll_once(racing.as_mut());
        block_on(before);
        t.join().unwrap();
        if after_call {
            assert!(first_poll.is_pending(), "notify_waiters left a permit");
            assert!(
                poll_once(racing.as_mut()).is_pending(),
                "a future made after notify_waiters was completed by it"
            );
        }
        let mut fresh = pin!(n.notified());
        assert!(
            poll_once(fresh.as_mut()).is_pending(),
            "notify_waiters stored a permit"
        );
    });
}
