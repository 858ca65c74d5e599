//! The set of Ps (Go's `allp`), resizable on a live runtime.
//!
//! Go reallocates `allp` in `procresize` while the world is stopped. gort
//! keeps a fixed array of [`MAX_PROCS`](crate::runtime::MAX_PROCS) lazily
//! initialised slots instead, so a `&P` handed out earlier stays valid
//! forever and readers never take a lock: `len` says how many are in use.
//! A P beyond `len` is dead (Go's `_Pdead`): empty, off the idle list,
//! never handed to an M. Only `set_gomaxprocs`, with every P idle, changes
//! `len` (see `sched.rs`).

use std::ops::Index;
use std::sync::atomic::{
    AtomicUsize,
    Ordering::{Acquire, Release},
};
use std::sync::OnceLock;

use crate::processor::P;
use crate::runtime::MAX_PROCS;

pub(crate) struct AllP {
    slots: Box<[OnceLock<P>]>,
    len: AtomicUsize,
}

impl AllP {
    pub(crate) fn new(n: usize) -> AllP {
        let all = AllP {
            slots: (0..MAX_PROCS).map(|_| OnceLock::new()).collect(),
            len: AtomicUsize::new(0),
        };
        all.ensure(n);
        all.len.store(n, Release);
        all
    }

    /// Ps in use.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Acquire)
    }

    /// Makes sure slots `0..n` hold a P.
    pub(crate) fn ensure(&self, n: usize) {
        for s in &self.slots[..n] {
            s.get_or_init(P::new);
        }
    }

    /// Sets the number of Ps in use (the caller has stopped the world and
    /// called `ensure`).
    pub(crate) fn set_len(&self, n: usize) {
        self.len.store(n, Release);
    }

    /// The Ps in use.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &P> {
        self.slots[..self.len()]
            .iter()
            .map(|s| s.get().expect("P in use is initialised"))
    }

    /// Every P ever initialised, dead ones included (shutdown drains them).
    pub(crate) fn iter_all(&self) -> impl Iterator<Item = &P> {
        self.slots.iter().map_while(|s| s.get())
    }
}

impl Index<usize> for AllP {
    type Output = P;

    fn index(&self, i: usize) -> &P {
        self.slots[i].get().expect("P index in use")
    }
}
