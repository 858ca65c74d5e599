//! Single-threaded GC tests (run under Miri by scripts/miri.sh) and a
//! multi-threaded stress test. The heap is process-wide and these tests run
//! in parallel: each one counts only its own objects, and assertions hold
//! whatever cycles the other tests start. GOGC and the memory limit are
//! tested in gort's `tests/gc_config.rs`, a single-test binary.

use super::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A graph node that logs its id when dropped.
struct Node {
    id: usize,
    edges: GcCell<Vec<Gc<Node>>>,
    dropped: Arc<Mutex<Vec<usize>>>,
}

// SAFETY: both methods visit `edges`, the only field holding `Gc`s.
unsafe impl Trace for Node {
    fn trace(&self, t: &mut Tracer) {
        self.edges.trace(t)
    }
    fn rooting(&self, r: Rooting) {
        self.edges.rooting(r)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.dropped.lock().unwrap().push(self.id);
    }
}

fn node(id: usize, dropped: &Arc<Mutex<Vec<usize>>>) -> Gc<Node> {
    Gc::new(Node {
        id,
        edges: GcCell::new(Vec::new()),
        dropped: dropped.clone(),
    })
}

fn ring_size() -> usize {
    if cfg!(miri) {
        50
    } else {
        1000
    }
}

#[test]
fn gc_cycle_of_1000_nodes_is_freed_after_its_last_root_drops() {
    let n = ring_size();
    let dropped = Arc::new(Mutex::new(Vec::new()));
    let first = node(0, &dropped);
    let mut prev = first.clone();
    for id in 1..n {
        let next = node(id, &dropped);
        prev.edges.borrow_mut().push(next.clone());
        prev = next;
    }
    prev.edges.borrow_mut().push(first.clone());
    drop(prev);
    collect();
    assert!(
        dropped.lock().unwrap().is_empty(),
        "the ring is still rooted"
    );
    // Walk the ring through the heap: every node is intact.
    let mut cur = first.clone();
    for id in 0..n {
        assert_eq!(cur.id, id);
        let next = cur.edges.borrow()[0].clone();
        cur = next;
    }
    assert!(Gc::ptr_eq(&cur, &first));
    drop((cur, first));
    collect();
    let mut d = dropped.lock().unwrap().clone();
    d.sort_unstable();
    assert_eq!(d, (0..n).collect::<Vec<_>>(), "each node dropped once");
}

/// A xorshift generator: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The reference model: edges by id, and the ids the test holds as roots.
fn model_reachable(edges: &[Vec<usize>], roots: &[usize]) -> HashSet<usize> {
    let mut seen: HashSet<usize> = HashSet::new();
    let mut stack: Vec<usize> = roots.to_vec();
    while let Some(n) = stack.pop() {
        if seen.insert(n) {
            stack.extend(&edges[n]);
        }
    }
    seen
}

#[test]
fn gc_random_graph_drops_exactly_the_unreachable_objects() {
    let (seeds, ops) = if cfg!(miri) { (1, 150) } else { (8, 3000) };
    for seed in 0..seeds {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (seed * 7919 + 1));
        let dropped = Arc::new(Mutex::new(Vec::new()));
        let mut handles: Vec<Gc<Node>> = Vec::new(); // the roots
        let mut edges: Vec<Vec<usize>> = Vec::new(); // the model
        let mut ever_unreachable: HashSet<usize> = HashSet::new();
        for _ in 0..ops {
            match rng.below(10) {
                0..=2 => {
                    let id = edges.len();
                    edges.push(Vec::new());
                    handles.push(node(id, &dropped));
                }
                3..=5 if !handles.is_empty() => {
                    // An edge between two reachable nodes: a root and a
                    // node reached from a root.
                    let a = handles[rng.below(handles.len())].clone();
                    let b = handles[rng.below(handles.len())].clone();
                    let b = match b.edges.borrow().first() {
                        Some(c) if rng.below(2) == 0 => c.clone(),
                        _ => b.clone(),
                    };
                    edges[a.id].push(b.id);
                    a.edges.borrow_mut().push(b);
                }
                6 if !handles.is_empty() => {
                    let a = handles[rng.below(handles.len())].clone();
                    let mut e = a.edges.borrow_mut();
                    if !e.is_empty() {
                        let i = rng.below(e.len());
                        e.remove(i);
                        edges[a.id].remove(i);
                    }
                }
                7 if !handles.is_empty() => {
                    let i = rng.below(handles.len());
                    handles.swap_remove(i);
                }
                8 if !handles.is_empty() => {
                    // Take a new root from inside the heap.
                    let a = handles[rng.below(handles.len())].clone();
                    let c = a.edges.borrow().last().cloned();
                    if let Some(c) = c {
                        handles.push(c);
                    }
                }
                9 => collect(),
                _ => {}
            }
            let roots: Vec<usize> = handles.iter().map(|h| h.id).collect();
            let live = model_reachable(&edges, &roots);
            ever_unreachable.extend((0..edges.len()).filter(|i| !live.contains(i)));
            let d = dropped.lock().unwrap();
            for id in d.iter() {
                assert!(
                    !live.contains(id),
                    "seed {seed}: reachable node {id} was dropped"
                );
            }
        }
        collect();
        let roots: Vec<usize> = handles.iter().map(|h| h.id).collect();
        let live = model_reachable(&edges, &roots);
        let mut d = dropped.lock().unwrap().clone();
        d.sort_unstable();
        let mut want: Vec<usize> = (0..edges.len()).filter(|i| !live.contains(i)).collect();
        want.sort_unstable();
        assert_eq!(d, want, "seed {seed}: dropped == unreachable, each once");
        assert!(want.iter().all(|i| ever_unreachable.contains(i)));
        drop(handles);
        collect();
        assert_eq!(dropped.lock().unwrap().len(), edges.len());
    }
}

#[test]
fn gc_finalizer_runs_exactly_once_and_may_resurrect() {
    let ran = Arc::new(AtomicUsize::new(0));
    let saved: Arc<Mutex<Option<Gc<Node>>>> = Arc::new(Mutex::new(None));
    let dropped = Arc::new(Mutex::new(Vec::new()));
    let a = node(1, &dropped);
    let b = node(2, &dropped);
    a.edges.borrow_mut().push(b.clone());
    b.edges.borrow_mut().push(a.clone());
    let (r, s) = (ran.clone(), saved.clone());
    Gc::set_finalizer(&a, move |a: Gc<Node>| {
        r.fetch_add(1, Ordering::SeqCst);
        // The finalizer sees the object graph intact.
        assert_eq!(a.edges.borrow()[0].id, 2);
        *s.lock().unwrap() = Some(a); // resurrect
    });
    drop((a, b));
    collect();
    wait_for_finalizers();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(
        dropped.lock().unwrap().is_empty(),
        "kept alive for the finalizer"
    );
    collect();
    wait_for_finalizers();
    assert!(dropped.lock().unwrap().is_empty(), "resurrected");
    let a = saved.lock().unwrap().take().unwrap();
    assert_eq!(a.edges.borrow()[0].edges.borrow()[0].id, 1);
    drop(a);
    collect();
    collect();
    wait_for_finalizers();
    assert_eq!(ran.load(Ordering::SeqCst), 1, "never a second time");
    let mut d = dropped.lock().unwrap().clone();
    d.sort_unstable();
    assert_eq!(d, [1, 2]);
}

/// Dereferences its `Gc` field in `Drop`: the handle is dead by then.
struct Peeker {
    other: Option<Gc<Peeker>>,
    outcome: Arc<Mutex<Vec<bool>>>,
}

// SAFETY: both methods visit `other`.
unsafe impl Trace for Peeker {
    fn trace(&self, t: &mut Tracer) {
        self.other.trace(t)
    }
    fn rooting(&self, r: Rooting) {
        self.other.rooting(r)
    }
}

impl Drop for Peeker {
    fn drop(&mut self) {
        if let Some(o) = &self.other {
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| o.other.is_some()));
            self.outcome.lock().unwrap().push(res.is_err());
        }
    }
}

#[test]
fn gc_handles_in_a_swept_value_are_dead_in_its_drop() {
    let outcome = Arc::new(Mutex::new(Vec::new()));
    let leaf = Gc::new(Peeker {
        other: None,
        outcome: outcome.clone(),
    });
    let top = Gc::new(Peeker {
        other: Some(leaf),
        outcome: outcome.clone(),
    });
    drop(top);
    collect();
    assert_eq!(*outcome.lock().unwrap(), [true], "dereferencing panicked");
}

#[test]
fn gc_handles_moved_out_of_a_borrowed_cell_stay_alive() {
    let dropped = Arc::new(Mutex::new(Vec::new()));
    let holder = node(0, &dropped);
    holder.edges.borrow_mut().push(node(1, &dropped));
    collect();
    let taken = {
        let mut e = holder.edges.borrow_mut();
        collect(); // contents are roots while borrowed
        e.pop().unwrap()
    };
    collect();
    assert_eq!(taken.id, 1);
    assert!(dropped.lock().unwrap().is_empty());
    drop(taken);
    collect();
    assert_eq!(*dropped.lock().unwrap(), [1]);
    drop(holder);
    collect();
    assert_eq!(*dropped.lock().unwrap(), [1, 0]);
}

#[test]
fn gc_nested_cells_and_std_containers_are_traced() {
    use std::collections::{BTreeMap, HashMap, VecDeque};
    /// Handles behind std containers and a cell inside a cell.
    type Maps = (
        HashMap<u32, Gc<Node>>,
        BTreeMap<u8, VecDeque<Option<Gc<Node>>>>,
    );
    type Nested = GcCell<Box<GcCell<[Option<Gc<Node>>; 2]>>>;
    struct Bag {
        inner: GcCell<Maps>,
        nested: Nested,
    }
    // SAFETY: both methods visit both fields.
    unsafe impl Trace for Bag {
        fn trace(&self, t: &mut Tracer) {
            self.inner.trace(t);
            self.nested.trace(t);
        }
        fn rooting(&self, r: Rooting) {
            self.inner.rooting(r);
            self.nested.rooting(r);
        }
    }
    let dropped = Arc::new(Mutex::new(Vec::new()));
    let bag = Gc::new(Bag {
        inner: GcCell::new((HashMap::new(), BTreeMap::new())),
        nested: GcCell::new(Box::new(GcCell::new([None, None]))),
    });
    bag.inner.borrow_mut().0.insert(1, node(1, &dropped));
    bag.inner
        .borrow_mut()
        .1
        .insert(2, VecDeque::from([None, Some(node(2, &dropped))]));
    bag.nested.borrow().borrow_mut()[1] = Some(node(3, &dropped));
    {
        let outer = bag.nested.borrow_mut();
        outer.borrow_mut()[0] = Some(node(4, &dropped));
        collect();
    }
    collect();
    assert!(dropped.lock().unwrap().is_empty());
    assert_eq!(bag.nested.borrow().borrow()[0].as_ref().unwrap().id, 4);
    bag.nested.borrow().borrow_mut()[0] = None;
    collect();
    assert_eq!(*dropped.lock().unwrap(), [4]);
    drop(bag);
    collect();
    let mut d = dropped.lock().unwrap().clone();
    d.sort_unstable();
    assert_eq!(d, [1, 2, 3, 4]);
}

#[test]
fn gc_mem_stats_count_allocations_and_frees() {
    let before = read_mem_stats();
    let v: Vec<Gc<u64>> = (0..10).map(Gc::new).collect();
    let mid = read_mem_stats();
    assert!(mid.mallocs >= before.mallocs + 10);
    assert!(mid.total_alloc >= before.total_alloc + 10 * std::mem::size_of::<u64>() as u64);
    assert_eq!(v.iter().map(|g| **g).sum::<u64>(), 45);
    drop(v);
    collect();
    let after = read_mem_stats();
    assert!(after.frees >= before.frees + 10);
    assert!(after.num_gc > mid.num_gc);
    assert!(after.num_forced_gc > mid.num_forced_gc);
    assert!(after.last_gc > 0);
    assert_eq!(after.mallocs - after.frees, after.heap_objects);
}

/// Threads share one ring through a `GcCell` and rewire it while other
/// threads collect; every value reachable from a root stays intact.
#[test]
fn gc_stress_threads_mutate_and_collect_concurrently() {
    let (threads, rounds, len) = if cfg!(miri) { (2, 3, 8) } else { (4, 300, 64) };
    let dropped = Arc::new(Mutex::new(Vec::new()));
    let hub = node(usize::MAX, &dropped);
    std::thread::scope(|s| {
        for t in 0..threads {
            let hub = hub.clone();
            let dropped = dropped.clone();
            s.spawn(move || {
                let mut rng = Rng(t as u64 * 31 + 7);
                for round in 0..rounds {
                    // A private ring, published in the hub.
                    let base = (t * rounds + round) * len;
                    let first = node(base, &dropped);
                    let mut prev = first.clone();
                    for i in 1..len {
                        let n = node(base + i, &dropped);
                        prev.edges.borrow_mut().push(n.clone());
                        prev = n;
                    }
                    prev.edges.borrow_mut().push(first.clone());
                    drop(prev);
                    hub.edges.borrow_mut().push(first);
                    if rng.below(4) == 0 {
                        collect();
                    }
                    // Walk a random published ring: ids are consecutive.
                    let start = {
                        let e = hub.edges.borrow();
                        e[rng.below(e.len())].clone()
                    };
                    let mut cur = start.clone();
                    for _ in 0..len {
                        let next = cur.edges.borrow()[0].clone();
                        let want = if (cur.id + 1) % len == 0 {
                            cur.id + 1 - len
                        } else {
                            cur.id + 1
                        };
                        assert_eq!(next.id, want);
                        cur = next;
                    }
                    assert!(Gc::ptr_eq(&cur, &start));
                    // Unpublish a random ring.
                    let mut e = hub.edges.borrow_mut();
                    let i = rng.below(e.len());
                    e.swap_remove(i);
                }
            });
        }
    });
    let published = hub.edges.borrow().len();
    assert_eq!(published, 0);
    drop(hub);
    collect();
    let d = dropped.lock().unwrap();
    assert_eq!(d.len(), threads * rounds * len + 1);
    let unique: HashSet<_> = d.iter().collect();
    assert_eq!(unique.len(), d.len(), "each node dropped once");
}
