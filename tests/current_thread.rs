//! The current-thread runtime with every driver installed: timers and the
//! network poller run on the `block_on` thread too. Assertions are on
//! thread ids, orders and bytes; the clock is paused where an order of
//! timers is asserted.

use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use gort::io::AsyncReadExt;
use gort::runtime::Builder;

fn record(ids: &Arc<Mutex<Vec<ThreadId>>>) {
    ids.lock().unwrap().push(thread::current().id());
}

#[test]
fn timers_fire_in_deadline_order_on_the_block_on_thread() {
    let rt = Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let ids = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let hs: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|ms| {
                let (order, ids) = (order.clone(), ids.clone());
                gort::spawn(async move {
                    gort::time::sleep(Duration::from_millis(ms)).await;
                    record(&ids);
                    order.lock().unwrap().push(ms);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(*order.lock().unwrap(), vec![10, 20, 30]);
    let me = thread::current().id();
    assert!(ids.lock().unwrap().iter().all(|&id| id == me));
}

#[test]
fn a_real_sleep_wakes_the_driver_parked_in_the_poller() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let id = rt.block_on(async {
        gort::spawn(async {
            gort::time::sleep(Duration::from_millis(5)).await;
            thread::current().id()
        })
        .await
        .unwrap()
    });
    assert_eq!(id, thread::current().id());
}

#[test]
fn tcp_loopback_echo_runs_on_the_block_on_thread() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let ids = Arc::new(Mutex::new(Vec::new()));
    let i = ids.clone();
    let echoed = rt.block_on(async move {
        let listener = gort::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let si = i.clone();
        let server = gort::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 5 * 1024];
            let mut total = 0;
            loop {
                let n = s.read(&mut buf).await.unwrap();
                record(&si);
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await.unwrap();
                total += n;
            }
            total
        });
        let client = gort::spawn(async move {
            let mut c = gort::net::TcpStream::connect(addr).await.unwrap();
            let msg: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
            let (mut r, mut w) = c.split();
            let mut back = Vec::new();
            let (wr, rd) = gort::join!(
                async {
                    w.write_all(&msg).await.unwrap();
                    w.shutdown().await.unwrap();
                },
                r.read_to_end(&mut back)
            );
            let () = wr;
            rd.unwrap();
            record(&i);
            (msg == back, back.len())
        });
        let (same, len) = client.await.unwrap();
        (same, len, server.await.unwrap())
    });
    assert_eq!(echoed, (true, 64 * 1024, 64 * 1024));
    let me = thread::current().id();
    let ids = ids.lock().unwrap();
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|&id| id == me));
}

#[gort::test]
async fn gort_test_defaults_to_current_thread_and_runs_tasks_here() {
    let here = thread::current().id();
    let there = gort::spawn(async { thread::current().id() }).await.unwrap();
    assert_eq!(here, there);
    assert_eq!(gort::runtime::gomaxprocs(), 1);
}
