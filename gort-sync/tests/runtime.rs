//! gort-sync on gort's own scheduler (gort-core's G/M/P runtime with
//! gort-time's timer driver, 2 Ps), where every other test file uses
//! threads or the small executor in `common`. The counting stress tests
//! and the select-with-cancellation stress tests are repeated as tasks;
//! `select!` is exercised with a `sleep` case and a `JoinHandle` case.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use gort_core::runtime::{Builder, Runtime};
use gort_core::spawn;
use gort_sync::{chan, select, Receiver, Sender};

const PRODUCERS: u64 = 8;
const CONSUMERS: usize = 8;
const PER_PRODUCER: u64 = 100_000;

fn rt() -> Runtime {
    Builder::new()
        .procs(2)
        .timers(gort_time::TimeDriver::new(false))
        .build()
        .unwrap()
}

/// Asserts that `got` holds every value `0..n` exactly once.
fn assert_each_exactly_once(got: &[u64], n: u64) {
    let mut seen = vec![0u8; n as usize];
    for &v in got {
        assert!(v < n, "value {v} was never sent");
        seen[v as usize] += 1;
    }
    let lost = seen.iter().filter(|&&c| c == 0).count();
    let dup = seen.iter().filter(|&&c| c > 1).count();
    assert_eq!((lost, dup), (0, 0), "{lost} values lost, {dup} duplicated");
    assert_eq!(got.len() as u64, n);
}

fn mpmc_on_gort(cap: usize) {
    let got = rt().block_on(async move {
        let (tx, rx) = chan::<u64>(cap);
        for p in 0..PRODUCERS {
            let tx = tx.clone();
            spawn(async move {
                for i in 0..PER_PRODUCER {
                    tx.send(p * PER_PRODUCER + i).await.unwrap();
                }
            });
        }
        drop(tx);
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let rx = rx.clone();
                spawn(async move {
                    let mut mine = Vec::new();
                    while let Some(v) = rx.recv().await {
                        mine.push(v);
                    }
                    mine
                })
            })
            .collect();
        drop(rx);
        let mut got = Vec::new();
        for c in consumers {
            got.extend(c.await.unwrap());
        }
        got
    });
    assert_each_exactly_once(&got, PRODUCERS * PER_PRODUCER);
}

#[test]
fn eight_producers_eight_consumers_unbuffered_on_gort_every_value_once() {
    mpmc_on_gort(0);
}

#[test]
fn eight_producers_eight_consumers_buffered_on_gort_every_value_once() {
    mpmc_on_gort(64);
}

/// A tiny xorshift for the tests' own random decisions.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Polls `fut` at most `polls` times, yielding to the scheduler between
/// polls (so other tasks run and the channels move), then gives up:
/// `None` means `fut` was dropped while pending — cancelled at a random
/// point of its life.
struct PollAtMost<F> {
    fut: Pin<Box<F>>,
    polls: u64,
}

impl<F: Future> Future for PollAtMost<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.polls == 0 {
            return Poll::Ready(None);
        }
        self.polls -= 1;
        match self.fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

fn poll_at_most<F: Future>(polls: u64, fut: F) -> PollAtMost<F> {
    PollAtMost {
        fut: Box::pin(fut),
        polls,
    }
}

#[test]
fn select_over_four_channels_with_random_cancellation_on_gort_loses_and_duplicates_nothing() {
    const PER_FEEDER: u64 = 50_000;
    let (got, cancelled) = rt().block_on(async {
        let chans: Vec<(Sender<u64>, Receiver<u64>)> = (0..4)
            .map(|i| chan::<u64>(if i % 2 == 0 { 0 } else { 4 }))
            .collect();
        let rxs: Vec<Receiver<u64>> = chans.iter().map(|(_, rx)| rx.clone()).collect();
        for (f, (tx, _)) in chans.into_iter().enumerate() {
            spawn(async move {
                for i in 0..PER_FEEDER {
                    tx.send(f as u64 * PER_FEEDER + i).await.unwrap();
                }
            });
        }
        let consumers: Vec<_> = (0..2u64)
            .map(|c| {
                let mut rxs = rxs.clone();
                spawn(async move {
                    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ (c + 1));
                    let (mut got, mut cancelled) = (Vec::new(), 0u64);
                    let mut open = 4;
                    while open > 0 {
                        let polls = rng.next() % 4 + 1;
                        let out = poll_at_most(polls, async {
                            select! {
                                v = rxs[0].recv() => (0, v),
                                v = rxs[1].recv() => (1, v),
                                v = rxs[2].recv() => (2, v),
                                v = rxs[3].recv() => (3, v),
                            }
                        })
                        .await;
                        match out {
                            Some((_, Some(v))) => got.push(v),
                            Some((i, None)) => {
                                // Closed and drained: switch the case off.
                                rxs[i] = Receiver::nil();
                                open -= 1;
                            }
                            None => cancelled += 1,
                        }
                    }
                    (got, cancelled)
                })
            })
            .collect();
        drop(rxs);
        let (mut got, mut cancelled) = (Vec::new(), 0);
        for c in consumers {
            let (g, n) = c.await.unwrap();
            got.extend(g);
            cancelled += n;
        }
        (got, cancelled)
    });
    assert!(cancelled > 0, "the test cancelled no select");
    assert_each_exactly_once(&got, 4 * PER_FEEDER);
    assert_eq!(got.iter().sum::<u64>(), (0..4 * PER_FEEDER).sum::<u64>());
}

#[test]
fn select_send_cases_with_random_cancellation_on_gort_deliver_each_value_at_most_once() {
    // One producer task offers each value on four unbuffered channels
    // through a select it cancels at random; four consumer tasks receive.
    // A value is delivered at most once, and for sure if its select
    // completed.
    const VALUES: u64 = 50_000;
    let (completed, mut got) = rt().block_on(async {
        let chans: Vec<(Sender<u64>, Receiver<u64>)> = (0..4).map(|_| chan::<u64>(0)).collect();
        let txs: Vec<Sender<u64>> = chans.iter().map(|(tx, _)| tx.clone()).collect();
        let consumers: Vec<_> = chans
            .into_iter()
            .map(|(_, rx)| {
                spawn(async move {
                    let mut mine = Vec::new();
                    while let Some(v) = rx.recv().await {
                        mine.push(v);
                    }
                    mine
                })
            })
            .collect();
        let producer = spawn(async move {
            let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
            let mut completed = Vec::new();
            for v in 0..VALUES {
                let polls = rng.next() % 3 + 1;
                let out = poll_at_most(polls, async {
                    select! {
                        r = txs[0].send(v) => r.is_ok(),
                        r = txs[1].send(v) => r.is_ok(),
                        r = txs[2].send(v) => r.is_ok(),
                        r = txs[3].send(v) => r.is_ok(),
                    }
                })
                .await;
                if let Some(ok) = out {
                    assert!(ok);
                    completed.push(v);
                }
            }
            completed
        });
        let completed = producer.await.unwrap();
        let mut got = Vec::new();
        for c in consumers {
            got.extend(c.await.unwrap());
        }
        (completed, got)
    });
    got.sort_unstable();
    let received = got.len();
    got.dedup();
    assert_eq!(got.len(), received, "a value was delivered twice");
    assert!(got.iter().all(|&v| v < VALUES));
    let missing = completed
        .iter()
        .filter(|v| got.binary_search(v).is_err())
        .count();
    assert_eq!(missing, 0, "a completed send was never received");
    assert!((completed.len() as u64) < VALUES, "no select was cancelled");
}

#[test]
fn select_takes_the_sleep_case_when_no_value_comes_and_the_value_when_one_is_ready() {
    rt().block_on(async {
        let (tx, rx) = chan::<u32>(1);
        let timed_out = select! {
            _ = rx.recv() => false,
            _ = gort_time::sleep(Duration::from_millis(5)) => true,
        };
        assert!(timed_out, "nothing was sent: the sleep case fires");
        tx.try_send(9).unwrap();
        let got = select! {
            v = rx.recv() => v,
            _ = gort_time::sleep(Duration::from_secs(3600)) => None,
        };
        assert_eq!(got, Some(9));
    });
}

#[test]
fn select_with_a_sleep_case_receives_every_value_exactly_once() {
    // A consumer loops on `select! { recv, sleep }`; the producer stops
    // after every 1 000 values until the consumer reports a timeout, so
    // sleep cases fire between receives (and race with them) without any
    // wall-clock assumption. Every value arrives exactly once.
    const VALUES: u64 = 20_000;
    let (got, timeouts) = rt().block_on(async {
        let (tx, rx) = chan::<u64>(0);
        let (timeout_tx, timeout_rx) = chan::<()>(1);
        let producer = spawn(async move {
            for v in 0..VALUES {
                if v % 1_000 == 999 {
                    timeout_rx.recv().await.unwrap();
                }
                tx.send(v).await.unwrap();
            }
        });
        let consumer = spawn(async move {
            let (mut got, mut timeouts) = (Vec::new(), 0u64);
            loop {
                select! {
                    v = rx.recv() => match v {
                        Some(v) => got.push(v),
                        None => break,
                    },
                    _ = gort_time::sleep(Duration::from_micros(200)) => {
                        timeouts += 1;
                        let _ = timeout_tx.try_send(());
                    }
                }
            }
            (got, timeouts)
        });
        producer.await.unwrap();
        consumer.await.unwrap()
    });
    assert!(timeouts >= VALUES / 1_000 - 1, "{timeouts} timeouts");
    assert_each_exactly_once(&got, VALUES);
}

#[test]
fn select_with_a_join_handle_case_takes_the_task_result_or_leaves_the_task_running() {
    rt().block_on(async {
        // The task finishes first: its result is the case taken.
        let (_tx, rx) = chan::<u32>(0);
        let task = spawn(async { 42 });
        let r = select! {
            r = task => r.ok(),
            _ = rx.recv() => None,
        };
        assert_eq!(r, Some(42));

        // The channel is ready first: the JoinHandle case loses, and the
        // task (borrowed through `&mut`) keeps running to completion.
        let (go_tx, go_rx) = chan::<()>(0);
        let (tx, rx) = chan::<u32>(1);
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        let mut task = spawn(async move {
            go_rx.recv().await;
            f.store(true, Ordering::SeqCst);
            7
        });
        tx.try_send(1).unwrap();
        let got = select! {
            _ = &mut task => None,
            v = rx.recv() => v,
        };
        assert_eq!(got, Some(1));
        assert!(!finished.load(Ordering::SeqCst));
        go_tx.send(()).await.unwrap();
        assert_eq!(task.await.unwrap(), 7);
        assert!(finished.load(Ordering::SeqCst));
    });
}
