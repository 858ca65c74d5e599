//! The scheduler's contract, one test per sentence (issue: gort-core).
//!
//! Every assertion is on counts, ids or orders; where a test needs a thread
//! to stay busy until something happens elsewhere, it waits for that event
//! with a generous cap that only matters when the behaviour is broken.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use gort_core::runtime::{Builder, Handle, Runtime};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

/// A runtime whose monitor never hands a P off, for tests that block a
/// worker thread on purpose and must see only the mechanism they test.
fn rt_without_handoff(procs: usize) -> Runtime {
    Builder::new()
        .procs(procs)
        .handoff_after(Duration::from_secs(3600))
        .build()
        .unwrap()
}

/// Blocks the calling thread until `cond` holds, failing the test after
/// `cap` (only reached when the scheduler is broken).
fn block_until(cap: Duration, cond: impl Fn() -> bool) {
    let end = Instant::now() + cap;
    while !cond() {
        assert!(Instant::now() < end, "condition not reached within {cap:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .expect("string payload")
}

/// A future that is pending forever and counts its drops.
struct PendingForever(Arc<AtomicUsize>);

impl Future for PendingForever {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Drop for PendingForever {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn hundred_thousand_spawned_tasks_all_complete_exactly_once() {
    const N: usize = 100_000;
    let rt = rt(2);
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let r = runs.clone();
    let outputs = rt.block_on(async move {
        let hs: Vec<_> = (0..N)
            .map(|i| {
                let r = r.clone();
                gort_core::spawn(async move {
                    r[i].fetch_add(1, SeqCst);
                    i
                })
            })
            .collect();
        let mut sum = 0usize;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(outputs, N * (N - 1) / 2);
    assert!(
        runs.iter().all(|c| c.load(SeqCst) == 1),
        "some task ran zero or two times"
    );
    let m = rt.handle().metrics();
    assert_eq!(m.spawned, N as u64);
    assert_eq!(m.completed, N as u64);
    assert_eq!(m.live_tasks, 0);
}

#[test]
fn tasks_spawned_on_a_busy_p_are_stolen_by_the_idle_p() {
    let rt = rt_without_handoff(2);
    let handle = rt.handle().clone();
    let (spawner_p, procs_seen) = rt.block_on(async move {
        gort_core::spawn(async move {
            let me = Handle::current()
                .current_proc()
                .expect("a task runs on a P");
            let done = Arc::new(AtomicUsize::new(0));
            let ran_on: Arc<Mutex<Vec<usize>>> = Arc::default();
            for _ in 0..64 {
                let (done, ran_on) = (done.clone(), ran_on.clone());
                gort_core::spawn(async move {
                    ran_on
                        .lock()
                        .unwrap()
                        .push(Handle::current().current_proc().unwrap());
                    done.fetch_add(1, SeqCst);
                });
            }
            // Keep this P busy (no await) until the children ran elsewhere.
            block_until(Duration::from_secs(30), || done.load(SeqCst) == 64);
            let v = ran_on.lock().unwrap().clone();
            (me, v)
        })
        .await
        .unwrap()
    });
    assert_eq!(procs_seen.len(), 64);
    let elsewhere = procs_seen.iter().filter(|&&p| p != spawner_p).count();
    assert!(elsewhere > 0, "no child ran on the idle P: {procs_seen:?}");
    let m = handle.metrics();
    assert!(m.steals >= 1);
    assert_eq!(m.monitor_handoffs, 0);
}

/// A task that wakes itself on every poll and counts its polls.
struct Spinner {
    polls: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Future for Spinner {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.stop.load(SeqCst) {
            return Poll::Ready(());
        }
        self.polls.fetch_add(1, SeqCst);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn self_waking_task_cannot_keep_a_global_task_waiting_beyond_61_ticks() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    let polls = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (polls, stop) = (polls.clone(), stop.clone());
        // Spawned from a task, so it lives in the P's local queue.
        rt.block_on(async move {
            gort_core::spawn(async move {
                gort_core::spawn(Spinner { polls, stop });
            })
            .await
            .unwrap()
        });
    }
    block_until(Duration::from_secs(30), || polls.load(SeqCst) > 1000);
    // Now inject from an outside thread: this goes to the global queue.
    for _ in 0..5 {
        let before = Arc::new(AtomicUsize::new(usize::MAX));
        let seen_at = Arc::new(AtomicUsize::new(usize::MAX));
        let (p2, s2) = (polls.clone(), seen_at.clone());
        let h = handle.spawn(async move {
            s2.store(p2.load(SeqCst), SeqCst);
        });
        // Read after the push: if this thread is descheduled in between,
        // the count only shrinks (a task that ran already waited 0).
        before.store(polls.load(SeqCst), SeqCst);
        block_until(Duration::from_secs(30), || h.is_finished());
        let waited = seen_at.load(SeqCst).saturating_sub(before.load(SeqCst));
        assert!(waited <= 62, "global task waited {waited} schedule ticks");
    }
    stop.store(true, SeqCst);
}

/// Two tasks that hand a turn to each other through their wakers (a
/// ping-pong through `runnext`), counting exchanges.
struct PingPong {
    shared: Arc<PingShared>,
    me: usize,
}

struct PingShared {
    wakers: Mutex<[Option<Waker>; 2]>,
    exchanges: AtomicUsize,
    limit: usize,
    spawn_at: usize,
    third_ran_at: Arc<AtomicUsize>,
}

impl Future for PingPong {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let s = &self.shared;
        let n = s.exchanges.fetch_add(1, SeqCst);
        if n >= s.limit {
            let other = s.wakers.lock().unwrap()[1 - self.me].take();
            if let Some(w) = other {
                w.wake();
            }
            return Poll::Ready(());
        }
        if n == s.spawn_at {
            // A third task, queued while the pair keeps handing off.
            let (t, ex) = (s.third_ran_at.clone(), self.shared.clone());
            gort_core::spawn(async move {
                t.store(ex.exchanges.load(SeqCst), SeqCst);
            });
        }
        let other = {
            let mut w = s.wakers.lock().unwrap();
            w[self.me] = Some(cx.waker().clone());
            w[1 - self.me].take()
        };
        if let Some(w) = other {
            w.wake();
        }
        Poll::Pending
    }
}

#[test]
fn runnext_ping_pong_pair_does_not_starve_the_local_queue() {
    let rt = rt(1);
    let third = Arc::new(AtomicUsize::new(usize::MAX));
    let shared = Arc::new(PingShared {
        wakers: Mutex::new([None, None]),
        exchanges: AtomicUsize::new(0),
        limit: 100_000,
        spawn_at: 50,
        third_ran_at: third.clone(),
    });
    let s2 = shared.clone();
    rt.block_on(async move {
        gort_core::spawn(async move {
            let a = gort_core::spawn(PingPong {
                shared: s2.clone(),
                me: 0,
            });
            let b = gort_core::spawn(PingPong { shared: s2, me: 1 });
            (a, b)
        })
        .await
        .map(|(a, b)| async move {
            a.await.unwrap();
            b.await.unwrap();
        })
        .unwrap()
        .await
    });
    let ran_at = third.load(SeqCst);
    assert_ne!(ran_at, usize::MAX, "third task never ran");
    // Without the runnext cap the third task would wait for all 100 000
    // exchanges; with it, a handful.
    assert!(
        ran_at - 50 <= 8,
        "third task waited {} exchanges",
        ran_at - 50
    );
}

/// One of a pair of tasks that wake each other forever through their
/// wakers (a `runnext` ping-pong), until `stop` is set. `queue_local_at`:
/// the exchange at which member 0 spawns a task, which lands in the local
/// queue (the pair's next wake takes `runnext` from it) and then calls
/// `yield_now` once.
struct EndlessPingPong {
    pair: Arc<Pair>,
    me: usize,
}

struct Pair {
    wakers: Mutex<[Option<Waker>; 2]>,
    exchanges: AtomicUsize,
    stop: AtomicBool,
    queue_local_at: AtomicUsize,
    local_spawned_at: AtomicUsize,
    local_ran_at: AtomicUsize,
    yielded_ran_at: AtomicUsize,
}

impl Pair {
    fn new() -> Arc<Pair> {
        Arc::new(Pair {
            wakers: Mutex::new([None, None]),
            exchanges: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            queue_local_at: AtomicUsize::new(usize::MAX),
            local_spawned_at: AtomicUsize::new(usize::MAX),
            local_ran_at: AtomicUsize::new(usize::MAX),
            yielded_ran_at: AtomicUsize::new(usize::MAX),
        })
    }

    /// Spawns both members from a task, so they live on that task's P.
    fn start(self: &Arc<Pair>, handle: &Handle) -> [gort_core::JoinHandle<()>; 2] {
        let pair = self.clone();
        let spawner = handle.spawn(async move {
            [0, 1].map(|me| {
                gort_core::spawn(EndlessPingPong {
                    pair: pair.clone(),
                    me,
                })
            })
        });
        handle.block_on(spawner).unwrap()
    }
}

impl Future for EndlessPingPong {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let p = &self.pair;
        let mut wakers = p.wakers.lock().unwrap();
        if p.stop.load(SeqCst) {
            if let Some(w) = wakers[1 - self.me].take() {
                w.wake();
            }
            return Poll::Ready(());
        }
        let n = p.exchanges.fetch_add(1, SeqCst);
        if self.me == 0 && n >= p.queue_local_at.load(SeqCst) {
            p.queue_local_at.store(usize::MAX, SeqCst);
            p.local_spawned_at.store(n, SeqCst);
            let pair = p.clone();
            gort_core::spawn(async move {
                pair.local_ran_at.store(pair.exchanges.load(SeqCst), SeqCst);
                gort_core::yield_now().await;
                pair.yielded_ran_at
                    .store(pair.exchanges.load(SeqCst), SeqCst);
            });
        }
        wakers[self.me] = Some(cx.waker().clone());
        if let Some(w) = wakers[1 - self.me].take() {
            w.wake();
        }
        Poll::Pending
    }
}

/// How many exchanges a runnext pair may do before a task in the global
/// queue runs: every 61st schedule tick takes from the global queue, and a
/// tick covers one task from the local queue plus at most 3 (the runnext
/// cap) that inherit its slice; a few more for the wake-up of the M.
const GLOBAL_WAIT_BOUND: usize = 61 * (1 + 3) + 4;
/// Same for a task in the local queue: the runnext cap, plus slack for the
/// exchanges done while the task was being queued; and for a task that
/// yielded while the global queue is empty (its turn comes at the end of
/// the current slice).
const LOCAL_WAIT_BOUND: usize = 8;

/// `pairs` runnext pairs exchange forever on `procs` Ps (pair k started
/// once pair k-1 runs, so it goes to an idle P if there is one); then a
/// task injected from outside and a task queued on a pair's P both run
/// while every pair is still exchanging, and so does the local task after
/// a `yield_now`.
fn runnext_pairs_let_injected_and_local_tasks_run(procs: usize, pairs: usize) {
    let rt = rt(procs);
    let handle = rt.handle().clone();
    let all: Vec<Arc<Pair>> = (0..pairs).map(|_| Pair::new()).collect();
    // Stops the pairs even when an assertion fails, so the runtime's drop
    // can join its Ms.
    struct StopOnDrop(Vec<Arc<Pair>>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            for p in &self.0 {
                p.stop.store(true, SeqCst);
            }
        }
    }
    let _stop = StopOnDrop(all.clone());
    let mut joins = Vec::new();
    for pair in &all {
        joins.extend(pair.start(&handle));
        block_until(Duration::from_secs(30), || {
            pair.exchanges.load(SeqCst) > 1000
        });
    }
    for _ in 0..5 {
        let ran = Arc::new(Mutex::new(None::<Vec<usize>>));
        let (r2, a2) = (ran.clone(), all.clone());
        let h = handle.spawn(async move {
            *r2.lock().unwrap() = Some(a2.iter().map(|p| p.exchanges.load(SeqCst)).collect());
        });
        // Read after the push: a late read only shrinks the wait counted.
        let before: Vec<usize> = all.iter().map(|p| p.exchanges.load(SeqCst)).collect();
        block_until(Duration::from_secs(30), || h.is_finished());
        let ran_at = ran.lock().unwrap().clone().expect("the injected task ran");
        for (k, (at, from)) in ran_at.iter().zip(&before).enumerate() {
            let waited = at.saturating_sub(*from);
            assert!(
                waited <= GLOBAL_WAIT_BOUND,
                "the injected task waited {waited} exchanges of pair {k}"
            );
        }
    }
    for pair in &all {
        pair.queue_local_at
            .store(pair.exchanges.load(SeqCst), SeqCst);
        block_until(Duration::from_secs(30), || {
            pair.local_ran_at.load(SeqCst) != usize::MAX
        });
        let waited = pair.local_ran_at.load(SeqCst) - pair.local_spawned_at.load(SeqCst);
        assert!(
            waited <= LOCAL_WAIT_BOUND,
            "the local task waited {waited} exchanges"
        );
        block_until(Duration::from_secs(30), || {
            pair.yielded_ran_at.load(SeqCst) != usize::MAX
        });
        let waited = pair.yielded_ran_at.load(SeqCst) - pair.local_ran_at.load(SeqCst);
        assert!(
            waited <= LOCAL_WAIT_BOUND,
            "the yielded task waited {waited} exchanges"
        );
    }
    // The pairs exchanged all along (neither has returned): stop them.
    assert!(joins.iter().all(|j| !j.is_finished()));
    drop(_stop);
    for j in joins {
        handle.block_on(j).unwrap();
    }
}

#[test]
fn runnext_ping_pong_pair_on_one_p_lets_an_injected_and_a_local_task_run() {
    runnext_pairs_let_injected_and_local_tasks_run(1, 1);
}

#[test]
fn runnext_ping_pong_pairs_on_two_ps_let_an_injected_and_a_local_task_run() {
    runnext_pairs_let_injected_and_local_tasks_run(2, 2);
}

#[test]
fn task_blocking_its_thread_does_not_stop_the_other_tasks_of_its_p() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    let finished_while_blocked = rt.block_on(async move {
        gort_core::spawn(async move {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..10 {
                let d = done.clone();
                gort_core::spawn(async move {
                    d.fetch_add(1, SeqCst);
                });
            }
            // Block this thread, inside the poll, with the ten tasks queued
            // on this (only) P. They can only run if the monitor hands the P
            // to another M.
            block_until(Duration::from_secs(30), || done.load(SeqCst) == 10);
            std::thread::sleep(Duration::from_millis(200));
            done.load(SeqCst)
        })
        .await
        .unwrap()
    });
    assert_eq!(finished_while_blocked, 10);
    assert!(handle.metrics().monitor_handoffs >= 1);
}

#[test]
fn panicking_task_yields_join_error_with_payload_and_runtime_keeps_running() {
    let rt = rt(2);
    rt.block_on(async {
        let h = gort_core::spawn(async {
            panic!("boom {}", 42);
        });
        let err = h.await.unwrap_err();
        assert!(err.is_panic() && !err.is_cancelled());
        assert_eq!(panic_message(err.into_panic()), "boom 42");
        // The runtime still runs tasks.
        assert_eq!(gort_core::spawn(async { 5 }).await.unwrap(), 5);
    });
}

#[test]
fn abort_drops_the_future_and_join_reports_cancelled() {
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    rt.block_on(async move {
        let h = gort_core::spawn(PendingForever(d));
        // Let it be polled once so it is parked, then abort.
        gort_core::yield_now().await;
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled());
    });
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn shutdown_drops_every_pending_task_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let rt = rt(2);
    let d = drops.clone();
    rt.block_on(async move {
        for _ in 0..1000 {
            gort_core::spawn(PendingForever(d.clone()));
        }
    });
    // Some were never even polled (still queued); all must be dropped once.
    drop(rt);
    assert_eq!(drops.load(SeqCst), 1000);
}

#[test]
fn spawn_after_shutdown_drops_the_task_and_reports_cancelled() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    drop(rt);
    let drops = Arc::new(AtomicUsize::new(0));
    let h = handle.spawn(PendingForever(drops.clone()));
    assert_eq!(drops.load(SeqCst), 1);
    assert!(h.is_finished());
}

#[test]
fn spawn_blocking_and_block_in_place_results_come_back() {
    let rt = rt(2);
    let handle = rt.handle().clone();
    rt.block_on(async {
        let a = gort_core::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(5));
            "from the pool"
        });
        let b = gort_core::spawn(async { gort_core::block_in_place(|| 6 * 7) });
        assert_eq!(a.await.unwrap(), "from the pool");
        assert_eq!(b.await.unwrap(), 42);
        let p = gort_core::spawn_blocking(|| panic!("blocking boom"))
            .await
            .unwrap_err();
        assert!(p.is_panic());
    });
    assert!(handle.metrics().blocking_handoffs >= 1);
}

#[test]
fn block_in_place_lets_the_other_tasks_of_its_p_run() {
    let rt = rt(1);
    let ran = rt.block_on(async {
        gort_core::spawn(async {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..10 {
                let d = done.clone();
                gort_core::spawn(async move {
                    d.fetch_add(1, SeqCst);
                });
            }
            gort_core::block_in_place(|| {
                block_until(Duration::from_secs(30), || done.load(SeqCst) == 10);
            });
            done.load(SeqCst)
        })
        .await
        .unwrap()
    });
    assert_eq!(ran, 10);
}

#[test]
fn block_on_inside_a_task_panics_with_advice() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    let err = rt.block_on(async move {
        gort_core::spawn(async move { handle.block_on(async {}) })
            .await
            .unwrap_err()
    });
    let msg = panic_message(err.into_panic());
    assert!(msg.contains("block_in_place"), "{msg}");
}

#[test]
fn block_on_inside_block_in_place_is_allowed() {
    let rt = rt(2);
    let handle = rt.handle().clone();
    let v = rt.block_on(async move {
        gort_core::spawn(async move { gort_core::block_in_place(|| handle.block_on(async { 9 })) })
            .await
            .unwrap()
    });
    assert_eq!(v, 9);
}

/// A waker counter: how many times a task was polled while notified twice.
#[test]
fn waking_an_already_queued_task_is_a_no_op() {
    let rt = rt(1);
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    rt.block_on(async move {
        gort_core::spawn(async move {
            struct WakeThrice(Arc<AtomicUsize>, bool);
            impl Future for WakeThrice {
                type Output = ();
                fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                    self.0.fetch_add(1, SeqCst);
                    if self.1 {
                        return Poll::Ready(());
                    }
                    self.1 = true;
                    cx.waker().wake_by_ref();
                    cx.waker().wake_by_ref();
                    // Waking by value consumes a clone: the third wake.
                    let w = cx.waker().clone();
                    w.wake();
                    Poll::Pending
                }
            }
            WakeThrice(p, false).await
        })
        .await
        .unwrap()
    });
    assert_eq!(
        polls.load(SeqCst),
        2,
        "three wakes while running must queue the task once"
    );
}

#[test]
fn yield_now_lets_every_other_local_task_run_first() {
    let rt = rt(1);
    let order = rt.block_on(async {
        gort_core::spawn(async {
            let log: Arc<Mutex<Vec<&'static str>>> = Arc::default();
            for name in ["a", "b", "c"] {
                let l = log.clone();
                gort_core::spawn(async move { l.lock().unwrap().push(name) });
            }
            gort_core::yield_now().await;
            log.lock().unwrap().push("yielder");
            let v = log.lock().unwrap().clone();
            v
        })
        .await
        .unwrap()
    });
    assert_eq!(order.last(), Some(&"yielder"));
    assert_eq!(order.len(), 4);
}

#[test]
fn yield_now_lets_tasks_in_the_global_queue_run_first() {
    let rt = rt_without_handoff(1);
    let handle = rt.handle().clone();
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let log: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let (g2, l2) = (gate.clone(), log.clone());
    let h = handle.spawn(async move {
        // Wait (blocking this P's thread) until the outside thread has
        // queued its tasks in the global queue, then yield.
        {
            let (m, c) = &*g2;
            let mut ready = m.lock().unwrap();
            while !*ready {
                ready = c.wait(ready).unwrap();
            }
        }
        gort_core::yield_now().await;
        l2.lock().unwrap().push("yielder");
    });
    // Wait until the task runs (it holds the only P), then queue globally.
    block_until(Duration::from_secs(30), || handle.metrics().polls >= 1);
    for name in ["g1", "g2", "g3"] {
        let l = log.clone();
        handle.spawn(async move { l.lock().unwrap().push(name) });
    }
    {
        let (m, c) = &*gate;
        *m.lock().unwrap() = true;
        c.notify_all();
    }
    rt.block_on(h).unwrap();
    let v = log.lock().unwrap().clone();
    assert_eq!(v, ["g1", "g2", "g3", "yielder"]);
}

#[test]
fn zero_or_too_many_procs_is_an_error() {
    for n in [0, 1025] {
        let e = Builder::new().procs(n).build().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("1 to 1024"), "{e}");
    }
    let e = Builder::new().max_blocking_threads(0).build().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = Builder::new()
        .handoff_after(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn handle_current_is_available_in_tasks_and_block_on_only() {
    assert!(Handle::try_current().is_err());
    let rt = rt(1);
    rt.block_on(async {
        assert!(Handle::try_current().is_ok());
        gort_core::spawn(async { assert!(Handle::try_current().is_ok()) })
            .await
            .unwrap();
    });
    assert!(Handle::try_current().is_err());
    let _g = rt.handle().enter();
    assert!(Handle::try_current().is_ok());
}

#[test]
fn idle_runtime_does_not_cycle_its_ps() {
    let rt = rt(2);
    let h = rt.handle().clone();
    rt.block_on(async {
        let ts: Vec<_> = (0..8)
            .map(|_| {
                gort_core::spawn(async {
                    gort_core::block_in_place(|| std::thread::sleep(Duration::from_millis(2)));
                    gort_core::yield_now().await;
                })
            })
            .collect();
        for t in ts {
            t.await.unwrap();
        }
    });
    block_until(Duration::from_secs(30), || h.metrics().idle_procs == 2);
    let before = h.metrics();
    std::thread::sleep(Duration::from_millis(100));
    let after = h.metrics();
    // Nothing runs: no P is taken or released, no M woken, no poll.
    assert_eq!(
        (before.parks, before.unparks, before.polls),
        (after.parks, after.unparks, after.polls)
    );
    assert_eq!(after.idle_procs, 2);
}

#[test]
fn detached_task_keeps_running_after_its_join_handle_drops() {
    let rt = rt(2);
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    rt.block_on(async move {
        drop(gort_core::spawn(async move {
            gort_core::yield_now().await;
            f.store(true, SeqCst);
        }));
    });
    block_until(Duration::from_secs(30), || flag.load(SeqCst));
}

#[test]
fn runtimes_built_and_dropped_in_a_loop_always_shut_down() {
    // Shutdown used to race an M going to sleep on its parker: the M could
    // queue itself after the exit wake-up and be joined forever.
    for i in 0..200 {
        let rt = rt(1 + i % 2);
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        rt.block_on(async move {
            for _ in 0..4 {
                let n = n2.clone();
                gort_core::spawn(async move {
                    n.fetch_add(1, SeqCst);
                });
            }
        });
        drop(rt);
        assert!(n.load(SeqCst) <= 4);
    }
}

/// A future that counts its polls (and those after `shut` was set) and
/// its drops, and stays pending. Task 0 releases the blocked poll from its
/// drop when `release_on_drop` holds the barrier.
struct Tracked {
    id: usize,
    log: Arc<ShutdownLog>,
}

struct ShutdownLog {
    shut: AtomicBool,
    polls_after_shutdown: AtomicUsize,
    drops: Vec<AtomicUsize>,
    release_on_drop: Mutex<Option<Arc<std::sync::Barrier>>>,
}

impl Future for Tracked {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.log.shut.load(SeqCst) {
            self.log.polls_after_shutdown.fetch_add(1, SeqCst);
        }
        Poll::Pending
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.log.drops[self.id].fetch_add(1, SeqCst);
        if self.id == 0 {
            if let Some(b) = self.log.release_on_drop.lock().unwrap().take() {
                self.log.shut.store(true, SeqCst);
                b.wait();
            }
        }
    }
}

/// Shutdown gives up on an M whose task blocks its thread in a poll, with
/// eight tasks queued on that M's P. The poll is released after the
/// shutdown returns, or while it cancels the tasks (from a cancelled
/// future's drop, so the M runs again while the shutdown thread is still
/// at work); the task then spawns a task and wakes itself, so the M wants
/// its P, before returning. `shut_down` is `shutdown_timeout(short)` or
/// `shutdown_background`.
fn shutdown_past_a_stuck_poll(shut_down: impl FnOnce(Runtime), release_during_shutdown: bool) {
    const QUEUED: usize = 8;
    // Ids: 0..8 the queued tasks, 8 the blocked one, 9 spawned after.
    let release = Arc::new(std::sync::Barrier::new(2));
    let log = Arc::new(ShutdownLog {
        shut: AtomicBool::new(false),
        polls_after_shutdown: AtomicUsize::new(0),
        drops: (0..QUEUED + 2).map(|_| AtomicUsize::new(0)).collect(),
        release_on_drop: Mutex::new(release_during_shutdown.then(|| release.clone())),
    });
    let rt = rt_without_handoff(1);
    let handle = rt.handle().clone();
    let (blocked_tx, blocked_rx) = std::sync::mpsc::channel::<()>();
    let (l2, r2) = (log.clone(), release.clone());
    rt.spawn(async move {
        for id in 0..QUEUED {
            // Onto this P (runnext, then the local queue).
            drop(gort_core::spawn(Tracked {
                id,
                log: l2.clone(),
            }));
        }
        let _me = Tracked {
            id: QUEUED,
            log: l2.clone(),
        };
        std::future::poll_fn(move |cx| {
            blocked_tx.send(()).unwrap();
            r2.wait();
            // Back from the blocking call: the M wants its P.
            drop(gort_core::spawn(Tracked {
                id: QUEUED + 1,
                log: l2.clone(),
            }));
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        })
        .await;
    });
    blocked_rx.recv().unwrap();
    shut_down(rt);
    for id in 0..QUEUED {
        assert_eq!(log.drops[id].load(SeqCst), 1, "queued task {id}");
    }
    if !release_during_shutdown {
        log.shut.store(true, SeqCst);
        release.wait();
    }
    // Its poll returns Pending: the cancellation recorded at shutdown
    // drops its future then, on the M.
    block_until(Duration::from_secs(30), || {
        log.drops[QUEUED].load(SeqCst) == 1
    });
    // The task it spawned after the shutdown was dropped at once.
    block_until(Duration::from_secs(30), || {
        log.drops[QUEUED + 1].load(SeqCst) == 1
    });
    // The M has exited: whatever it could have polled, it has.
    block_until(Duration::from_secs(30), || handle.metrics().workers == 0);
    assert_eq!(log.polls_after_shutdown.load(SeqCst), 0);
    for (id, d) in log.drops.iter().enumerate() {
        assert_eq!(d.load(SeqCst), 1, "task {id}");
    }
}

#[test]
fn shutdown_timeout_past_a_stuck_poll_drops_every_task_once_and_polls_none_after() {
    shutdown_past_a_stuck_poll(|rt| rt.shutdown_timeout(Duration::from_millis(20)), false);
}

#[test]
fn shutdown_background_racing_a_returning_poll_drops_every_task_once_and_polls_none_after() {
    shutdown_past_a_stuck_poll(|rt| rt.shutdown_background(), true);
}
