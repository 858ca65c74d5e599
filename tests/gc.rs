//! The GC through the facade: `#[derive(Trace)]`, and `Gc`s shared by
//! tasks on several Ps while cycles run. The heap is process-wide and
//! these tests run in parallel: each counts only its own objects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use gort::gc::{self, Gc, GcCell, Trace};

/// Counts drops in a shared counter.
#[derive(Trace)]
struct Tracked {
    #[gc(skip)]
    drops: Arc<AtomicUsize>,
    payload: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Trace)]
struct Named {
    name: String,
    tracked: Gc<Tracked>,
    children: GcCell<Vec<Gc<Named>>>,
}

#[derive(Trace)]
struct Pair(Gc<Tracked>, #[gc(skip)] u32, Option<Gc<Tracked>>);

#[derive(Trace)]
enum Shape<T> {
    Leaf(T),
    Link { to: Gc<Tracked>, weight: u8 },
    Nothing,
}

fn tracked(drops: &Arc<AtomicUsize>, payload: u64) -> Gc<Tracked> {
    Gc::new(Tracked {
        drops: drops.clone(),
        payload,
    })
}

#[test]
fn derived_trace_visits_named_tuple_and_enum_fields() {
    let drops = Arc::new(AtomicUsize::new(0));
    let a = Gc::new(Named {
        name: "a".into(),
        tracked: tracked(&drops, 1),
        children: GcCell::new(vec![]),
    });
    let b = Gc::new(Named {
        name: "b".into(),
        tracked: tracked(&drops, 2),
        children: GcCell::new(vec![a.clone()]),
    });
    a.children.borrow_mut().push(b.clone()); // a cycle
    let pair = Gc::new(Pair(tracked(&drops, 3), 7, Some(tracked(&drops, 4))));
    let shapes = Gc::new(GcCell::new(HashMap::from([
        (1u8, Shape::Leaf(5u64)),
        (
            2,
            Shape::Link {
                to: tracked(&drops, 6),
                weight: 1,
            },
        ),
        (3, Shape::Nothing),
    ])));
    drop(b);
    gc::collect();
    assert_eq!(drops.load(Ordering::SeqCst), 0, "everything is reachable");
    assert_eq!(a.children.borrow()[0].name, "b");
    assert_eq!(a.children.borrow()[0].tracked.payload, 2);
    assert_eq!(pair.0.payload + pair.2.as_ref().unwrap().payload, 7);
    assert_eq!(pair.1, 7);
    match &shapes.borrow()[&2] {
        Shape::Link { to, weight } => assert_eq!((to.payload, *weight), (6, 1)),
        _ => unreachable!(),
    }
    drop((a, pair, shapes));
    gc::collect();
    assert_eq!(drops.load(Ordering::SeqCst), 5);
}

#[derive(Trace)]
struct Node {
    id: u64,
    next: GcCell<Option<Gc<Node>>>,
}

/// Four tasks on two Ps each build rings, publish them in a shared table,
/// read each other's rings and unpublish them, with collections forced in
/// between; every reachable ring stays intact.
#[test]
fn four_tasks_on_two_ps_keep_every_reachable_value_intact() {
    const RING: u64 = 50;
    const ROUNDS: u64 = 40;
    let rt = gort::runtime::Builder::new().procs(2).build().unwrap();
    let table: Gc<GcCell<Vec<Gc<Node>>>> = Gc::new(GcCell::new(Vec::new()));
    let walked = rt.block_on(async move {
        let hs: Vec<_> = (0..4u64)
            .map(|t| {
                let table = table.clone();
                gort::spawn(async move {
                    let mut walked = 0u64;
                    for round in 0..ROUNDS {
                        let base = (t * ROUNDS + round) * RING;
                        let first = Gc::new(Node {
                            id: base,
                            next: GcCell::new(None),
                        });
                        let mut prev = first.clone();
                        for i in 1..RING {
                            let n = Gc::new(Node {
                                id: base + i,
                                next: GcCell::new(None),
                            });
                            *prev.next.borrow_mut() = Some(n.clone());
                            prev = n;
                        }
                        *prev.next.borrow_mut() = Some(first.clone());
                        drop(prev);
                        table.borrow_mut().push(first);
                        gort::yield_now().await;
                        if round % 3 == t % 3 {
                            gc::collect();
                        }
                        // Walk every published ring.
                        let rings: Vec<Gc<Node>> = table.borrow().clone();
                        for start in rings {
                            let mut cur = start.clone();
                            for _ in 0..RING {
                                let next = cur.next.borrow().clone().unwrap();
                                let want = if (cur.id + 1) % RING == 0 {
                                    cur.id + 1 - RING
                                } else {
                                    cur.id + 1
                                };
                                assert_eq!(next.id, want);
                                cur = next;
                            }
                            assert!(Gc::ptr_eq(&cur, &start));
                            walked += 1;
                        }
                        gort::yield_now().await;
                        let mut tb = table.borrow_mut();
                        if let Some(i) = tb.iter().position(|r| r.id / RING / ROUNDS == t) {
                            tb.swap_remove(i);
                        }
                    }
                    walked
                })
            })
            .collect();
        let mut walked = 0;
        for h in hs {
            walked += h.await.unwrap();
        }
        assert!(table.borrow().is_empty());
        walked
    });
    assert!(
        walked >= 4 * ROUNDS,
        "each round walks at least its own ring"
    );
}

mod renamed {
    pub use gort as runtime_crate;
}

/// `#[gc(crate = "...")]` names the gort crate by another path.
#[derive(Trace)]
#[gc(crate = "renamed::runtime_crate")]
struct ViaOtherPath {
    inner: Gc<u32>,
}

#[test]
fn derive_accepts_a_crate_path() {
    let v = Gc::new(ViaOtherPath {
        inner: Gc::new(5u32),
    });
    gc::collect();
    assert_eq!(*v.inner, 5);
}
