//! A model-based property test of the GC: random sequences of operations
//! on real `Gc`s and, side by side, on a plain graph (`Model`) that says
//! which objects are reachable from live roots. After every `collect` the
//! two must agree exactly: each object the model keeps is alive with its
//! value and its edges, each object it frees was dropped exactly once, the
//! handles that escaped a `Drop` are dead (dereferencing them panics), and
//! a `collect` panics exactly when a `Drop` it ran directly panicked.
//!
//! The objects' `Drop`s are hostile in the ways the GC docs allow: one
//! stashes its (dead) handles in a static, one moves its whole `GcCell`
//! out (then filled with live handles), one panics, one allocates, waits
//! for the finalizers and collects from inside the sweep. Finalizers
//! (which may resurrect their object) are set at random.
//!
//! The heap is process-wide: this binary holds this one test, and
//! automatic cycles are off, so only the test's `collect`s free objects.
//! Counts come from the objects' own drop log, not global stats.
//!
//! Under Miri (scripts/miri-gc.sh) it runs 8 shorter cases; `PROPTEST_CASES`
//! overrides the case count (forward it to Miri with
//! `-Zmiri-env-forward=PROPTEST_CASES`).

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};

use gort_core::gc::{self, Gc, GcCell, Rooting, Trace, Tracer};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

/// What every dead-handle panic says.
const DEAD: &str = "gort::gc: use of a dead Gc";
/// What a `Kind::Panicker` drop says.
const HOSTILE: &str = "hostile drop";

/// How an object's `Drop` behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Logs its drop.
    Plain,
    /// Moves its edges out of itself into `STASH` (odd ids through
    /// `borrow_mut`, even ids through `mem::take(..).into_inner()`).
    Stasher,
    /// Panics.
    Panicker,
    /// Allocates a `Temp`, waits for the finalizers, collects (a panic of
    /// that nested cycle is caught and counted), checks the `Temp`, drops it.
    Busy,
    /// Moves its whole `edges` cell out of itself into `CELLS`.
    CellMover,
}

/// Everything the real objects record: per case, shared by its objects.
#[derive(Default)]
struct Log {
    /// The id of every dropped `Obj`, once per drop.
    drops: Mutex<Vec<usize>>,
    /// `Temp`s dropped.
    temps: AtomicUsize,
    /// `Busy` drops whose `Temp` survived the nested cycle intact.
    temp_ok: AtomicUsize,
    /// Nested cycles (in `Busy` drops) that panicked.
    nested_panics: AtomicUsize,
    /// `(id, value)` of every finalizer run.
    finalized: Mutex<Vec<(usize, u64)>>,
}

struct Obj {
    id: usize,
    value: u64,
    kind: Kind,
    edges: GcCell<Vec<Gc<Obj>>>,
    log: Arc<Log>,
}

// SAFETY: both methods visit `edges`, the only field holding `Gc`s.
unsafe impl Trace for Obj {
    fn trace(&self, t: &mut Tracer) {
        self.edges.trace(t)
    }
    fn rooting(&self, r: Rooting) {
        self.edges.rooting(r)
    }
}

/// Rooted handles kept by `Op::StashRoot`.
static STATICS: Mutex<Vec<Gc<Obj>>> = Mutex::new(Vec::new());
/// Dead handles moved out of `Kind::Stasher` drops.
static STASH: Mutex<Vec<Gc<Obj>>> = Mutex::new(Vec::new());
/// Cells moved out of `Kind::CellMover` drops: outside the heap, so the
/// handles `Op::FillCells` puts in them are roots.
static CELLS: Mutex<Vec<GcCell<Vec<Gc<Obj>>>>> = Mutex::new(Vec::new());
/// Handles stored by resurrecting finalizers.
static RESURRECTED: Mutex<Vec<Gc<Obj>>> = Mutex::new(Vec::new());

fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for Obj {
    fn drop(&mut self) {
        self.log.drops.lock().unwrap().push(self.id);
        match self.kind {
            Kind::Plain => {}
            Kind::Stasher => {
                let taken = if self.id % 2 == 1 {
                    std::mem::take(&mut *self.edges.borrow_mut())
                } else {
                    std::mem::take(&mut self.edges).into_inner()
                };
                lock(&STASH).extend(taken);
            }
            Kind::Panicker => panic!("{HOSTILE} {}", self.id),
            Kind::CellMover => lock(&CELLS).push(std::mem::take(&mut self.edges)),
            Kind::Busy => {
                let tmp = Gc::new(Temp {
                    value: self.value,
                    log: self.log.clone(),
                });
                gc::wait_for_finalizers();
                if catch_unwind(gc::collect).is_err() {
                    self.log.nested_panics.fetch_add(1, Ordering::SeqCst);
                }
                if tmp.value == self.value {
                    self.log.temp_ok.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }
}

/// What a `Busy` drop allocates.
struct Temp {
    value: u64,
    log: Arc<Log>,
}

// SAFETY: holds no `Gc`.
unsafe impl Trace for Temp {
    fn trace(&self, _: &mut Tracer) {}
    fn rooting(&self, _: Rooting) {}
}

impl Drop for Temp {
    fn drop(&mut self) {
        self.log.temps.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// A new object, rooted in `roots`.
    New(Kind, u64),
    /// Two new objects pointing at each other, and no handle to them: the
    /// garbage cycle of the dead-handle issue.
    Pair(Kind, Kind),
    /// `roots[a]` gets an edge to `roots[b]`.
    Link(Index, Index),
    /// `roots[a]` loses one edge.
    Unlink(Index, Index),
    DropRoot(Index),
    CloneRoot(Index),
    /// Clones an edge of `roots[a]` (a handle read from inside the heap)
    /// into `roots`; panics (and is checked to) if the edge is dead.
    LoadEdge(Index, Index),
    /// Moves `roots[a]` into `STATICS`.
    StashRoot(Index),
    DropStatics,
    /// Moves the dead handles of `STASH` into `roots[a]`'s edges: the heap
    /// holds them from now on, and cycles visit them.
    AdoptStash(Index),
    DropStash,
    /// Pushes a clone of `roots[a]` into every cell of `CELLS`.
    FillCells(Index),
    DropCells,
    /// A finalizer on `roots[a]`; `true`: it resurrects the object.
    SetFinalizer(Index, bool),
    DropResurrected,
    /// `collect`, `wait_for_finalizers`, then compare with the model.
    Collect,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Plain),
        3 => Just(Kind::Stasher),
        1 => Just(Kind::Panicker),
        1 => Just(Kind::Busy),
        2 => Just(Kind::CellMover),
    ]
}

/// Weighted so that a short sequence often frees a `Stasher` with edges,
/// adopts its dead handles into a live object and collects again: the path
/// where an escaped dead handle is traced.
fn op() -> impl Strategy<Value = Op> {
    let i = any::<Index>;
    prop_oneof![
        4 => (kind(), 0..1000u64).prop_map(|(k, v)| Op::New(k, v)),
        2 => (kind(), kind()).prop_map(|(a, b)| Op::Pair(a, b)),
        5 => (i(), i()).prop_map(|(a, b)| Op::Link(a, b)),
        1 => (i(), i()).prop_map(|(a, b)| Op::Unlink(a, b)),
        3 => i().prop_map(Op::DropRoot),
        1 => i().prop_map(Op::CloneRoot),
        2 => (i(), i()).prop_map(|(a, b)| Op::LoadEdge(a, b)),
        1 => i().prop_map(Op::StashRoot),
        1 => Just(Op::DropStatics),
        3 => i().prop_map(Op::AdoptStash),
        1 => Just(Op::DropStash),
        2 => i().prop_map(Op::FillCells),
        1 => Just(Op::DropCells),
        1 => (i(), any::<bool>()).prop_map(|(a, r)| Op::SetFinalizer(a, r)),
        1 => Just(Op::DropResurrected),
        5 => Just(Op::Collect),
    ]
}

/// An edge in the model: to a live object, or a dead handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Edge {
    Live(usize),
    Dead,
}

/// An object in the model; `Temp`s are objects too (`temp`).
#[derive(Debug)]
struct MObj {
    kind: Kind,
    temp: bool,
    value: u64,
    edges: Vec<Edge>,
    alive: bool,
    /// A finalizer is set; `Some(true)`: it resurrects.
    finalizer: Option<bool>,
    drops: usize,
}

/// The reference model: a plain graph and the GC's rules, no pointers.
#[derive(Default)]
struct Model {
    objs: Vec<MObj>,
    /// Parallel to `Real::roots`, `STATICS`, `RESURRECTED`.
    roots: Vec<usize>,
    statics: Vec<usize>,
    resurrected: Vec<usize>,
    /// `Temp`s rooted by a `Busy` drop in progress.
    busy_roots: Vec<usize>,
    /// Finalizers queued and not run yet: each holds a root.
    pending: Vec<(usize, bool)>,
    /// Dead handles in `STASH`.
    stash: usize,
    /// The cells of `CELLS` (in no particular order).
    cells: Vec<Vec<Edge>>,
    temp_ok: usize,
    nested_panics: usize,
    finalized: Vec<(usize, u64)>,
}

impl Model {
    fn closure(&self, from: impl IntoIterator<Item = usize>) -> HashSet<usize> {
        let mut seen = HashSet::new();
        let mut stack: Vec<usize> = from.into_iter().collect();
        while let Some(o) = stack.pop() {
            if seen.insert(o) {
                stack.extend(self.objs[o].edges.iter().filter_map(|e| match e {
                    Edge::Live(t) => Some(*t),
                    Edge::Dead => None,
                }));
            }
        }
        seen
    }

    fn reachable(&self) -> HashSet<usize> {
        let roots = self
            .roots
            .iter()
            .chain(&self.statics)
            .chain(&self.resurrected);
        let roots = roots.chain(&self.busy_roots).copied();
        let cells = self.cells.iter().flatten().filter_map(|e| match e {
            Edge::Live(t) => Some(*t),
            Edge::Dead => None,
        });
        let roots = roots.chain(cells);
        self.closure(roots.chain(self.pending.iter().map(|p| p.0)))
    }

    /// One cycle, nested cycles (in `Busy` drops) included. Returns whether
    /// a `Drop` it ran directly panicked, i.e. whether `collect` panics.
    fn cycle(&mut self) -> bool {
        let reach = self.reachable();
        let unreachable = |m: &MObj, i: usize| m.alive && !reach.contains(&i);
        let fin: Vec<usize> = (0..self.objs.len())
            .filter(|&i| unreachable(&self.objs[i], i) && self.objs[i].finalizer.is_some())
            .collect();
        let keep = self.closure(fin.iter().copied());
        for &o in &fin {
            let res = self.objs[o].finalizer.take().unwrap();
            self.pending.push((o, res));
        }
        let freed: Vec<usize> = (0..self.objs.len())
            .filter(|&i| unreachable(&self.objs[i], i) && !keep.contains(&i))
            .collect();
        // All are unlinked before the first drop.
        for &o in &freed {
            self.objs[o].alive = false;
        }
        let mut panicked = false;
        for &o in &freed {
            self.objs[o].drops += 1;
            let edges = std::mem::take(&mut self.objs[o].edges);
            if self.objs[o].temp {
                continue;
            }
            match self.objs[o].kind {
                Kind::Plain => {}
                Kind::Stasher => self.stash += edges.len(),
                Kind::CellMover => self.cells.push(vec![Edge::Dead; edges.len()]),
                Kind::Panicker => panicked = true,
                Kind::Busy => {
                    let value = self.objs[o].value;
                    let t = self.push(Kind::Plain, value, true);
                    self.busy_roots.push(t);
                    self.run_finalizers();
                    if self.cycle() {
                        self.nested_panics += 1;
                    }
                    self.temp_ok += 1;
                    self.busy_roots.pop();
                }
            }
        }
        panicked
    }

    fn run_finalizers(&mut self) {
        for (o, resurrect) in std::mem::take(&mut self.pending) {
            self.finalized.push((o, self.objs[o].value));
            if resurrect {
                self.resurrected.push(o);
            }
        }
    }

    fn push(&mut self, kind: Kind, value: u64, temp: bool) -> usize {
        self.objs.push(MObj {
            kind,
            temp,
            value,
            edges: Vec::new(),
            alive: true,
            finalizer: None,
            drops: 0,
        });
        self.objs.len() - 1
    }
}

/// The real side: the test's rooted handles (the statics are globals).
struct Real {
    roots: Vec<Gc<Obj>>,
    log: Arc<Log>,
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast::<&str>()
            .map_or_else(|_| "<not a string>".into(), |s| s.to_string()),
    }
}

/// Asserts `h` is dead: dereferencing it panics with the dead-handle
/// message, and it equals no handle.
fn assert_dead(h: &Gc<Obj>) -> Result<(), TestCaseError> {
    let r = catch_unwind(AssertUnwindSafe(|| h.id));
    let msg = panic_message(
        r.err()
            .ok_or_else(|| TestCaseError::fail("a dead handle dereferenced"))?,
    );
    prop_assert!(msg.starts_with(DEAD), "{}", msg);
    prop_assert!(!Gc::ptr_eq(h, h));
    Ok(())
}

fn apply(op: &Op, m: &mut Model, r: &mut Real) -> Result<(), TestCaseError> {
    let n = r.roots.len();
    match *op {
        Op::New(kind, value) => {
            let id = m.push(kind, value, false);
            r.roots.push(Gc::new(Obj {
                id,
                value,
                kind,
                edges: GcCell::new(Vec::new()),
                log: r.log.clone(),
            }));
            m.roots.push(id);
        }
        Op::Pair(ka, kb) => {
            apply(&Op::New(ka, 1), m, r)?;
            apply(&Op::New(kb, 2), m, r)?;
            link(m, r, n, n + 1);
            link(m, r, n + 1, n);
            m.roots.truncate(n);
            r.roots.truncate(n);
        }
        Op::Link(a, b) if n > 0 => link(m, r, a.index(n), b.index(n)),
        Op::Unlink(a, e) if n > 0 => {
            let a = a.index(n);
            let edges = &mut m.objs[m.roots[a]].edges;
            if !edges.is_empty() {
                let e = e.index(edges.len());
                edges.remove(e);
                drop(r.roots[a].edges.borrow_mut().remove(e));
            }
        }
        Op::DropRoot(a) if n > 0 => {
            let a = a.index(n);
            m.roots.swap_remove(a);
            drop(r.roots.swap_remove(a));
        }
        Op::CloneRoot(a) if n > 0 => {
            let a = a.index(n);
            m.roots.push(m.roots[a]);
            let c = r.roots[a].clone();
            r.roots.push(c);
        }
        Op::LoadEdge(a, e) if n > 0 => {
            let a = a.index(n);
            let edges = &m.objs[m.roots[a]].edges;
            if !edges.is_empty() {
                let e = e.index(edges.len());
                let edge = edges[e];
                let loaded =
                    catch_unwind(AssertUnwindSafe(|| r.roots[a].edges.borrow()[e].clone()));
                match (edge, loaded) {
                    (Edge::Live(t), Ok(h)) => {
                        prop_assert_eq!(h.id, t);
                        m.roots.push(t);
                        r.roots.push(h);
                    }
                    (Edge::Dead, Err(p)) => {
                        let msg = panic_message(p);
                        prop_assert!(msg.starts_with(DEAD), "{}", msg);
                    }
                    (Edge::Live(_), Err(p)) => {
                        return Err(TestCaseError::fail(panic_message(p)));
                    }
                    (Edge::Dead, Ok(_)) => return Err(TestCaseError::fail("a dead edge cloned")),
                }
            }
        }
        Op::StashRoot(a) if n > 0 => {
            let a = a.index(n);
            m.statics.push(m.roots.swap_remove(a));
            lock(&STATICS).push(r.roots.swap_remove(a));
        }
        Op::DropStatics => {
            m.statics.clear();
            drop(std::mem::take(&mut *lock(&STATICS)));
        }
        Op::AdoptStash(a) if n > 0 => {
            let a = a.index(n);
            let dead = std::mem::take(&mut *lock(&STASH));
            prop_assert_eq!(dead.len(), m.stash);
            let obj = m.roots[a];
            m.objs[obj].edges.extend((0..m.stash).map(|_| Edge::Dead));
            m.stash = 0;
            r.roots[a].edges.borrow_mut().extend(dead);
        }
        Op::DropStash => {
            m.stash = 0;
            drop(std::mem::take(&mut *lock(&STASH)));
        }
        Op::FillCells(a) if n > 0 => {
            let a = a.index(n);
            for c in &mut m.cells {
                c.push(Edge::Live(m.roots[a]));
            }
            for c in lock(&CELLS).iter() {
                c.borrow_mut().push(r.roots[a].clone());
            }
        }
        Op::DropCells => {
            m.cells.clear();
            drop(std::mem::take(&mut *lock(&CELLS)));
        }
        Op::SetFinalizer(a, resurrect) if n > 0 => {
            let a = a.index(n);
            m.objs[m.roots[a]].finalizer = Some(resurrect);
            let log = r.log.clone();
            Gc::set_finalizer(&r.roots[a], move |o: Gc<Obj>| {
                log.finalized.lock().unwrap().push((o.id, o.value));
                if resurrect {
                    lock(&RESURRECTED).push(o);
                }
            });
        }
        Op::DropResurrected => {
            m.resurrected.clear();
            drop(std::mem::take(&mut *lock(&RESURRECTED)));
        }
        Op::Collect => {
            let want_panic = m.cycle();
            let got = catch_unwind(gc::collect);
            gc::wait_for_finalizers();
            m.run_finalizers();
            match got {
                Ok(()) => prop_assert!(!want_panic, "collect did not panic"),
                Err(p) => {
                    let msg = panic_message(p);
                    prop_assert!(want_panic, "collect panicked: {}", msg);
                    prop_assert!(msg.starts_with(HOSTILE), "{}", msg);
                }
            }
            check(m, r)?;
        }
        // An operation on a root when there is none.
        _ => {}
    }
    Ok(())
}

/// `roots[a]` gets an edge to `roots[b]`.
fn link(m: &mut Model, r: &mut Real, a: usize, b: usize) {
    let to = r.roots[b].clone();
    r.roots[a].edges.borrow_mut().push(to);
    m.objs[m.roots[a]].edges.push(Edge::Live(m.roots[b]));
}

/// The real heap against the model, after a cycle.
fn check(m: &Model, r: &Real) -> Result<(), TestCaseError> {
    let mut drops = vec![0; m.objs.len()];
    for &id in r.log.drops.lock().unwrap().iter() {
        drops[id] += 1;
    }
    for (id, o) in m.objs.iter().enumerate().filter(|(_, o)| !o.temp) {
        prop_assert_eq!(drops[id], o.drops, "drops of object {}", id);
    }
    let temps = m.objs.iter().filter(|o| o.temp && !o.alive).count();
    prop_assert_eq!(r.log.temps.load(Ordering::SeqCst), temps, "temps dropped");
    prop_assert_eq!(r.log.temp_ok.load(Ordering::SeqCst), m.temp_ok);
    prop_assert_eq!(r.log.nested_panics.load(Ordering::SeqCst), m.nested_panics);
    let mut finalized = r.log.finalized.lock().unwrap().clone();
    let mut want = m.finalized.clone();
    finalized.sort_unstable();
    want.sort_unstable();
    prop_assert_eq!(finalized, want, "finalizers run");

    let stash = lock(&STASH);
    prop_assert_eq!(stash.len(), m.stash, "handles stashed by Drops");
    for h in stash.iter() {
        assert_dead(h)?;
    }
    drop(stash);

    // Walk everything reachable: ids, values and edges as in the model.
    // The finalizers ran in no particular order: compare the resurrected
    // handles sorted by id.
    let statics = lock(&STATICS).clone();
    let mut resurrected = lock(&RESURRECTED).clone();
    resurrected.sort_by_key(|h| h.id);
    let mut want_resurrected = m.resurrected.clone();
    want_resurrected.sort_unstable();
    let mut stack: Vec<(Gc<Obj>, usize)> = Vec::new();
    for (hs, ids) in [
        (&r.roots[..], &m.roots[..]),
        (&statics[..], &m.statics[..]),
        (&resurrected[..], &want_resurrected[..]),
    ] {
        prop_assert_eq!(hs.len(), ids.len());
        stack.extend(hs.iter().cloned().zip(ids.iter().copied()));
    }
    // The escaped cells, compared by content: `None` for a dead handle.
    let cells = lock(&CELLS);
    let mut got: Vec<Vec<Option<usize>>> = Vec::new();
    for c in cells.iter() {
        let c = c.borrow();
        let mut sig = Vec::new();
        for h in c.iter() {
            match catch_unwind(AssertUnwindSafe(|| h.id)) {
                Ok(id) => {
                    sig.push(Some(id));
                    stack.push((h.clone(), id));
                }
                Err(_) => {
                    assert_dead(h)?;
                    sig.push(None);
                }
            }
        }
        got.push(sig);
    }
    drop(cells);
    let mut want: Vec<Vec<Option<usize>>> = m
        .cells
        .iter()
        .map(|c| {
            c.iter()
                .map(|e| match e {
                    Edge::Live(t) => Some(*t),
                    Edge::Dead => None,
                })
                .collect()
        })
        .collect();
    got.sort();
    want.sort();
    prop_assert_eq!(got, want, "escaped cells");
    let mut seen = HashSet::new();
    while let Some((h, id)) = stack.pop() {
        let o = &m.objs[id];
        prop_assert!(o.alive, "model: object {} freed but reachable", id);
        prop_assert_eq!(h.id, id);
        prop_assert_eq!(h.value, o.value);
        if !seen.insert(id) {
            continue;
        }
        let edges = h.edges.borrow();
        prop_assert_eq!(edges.len(), o.edges.len(), "edges of {}", id);
        for (e, want) in edges.iter().zip(&o.edges) {
            match *want {
                Edge::Live(t) => stack.push((e.clone(), t)),
                Edge::Dead => assert_dead(e)?,
            }
        }
    }
    Ok(())
}

/// Drops every root the case holds and collects until the model holds no
/// live object; each check runs as after any `collect`.
fn tear_down(m: &mut Model, r: &mut Real) -> Result<(), TestCaseError> {
    let clear = [
        Op::DropStatics,
        Op::DropResurrected,
        Op::DropStash,
        Op::DropCells,
    ];
    m.roots.clear();
    r.roots.clear();
    for _ in 0..8 {
        for op in clear.iter().chain([&Op::Collect]) {
            apply(op, m, r)?;
        }
        if m.objs.iter().all(|o| !o.alive) {
            break;
        }
    }
    for (id, o) in m.objs.iter().enumerate() {
        prop_assert!(!o.alive, "object {} never freed", id);
        prop_assert_eq!(o.drops, 1);
    }
    Ok(())
}

/// Drops what a failed case left behind, so the next (shrunk) case starts
/// from an empty heap.
fn scrub() {
    for _ in 0..4 {
        drop(std::mem::take(&mut *lock(&STATICS)));
        drop(std::mem::take(&mut *lock(&RESURRECTED)));
        drop(std::mem::take(&mut *lock(&STASH)));
        drop(std::mem::take(&mut *lock(&CELLS)));
        let _ = catch_unwind(gc::collect);
        gc::wait_for_finalizers();
    }
}

/// Keeps the expected panics (dead handles, hostile drops) off stderr.
fn quiet_expected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !(msg.starts_with(DEAD) || msg.starts_with(HOSTILE)) {
                default(info);
            }
        }));
    });
}

fn config() -> Config {
    let default_cases = if cfg!(miri) { 8 } else { 256 };
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn max_ops() -> usize {
    if cfg!(miri) {
        32
    } else {
        64
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn gc_matches_a_reachability_model_with_hostile_drops_and_finalizers(
        ops in prop::collection::vec(op(), 1..max_ops())
    ) {
        quiet_expected_panics();
        gc::set_gc_percent(None);
        scrub();
        let mut m = Model::default();
        let mut r = Real { roots: Vec::new(), log: Arc::new(Log::default()) };
        for op in &ops {
            apply(op, &mut m, &mut r)?;
        }
        tear_down(&mut m, &mut r)?;
    }
}
