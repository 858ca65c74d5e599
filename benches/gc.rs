//! The GC: allocate a 100 000-node cyclic graph (a ring plus one chord per
//! node), drop it, collect — on gort's `Gc`, on rust-gc (`gc` crate,
//! single-threaded, thread-local heap) and on `Rc` with the cycles broken
//! by hand. `pause/*` measures a collection of a live 100 000-node graph
//! (all marked, nothing freed): gort's stop-the-world pause.

use std::cell::RefCell;
use std::rc::Rc;

use criterion::{criterion_group, criterion_main, Criterion};

const NODES: usize = 100_000;

/// The chord target of node `i`: a fixed pseudo-random node.
fn chord(i: usize) -> usize {
    (i.wrapping_mul(2_654_435_761) >> 7) % NODES
}

mod on_gort {
    use gort::gc::{Gc, GcCell, Trace};

    #[derive(Trace)]
    pub struct Node {
        pub id: usize,
        pub edges: GcCell<Vec<Gc<Node>>>,
    }

    pub fn graph() -> Gc<Node> {
        let nodes: Vec<Gc<Node>> = (0..super::NODES)
            .map(|id| {
                Gc::new(Node {
                    id,
                    edges: GcCell::new(Vec::with_capacity(2)),
                })
            })
            .collect();
        for (i, n) in nodes.iter().enumerate() {
            let mut e = n.edges.borrow_mut();
            e.push(nodes[(i + 1) % super::NODES].clone());
            e.push(nodes[super::chord(i)].clone());
        }
        nodes[0].clone()
    }
}

// rust-gc's derive (synstructure 0.12) puts its impls inside a `const _`.
#[allow(non_local_definitions)]
mod on_rust_gc {
    use gc::{Finalize, Gc, GcCell, Trace};

    #[derive(Trace, Finalize)]
    pub struct Node {
        pub id: usize,
        pub edges: GcCell<Vec<Gc<Node>>>,
    }

    pub fn graph() -> Gc<Node> {
        let nodes: Vec<Gc<Node>> = (0..super::NODES)
            .map(|id| {
                Gc::new(Node {
                    id,
                    edges: GcCell::new(Vec::with_capacity(2)),
                })
            })
            .collect();
        for (i, n) in nodes.iter().enumerate() {
            let mut e = n.edges.borrow_mut();
            e.push(nodes[(i + 1) % super::NODES].clone());
            e.push(nodes[super::chord(i)].clone());
        }
        nodes[0].clone()
    }
}

struct RcNode {
    id: usize,
    edges: RefCell<Vec<Rc<RcNode>>>,
}

/// The same graph on `Rc`; returns every node so the caller can break the
/// cycles (clear every edge list) before dropping.
fn rc_graph() -> Vec<Rc<RcNode>> {
    let nodes: Vec<Rc<RcNode>> = (0..NODES)
        .map(|id| {
            Rc::new(RcNode {
                id,
                edges: RefCell::new(Vec::with_capacity(2)),
            })
        })
        .collect();
    for (i, n) in nodes.iter().enumerate() {
        let mut e = n.edges.borrow_mut();
        e.push(nodes[(i + 1) % NODES].clone());
        e.push(nodes[chord(i)].clone());
    }
    nodes
}

fn alloc_and_collect(c: &mut Criterion) {
    let mut g = c.benchmark_group("gc_graph_100k");
    g.sample_size(10);
    g.bench_function("gort", |b| {
        b.iter(|| {
            let root = on_gort::graph();
            assert_eq!(root.id, 0);
            drop(root);
            gort::gc::collect();
        })
    });
    g.bench_function("rust_gc", |b| {
        b.iter(|| {
            let root = on_rust_gc::graph();
            assert_eq!(root.id, 0);
            drop(root);
            gc::force_collect();
        })
    });
    g.bench_function("rc_manual_cycle_breaking", |b| {
        b.iter(|| {
            let nodes = rc_graph();
            assert_eq!(nodes[0].id, 0);
            for n in &nodes {
                n.edges.borrow_mut().clear();
            }
            drop(nodes);
        })
    });
    g.finish();
}

/// Prints gort's own pause record (`MemStats::pause_ns`) for 50 cycles
/// over a live 100 000-node graph: min, median, max.
fn report_pauses() {
    let root = on_gort::graph();
    gort::gc::collect();
    let first = gort::gc::read_mem_stats().num_gc as usize;
    for _ in 0..50 {
        gort::gc::collect();
    }
    let s = gort::gc::read_mem_stats();
    let mut p: Vec<u64> = (first..s.num_gc as usize)
        .map(|n| s.pause_ns[n % 256])
        .collect();
    p.sort_unstable();
    eprintln!(
        "gort pause, {} live objects, {} cycles: min {:.3} ms, median {:.3} ms, max {:.3} ms",
        s.heap_objects,
        p.len(),
        p[0] as f64 / 1e6,
        p[p.len() / 2] as f64 / 1e6,
        p[p.len() - 1] as f64 / 1e6
    );
    drop(root);
}

fn pause(c: &mut Criterion) {
    report_pauses();
    let mut g = c.benchmark_group("gc_pause_live_100k");
    g.sample_size(20);
    g.bench_function("gort", |b| {
        let root = on_gort::graph();
        gort::gc::collect();
        b.iter(gort::gc::collect);
        drop(root);
    });
    g.bench_function("rust_gc", |b| {
        let root = on_rust_gc::graph();
        gc::force_collect();
        b.iter(gc::force_collect);
        drop(root);
    });
    g.finish();
}

/// The cost of the handle and cell operations on one in-heap node with two
/// edges: `GcCell` is a reader-writer lock, and its mutable borrow roots
/// and unroots the two handles inside; rust-gc's is a `RefCell`-like flag
/// doing the same rooting.
fn cell_ops(c: &mut Criterion) {
    let mut g = c.benchmark_group("gc_cell_ops");
    let gort_node = on_gort::graph();
    let rust_node = on_rust_gc::graph();
    g.bench_function("gort/borrow", |b| b.iter(|| gort_node.edges.borrow().len()));
    g.bench_function("rust_gc/borrow", |b| {
        b.iter(|| rust_node.edges.borrow().len())
    });
    g.bench_function("gort/borrow_mut", |b| {
        b.iter(|| gort_node.edges.borrow_mut().len())
    });
    g.bench_function("rust_gc/borrow_mut", |b| {
        b.iter(|| rust_node.edges.borrow_mut().len())
    });
    g.bench_function("gort/clone_rooted", |b| b.iter(|| gort_node.clone()));
    g.bench_function("rust_gc/clone_rooted", |b| b.iter(|| rust_node.clone()));
    g.bench_function("gort/clone_unrooted", |b| {
        b.iter(|| gort_node.edges.borrow()[0].clone())
    });
    g.bench_function("rust_gc/clone_unrooted", |b| {
        b.iter(|| rust_node.edges.borrow()[0].clone())
    });
    g.finish();
    drop(gort_node);
    drop(rust_node);
    gort::gc::collect();
    gc::force_collect();
}

criterion_group!(benches, alloc_and_collect, pause, cell_ops);
criterion_main!(benches);
