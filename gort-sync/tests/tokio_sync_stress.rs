//! The tokio-named primitives under load on gort's own scheduler with 8
//! Ps: many tasks on every side, and every value counted exactly once
//! (count, sum, and a per-value tally), as `stress.rs` does for gort's
//! channels.
#![cfg(not(loom))]

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use gort_core::runtime::{Builder, Runtime};
use gort_core::spawn;
use gort_sync::{broadcast, mpsc, watch, Notify};

const TASKS: u64 = 8;
/// Values sent by each producer task.
const PER: u64 = if cfg!(miri) { 20 } else { 50_000 };
const TOTAL: u64 = TASKS * PER;

fn rt() -> Runtime {
    Builder::new().procs(8).build().unwrap()
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
    assert_eq!(got.iter().sum::<u64>(), n * (n - 1) / 2);
}

#[test]
fn mpsc_bounded_eight_senders_on_eight_procs_every_value_once_in_sender_order() {
    let got = rt().block_on(async {
        let (tx, mut rx) = mpsc::channel::<u64>(16);
        for p in 0..TASKS {
            let tx = tx.clone();
            spawn(async move {
                for i in 0..PER {
                    let v = p * PER + i;
                    // Half the senders go through reservations.
                    if p % 2 == 0 {
                        tx.send(v).await.unwrap();
                    } else {
                        tx.reserve().await.unwrap().send(v);
                    }
                }
            });
        }
        drop(tx);
        let mut got = Vec::with_capacity(TOTAL as usize);
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    // Each sender's values arrive in the order it sent them.
    let mut last = vec![None; TASKS as usize];
    for &v in &got {
        let p = (v / PER) as usize;
        assert!(last[p] < Some(v), "sender {p} reordered");
        last[p] = Some(v);
    }
    assert_each_exactly_once(&got, TOTAL);
}

#[test]
fn mpsc_unbounded_eight_senders_on_eight_procs_every_value_once() {
    let got = rt().block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
        for p in 0..TASKS {
            let tx = tx.clone();
            spawn(async move {
                for i in 0..PER {
                    tx.send(p * PER + i).unwrap();
                    if i % 64 == 0 {
                        gort_core::yield_now().await;
                    }
                }
            });
        }
        drop(tx);
        let mut got = Vec::with_capacity(TOTAL as usize);
        let mut buf = Vec::new();
        while rx.recv_many(&mut buf, 32).await > 0 {
            got.append(&mut buf);
        }
        got
    });
    assert_each_exactly_once(&got, TOTAL);
}

#[test]
fn broadcast_eight_senders_eight_receivers_on_eight_procs_each_receiver_gets_every_value() {
    let rt = rt();
    let results = rt.block_on(async {
        // Room for everything: no receiver may lag.
        let (tx, rx) = broadcast::channel::<u64>(TOTAL as usize);
        let receivers: Vec<_> = (0..TASKS)
            .map(|_| {
                let mut rx = rx.resubscribe();
                spawn(async move {
                    let mut got = Vec::with_capacity(TOTAL as usize);
                    loop {
                        match rx.recv().await {
                            Ok(v) => got.push(v),
                            Err(broadcast::error::RecvError::Closed) => break got,
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        drop(rx);
        for p in 0..TASKS {
            let tx = tx.clone();
            spawn(async move {
                for i in 0..PER {
                    tx.send(p * PER + i).unwrap();
                    if i % 64 == 0 {
                        gort_core::yield_now().await;
                    }
                }
            });
        }
        drop(tx);
        let mut results = Vec::new();
        for r in receivers {
            results.push(r.await.unwrap());
        }
        results
    });
    for got in &results {
        assert_each_exactly_once(got, TOTAL);
    }
}

#[test]
fn broadcast_small_ring_on_eight_procs_every_value_is_received_or_counted_as_lagged() {
    let rt = rt();
    let results = rt.block_on(async {
        let (tx, rx) = broadcast::channel::<u64>(8);
        let receivers: Vec<_> = (0..TASKS)
            .map(|_| {
                let mut rx = rx.resubscribe();
                spawn(async move {
                    let (mut got, mut lagged) = (Vec::new(), 0u64);
                    loop {
                        match rx.recv().await {
                            Ok(v) => got.push(v),
                            Err(broadcast::error::RecvError::Lagged(n)) => lagged += n,
                            Err(broadcast::error::RecvError::Closed) => break (got, lagged),
                        }
                    }
                })
            })
            .collect();
        drop(rx);
        // One sender, so positions are the values: lag counts are exact.
        let sender = spawn(async move {
            for v in 0..TOTAL {
                tx.send(v).unwrap();
                if v % 16 == 0 {
                    gort_core::yield_now().await;
                }
            }
        });
        sender.await.unwrap();
        let mut results = Vec::new();
        for r in receivers {
            results.push(r.await.unwrap());
        }
        results
    });
    for (got, lagged) in &results {
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "in order, no duplicate"
        );
        assert_eq!(got.len() as u64 + lagged, TOTAL, "received + lagged = sent");
        assert_eq!(
            got.last(),
            Some(&(TOTAL - 1)),
            "the newest value is never lost"
        );
    }
}

#[test]
fn watch_eight_modifiers_on_eight_procs_every_increment_lands_and_readers_see_it_grow() {
    let rt = rt();
    let (final_value, seen) = rt.block_on(async {
        let (tx, rx) = watch::channel(0u64);
        let readers: Vec<_> = (0..TASKS)
            .map(|_| {
                let mut rx = rx.clone();
                spawn(async move {
                    let (mut last, mut changes) = (0u64, 0u64);
                    while rx.changed().await.is_ok() {
                        let v = *rx.borrow_and_update();
                        assert!(v >= last, "the value went back: {v} < {last}");
                        last = v;
                        changes += 1;
                    }
                    // Closed: the last value is the final one.
                    (*rx.borrow(), changes)
                })
            })
            .collect();
        drop(rx);
        let writers: Vec<_> = (0..TASKS)
            .map(|_| {
                let tx = tx.clone();
                spawn(async move {
                    for i in 0..PER {
                        tx.send_modify(|v| *v += 1);
                        if i % 64 == 0 {
                            gort_core::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        let final_value = *tx.borrow();
        drop(tx);
        let mut seen = Vec::new();
        for r in readers {
            seen.push(r.await.unwrap());
        }
        (final_value, seen)
    });
    assert_eq!(final_value, TOTAL, "no increment lost");
    for (last, changes) in seen {
        assert_eq!(last, TOTAL);
        assert!((1..=TOTAL).contains(&changes));
    }
}

#[test]
fn notify_guarded_queue_eight_producers_eight_consumers_on_eight_procs_every_value_once() {
    // tokio's documented MPMC pattern: consumers `enable` their `Notified`
    // before checking the queue, so no `notify_one` is lost.
    let rt = rt();
    let got = rt.block_on(async {
        let queue = Arc::new(StdMutex::new(VecDeque::new()));
        let notify = Arc::new(Notify::new());
        let taken = Arc::new(AtomicU64::new(0));
        let consumers: Vec<_> = (0..TASKS)
            .map(|_| {
                let (queue, notify, taken) = (queue.clone(), notify.clone(), taken.clone());
                spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let mut notified = pin!(notify.notified());
                        notified.as_mut().enable();
                        if taken.load(Ordering::SeqCst) == TOTAL {
                            break mine;
                        }
                        let next = queue.lock().unwrap().pop_front();
                        match next {
                            Some(v) => {
                                mine.push(v);
                                if taken.fetch_add(1, Ordering::SeqCst) + 1 == TOTAL {
                                    // The last value: release everyone.
                                    notify.notify_waiters();
                                    break mine;
                                }
                            }
                            None => notified.await,
                        }
                    }
                })
            })
            .collect();
        for p in 0..TASKS {
            let (queue, notify) = (queue.clone(), notify.clone());
            spawn(async move {
                for i in 0..PER {
                    queue.lock().unwrap().push_back(p * PER + i);
                    notify.notify_one();
                    if i % 64 == 0 {
                        gort_core::yield_now().await;
                    }
                }
            });
        }
        let mut got = Vec::new();
        for c in consumers {
            got.extend(c.await.unwrap());
        }
        got
    });
    assert_each_exactly_once(&got, TOTAL);
}

#[test]
fn mpsc_senders_blocked_on_a_full_channel_on_eight_procs_all_finish() {
    // Capacity 1 and 8 senders: nearly every send blocks; counts the
    // completed sends against the received values.
    let sent = Arc::new(AtomicUsize::new(0));
    let sent2 = sent.clone();
    let n = rt().block_on(async move {
        let (tx, mut rx) = mpsc::channel::<u64>(1);
        for _ in 0..TASKS {
            let (tx, sent) = (tx.clone(), sent2.clone());
            spawn(async move {
                for i in 0..PER / 4 {
                    tx.send(i).await.unwrap();
                    sent.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        drop(tx);
        let mut n = 0u64;
        while rx.recv().await.is_some() {
            n += 1;
        }
        n
    });
    assert_eq!(n, TASKS * (PER / 4));
    assert_eq!(sent.load(Ordering::SeqCst) as u64, n);
}
