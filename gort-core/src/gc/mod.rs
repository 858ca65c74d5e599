//! A tracing mark-sweep garbage collector for `Gc<T>` — Go's heap and its
//! knobs (runtime/mgc.go, mgcpacer.go, mfinal.go) for the Rust values that
//! are hard to own: graphs with cycles, caches shared across tasks.
//!
//! ```
//! use gort_core::gc::{self, Gc, GcCell, Rooting, Trace, Tracer};
//!
//! struct Node {
//!     next: GcCell<Option<Gc<Node>>>,
//! }
//! // With the `gort` facade: `#[derive(Trace)]` writes this.
//! unsafe impl Trace for Node {
//!     fn trace(&self, t: &mut Tracer) { self.next.trace(t) }
//!     fn rooting(&self, r: Rooting) { self.next.rooting(r) }
//! }
//!
//! let a = Gc::new(Node { next: GcCell::new(None) });
//! let b = Gc::new(Node { next: GcCell::new(Some(a.clone())) });
//! *a.next.borrow_mut() = Some(b.clone()); // a cycle
//! let freed = gc::read_mem_stats().frees;
//! drop((a, b));
//! gc::collect();
//! assert!(gc::read_mem_stats().frees >= freed + 2);
//! ```
//!
//! # The heap
//!
//! One heap per process, as in Go: every `Gc::new` on any thread, inside a
//! runtime or not, allocates there. An object is a `GcBox`: a header (root
//! count, mark) and the value. The heap keeps a list of all objects.
//!
//! # Rooting: how the collector finds roots
//!
//! rust-gc's rule. A `Gc<T>` handle held *outside* the heap — in a local,
//! a task's future, a `static`, an `Arc` — is a root: it counts in its
//! object's header (`roots`). When a value moves into the heap (`Gc::new`)
//! the handles inside it are *unrooted* (`Trace::rooting`): they no longer
//! count, and keep their objects alive only through the object that holds
//! them. A cycle marks from every object with `roots > 0` through
//! `Trace::trace` and frees the unmarked — unreachable cycles included.
//!
//! Why this rule: it needs nothing from the code that holds handles — no
//! safepoints, no `'gc` lifetime, no arena closure — so `Gc`s live in async
//! tasks, across `.await`s, and move between threads and Ps freely. Only the
//! heap lock (`heap::Heap::world`) is shared:
//!
//! - a cycle holds it for writing (the stop-the-world);
//! - `Gc::new` takes it for writing, links the object (one root: the
//!   returned handle) and only then unroots the value's handles;
//! - every operation that can take an object's root count from 0 to 1 —
//!   cloning a handle read from inside the heap, rooting a `GcCell`'s
//!   contents for `borrow_mut` — takes it for reading;
//! - everything else is lock-free: `Deref`, cloning a rooted handle (the
//!   count is already ≥ 1: the collector cannot see it pass through 0),
//!   dropping one (a `Release` decrement the collector `Acquire`s), shared
//!   `GcCell` borrows.
//!
//! So a cycle sees every root: a root that appears during the cycle must go
//! through the lock, and one that disappears was the last handle, whose
//! owner can no longer reach the object.
//!
//! ## Compared with rust-gc, gc-arena and dumpster
//!
//! - **rust-gc** (`gc` crate): the same root counts and the same `GcCell`
//!   trick (a mutable borrow roots the contents), but single-threaded: a
//!   thread-local heap, `Gc: !Send`. gort adds the heap lock so handles are
//!   `Send + Sync`, and replaces rust-gc's `Finalize` trait with Go's
//!   `SetFinalizer` plus dead handles (below).
//! - **gc-arena**: no root counts; roots are whatever the arena's root
//!   type holds, and collection may run only between `mutate` closures,
//!   with `Gc<'gc, T>` branded so handles cannot escape them. Zero-cost
//!   handles and sound by the type system, but a handle cannot be held
//!   across an `.await` or sent to another task — not the API a Go-style
//!   runtime needs.
//! - **dumpster**: reference counting plus cycle detection on drop (its
//!   `sync` flavour is `Send + Sync`); no tracing from roots, so a
//!   collection's cost follows the number of dropped handles, not live
//!   objects. It has no GOGC-style pacing or finalizers. gort traces from
//!   roots, Go's model, so GOGC, the memory limit and MemStats mean what
//!   they mean in Go.
//!
//! # Soundness rules: `Drop` and dead handles
//!
//! What a user must know; nothing here can cause undefined behaviour from
//! safe code, but some of it panics.
//!
//! - **`Drop` is allowed** on a GC'd type (rust-gc forbids it and has a
//!   `Finalize` trait instead; gort keeps `Drop` so `#[derive(Trace)]`
//!   types need nothing special).
//! - **In a `Drop`, the value's `Gc` fields are dead.** A cycle frees every
//!   unreachable object at once, in no particular order, so a field may
//!   point to an object already freed in the same cycle. Before any value
//!   is dropped, every handle inside every unreachable value is *killed*:
//!   the handle itself records that it is dead (its `state`, set once and
//!   never cleared), and nothing ever reads through a dead handle's
//!   pointer again.
//! - **Dereferencing or cloning a dead handle panics** with "gort::gc: use
//!   of a dead Gc: ...", as do [`Gc::set_finalizer`] and anything that
//!   dereferences (`GcCell` borrows through it). `Gc::ptr_eq` is `false`
//!   for a dead handle (it points to no object); `Debug` prints
//!   `Gc(<dead>)`, `Display` `<dead Gc>`.
//! - **Moving a dead handle out is harmless.** A `Drop` may take its fields
//!   (`self.next.borrow_mut().take()`, `mem::take(&mut self.next)`) and
//!   store them anywhere — a `static Mutex<Vec<Gc<_>>>`, a new `Gc::new`,
//!   a live object's `GcCell`. The handle stays dead there: the collector
//!   does not trace it, moving it into or out of the heap roots and
//!   unroots nothing, and dropping it does nothing. It does not keep its
//!   object alive, even if that object is still reachable another way.
//!   A `GcCell` moved out whole (`mem::take(&mut self.cell)`) is outside
//!   the heap from then on: the handles later put in it are roots.
//! - Use [`Gc::set_finalizer`] for code that needs the object graph when an
//!   object dies: a finalizer gets a live, rooted handle (Go's rule, below).
//! - A `Drop` may allocate, call [`collect`] (both take the heap lock anew:
//!   values are dropped after the cycle released it) or panic. Values are
//!   dropped by the thread that ran the cycle; hence `Gc::new` requires
//!   `T: Send + Sync + 'static`. Every dead value is dropped and freed even
//!   if some `Drop`s panic; the first panic then unwinds out of that
//!   thread's `collect` or `Gc::new` (the others are only reported by the
//!   panic hook).
//! - `#[gc(skip)]` and the empty impls for `Arc`/`Rc` are sound: the handles
//!   they hide are never unrooted, so they stay roots (a cycle through them
//!   is leaked, not freed early) and stay live in a `Drop`. Implementing
//!   `Trace` by hand is `unsafe`.
//!
//! ```
//! use gort_core::gc::{self, Gc, GcCell, Rooting, Trace, Tracer};
//! use std::sync::Mutex;
//!
//! struct Node {
//!     next: GcCell<Option<Gc<Node>>>,
//! }
//! // SAFETY: both methods visit `next`, the only field holding a `Gc`.
//! unsafe impl Trace for Node {
//!     fn trace(&self, t: &mut Tracer) { self.next.trace(t) }
//!     fn rooting(&self, r: Rooting) { self.next.rooting(r) }
//! }
//!
//! static STASH: Mutex<Vec<Gc<Node>>> = Mutex::new(Vec::new());
//! impl Drop for Node {
//!     fn drop(&mut self) {
//!         // Allowed: moving the (dead) handle out and keeping it.
//!         if let Some(next) = self.next.borrow_mut().take() {
//!             STASH.lock().unwrap().push(next);
//!         }
//!     }
//! }
//!
//! let a = Gc::new(Node { next: GcCell::new(None) });
//! let b = Gc::new(Node { next: GcCell::new(Some(a.clone())) });
//! *a.next.borrow_mut() = Some(b.clone()); // a cycle
//! drop((a, b));
//! gc::collect(); // frees both; each Drop stashes the other
//! gc::collect(); // the stashed handles are never traced
//!
//! let stashed = std::mem::take(&mut *STASH.lock().unwrap());
//! assert_eq!(stashed.len(), 2);
//! assert!(!Gc::ptr_eq(&stashed[0], &stashed[0]), "dead: no object");
//! let deref = std::panic::AssertUnwindSafe(|| stashed[0].next.borrow().is_some());
//! let err = std::panic::catch_unwind(deref).unwrap_err();
//! let msg = err.downcast_ref::<&str>().unwrap();
//! assert!(msg.starts_with("gort::gc: use of a dead Gc"));
//! drop(stashed); // dropping dead handles touches nothing
//! ```
//!
//! # When a cycle runs
//!
//! Go's pacer without its concurrency: a cycle starts when an allocation
//! brings the heap to `next_gc` = live × (1 + GOGC/100) after the last
//! cycle (at least 4 MiB × GOGC/100, Go's heap minimum), or to 95% of the
//! soft memory limit (never closer than 1/16 of the live heap above it, so a
//! live heap over the limit does not collect on every allocation).
//! `GORT_GOGC` (default 100, `off`) and `GORT_MEMLIMIT` (`512MiB`, `2GiB`,
//! `1000000`) are read when the heap is created; [`set_gc_percent`] and
//! [`set_memory_limit`] change them later; [`collect`] runs a cycle now.
//! The heap counts `size_of::<GcBox<T>>()` per object — not the buffers a
//! value owns (a `Vec`'s elements), which Go would count.
//!
//! # The pause
//!
//! A cycle stops the world in the sense that matters: while it marks and
//! unlinks, no thread can allocate, root an object again, or mutably borrow
//! a `GcCell` in the heap — those wait for the lock. Threads that only read
//! through rooted handles keep running. The pause (recorded in
//! `MemStats::pause_ns`) is the mark (proportional to live objects) plus
//! the unlinking (proportional to all objects); dropping the dead values
//! happens after it, on the collecting thread. BENCHMARKS.md has measured
//! numbers.
//!
//! # Finalizers
//!
//! [`Gc::set_finalizer`]: Go's rule. A cycle that finds an object with a
//! finalizer unreachable keeps it (and all it reaches) alive, removes the
//! finalizer and queues it, with a rooted handle, for the finalizer thread
//! (`finalizer.rs`). A later cycle frees the object unless the finalizer
//! stored the handle. Each finalizer runs at most once; finalizers of
//! objects still unreachable at exit may never run (as in Go). Departure
//! from Go: Go finalizes objects reachable from another finalizable object
//! one cycle later, in dependency order; gort queues all of them in the same
//! cycle (each still sees a live object graph).
//!
//! # gctrace
//!
//! `GORT_DEBUG=gctrace=1` prints one line per cycle to stderr:
//! `gc 7 @1.204s: 0.210 ms pause, 12->4 MB, 13 MB goal, 20000 objects freed`
//! (cycle number, seconds since the heap was created, pause, heap before
//! and after, next goal, objects freed).

mod cell;
mod finalizer;
mod heap;
mod ptr;
mod trace;

#[cfg(test)]
mod tests;

use std::io;

pub use cell::{GcCell, GcCellRef, GcCellRefMut};
pub use ptr::Gc;
pub use trace::{Rooting, Trace, Tracer};

/// Go's `runtime.GC`: runs a full collection now, on this thread.
///
/// ```
/// let n = gort_core::gc::read_mem_stats().num_gc;
/// gort_core::gc::collect();
/// assert!(gort_core::gc::read_mem_stats().num_gc > n);
/// ```
pub fn collect() {
    heap::heap().collect()
}

/// Go's `debug.SetGCPercent`: `Some(p)` collects when the heap grows by
/// `p`% over the live heap, `None` turns automatic collection off (GOGC=off).
/// Returns the previous setting. May run a cycle if the new goal is already
/// reached.
///
/// ```
/// let old = gort_core::gc::set_gc_percent(Some(200));
/// assert_eq!(gort_core::gc::set_gc_percent(old), Some(200));
/// ```
pub fn set_gc_percent(percent: Option<u32>) -> Option<u32> {
    heap::heap().set_gc_percent(percent)
}

/// Go's `debug.SetMemoryLimit`: the soft limit in bytes (`u64::MAX`: none).
/// Returns the previous limit.
///
/// ```
/// let old = gort_core::gc::set_memory_limit(1 << 30);
/// assert_eq!(gort_core::gc::set_memory_limit(old), 1 << 30);
/// ```
pub fn set_memory_limit(limit: u64) -> u64 {
    heap::heap().set_memory_limit(limit)
}

/// Creates the heap from `GORT_GOGC`, `GORT_MEMLIMIT` and `GORT_DEBUG`
/// (`gctrace`) if it does not exist yet, or reports the invalid variable.
/// The variables are read once: later calls (and `Builder::build`, which
/// calls this) neither re-read them nor undo [`set_gc_percent`].
///
/// ```
/// gort_core::gc::configure_from_env().unwrap();
/// ```
pub fn configure_from_env() -> io::Result<()> {
    heap::configure_from_env()
}

/// Blocks until every finalizer queued so far has run (for tests and
/// orderly shutdown; Go has no equivalent).
pub fn wait_for_finalizers() {
    finalizer::wait()
}

/// Go's `runtime.ReadMemStats`, for the GC heap.
///
/// ```
/// let s = gort_core::gc::read_mem_stats();
/// assert_eq!(s.mallocs - s.frees, s.heap_objects);
/// ```
pub fn read_mem_stats() -> MemStats {
    heap::heap().mem_stats()
}

/// Statistics of the GC heap, with Go's `runtime.MemStats` names.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MemStats {
    /// Bytes of allocated heap objects (live, or dead and not yet swept).
    pub heap_alloc: u64,
    /// Bytes allocated over the process's life (never decreases).
    pub total_alloc: u64,
    /// Objects in the heap.
    pub heap_objects: u64,
    /// Objects allocated over the process's life.
    pub mallocs: u64,
    /// Objects freed over the process's life.
    pub frees: u64,
    /// Completed cycles.
    pub num_gc: u32,
    /// Cycles started by [`collect`].
    pub num_forced_gc: u32,
    /// Sum of all pauses, in nanoseconds.
    pub pause_total_ns: u64,
    /// The last 256 pauses: cycle `n` (1-based) at `[(n + 255) % 256]`.
    pub pause_ns: [u64; 256],
    /// When the last cycle finished, in nanoseconds since the UNIX epoch
    /// (as Go's); 0 before the first.
    pub last_gc: u64,
    /// The heap size at which the next cycle starts (`u64::MAX`: none).
    pub next_gc: u64,
    /// The GOGC setting (`None`: off).
    pub gc_percent: Option<u32>,
    /// The soft memory limit in bytes (`u64::MAX`: none).
    pub memory_limit: u64,
}
