//! Conformance with tokio's documented `sync` semantics: mpsc, oneshot,
//! Notify, watch, broadcast, Barrier, Semaphore, OnceCell, RwLock and
//! Mutex, as gort-sync provides them under tokio's names. Every test is
//! single-threaded and deterministic (poll by poll) unless its name says
//! otherwise.

mod common;

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::thread;

use common::{block_on, poll_once, Counted, CountingWaker};
use gort_sync::{
    broadcast, mpsc, oneshot, select, watch, AcquireError, Barrier, Mutex, Notify, OnceCell,
    RwLock, Semaphore, SetError, TryAcquireError,
};

fn noop() -> &'static Waker {
    Waker::noop()
}

// ---- mpsc ----

#[test]
fn mpsc_buffered_values_drain_in_order_before_none_once_every_sender_is_gone() {
    let (tx, mut rx) = mpsc::channel(4);
    let tx2 = tx.clone();
    tx.try_send(1).unwrap();
    tx2.try_send(2).unwrap();
    drop(tx);
    assert!(!rx.is_closed(), "one sender is left");
    tx2.try_send(3).unwrap();
    drop(tx2);
    assert!(rx.is_closed());
    assert_eq!(rx.len(), 3);
    assert_eq!(block_on(rx.recv()), Some(1));
    assert_eq!(block_on(rx.recv()), Some(2));
    assert_eq!(block_on(rx.recv()), Some(3));
    assert_eq!(block_on(rx.recv()), None);
    assert_eq!(rx.try_recv(), Err(mpsc::error::TryRecvError::Disconnected));
}

#[test]
fn mpsc_dropping_the_receiver_fails_every_send_with_the_value_and_drops_the_buffer() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel(2);
    tx.try_send(Counted::new(0, &drops)).unwrap();
    drop(rx);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the buffered value is dropped"
    );
    assert!(tx.is_closed());
    let err = block_on(tx.send(Counted::new(1, &drops))).unwrap_err();
    assert_eq!(err.0.id, 1);
    assert!(matches!(
        tx.try_send(Counted::new(2, &drops)),
        Err(mpsc::error::TrySendError::Closed(c)) if c.id == 2
    ));
    assert!(block_on(tx.reserve()).is_err());
}

#[test]
fn mpsc_receiver_close_fails_sends_but_buffered_values_still_drain() {
    let (tx, mut rx) = mpsc::channel(4);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    rx.close();
    assert!(tx.is_closed());
    assert!(rx.is_closed());
    assert_eq!(block_on(tx.send(3)).unwrap_err().0, 3);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(block_on(rx.recv()), Some(2));
    assert_eq!(
        block_on(rx.recv()),
        None,
        "closed and drained, senders alive"
    );
    rx.close();
    assert_eq!(rx.try_recv(), Err(mpsc::error::TryRecvError::Disconnected));
}

#[test]
fn mpsc_try_send_reports_full_while_open_and_closed_once_the_receiver_is_gone() {
    use mpsc::error::TrySendError;
    let (tx, rx) = mpsc::channel(1);
    assert_eq!(tx.capacity(), 1);
    tx.try_send('a').unwrap();
    assert_eq!(tx.capacity(), 0);
    let full = tx.try_send('b').unwrap_err();
    assert!(matches!(full, TrySendError::Full('b')));
    assert!(!full.is_closed());
    drop(rx);
    let closed = tx.try_send('c').unwrap_err();
    assert!(matches!(closed, TrySendError::Closed('c')));
    assert_eq!(closed.into_inner(), 'c');
}

#[test]
fn mpsc_blocked_send_waits_for_room_and_completes_when_the_receiver_takes_a_value() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    let (woken, waker) = CountingWaker::new();
    let mut send = pin!(tx.send(2));
    assert!(poll_once(send.as_mut(), &waker).is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(woken.count(), 1);
    assert!(poll_once(send.as_mut(), &waker).is_ready());
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn mpsc_reserve_holds_a_slot_until_the_permit_sends_or_is_dropped() {
    let (tx, mut rx) = mpsc::channel(2);
    let p1 = block_on(tx.reserve()).unwrap();
    let p2 = tx.try_reserve().unwrap();
    assert_eq!(tx.capacity(), 0);
    assert!(
        matches!(tx.try_send(9), Err(mpsc::error::TrySendError::Full(9))),
        "both slots are held by permits"
    );
    assert!(rx.try_recv().is_err(), "a permit is not a value");
    drop(p1);
    assert_eq!(tx.capacity(), 1, "a dropped permit gives its slot back");
    p2.send(5);
    assert_eq!(
        tx.capacity(),
        1,
        "the value now fills the slot its permit held"
    );
    assert_eq!(rx.try_recv(), Ok(5));
    assert_eq!(tx.capacity(), 2);
}

#[test]
fn mpsc_waiting_reserve_is_granted_in_fifo_order_with_blocked_senders() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let mut send = pin!(tx.send(1));
    let (woken, waker) = CountingWaker::new();
    let mut reserve = pin!(tx.reserve());
    assert!(poll_once(send.as_mut(), noop()).is_pending());
    assert!(poll_once(reserve.as_mut(), &waker).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(woken.count(), 0, "the older blocked send got the slot");
    assert!(poll_once(send.as_mut(), noop()).is_ready());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(woken.count(), 1, "now the reservation holds the slot");
    let Poll::Ready(Ok(permit)) = poll_once(reserve.as_mut(), &waker) else {
        panic!("reservation not granted")
    };
    assert_eq!(tx.capacity(), 0);
    permit.send(2);
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn mpsc_granted_but_dropped_reserve_gives_its_slot_back() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let mut reserve = Box::pin(tx.reserve());
    assert!(poll_once(reserve.as_mut(), noop()).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(tx.capacity(), 0, "granted to the waiting reservation");
    drop(reserve);
    assert_eq!(tx.capacity(), 1);
}

#[test]
fn mpsc_close_waits_for_outstanding_permits_before_returning_none() {
    let (tx, mut rx) = mpsc::channel(2);
    let permit = tx.try_reserve().unwrap();
    rx.close();
    assert!(tx.try_reserve().is_err());
    {
        let (woken, waker) = CountingWaker::new();
        let mut recv = pin!(rx.recv());
        assert!(
            poll_once(recv.as_mut(), &waker).is_pending(),
            "a permit may still send: not drained"
        );
        permit.send(7);
        assert_eq!(woken.count(), 1);
        assert_eq!(poll_once(recv.as_mut(), &waker), Poll::Ready(Some(7)));
    }
    assert_eq!(block_on(rx.recv()), None);
}

#[test]
fn mpsc_dropped_permit_after_close_releases_a_waiting_recv_with_none() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let permit = tx.try_reserve().unwrap();
    rx.close();
    let (woken, waker) = CountingWaker::new();
    let mut recv = pin!(rx.recv());
    assert!(poll_once(recv.as_mut(), &waker).is_pending());
    drop(permit);
    assert_eq!(woken.count(), 1);
    assert_eq!(poll_once(recv.as_mut(), &waker), Poll::Ready(None));
}

#[test]
fn mpsc_sender_closed_completes_when_the_receiver_is_dropped_or_closes() {
    let (tx, rx) = mpsc::channel::<u8>(1);
    let (woken, waker) = CountingWaker::new();
    let mut closed = pin!(tx.closed());
    assert!(poll_once(closed.as_mut(), &waker).is_pending());
    drop(rx);
    assert_eq!(woken.count(), 1);
    assert!(poll_once(closed.as_mut(), &waker).is_ready());

    let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
    let (woken, waker) = CountingWaker::new();
    let mut closed = pin!(tx.closed());
    assert!(poll_once(closed.as_mut(), &waker).is_pending());
    rx.close();
    assert_eq!(woken.count(), 1);
    assert!(poll_once(closed.as_mut(), &waker).is_ready());
}

#[test]
fn mpsc_channel_zero_is_a_channel_of_capacity_one_not_a_panic() {
    let (tx, mut rx) = mpsc::channel(0);
    assert_eq!(tx.max_capacity(), 1);
    tx.try_send(1).unwrap();
    assert!(tx.try_send(2).is_err());
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn mpsc_weak_sender_does_not_keep_the_channel_open() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let weak = tx.downgrade();
    let tx2 = weak.upgrade().expect("a sender is alive");
    assert_eq!(tx.strong_count(), 2);
    drop(tx);
    drop(tx2);
    assert!(weak.upgrade().is_none());
    assert_eq!(block_on(rx.recv()), None);
}

#[test]
fn mpsc_recv_many_waits_for_one_then_takes_up_to_the_limit() {
    let (tx, mut rx) = mpsc::channel(8);
    let mut buf = Vec::new();
    {
        let mut many = pin!(rx.recv_many(&mut buf, 3));
        let (woken, waker) = CountingWaker::new();
        assert!(poll_once(many.as_mut(), &waker).is_pending());
        for i in 0..5 {
            tx.try_send(i).unwrap();
        }
        assert_eq!(woken.count(), 1);
        assert_eq!(poll_once(many.as_mut(), &waker), Poll::Ready(3));
    }
    assert_eq!(buf, [0, 1, 2]);
    assert_eq!(block_on(rx.recv_many(&mut buf, 0)), 0, "limit 0");
    drop(tx);
    assert_eq!(block_on(rx.recv_many(&mut buf, 10)), 2);
    assert_eq!(buf, [0, 1, 2, 3, 4]);
    assert_eq!(
        block_on(rx.recv_many(&mut buf, 10)),
        0,
        "closed and drained"
    );
}

#[test]
fn mpsc_blocking_send_and_recv_work_across_threads() {
    let (tx, mut rx) = mpsc::channel(1);
    let t = thread::spawn(move || {
        for i in 0..100 {
            tx.blocking_send(i).unwrap();
        }
    });
    let got: Vec<i32> = std::iter::from_fn(|| rx.blocking_recv()).collect();
    t.join().unwrap();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn mpsc_poll_recv_is_woken_by_a_send_and_ends_with_none() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (woken, waker) = CountingWaker::new();
    let mut cx = std::task::Context::from_waker(&waker);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
    tx.send(4).unwrap();
    assert_eq!(woken.count(), 1);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(4)));
    drop(tx);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
}

#[test]
fn unbounded_send_never_waits_and_fails_once_the_receiver_closes() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    for i in 0..10_000 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.len(), 10_000);
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.send(-1).unwrap_err().0, -1);
    let mut n = 0;
    while let Some(v) = rx.blocking_recv() {
        assert_eq!(v, n);
        n += 1;
    }
    assert_eq!(n, 10_000);
}

// ---- mpsc in select! ----

#[test]
fn select_losing_mpsc_recv_case_takes_no_value() {
    let (tx_a, mut rx_a) = mpsc::channel::<u32>(1);
    let (tx_b, mut rx_b) = mpsc::unbounded_channel::<u32>();
    let mut wins = [0usize; 2];
    for round in 0..200 {
        tx_a.try_send(round).unwrap();
        tx_b.send(round + 1000).unwrap();
        let got = block_on(async {
            select! {
                v = rx_a.recv() => v.unwrap(),
                v = rx_b.recv() => v.unwrap(),
            }
        });
        let (other, want) = if got < 1000 {
            wins[0] += 1;
            (rx_b.try_recv(), round + 1000)
        } else {
            wins[1] += 1;
            (rx_a.try_recv(), round)
        };
        assert_eq!(other, Ok(want), "the losing channel kept its value");
    }
    assert!(
        wins[0] > 0 && wins[1] > 0,
        "both cases won sometimes: {wins:?}"
    );
}

#[test]
fn select_losing_mpsc_recv_many_case_takes_no_value() {
    let (tx_a, mut rx_a) = mpsc::channel::<u32>(4);
    let (tx_b, mut rx_b) = mpsc::channel::<u32>(4);
    for round in 0..100 {
        tx_a.try_send(round).unwrap();
        tx_a.try_send(round).unwrap();
        tx_b.try_send(round + 1000).unwrap();
        let mut buf = Vec::new();
        let a_won = block_on(async {
            select! {
                n = rx_a.recv_many(&mut buf, 8) => { assert_eq!(n, 2); true }
                v = rx_b.recv() => { assert_eq!(v, Some(round + 1000)); false }
            }
        });
        if a_won {
            assert_eq!(buf, [round, round]);
            assert_eq!(rx_b.try_recv(), Ok(round + 1000));
        } else {
            assert!(buf.is_empty());
            assert_eq!((rx_a.try_recv(), rx_a.try_recv()), (Ok(round), Ok(round)));
        }
    }
}

#[test]
fn select_over_mpsc_receivers_counts_every_value_once_under_concurrent_senders() {
    const PER: u64 = if cfg!(miri) { 50 } else { 20_000 };
    let (tx_a, mut rx_a) = mpsc::channel::<u64>(4);
    let (tx_b, mut rx_b) = mpsc::unbounded_channel::<u64>();
    // The senders are handed back at the end, so no case ever sees a
    // closed channel: the loop stops at the count.
    let a = thread::spawn(move || {
        for i in 0..PER {
            tx_a.blocking_send(i).unwrap();
        }
        tx_a
    });
    let b = thread::spawn(move || {
        for i in 0..PER {
            tx_b.send(PER + i).unwrap();
        }
        tx_b
    });
    let mut seen = vec![0u8; 2 * PER as usize];
    block_on(async {
        for _ in 0..2 * PER {
            let v = select! {
                v = rx_a.recv() => v,
                v = rx_b.recv() => v,
            };
            seen[v.expect("senders are alive") as usize] += 1;
        }
    });
    let (tx_a, tx_b) = (a.join().unwrap(), b.join().unwrap());
    assert_eq!(rx_a.try_recv(), Err(mpsc::error::TryRecvError::Empty));
    assert_eq!(rx_b.try_recv(), Err(mpsc::error::TryRecvError::Empty));
    drop((tx_a, tx_b));
    assert!(seen.iter().all(|&c| c == 1), "every value exactly once");
}

// ---- oneshot ----

#[test]
fn oneshot_delivers_the_value_to_the_awaiting_receiver() {
    let (tx, rx) = oneshot::channel();
    let (woken, waker) = CountingWaker::new();
    let mut rx = pin!(rx);
    assert!(poll_once(rx.as_mut(), &waker).is_pending());
    tx.send("v").unwrap();
    assert_eq!(woken.count(), 1);
    assert_eq!(poll_once(rx.as_mut(), &waker), Poll::Ready(Ok("v")));
}

#[test]
fn oneshot_sender_dropped_without_sending_gives_recv_error() {
    let (tx, rx) = oneshot::channel::<u8>();
    let (woken, waker) = CountingWaker::new();
    let mut rx = pin!(rx);
    assert!(poll_once(rx.as_mut(), &waker).is_pending());
    drop(tx);
    assert_eq!(woken.count(), 1);
    assert!(matches!(
        poll_once(rx.as_mut(), &waker),
        Poll::Ready(Err(_))
    ));
}

#[test]
fn oneshot_receiver_drop_fails_send_and_completes_closed() {
    let (mut tx, rx) = oneshot::channel::<u8>();
    let (woken, waker) = CountingWaker::new();
    {
        let mut closed = pin!(tx.closed());
        assert!(poll_once(closed.as_mut(), &waker).is_pending());
        drop(rx);
        assert_eq!(woken.count(), 1);
        assert!(poll_once(closed.as_mut(), &waker).is_ready());
    }
    assert!(tx.is_closed());
    assert_eq!(tx.send(3), Err(3));
}

#[test]
fn oneshot_try_recv_is_empty_then_the_value_then_closed() {
    use oneshot::error::TryRecvError;
    let (tx, mut rx) = oneshot::channel();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    let (tx, mut rx) = oneshot::channel::<u8>();
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn oneshot_close_fails_later_sends_but_an_earlier_value_is_still_received() {
    let (tx, mut rx) = oneshot::channel();
    tx.send(1).unwrap();
    rx.close();
    assert_eq!(rx.try_recv(), Ok(1));
    let (tx, mut rx) = oneshot::channel();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.send(2), Err(2));
    assert!(rx.blocking_recv().is_err());
}

// ---- Notify ----

#[test]
fn notify_one_with_nobody_waiting_stores_a_single_permit() {
    let notify = Notify::new();
    notify.notify_one();
    notify.notify_one();
    let mut a = pin!(notify.notified());
    let mut b = pin!(notify.notified());
    assert!(
        poll_once(a.as_mut(), noop()).is_ready(),
        "consumes the permit"
    );
    assert!(
        poll_once(b.as_mut(), noop()).is_pending(),
        "two notify_one calls stored only one permit"
    );
    notify.notify_one();
    assert!(poll_once(b.as_mut(), noop()).is_ready());
}

#[test]
fn notify_waiters_wakes_current_waiters_and_stores_no_permit() {
    let notify = Notify::new();
    let (woken, waker) = CountingWaker::new();
    let mut a = pin!(notify.notified());
    let mut b = pin!(notify.notified());
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    assert!(poll_once(b.as_mut(), &waker).is_pending());
    notify.notify_waiters();
    assert_eq!(woken.count(), 2);
    assert!(poll_once(a.as_mut(), &waker).is_ready());
    assert!(poll_once(b.as_mut(), &waker).is_ready());
    let mut later = pin!(notify.notified());
    assert!(
        poll_once(later.as_mut(), &waker).is_pending(),
        "notify_waiters stored nothing"
    );
}

#[test]
fn notify_waiters_reaches_futures_created_before_it_even_if_never_polled() {
    let notify = Notify::new();
    let mut before = pin!(notify.notified());
    notify.notify_waiters();
    let mut after = pin!(notify.notified());
    assert!(poll_once(before.as_mut(), noop()).is_ready());
    assert!(poll_once(after.as_mut(), noop()).is_pending());
}

#[test]
fn notify_one_goes_to_an_enabled_future_instead_of_the_permit() {
    let notify = Notify::new();
    let mut enabled = pin!(notify.notified());
    assert!(!enabled.as_mut().enable());
    notify.notify_one();
    let mut other = pin!(notify.notified());
    assert!(
        poll_once(other.as_mut(), noop()).is_pending(),
        "no permit was stored"
    );
    assert!(enabled.as_mut().enable());
    assert!(poll_once(enabled.as_mut(), noop()).is_ready());
}

#[test]
fn notify_one_wakes_the_oldest_waiter_and_notify_last_the_newest() {
    let notify = Notify::new();
    let mut a = pin!(notify.notified());
    let mut b = pin!(notify.notified());
    let mut c = pin!(notify.notified());
    for f in [a.as_mut(), b.as_mut(), c.as_mut()] {
        assert!(poll_once(f, noop()).is_pending());
    }
    notify.notify_one();
    notify.notify_last();
    assert!(poll_once(a.as_mut(), noop()).is_ready());
    assert!(poll_once(b.as_mut(), noop()).is_pending());
    assert!(poll_once(c.as_mut(), noop()).is_ready());
}

#[test]
fn dropped_notified_passes_its_notify_last_to_the_newest_remaining_waiter() {
    let notify = Notify::new();
    let mut a = pin!(notify.notified());
    let mut b = pin!(notify.notified());
    let mut c = Box::pin(notify.notified());
    for f in [a.as_mut(), b.as_mut(), c.as_mut()] {
        assert!(poll_once(f, noop()).is_pending());
    }
    notify.notify_last();
    drop(c);
    assert!(poll_once(b.as_mut(), noop()).is_ready());
    assert!(poll_once(a.as_mut(), noop()).is_pending());
}

#[test]
fn broadcast_and_watch_sender_closed_rearm_when_a_new_receiver_subscribes() {
    let (tx, rx) = broadcast::channel::<u8>(1);
    let (woken, waker) = CountingWaker::new();
    let mut closed = pin!(tx.closed());
    assert!(poll_once(closed.as_mut(), &waker).is_pending());
    drop(rx);
    assert_eq!(woken.count(), 1);
    let rx2 = tx.subscribe();
    assert!(poll_once(closed.as_mut(), &waker).is_pending());
    drop(rx2);
    assert_eq!(woken.count(), 2, "still registered after the re-subscribe");
    assert!(poll_once(closed.as_mut(), &waker).is_ready());

    let (tx, rx) = watch::channel(0);
    let (woken, waker) = CountingWaker::new();
    let mut closed = pin!(tx.closed());
    assert!(poll_once(closed.as_mut(), &waker).is_pending());
    drop(rx);
    let rx2 = tx.subscribe();
    assert!(poll_once(closed.as_mut(), &waker).is_pending());
    drop(rx2);
    assert_eq!(woken.count(), 2);
    assert!(poll_once(closed.as_mut(), &waker).is_ready());
}

#[test]
fn watch_send_modify_that_panics_notifies_nobody() {
    let (tx, mut rx) = watch::channel(1);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tx.send_modify(|v| {
            *v = 2;
            panic!("in send_modify");
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(rx.has_changed(), Ok(false));
    assert_eq!(*rx.borrow_and_update(), 2, "the value keeps the change");
    tx.send(3).unwrap();
    assert!(block_on(rx.changed()).is_ok());
}

#[test]
fn oneshot_receiver_closed_without_a_value_returns_the_error() {
    let (_tx, mut rx) = oneshot::channel::<u8>();
    rx.close();
    assert_eq!(rx.try_recv(), Err(oneshot::error::TryRecvError::Closed));
    let (_tx, mut rx) = oneshot::channel::<u8>();
    rx.close();
    assert!(block_on(&mut rx).is_err());
    assert!(rx.is_terminated());
}

#[test]
fn dropped_notified_passes_its_notify_one_to_the_next_waiter() {
    let notify = Notify::new();
    let mut a = Box::pin(notify.notified());
    let mut b = pin!(notify.notified());
    assert!(poll_once(a.as_mut(), noop()).is_pending());
    assert!(poll_once(b.as_mut(), noop()).is_pending());
    notify.notify_one();
    drop(a);
    assert!(
        poll_once(b.as_mut(), noop()).is_ready(),
        "the wake-up moved on"
    );
    drop(Box::pin(notify.notified()));
    let mut c = pin!(notify.notified());
    assert!(poll_once(c.as_mut(), noop()).is_pending());
}

// ---- watch ----

#[test]
fn watch_changed_completes_after_a_send_and_marks_the_value_seen() {
    let (tx, mut rx) = watch::channel(0);
    let (woken, waker) = CountingWaker::new();
    {
        let mut changed = pin!(rx.changed());
        assert!(poll_once(changed.as_mut(), &waker).is_pending());
        tx.send(1).unwrap();
        assert_eq!(woken.count(), 1);
        assert_eq!(poll_once(changed.as_mut(), &waker), Poll::Ready(Ok(())));
    }
    assert_eq!(*rx.borrow(), 1);
    assert_eq!(rx.has_changed(), Ok(false));
    let mut again = pin!(rx.changed());
    assert!(poll_once(again.as_mut(), &waker).is_pending());
}

#[test]
fn watch_changed_returns_an_unseen_value_first_then_errs_after_the_sender_drops() {
    let (tx, mut rx) = watch::channel("a");
    tx.send("b").unwrap();
    drop(tx);
    assert!(rx.has_changed().is_err(), "has_changed errs once closed");
    assert!(block_on(rx.changed()).is_ok());
    assert_eq!(*rx.borrow(), "b");
    assert!(block_on(rx.changed()).is_err());

    let (tx, mut rx) = watch::channel(0);
    let (woken, waker) = CountingWaker::new();
    let mut changed = pin!(rx.changed());
    assert!(poll_once(changed.as_mut(), &waker).is_pending());
    drop(tx);
    assert_eq!(woken.count(), 1);
    assert!(matches!(
        poll_once(changed.as_mut(), &waker),
        Poll::Ready(Err(_))
    ));
}

#[test]
fn watch_borrow_and_update_marks_seen_and_borrow_does_not() {
    let (tx, mut rx) = watch::channel(0);
    tx.send(1).unwrap();
    {
        let r = rx.borrow();
        assert_eq!((*r, r.has_changed()), (1, true));
    }
    assert_eq!(rx.has_changed(), Ok(true));
    {
        let r = rx.borrow_and_update();
        assert_eq!((*r, r.has_changed()), (1, true));
    }
    assert_eq!(rx.has_changed(), Ok(false));
    assert!(!rx.borrow_and_update().has_changed());
    rx.mark_changed();
    assert_eq!(rx.has_changed(), Ok(true));
    rx.mark_unchanged();
    assert_eq!(rx.has_changed(), Ok(false));
}

#[test]
fn watch_send_needs_a_receiver_but_send_replace_and_modify_always_store() {
    let (tx, rx) = watch::channel(1);
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(2).unwrap_err().0, 2);
    assert_eq!(*tx.borrow(), 1, "a failed send stores nothing");
    assert_eq!(tx.send_replace(3), 1);
    tx.send_modify(|v| *v += 1);
    assert_eq!(*tx.borrow(), 4);
    let rx = tx.subscribe();
    assert_eq!(
        rx.has_changed(),
        Ok(false),
        "a new receiver has seen the value"
    );
    assert_eq!(tx.receiver_count(), 1);
}

#[test]
fn watch_send_if_modified_notifies_only_when_the_closure_says_so() {
    let (tx, mut rx) = watch::channel(0);
    let (woken, waker) = CountingWaker::new();
    let mut changed = pin!(rx.changed());
    assert!(poll_once(changed.as_mut(), &waker).is_pending());
    assert!(!tx.send_if_modified(|_| false));
    assert_eq!(woken.count(), 0);
    assert!(tx.send_if_modified(|v| {
        *v = 5;
        true
    }));
    assert_eq!(woken.count(), 1);
    assert_eq!(poll_once(changed.as_mut(), &waker), Poll::Ready(Ok(())));
}

#[test]
fn watch_sender_closed_completes_when_every_receiver_is_gone() {
    let (tx, rx) = watch::channel(0);
    let rx2 = rx.clone();
    let (woken, waker) = CountingWaker::new();
    let mut closed = pin!(tx.closed());
    assert!(poll_once(closed.as_mut(), &waker).is_pending());
    drop(rx);
    assert!(poll_once(closed.as_mut(), &waker).is_pending());
    drop(rx2);
    assert_eq!(woken.count(), 1);
    assert!(poll_once(closed.as_mut(), &waker).is_ready());
}

#[test]
fn watch_wait_for_checks_the_current_value_first() {
    let (tx, mut rx) = watch::channel(3);
    assert_eq!(*block_on(rx.wait_for(|v| *v == 3)).unwrap(), 3);
    let mut wait = pin!(rx.wait_for(|v| *v >= 10));
    assert!(poll_once(wait.as_mut(), noop()).is_pending());
    tx.send(5).unwrap();
    assert!(poll_once(wait.as_mut(), noop()).is_pending());
    tx.send(10).unwrap();
    let Poll::Ready(Ok(r)) = poll_once(wait.as_mut(), noop()) else {
        panic!("10 satisfies the predicate")
    };
    assert_eq!(*r, 10);
}

// ---- broadcast ----

#[test]
fn broadcast_every_receiver_gets_every_value_in_order() {
    let (tx, mut a) = broadcast::channel(8);
    let mut b = tx.subscribe();
    assert_eq!(tx.send(1).unwrap(), 2);
    assert_eq!(tx.send(2).unwrap(), 2);
    assert_eq!(block_on(a.recv()), Ok(1));
    assert_eq!(block_on(a.recv()), Ok(2));
    assert_eq!(b.try_recv(), Ok(1));
    assert_eq!(b.try_recv(), Ok(2));
    assert_eq!(b.try_recv(), Err(broadcast::error::TryRecvError::Empty));
}

#[test]
fn broadcast_lagging_receiver_gets_lagged_n_then_the_oldest_retained_value() {
    use broadcast::error::RecvError;
    let (tx, mut rx) = broadcast::channel(4);
    for v in 0..10 {
        tx.send(v).unwrap();
    }
    assert_eq!(rx.len(), 10);
    assert_eq!(block_on(rx.recv()), Err(RecvError::Lagged(6)));
    for v in 6..10 {
        assert_eq!(block_on(rx.recv()), Ok(v));
    }
    tx.send(10).unwrap();
    tx.send(11).unwrap();
    assert_eq!(rx.try_recv(), Ok(10));
    for v in 12..17 {
        tx.send(v).unwrap();
    }
    assert_eq!(
        rx.try_recv(),
        Err(broadcast::error::TryRecvError::Lagged(2)),
        "11 and 12 were evicted by 13..17"
    );
    assert_eq!(rx.try_recv(), Ok(13));
}

#[test]
fn broadcast_capacity_is_rounded_up_to_a_power_of_two_and_zero_is_one() {
    use broadcast::error::RecvError;
    let (tx, mut rx) = broadcast::channel(3);
    for v in 0..5 {
        tx.send(v).unwrap();
    }
    assert_eq!(block_on(rx.recv()), Err(RecvError::Lagged(1)), "4 retained");
    assert_eq!(block_on(rx.recv()), Ok(1));
    let (tx, mut rx) = broadcast::channel(0);
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert_eq!(block_on(rx.recv()), Err(RecvError::Lagged(1)));
    assert_eq!(block_on(rx.recv()), Ok(2));
}

#[test]
fn broadcast_closes_after_every_sender_drops_with_retained_values_still_readable() {
    use broadcast::error::{RecvError, TryRecvError};
    let (tx, mut rx) = broadcast::channel(4);
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    tx2.send(2).unwrap();
    drop(tx);
    assert!(!rx.is_closed());
    drop(tx2);
    assert!(rx.is_closed());
    assert_eq!(block_on(rx.recv()), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(block_on(rx.recv()), Err(RecvError::Closed));
}

#[test]
fn broadcast_blocked_recv_is_woken_by_a_send_and_by_the_last_sender_dropping() {
    let (tx, mut rx) = broadcast::channel(2);
    let (woken, waker) = CountingWaker::new();
    {
        let mut recv = pin!(rx.recv());
        assert!(poll_once(recv.as_mut(), &waker).is_pending());
        tx.send(9).unwrap();
        assert_eq!(woken.count(), 1);
        assert_eq!(poll_once(recv.as_mut(), &waker), Poll::Ready(Ok(9)));
    }
    let mut recv = pin!(rx.recv());
    assert!(poll_once(recv.as_mut(), &waker).is_pending());
    drop(tx);
    assert_eq!(woken.count(), 2);
    assert_eq!(
        poll_once(recv.as_mut(), &waker),
        Poll::Ready(Err(broadcast::error::RecvError::Closed))
    );
}

#[test]
fn broadcast_send_without_receivers_fails_and_len_counts_unread_values() {
    let (tx, rx) = broadcast::channel(4);
    let mut late = rx.resubscribe();
    tx.send(1).unwrap();
    assert_eq!(tx.len(), 1);
    assert_eq!(late.try_recv(), Ok(1));
    assert_eq!(tx.len(), 1, "`rx` has not read it yet");
    drop(rx);
    assert_eq!(tx.len(), 0, "a dropped receiver releases its unread values");
    drop(late);
    assert_eq!(tx.receiver_count(), 0);
    assert_eq!(tx.send(2).unwrap_err().0, 2);
    let mut fresh = tx.subscribe();
    assert!(fresh.try_recv().is_err(), "a subscriber starts at the tail");
}

#[test]
fn broadcast_values_are_dropped_once_every_receiver_read_them() {
    let drops = Arc::new(AtomicUsize::new(0));
    #[derive(Debug)]
    struct C(Arc<AtomicUsize>);
    impl Clone for C {
        fn clone(&self) -> Self {
            C(self.0.clone())
        }
    }
    impl Drop for C {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (tx, mut a) = broadcast::channel(4);
    let mut b = tx.subscribe();
    tx.send(C(drops.clone())).unwrap();
    drop(a.try_recv().unwrap());
    assert_eq!(drops.load(Ordering::SeqCst), 1, "a's clone");
    drop(b.try_recv().unwrap());
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "the last reader took the value itself: no copy is left in the ring"
    );
}

// ---- Barrier ----

#[test]
fn barrier_releases_only_when_n_arrive_and_the_last_is_the_leader() {
    let barrier = Barrier::new(3);
    let (woken, waker) = CountingWaker::new();
    let mut a = pin!(barrier.wait());
    let mut b = pin!(barrier.wait());
    let mut c = pin!(barrier.wait());
    assert!(poll_once(a.as_mut(), &waker).is_pending());
    assert!(poll_once(b.as_mut(), &waker).is_pending());
    let Poll::Ready(rc) = poll_once(c.as_mut(), &waker) else {
        panic!("the third arrival completes the barrier")
    };
    assert!(rc.is_leader());
    assert_eq!(woken.count(), 2);
    let Poll::Ready(ra) = poll_once(a.as_mut(), &waker) else {
        panic!()
    };
    let Poll::Ready(rb) = poll_once(b.as_mut(), &waker) else {
        panic!()
    };
    assert!(!ra.is_leader() && !rb.is_leader());
    assert!(block_on(Barrier::new(0).wait()).is_leader(), "0 acts as 1");
}

#[test]
fn barrier_has_exactly_one_leader_per_generation_across_reuses_on_threads() {
    const N: usize = 4;
    const ROUNDS: usize = if cfg!(miri) { 5 } else { 200 };
    let barrier = Arc::new(Barrier::new(N));
    let leaders: Arc<Vec<AtomicUsize>> =
        Arc::new((0..ROUNDS).map(|_| AtomicUsize::new(0)).collect());
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let (barrier, leaders) = (barrier.clone(), leaders.clone());
            thread::spawn(move || {
                for round in leaders.iter() {
                    if block_on(barrier.wait()).is_leader() {
                        round.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let counts: Vec<usize> = leaders.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(counts, vec![1; ROUNDS]);
}

// ---- Semaphore, OnceCell, RwLock, Mutex ----

#[test]
fn semaphore_close_fails_queued_and_later_acquires_but_held_permits_stay_valid() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let (woken, waker) = CountingWaker::new();
    let mut queued = pin!(sem.acquire());
    assert!(poll_once(queued.as_mut(), &waker).is_pending());
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    sem.close();
    assert_eq!(woken.count(), 1);
    assert!(matches!(
        poll_once(queued.as_mut(), &waker),
        Poll::Ready(Err(AcquireError { .. }))
    ));
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    assert!(block_on(sem.acquire_many(1)).is_err());
    drop(held);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn semaphore_acquire_owned_and_add_permits_as_mini_redis_uses_them() {
    let sem = Arc::new(Semaphore::new(1));
    let first = block_on(sem.clone().acquire_owned()).unwrap();
    let mut second = Box::pin(sem.clone().acquire_owned());
    assert!(poll_once(second.as_mut(), noop()).is_pending());
    sem.add_permits(1);
    let Poll::Ready(Ok(second)) = poll_once(second.as_mut(), noop()) else {
        panic!("add_permits granted the waiter")
    };
    drop((first, second));
    assert_eq!(sem.available_permits(), 2);
    assert_eq!(sem.forget_permits(1), 1);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn once_cell_has_tokio_methods_on_gorts_cell() {
    let cell = OnceCell::new();
    assert!(!cell.initialized());
    assert_eq!(
        block_on(cell.get_or_try_init(|| async { Err::<u32, _>("fail") })),
        Err("fail")
    );
    assert!(cell.get().is_none(), "a failed initialiser leaves it empty");
    assert_eq!(block_on(cell.get_or_init(|| async { 7 })), &7);
    assert!(matches!(
        cell.set(8),
        Err(SetError::AlreadyInitializedError(8))
    ));
    let mut cell = cell;
    assert_eq!(cell.take(), Some(7));
    assert!(cell.set(9).is_ok());
    assert_eq!(cell.into_inner(), Some(9));
}

#[test]
fn once_cell_set_while_initialising_is_an_initializing_error() {
    let cell = OnceCell::new();
    let mut init = pin!(cell.get_or_init(std::future::pending::<u8>));
    assert!(poll_once(init.as_mut(), noop()).is_pending());
    assert!(matches!(cell.set(1), Err(SetError::InitializingError(1))));
}

#[test]
fn rwlock_and_mutex_answer_to_tokios_method_names() {
    let lock = RwLock::new(1);
    {
        let r1 = block_on(lock.read());
        let r2 = lock.try_read().unwrap();
        assert_eq!(*r1 + *r2, 2);
        assert!(lock.try_write().is_err());
    }
    *block_on(lock.write()) += 1;
    assert_eq!(lock.into_inner(), 2);

    let m = Arc::new(Mutex::new(0));
    let mut g = block_on(m.clone().lock_owned());
    *g += 1;
    assert!(m.try_lock().is_err());
    drop(g);
    *m.blocking_lock() += 1;
    assert_eq!(*block_on(m.lock()), 2);
}
