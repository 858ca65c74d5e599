//! The process-wide GC heap: allocation, the pacer (Go's `gcController`:
//! GOGC and the memory limit), the stop-the-world mark-sweep cycle
//! (Go's `gcStart` → `gcMark` → `gcSweep`), `MemStats`, `gctrace`.

use std::any::Any;
use std::collections::HashMap;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::{OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;
#[cfg(not(miri))]
use std::time::{SystemTime, UNIX_EPOCH};

use super::finalizer::{self, Finalizer};
use super::ptr::{new_header, Erased, GcBox};
use super::trace::{RootOp, Rooting, Trace, Tracer};

/// Go's `heapminimum` at GOGC=100: no automatic cycle before the heap holds
/// 4 MiB (scaled by GOGC/100, as in Go), so small programs never collect.
const HEAP_MINIMUM: u64 = 4 << 20;

/// How close to the memory limit a cycle starts: at 95% of it, leaving
/// room for what is allocated while the heap grows towards the limit.
const LIMIT_TRIGGER_PERCENT: u64 = 95;

/// Headroom the memory limit always leaves above the live heap, so a live
/// heap at or over the limit does not collect on every allocation (Go caps
/// the GC's CPU share for the same reason): 1/16 of live, at least 64 KiB.
const LIMIT_MIN_HEADROOM: u64 = 64 << 10;

/// The heap. The `world` lock is the stop-the-world: a cycle holds it for
/// writing; allocation takes it for writing (to link the object); the rare
/// operations that can make an object a root again (cloning a handle read
/// from inside the heap, rooting or unrooting a `GcCell`'s contents) take
/// it for reading. Everything else — dereferencing, cloning and dropping
/// rooted handles, shared `GcCell` borrows — never touches it.
pub(crate) struct Heap {
    world: RwLock<State>,
    /// When the heap was created: gctrace's `@1.204s`.
    start: Instant,
    gctrace: bool,
}

/// An object pointer the heap's lists may hold across threads.
#[derive(Clone, Copy)]
pub(crate) struct ObjPtr(pub(crate) NonNull<Erased>);
// SAFETY: objects are `Send + Sync` (`dyn Trace + Send + Sync`); the heap
// lock serialises the list itself.
unsafe impl Send for ObjPtr {}
// SAFETY: as above.
unsafe impl Sync for ObjPtr {}

pub(crate) struct State {
    /// Every object (Go's mspans, as a list).
    objects: Vec<ObjPtr>,
    /// Finalizers by object address (Go's specials).
    finalizers: HashMap<usize, (ObjPtr, OnlyOwned<Finalizer>)>,
    /// The current cycle's mark; never 0.
    epoch: u32,
    gc_percent: Option<u32>,
    mem_limit: u64,
    /// Bytes of objects in the heap (`MemStats::heap_alloc`).
    heap_alloc: u64,
    /// Start the next cycle when `heap_alloc` reaches this.
    next_gc: u64,
    /// `heap_alloc` after the last cycle (Go's heapMarked).
    heap_live: u64,
    total_alloc: u64,
    mallocs: u64,
    frees: u64,
    num_gc: u32,
    num_forced_gc: u32,
    pause_total_ns: u64,
    pause_ns: [u64; 256],
    last_gc: u64,
}

/// A value reachable only by ownership (no `&` access at all), so sharing
/// a `&OnlyOwned` across threads shares nothing: `Sync` for any `T: Send`
/// (std's unstable `Exclusive`). Lets a `Send`-only finalizer sit in the
/// `RwLock`ed state.
struct OnlyOwned<T>(T);
// SAFETY: no method takes `&self`; the value is only moved out.
unsafe impl<T: Send> Sync for OnlyOwned<T> {}

static HEAP: OnceLock<Result<Heap, String>> = OnceLock::new();

/// The heap, created on first use from `GORT_GOGC`, `GORT_MEMLIMIT` and
/// `GORT_DEBUG`.
///
/// # Panics
/// If one of them is invalid (`configure_from_env` reports it as an error).
pub(crate) fn heap() -> &'static Heap {
    match HEAP.get_or_init(|| Heap::from_env().map_err(|e| e.to_string())) {
        Ok(h) => h,
        Err(msg) => panic!("gort::gc: {msg}"),
    }
}

/// Creates the heap from the environment now, or reports why it cannot be.
pub(crate) fn configure_from_env() -> io::Result<()> {
    match HEAP.get_or_init(|| Heap::from_env().map_err(|e| e.to_string())) {
        Ok(_) => Ok(()),
        Err(msg) => Err(io::Error::new(io::ErrorKind::InvalidInput, msg.clone())),
    }
}

impl Heap {
    fn from_env() -> io::Result<Heap> {
        use crate::config;
        let gc_percent = config::parse_gogc(std::env::var_os("GORT_GOGC").as_deref())?;
        let mem_limit = config::parse_memlimit(std::env::var_os("GORT_MEMLIMIT").as_deref())?;
        let gctrace = config::debug_from_env()?.gctrace.unwrap_or(false);
        let mut st = State {
            objects: Vec::new(),
            finalizers: HashMap::new(),
            epoch: 1,
            gc_percent,
            mem_limit,
            heap_alloc: 0,
            next_gc: 0,
            heap_live: 0,
            total_alloc: 0,
            mallocs: 0,
            frees: 0,
            num_gc: 0,
            num_forced_gc: 0,
            pause_total_ns: 0,
            pause_ns: [0; 256],
            last_gc: 0,
        };
        st.next_gc = st.goal();
        Ok(Heap {
            world: RwLock::new(st),
            start: Instant::now(),
            gctrace,
        })
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.world.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The heap lock for reading: held while an object may become a root
    /// again, so no cycle is counting roots meanwhile.
    pub(crate) fn world_read(&self) -> RwLockReadGuard<'_, State> {
        self.world.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Go's `mallocgc`: links a new object with one root and unroots the
    /// handles inside it. Returns the object and whether the heap reached
    /// its goal: the caller then makes the handle that owns the root and
    /// calls `collect_if_due`, so a panicking `Drop` in that cycle unwinds
    /// through the handle (releasing the root) instead of leaking it.
    pub(crate) fn allocate<T: Trace + Send + Sync + 'static>(
        &self,
        value: T,
    ) -> (NonNull<GcBox<T>>, bool) {
        let boxed = Box::new(GcBox {
            header: new_header(),
            value,
        });
        let size = std::mem::size_of_val(&*boxed) as u64;
        let ptr = NonNull::from(Box::leak(boxed));
        let mut st = self.write();
        // The value's handles stop being roots only now, under the lock and
        // with the new object (a root) linked: a cycle sees either the
        // handles as roots or the object holding them as one.
        // SAFETY: the object was just created and this thread owns it.
        unsafe { (*ptr.as_ptr()).value.rooting(Rooting(RootOp::Unroot)) };
        st.objects.push(ObjPtr(ptr));
        st.heap_alloc += size;
        st.total_alloc += size;
        st.mallocs += 1;
        (ptr, st.heap_alloc >= st.next_gc)
    }

    /// Runs a cycle if the heap is at its goal (after `allocate`).
    pub(crate) fn collect_if_due(&self) {
        let st = self.write();
        self.maybe_collect(st);
    }

    pub(crate) fn set_finalizer(&self, obj: NonNull<Erased>, f: Finalizer) {
        let mut st = self.write();
        st.finalizers.insert(
            obj.as_ptr() as *const () as usize,
            (ObjPtr(obj), OnlyOwned(f)),
        );
    }

    /// `runtime.GC`: a full cycle now.
    pub(crate) fn collect(&self) {
        let st = self.write();
        self.run_cycle(st, true);
    }

    /// One stop-the-world cycle. The pause is the time `st` is held: mark
    /// from the roots, queue finalizers, unlink the unmarked objects. The
    /// unlinked objects are killed and dropped after the lock is released,
    /// on this thread.
    fn run_cycle(&self, mut st: RwLockWriteGuard<'_, State>, forced: bool) {
        let t0 = Instant::now();
        let before = st.heap_alloc;
        st.epoch = match st.epoch.wrapping_add(1) {
            0 => 1,
            e => e,
        };
        let mut tracer = Tracer {
            epoch: st.epoch,
            grey: Vec::new(),
        };
        // Mark: roots are objects with rooted handles outside the heap.
        for obj in &st.objects {
            // SAFETY: every object in the list is live.
            let h = unsafe { &(*obj.0.as_ptr()).header };
            if h.roots.load(std::sync::atomic::Ordering::Acquire) > 0 {
                tracer.mark_erased(obj.0);
            }
        }
        tracer.drain();
        // Finalizers of unreachable objects: queue them, with a root each
        // (the handle the finalizer receives), and keep everything they
        // reach alive this cycle.
        let epoch = st.epoch;
        let ready: Vec<usize> = st
            .finalizers
            .iter()
            // SAFETY: objects with finalizers are in the list, so live.
            .filter(|(_, (p, _))| !unsafe { &(*p.0.as_ptr()).header }.mark_is(epoch))
            .map(|(k, _)| *k)
            .collect();
        let mut queued = Vec::with_capacity(ready.len());
        for k in ready {
            if let Some((p, f)) = st.finalizers.remove(&k) {
                // SAFETY: as above.
                unsafe { &(*p.0.as_ptr()).header }
                    .roots
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracer.mark_erased(p.0);
                queued.push(f.0);
            }
        }
        tracer.drain();
        // Sweep: unlink the unmarked.
        let mut dead = Vec::new();
        let mut freed_bytes = 0u64;
        st.objects.retain(|obj| {
            // SAFETY: every object in the list is live.
            let b = unsafe { &*obj.0.as_ptr() };
            if b.header.mark_is(epoch) {
                true
            } else {
                freed_bytes += std::mem::size_of_val(b) as u64;
                dead.push(*obj);
                false
            }
        });
        st.heap_alloc -= freed_bytes;
        st.heap_live = st.heap_alloc;
        st.frees += dead.len() as u64;
        st.next_gc = st.goal();
        let pause = t0.elapsed().as_nanos() as u64;
        let idx = st.num_gc as usize % 256;
        st.pause_ns[idx] = pause;
        st.num_gc += 1;
        if forced {
            st.num_forced_gc += 1;
        }
        st.pause_total_ns += pause;
        st.last_gc = self.unix_now_ns();
        let (num_gc, after, goal) = (st.num_gc, st.heap_alloc, st.next_gc);
        drop(st);

        finalizer::queue(queued);
        let freed = dead.len();
        // Kill every handle in the unreachable values first, so that no
        // value's Drop can reach another (possibly already freed) one.
        for obj in &dead {
            // SAFETY: unreachable and unlinked: this thread is the only one
            // that can reach the object.
            unsafe { (*obj.0.as_ptr()).value.rooting(Rooting(RootOp::Kill)) };
        }
        // Drops may panic, collect or allocate (both take the lock anew).
        // Every value is dropped and freed whatever the others do; the
        // first panic then propagates (out of `collect` or `Gc::new`).
        let mut first_panic = None;
        for obj in dead {
            // SAFETY: allocated by `Box` in `allocate`, unlinked and killed
            // by this cycle, so no live handle points to it; `dead` yields
            // it once, so it is dropped exactly once.
            let boxed = unsafe { Box::from_raw(obj.0.as_ptr()) };
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| drop(boxed))) {
                match first_panic {
                    None => first_panic = Some(payload),
                    Some(_) => drop_payload(payload),
                }
            }
        }
        if self.gctrace {
            eprintln!(
                "gc {num_gc} @{:.3}s: {:.3} ms pause, {}->{} MB, {} MB goal, {freed} objects freed",
                self.start.elapsed().as_secs_f64(),
                pause as f64 / 1e6,
                before >> 20,
                after >> 20,
                if goal == u64::MAX {
                    "off".to_string()
                } else {
                    (goal >> 20).to_string()
                },
            );
        }
        if let Some(payload) = first_panic {
            panic::resume_unwind(payload);
        }
    }

    /// Nanoseconds since the UNIX epoch (`MemStats::last_gc`). Under Miri,
    /// whose isolation has no wall clock, nanoseconds since the heap was
    /// created (plus one, so it is never 0 after a cycle).
    fn unix_now_ns(&self) -> u64 {
        #[cfg(not(miri))]
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        #[cfg(miri)]
        let now = self.start.elapsed().as_nanos() as u64 + 1;
        now
    }

    pub(crate) fn set_gc_percent(&self, p: Option<u32>) -> Option<u32> {
        let mut st = self.write();
        let old = std::mem::replace(&mut st.gc_percent, p);
        st.next_gc = st.goal();
        self.maybe_collect(st);
        old
    }

    pub(crate) fn set_memory_limit(&self, limit: u64) -> u64 {
        let mut st = self.write();
        let old = std::mem::replace(&mut st.mem_limit, limit);
        st.next_gc = st.goal();
        self.maybe_collect(st);
        old
    }

    fn maybe_collect(&self, st: RwLockWriteGuard<'_, State>) {
        if st.heap_alloc >= st.next_gc {
            self.run_cycle(st, false);
        }
    }

    pub(crate) fn mem_stats(&self) -> super::MemStats {
        let st = self.world_read();
        super::MemStats {
            heap_alloc: st.heap_alloc,
            total_alloc: st.total_alloc,
            heap_objects: st.objects.len() as u64,
            mallocs: st.mallocs,
            frees: st.frees,
            num_gc: st.num_gc,
            num_forced_gc: st.num_forced_gc,
            pause_total_ns: st.pause_total_ns,
            pause_ns: st.pause_ns,
            last_gc: st.last_gc,
            next_gc: st.next_gc,
            gc_percent: st.gc_percent,
            memory_limit: st.mem_limit,
        }
    }
}

/// Drops the payload of a second panic in one sweep (the panic hook has
/// reported it); a payload whose own `Drop` panics is leaked rather than
/// let out of the sweep.
fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(|| drop(payload))) {
        std::mem::forget(again);
    }
}

impl State {
    /// Go's pacer, without its concurrency: the GOGC goal
    /// `live × (1 + GOGC/100)` (at least `HEAP_MINIMUM × GOGC/100`), lowered
    /// to 95% of the memory limit, but never closer to the live heap than
    /// `LIMIT_MIN_HEADROOM`. `u64::MAX`: no automatic cycle.
    fn goal(&self) -> u64 {
        let gogc = match self.gc_percent {
            Some(p) => {
                let p = u64::from(p);
                let grown = self
                    .heap_live
                    .saturating_add(self.heap_live.saturating_mul(p) / 100);
                grown.max(HEAP_MINIMUM.saturating_mul(p) / 100)
            }
            None => u64::MAX,
        };
        let limit = if self.mem_limit == u64::MAX {
            u64::MAX
        } else {
            let trigger = self.mem_limit / 100 * LIMIT_TRIGGER_PERCENT;
            let floor = self
                .heap_live
                .saturating_add((self.heap_live / 16).max(LIMIT_MIN_HEADROOM));
            trigger.max(floor)
        };
        gogc.min(limit)
    }
}
