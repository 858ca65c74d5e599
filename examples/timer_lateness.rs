//! How late do timers fire? Sleeps 200 times for 1-10 ms on an otherwise
//! idle runtime and prints how long after its deadline each woke (it is
//! never early: gort fires no timer before its deadline).
//!
//! ```text
//! cargo run --release --example timer_lateness
//! ```

use std::time::Duration;

use gort::time::{sleep_until, Instant};

#[gort::main(procs = 2)]
async fn main() {
    let mut late = Vec::new();
    for i in 0..200u64 {
        let deadline = Instant::now() + Duration::from_millis(1 + i % 10);
        sleep_until(deadline).await;
        let now = Instant::now();
        assert!(now >= deadline, "a timer fired early");
        late.push(now - deadline);
    }
    late.sort();
    let mean = late.iter().sum::<Duration>() / late.len() as u32;
    let pct = |p: usize| late[(late.len() * p / 100).min(late.len() - 1)];
    println!(
        "timer lateness over {} sleeps: mean {:?}, p50 {:?}, p99 {:?}, max {:?}",
        late.len(),
        mean,
        pct(50),
        pct(99),
        late[late.len() - 1]
    );
}
