//! The runtime's list of live tasks (Go's `allgs`).
//!
//! Every spawned task is linked into one shard of this list until it
//! completes; the list holds one reference to it. Shutdown closes the list
//! (a spawn after that drops its task at once) and cancels every task still
//! linked, so each remaining future is dropped exactly once. Task dumps and
//! `num_goroutine` read it too.
//!
//! The list is intrusive (the links live in each task's header) and sharded
//! by task id, so that spawns and completions on different Ps rarely meet on
//! one lock. Go keeps `allgs` under one lock because goroutines are never
//! freed; gort frees tasks, so it must unlink them, and that happens on
//! every completion.

use std::ptr::NonNull;

use crate::loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use crate::loom::sync::{Mutex, MutexGuard};

use super::raw::Header;
use super::RawTask;

/// Intrusive links, guarded by the lock of the shard the task is in.
pub(crate) struct Pointers {
    prev: Option<NonNull<Header>>,
    next: Option<NonNull<Header>>,
    linked: bool,
}

impl Pointers {
    pub(super) fn new() -> Pointers {
        Pointers {
            prev: None,
            next: None,
            linked: false,
        }
    }
}

struct Shard {
    head: Option<NonNull<Header>>,
    closed: bool,
    /// Tasks linked in this shard.
    live: usize,
}

/// A shard's lock and its count, on a cache line of their own: the shards
/// are picked by task id, so consecutive spawns and completions from
/// different Ps touch neighbouring shards, and packed shards would bounce
/// one line between them (perf showed bind/remove at 13% of ping_pong).
#[repr(align(128))]
struct PaddedShard {
    lock: Mutex<Shard>,
    /// `Shard::live`, readable without the lock (`len`).
    live: AtomicUsize,
}

// SAFETY: the raw pointers are only followed under the shard's mutex, and
// the tasks they point to are Send.
unsafe impl Send for Shard {}

pub(crate) struct OwnedTasks {
    shards: Box<[PaddedShard]>,
    mask: usize,
}

/// # Safety
/// The caller holds the lock of the shard `ptr` belongs to (or is about to
/// link it there under that lock).
unsafe fn links<'a>(ptr: NonNull<Header>) -> &'a mut Pointers {
    // SAFETY: per the caller, the shard lock serialises every access.
    unsafe { &mut *ptr.as_ref().owned.get() }
}

impl OwnedTasks {
    pub(crate) fn new(shards: usize) -> OwnedTasks {
        let n = shards.max(1).next_power_of_two();
        OwnedTasks {
            shards: (0..n)
                .map(|_| PaddedShard {
                    lock: Mutex::new(Shard {
                        head: None,
                        closed: false,
                        live: 0,
                    }),
                    live: AtomicUsize::new(0),
                })
                .collect(),
            mask: n - 1,
        }
    }

    fn shard(&self, task: RawTask) -> (MutexGuard<'_, Shard>, &AtomicUsize) {
        let s = &self.shards[(task.header().id.0 as usize) & self.mask];
        (s.lock.lock().unwrap_or_else(|e| e.into_inner()), &s.live)
    }

    /// Links a new task. Returns false (task not linked) if the list is
    /// closed because the runtime is shutting down.
    pub(crate) fn bind(&self, task: RawTask) -> bool {
        let (mut shard, live) = self.shard(task);
        if shard.closed {
            return false;
        }
        let ptr = task.as_ptr();
        // SAFETY: we hold the shard lock.
        let l = unsafe { links(ptr) };
        l.prev = None;
        l.next = shard.head;
        l.linked = true;
        if let Some(head) = shard.head {
            // SAFETY: the head is in this shard; we hold its lock.
            unsafe { links(head) }.prev = Some(ptr);
        }
        shard.head = Some(ptr);
        shard.live += 1;
        // Written only under the shard's lock: a store, not an RMW.
        live.store(shard.live, Relaxed);
        true
    }

    /// Unlinks a completed task. Returns whether it was still linked (then
    /// the caller drops the list's reference).
    pub(crate) fn remove(&self, task: RawTask) -> bool {
        let (mut shard, live) = self.shard(task);
        let ptr = task.as_ptr();
        // SAFETY: we hold the lock of the shard the task would be in.
        let l = unsafe { links(ptr) };
        if !l.linked {
            return false;
        }
        let (prev, next) = (l.prev.take(), l.next.take());
        l.linked = false;
        match prev {
            // SAFETY: neighbours are in this shard; we hold its lock.
            Some(p) => unsafe { links(p) }.next = next,
            None => shard.head = next,
        }
        if let Some(n) = next {
            // SAFETY: as above.
            unsafe { links(n) }.prev = prev;
        }
        shard.live -= 1;
        live.store(shard.live, Relaxed);
        true
    }

    /// Closes the list and unlinks every task; the caller receives each
    /// task's list reference.
    pub(crate) fn close_and_drain(&self) -> Vec<RawTask> {
        let mut out = Vec::new();
        for s in self.shards.iter() {
            let mut shard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            shard.closed = true;
            while let Some(ptr) = shard.head {
                // SAFETY: we hold the shard lock.
                let l = unsafe { links(ptr) };
                shard.head = l.next.take();
                l.prev = None;
                l.linked = false;
                if let Some(n) = shard.head {
                    // SAFETY: as above.
                    unsafe { links(n) }.prev = None;
                }
                shard.live -= 1;
                s.live.store(shard.live, Relaxed);
                // SAFETY: the list's reference keeps the task alive; it now
                // belongs to the caller.
                out.push(unsafe { RawTask::from_raw(ptr) });
            }
        }
        out
    }

    /// Number of live (spawned, not yet completed) tasks.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.live.load(Relaxed)).sum()
    }

    /// Calls `f` on every linked task, one shard lock at a time.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Header)) {
        for s in self.shards.iter() {
            let shard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            let mut cur = shard.head;
            while let Some(ptr) = cur {
                // SAFETY: linked tasks are alive (the list holds a reference)
                // and we hold the shard lock for the links.
                let h = unsafe { ptr.as_ref() };
                f(h);
                // SAFETY: shard lock held.
                cur = unsafe { links(ptr) }.next;
            }
        }
    }
}

/// Model-checked races of the list against shutdown (`scripts/loom.sh`):
/// a spawn's `bind` against `close_and_drain`, and a completion's `remove`
/// against it. The spawner does what `Shared::spawn` does: bind, or on a
/// closed list drop the queue reference and shut the task down itself.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::OwnedTasks;
    use crate::loom::sync::Arc;
    use crate::loom::thread;
    use crate::task::raw::loom_tests::{ready, Harness};

    /// Spawns a task of `pending` polls on `h` and binds it to `list`;
    /// returns whether it was bound. A refused task is cancelled at once.
    fn spawn_and_bind(
        h: &Harness,
        list: &OwnedTasks,
        pending: usize,
    ) -> (
        bool,
        crate::task::JoinHandle<crate::task::raw::loom_tests::Output>,
    ) {
        let (raw, join) = h.spawn_linked(pending, None);
        if list.bind(raw) {
            return (true, join);
        }
        // The spawn path never queues a refused task: take its queue
        // reference back and drop it.
        drop(h.pop().expect("spawn_linked queued it"));
        // SAFETY: not linked: the list reference is ours to give up.
        unsafe { raw.shutdown() };
        (false, join)
    }

    fn close(list: &OwnedTasks) {
        for t in list.close_and_drain() {
            // SAFETY: `close_and_drain` hands over each list reference.
            unsafe { t.shutdown() };
        }
    }

    #[test]
    fn task_bound_while_the_list_closes_is_shut_down_by_the_closer_or_refused() {
        loom::model(|| {
            let list = Arc::new(OwnedTasks::new(1));
            let l = list.clone();
            let spawner = thread::spawn(move || {
                let h = Harness::with_list(l.clone());
                let (bound, join) = spawn_and_bind(&h, &l, usize::MAX);
                if bound {
                    // The worker polls it once; it parks (or finds it cancelled).
                    h.run_queue();
                }
                (h, join)
            });
            close(&list);
            let (h, mut join) = spawner.join().unwrap();
            // Never left alive, never cancelled twice.
            assert_eq!(h.count(|c| &c.futures_dropped), 1);
            assert!(ready(&mut join).unwrap_err().is_cancelled());
            assert_eq!(list.len(), 0);
            assert_eq!(h.run_queue(), 0);
            drop(join);
            assert_eq!(h.count(|c| &c.cells_freed), 1);
        });
    }

    #[test]
    fn completion_racing_close_unlinks_the_task_once() {
        loom::model(|| {
            let list = Arc::new(OwnedTasks::new(1));
            let h = Harness::with_list(list.clone());
            let (bound, mut join) = spawn_and_bind(&h, &list, 0);
            assert!(bound);
            let l = list.clone();
            let closer = thread::spawn(move || close(&l));
            // The worker runs it: it completes (leaving the list) or finds
            // it cancelled by the closer.
            assert_eq!(h.run_queue(), 1);
            closer.join().unwrap();
            assert_eq!(h.count(|c| &c.futures_dropped), 1);
            assert_eq!(list.len(), 0);
            match ready(&mut join) {
                Ok(out) => drop(out),
                Err(e) => assert!(e.is_cancelled()),
            }
            drop(join);
            assert!(h.count(|c| &c.outputs_dropped) <= 1);
            assert_eq!(h.count(|c| &c.cells_freed), 1);
        });
    }
}
