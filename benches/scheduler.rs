//! Scheduler workloads, each on gort and on tokio's multi-thread runtime
//! with the same number of workers (2), in one criterion group so the
//! report shows them side by side. Shapes follow tokio's
//! benches/rt_multi_threaded.rs.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};

use criterion::{criterion_group, criterion_main, Criterion};

mod common;
use common::{gort_rt, tokio_rt};

/// Spawns `n` tasks from inside a task; the last to finish signals.
macro_rules! spawn_many_inside {
    ($rt:expr, $spawn:path, $n:expr) => {{
        let (tx, rx) = mpsc::sync_channel(1);
        let rem = Arc::new(AtomicUsize::new($n));
        $rt.block_on(async move {
            $spawn(async move {
                for _ in 0..$n {
                    let (tx, rem) = (tx.clone(), rem.clone());
                    $spawn(async move {
                        if rem.fetch_sub(1, Relaxed) == 1 {
                            tx.send(()).unwrap();
                        }
                    });
                }
            });
        });
        rx.recv().unwrap();
    }};
}

fn spawn_many(c: &mut Criterion) {
    const N: usize = 10_000;
    let mut g = c.benchmark_group("spawn_many");
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| spawn_many_inside!(rt, gort::spawn, N))
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| spawn_many_inside!(rt, tokio::spawn, N))
    });
    g.finish();
}

/// Spawns `n` tasks from a thread outside the runtime.
fn spawn_remote(c: &mut Criterion) {
    const N: usize = 10_000;
    let mut g = c.benchmark_group("spawn_remote");
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            let hs: Vec<_> = (0..N).map(|_| rt.spawn(async {})).collect();
            rt.block_on(async {
                for h in hs {
                    h.await.unwrap();
                }
            });
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            let hs: Vec<_> = (0..N).map(|_| rt.spawn(async {})).collect();
            rt.block_on(async {
                for h in hs {
                    h.await.unwrap();
                }
            });
        })
    });
    g.finish();
}

/// 200 tasks each yielding 1 000 times.
fn yield_many(c: &mut Criterion) {
    const TASKS: usize = 200;
    const YIELDS: usize = 1_000;
    let mut g = c.benchmark_group("yield_many");
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(async {
                let hs: Vec<_> = (0..TASKS)
                    .map(|_| {
                        gort::spawn(async {
                            for _ in 0..YIELDS {
                                gort::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let hs: Vec<_> = (0..TASKS)
                    .map(|_| {
                        tokio::spawn(async {
                            for _ in 0..YIELDS {
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
            })
        })
    });
    g.finish();
}

/// Each task spawns the next, 1 000 deep; the last signals.
fn chained_spawn(c: &mut Criterion) {
    const DEPTH: usize = 1_000;
    fn gort_iter(done: mpsc::SyncSender<()>, n: usize) {
        if n == 0 {
            done.send(()).unwrap();
        } else {
            gort::spawn(async move { gort_iter(done, n - 1) });
        }
    }
    fn tokio_iter(done: mpsc::SyncSender<()>, n: usize) {
        if n == 0 {
            done.send(()).unwrap();
        } else {
            tokio::spawn(async move { tokio_iter(done, n - 1) });
        }
    }
    let mut g = c.benchmark_group("chained_spawn");
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            let (tx, rx) = mpsc::sync_channel(1);
            rt.block_on(async move { drop(gort::spawn(async move { gort_iter(tx, DEPTH) })) });
            rx.recv().unwrap();
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            let (tx, rx) = mpsc::sync_channel(1);
            rt.block_on(async move { drop(tokio::spawn(async move { tokio_iter(tx, DEPTH) })) });
            rx.recv().unwrap();
        })
    });
    g.finish();
}

/// Spawns 100 000 tasks from inside a task and joins every handle.
fn spawn_join_100k(c: &mut Criterion) {
    const N: usize = 100_000;
    let mut g = c.benchmark_group("spawn_join_100k");
    g.sample_size(20);
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(async {
                gort::spawn(async {
                    let hs: Vec<_> = (0..N).map(|i| gort::spawn(async move { i })).collect();
                    let mut s = 0;
                    for h in hs {
                        s += h.await.unwrap();
                    }
                    s
                })
                .await
                .unwrap()
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                tokio::spawn(async {
                    let hs: Vec<_> = (0..N).map(|i| tokio::spawn(async move { i })).collect();
                    let mut s = 0;
                    for h in hs {
                        s += h.await.unwrap();
                    }
                    s
                })
                .await
                .unwrap()
            })
        })
    });
    g.finish();
}

criterion_group!(
    scheduler,
    spawn_many,
    spawn_remote,
    yield_many,
    chained_spawn,
    spawn_join_100k
);
criterion_main!(scheduler);
