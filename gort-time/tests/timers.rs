//! gort-time's contract (issue: gort-time), one test per sentence. Times
//! are asserted on the runtime's clock (never early, exact virtual times on
//! a paused clock); nothing asserts how fast real time passes.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use gort_core::runtime::{Builder, Handle, Runtime};
use gort_time::{
    after_func, interval, interval_at, sleep, sleep_until, timeout, timeout_at, Elapsed, Instant,
    MissedTickBehavior, TimeDriver, Timer,
};

fn rt(procs: usize, paused: bool) -> Runtime {
    Builder::new()
        .procs(procs)
        .timers(TimeDriver::new(paused))
        .build()
        .unwrap()
}

fn driver(h: &Handle) -> &TimeDriver {
    h.timers_as::<TimeDriver>().unwrap()
}

/// Polls `f` once with a no-op waker.
fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(std::task::Waker::noop()))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn hundred_thousand_concurrent_sleeps_all_fire_and_none_early() {
    const N: usize = 100_000;
    let rt = rt(2, false);
    let early = Arc::new(AtomicUsize::new(0));
    let fired = Arc::new(AtomicUsize::new(0));
    let (e, f) = (early.clone(), fired.clone());
    rt.block_on(async move {
        let start = Instant::now();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let hs: Vec<_> = (0..N)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let deadline = start + ms(1 + x % 10);
                let (e, f) = (e.clone(), f.clone());
                gort_core::spawn(async move {
                    sleep_until(deadline).await;
                    if Instant::now() < deadline {
                        e.fetch_add(1, SeqCst);
                    }
                    f.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(fired.load(SeqCst), N);
    assert_eq!(
        early.load(SeqCst),
        0,
        "some timers fired before their deadline"
    );
    assert!(driver(rt.handle()).heap_sizes().iter().all(|&n| n == 0));
}

#[test]
fn a_million_created_and_cancelled_sleeps_leave_the_heaps_empty_and_bounded() {
    let rt = rt(2, false);
    let h = rt.handle().clone();
    let max_seen = rt.block_on(async move {
        gort_core::spawn(async move {
            // A thousand live timers the cancelled ones are mixed with.
            let mut live: Vec<_> = (0..1000)
                .map(|i| Box::pin(sleep(Duration::from_secs(3600 + i))))
                .collect();
            for s in live.iter_mut() {
                assert!(poll_once(s).is_pending());
            }
            let mut max_seen = 0;
            for i in 0..1_000_000u32 {
                let mut s = sleep(Duration::from_secs(3600));
                // The first poll registers the timer; dropping cancels it.
                assert!(poll_once(&mut s).is_pending());
                drop(s);
                if i % 1000 == 0 {
                    max_seen = max_seen.max(
                        driver(&Handle::current())
                            .heap_sizes()
                            .iter()
                            .sum::<usize>(),
                    );
                }
            }
            drop(live);
            max_seen
        })
        .await
        .unwrap()
    });
    // Live timers plus at most as many stale ones (and the rebuild threshold).
    assert!(
        max_seen <= 2 * 1000 + 64 + 2,
        "heaps grew to {max_seen} entries"
    );
    assert_eq!(driver(&h).heap_sizes().iter().sum::<usize>(), 0);
}

#[test]
fn timeout_gives_the_value_of_a_ready_future_and_elapsed_for_a_pending_one() {
    let rt = rt(1, false);
    rt.block_on(async {
        assert_eq!(timeout(Duration::ZERO, async { 5 }).await, Ok(5));
        let e: Elapsed = timeout(ms(10), std::future::pending::<u8>())
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "deadline has elapsed");
        assert_eq!(std::io::Error::from(e).kind(), std::io::ErrorKind::TimedOut);
        let deadline = Instant::now() + ms(5);
        assert!(timeout_at(deadline, std::future::pending::<()>())
            .await
            .is_err());
        assert!(Instant::now() >= deadline);
        let slow = timeout(ms(50), sleep(ms(1))).await;
        assert_eq!(slow, Ok(()));
    });
}

#[test]
fn timer_stop_and_reset_return_what_gos_do() {
    let rt = rt(1, true);
    rt.block_on(async {
        // Stop before it fires: true; again: false.
        let t = Timer::new(ms(100));
        assert!(t.stop());
        assert!(!t.stop());
        // Reset of a stopped timer: false (not armed), and it fires.
        let mut t = t;
        assert!(!t.reset(ms(100)));
        // Reset of an armed timer: true.
        assert!(t.reset(ms(200)));
        let before = Instant::now();
        (&mut t).await;
        assert_eq!(Instant::now() - before, ms(200));
        // After firing: stop and reset report it was not armed.
        assert!(!t.stop());
        assert!(!t.reset(ms(10)));
        (&mut t).await;
        // A fire nobody awaited is discarded by stop (Go 1.23).
        let mut t = Timer::new(ms(10));
        gort_time::sleep(ms(20)).await;
        assert!(!t.stop(), "it had fired");
        let waited = timeout(ms(1000), &mut t).await;
        assert!(
            waited.is_err(),
            "a stopped timer's stale fire is not delivered"
        );
    });
}

#[test]
fn after_func_runs_its_function_in_a_task_unless_stopped() {
    let rt = rt(2, true);
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    rt.block_on(async move {
        let c2 = c.clone();
        let stopped = after_func(ms(10), move || {
            c2.fetch_add(100, SeqCst);
        });
        assert!(stopped.stop());
        let c3 = c.clone();
        let t = after_func(ms(20), move || {
            c3.fetch_add(1, SeqCst);
        });
        sleep(ms(30)).await;
        // Reset runs it again, as Go's AfterFunc timers do.
        assert!(!t.reset(ms(10)));
        drop(t); // dropping does not cancel an after_func timer
        sleep(ms(30)).await;
    });
    assert_eq!(count.load(SeqCst), 2);
}

#[test]
fn sleep_zero_yields_once_and_registers_no_timer() {
    let rt = rt(1, false);
    let h = rt.handle().clone();
    let log: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let l = log.clone();
    rt.block_on(async move {
        gort_core::spawn(async move {
            let l2 = l.clone();
            gort_core::spawn(async move { l2.lock().unwrap().push("other") });
            let mut s = pin!(sleep(Duration::ZERO));
            s.as_mut().await;
            assert!(driver(&Handle::current())
                .heap_sizes()
                .iter()
                .all(|&n| n == 0));
            l.lock().unwrap().push("slept");
        })
        .await
        .unwrap()
    });
    assert_eq!(*log.lock().unwrap(), ["other", "slept"]);
    assert!(driver(&h).heap_sizes().iter().all(|&n| n == 0));
}

#[test]
fn sleep_reset_moves_the_deadline() {
    let rt = rt(1, true);
    rt.block_on(async {
        let start = Instant::now();
        let mut s = pin!(sleep(Duration::from_secs(10)));
        assert!(poll_once(&mut s.as_mut()).is_pending());
        s.as_mut().reset(start + Duration::from_secs(2));
        s.as_mut().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        assert!(s.is_elapsed());
    });
}

/// Ticks of an interval with period 10 ms, where the consumer was away for
/// 35 ms after the first tick; returns the offsets of the next three ticks.
fn ticks_after_missing(b: MissedTickBehavior) -> Vec<u64> {
    let rt = rt(1, true);
    rt.block_on(async move {
        let start = Instant::now();
        let mut iv = interval_at(start, ms(10));
        iv.set_missed_tick_behavior(b);
        assert_eq!(iv.tick().await, start);
        gort_time::advance(ms(35)).await;
        let mut out = Vec::new();
        for _ in 0..3 {
            iv.tick().await;
            out.push((Instant::now() - start).as_millis() as u64);
        }
        out
    })
}

#[test]
fn interval_missed_ticks_burst_delay_or_skip() {
    // Burst: the missed ticks at 10, 20 and 30 all come at once (now = 35).
    assert_eq!(ticks_after_missing(MissedTickBehavior::Burst), [35, 35, 35]);
    // Delay: one tick now, then every 10 ms from now.
    assert_eq!(ticks_after_missing(MissedTickBehavior::Delay), [35, 45, 55]);
    // Skip (Go's ticker, the default): one tick now, then back on the grid.
    assert_eq!(ticks_after_missing(MissedTickBehavior::Skip), [35, 40, 50]);
    assert_eq!(
        gort_time::interval(ms(1)).missed_tick_behavior(),
        MissedTickBehavior::Skip
    );
}

#[test]
fn paused_clock_runs_an_hour_of_interval_ticks_without_waiting() {
    let rt = rt(2, true);
    let ticks = rt.block_on(async {
        let start = Instant::now();
        let mut iv = interval(Duration::from_secs(60));
        let mut ticks = Vec::new();
        for _ in 0..61 {
            ticks.push(iv.tick().await - start);
        }
        ticks
    });
    assert_eq!(ticks.len(), 61);
    for (i, t) in ticks.iter().enumerate() {
        assert_eq!(*t, Duration::from_secs(60 * i as u64));
    }
}

#[test]
fn paused_clock_advances_only_when_every_task_is_idle() {
    let rt = rt(2, true);
    rt.block_on(async {
        let start = Instant::now();
        // A task that keeps running (a busy loop over yields) holds time
        // still: the sleeper cannot fire before it is done.
        let busy_done = Arc::new(AtomicBool::new(false));
        let b = busy_done.clone();
        let busy = gort_core::spawn(async move {
            for _ in 0..2000 {
                gort_core::yield_now().await;
            }
            b.store(true, SeqCst);
        });
        let sleeper = gort_core::spawn(async move {
            sleep(Duration::from_secs(30)).await;
        });
        sleeper.await.unwrap();
        assert!(
            busy_done.load(SeqCst),
            "time jumped while a task was runnable"
        );
        busy.await.unwrap();
        assert_eq!(Instant::now() - start, Duration::from_secs(30));
    });
}

#[test]
fn timers_on_a_p_whose_m_is_stuck_in_a_poll_are_fired_by_another_m() {
    // No monitor hand-off: only timer stealing can fire the timer.
    let rt = Builder::new()
        .procs(2)
        .handoff_after(Duration::from_secs(3600))
        .timers(TimeDriver::new(false))
        .build()
        .unwrap();
    let h = rt.handle().clone();
    let (fired_at, deadline, stuck_p, timer_p_heap) = rt.block_on(async move {
        gort_core::spawn(async move {
            let me = Handle::current().current_proc().unwrap();
            let deadline = Instant::now() + ms(20);
            let mut s = Box::pin(sleep_until(deadline));
            // Registered here, so the timer sits in this P's heap.
            assert!(poll_once(&mut s).is_pending());
            let sizes = driver(&Handle::current()).heap_sizes();
            let done = Arc::new(Mutex::new(None));
            let d = done.clone();
            gort_core::spawn(async move {
                s.await;
                *d.lock().unwrap() = Some(Instant::now());
            });
            // Block this P's thread inside the poll until the timer fired.
            let end = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(t) = *done.lock().unwrap() {
                    return (t, deadline, me, sizes[me]);
                }
                assert!(std::time::Instant::now() < end, "timer never fired");
                std::thread::sleep(ms(1));
            }
        })
        .await
        .unwrap()
    });
    assert_eq!(
        timer_p_heap, 1,
        "the timer was on the stuck P's heap (P{stuck_p})"
    );
    assert!(fired_at >= deadline);
    assert_eq!(h.metrics().monitor_handoffs, 0);
}

#[test]
fn sleeping_task_shows_the_sleep_wait_reason_in_dumps() {
    let rt = rt(1, false);
    let dump = rt.block_on(async {
        let _h = gort_core::task::Builder::new()
            .name("napper")
            .spawn(sleep(Duration::from_secs(3600)));
        // One P runs tasks in order: after this one, the napper has parked.
        gort_core::spawn(async {}).await.unwrap();
        Handle::current().dump_tasks()
    });
    assert!(dump.contains("\"napper\" [sleep,"), "{dump}");
}

#[test]
fn sleep_outside_a_runtime_panics_with_advice() {
    let r = std::panic::catch_unwind(|| {
        let mut s = sleep(ms(1));
        let _ = poll_once(&mut s);
    });
    let msg = r.unwrap_err();
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("outside a gort runtime"), "{msg}");
}

// tokio's meaning of `is_elapsed`, which ported code asserts: a sleep whose
// deadline is already past is not elapsed until a poll has seen it.
#[test]
fn a_sleep_is_elapsed_once_a_poll_has_seen_its_deadline() {
    let rt = rt(1, true);
    rt.block_on(async {
        let mut s = pin!(sleep_until(Instant::now()));
        assert!(!s.is_elapsed());
        s.as_mut().await;
        assert!(s.is_elapsed());
        s.as_mut().reset(Instant::now() + Duration::from_secs(1));
        assert!(!s.is_elapsed());
    });
}

// A reset into the past makes the next poll ready, with no timer check in
// between (tokio fires such a timer at once).
#[test]
fn a_sleep_reset_into_the_past_is_ready_at_its_next_poll() {
    let rt = rt(1, true);
    rt.block_on(async {
        let start = Instant::now();
        let mut s = pin!(sleep_until(start + Duration::from_secs(10)));
        assert!(poll_once(&mut s.as_mut()).is_pending());
        sleep(Duration::from_secs(5)).await;
        s.as_mut().reset(start + Duration::from_secs(4));
        assert!(poll_once(&mut s.as_mut()).is_ready());
        assert!(s.is_elapsed());
    });
}

// An interval whose next tick overflows the clock never ticks again
// instead of panicking (tokio's interval(Duration::MAX) does the same).
#[test]
fn an_interval_of_duration_max_ticks_once_and_does_not_panic() {
    let rt = rt(1, true);
    rt.block_on(async {
        let mut iv = interval(Duration::MAX);
        iv.tick().await;
        assert!(poll_once(&mut pin!(iv.tick())).is_pending());
        iv.reset();
        iv.reset_after(Duration::MAX);
        assert!(poll_once(&mut pin!(iv.tick())).is_pending());
    });
}
