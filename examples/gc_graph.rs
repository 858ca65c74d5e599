//! Builds and drops cyclic graphs in a loop across tasks, with the GC
//! collecting them, and prints `read_mem_stats` after every round.
//!
//! ```text
//! cargo run --release --example gc_graph
//! GORT_DEBUG=gctrace=1 GORT_GOGC=50 cargo run --release --example gc_graph
//! ```

use gort::gc::{self, Gc, GcCell, Trace};

/// A graph node: a payload and edges to other nodes (cycles allowed).
#[derive(Trace)]
struct Node {
    id: u64,
    edges: GcCell<Vec<Gc<Node>>>,
}

/// Builds a graph of `n` nodes: a ring plus a few random chords, so it is
/// one big cycle that only a tracing collector can free. Returns its sum of
/// ids, walked through the heap.
fn build_graph(seed: u64, n: u64) -> u64 {
    let nodes: Vec<Gc<Node>> = (0..n)
        .map(|id| {
            Gc::new(Node {
                id,
                edges: GcCell::new(Vec::new()),
            })
        })
        .collect();
    let mut x = seed | 1;
    for (i, node) in nodes.iter().enumerate() {
        let mut e = node.edges.borrow_mut();
        e.push(nodes[(i + 1) % nodes.len()].clone());
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        e.push(nodes[(x % n) as usize].clone());
    }
    // Walk the ring from node 0 through the heap.
    let mut sum = 0;
    let mut cur = nodes[0].clone();
    drop(nodes); // only `cur` roots the graph now
    for _ in 0..n {
        sum += cur.id;
        let next = cur.edges.borrow()[0].clone();
        cur = next;
    }
    sum
}

#[gort::main(procs = 2)]
async fn main() {
    const TASKS: u64 = 4;
    const NODES: u64 = 10_000;
    for round in 0..10u64 {
        let hs: Vec<_> = (0..TASKS)
            .map(|t| gort::spawn(async move { build_graph(round * TASKS + t, NODES) }))
            .collect();
        for h in hs {
            assert_eq!(h.await.unwrap(), NODES * (NODES - 1) / 2);
        }
        let s = gc::read_mem_stats();
        println!(
            "round {round}: heap_alloc={} KiB heap_objects={} mallocs={} frees={} num_gc={} \
             pause_total={:.3} ms next_gc={} KiB",
            s.heap_alloc >> 10,
            s.heap_objects,
            s.mallocs,
            s.frees,
            s.num_gc,
            s.pause_total_ns as f64 / 1e6,
            s.next_gc >> 10,
        );
    }
    gc::collect();
    let s = gc::read_mem_stats();
    println!(
        "after collect(): heap_objects={} num_gc={} frees={}",
        s.heap_objects, s.num_gc, s.frees
    );
    assert_eq!(s.heap_objects, 0, "every graph was garbage");
}
