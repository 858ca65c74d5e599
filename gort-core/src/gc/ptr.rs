//! `Gc<T>`: a handle to an object in the GC heap, and the object layout
//! (`GcBox`: header + value). Go's heap objects carry their mark in the
//! span's bitmap; here it lives in the object header with the root count.

use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};

use super::heap::heap;
use super::trace::{RootOp, Rooting, Trace, Tracer};

/// Every object's header.
pub(crate) struct Header {
    /// How many rooted `Gc` handles point here (handles outside the GC
    /// heap). Incremented lock-free by cloning a rooted handle (the count
    /// is already ≥ 1, so the collector can never see it pass through 0);
    /// a 0 → 1 transition only happens under the heap lock (`Gc::new`,
    /// cloning an unrooted handle, rooting a `GcCell`'s contents).
    /// Decremented lock-free with `Release` when a rooted handle drops;
    /// the collector reads it with `Acquire`, so every access made through
    /// that handle happens before the object can be freed.
    pub(crate) roots: AtomicUsize,
    /// The cycle (`Tracer::epoch`, never 0) that last marked the object; 0
    /// for an object never marked. Written only by the collector under
    /// the heap lock. An epoch rather than a bit: nothing to clear, and a
    /// cycle that stops half-way leaves no stale marks behind.
    mark: AtomicU32,
}

impl Header {
    #[inline]
    pub(super) fn mark_is(&self, epoch: u32) -> bool {
        self.mark.load(Ordering::Relaxed) == epoch
    }

    #[inline]
    pub(super) fn set_mark(&self, epoch: u32) {
        self.mark.store(epoch, Ordering::Relaxed)
    }
}

/// One heap object. `repr(C)`: the header is at offset 0 whatever `T` is.
#[repr(C)]
pub(crate) struct GcBox<T: ?Sized> {
    pub(crate) header: Header,
    pub(crate) value: T,
}

/// A heap object with its type erased: what the heap's object list and
/// the mark stack hold.
pub(crate) type Erased = GcBox<dyn Trace + Send + Sync>;

/// The handle's rooting state (`Gc::state`): outside the GC heap, counted
/// in its object's `roots`. Set by `Gc::new`, `clone`, a finalizer's
/// handle, and `Rooting::Root` on an unrooted handle.
const ROOTED: u8 = 0;
/// Inside a value in the GC heap: not counted in `roots`. Set by
/// `Rooting::Unroot` on a rooted handle.
const UNROOTED: u8 = 1;
/// Killed: the handle was inside a value the collector found unreachable,
/// so its object may be freed in the same cycle. Set by `Rooting::Kill`
/// before any swept value is dropped, and never cleared: the handle keeps
/// it wherever it moves (a static, a new `Gc`, a live `GcCell`). Nothing
/// reads through a dead handle's pointer (`Gc::live_ptr`): tracing,
/// rooting and dropping it do nothing, `ptr_eq` is false, `Deref`,
/// `clone` and `set_finalizer` panic (`dead_handle`).
const DEAD: u8 = 2;

/// A shared handle to a value in the process-wide GC heap.
///
/// Cloning a handle is a reference-count-like increment; the value is
/// freed by the collector once no handle outside the heap reaches it,
/// through any number of objects — cycles included. See the
/// [module docs](super) for the rooting rule.
///
/// ```
/// use gort_core::gc::{Gc, GcCell};
///
/// let a = Gc::new(GcCell::new(vec![1, 2]));
/// let b = a.clone();
/// b.borrow_mut().push(3);
/// assert_eq!(*a.borrow(), [1, 2, 3]);
/// assert!(Gc::ptr_eq(&a, &b));
/// ```
///
/// The value must be `Send + Sync + 'static`: any thread may read it, and
/// the thread that runs the cycle drops it. So a `Gc` cannot hold an `Rc`
/// or a `Cell` (use `GcCell`):
///
/// ```compile_fail
/// let g = gort_core::gc::Gc::new(std::rc::Rc::new(1));
/// ```
///
/// ```compile_fail
/// let g = gort_core::gc::Gc::new(std::cell::Cell::new(1));
/// ```
pub struct Gc<T> {
    ptr: NonNull<GcBox<T>>,
    /// `ROOTED`, `UNROOTED` or `DEAD`. Changed only through
    /// `Trace::rooting`, which the heap calls only while it has the value
    /// holding this handle to itself; `DEAD` is final. Read by every
    /// method before it touches `ptr`.
    state: AtomicU8,
}

// SAFETY: a `Gc<T>` gives out `&T` on any thread and its value may be
// dropped by whichever thread collects it, so it is `Send`/`Sync` exactly
// when `T` is both; the header is atomics only.
unsafe impl<T: Send + Sync> Send for Gc<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Gc<T> {}

impl<T: Trace + Send + Sync + 'static> Gc<T> {
    /// Moves `value` into the GC heap. The `Gc`s inside `value` stop being
    /// roots: from now on they keep their objects alive only while this
    /// one is reachable.
    ///
    /// This may run a collection once the object is linked (the heap
    /// reached its goal, see [`set_gc_percent`](super::set_gc_percent)).
    ///
    /// # Panics
    /// If `GORT_GOGC`, `GORT_MEMLIMIT` or `GORT_DEBUG` is invalid (the
    /// message names the variable and its value), or with the first panic
    /// of a `Drop` that collection runs (the new object is then released
    /// with the handle, as any unwinding would).
    pub fn new(value: T) -> Gc<T> {
        let (ptr, cycle_due) = heap().allocate(value);
        let handle = Gc {
            ptr,
            state: AtomicU8::new(ROOTED),
        };
        if cycle_due {
            heap().collect_if_due();
        }
        handle
    }

    /// Registers `f` to run once, on the finalizer thread, after this
    /// object becomes unreachable (Go's `runtime.SetFinalizer`). A second
    /// call replaces the first finalizer.
    ///
    /// Resurrection follows Go: the cycle that finds the object
    /// unreachable does not free it (nor anything it reaches); `f` gets a
    /// rooted handle to it. If `f` stores that handle somewhere reachable,
    /// the object lives on (without a finalizer); otherwise a later cycle
    /// frees it. Objects reachable from one another are all finalized in
    /// the same cycle (Go orders them; gort does not: see the module docs).
    ///
    /// ```
    /// use gort_core::gc::{self, Gc};
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let ran = Arc::new(AtomicUsize::new(0));
    /// let obj = Gc::new(7u32);
    /// let r = ran.clone();
    /// Gc::set_finalizer(&obj, move |o: Gc<u32>| {
    ///     assert_eq!(*o, 7);
    ///     r.fetch_add(1, Ordering::SeqCst);
    /// });
    /// drop(obj);
    /// gc::collect();
    /// gc::wait_for_finalizers();
    /// assert_eq!(ran.load(Ordering::SeqCst), 1);
    /// ```
    pub fn set_finalizer<F>(this: &Gc<T>, f: F)
    where
        F: FnOnce(Gc<T>) + Send + 'static,
    {
        this.check_live();
        let ptr = SendPtr(this.ptr);
        let run = Box::new(move || {
            let ptr = ptr;
            // The collector counted this handle in `roots` when it queued
            // the finalizer.
            f(Gc {
                ptr: ptr.0,
                state: AtomicU8::new(ROOTED),
            })
        });
        heap().set_finalizer(this.erased(), run);
    }
}

/// A pointer the finalizer thread may receive.
struct SendPtr<T>(NonNull<GcBox<T>>);
// SAFETY: only sent for `T: Send + Sync` (`set_finalizer`'s bound), along
// with a root count that keeps the object alive.
unsafe impl<T: Send + Sync> Send for SendPtr<T> {}

impl<T> Gc<T> {
    /// Whether two handles point to the same object (Go's `==` on
    /// pointers). A dead handle (see the [module docs](super)) points to
    /// no object: it is equal to none, itself included, even if a new
    /// object now sits at its old address.
    pub fn ptr_eq(a: &Gc<T>, b: &Gc<T>) -> bool {
        match (a.live_ptr(), b.live_ptr()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    /// The object's pointer, or `None` for a dead handle, whose object may
    /// be freed. Every method that dereferences `ptr` gets it here (or,
    /// for `drop` and `rooting`, checks for `ROOTED`/`UNROOTED` first).
    ///
    /// A live handle's object is live: a rooted handle counts in `roots`;
    /// an unrooted one sits in a value reachable from one (the caller
    /// borrowed it from there, or the collector is tracing that value).
    #[inline]
    fn live_ptr(&self) -> Option<NonNull<GcBox<T>>> {
        (self.state.load(Ordering::Relaxed) != DEAD).then_some(self.ptr)
    }

    /// The object, which must be live.
    ///
    /// # Panics
    /// If the handle is dead.
    fn object(&self) -> &GcBox<T> {
        match self.live_ptr() {
            // SAFETY: a live handle's object is live (`live_ptr`) for as
            // long as the handle is borrowed.
            Some(p) => unsafe { &*p.as_ptr() },
            None => dead_handle(),
        }
    }

    #[inline]
    fn check_live(&self) {
        if self.live_ptr().is_none() {
            dead_handle();
        }
    }
}

impl<T: Trace + Send + Sync + 'static> Gc<T> {
    fn erased(&self) -> NonNull<Erased> {
        self.ptr
    }
}

#[cold]
#[inline(never)]
fn dead_handle() -> ! {
    panic!(
        "gort::gc: use of a dead Gc: it was inside a value the collector \
         found unreachable, and its object may be freed (a Drop of a GC'd \
         value must not use its Gc fields; use Gc::set_finalizer for code \
         that needs the object graph)"
    )
}

impl<T> Deref for Gc<T> {
    type Target = T;

    /// # Panics
    /// If the handle is dead (see the [module docs](super)).
    fn deref(&self) -> &T {
        &self.object().value
    }
}

impl<T> Clone for Gc<T> {
    /// A new rooted handle. Cloning a rooted handle is one atomic
    /// increment; cloning a handle stored inside the heap (reached through
    /// a `Deref`) takes the heap lock for reading, since it may make an
    /// object a root again while the collector counts roots.
    ///
    /// # Panics
    /// If the handle is dead (see the [module docs](super)).
    fn clone(&self) -> Gc<T> {
        let h = &self.object().header;
        if self.state.load(Ordering::Relaxed) == ROOTED {
            h.roots.fetch_add(1, Ordering::Relaxed);
        } else {
            let _world = heap().world_read();
            h.roots.fetch_add(1, Ordering::Relaxed);
        }
        Gc {
            ptr: self.ptr,
            state: AtomicU8::new(ROOTED),
        }
    }
}

impl<T> Drop for Gc<T> {
    /// Releases the root of a rooted handle; an unrooted or dead handle
    /// owns nothing.
    fn drop(&mut self) {
        if *self.state.get_mut() == ROOTED {
            // SAFETY: a rooted handle keeps its object alive until this
            // decrement.
            unsafe { &(*self.ptr.as_ptr()).header }
                .roots
                .fetch_sub(1, Ordering::Release);
        }
    }
}

// SAFETY: `trace` marks the one object this handle points to; `rooting`
// changes this handle's own state. Both visit exactly this handle; both
// ignore a dead one, whose object may be freed.
unsafe impl<T: Trace> Trace for Gc<T> {
    fn trace(&self, tracer: &mut Tracer) {
        if let Some(obj) = self.live_ptr() {
            tracer.mark(obj);
        }
    }

    fn rooting(&self, r: Rooting) {
        let state = self.state.load(Ordering::Relaxed);
        match r.0 {
            _ if state == DEAD => {}
            RootOp::Root if state == UNROOTED => {
                // SAFETY: the handle's container is reachable (the heap is
                // rooting a borrowed GcCell's contents), so the object is.
                unsafe { &(*self.ptr.as_ptr()).header }
                    .roots
                    .fetch_add(1, Ordering::Relaxed);
                self.state.store(ROOTED, Ordering::Relaxed);
            }
            RootOp::Unroot if state == ROOTED => {
                // SAFETY: a rooted handle's object is alive.
                unsafe { &(*self.ptr.as_ptr()).header }
                    .roots
                    .fetch_sub(1, Ordering::Release);
                self.state.store(UNROOTED, Ordering::Relaxed);
            }
            RootOp::Kill => {
                // A rooted handle inside an unreachable value: in a
                // `GcCell` whose `borrow_mut` guard was leaked
                // (`mem::forget`), so its contents stayed roots.
                if state == ROOTED {
                    // SAFETY: a rooted handle's object is alive.
                    unsafe { &(*self.ptr.as_ptr()).header }
                        .roots
                        .fetch_sub(1, Ordering::Release);
                }
                self.state.store(DEAD, Ordering::Relaxed);
            }
            RootOp::Root | RootOp::Unroot => {}
        }
    }
}

/// The value's `Debug`; `Gc(<dead>)` for a dead handle (formatting never
/// panics: it may run inside a panic message).
impl<T: fmt::Debug> fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.live_ptr() {
            Some(_) => fmt::Debug::fmt(&**self, f),
            None => f.write_str("Gc(<dead>)"),
        }
    }
}

/// The value's `Display`; `<dead Gc>` for a dead handle (as `Debug`).
impl<T: fmt::Display> fmt::Display for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.live_ptr() {
            Some(_) => fmt::Display::fmt(&**self, f),
            None => f.write_str("<dead Gc>"),
        }
    }
}

/// A fresh object's header: one root (the handle `Gc::new` returns), never
/// marked.
pub(crate) fn new_header() -> Header {
    Header {
        roots: AtomicUsize::new(1),
        mark: AtomicU32::new(0),
    }
}
