//! `select!` conformance: the Go spec's select clauses and DESIGN.md.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::thread;

use common::{block_on, poll_once, Counted, CountingWaker};
use gort_sync::{chan, select, Receiver, Sender, TryRecvError};

/// Iterations for the fairness tests (Miri runs a smaller, unasserted count).
const FAIRNESS_ITERS: usize = if cfg!(miri) { 200 } else { 1_000_000 };

/// Asserts each of `counts` is `1/len` of the total, ± 0.5 percentage points.
fn assert_uniform(counts: &[usize]) {
    let total: usize = counts.iter().sum();
    let want = 1.0 / counts.len() as f64;
    for (i, &c) in counts.iter().enumerate() {
        let share = c as f64 / total as f64;
        println!("case {i}: {c} / {total} = {:.4}%", share * 100.0);
        if !cfg!(miri) {
            assert!(
                (share - want).abs() <= 0.005,
                "case {i} chosen {:.4}% of the time, want {:.2}% ± 0.5",
                share * 100.0,
                want * 100.0
            );
        }
    }
}

fn closed<T>() -> Receiver<T> {
    let (_tx, rx) = chan(0);
    rx
}

#[test]
fn select_chooses_uniformly_among_two_ready_cases() {
    let (a, b) = (closed::<u8>(), closed::<u8>());
    let mut counts = [0usize; 2];
    block_on(async {
        for _ in 0..FAIRNESS_ITERS {
            let i = select! {
                _ = a.recv() => 0,
                _ = b.recv() => 1,
            };
            counts[i] += 1;
        }
    });
    assert_uniform(&counts);
}

#[test]
fn select_chooses_uniformly_among_four_ready_cases() {
    let rx: Vec<Receiver<u8>> = (0..4).map(|_| closed()).collect();
    let mut counts = [0usize; 4];
    block_on(async {
        for _ in 0..FAIRNESS_ITERS {
            let i = select! {
                _ = rx[0].recv() => 0,
                _ = rx[1].recv() => 1,
                _ = rx[2].recv() => 2,
                _ = rx[3].recv() => 3,
            };
            counts[i] += 1;
        }
    });
    assert_uniform(&counts);
}

#[test]
fn select_chooses_uniformly_between_a_ready_channel_and_a_ready_future() {
    let a = closed::<u8>();
    let mut counts = [0usize; 2];
    block_on(async {
        for _ in 0..FAIRNESS_ITERS / 4 {
            let i = select! {
                _ = a.recv() => 0,
                _ = std::future::ready(()) => 1,
            };
            counts[i] += 1;
        }
    });
    let total = counts[0] + counts[1];
    let share = counts[0] as f64 / total as f64;
    println!("channel {counts:?}");
    if !cfg!(miri) {
        assert!((share - 0.5).abs() < 0.01, "{counts:?}");
    }
}

#[test]
fn select_with_default_never_blocks() {
    let (_tx, rx) = chan::<u32>(0);
    let (tx2, _rx2) = chan::<u32>(0);
    let nil = Receiver::<u32>::nil();
    let (woken, waker) = CountingWaker::new();
    let mut fut = pin!(async {
        select! {
            v = rx.recv() => Some(v),
            r = tx2.send(1) => Some(r.ok().map(|()| 0)),
            v = nil.recv() => Some(v),
            default => None,
        }
    });
    assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Ready(None));
    assert_eq!(woken.count(), 0);
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Empty),
        "nothing was registered or sent"
    );
}

#[test]
fn select_prefers_a_ready_case_over_default() {
    let (tx, rx) = chan::<u32>(1);
    for i in 0..100 {
        tx.try_send(i).unwrap();
        let got = block_on(async {
            select! {
                v = rx.recv() => v,
                default => None,
            }
        });
        assert_eq!(got, Some(i));
    }
}

#[test]
fn select_with_only_default_runs_default() {
    let v = block_on(async {
        select! {
            default => 5,
        }
    });
    assert_eq!(v, 5);
}

#[test]
fn empty_select_pends_forever() {
    let (woken, waker) = CountingWaker::new();
    let mut fut = pin!(async {
        select! {}
    });
    for _ in 0..5 {
        let p: Poll<()> = poll_once(fut.as_mut(), &waker);
        assert!(p.is_pending());
    }
    assert_eq!(woken.count(), 0);
}

#[test]
fn select_over_nil_channels_pends_forever() {
    let rx = Receiver::<u32>::nil();
    let tx = Sender::<u32>::nil();
    let (woken, waker) = CountingWaker::new();
    let mut fut = pin!(async {
        select! {
            v = rx.recv() => v,
            _ = tx.send(1) => None,
        }
    });
    for _ in 0..5 {
        assert!(poll_once(fut.as_mut(), &waker).is_pending());
    }
    assert_eq!(woken.count(), 0);
}

#[test]
fn losing_receive_case_takes_no_value() {
    let (tx_a, rx_a) = chan::<u32>(1);
    let (tx_b, rx_b) = chan::<u32>(1);
    for round in 0..200 {
        tx_a.try_send(round).unwrap();
        tx_b.try_send(round + 1000).unwrap();
        let got = block_on(async {
            select! {
                v = rx_a.recv() => v.unwrap(),
                v = rx_b.recv() => v.unwrap(),
            }
        });
        let other = if got < 1000 {
            rx_b.try_recv()
        } else {
            rx_a.try_recv()
        };
        assert_eq!(
            other,
            Ok(if got < 1000 { round + 1000 } else { round }),
            "the losing channel kept its value"
        );
    }
}

#[test]
fn send_case_value_is_delivered_only_when_chosen() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx_full, rx_full) = chan::<Counted>(1);
    tx_full.try_send(Counted::new(0, &drops)).unwrap();
    let (tx_ready, rx_ready) = chan::<u32>(1);
    tx_ready.try_send(1).unwrap();
    let got = block_on(async {
        select! {
            r = tx_full.send(Counted::new(99, &drops)) => panic!("full channel accepted {:?}", r.is_ok()),
            v = rx_ready.recv() => v,
        }
    });
    assert_eq!(got, Some(1));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the unsent value was dropped with its case"
    );
    assert_eq!(rx_full.try_recv().map(|c| c.id), Ok(0));
    assert_eq!(
        rx_full.try_recv().map(|c| c.id),
        Err(TryRecvError::Empty),
        "99 was never delivered"
    );
}

#[test]
fn blocked_select_is_woken_by_a_sender_and_takes_exactly_that_value() {
    let (tx_a, rx_a) = chan::<u32>(0);
    let (tx_b, rx_b) = chan::<u32>(0);
    let (woken, waker) = CountingWaker::new();
    let mut fut = pin!(async {
        select! {
            v = rx_a.recv() => ('a', v),
            v = rx_b.recv() => ('b', v),
        }
    });
    assert!(poll_once(fut.as_mut(), &waker).is_pending());
    tx_b.try_send(7).unwrap();
    assert_eq!(woken.count(), 1);
    assert!(
        tx_a.try_send(8).is_err(),
        "once committed, the select's other case is not matchable"
    );
    assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Ready(('b', Some(7))));
    assert_eq!(rx_a.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn blocked_select_send_case_completes_when_a_receiver_arrives() {
    let (tx_a, rx_a) = chan::<u32>(0);
    let (tx_b, rx_b) = chan::<u32>(0);
    let waker = Waker::noop();
    let mut fut = pin!(async {
        select! {
            r = tx_a.send(1) => ('a', r.is_ok()),
            r = tx_b.send(2) => ('b', r.is_ok()),
        }
    });
    assert!(poll_once(fut.as_mut(), waker).is_pending());
    assert_eq!(rx_b.try_recv(), Ok(2));
    assert_eq!(
        rx_a.try_recv(),
        Err(TryRecvError::Empty),
        "the other send is withdrawn"
    );
    assert_eq!(poll_once(fut.as_mut(), waker), Poll::Ready(('b', true)));
}

#[test]
fn closing_a_channel_commits_a_blocked_receive_case_with_none() {
    let (tx, rx) = chan::<u32>(0);
    let (_tx2, rx2) = chan::<u32>(0);
    let waker = Waker::noop();
    let mut fut = pin!(async {
        select! {
            v = rx.recv() => (0, v),
            v = rx2.recv() => (1, v),
        }
    });
    assert!(poll_once(fut.as_mut(), waker).is_pending());
    tx.close().unwrap();
    assert_eq!(poll_once(fut.as_mut(), waker), Poll::Ready((0, None)));
}

#[test]
fn select_never_matches_its_own_send_and_receive_on_one_channel() {
    let (tx, rx) = chan::<u32>(0);
    let waker = Waker::noop();
    let mut fut = pin!(async {
        select! {
            r = tx.send(1) => format!("sent {r:?}"),
            v = rx.recv() => format!("received {v:?}"),
        }
    });
    assert!(poll_once(fut.as_mut(), waker).is_pending());
    assert!(poll_once(fut.as_mut(), waker).is_pending());
    // A real peer can still match either case.
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(
        poll_once(fut.as_mut(), waker),
        Poll::Ready("sent Ok(())".to_string())
    );
}

#[test]
fn dropped_select_puts_back_a_value_handed_to_its_receive_case() {
    let (tx, rx) = chan::<u32>(0);
    let (_tx2, rx2) = chan::<u32>(0);
    let waker = Waker::noop();
    {
        let mut fut = Box::pin(async {
            select! {
                v = rx.recv() => v,
                v = rx2.recv() => v,
            }
        });
        assert!(poll_once(fut.as_mut(), waker).is_pending());
        tx.try_send(3).unwrap();
    }
    assert_eq!(rx.try_recv(), Ok(3));
}

#[test]
fn arbitrary_future_cases_commit_when_ready() {
    struct ReadyAfter(u32);
    impl Future for ReadyAfter {
        type Output = &'static str;
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> Poll<&'static str> {
            if self.0 == 0 {
                return Poll::Ready("future");
            }
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    let (tx, rx) = chan::<u32>(0);
    let got = block_on(async {
        select! {
            v = rx.recv() => format!("{v:?}"),
            s = ReadyAfter(3) => s.to_string(),
        }
    });
    assert_eq!(got, "future");
    assert!(tx.try_send(1).is_err(), "the receive case was withdrawn");
}

#[test]
fn bodies_may_break_continue_and_use_question_mark() {
    fn run() -> Result<u32, String> {
        let (tx, rx) = chan::<u32>(8);
        for i in 0..8 {
            tx.try_send(i).unwrap();
        }
        drop(tx);
        block_on(async {
            let mut sum = 0;
            loop {
                select! {
                    v = rx.recv() => {
                        let Some(v) = v else { break };
                        if v % 2 == 0 {
                            continue;
                        }
                        sum += v;
                        if v == 7 {
                            Err("seven".to_string())?;
                        }
                    }
                }
            }
            Ok(sum)
        })
    }
    assert_eq!(run(), Err("seven".to_string()));
}

#[test]
fn two_blocked_selects_meet_exactly_once_per_value() {
    // Thread A selects over two sends, thread B over two receives, on
    // unbuffered channels: every rendezvous is select-vs-select.
    const ROUNDS: u32 = if cfg!(miri) { 20 } else { 20_000 };
    let (tx1, rx1) = chan::<u32>(0);
    let (tx2, rx2) = chan::<u32>(0);
    let a = thread::spawn(move || {
        block_on(async {
            for i in 0..ROUNDS {
                select! {
                    r = tx1.send(i) => r.unwrap(),
                    r = tx2.send(i) => r.unwrap(),
                }
            }
        })
    });
    let got = block_on(async {
        let mut got = Vec::new();
        for _ in 0..ROUNDS {
            select! {
                v = rx1.recv() => got.push(v.unwrap()),
                v = rx2.recv() => got.push(v.unwrap()),
            }
        }
        got
    });
    a.join().unwrap();
    assert_eq!(got, (0..ROUNDS).collect::<Vec<_>>());
}
