//! The driver seam: a `Timers` hook and a `Driver` installed on the
//! Builder are called the way gort-time and gort-net rely on.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use gort_core::driver::{Driver, ParkDriver, Timers};
use gort_core::runtime::Builder;

/// One timer per runtime: fires its waker on whichever P checks it first
/// after the deadline.
#[derive(Default)]
struct OneTimer {
    deadline: Mutex<Option<(Instant, Waker)>>,
    nprocs: AtomicUsize,
    fired_on: Mutex<Vec<usize>>,
}

impl Timers for OneTimer {
    fn run_expired(&self, p: usize) -> Option<Instant> {
        let mut d = self.deadline.lock().unwrap();
        match d.take() {
            Some((when, w)) if when <= Instant::now() => {
                self.fired_on.lock().unwrap().push(p);
                w.wake();
                None
            }
            other => {
                *d = other;
                d.as_ref().map(|(when, _)| *when)
            }
        }
    }
    fn next_deadline(&self, p: usize) -> Option<Instant> {
        // The timer lives on P0.
        if p == 0 {
            self.deadline.lock().unwrap().as_ref().map(|(w, _)| *w)
        } else {
            None
        }
    }
    fn resize(&self, nprocs: usize) {
        self.nprocs.store(nprocs, SeqCst);
    }
}

/// Records the timeouts the idle M blocks with.
#[derive(Default)]
struct RecordingDriver {
    inner: ParkDriver,
    timeouts: Mutex<Vec<Option<Duration>>>,
}

impl Driver for RecordingDriver {
    fn park(&self, timeout: Option<Duration>) {
        self.timeouts.lock().unwrap().push(timeout);
        self.inner.park(timeout);
    }
    fn unpark(&self) {
        self.inner.unpark();
    }
}

/// A future that registers with `OneTimer` and completes once it fired.
struct Sleep {
    timers: Arc<OneTimer>,
    when: Instant,
    registered: bool,
    fired: Arc<AtomicBool>,
}

impl std::future::Future for Sleep {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if Instant::now() >= self.when && self.registered {
            self.fired.store(true, SeqCst);
            return std::task::Poll::Ready(());
        }
        if !self.registered {
            self.registered = true;
            *self.timers.deadline.lock().unwrap() = Some((self.when, cx.waker().clone()));
            // gort-time does this when it adds a timer: an M blocked in the
            // driver must wake up for the new deadline.
            gort_core::runtime::Handle::current().wake_netpoller(self.when);
        }
        std::task::Poll::Pending
    }
}

#[test]
fn idle_m_blocks_in_the_driver_until_the_earliest_timer_then_fires_it() {
    let timers = Arc::new(OneTimer::default());
    let driver = Arc::new(RecordingDriver::default());
    let rt = Builder::new()
        .procs(2)
        .timers(timers.clone())
        .driver(driver.clone())
        .build()
        .unwrap();
    assert_eq!(timers.nprocs.load(SeqCst), 2, "resize is called at build");
    let fired = Arc::new(AtomicBool::new(false));
    let when = Instant::now() + Duration::from_millis(50);
    let t = timers.clone();
    let f = fired.clone();
    rt.block_on(async move {
        gort_core::spawn(Sleep {
            timers: t,
            when,
            registered: false,
            fired: f,
        })
        .await
        .unwrap()
    });
    assert!(fired.load(SeqCst));
    assert!(Instant::now() >= when, "fired no earlier than the deadline");
    assert_eq!(timers.fired_on.lock().unwrap().len(), 1);
    // While waiting, some M blocked in the driver with a finite timeout of
    // at most the 50 ms to the deadline, never with an unbounded one.
    let ts = driver.timeouts.lock().unwrap().clone();
    let bounded: Vec<_> = ts.iter().flatten().filter(|d| !d.is_zero()).collect();
    assert!(!bounded.is_empty(), "no bounded park in {ts:?}");
    assert!(
        bounded.iter().all(|d| **d <= Duration::from_millis(50)),
        "{ts:?}"
    );
    let h = rt.handle().clone();
    assert_eq!(
        h.timers_as::<OneTimer>().map(|t| t.nprocs.load(SeqCst)),
        Some(2)
    );
    assert!(h.driver_as::<RecordingDriver>().is_some());
    assert!(h.driver_as::<ParkDriver>().is_none());
}

#[test]
fn with_nothing_to_do_the_idle_m_blocks_without_timeout() {
    let driver = Arc::new(RecordingDriver::default());
    let rt = Builder::new()
        .procs(1)
        .driver(driver.clone())
        .build()
        .unwrap();
    rt.block_on(async { gort_core::spawn(async {}).await.unwrap() });
    // Wait until the M has gone to sleep in the driver.
    let end = Instant::now() + Duration::from_secs(30);
    while !driver.timeouts.lock().unwrap().contains(&None) {
        assert!(
            Instant::now() < end,
            "the idle M never blocked in the driver"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let n = driver.timeouts.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        driver.timeouts.lock().unwrap().len(),
        n,
        "an idle M does not poll in a loop"
    );
}
