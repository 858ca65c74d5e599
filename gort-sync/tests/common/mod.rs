//! Test-only helpers: a thread-parking `block_on`, a counting waker, a
//! drop-counting value, and a minimal multi-thread executor.
//!
//! The executor is a stand-in until gort-core's scheduler lands: a pool of
//! threads sharing one `Mutex<VecDeque<Arc<Task>>>`. Nothing here is
//! clever on purpose; replace it with the real runtime, don't grow it.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

/// Polls `fut` on this thread until it completes, parking in between.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// A waker that counts how often it was woken.
#[derive(Default)]
pub struct CountingWaker(AtomicUsize);

impl CountingWaker {
    pub fn new() -> (Arc<Self>, Waker) {
        let c = Arc::new(CountingWaker::default());
        let w = Waker::from(c.clone());
        (c, w)
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls a pinned future once with `waker`.
pub fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// A value that counts its drops in a shared counter.
#[derive(Debug)]
pub struct Counted {
    pub id: u64,
    drops: Arc<AtomicUsize>,
}

impl Counted {
    pub fn new(id: u64, drops: &Arc<AtomicUsize>) -> Self {
        Counted {
            id,
            drops: drops.clone(),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Task {
    future: Mutex<Option<BoxFuture>>,
    queued: AtomicBool,
    pool: Arc<Shared>,
}

struct Shared {
    queue: Mutex<VecDeque<Arc<Task>>>,
    work: Condvar,
    /// Spawned tasks that have not completed.
    live: AtomicUsize,
    all_done: Condvar,
    shutdown: AtomicBool,
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.pool.queue.lock().unwrap().push_back(self.clone());
            self.pool.work.notify_one();
        }
    }
}

/// A fixed pool of worker threads running spawned futures.
pub struct Executor {
    shared: Arc<Shared>,
    workers: Vec<thread::JoinHandle<()>>,
}

impl Executor {
    pub fn new(threads: usize) -> Self {
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            work: Condvar::new(),
            live: AtomicUsize::new(0),
            all_done: Condvar::new(),
            shutdown: AtomicBool::new(false),
        });
        let workers = (0..threads)
            .map(|_| {
                let shared = shared.clone();
                thread::spawn(move || worker(&shared))
            })
            .collect();
        Executor { shared, workers }
    }

    pub fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.shared.live.fetch_add(1, Ordering::SeqCst);
        let task = Arc::new(Task {
            future: Mutex::new(Some(Box::pin(fut))),
            queued: AtomicBool::new(false),
            pool: self.shared.clone(),
        });
        task.wake();
    }

    /// Waits until every spawned task has completed.
    pub fn wait_idle(&self) {
        let mut q = self.shared.queue.lock().unwrap();
        while self.shared.live.load(Ordering::SeqCst) != 0 {
            q = self.shared.all_done.wait(q).unwrap();
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.work.notify_all();
        for w in self.workers.drain(..) {
            w.join().unwrap();
        }
    }
}

fn worker(shared: &Arc<Shared>) {
    loop {
        let task = {
            let mut q = shared.queue.lock().unwrap();
            loop {
                if let Some(t) = q.pop_front() {
                    break t;
                }
                if shared.shutdown.load(Ordering::SeqCst) {
                    return;
                }
                q = shared.work.wait(q).unwrap();
            }
        };
        task.queued.store(false, Ordering::Release);
        let waker = Waker::from(task.clone());
        let mut slot = task.future.lock().unwrap();
        let Some(fut) = slot.as_mut() else { continue };
        if fut
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready()
        {
            *slot = None;
            drop(slot);
            if shared.live.fetch_sub(1, Ordering::SeqCst) == 1 {
                let _q = shared.queue.lock().unwrap();
                shared.all_done.notify_all();
            }
        }
    }
}
