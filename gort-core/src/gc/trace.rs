//! The `Trace` trait: how the collector (and the rooting bookkeeping) finds
//! the [`Gc`](super::Gc) handles inside a value — Go's pointer bitmaps
//! (the type's `gcdata`), written by `#[derive(Trace)]` instead of the
//! compiler.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::ptr::NonNull;

use super::ptr::{Erased, GcBox, Header};

/// A value the collector can look into: it visits every [`Gc`](super::Gc)
/// the value owns (directly, or inside fields, boxes and collections).
///
/// Derive it with `#[derive(Trace)]` (from `gort::gc`); a field that holds
/// no `Gc` can be left out with `#[gc(skip)]`. Leaf types (integers,
/// `String`, ...) and std containers have implementations here.
///
/// # Safety
///
/// Both methods must visit the *same* set of `Gc` handles (a field visited
/// by one and not the other lets the collector free an object a live value
/// still points to). Visiting fewer handles than the value owns — an
/// `#[gc(skip)]` field, or the empty impls for `Arc`/`Rc` — is sound: the
/// skipped handles stay roots, so their objects live at least as long as
/// the handle (a cycle through them is leaked, never freed early). Neither
/// method may panic, allocate `Gc`s or touch other `Gc`s.
pub unsafe trait Trace {
    /// Reports every `Gc` in `self` to the collector (the mark phase).
    fn trace(&self, tracer: &mut Tracer);

    /// Applies a rooting change to every `Gc` in `self`: called by the heap
    /// when a value moves into the GC heap (its handles stop being roots),
    /// when a [`GcCell`](super::GcCell) in the heap is borrowed mutably or
    /// released, and before an unreachable value is dropped. Implementations
    /// forward `r` to each field; only the heap creates a [`Rooting`].
    fn rooting(&self, r: Rooting);
}

/// The mark phase's state: the current cycle's mark and the grey objects
/// still to scan. Handed to [`Trace::trace`].
pub struct Tracer {
    pub(super) epoch: u32,
    pub(super) grey: Vec<Grey>,
}

/// A marked object still to scan: its header (offset 0 of its `GcBox`) and
/// the function that traces its value. A function pointer rather than the
/// `dyn Trace` pointer: `Gc<T>: Trace` then needs only `T: Trace`, so
/// derived impls of generic types need no `Send + Sync + 'static` bounds.
pub(super) struct Grey {
    obj: NonNull<Header>,
    trace: unsafe fn(NonNull<Header>, &mut Tracer),
}

impl Tracer {
    /// Marks `obj` and queues it to be scanned, unless this cycle already
    /// marked it. An explicit stack, not recursion: a 100 000-long list
    /// must not overflow the collector's stack.
    #[inline]
    pub(super) fn mark<T: Trace>(&mut self, obj: NonNull<GcBox<T>>) {
        // SAFETY: every object a traced handle points to is live (it is in
        // the heap's list: handles to swept objects are all dead, and dead
        // handles are never traced), and the collector holds the heap lock.
        let header = unsafe { &(*obj.as_ptr()).header };
        if header.mark_is(self.epoch) {
            return;
        }
        header.set_mark(self.epoch);
        self.grey.push(Grey {
            obj: obj.cast(),
            trace: trace_value::<T>,
        });
    }

    /// `mark` for an object of the heap's list.
    pub(super) fn mark_erased(&mut self, obj: NonNull<Erased>) {
        // SAFETY: as in `mark`.
        let header = unsafe { &(*obj.as_ptr()).header };
        if header.mark_is(self.epoch) {
            return;
        }
        header.set_mark(self.epoch);
        // SAFETY: as in `mark`.
        unsafe { (*obj.as_ptr()).value.trace(self) };
    }

    /// Scans grey objects until none are left.
    pub(super) fn drain(&mut self) {
        while let Some(g) = self.grey.pop() {
            // SAFETY: `g.trace` was instantiated for the object's type, and
            // a grey object is live (see `mark`).
            unsafe { (g.trace)(g.obj, self) };
        }
    }
}

/// Traces the value of the `GcBox<T>` whose header is at `obj`.
///
/// # Safety
/// `obj` is the header of a live `GcBox<T>`, and the heap lock is held, so
/// no traced value is being mutated (mutably borrowed `GcCell`s are skipped
/// by their own `trace`).
unsafe fn trace_value<T: Trace>(obj: NonNull<Header>, tracer: &mut Tracer) {
    // SAFETY: `GcBox` is `repr(C)` with the header first, so the header's
    // address is the box's; the caller guarantees the box is live.
    unsafe { (*obj.cast::<GcBox<T>>().as_ptr()).value.trace(tracer) }
}

/// A rooting change the heap applies to every handle in a value (see
/// [`Trace::rooting`]). Opaque: user code only forwards it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rooting(pub(super) RootOp);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RootOp {
    /// The value left the heap (a `GcCell` in the heap is borrowed
    /// mutably): its handles become roots.
    Root,
    /// The value entered the heap: its handles stop being roots.
    Unroot,
    /// The value is unreachable and about to be dropped: its handles become
    /// dead (dereferencing one panics), so no `Drop` can reach a freed
    /// object.
    Kill,
}

/// Implements `Trace` as "holds no `Gc`" for leaf types.
macro_rules! empty_trace {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: the type holds no `Gc`; both methods visit nothing.
        unsafe impl Trace for $t {
            #[inline]
            fn trace(&self, _: &mut Tracer) {}
            #[inline]
            fn rooting(&self, _: Rooting) {}
        }
    )*};
}

empty_trace!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    &'static str,
    std::time::Duration,
    std::time::Instant,
    std::time::SystemTime,
    std::path::PathBuf,
    std::ffi::OsString,
    std::net::SocketAddr,
    std::net::IpAddr,
    std::num::NonZeroU32,
    std::num::NonZeroU64,
    std::num::NonZeroUsize,
    std::sync::atomic::AtomicBool,
    std::sync::atomic::AtomicUsize,
    std::sync::atomic::AtomicU64,
    std::sync::atomic::AtomicI64,
);

// SAFETY: holds no `Gc`.
unsafe impl<T: ?Sized> Trace for std::marker::PhantomData<T> {
    fn trace(&self, _: &mut Tracer) {}
    fn rooting(&self, _: Rooting) {}
}

// SAFETY: both methods visit nothing. A `Gc` inside an `Arc` stays a root
// for the Arc's lifetime (it is shared with code outside the heap, which
// must be able to keep using it); cycles through an `Arc` are leaked.
unsafe impl<T: ?Sized> Trace for std::sync::Arc<T> {
    fn trace(&self, _: &mut Tracer) {}
    fn rooting(&self, _: Rooting) {}
}

// SAFETY: as for `Arc`.
unsafe impl<T: ?Sized> Trace for std::rc::Rc<T> {
    fn trace(&self, _: &mut Tracer) {}
    fn rooting(&self, _: Rooting) {}
}

// SAFETY: forwards both methods to the boxed value.
unsafe impl<T: Trace + ?Sized> Trace for Box<T> {
    fn trace(&self, t: &mut Tracer) {
        (**self).trace(t)
    }
    fn rooting(&self, r: Rooting) {
        (**self).rooting(r)
    }
}

// SAFETY: forwards both methods to the contained value, if any.
unsafe impl<T: Trace> Trace for Option<T> {
    fn trace(&self, t: &mut Tracer) {
        if let Some(v) = self {
            v.trace(t)
        }
    }
    fn rooting(&self, r: Rooting) {
        if let Some(v) = self {
            v.rooting(r)
        }
    }
}

// SAFETY: forwards both methods to whichever side is present.
unsafe impl<T: Trace, E: Trace> Trace for Result<T, E> {
    fn trace(&self, t: &mut Tracer) {
        match self {
            Ok(v) => v.trace(t),
            Err(e) => e.trace(t),
        }
    }
    fn rooting(&self, r: Rooting) {
        match self {
            Ok(v) => v.rooting(r),
            Err(e) => e.rooting(r),
        }
    }
}

// SAFETY: forwards both methods to every element.
unsafe impl<T: Trace, const N: usize> Trace for [T; N] {
    fn trace(&self, t: &mut Tracer) {
        self.iter().for_each(|v| v.trace(t))
    }
    fn rooting(&self, r: Rooting) {
        self.iter().for_each(|v| v.rooting(r))
    }
}

// SAFETY: forwards both methods to every element.
unsafe impl<T: Trace> Trace for [T] {
    fn trace(&self, t: &mut Tracer) {
        self.iter().for_each(|v| v.trace(t))
    }
    fn rooting(&self, r: Rooting) {
        self.iter().for_each(|v| v.rooting(r))
    }
}

/// Sequences: both methods visit every element.
macro_rules! seq_trace {
    ($($c:ident),*) => {$(
        // SAFETY: both methods visit every element.
        unsafe impl<T: Trace> Trace for $c<T> {
            fn trace(&self, t: &mut Tracer) {
                self.iter().for_each(|v| v.trace(t))
            }
            fn rooting(&self, r: Rooting) {
                self.iter().for_each(|v| v.rooting(r))
            }
        }
    )*};
}

seq_trace!(Vec, VecDeque, LinkedList, BTreeSet, BinaryHeap);

// SAFETY: both methods visit every element.
unsafe impl<T: Trace, S> Trace for HashSet<T, S> {
    fn trace(&self, t: &mut Tracer) {
        self.iter().for_each(|v| v.trace(t))
    }
    fn rooting(&self, r: Rooting) {
        self.iter().for_each(|v| v.rooting(r))
    }
}

// SAFETY: both methods visit every key and every value.
unsafe impl<K: Trace, V: Trace, S> Trace for HashMap<K, V, S> {
    fn trace(&self, t: &mut Tracer) {
        for (k, v) in self {
            k.trace(t);
            v.trace(t);
        }
    }
    fn rooting(&self, r: Rooting) {
        for (k, v) in self {
            k.rooting(r);
            v.rooting(r);
        }
    }
}

// SAFETY: both methods visit every key and every value.
unsafe impl<K: Trace, V: Trace> Trace for BTreeMap<K, V> {
    fn trace(&self, t: &mut Tracer) {
        for (k, v) in self {
            k.trace(t);
            v.trace(t);
        }
    }
    fn rooting(&self, r: Rooting) {
        for (k, v) in self {
            k.rooting(r);
            v.rooting(r);
        }
    }
}

/// Tuples: both methods visit every element.
macro_rules! tuple_trace {
    ($(($($n:tt $t:ident),+)),* $(,)?) => {$(
        // SAFETY: both methods visit every element.
        unsafe impl<$($t: Trace),+> Trace for ($($t,)+) {
            fn trace(&self, t: &mut Tracer) {
                $(self.$n.trace(t);)+
            }
            fn rooting(&self, r: Rooting) {
                $(self.$n.rooting(r);)+
            }
        }
    )*};
}

tuple_trace!(
    (0 A),
    (0 A, 1 B),
    (0 A, 1 B, 2 C),
    (0 A, 1 B, 2 C, 3 D),
    (0 A, 1 B, 2 C, 3 D, 4 E),
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F),
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G),
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H),
);
