//! Timer workloads on gort and tokio (2 workers each), side by side.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

mod common;
use common::{gort_rt, tokio_rt};

/// Polls a future once and drops it: a create-and-cancel of a timer.
struct PollOnce<F>(Option<F>);

impl<F: Future + Unpin> Future for PollOnce<F> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(mut f) = self.0.take() {
            let _ = Pin::new(&mut f).poll(cx);
        }
        Poll::Ready(())
    }
}

/// 100 000 tasks each sleeping 1 ms.
fn timers(c: &mut Criterion) {
    const N: usize = 100_000;
    let mut g = c.benchmark_group("timers");
    g.sample_size(10);
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(async {
                let hs: Vec<_> = (0..N)
                    .map(|_| gort::spawn(gort::time::sleep(Duration::from_millis(1))))
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
                let hs: Vec<_> = (0..N)
                    .map(|_| tokio::spawn(tokio::time::sleep(Duration::from_millis(1))))
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
            })
        })
    });
    g.finish();
}

/// 1 000 000 timers registered (polled once) and cancelled (dropped).
fn timer_cancel(c: &mut Criterion) {
    const N: usize = 1_000_000;
    let mut g = c.benchmark_group("timer_cancel");
    g.sample_size(10);
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async {
                for _ in 0..N {
                    PollOnce(Some(gort::time::sleep(Duration::from_secs(60)))).await;
                }
            }))
            .unwrap()
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async {
                for _ in 0..N {
                    PollOnce(Some(Box::pin(tokio::time::sleep(Duration::from_secs(60))))).await;
                }
            }))
            .unwrap()
        })
    });
    g.finish();
}

/// A timeout around a future that is ready at once, 100 000 times.
fn timeout_ready(c: &mut Criterion) {
    const N: usize = 100_000;
    let mut g = c.benchmark_group("timeout_ready");
    let rt = gort_rt();
    g.bench_function("gort", |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async {
                let mut s = 0u64;
                for i in 0..N as u64 {
                    s += gort::time::timeout(Duration::from_secs(1), async { i })
                        .await
                        .unwrap();
                }
                s
            }))
            .unwrap()
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async {
                let mut s = 0u64;
                for i in 0..N as u64 {
                    s += tokio::time::timeout(Duration::from_secs(1), async { i })
                        .await
                        .unwrap();
                }
                s
            }))
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(time, timers, timer_cancel, timeout_ready);
criterion_main!(time);
