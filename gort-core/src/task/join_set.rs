//! `JoinSet`: a set of tasks whose outputs come back in completion order
//! (tokio's `JoinSet`; Go would use a WaitGroup and a channel).
//!
//! Each task spawned into the set carries a guard that, when the task's
//! future is dropped (it completed, panicked or was cancelled), pushes the
//! task's id onto the set's ready list and wakes whoever waits in
//! `join_next`. `join_next` only polls the handles of tasks on that list,
//! so waiting on a set of n tasks costs O(1) per completion, not O(n).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::{AbortHandle, JoinError, JoinHandle};

#[derive(Default)]
struct Ready {
    ids: VecDeque<u64>,
    waker: Option<Waker>,
}

/// Tells the set a task's future is gone (finished or dropped).
struct Notify {
    ready: Arc<Mutex<Ready>>,
    id: u64,
}

impl Drop for Notify {
    fn drop(&mut self) {
        let waker = {
            let mut r = self.ready.lock().unwrap_or_else(|e| e.into_inner());
            r.ids.push_back(self.id);
            r.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// A collection of spawned tasks; outputs are taken as tasks finish.
/// Dropping the set aborts every task still in it.
///
/// ```
/// let rt = gort_core::runtime::Builder::new().procs(2).build().unwrap();
/// let sum = rt.block_on(async {
///     let mut set = gort_core::task::JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i });
///     }
///     let mut sum = 0;
///     while let Some(r) = set.join_next().await {
///         sum += r.unwrap();
///     }
///     sum
/// });
/// assert_eq!(sum, 45);
/// ```
pub struct JoinSet<T> {
    handles: HashMap<u64, JoinHandle<T>>,
    /// Ids taken from the ready list whose handle was not complete yet
    /// (the future is dropped just before the task publishes its output).
    pending: Vec<u64>,
    ready: Arc<Mutex<Ready>>,
    next_id: u64,
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            handles: HashMap::new(),
            pending: Vec::new(),
            ready: Arc::default(),
            next_id: 0,
        }
    }

    /// Tasks in the set (finished ones not yet joined included).
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Aborts every task in the set; they still come back from `join_next`
    /// (as cancelled, unless they finished first).
    pub fn abort_all(&mut self) {
        for h in self.handles.values() {
            h.abort();
        }
    }

    /// Removes every task from the set without aborting it.
    pub fn detach_all(&mut self) {
        self.handles.clear();
        self.pending.clear();
        self.ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ids
            .clear();
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns `future` on the current runtime into the set.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let (id, notify) = self.next_notify();
        let h = crate::spawn(async move {
            let _notify = notify;
            future.await
        });
        self.insert(id, h)
    }

    /// Spawns `future` on the runtime of `handle` into the set.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &crate::runtime::Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let _enter = handle.enter();
        self.spawn(future)
    }
}

impl<T: 'static> JoinSet<T> {
    /// Spawns a `!Send` `future` into the set with
    /// [`spawn_local`](super::spawn_local) (the current `LocalSet`, or the
    /// `block_on` thread's own set).
    ///
    /// ```
    /// let rt = gort_core::runtime::Builder::new_current_thread().build().unwrap();
    /// let local = gort_core::task::LocalSet::new();
    /// let n = local.block_on(&rt, async {
    ///     let mut set = gort_core::task::JoinSet::new();
    ///     for i in 0..3 {
    ///         let v = std::rc::Rc::new(i); // !Send
    ///         set.spawn_local(async move { *v });
    ///     }
    ///     set.join_all().await.len()
    /// });
    /// assert_eq!(n, 3);
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        let (id, notify) = self.next_notify();
        let h = super::spawn_local(async move {
            let _notify = notify;
            future.await
        });
        self.insert(id, h)
    }

    /// Spawns a `!Send` `future` into the set, on `local`.
    #[track_caller]
    pub fn spawn_local_on<F>(&mut self, future: F, local: &super::LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        let (id, notify) = self.next_notify();
        let h = local.spawn_local(async move {
            let _notify = notify;
            future.await
        });
        self.insert(id, h)
    }

    /// A new task id and the guard that reports it finished.
    fn next_notify(&mut self) -> (u64, Notify) {
        let id = self.next_id;
        self.next_id += 1;
        let notify = Notify {
            ready: self.ready.clone(),
            id,
        };
        (id, notify)
    }

    fn insert(&mut self, id: u64, h: JoinHandle<T>) -> AbortHandle {
        let abort = h.abort_handle();
        self.handles.insert(id, h);
        abort
    }

    /// Waits for the next task to finish and returns its result; `None`
    /// when the set is empty.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Takes the result of a task that has already finished, if any.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        match self.poll_join_next(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(r) => r,
            Poll::Pending => None,
        }
    }

    /// Polls for the next finished task.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.handles.is_empty() {
            return Poll::Ready(None);
        }
        {
            let mut r = self.ready.lock().unwrap_or_else(|e| e.into_inner());
            self.pending.extend(r.ids.drain(..));
            r.waker = Some(cx.waker().clone());
        }
        let mut i = 0;
        while i < self.pending.len() {
            let id = self.pending[i];
            let Some(h) = self.handles.get_mut(&id) else {
                self.pending.swap_remove(i);
                continue;
            };
            match Pin::new(h).poll(cx) {
                Poll::Ready(r) => {
                    self.pending.swap_remove(i);
                    self.handles.remove(&id);
                    return Poll::Ready(Some(r));
                }
                Poll::Pending => i += 1,
            }
        }
        Poll::Pending
    }

    /// Waits for every task and returns their outputs in completion order.
    ///
    /// # Panics
    /// Resumes a task's panic; a cancelled task panics with its error.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(r) = self.join_next().await {
            match r {
                Ok(v) => out.push(v),
                Err(e) => e.resume_panic(),
            }
        }
        out
    }

    /// Aborts every task and waits until all have stopped.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}
