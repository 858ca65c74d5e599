//! Channel, select and mutex workloads, each on gort and on tokio's
//! multi-thread runtime with the same number of workers (2), in one
//! criterion group per workload so the report shows them side by side.
//! Shapes follow Go's runtime/chan_test.go and sync/mutex_test.go
//! benchmarks and tokio's benches/rt_multi_threaded.rs; the tokio side
//! uses tokio's own primitives wherever tokio has one.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};

use criterion::{criterion_group, criterion_main, Criterion};

mod common;
use common::{gort_rt, tokio_rt, WORKERS};

/// One producer task sends 1 000 000 u64 through a channel of capacity
/// 128 to one consumer task (Go's BenchmarkChanProdCons shape, SPSC).
fn chan_spsc(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    const CAP: usize = 128;
    let mut g = c.benchmark_group("chan_spsc");
    g.sample_size(10);
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, rx) = gort::sync::chan::<u64>(CAP);
                gort::spawn(async move {
                    for i in 0..N {
                        tx.send(i).await.unwrap();
                    }
                });
                let consumer = gort::spawn(async move {
                    let mut sum = 0;
                    while let Some(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                });
                assert_eq!(consumer.await.unwrap(), N * (N - 1) / 2);
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAP);
                tokio::spawn(async move {
                    for i in 0..N {
                        tx.send(i).await.unwrap();
                    }
                });
                let consumer = tokio::spawn(async move {
                    let mut sum = 0;
                    while let Some(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                });
                assert_eq!(consumer.await.unwrap(), N * (N - 1) / 2);
            })
        })
    });
    g.finish();
}

/// 100 000 values through an unbuffered channel: every send is a
/// rendezvous with a receive (Go's BenchmarkChanSync shape, one pair).
///
/// tokio has no rendezvous channel (`mpsc::channel(0)` panics). Its closest
/// equivalent is `mpsc::channel(1)`, the smallest it allows: the sender may
/// run one value ahead of the receiver instead of waiting for it, which is
/// strictly less synchronisation than gort does here (an extra ack per
/// value would be more). The numbers compare the nearest thing each
/// runtime offers, not identical semantics.
fn chan_unbuffered(c: &mut Criterion) {
    const N: u64 = 100_000;
    let mut g = c.benchmark_group("chan_unbuffered");
    g.sample_size(20);
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, rx) = gort::sync::chan::<u64>(0);
                gort::spawn(async move {
                    for i in 0..N {
                        tx.send(i).await.unwrap();
                    }
                });
                let consumer = gort::spawn(async move {
                    let mut n = 0;
                    while rx.recv().await.is_some() {
                        n += 1;
                    }
                    n
                });
                assert_eq!(consumer.await.unwrap(), N);
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1);
                tokio::spawn(async move {
                    for i in 0..N {
                        tx.send(i).await.unwrap();
                    }
                });
                let consumer = tokio::spawn(async move {
                    let mut n = 0;
                    while rx.recv().await.is_some() {
                        n += 1;
                    }
                    n
                });
                assert_eq!(consumer.await.unwrap(), N);
            })
        })
    });
    g.finish();
}

/// 4 producers × 4 consumers, 1 000 000 values in all, capacity 64.
/// tokio's mpsc has a single consumer, so the tokio side uses
/// async-channel (an MPMC channel that runs on tokio).
fn chan_mpmc(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    const SIDES: u64 = 4;
    const CAP: usize = 64;
    let mut g = c.benchmark_group("chan_mpmc");
    g.sample_size(10);
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, rx) = gort::sync::chan::<u64>(CAP);
                for p in 0..SIDES {
                    let tx = tx.clone();
                    gort::spawn(async move {
                        for i in 0..N / SIDES {
                            tx.send(p * (N / SIDES) + i).await.unwrap();
                        }
                    });
                }
                drop(tx);
                let consumers: Vec<_> = (0..SIDES)
                    .map(|_| {
                        let rx = rx.clone();
                        gort::spawn(async move {
                            let mut sum = 0;
                            while let Some(v) = rx.recv().await {
                                sum += v;
                            }
                            sum
                        })
                    })
                    .collect();
                drop(rx);
                let mut sum = 0;
                for c in consumers {
                    sum += c.await.unwrap();
                }
                assert_eq!(sum, N * (N - 1) / 2);
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, rx) = async_channel::bounded::<u64>(CAP);
                for p in 0..SIDES {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        for i in 0..N / SIDES {
                            tx.send(p * (N / SIDES) + i).await.unwrap();
                        }
                    });
                }
                drop(tx);
                let consumers: Vec<_> = (0..SIDES)
                    .map(|_| {
                        let rx = rx.clone();
                        tokio::spawn(async move {
                            let mut sum = 0;
                            while let Ok(v) = rx.recv().await {
                                sum += v;
                            }
                            sum
                        })
                    })
                    .collect();
                drop(rx);
                let mut sum = 0;
                for c in consumers {
                    sum += c.await.unwrap();
                }
                assert_eq!(sum, N * (N - 1) / 2);
            })
        })
    });
    g.finish();
}

/// One consumer selects over two channels (capacity 128), each fed by its
/// own producer, until both are closed: 1 000 000 values in all (Go's
/// BenchmarkSelectProdCons, reduced to its select-receive core).
fn select2(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    const CAP: usize = 128;
    let mut g = c.benchmark_group("select2");
    g.sample_size(10);
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx1, mut rx1) = gort::sync::chan::<u64>(CAP);
                let (tx2, mut rx2) = gort::sync::chan::<u64>(CAP);
                for tx in [tx1, tx2] {
                    gort::spawn(async move {
                        for i in 0..N / 2 {
                            tx.send(i).await.unwrap();
                        }
                    });
                }
                let consumer = gort::spawn(async move {
                    let (mut n, mut open) = (0u64, 2);
                    while open > 0 {
                        gort::select! {
                            v = rx1.recv() => match v {
                                Some(_) => n += 1,
                                None => { rx1 = gort::sync::Receiver::nil(); open -= 1; }
                            },
                            v = rx2.recv() => match v {
                                Some(_) => n += 1,
                                None => { rx2 = gort::sync::Receiver::nil(); open -= 1; }
                            },
                        }
                    }
                    n
                });
                assert_eq!(consumer.await.unwrap(), N);
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx1, mut rx1) = tokio::sync::mpsc::channel::<u64>(CAP);
                let (tx2, mut rx2) = tokio::sync::mpsc::channel::<u64>(CAP);
                for tx in [tx1, tx2] {
                    tokio::spawn(async move {
                        for i in 0..N / 2 {
                            tx.send(i).await.unwrap();
                        }
                    });
                }
                let consumer = tokio::spawn(async move {
                    let (mut n, mut open1, mut open2) = (0u64, true, true);
                    while open1 || open2 {
                        tokio::select! {
                            v = rx1.recv(), if open1 => match v {
                                Some(_) => n += 1,
                                None => open1 = false,
                            },
                            v = rx2.recv(), if open2 => match v {
                                Some(_) => n += 1,
                                None => open2 = false,
                            },
                        }
                    }
                    n
                });
                assert_eq!(consumer.await.unwrap(), N);
            })
        })
    });
    g.finish();
}

/// Go's BenchmarkSelectUncontended: one task per worker, each with its own
/// two channels of capacity 1 and one token; every select receives the
/// token from whichever channel has it and sends it to the other.
/// 100 000 selects per task.
fn select_uncontended(c: &mut Criterion) {
    const PER_TASK: u64 = 100_000;
    let mut g = c.benchmark_group("select_uncontended");
    g.sample_size(20);
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..WORKERS)
                    .map(|_| {
                        gort::spawn(async {
                            let (tx1, rx1) = gort::sync::chan::<u64>(1);
                            let (tx2, rx2) = gort::sync::chan::<u64>(1);
                            tx1.try_send(0).unwrap();
                            for _ in 0..PER_TASK {
                                gort::select! {
                                    v = rx1.recv() => tx2.send(v.unwrap() + 1).await.unwrap(),
                                    v = rx2.recv() => tx1.send(v.unwrap() + 1).await.unwrap(),
                                }
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..WORKERS)
                    .map(|_| {
                        tokio::spawn(async {
                            let (tx1, mut rx1) = tokio::sync::mpsc::channel::<u64>(1);
                            let (tx2, mut rx2) = tokio::sync::mpsc::channel::<u64>(1);
                            tx1.try_send(0).unwrap();
                            for _ in 0..PER_TASK {
                                tokio::select! {
                                    v = rx1.recv() => tx2.send(v.unwrap() + 1).await.unwrap(),
                                    v = rx2.recv() => tx1.send(v.unwrap() + 1).await.unwrap(),
                                }
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });
    g.finish();
}

/// tokio's rt_multi_threaded ping_pong: 1 000 pings, each a task that
/// spawns a partner and exchanges one message each way with it over two
/// one-shot channels (`gort::sync::oneshot` and tokio's, the same API).
fn ping_pong(c: &mut Criterion) {
    const PINGS: usize = 1_000;
    let mut g = c.benchmark_group("ping_pong");
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        let (done_tx, done_rx) = mpsc::sync_channel(PINGS);
        let rem = Arc::new(AtomicUsize::new(0));
        b.iter(|| {
            let (done_tx, rem) = (done_tx.clone(), rem.clone());
            rem.store(PINGS, Relaxed);
            rt.block_on(async {
                gort::spawn(async move {
                    for _ in 0..PINGS {
                        let (rem, done_tx) = (rem.clone(), done_tx.clone());
                        gort::spawn(async move {
                            let (tx1, rx1) = gort::sync::oneshot::channel::<()>();
                            let (tx2, rx2) = gort::sync::oneshot::channel::<()>();
                            gort::spawn(async move {
                                rx1.await.unwrap();
                                tx2.send(()).unwrap();
                            });
                            tx1.send(()).unwrap();
                            rx2.await.unwrap();
                            if rem.fetch_sub(1, Relaxed) == 1 {
                                done_tx.send(()).unwrap();
                            }
                        });
                    }
                });
            });
            done_rx.recv().unwrap();
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        let (done_tx, done_rx) = mpsc::sync_channel(PINGS);
        let rem = Arc::new(AtomicUsize::new(0));
        b.iter(|| {
            let (done_tx, rem) = (done_tx.clone(), rem.clone());
            rem.store(PINGS, Relaxed);
            rt.block_on(async {
                tokio::spawn(async move {
                    for _ in 0..PINGS {
                        let (rem, done_tx) = (rem.clone(), done_tx.clone());
                        tokio::spawn(async move {
                            let (tx1, rx1) = tokio::sync::oneshot::channel::<()>();
                            let (tx2, rx2) = tokio::sync::oneshot::channel::<()>();
                            tokio::spawn(async move {
                                rx1.await.unwrap();
                                tx2.send(()).unwrap();
                            });
                            tx1.send(()).unwrap();
                            rx2.await.unwrap();
                            if rem.fetch_sub(1, Relaxed) == 1 {
                                done_tx.send(()).unwrap();
                            }
                        });
                    }
                });
            });
            done_rx.recv().unwrap();
        })
    });
    g.finish();
}

/// Go's BenchmarkMutexUncontended: one task per worker, each locking and
/// unlocking its own mutex 500 000 times.
fn mutex_uncontended(c: &mut Criterion) {
    const PER_TASK: u64 = 500_000;
    let mut g = c.benchmark_group("mutex_uncontended");
    g.sample_size(20);
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..WORKERS)
                    .map(|_| {
                        gort::spawn(async {
                            let m = gort::sync::Mutex::new(0u64);
                            for _ in 0..PER_TASK {
                                *m.lock().await += 1;
                            }
                            assert_eq!(m.into_inner(), PER_TASK);
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..WORKERS)
                    .map(|_| {
                        tokio::spawn(async {
                            let m = tokio::sync::Mutex::new(0u64);
                            for _ in 0..PER_TASK {
                                *m.lock().await += 1;
                            }
                            assert_eq!(m.into_inner(), PER_TASK);
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });
    g.finish();
}

/// Go's BenchmarkMutex shape: 4 tasks × 250 000 lock/unlock of one shared
/// mutex around a counter increment.
fn mutex_contended(c: &mut Criterion) {
    const TASKS: u64 = 4;
    const PER_TASK: u64 = 250_000;
    let mut g = c.benchmark_group("mutex_contended");
    g.sample_size(10);
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(async {
                let m = Arc::new(gort::sync::Mutex::new(0u64));
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let m = m.clone();
                        gort::spawn(async move {
                            for _ in 0..PER_TASK {
                                *m.lock().await += 1;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
                assert_eq!(*m.lock().await, TASKS * PER_TASK);
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let m = Arc::new(tokio::sync::Mutex::new(0u64));
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let m = m.clone();
                        tokio::spawn(async move {
                            for _ in 0..PER_TASK {
                                *m.lock().await += 1;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
                assert_eq!(*m.lock().await, TASKS * PER_TASK);
            })
        })
    });
    g.finish();
}

/// Readers only: 4 tasks × 250 000 read-lock/unlock of one shared
/// RwMutex (gort) / RwLock (tokio) — the cost of the read path under
/// sharing (Go's BenchmarkRWMutexUncontended's read half, shared).
fn rwmutex_read(c: &mut Criterion) {
    const TASKS: u64 = 4;
    const PER_TASK: u64 = 250_000;
    let mut g = c.benchmark_group("rwmutex_read");
    g.sample_size(10);
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(async {
                let rw = Arc::new(gort::sync::RwMutex::new(1u64));
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let rw = rw.clone();
                        gort::spawn(async move {
                            let mut sum = 0;
                            for _ in 0..PER_TASK {
                                sum += *rw.read().await;
                            }
                            sum
                        })
                    })
                    .collect();
                for t in tasks {
                    assert_eq!(t.await.unwrap(), PER_TASK);
                }
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let rw = Arc::new(tokio::sync::RwLock::new(1u64));
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let rw = rw.clone();
                        tokio::spawn(async move {
                            let mut sum = 0;
                            for _ in 0..PER_TASK {
                                sum += *rw.read().await;
                            }
                            sum
                        })
                    })
                    .collect();
                for t in tasks {
                    assert_eq!(t.await.unwrap(), PER_TASK);
                }
            })
        })
    });
    g.finish();
}

criterion_group!(
    sync,
    chan_spsc,
    chan_unbuffered,
    chan_mpmc,
    select2,
    select_uncontended,
    ping_pong,
    mutex_uncontended,
    mutex_contended,
    rwmutex_read
);
criterion_main!(sync);
