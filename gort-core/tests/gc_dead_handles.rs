//! Dead handles: the `Gc`s inside a value the collector found unreachable
//! are killed before any `Drop` runs. A `Drop` may move them out and store
//! them anywhere — a static, a new `Gc`, a live object's `GcCell` — and
//! they stay inert there: tracing, rooting, unrooting and dropping them
//! never touch their (freed) objects; dereferencing or cloning them panics.
//!
//! The heap is process-wide and a cycle run by any thread drops every
//! unreachable value, panicking `Drop`s included; so every test here holds
//! `SERIAL` and automatic cycles are off: only the test's own `collect`
//! frees its objects, and `MemStats` deltas are exact.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use gort_core::gc::{self, Gc, GcCell, Rooting, Trace, Tracer};

/// What every dead-handle panic says.
const DEAD: &str = "gort::gc: use of a dead Gc";

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs one test alone in the heap, with automatic cycles off.
fn serial() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    gc::set_gc_percent(None);
    guard
}

fn frees() -> u64 {
    gc::read_mem_stats().frees
}

fn message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast::<&str>()
            .map_or_else(|_| "<not a string>".into(), |s| s.to_string()),
    }
}

/// The panic message `f` raises; fails the test if it returns.
fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(p) => message(p),
    }
}

/// A list node whose `Drop` moves `next` out of itself, in one of the
/// ways the issue names, and stores it where `how` says.
#[derive(Debug)]
struct Node {
    id: usize,
    next: GcCell<Option<Gc<Node>>>,
    how: Stash,
    drops: &'static [AtomicUsize],
}

#[derive(Clone, Copy, Debug)]
enum Stash {
    /// `self.next.borrow_mut().take()` into `STATIC`.
    BorrowTakeIntoStatic,
    /// `mem::take(&mut self.next).into_inner()` into a new `Gc` in `HOLDERS`.
    IntoInnerIntoNewGc,
}

// SAFETY: both methods visit `next`, the only field holding a `Gc`.
unsafe impl Trace for Node {
    fn trace(&self, t: &mut Tracer) {
        self.next.trace(t)
    }
    fn rooting(&self, r: Rooting) {
        self.next.rooting(r)
    }
}

/// A GC'd box around a stashed handle.
struct Holder {
    inner: GcCell<Option<Gc<Node>>>,
}

// SAFETY: both methods visit `inner`.
unsafe impl Trace for Holder {
    fn trace(&self, t: &mut Tracer) {
        self.inner.trace(t)
    }
    fn rooting(&self, r: Rooting) {
        self.inner.rooting(r)
    }
}

static STATIC: Mutex<Vec<Gc<Node>>> = Mutex::new(Vec::new());
static HOLDERS: Mutex<Vec<Gc<Holder>>> = Mutex::new(Vec::new());

impl Drop for Node {
    fn drop(&mut self) {
        self.drops[self.id].fetch_add(1, Ordering::SeqCst);
        match self.how {
            Stash::BorrowTakeIntoStatic => {
                if let Some(n) = self.next.borrow_mut().take() {
                    STATIC.lock().unwrap().push(n);
                }
            }
            Stash::IntoInnerIntoNewGc => {
                if let Some(n) = std::mem::take(&mut self.next).into_inner() {
                    let h = Gc::new(Holder {
                        inner: GcCell::new(Some(n)),
                    });
                    HOLDERS.lock().unwrap().push(h);
                }
            }
        }
    }
}

/// Two nodes pointing at each other, unreachable once the handles drop.
fn two_node_cycle(how: Stash, drops: &'static [AtomicUsize]) -> (Gc<Node>, Gc<Node>) {
    let node = |id| {
        Gc::new(Node {
            id,
            next: GcCell::new(None),
            how,
            drops,
        })
    };
    let (a, b) = (node(0), node(1));
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    (a, b)
}

fn counts(drops: &[AtomicUsize]) -> Vec<usize> {
    drops.iter().map(|d| d.load(Ordering::SeqCst)).collect()
}

#[test]
fn handles_a_cycles_drops_stash_in_a_static_are_dead_and_never_traced() {
    let _serial = serial();
    static DROPS: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
    let (a, b) = two_node_cycle(Stash::BorrowTakeIntoStatic, &DROPS);
    let f0 = frees();
    drop((a, b));
    gc::collect();
    assert_eq!(counts(&DROPS), [1, 1], "each node dropped once");
    assert_eq!(frees() - f0, 2);
    let stashed: Vec<Gc<Node>> = std::mem::take(&mut *STATIC.lock().unwrap());
    assert_eq!(stashed.len(), 2, "each Drop stashed its next");
    // The escaped handles go back into the heap, inside a live object
    // that the next cycles trace.
    let live = Gc::new(GcCell::new(Vec::new()));
    live.borrow_mut().extend(stashed);
    gc::collect();
    gc::collect();
    assert_eq!(frees() - f0, 2, "nothing else freed");
    assert_eq!(counts(&DROPS), [1, 1], "no double drop");
    let cell = live.borrow();
    assert!(panic_message(|| cell[0].id).starts_with(DEAD));
    assert!(panic_message(|| cell[1].next.borrow().is_some()).starts_with(DEAD));
    assert!(panic_message(|| cell[0].clone()).starts_with(DEAD));
    drop(cell);
    drop(live);
    gc::collect();
    assert_eq!(frees() - f0, 3, "the live holder, and nothing twice");
    assert_eq!(counts(&DROPS), [1, 1]);
}

#[test]
fn handles_a_cycles_drops_stash_in_a_new_gc_are_dead_and_never_traced() {
    let _serial = serial();
    static DROPS: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
    let (a, b) = two_node_cycle(Stash::IntoInnerIntoNewGc, &DROPS);
    let f0 = frees();
    let m0 = gc::read_mem_stats().mallocs;
    drop((a, b));
    gc::collect();
    assert_eq!(counts(&DROPS), [1, 1], "each node dropped once");
    assert_eq!(frees() - f0, 2);
    assert_eq!(gc::read_mem_stats().mallocs - m0, 2, "two holders");
    // The holders are rooted (by `HOLDERS`): these cycles trace them.
    gc::collect();
    gc::collect();
    assert_eq!(frees() - f0, 2, "nothing else freed");
    let holders: Vec<Gc<Holder>> = std::mem::take(&mut *HOLDERS.lock().unwrap());
    assert_eq!(holders.len(), 2);
    for h in &holders {
        let inner = h.inner.borrow();
        let dead = inner.as_ref().expect("the stashed handle");
        assert!(panic_message(|| dead.id).starts_with(DEAD));
        assert!(panic_message(|| dead.clone()).starts_with(DEAD));
    }
    // Moving a dead handle in and out of a borrowed cell roots and
    // unroots nothing.
    let moved = holders[0].inner.borrow_mut().take();
    *holders[1].inner.borrow_mut() = moved;
    gc::collect();
    assert_eq!(frees() - f0, 2);
    drop(holders);
    gc::collect();
    assert_eq!(frees() - f0, 4, "the two holders, and nothing twice");
    assert_eq!(counts(&DROPS), [1, 1], "no double drop");
}

#[test]
fn a_dead_handle_compares_unequal_debugs_as_dead_and_takes_no_finalizer() {
    let _serial = serial();
    static DROPS: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
    let (a, b) = two_node_cycle(Stash::BorrowTakeIntoStatic, &DROPS);
    drop((a, b));
    gc::collect();
    let stashed: Vec<Gc<Node>> = std::mem::take(&mut *STATIC.lock().unwrap());
    assert_eq!(stashed.len(), 2);
    let d = &stashed[0];
    assert!(!Gc::ptr_eq(d, d), "a dead handle points to no object");
    // A new object may reuse the freed address; still unequal.
    let fresh: Vec<Gc<Node>> = (0..4)
        .map(|_| {
            Gc::new(Node {
                id: 0,
                next: GcCell::new(None),
                how: Stash::BorrowTakeIntoStatic,
                drops: &DROPS,
            })
        })
        .collect();
    for f in &fresh {
        assert!(!Gc::ptr_eq(d, f) && !Gc::ptr_eq(f, d));
    }
    assert_eq!(format!("{d:?}"), "Gc(<dead>)");
    let msg = panic_message(|| Gc::set_finalizer(d, |_| {}));
    assert!(msg.starts_with(DEAD), "{msg}");
    drop(fresh);
    drop(stashed);
    gc::collect();
    assert_eq!(counts(&DROPS), [5, 1], "the four fresh nodes use id 0");
}

/// Holds a handle to an object that stays reachable elsewhere, and stashes
/// it when dropped.
struct Pointer {
    to: Gc<Leaf>,
}

struct Leaf {
    value: u64,
}

static LEAF_DROPS: AtomicUsize = AtomicUsize::new(0);

impl Drop for Leaf {
    fn drop(&mut self) {
        LEAF_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: holds no `Gc`.
unsafe impl Trace for Leaf {
    fn trace(&self, _: &mut Tracer) {}
    fn rooting(&self, _: Rooting) {}
}

// SAFETY: both methods visit `to`.
unsafe impl Trace for Pointer {
    fn trace(&self, t: &mut Tracer) {
        self.to.trace(t)
    }
    fn rooting(&self, r: Rooting) {
        self.to.rooting(r)
    }
}

static ESCAPED: Mutex<Vec<Gc<Leaf>>> = Mutex::new(Vec::new());

impl Drop for Pointer {
    fn drop(&mut self) {
        // A handle cannot be moved out of `&mut self` without a
        // replacement; swap in a fresh rooted one.
        let spare = Gc::new(Leaf { value: 0 });
        ESCAPED
            .lock()
            .unwrap()
            .push(std::mem::replace(&mut self.to, spare));
    }
}

#[test]
fn an_escaped_dead_handle_to_a_live_object_neither_keeps_it_nor_frees_it() {
    let _serial = serial();
    let leaf = Gc::new(Leaf { value: 42 });
    let ptr = Gc::new(Pointer { to: leaf.clone() });
    let f0 = frees();
    let base = LEAF_DROPS.load(Ordering::SeqCst);
    drop(ptr);
    gc::collect();
    // The pointer and the spare leaf its Drop swapped in (dropped with it).
    assert_eq!(frees() - f0, 1, "the pointer");
    let escaped = ESCAPED.lock().unwrap().pop().unwrap();
    assert!(panic_message(|| escaped.value).starts_with(DEAD));
    gc::collect();
    assert_eq!(frees() - f0, 2, "the spare leaf, now unreachable");
    assert_eq!(LEAF_DROPS.load(Ordering::SeqCst) - base, 1);
    assert_eq!(leaf.value, 42, "the live leaf is intact");
    drop(leaf);
    gc::collect();
    assert_eq!(frees() - f0, 3, "the escaped handle did not keep it");
    assert_eq!(LEAF_DROPS.load(Ordering::SeqCst) - base, 2);
    drop(escaped);
    gc::collect();
    assert_eq!(frees() - f0, 3);
    assert_eq!(
        LEAF_DROPS.load(Ordering::SeqCst) - base,
        2,
        "no double drop"
    );
}

/// A `Drop` that panics.
struct Bomb {
    drops: &'static AtomicUsize,
}

// SAFETY: holds no `Gc`.
unsafe impl Trace for Bomb {
    fn trace(&self, _: &mut Tracer) {}
    fn rooting(&self, _: Rooting) {}
}

impl Drop for Bomb {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        panic!("bomb {}", self.drops.load(Ordering::SeqCst));
    }
}

#[test]
fn two_panicking_drops_in_one_cycle_free_everything_and_collect_panics_once() {
    let _serial = serial();
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    let bombs: Vec<Gc<Bomb>> = (0..3).map(|_| Gc::new(Bomb { drops: &DROPS })).collect();
    let f0 = frees();
    drop(bombs);
    let msg = panic_message(gc::collect);
    assert!(msg.starts_with("bomb "), "{msg}");
    assert_eq!(DROPS.load(Ordering::SeqCst), 3, "every value was dropped");
    assert_eq!(frees() - f0, 3);
    gc::collect();
    assert_eq!(DROPS.load(Ordering::SeqCst), 3, "and only once");
}

/// A `Drop` that allocates, collects and drops a `Gc` while the sweep runs.
struct Busy {
    drops: &'static AtomicUsize,
}

// SAFETY: holds no `Gc`.
unsafe impl Trace for Busy {
    fn trace(&self, _: &mut Tracer) {}
    fn rooting(&self, _: Rooting) {}
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        let tmp = Gc::new(Leaf { value: 7 });
        gc::collect();
        assert_eq!(tmp.value, 7, "rooted across the nested cycle");
        drop(tmp);
        gc::collect();
    }
}

#[test]
fn a_drop_that_allocates_and_collects_during_the_sweep_frees_each_object_once() {
    let _serial = serial();
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    let base = LEAF_DROPS.load(Ordering::SeqCst);
    let busy: Vec<Gc<Busy>> = (0..2).map(|_| Gc::new(Busy { drops: &DROPS })).collect();
    let f0 = frees();
    drop(busy);
    gc::collect();
    assert_eq!(DROPS.load(Ordering::SeqCst), 2);
    assert_eq!(
        LEAF_DROPS.load(Ordering::SeqCst) - base,
        2,
        "each temporary"
    );
    assert_eq!(frees() - f0, 4, "two Busy, two temporaries");
    gc::collect();
    assert_eq!(frees() - f0, 4);
}

/// Moves its whole cell out of itself when dropped.
struct CellOwner {
    cell: GcCell<Vec<Gc<Leaf>>>,
}

// SAFETY: both methods visit `cell`.
unsafe impl Trace for CellOwner {
    fn trace(&self, t: &mut Tracer) {
        self.cell.trace(t)
    }
    fn rooting(&self, r: Rooting) {
        self.cell.rooting(r)
    }
}

static CELLS: Mutex<Vec<GcCell<Vec<Gc<Leaf>>>>> = Mutex::new(Vec::new());

impl Drop for CellOwner {
    fn drop(&mut self) {
        CELLS.lock().unwrap().push(std::mem::take(&mut self.cell));
    }
}

#[test]
fn a_cell_a_drop_moves_out_of_the_heap_keeps_new_handles_rooted() {
    let _serial = serial();
    let base = LEAF_DROPS.load(Ordering::SeqCst);
    let doomed = Gc::new(Leaf { value: 1 });
    let owner = Gc::new(CellOwner {
        cell: GcCell::new(vec![doomed.clone()]),
    });
    drop((owner, doomed));
    gc::collect();
    assert_eq!(
        LEAF_DROPS.load(Ordering::SeqCst) - base,
        1,
        "the doomed leaf"
    );
    let cell = CELLS.lock().unwrap().pop().expect("the escaped cell");
    // The cell now lives in a local: handles put in it are roots.
    let leaf = Gc::new(Leaf { value: 42 });
    cell.borrow_mut().push(leaf.clone());
    drop(leaf);
    gc::collect();
    assert_eq!(
        LEAF_DROPS.load(Ordering::SeqCst) - base,
        1,
        "the leaf is rooted by the escaped cell"
    );
    let items = cell.borrow();
    assert!(panic_message(|| items[0].value).starts_with(DEAD));
    assert_eq!(items[1].value, 42);
    drop(items);
    // Moved back into the heap, the cell's handles are unrooted again.
    let holder = Gc::new(CellOwner { cell });
    gc::collect();
    assert_eq!(holder.cell.borrow()[1].value, 42);
    drop(holder);
    gc::collect();
    assert_eq!(LEAF_DROPS.load(Ordering::SeqCst) - base, 2, "freed with it");
    CELLS.lock().unwrap().clear();
}
