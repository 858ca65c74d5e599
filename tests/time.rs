//! gort::time through the facade, as users write it.

use std::time::Duration;

use gort::time::{sleep, Instant};

#[gort::test(start_paused = true)]
async fn start_paused_runs_a_day_of_sleeps_at_once() {
    let start = Instant::now();
    for _ in 0..24 {
        sleep(Duration::from_secs(3600)).await;
    }
    assert_eq!(Instant::now() - start, Duration::from_secs(86_400));
}

#[gort::test(start_paused = true)]
async fn advance_fires_due_timers() {
    let t = gort::spawn(sleep(Duration::from_secs(5)));
    gort::time::advance(Duration::from_secs(5)).await;
    t.await.unwrap();
}

#[gort::test]
async fn pause_and_resume_at_run_time() {
    gort::time::pause();
    let start = Instant::now();
    gort::time::advance(Duration::from_secs(10)).await;
    assert_eq!(Instant::now() - start, Duration::from_secs(10));
    gort::time::resume();
    let a = Instant::now();
    sleep(Duration::from_millis(2)).await;
    assert!(Instant::now() - a >= Duration::from_millis(2));
}
