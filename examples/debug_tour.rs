//! Go's debugging tools in gort, in one run: schedtrace and scheddetail
//! lines on stderr, then a task dump and the metrics snapshot.
//!
//! ```text
//! GORT_DEBUG=schedtrace=200,scheddetail=1 cargo run --release --example debug_tour
//! ```

use std::sync::Arc;
use std::time::Duration;

#[gort::main(procs = 2)]
async fn main() {
    let (tx, rx) = gort::sync::chan::<u32>(0);
    let mutex = Arc::new(gort::sync::Mutex::new(0u32));
    let _receiver = gort::task::Builder::new()
        .name("receiver")
        .spawn(async move { rx.recv().await });
    let _sleeper = gort::task::Builder::new()
        .name("sleeper")
        .spawn(gort::time::sleep(Duration::from_secs(60)));
    let guard = mutex.lock().await;
    let m2 = mutex.clone();
    let locker = gort::task::Builder::new()
        .name("locker")
        .spawn(async move { *m2.lock().await += 1 });
    gort::time::sleep(Duration::from_millis(450)).await;

    println!("--- gort::runtime::dump_tasks() ---");
    println!("{}", gort::runtime::dump_tasks());
    println!("--- gort::runtime::metrics() ---");
    println!("{:#?}", gort::runtime::metrics());
    drop(guard);
    locker.await.unwrap();
    drop(tx);
}
