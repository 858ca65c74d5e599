//! Task lifecycle tests on a test scheduler (a plain queue), single
//! threaded, so they run under Miri: every reference is released exactly
//! once (Miri reports leaks) and nothing is touched after it is freed.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use super::{new_task, JoinHandle, Notified, RawTask, Schedule};

#[derive(Default)]
struct Queue {
    q: Mutex<VecDeque<Notified>>,
}

#[derive(Clone, Default)]
struct TestSched(Arc<Queue>);

impl Schedule for TestSched {
    fn schedule(&self, task: Notified) {
        self.0.q.lock().unwrap().push_back(task);
    }
    fn release(&self, _task: RawTask) -> bool {
        false
    }
}

impl TestSched {
    fn len(&self) -> usize {
        self.0.q.lock().unwrap().len()
    }
    /// Runs queued tasks until the queue is empty; returns how many ran.
    fn run_all(&self) -> usize {
        let mut n = 0;
        loop {
            let t = self.0.q.lock().unwrap().pop_front();
            let Some(t) = t else { return n };
            n += 1;
            if let Some((t, _)) = t.run() {
                self.schedule(t);
            }
        }
    }
}

/// Spawns on the test scheduler: the task is queued, not linked anywhere.
fn spawn<F>(s: &TestSched, f: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (notified, raw, join) = new_task(f, s.clone(), None, Location::caller());
    // SAFETY: not linked in a list: the list reference is ours to drop.
    unsafe { raw.drop_ref() };
    s.schedule(notified);
    join
}

#[derive(Default)]
struct CountWake(AtomicUsize);

impl Wake for CountWake {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn poll_join<T>(j: &mut JoinHandle<T>, w: &Waker) -> Poll<Result<T, super::JoinError>> {
    let mut cx = Context::from_waker(w);
    Pin::new(j).poll(&mut cx)
}

/// Pending once, keeping its waker in `slot`, then ready with `v`.
struct Once<T> {
    slot: Arc<Mutex<Option<Waker>>>,
    v: Option<T>,
    polled: bool,
}

impl<T: Unpin> Future for Once<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if !self.polled {
            self.polled = true;
            *self.slot.lock().unwrap() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(self.v.take().unwrap())
    }
}

struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn task_runs_and_join_handle_reads_the_output() {
    let s = TestSched::default();
    let mut j = spawn(&s, async { 5 });
    assert_eq!(s.run_all(), 1);
    assert!(j.is_finished());
    assert!(matches!(
        poll_join(&mut j, Waker::noop()),
        Poll::Ready(Ok(5))
    ));
}

#[test]
fn waking_an_idle_task_twice_queues_it_once() {
    let s = TestSched::default();
    let slot = Arc::new(Mutex::new(None));
    let mut j = spawn(
        &s,
        Once {
            slot: slot.clone(),
            v: Some(1u8),
            polled: false,
        },
    );
    assert_eq!(s.run_all(), 1);
    let w = slot.lock().unwrap().take().unwrap();
    w.wake_by_ref();
    w.wake_by_ref();
    assert_eq!(s.len(), 1);
    drop(w);
    assert_eq!(s.run_all(), 1);
    assert!(matches!(
        poll_join(&mut j, Waker::noop()),
        Poll::Ready(Ok(1))
    ));
}

#[test]
fn join_handle_waker_is_woken_on_completion() {
    let s = TestSched::default();
    let slot = Arc::new(Mutex::new(None));
    let mut j = spawn(
        &s,
        Once {
            slot: slot.clone(),
            v: Some(2u8),
            polled: false,
        },
    );
    let cw = Arc::new(CountWake::default());
    let w = Waker::from(cw.clone());
    assert!(poll_join(&mut j, &w).is_pending());
    s.run_all();
    assert_eq!(cw.0.load(SeqCst), 0);
    slot.lock().unwrap().take().unwrap().wake();
    s.run_all();
    assert_eq!(cw.0.load(SeqCst), 1, "completion wakes the joiner once");
    assert!(matches!(poll_join(&mut j, &w), Poll::Ready(Ok(2))));
}

#[test]
fn abort_of_a_parked_task_drops_its_future_once() {
    let s = TestSched::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCount(drops.clone());
    let mut j = spawn(&s, async move {
        let _d = d;
        std::future::pending::<()>().await
    });
    s.run_all();
    assert_eq!(drops.load(SeqCst), 0);
    j.abort();
    j.abort();
    assert_eq!(s.len(), 1, "an idle task is queued once to be cancelled");
    s.run_all();
    assert_eq!(drops.load(SeqCst), 1);
    match poll_join(&mut j, Waker::noop()) {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
        _ => panic!("expected a cancelled JoinError"),
    }
}

#[test]
fn output_is_dropped_once_whether_the_join_handle_goes_first_or_last() {
    for join_first in [true, false] {
        let s = TestSched::default();
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let j = spawn(&s, async move { DropCount(d) });
        if join_first {
            drop(j);
            s.run_all();
        } else {
            s.run_all();
            assert_eq!(drops.load(SeqCst), 0, "the output waits for its JoinHandle");
            drop(j);
        }
        assert_eq!(drops.load(SeqCst), 1);
    }
}

#[test]
fn panic_in_poll_becomes_a_join_error_with_the_payload() {
    let s = TestSched::default();
    let mut j = spawn(&s, async {
        if true {
            panic!("task panic");
        }
    });
    s.run_all();
    match poll_join(&mut j, Waker::noop()) {
        Poll::Ready(Err(e)) => {
            let p = e.into_panic();
            assert_eq!(p.downcast_ref::<&str>(), Some(&"task panic"));
        }
        _ => panic!("expected a panic JoinError"),
    }
}

#[test]
fn a_waker_that_outlives_the_task_is_harmless() {
    let s = TestSched::default();
    let slot = Arc::new(Mutex::new(None));
    let mut j = spawn(
        &s,
        Once {
            slot: slot.clone(),
            v: Some(3u8),
            polled: false,
        },
    );
    s.run_all();
    let w = slot.lock().unwrap().take().unwrap();
    let w2 = w.clone();
    w.wake();
    s.run_all();
    assert!(matches!(
        poll_join(&mut j, Waker::noop()),
        Poll::Ready(Ok(3))
    ));
    drop(j);
    // The task is complete and its JoinHandle gone; this waker holds the
    // last reference. Waking does nothing, dropping frees the task.
    w2.wake_by_ref();
    assert_eq!(s.len(), 0);
    drop(w2);
}

#[test]
fn shutdown_cancels_an_idle_task_and_a_queued_one() {
    let s = TestSched::default();
    let drops = Arc::new(AtomicUsize::new(0));
    // One parked, one never polled.
    let d1 = DropCount(drops.clone());
    let (n1, r1, j1) = new_task(
        async move {
            let _d = d1;
            std::future::pending::<()>().await
        },
        s.clone(),
        None,
        Location::caller(),
    );
    assert!(n1.run().is_none());
    let d2 = DropCount(drops.clone());
    let (n2, r2, j2) = new_task(
        async move {
            let _d = d2;
        },
        s.clone(),
        None,
        Location::caller(),
    );
    // SAFETY: each RawTask carries the list reference, given up here.
    unsafe {
        r1.shutdown();
        r2.shutdown();
    }
    assert_eq!(drops.load(SeqCst), 2);
    // The queued reference of the never-polled task finds it complete.
    assert!(n2.run().is_none());
    let mut j1 = j1;
    let mut j2 = j2;
    for j in [&mut j1, &mut j2] {
        match poll_join(j, Waker::noop()) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            _ => panic!("expected cancelled"),
        }
    }
}

#[test]
fn yield_request_is_reported_to_the_poller() {
    let s = TestSched::default();
    let (n, raw, j) = new_task(crate::yield_now(), s.clone(), None, Location::caller());
    // SAFETY: not linked: the list reference is ours.
    unsafe { raw.drop_ref() };
    let (again, yielded) = n.run().expect("woken during its poll");
    assert!(yielded);
    assert!(again.run().is_none());
    let mut j = pin!(j);
    assert!(matches!(
        j.as_mut().poll(&mut Context::from_waker(Waker::noop())),
        Poll::Ready(Ok(()))
    ));
}
