//! Stress tests that count every message: nothing lost, nothing duplicated.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;

use common::Executor;
use futures_core::Stream;
use gort_sync::{chan, select, Receiver};

const PRODUCERS: u64 = 8;
const CONSUMERS: usize = 8;
/// Values sent by each producer.
const PER_PRODUCER: u64 = if cfg!(miri) { 50 } else { 100_000 };

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

fn mpmc_threads(cap: usize) {
    let (tx, rx) = chan::<u64>(cap);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    tx.send_blocking(p * PER_PRODUCER + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || std::iter::from_fn(|| rx.recv_blocking()).collect::<Vec<_>>())
        })
        .collect();
    drop(rx);
    for p in producers {
        p.join().unwrap();
    }
    let got: Vec<u64> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert_each_exactly_once(&got, PRODUCERS * PER_PRODUCER);
}

fn mpmc_tasks(cap: usize) {
    let exec = Executor::new(4);
    let (tx, rx) = chan::<u64>(cap);
    let got = Arc::new(Mutex::new(Vec::new()));
    for p in 0..PRODUCERS {
        let tx = tx.clone();
        exec.spawn(async move {
            for i in 0..PER_PRODUCER {
                tx.send(p * PER_PRODUCER + i).await.unwrap();
            }
        });
    }
    drop(tx);
    for _ in 0..CONSUMERS {
        let rx = rx.clone();
        let got = got.clone();
        exec.spawn(async move {
            let mut mine = Vec::new();
            while let Some(v) = rx.recv().await {
                mine.push(v);
            }
            got.lock().unwrap().extend(mine);
        });
    }
    drop(rx);
    exec.wait_idle();
    assert_each_exactly_once(&got.lock().unwrap(), PRODUCERS * PER_PRODUCER);
}

#[test]
fn eight_producers_eight_consumers_unbuffered_threads_every_value_once() {
    mpmc_threads(0);
}

#[test]
fn eight_producers_eight_consumers_buffered_threads_every_value_once() {
    mpmc_threads(64);
}

#[test]
fn eight_producers_eight_consumers_unbuffered_tasks_every_value_once() {
    mpmc_tasks(0);
}

#[test]
fn eight_producers_eight_consumers_buffered_tasks_every_value_once() {
    mpmc_tasks(64);
}

#[test]
fn stream_and_recv_consumers_together_receive_every_value_once() {
    // Half the consumers receive through `Stream::poll_next` (notify-only
    // registrations), half through `recv()`; unbuffered and buffered.
    const PER: u64 = if cfg!(miri) { 20 } else { 20_000 };
    for cap in [0, 8] {
        let exec = Executor::new(4);
        let (tx, rx) = chan::<u64>(cap);
        let got = Arc::new(Mutex::new(Vec::new()));
        for p in 0..PRODUCERS {
            let tx = tx.clone();
            exec.spawn(async move {
                for i in 0..PER {
                    tx.send(p * PER + i).await.unwrap();
                }
            });
        }
        drop(tx);
        for c in 0..CONSUMERS {
            let mut rx = rx.clone();
            let got = got.clone();
            exec.spawn(async move {
                let mut mine = Vec::new();
                if c % 2 == 0 {
                    while let Some(v) =
                        std::future::poll_fn(|cx| Pin::new(&mut rx).poll_next(cx)).await
                    {
                        mine.push(v);
                    }
                } else {
                    while let Some(v) = rx.recv().await {
                        mine.push(v);
                    }
                }
                got.lock().unwrap().extend(mine);
            });
        }
        drop(rx);
        exec.wait_idle();
        assert_each_exactly_once(&got.lock().unwrap(), PRODUCERS * PER);
    }
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

#[test]
fn select_over_four_channels_with_random_cancellation_loses_and_duplicates_nothing() {
    const PER_FEEDER: u64 = if cfg!(miri) { 50 } else { 50_000 };
    let chans: Vec<_> = (0..4)
        .map(|i| chan::<u64>(if i % 2 == 0 { 0 } else { 4 }))
        .collect();
    let rxs: Vec<Receiver<u64>> = chans.iter().map(|(_, rx)| rx.clone()).collect();
    let feeders: Vec<_> = chans
        .into_iter()
        .enumerate()
        .map(|(f, (tx, _))| {
            thread::spawn(move || {
                for i in 0..PER_FEEDER {
                    tx.send_blocking(f as u64 * PER_FEEDER + i).unwrap();
                }
            })
        })
        .collect();

    // Two consumers: each builds a select, polls it a random number of
    // times (it may complete, be woken, or neither) and then drops it if it
    // is still pending: a cancellation at a random point.
    let cancelled = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..2)
        .map(|c| {
            let mut rxs = rxs.clone();
            let cancelled = cancelled.clone();
            thread::spawn(move || {
                let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ (c + 1));
                let mut got = Vec::new();
                let mut open = 4;
                while open > 0 {
                    let mut fut = Box::pin(async {
                        select! {
                            v = rxs[0].recv() => (0, v),
                            v = rxs[1].recv() => (1, v),
                            v = rxs[2].recv() => (2, v),
                            v = rxs[3].recv() => (3, v),
                        }
                    });
                    let polls = rng.next() % 4;
                    let mut cx = Context::from_waker(Waker::noop());
                    let mut out = None;
                    for _ in 0..=polls {
                        if let Poll::Ready(v) = Pin::as_mut(&mut fut).poll(&mut cx) {
                            out = Some(v);
                            break;
                        }
                        thread::yield_now();
                    }
                    drop(fut);
                    match out {
                        Some((_, Some(v))) => got.push(v),
                        Some((i, None)) => {
                            // Closed and drained: switch the case off with a
                            // nil channel, Go's idiom.
                            rxs[i] = Receiver::nil();
                            open -= 1;
                        }
                        None => {
                            cancelled.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                got
            })
        })
        .collect();
    for f in feeders {
        f.join().unwrap();
    }
    let got: Vec<u64> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    // A consumer switches a channel off only once it is closed and drained,
    // and a value can only be put back by a select that had not yet seen
    // that channel closed: nothing can be left over.
    for rx in &rxs {
        assert_eq!(rx.try_recv(), Err(gort_sync::TryRecvError::Closed));
    }
    println!("cancelled selects: {}", cancelled.load(Ordering::Relaxed));
    // Miri's scheduler runs too few values to be sure of a cancellation.
    assert!(
        cfg!(miri) || cancelled.load(Ordering::Relaxed) > 0,
        "the test cancelled no select"
    );
    assert_each_exactly_once(&got, 4 * PER_FEEDER);
    let sum: u64 = got.iter().sum();
    assert_eq!(sum, (0..4 * PER_FEEDER).sum::<u64>());
}

#[test]
fn select_send_cases_with_random_cancellation_deliver_each_value_at_most_once() {
    // Four consumer threads receive; one producer offers each value on all
    // four channels through a select and cancels it at random. A value is
    // delivered at most once; it is delivered for sure if its select
    // completed; and it may also be delivered if a receiver committed the
    // select in the instant before it was dropped (the send happened; the
    // cancelled future just never reported it).
    const VALUES: u64 = if cfg!(miri) { 50 } else { 50_000 };
    let chans: Vec<_> = (0..4).map(|_| chan::<u64>(0)).collect();
    let txs: Vec<_> = chans.iter().map(|(tx, _)| tx.clone()).collect();
    let consumers: Vec<_> = chans
        .into_iter()
        .map(|(_, rx)| {
            thread::spawn(move || std::iter::from_fn(|| rx.recv_blocking()).collect::<Vec<_>>())
        })
        .collect();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut completed = Vec::new();
    for v in 0..VALUES {
        let mut fut = Box::pin(async {
            select! {
                r = txs[0].send(v) => r.is_ok(),
                r = txs[1].send(v) => r.is_ok(),
                r = txs[2].send(v) => r.is_ok(),
                r = txs[3].send(v) => r.is_ok(),
            }
        });
        let polls = rng.next() % 3;
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..=polls {
            if let Poll::Ready(ok) = Pin::as_mut(&mut fut).poll(&mut cx) {
                assert!(ok);
                completed.push(v);
                break;
            }
            thread::yield_now();
        }
    }
    drop(txs);
    let mut got: Vec<u64> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    got.sort_unstable();
    let before = got.len();
    got.dedup();
    assert_eq!(got.len(), before, "a value was delivered twice");
    assert!(got.iter().all(|&v| v < VALUES));
    let missing = completed
        .iter()
        .filter(|v| got.binary_search(v).is_err())
        .count();
    assert_eq!(missing, 0, "a completed send was never received");
    println!(
        "offered {VALUES}, completed {}, received {}",
        completed.len(),
        got.len()
    );
    assert!(
        cfg!(miri) || (completed.len() as u64) < VALUES,
        "no select was cancelled"
    );
}
