//! Conformance: one test per sentence of DESIGN.md's channel contract and
//! the Go spec's clauses on send, receive and close.

mod common;

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::thread;

use common::{block_on, poll_once, Counted, CountingWaker};
use futures_core::Stream;
use gort_sync::{chan, CloseError, Receiver, Sender, TryRecvError, TrySendError};

#[test]
fn unbuffered_send_completes_only_after_receiver_takes_value() {
    let (tx, rx) = chan::<u32>(0);
    let (woken, waker) = CountingWaker::new();
    let mut send = pin!(tx.send(7));
    assert!(
        poll_once(send.as_mut(), &waker).is_pending(),
        "no receiver yet"
    );
    assert!(
        poll_once(send.as_mut(), &waker).is_pending(),
        "still no receiver"
    );
    assert_eq!(rx.len(), 0, "an unbuffered channel never buffers the value");
    assert_eq!(woken.count(), 0);
    assert_eq!(rx.try_recv(), Ok(7));
    assert_eq!(woken.count(), 1, "taking the value wakes the sender");
    assert!(matches!(
        poll_once(send.as_mut(), &waker),
        Poll::Ready(Ok(()))
    ));
}

#[test]
fn unbuffered_try_send_without_receiver_is_full() {
    let (tx, _rx) = chan::<u32>(0);
    assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
}

#[test]
fn buffered_send_proceeds_while_there_is_room() {
    let (tx, rx) = chan::<u32>(3);
    let waker = Waker::noop();
    for i in 0..3 {
        assert!(matches!(
            poll_once(pin!(tx.send(i)), waker),
            Poll::Ready(Ok(()))
        ));
    }
    assert_eq!((tx.len(), tx.cap()), (3, 3));
    let mut fourth = pin!(tx.send(3));
    assert!(
        poll_once(fourth.as_mut(), waker).is_pending(),
        "buffer full"
    );
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(poll_once(fourth.as_mut(), waker).is_ready());
}

#[test]
fn buffered_channel_is_fifo() {
    let (tx, rx) = chan::<u32>(100);
    for i in 0..100 {
        tx.try_send(i).unwrap();
    }
    let got: Vec<u32> = (0..100).map(|_| rx.try_recv().unwrap()).collect();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn waiters_served_fifo() {
    // Receivers: the first to block gets the first value.
    let (tx, rx) = chan::<u32>(0);
    let waker = Waker::noop();
    let mut r: Vec<_> = (0..3).map(|_| Box::pin(rx.recv())).collect();
    for f in &mut r {
        assert!(poll_once(f.as_mut(), waker).is_pending());
    }
    for i in 0..3 {
        tx.try_send(i * 10).unwrap();
    }
    let got: Vec<_> = r.iter_mut().map(|f| poll_once(f.as_mut(), waker)).collect();
    assert_eq!(
        got,
        [
            Poll::Ready(Some(0)),
            Poll::Ready(Some(10)),
            Poll::Ready(Some(20))
        ]
    );

    // Senders: the first to block is the first received.
    let mut s: Vec<_> = (0..3).map(|i| Box::pin(tx.send(i))).collect();
    for f in &mut s {
        assert!(poll_once(f.as_mut(), waker).is_pending());
    }
    let got: Vec<_> = (0..3).map(|_| rx.try_recv().unwrap()).collect();
    assert_eq!(got, [0, 1, 2]);
}

#[test]
fn sender_hands_value_directly_to_waiting_receiver() {
    let (tx, rx) = chan::<u32>(4);
    let waker = Waker::noop();
    let mut r = pin!(rx.recv());
    assert!(poll_once(r.as_mut(), waker).is_pending());
    tx.try_send(5).unwrap();
    assert_eq!(tx.len(), 0, "the value skipped the buffer");
    assert_eq!(poll_once(r.as_mut(), waker), Poll::Ready(Some(5)));
}

#[test]
fn receiver_takes_head_and_moves_blocked_sender_value_into_tail() {
    let (tx, rx) = chan::<u32>(2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    let (woken, waker) = CountingWaker::new();
    let mut s = pin!(tx.send(3));
    assert!(poll_once(s.as_mut(), &waker).is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(woken.count(), 1);
    assert_eq!(
        rx.len(),
        2,
        "the blocked sender's value went into the buffer"
    );
    assert!(matches!(poll_once(s.as_mut(), &waker), Poll::Ready(Ok(()))));
    assert_eq!((rx.try_recv(), rx.try_recv()), (Ok(2), Ok(3)));
}

#[test]
fn close_wakes_all_receivers() {
    let (tx, rx) = chan::<u32>(0);
    let (woken, waker) = CountingWaker::new();
    let mut r: Vec<_> = (0..4).map(|_| Box::pin(rx.recv())).collect();
    for f in &mut r {
        assert!(poll_once(f.as_mut(), &waker).is_pending());
    }
    tx.close().unwrap();
    assert_eq!(woken.count(), 4);
    for f in &mut r {
        assert_eq!(poll_once(f.as_mut(), &waker), Poll::Ready(None));
    }
}

#[test]
fn close_wakes_all_senders_and_returns_their_values() {
    let (tx, _rx) = chan::<u32>(0);
    let (woken, waker) = CountingWaker::new();
    let mut s: Vec<_> = (0..4).map(|i| Box::pin(tx.send(i))).collect();
    for f in &mut s {
        assert!(poll_once(f.as_mut(), &waker).is_pending());
    }
    tx.close().unwrap();
    assert_eq!(woken.count(), 4);
    for (i, f) in s.iter_mut().enumerate() {
        match poll_once(f.as_mut(), &waker) {
            Poll::Ready(Err(e)) => assert_eq!(e.into_inner(), i as u32),
            other => panic!("expected the value back, got {other:?}"),
        }
    }
}

#[test]
fn receivers_drain_buffer_after_close_then_get_none() {
    let (tx, rx) = chan::<u32>(3);
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    tx.close().unwrap();
    assert!(rx.is_closed());
    assert_eq!(rx.recv_blocking(), Some(0));
    assert_eq!(block_on(rx.recv()), Some(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.recv_blocking(), None);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn send_on_closed_returns_value() {
    let (tx, _rx) = chan::<String>(1);
    tx.close().unwrap();
    let err = block_on(tx.send("v".to_string())).unwrap_err();
    assert_eq!(err.0, "v");
    assert!(matches!(tx.try_send("w".into()), Err(TrySendError::Closed(s)) if s == "w"));
    assert_eq!(tx.send_blocking("x".into()).unwrap_err().into_inner(), "x");
}

#[test]
fn double_close_is_an_error() {
    let (tx, _rx) = chan::<u32>(0);
    assert_eq!(tx.close(), Ok(()));
    assert_eq!(tx.close(), Err(CloseError));
    assert_eq!(tx.clone().close(), Err(CloseError));
}

#[test]
fn nil_channel_never_ready() {
    let tx = Sender::<u32>::nil();
    let rx = Receiver::<u32>::nil();
    let (woken, waker) = CountingWaker::new();
    let mut s = pin!(tx.send(1));
    let mut r = pin!(rx.recv());
    for _ in 0..3 {
        assert!(poll_once(s.as_mut(), &waker).is_pending());
        assert!(poll_once(r.as_mut(), &waker).is_pending());
    }
    assert_eq!(woken.count(), 0);
    assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        tx.close(),
        Err(CloseError),
        "Go panics on close of a nil channel"
    );
    assert!(!tx.is_closed() && !rx.is_closed());
    assert_eq!((tx.len(), tx.cap(), rx.len(), rx.cap()), (0, 0, 0, 0));
}

#[test]
fn channel_closes_when_last_sender_drops() {
    let (tx, rx) = chan::<u32>(1);
    let tx2 = tx.clone();
    let waker = Waker::noop();
    let mut r = pin!(rx.recv());
    assert!(poll_once(r.as_mut(), waker).is_pending());
    drop(tx);
    assert!(!rx.is_closed(), "one sender is still alive");
    tx2.try_send(1).unwrap();
    assert_eq!(poll_once(r.as_mut(), waker), Poll::Ready(Some(1)));
    let mut r = pin!(rx.recv());
    assert!(poll_once(r.as_mut(), waker).is_pending());
    drop(tx2);
    assert!(rx.is_closed());
    assert_eq!(poll_once(r.as_mut(), waker), Poll::Ready(None));
}

#[test]
fn sends_fail_once_every_receiver_is_dropped() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = chan::<Counted>(2);
    let rx2 = rx.clone();
    tx.try_send(Counted::new(1, &drops)).unwrap();
    tx.try_send(Counted::new(2, &drops)).unwrap();
    let waker = Waker::noop();
    let mut blocked = pin!(tx.send(Counted::new(3, &drops)));
    assert!(poll_once(blocked.as_mut(), waker).is_pending());
    drop(rx);
    assert!(!tx.is_closed());
    drop(rx2);
    assert!(tx.is_closed());
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "unreachable buffered values were dropped"
    );
    match poll_once(blocked.as_mut(), waker) {
        Poll::Ready(Err(e)) => assert_eq!(e.0.id, 3),
        other => panic!("blocked send should fail, got {other:?}"),
    }
    assert!(tx
        .try_send(Counted::new(4, &drops))
        .unwrap_err()
        .is_closed());
    assert_eq!(tx.close(), Ok(()), "an explicit close still succeeds once");
}

#[test]
fn dropped_send_future_drops_its_value_exactly_once_and_never_delivers_it() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = chan::<Counted>(0);
    let waker = Waker::noop();
    {
        let mut s = Box::pin(tx.send(Counted::new(1, &drops)));
        assert!(poll_once(s.as_mut(), waker).is_pending());
        assert_eq!(drops.load(Ordering::SeqCst), 0);
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
    drop(tx.send(Counted::new(2, &drops)));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "an unpolled send drops its value too"
    );
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
}

#[test]
fn value_handed_to_dropped_recv_goes_to_next_waiting_receiver() {
    let (tx, rx) = chan::<u32>(0);
    let (woken, waker) = CountingWaker::new();
    let mut first = Box::pin(rx.recv());
    let mut second = Box::pin(rx.recv());
    assert!(poll_once(first.as_mut(), &waker).is_pending());
    assert!(poll_once(second.as_mut(), &waker).is_pending());
    tx.try_send(42).unwrap();
    assert_eq!(woken.count(), 1, "the first receiver got the value");
    drop(first);
    assert_eq!(
        woken.count(),
        2,
        "the value moved on to the second receiver"
    );
    assert_eq!(poll_once(second.as_mut(), &waker), Poll::Ready(Some(42)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "delivered once");
}

#[test]
fn value_handed_to_dropped_recv_goes_back_to_front_of_buffer() {
    let (tx, rx) = chan::<u32>(1);
    let waker = Waker::noop();
    let mut r = Box::pin(rx.recv());
    assert!(poll_once(r.as_mut(), waker).is_pending());
    tx.try_send(1).unwrap(); // handed to `r`
    tx.try_send(2).unwrap(); // buffered
    drop(r);
    assert_eq!(rx.len(), 2, "put back, even past cap");
    assert!(tx.try_send(3).is_err(), "senders still respect cap");
    assert_eq!(
        (rx.try_recv(), rx.try_recv()),
        (Ok(1), Ok(2)),
        "put back at the front"
    );

    // Unbuffered, and closed meanwhile: the value is still received first.
    let (tx, rx) = chan::<u32>(0);
    let mut r = Box::pin(rx.recv());
    assert!(poll_once(r.as_mut(), waker).is_pending());
    tx.try_send(9).unwrap();
    drop(tx);
    drop(r);
    assert_eq!(rx.try_recv(), Ok(9));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn no_receiver_sees_closed_while_a_value_sent_before_the_close_may_come_back() {
    // A value handed to a receive that has not returned it yet is still
    // part of the channel: if that receive is dropped, the value comes
    // back. Until it is collected or given back, the channel is closed but
    // not drained, so nobody may be told `None` — a consumer that stopped
    // on `None` would never see the value, and it would be lost.
    let (tx, rx) = chan::<u32>(0);
    let rx2 = rx.clone();
    let mut holder = Box::pin(rx.recv());
    assert!(poll_once(holder.as_mut(), Waker::noop()).is_pending());
    tx.try_send(7).unwrap(); // handed to `holder`
    let (woken, waker) = CountingWaker::new();
    let mut early = Box::pin(rx2.recv());
    assert_eq!(rx2.try_recv(), Err(TryRecvError::Empty));
    drop(tx); // closed, with 7 on its way
    assert_eq!(
        rx2.try_recv(),
        Err(TryRecvError::Empty),
        "closed but not drained: 7 may still come back"
    );
    assert!(poll_once(early.as_mut(), &waker).is_pending());
    drop(holder); // gives 7 back: the waiting receive gets it
    assert_eq!(woken.count(), 1);
    assert_eq!(poll_once(early.as_mut(), &waker), Poll::Ready(Some(7)));
    assert_eq!(rx2.try_recv(), Err(TryRecvError::Closed));

    // The same, but the holder returns its value: then the waiting receive
    // learns that the channel is closed and drained.
    let (tx, rx) = chan::<u32>(0);
    let mut holder = Box::pin(rx.recv());
    assert!(poll_once(holder.as_mut(), Waker::noop()).is_pending());
    tx.try_send(8).unwrap();
    tx.close().unwrap();
    let (woken, waker) = CountingWaker::new();
    let mut late = Box::pin(rx.recv());
    assert!(poll_once(late.as_mut(), &waker).is_pending());
    assert_eq!(
        poll_once(holder.as_mut(), Waker::noop()),
        Poll::Ready(Some(8))
    );
    assert_eq!(
        woken.count(),
        1,
        "the last value collected: closed and drained"
    );
    assert_eq!(poll_once(late.as_mut(), &waker), Poll::Ready(None));
}

#[test]
fn cancelled_operations_lose_and_duplicate_nothing_when_counted() {
    // Many receivers register, some are dropped after being handed a value,
    // some before; every sent value is received exactly once in the end.
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = chan::<Counted>(0);
    let waker = Waker::noop();
    let mut received = Vec::new();
    let mut next = 0u64;
    for round in 0..50u64 {
        let mut rs: Vec<_> = (0..4).map(|_| Some(Box::pin(rx.recv()))).collect();
        for slot in &mut rs {
            // Values put back by earlier rounds are taken at once.
            if let Some(Poll::Ready(v)) = slot.as_mut().map(|r| poll_once(r.as_mut(), waker)) {
                received.push(v.unwrap().id);
                *slot = None;
            }
        }
        for _ in 0..(round % 4) {
            tx.try_send(Counted::new(next, &drops)).unwrap();
            next += 1;
        }
        for (i, slot) in rs.into_iter().enumerate() {
            let Some(mut r) = slot else { continue };
            if (i as u64 + round) % 3 == 0 {
                drop(r);
            } else if let Poll::Ready(Some(v)) = poll_once(r.as_mut(), waker) {
                received.push(v.id);
            }
        }
    }
    drop(tx);
    while let Some(v) = rx.recv_blocking() {
        received.push(v.id);
    }
    received.sort_unstable();
    assert_eq!(received, (0..next).collect::<Vec<_>>());
    assert_eq!(drops.load(Ordering::SeqCst) as u64, next);
}

#[test]
fn happens_before_via_channel() {
    // Plain, non-atomic writes before the send are visible after the
    // receive: Miri's data-race detector checks it, and so do the values.
    let (tx, rx) = chan::<Box<[u64; 16]>>(0);
    let (ack_tx, ack_rx) = chan::<()>(0);
    let t = thread::spawn(move || {
        for round in 0..8u64 {
            let mut data = Box::new([0u64; 16]);
            for (i, d) in data.iter_mut().enumerate() {
                *d = round * 100 + i as u64;
            }
            tx.send_blocking(data).unwrap();
            ack_rx.recv_blocking().unwrap();
        }
    });
    for round in 0..8u64 {
        let data = rx.recv_blocking().unwrap();
        assert!(data
            .iter()
            .enumerate()
            .all(|(i, &d)| d == round * 100 + i as u64));
        ack_tx.send_blocking(()).unwrap();
    }
    t.join().unwrap();
}

#[test]
fn try_recv_distinguishes_empty_and_closed() {
    let (tx, rx) = chan::<u32>(1);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.try_send(1).unwrap();
    tx.close().unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn try_send_distinguishes_full_and_closed() {
    let (tx, _rx) = chan::<u32>(1);
    tx.try_send(1).unwrap();
    assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    tx.close().unwrap();
    assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
}

#[test]
fn try_send_hands_off_to_waiting_receiver_on_unbuffered_channel() {
    let (tx, rx) = chan::<u32>(0);
    let mut r = pin!(rx.recv());
    assert!(poll_once(r.as_mut(), Waker::noop()).is_pending());
    assert!(tx.try_send(3).is_ok());
    assert_eq!(poll_once(r.as_mut(), Waker::noop()), Poll::Ready(Some(3)));
}

#[test]
fn receiver_is_a_stream_that_ends_when_closed_and_drained() {
    let (tx, rx) = chan::<u32>(2);
    let mut rx = pin!(rx);
    let (woken, waker) = CountingWaker::new();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(rx.as_mut().poll_next(&mut cx).is_pending());
    tx.try_send(1).unwrap();
    assert_eq!(woken.count(), 1);
    assert_eq!(rx.as_mut().poll_next(&mut cx), Poll::Ready(Some(1)));
    tx.try_send(2).unwrap();
    drop(tx);
    assert_eq!(rx.as_mut().poll_next(&mut cx), Poll::Ready(Some(2)));
    assert_eq!(rx.as_mut().poll_next(&mut cx), Poll::Ready(None));
}

#[test]
fn an_abandoned_stream_poll_holds_no_value_back_from_other_receivers() {
    // `rx.next()` polled once and dropped (as a losing `select!` branch
    // does) while the Receiver is kept: its registration must not take the
    // next value away from a receiver that is actually waiting, nor keep a
    // value out of reach of later receives.
    let (tx, rx) = chan::<u32>(0);
    let mut streamer = pin!(rx.clone());
    let (stream_woken, stream_waker) = CountingWaker::new();
    let mut scx = std::task::Context::from_waker(&stream_waker);
    assert!(streamer.as_mut().poll_next(&mut scx).is_pending());
    let (woken, waker) = CountingWaker::new();
    let mut waiting = Box::pin(rx.recv());
    assert!(poll_once(waiting.as_mut(), &waker).is_pending());
    tx.try_send(1).unwrap();
    assert_eq!(woken.count(), 1, "the waiting receive got the value");
    assert_eq!(poll_once(waiting.as_mut(), &waker), Poll::Ready(Some(1)));

    // Nobody else waits: the stream is woken, and the value stays in the
    // channel for whoever receives first.
    tx.try_send(2).unwrap();
    assert_eq!(stream_woken.count(), 1);
    assert_eq!(rx.try_recv(), Ok(2));
    // The stream, polled again, just waits for the next value.
    assert!(streamer.as_mut().poll_next(&mut scx).is_pending());
    tx.try_send(3).unwrap();
    assert_eq!(streamer.as_mut().poll_next(&mut scx), Poll::Ready(Some(3)));

    // An abandoned registration does not hold the channel open after close.
    assert!(streamer.as_mut().poll_next(&mut scx).is_pending());
    tx.try_send(4).unwrap();
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(4));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(streamer.as_mut().poll_next(&mut scx), Poll::Ready(None));
}

#[test]
fn dropping_a_receiver_with_a_pending_stream_poll_puts_its_value_back() {
    let (tx, rx) = chan::<u32>(0);
    let rx2 = rx.clone();
    let mut rx = Box::pin(rx);
    let mut cx = std::task::Context::from_waker(Waker::noop());
    assert!(rx.as_mut().poll_next(&mut cx).is_pending());
    tx.try_send(5).unwrap();
    drop(rx);
    assert_eq!(rx2.try_recv(), Ok(5));
}

#[test]
fn len_and_cap_are_snapshots() {
    let (tx, rx) = chan::<u32>(3);
    assert_eq!((tx.len(), tx.cap(), tx.is_empty()), (0, 3, true));
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!((rx.len(), rx.cap(), rx.is_empty()), (2, 3, false));
}

#[test]
fn blocking_send_and_recv_work_across_threads() {
    let (tx, rx) = chan::<u64>(0);
    let t = thread::spawn(move || (0..100).map(|i| tx.send_blocking(i).unwrap()).count());
    let sum: u64 = std::iter::from_fn(|| rx.recv_blocking()).sum();
    assert_eq!(t.join().unwrap(), 100);
    assert_eq!(sum, (0..100).sum());
}
