//! `GcCell<T>`: interior mutability for values in the GC heap.
//!
//! A reader-writer lock (std's `RwLock`, so a conflicting borrow waits
//! rather than panics: tasks on several Ps share GC'd caches) plus the
//! rooting trick from rust-gc's `GcCell`: while a cell that lives in the
//! heap is borrowed mutably, the handles inside it are roots, so the
//! collector skips its contents (it must not read them while they change)
//! and code may move handles in and out freely. Releasing the borrow
//! unroots them again.
//!
//! Borrowing mutably costs the lock plus a walk over the contents' handles
//! under the heap's read lock (twice: root, then unroot) — the price rust-gc
//! pays as well; a shared borrow is the lock only. Like a `Mutex`, holding
//! a guard across an `.await` blocks other tasks that borrow the same cell.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::heap::heap;
use super::trace::{RootOp, Rooting, Trace, Tracer};

/// A mutable location inside a `Gc`: `borrow` for shared access,
/// `borrow_mut` for exclusive access, blocking while the other kind is
/// held (a reader-writer lock; a panic while borrowed does not poison it).
///
/// ```
/// use gort_core::gc::{Gc, GcCell};
///
/// let list = Gc::new(GcCell::new(Vec::new()));
/// list.borrow_mut().push(Gc::new(1u8));
/// list.borrow_mut().push(Gc::new(2u8));
/// let sum: u8 = list.borrow().iter().map(|g| **g).sum();
/// assert_eq!(sum, 3);
/// ```
pub struct GcCell<T> {
    lock: RwLock<()>,
    /// Whether this cell is inside a value in the GC heap. Changed only by
    /// `Trace::rooting`, which the heap calls with the cell to itself;
    /// cleared when the value is killed (a `Drop` may move the cell out).
    in_heap: AtomicBool,
    /// Whether the handles in `value` are roots: the cell is outside the
    /// heap, or it is borrowed mutably. Changed only under the heap's read
    /// lock (or with the cell to itself); read by the collector under the
    /// heap's write lock, which then skips the contents.
    content_rooted: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: an `RwLock<T>` in all but the lock's payload: `Send` when `T` is.
unsafe impl<T: Send> Send for GcCell<T> {}
// SAFETY: as `RwLock<T>`: shared borrows on many threads need `T: Sync`,
// exclusive ones moving `T`s between threads need `T: Send`.
unsafe impl<T: Send + Sync> Sync for GcCell<T> {}

impl<T> GcCell<T> {
    /// A new cell (outside the heap until moved into a `Gc`).
    pub fn new(value: T) -> GcCell<T> {
        GcCell {
            lock: RwLock::new(()),
            in_heap: AtomicBool::new(false),
            content_rooted: AtomicBool::new(true),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, when the cell is not shared.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: Trace> GcCell<T> {
    /// Shared access; waits while a `borrow_mut` guard exists.
    pub fn borrow(&self) -> GcCellRef<'_, T> {
        let guard = self.lock.read().unwrap_or_else(PoisonError::into_inner);
        GcCellRef {
            // SAFETY: the read lock excludes every `&mut T`.
            value: unsafe { &*self.value.get() },
            _guard: guard,
        }
    }

    /// Exclusive access; waits while any other guard exists. Deadlocks if
    /// this thread already holds a guard of the same cell.
    pub fn borrow_mut(&self) -> GcCellRefMut<'_, T> {
        let guard = self.lock.write().unwrap_or_else(PoisonError::into_inner);
        if self.in_heap.load(Ordering::Relaxed) {
            let _world = heap().world_read();
            // SAFETY: the write lock gives this thread the contents; the
            // collector does not read them concurrently (it holds the
            // heap's write lock, excluded by `_world`).
            unsafe { (*self.value.get()).rooting(Rooting(RootOp::Root)) };
            self.content_rooted.store(true, Ordering::Relaxed);
        }
        GcCellRefMut {
            cell: self,
            _guard: guard,
        }
    }
}

/// A shared borrow of a [`GcCell`].
pub struct GcCellRef<'a, T> {
    value: &'a T,
    _guard: RwLockReadGuard<'a, ()>,
}

impl<T> Deref for GcCellRef<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value
    }
}

/// An exclusive borrow of a [`GcCell`]. The handles inside are roots while
/// it lives.
pub struct GcCellRefMut<'a, T: Trace> {
    cell: &'a GcCell<T>,
    _guard: RwLockWriteGuard<'a, ()>,
}

impl<T: Trace> Deref for GcCellRefMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held: this guard is the only access.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T: Trace> DerefMut for GcCellRefMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; the collector skips rooted contents.
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T: Trace> Drop for GcCellRefMut<'_, T> {
    fn drop(&mut self) {
        // Runs before `_guard` releases the lock.
        if self.cell.in_heap.load(Ordering::Relaxed) {
            let _world = heap().world_read();
            // SAFETY: the write lock is still held; no `&mut T` outlives
            // this guard.
            unsafe { (*self.cell.value.get()).rooting(Rooting(RootOp::Unroot)) };
            self.cell.content_rooted.store(false, Ordering::Relaxed);
        }
    }
}

// SAFETY: both methods visit the contents' handles, except while they are
// roots (`content_rooted`), where `trace` skips them and `rooting` keeps
// them rooted until the cell returns to the heap.
unsafe impl<T: Trace> Trace for GcCell<T> {
    fn trace(&self, tracer: &mut Tracer) {
        if !self.content_rooted.load(Ordering::Relaxed) {
            // SAFETY: unrooted contents are not borrowed mutably (a
            // `borrow_mut` in progress is blocked on the heap lock the
            // collector holds), so reading them is a shared access.
            unsafe { (*self.value.get()).trace(tracer) }
        }
    }

    fn rooting(&self, r: Rooting) {
        // SAFETY (all three): the heap calls `rooting` only with the
        // enclosing value to itself, so no guard of this cell exists.
        let value = unsafe { &*self.value.get() };
        match r.0 {
            RootOp::Root => {
                self.in_heap.store(false, Ordering::Relaxed);
                if !self.content_rooted.swap(true, Ordering::Relaxed) {
                    value.rooting(r);
                }
            }
            RootOp::Unroot => {
                self.in_heap.store(true, Ordering::Relaxed);
                if self.content_rooted.swap(false, Ordering::Relaxed) {
                    value.rooting(r);
                }
            }
            RootOp::Kill => {
                // The enclosing value is about to be dropped, but its Drop
                // may move this cell out (`mem::take`) and keep it: from
                // now on it is outside the heap, so a later `borrow_mut`
                // must leave the handles put in it rooted. Its current
                // contents are all dead, so none needs rooting.
                value.rooting(r);
                self.in_heap.store(false, Ordering::Relaxed);
                self.content_rooted.store(true, Ordering::Relaxed);
            }
        }
    }
}

impl<T: Trace + fmt::Debug> fmt::Debug for GcCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GcCell").field(&*self.borrow()).finish()
    }
}

impl<T: Default> Default for GcCell<T> {
    fn default() -> GcCell<T> {
        GcCell::new(T::default())
    }
}
