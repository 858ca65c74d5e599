//! gort-core's own `Duration`-taking API at the extremes (the Builder and
//! Runtime ones are in the facade's `tests/extreme_durations.rs`, which
//! has the drivers installed): a timeout past the clock's range waits like
//! no timeout, it does not panic.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gort_core::driver::{Driver, ParkDriver};

#[test]
fn park_driver_with_duration_max_waits_for_the_unpark() {
    let driver = Arc::new(ParkDriver::new());
    let returned = Arc::new(AtomicBool::new(false));
    let (d, r) = (driver.clone(), returned.clone());
    // Unparks until the park returns: whether the first unpark comes
    // before the park (stored) or during it, the park must return.
    let kicker = std::thread::spawn(move || {
        while !r.load(SeqCst) {
            d.unpark();
            std::thread::yield_now();
        }
    });
    driver.park(Some(Duration::MAX));
    returned.store(true, SeqCst);
    kicker.join().unwrap();
}
