//! Stackful goroutines against async tasks (and a raw switch against
//! corosensei), in criterion groups so the report shows them side by side.
//!
//! - `coro_ping_pong`: two goroutines bounce a value over two unbuffered
//!   `gort::sync::chan`s with `wait`, next to two async tasks doing the
//!   same with `.await`; one iteration = [`ROUND_TRIPS`] round trips.
//! - `coro_spawn_join`: `gort::go(|| 1)` spawned and joined from a task,
//!   next to `gort::spawn(async { 1 })`.
//! - `coro_raw_switch`: one resume + one suspend, with no runtime: a
//!   `CoroFuture` polled by hand whose goroutine waits on a future that is
//!   pending every other poll, next to corosensei's `resume` + `yield`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const ROUND_TRIPS: u64 = 1_000;

fn rt(procs: usize) -> gort::runtime::Runtime {
    gort::runtime::Builder::new().procs(procs).build().unwrap()
}

fn ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("coro_ping_pong");
    g.throughput(Throughput::Elements(ROUND_TRIPS));
    for procs in [1, 2] {
        let rt = rt(procs);
        g.bench_function(format!("goroutines/procs={procs}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let (ping_tx, ping_rx) = gort::sync::chan::<u64>(0);
                    let (pong_tx, pong_rx) = gort::sync::chan::<u64>(0);
                    // SAFETY: across their waits both goroutines hold only
                    // channel endpoints and integers (`Send`); no
                    // thread-locals.
                    let echo = unsafe {
                        gort::go(move || {
                            while let Some(v) = gort::coro::wait(ping_rx.recv()) {
                                gort::coro::wait(pong_tx.send(v + 1)).unwrap();
                            }
                        })
                    };
                    // SAFETY: as above.
                    let driver = unsafe {
                        gort::go(move || {
                            let mut v = 0;
                            for _ in 0..ROUND_TRIPS {
                                gort::coro::wait(ping_tx.send(v)).unwrap();
                                v = gort::coro::wait(pong_rx.recv()).unwrap();
                            }
                            v
                        })
                    };
                    assert_eq!(driver.await.unwrap(), ROUND_TRIPS);
                    echo.await.unwrap();
                })
            })
        });
        g.bench_function(format!("tasks/procs={procs}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let (ping_tx, ping_rx) = gort::sync::chan::<u64>(0);
                    let (pong_tx, pong_rx) = gort::sync::chan::<u64>(0);
                    let echo = gort::spawn(async move {
                        while let Some(v) = ping_rx.recv().await {
                            pong_tx.send(v + 1).await.unwrap();
                        }
                    });
                    let driver = gort::spawn(async move {
                        let mut v = 0;
                        for _ in 0..ROUND_TRIPS {
                            ping_tx.send(v).await.unwrap();
                            v = pong_rx.recv().await.unwrap();
                        }
                        v
                    });
                    assert_eq!(driver.await.unwrap(), ROUND_TRIPS);
                    echo.await.unwrap();
                })
            })
        });
    }
    g.finish();
}

fn spawn_join(c: &mut Criterion) {
    const N: u64 = 1_000;
    let mut g = c.benchmark_group("coro_spawn_join");
    g.throughput(Throughput::Elements(N));
    let rt = rt(1);
    g.bench_function("go", |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async {
                let mut sum = 0;
                for _ in 0..N {
                    // SAFETY: the goroutine never switches.
                    sum += unsafe { gort::go(|| 1u64) }.await.unwrap();
                }
                assert_eq!(sum, N);
            }))
            .unwrap()
        })
    });
    g.bench_function("spawn", |b| {
        b.iter(|| {
            rt.block_on(rt.spawn(async {
                let mut sum = 0;
                for _ in 0..N {
                    sum += gort::spawn(async { 1u64 }).await.unwrap();
                }
                assert_eq!(sum, N);
            }))
            .unwrap()
        })
    });
    g.finish();
}

/// Pending on every other poll: each `wait` on it is one suspend.
struct PendingOnce(bool);

impl Future for PendingOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

fn raw_switch(c: &mut Criterion) {
    let mut g = c.benchmark_group("coro_raw_switch");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gort_resume_suspend", |b| {
        // SAFETY: the goroutine holds nothing across its waits, and this
        // thread is the only one that polls it.
        let mut coro = unsafe {
            gort::coro::CoroFuture::new(|| loop {
                gort::coro::wait(PendingOnce(false));
            })
        };
        let mut cx = Context::from_waker(Waker::noop());
        b.iter(|| {
            assert!(Pin::new(&mut coro).poll(&mut cx).is_pending());
        });
    });
    g.bench_function("corosensei_resume_yield", |b| {
        let mut coro = corosensei::Coroutine::new(|y: &corosensei::Yielder<(), ()>, ()| loop {
            y.suspend(());
        });
        b.iter(|| {
            assert!(matches!(
                coro.resume(()),
                corosensei::CoroutineResult::Yield(())
            ));
        });
        // A suspended corosensei coroutine is unwound on drop.
    });
    g.finish();
}

criterion_group!(benches, ping_pong, spawn_join, raw_switch);
criterion_main!(benches);
