//! Model checks of the channel and select state machines under loom.
//!
//! Run with `scripts/loom-sync.sh`. Sizes are shrunk to one or two values
//! per thread so loom can explore every interleaving within its
//! preemption bound; the code under test is the real one (gort-sync swaps
//! its Mutex/Arc/atomics for loom's under `--cfg loom`).
#![cfg(loom)]

#[path = "common/loom.rs"]
mod loom_common;

use std::task::{Context, Poll};

use gort_sync::{chan, select, Mutex, RwMutex, TryRecvError};
use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use loom_common::PollOnce;

#[test]
fn loom_unbuffered_handoff_delivers_the_value() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let t = thread::spawn(move || block_on(tx.send(7)).unwrap());
        assert_eq!(block_on(rx.recv()), Some(7));
        assert_eq!(block_on(rx.recv()), None, "the sender dropped: closed");
        t.join().unwrap();
    });
}

#[test]
fn loom_close_races_a_blocked_receiver_that_drains_first() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(1);
        let t = thread::spawn(move || {
            tx.try_send(1).unwrap();
            tx.close().unwrap();
        });
        assert_eq!(block_on(rx.recv()), Some(1));
        assert_eq!(block_on(rx.recv()), None);
        t.join().unwrap();
    });
}

#[test]
fn loom_two_senders_one_buffered_slot_every_value_once() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(1);
        let tx2 = tx.clone();
        let a = thread::spawn(move || block_on(tx.send(1)).unwrap());
        let b = thread::spawn(move || block_on(tx2.send(2)).unwrap());
        let x = block_on(rx.recv()).unwrap();
        let y = block_on(rx.recv()).unwrap();
        assert_eq!(x + y, 3);
        assert_eq!(block_on(rx.recv()), None);
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn loom_select_commits_exactly_one_of_two_racing_channels() {
    loom::model(|| {
        let (tx1, rx1) = chan::<u32>(1);
        let (tx2, rx2) = chan::<u32>(1);
        let a = thread::spawn(move || block_on(tx1.send(1)).unwrap());
        let b = thread::spawn(move || block_on(tx2.send(2)).unwrap());
        let got = block_on(async {
            select! {
                v = rx1.recv() => v.unwrap(),
                v = rx2.recv() => v.unwrap(),
            }
        });
        a.join().unwrap();
        b.join().unwrap();
        let (won, lost) = if got == 1 { (&rx1, &rx2) } else { (&rx2, &rx1) };
        assert_eq!(won.try_recv(), Err(TryRecvError::Closed), "taken once");
        assert_eq!(
            lost.try_recv().unwrap(),
            3 - got,
            "the losing channel kept its value"
        );
    });
}

#[test]
fn loom_two_selects_rendezvous_exactly_once() {
    loom::model(|| {
        let (tx1, rx1) = chan::<u32>(0);
        let (tx2, rx2) = chan::<u32>(0);
        let a = thread::spawn(move || {
            block_on(async {
                select! {
                    r = tx1.send(1) => r.unwrap(),
                    r = tx2.send(2) => r.unwrap(),
                }
            })
        });
        let got = block_on(async {
            select! {
                v = rx1.recv() => v,
                v = rx2.recv() => v,
            }
        });
        assert!(matches!(got, Some(1 | 2)));
        a.join().unwrap();
        assert_eq!(rx1.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(rx2.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn loom_rejected_case_lets_the_select_receive_exactly_once() {
    // Closing rx1 commits case 0 with `None`, which its pattern rejects,
    // while a sender looks for case 1's waiter: the select must withdraw
    // and re-register it under a fresh token without losing the value.
    loom::model(|| {
        let (tx1, rx1) = chan::<u32>(0);
        let (tx2, rx2) = chan::<u32>(0);
        let a = thread::spawn(move || drop(tx1));
        let b = thread::spawn(move || block_on(tx2.send(2)).unwrap());
        let got = block_on(async {
            select! {
                Some(v) = rx1.recv() => v,
                Some(v) = rx2.recv() => v,
            }
        });
        assert_eq!(got, 2);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(rx2.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn loom_rejected_case_lets_the_select_send_exactly_once() {
    loom::model(|| {
        let (tx1, rx1) = chan::<u32>(0);
        let (tx2, rx2) = chan::<u32>(0);
        let a = thread::spawn(move || drop(tx1));
        let b = thread::spawn(move || block_on(rx2.recv()));
        let sent = block_on(async {
            select! {
                Some(v) = rx1.recv() => v,
                r = tx2.send(9) => { r.unwrap(); 9 }
            }
        });
        assert_eq!(sent, 9);
        a.join().unwrap();
        assert_eq!(b.join().unwrap(), Some(9));
    });
}

#[test]
fn loom_value_handed_to_a_dropped_receive_is_put_back() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let t = thread::spawn(move || block_on(tx.send(5)).unwrap());
        let first = {
            let mut r = Box::pin(rx.recv());
            match block_on(PollOnce(r.as_mut())) {
                Poll::Ready(v) => v,
                Poll::Pending => None, // dropped while waiting (maybe handed the value)
            }
        };
        let got = match first {
            Some(v) => v,
            None => block_on(rx.recv()).unwrap(),
        };
        assert_eq!(got, 5);
        t.join().unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn loom_a_receiver_stopping_at_none_never_strands_a_value_put_back_by_another() {
    // One receiver polls once and drops its receive (maybe after being
    // handed the value); another receives until `None`. The sender sends
    // one value and drops (closing). The value must reach one of them: the
    // second may not see `None` while the first can still give it back.
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let rx2 = rx.clone();
        let sender = thread::spawn(move || {
            let _ = tx.try_send(5);
            // `tx` dropped: closed.
        });
        let dropper = thread::spawn(move || {
            let mut r = Box::pin(rx.recv());
            match block_on(PollOnce(r.as_mut())) {
                Poll::Ready(v) => v,
                Poll::Pending => None, // dropped here, maybe holding 5
            }
        });
        let mut drained = Vec::new();
        while let Some(v) = block_on(rx2.recv()) {
            drained.push(v);
        }
        sender.join().unwrap();
        let kept = dropper.join().unwrap();
        let total = drained.len() + usize::from(kept.is_some());
        // `try_send` may have found nobody waiting: then nothing was sent.
        assert!(total <= 1, "delivered twice");
        assert!(drained.iter().chain(kept.iter()).all(|&v| v == 5));
        assert_eq!(
            rx2.try_recv(),
            Err(TryRecvError::Closed),
            "nothing stranded"
        );
    });
}

#[test]
fn loom_an_abandoned_stream_poll_does_not_keep_the_value_from_a_blocked_receive() {
    // A stream is polled once and abandoned (the Receiver kept); another
    // receiver blocks in `recv`. The one value sent must reach it (loom
    // reports a deadlock if the blocked receive is never woken).
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let mut streamer = Box::pin(rx.clone());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let _ = futures_core::Stream::poll_next(streamer.as_mut(), &mut cx);
        let t = thread::spawn(move || block_on(tx.send(3)).unwrap());
        assert_eq!(block_on(rx.recv()), Some(3));
        t.join().unwrap();
        drop(streamer);
    });
}

#[test]
fn loom_dropped_send_is_delivered_at_most_once_and_never_later() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let t = thread::spawn(move || {
            let mut s = Box::pin(tx.send(9));
            let done = block_on(PollOnce(s.as_mut())).is_ready();
            drop(s);
            done
        });
        let got = rx.try_recv();
        let completed = t.join().unwrap();
        // The send completes only by a receiver taking the value; a send
        // dropped while waiting may still have been taken an instant before
        // (the send happened), but is never delivered afterwards.
        if completed {
            assert_eq!(got, Ok(9));
        }
        assert!(matches!(
            got,
            Ok(9) | Err(TryRecvError::Empty) | Err(TryRecvError::Closed)
        ));
        assert_eq!(
            rx.try_recv(),
            Err(TryRecvError::Closed),
            "nothing left behind"
        );
    });
}

#[test]
fn loom_mutex_excludes_and_wakes_every_waiter() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0u32));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || {
                    let mut g = block_on(m.lock());
                    let v = *g;
                    *g = v + 1;
                })
            })
            .collect();
        {
            let mut g = block_on(m.lock());
            *g += 1;
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*m.try_lock().unwrap(), 3);
        assert!(!m.is_starving());
    });
}

#[test]
fn loom_mutex_cancelled_waiter_loses_no_wake_up() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(()));
        let g = m.try_lock().unwrap();
        let m2 = m.clone();
        let waiter = thread::spawn(move || drop(block_on(m2.lock())));
        let m3 = m.clone();
        let canceller = thread::spawn(move || {
            let mut f = Box::pin(m3.lock());
            let got = block_on(PollOnce(f.as_mut())).is_ready();
            drop(f);
            got
        });
        drop(g);
        waiter.join().unwrap();
        canceller.join().unwrap();
        assert!(m.try_lock().is_ok(), "the mutex ended unlocked");
    });
}

#[test]
fn loom_rwmutex_readers_exclude_a_writer_and_the_last_reader_hands_it_the_lock() {
    // Two readers on the atomic fast path race one writer. Readers and the
    // writer never overlap, and the writer, if it had to wait for readers,
    // is handed the lock by the last one (loom reports a deadlock if not).
    loom::model(|| {
        let rw = Arc::new(RwMutex::new(()));
        let readers = Arc::new(AtomicUsize::new(0));
        let writing = Arc::new(AtomicBool::new(false));
        let spawn_reader = || {
            let (rw, readers, writing) = (rw.clone(), readers.clone(), writing.clone());
            thread::spawn(move || {
                let g = block_on(rw.read());
                readers.fetch_add(1, SeqCst);
                assert!(!writing.load(SeqCst), "a reader overlapped the writer");
                readers.fetch_sub(1, SeqCst);
                drop(g);
            })
        };
        let a = spawn_reader();
        let b = spawn_reader();
        let g = block_on(rw.write());
        writing.store(true, SeqCst);
        assert_eq!(readers.load(SeqCst), 0, "the writer overlapped a reader");
        writing.store(false, SeqCst);
        drop(g);
        a.join().unwrap();
        b.join().unwrap();
        assert!(rw.try_write().is_ok(), "everything was released");
    });
}
