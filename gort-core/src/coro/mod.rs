//! Stackful goroutines: `go(f)` runs a plain closure on its own stack, and
//! [`wait`] inside it blocks only that goroutine (Go's `go` statement and
//! `gopark`, for code written in blocking style).
//!
//! # Design
//!
//! To the scheduler a coroutine is an ordinary task: [`go`] spawns a
//! [`CoroFuture`], whose `poll` switches onto the coroutine's stack and
//! comes back when the coroutine finishes (`Ready`) or suspends (`Pending`).
//! Inside, [`wait`] polls a future with the `Context` of the poll that
//! resumed the coroutine; if it is pending, `wait` switches back to the
//! poller (so `CoroFuture::poll` returns `Pending`), and the waker the leaf
//! future registered re-queues the task, whose next poll resumes the stack
//! right after that switch. Nothing in the scheduler knows about stacks:
//! coroutines are counted by `num_goroutine`, appear in task dumps with the
//! wait reason their leaf future recorded, are stolen by idle Ps, get the
//! cooperative budget per poll, and complete through a [`JoinHandle`].
//!
//! The pieces: `stack.rs` (mmap'd stacks with a guard page, and their pool),
//! `switch.rs` (the hand-written context switch for x86_64 and aarch64),
//! `signal.rs` (guard-page faults become "goroutine stack overflow").
//!
//! # Soundness: why spawning a coroutine is `unsafe`
//!
//! A coroutine suspended on one M can be resumed by another M after its
//! task was stolen or its P handed off, so *the OS thread under a coroutine
//! can change at every [`wait`] and [`yield_now`]*. The type system cannot
//! see that: `wait` is a plain function call, so a `!Send` value or a
//! borrow of a thread-local held across it compiles, and the code after it
//! may run on another thread. An earlier `go` was a safe function, and with
//! it safe code raced: 38 of 64 coroutines that held a `thread_local!`
//! `Cell`'s reference across a `wait` resumed on another thread and wrote
//! the first thread's `Cell` while that thread ran other tasks. No safe
//! `go` can both let a coroutine migrate and be sound, so gort makes the
//! choice of the `may` crate: [`go`], [`Builder::spawn`] and
//! [`CoroFuture::new`] are `unsafe fn`s, and their caller promises the
//! contract below. [`wait`] and [`yield_now`] stay safe: inside a coroutine
//! the spawn's contract covers them, and outside one they switch nothing
//! (`wait` blocks the thread, `yield_now` yields it).
//!
//! What the compiler now refuses:
//!
//! ```compile_fail,E0133
//! let _ = gort_core::coro::go(|| ());
//! ```
//!
//! The contract, for all the code the coroutine runs (its closure and every
//! function it calls, destructors included). Call a *switch* any [`wait`]
//! or [`yield_now`] made on the coroutine; after each one the code may run
//! on another OS thread.
//! 1. Nothing `!Send` is alive across a switch: no `std::sync::MutexGuard`
//!    or `RwLock` guard, no `StdoutLock`/`StderrLock`/`StdinLock` (from
//!    `stdout().lock()`), no `Rc`, no `Ref`/`RefMut` of a `RefCell`,
//!    no `gort::sync::watch::Ref`, no `GcCellRef`/`GcCellRefMut` (both
//!    wrap std lock guards).
//! 2. No reference into a thread-local is alive across a switch: no
//!    `wait` inside `KEY.with(|v| ..)`, nor any reference that came out of
//!    one.
//! 3. No function frame reads or writes one thread-local both before and
//!    after a switch, even with nothing held: the compiler may compute the
//!    thread-local's address once per frame and use the old thread's copy
//!    after the switch. Reach such a thread-local through a separate
//!    `#[inline(never)]` function each time. This counts library functions
//!    called directly whose thread-local reads the compiler may inline
//!    into your frame: `std::thread::current()`, `gort::spawn`,
//!    `Handle::current()`, `gort::time::sleep` (which reads the clock when
//!    made); call them through such a function too when one frame calls
//!    them on both sides of a switch. [`go`], [`Builder::spawn`], [`wait`]
//!    and [`yield_now`] keep their own reads out of line.
//!
//! `F: Send` and `T: Send` already cover what the closure captures and
//! returns. Fine across a switch: owned `Send` values (`String`, `Vec`,
//! `Box`, `Arc`), gort's channel endpoints and join handles, the guards of
//! `gort::sync::Mutex` and `RwMutex` (`MutexGuard`, `OwnedMutexGuard`,
//! `RwMutexReadGuard`, `RwMutexWriteGuard`), semaphore and `mpsc` permits,
//! `Gc<T>` for `T: Send + Sync`; a std `Mutex` locked and unlocked between
//! two switches; any future passed to `wait` (each poll runs in a frame of
//! its own, below); [`go`] and [`Builder::spawn`] in a loop around a
//! switch (their runtime lookup runs in a frame of its own).
//!
//! What gort does on its side: every function that switches stacks is
//! `#[inline(never)]` and touches no thread-local itself; `wait` polls
//! through an `#[inline(never)]` helper, so a leaf future computes its
//! thread-local addresses on the thread that polls it; the switch is an
//! opaque call into assembly, which the compiler must assume reads and
//! writes all memory; and `wait` never switches while the coroutine unwinds
//! (see "Cancellation and shutdown").
//!
//! A safe constructor is possible for coroutines that never migrate: one
//! pinned to the thread that spawned it (Go's `LockOSThread`), resumed only
//! there, like a `LocalSet` task, at the cost of never being stolen by an
//! idle P. gort does not have it yet.
//!
//! # Stack size
//!
//! Go starts a goroutine at 8 KiB and copies the stack when it grows; Rust
//! has no stack maps, so a gort stack cannot move: it reserves its maximum
//! up front. The default reserve, [`DEFAULT_STACK_SIZE`], is 256 KiB of
//! virtual space plus a guard page, committed by the kernel page by page as
//! it is touched: a coroutine that uses 8 KiB costs 8 KiB of memory. 256 KiB
//! holds the deep call chains of ordinary Rust code in debug builds, a
//! panic with its message and hook, and protocol stacks polled through
//! `wait`; it is small enough that 100 000 reserves (25 GiB) fit easily in
//! a 47-bit address space and that a strict-overcommit system
//! (`vm.overcommit_memory=2`, where every writable private page is charged)
//! can still run thousands. Use [`Builder::stack_size`] for more (deep
//! recursion, big arrays on the stack) or less (many tiny coroutines).
//!
//! Each live stack is two kernel mappings (the guard page and the rest), and
//! Linux limits a process to `vm.max_map_count` mappings (65 530 by
//! default): about 30 000 coroutines can be alive at once unless that limit
//! is raised. Finished stacks go to a bounded pool and are reused
//! ([`stack_stats`] shows the counts).
//!
//! # Panics, overflow, abort
//!
//! A panic inside the coroutine is caught at its boundary, on its own stack
//! (an unwind never crosses the context switch), and resumed on the
//! poller's side, where the task machinery records it: the `JoinHandle`
//! gives `Err(JoinError)` with [`JoinError::is_panic`] and the payload. The
//! stack goes back to the pool.
//!
//! Running into the guard page prints `fatal error: goroutine stack
//! overflow in goroutine "<name>"` to stderr and aborts the process, as Go's
//! "stack overflow" fatal error does: nothing can be unwound from a stack
//! that has no room left, and going on would corrupt memory.
//!
//! # Cancellation and shutdown
//!
//! [`JoinHandle::abort`] on a suspended coroutine (from any thread) and
//! runtime shutdown drop its `CoroFuture`, which resumes the coroutine one
//! last time with a cancelled flag: the `wait` (or [`yield_now`]) it is
//! suspended in unwinds with a private payload, so every value on the
//! coroutine's stack is dropped, then the boundary catches the unwind and
//! the stack is reused. A coroutine that catches that unwind itself and
//! calls `wait` again unwinds again (one that swallows the cancellation
//! forever keeps the drop from returning, like any endless loop).
//!
//! A `wait` called while the coroutine unwinds (from a destructor, during a
//! panic or the cancellation) never switches stacks: the panic count std
//! keeps is per thread, and a switch would carry it to the wrong thread.
//! It blocks the thread until its future is ready instead, as outside a
//! coroutine.
//!
//! The drop that cancels can itself run during a panic: a runtime dropped
//! while its thread unwinds (a failing `assert!` in a `#[gort::test]` with a
//! coroutine alive). That thread's panic count says "unwinding" though the
//! coroutine is not, so:
//! - the suspended `wait` checks the cancelled flag before the panic count:
//!   it unwinds instead of blocking on a future nothing will complete;
//! - the drop resumes the coroutine on a fresh thread (and joins it), whose
//!   panic count is the coroutine's own, so destructors that `wait` block
//!   and a `wait` after a caught cancellation unwinds again, as in any other
//!   cancellation. Only if no thread can be started does the coroutine run
//!   on the dropping thread; its later `wait`s block that thread.
//!
//! The runtime's drop then returns and the first panic goes on unwinding.
//! A coroutine *polled* (not cancelled) by an unwinding thread, say by a
//! `block_on` inside a destructor, cannot switch either: each of its
//! `wait`s blocks that thread.

mod signal;
mod stack;
mod switch;

pub use stack::StackStats;

use std::cell::{Cell, UnsafeCell};
use std::future::{Future, IntoFuture};
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::{pin, Pin};
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

#[cfg(doc)]
use crate::task::JoinError;
use crate::task::JoinHandle;

/// Bytes of stack a coroutine reserves unless [`Builder::stack_size`] says
/// otherwise: 256 KiB of address space, committed only as it is touched
/// (see the module docs for why).
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Counters of the coroutine stack allocator: stacks mapped, unmapped and
/// pooled for reuse.
///
/// ```
/// let before = gort_core::coro::stack_stats();
/// assert!(before.munmaps <= before.mmaps);
/// ```
pub fn stack_stats() -> StackStats {
    stack::stats()
}

/// Starts `f` as a goroutine on its own stack (Go's `go` statement) and
/// returns its `JoinHandle`, the same type a future's task gives.
///
/// Inside `f`, [`wait`] suspends only this goroutine. The task is named
/// nothing and gets [`DEFAULT_STACK_SIZE`]; use [`Builder`] for either.
///
/// # Safety
/// After every [`wait`] or [`yield_now`] it makes (a *switch*), the
/// goroutine may go on running on a different OS thread. The caller
/// promises that no code the goroutine runs (`f`, every function it calls,
/// every destructor on its stack), across any switch:
/// - keeps a value alive that is not `Send`: std's `MutexGuard` and
///   `RwLock` guards, `StdoutLock` (`stdout().lock()`) and its siblings,
///   `Rc`, `RefCell`'s `Ref`/`RefMut`, gort's `watch::Ref`, `GcCellRef`,
///   `GcCellRefMut`;
/// - keeps a reference into a thread-local alive (a switch inside
///   `KEY.with(|v| ..)`, or a reference that came out of one);
/// - reads or writes one thread-local both before and after the switch in
///   the same function frame (reach it through an `#[inline(never)]`
///   function each time instead).
///
/// Owned `Send` values, gort's channel endpoints and join handles, and the
/// guards of `gort::sync::Mutex` and `RwMutex` (all `Send`) may be held
/// across a switch. The module docs ("Soundness") give the reasons.
///
/// # Panics
/// Outside a runtime, as [`spawn`](crate::spawn).
///
/// ```
/// let rt = gort_core::runtime::Builder::new().procs(2).build().unwrap();
/// let v = rt.block_on(async {
///     // SAFETY: across its one switch (the `wait`) the goroutine holds only
///     // the `JoinHandle` it waits on, which is `Send`; no thread-locals.
///     let h = unsafe {
///         gort_core::coro::go(|| {
///             let inner = gort_core::spawn(async { 20 });
///             // Blocks this goroutine, not its thread.
///             gort_core::coro::wait(inner).unwrap() + 1
///         })
///     };
///     h.await.unwrap()
/// });
/// assert_eq!(v, 21);
/// ```
#[track_caller]
pub unsafe fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: our caller keeps the contract, which is the same.
    unsafe { Builder::new().spawn(f) }
}

/// Options for a goroutine: its stack reserve and a name (shown in task
/// dumps and in the stack overflow message).
///
/// ```
/// let rt = gort_core::runtime::Builder::new().procs(1).build().unwrap();
/// let v = rt.block_on(async {
///     let small = gort_core::coro::Builder::new()
///         .stack_size(64 * 1024)
///         .name("small");
///     // SAFETY: the goroutine never switches.
///     unsafe { small.spawn(|| 5) }.await.unwrap()
/// });
/// assert_eq!(v, 5);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    stack_size: usize,
    name: Option<Box<str>>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// [`DEFAULT_STACK_SIZE`], no name.
    pub fn new() -> Builder {
        Builder {
            stack_size: DEFAULT_STACK_SIZE,
            name: None,
        }
    }

    /// Bytes of stack to reserve (rounded up to whole pages; one page at
    /// least), not counting the guard page.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// Names the goroutine.
    pub fn name(mut self, name: &str) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Spawns `f` as a goroutine on the current runtime.
    ///
    /// # Safety
    /// The contract of [`go`]: nothing `!Send`, no reference into a
    /// thread-local, and no thread-local accessed both before and after in
    /// one frame, across any [`wait`] or [`yield_now`] the goroutine makes.
    ///
    /// # Panics
    /// Outside a runtime.
    // Never inlined: the lookups of the current runtime and worker stay in
    // this frame, out of a calling goroutine's frame, where one made before
    // a switch could be reused after it (rule 3 in the module docs).
    #[inline(never)]
    #[track_caller]
    pub unsafe fn spawn<F, T>(self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let loc = Location::caller();
        let task_name = self.name.clone();
        let fut = CoroFuture {
            f: Some(f),
            stack_size: self.stack_size,
            name: self.name,
            shared: None,
        };
        crate::context::with_current(|h| match h {
            Some(h) => crate::sched::Shared::spawn(h, fut, task_name, loc),
            None => panic!(
                "gort::go called outside a gort runtime: call it from a task, inside \
                 Runtime::block_on, or after Handle::enter ({loc})"
            ),
        })
    }
}

/// The future that runs a goroutine: each `poll` resumes its stack until
/// it finishes or suspends in [`wait`].
///
/// [`go`] spawns one of these as a task; it can also be polled by any other
/// executor (it is `Send`, so it may be polled on a different thread each
/// time), under the same contract.
///
/// ```
/// let rt = gort_core::runtime::Builder::new().procs(1).build().unwrap();
/// // SAFETY: the goroutine never switches.
/// let v = rt.block_on(unsafe { gort_core::coro::CoroFuture::new(|| 2 + 2) });
/// assert_eq!(v, 4);
/// ```
pub struct CoroFuture<F, T> {
    /// The closure, until the first poll moves it into `shared`.
    f: Option<F>,
    stack_size: usize,
    name: Option<Box<str>>,
    /// Allocated at the first poll: a coroutine that is aborted before it
    /// ever runs maps no stack.
    shared: Option<NonNull<Shared<F, T>>>,
}

// SAFETY: the closure and the result are Send; the stack and the control
// block are owned by this value and touched only by whoever polls or drops
// it (the coroutine runs only inside those calls, on the caller's thread).
unsafe impl<F: Send, T: Send> Send for CoroFuture<F, T> {}

// The closure is never pinned: it moves to the heap before it runs.
impl<F, T> Unpin for CoroFuture<F, T> {}

impl<F, T> CoroFuture<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    /// A goroutine running `f` on a [`DEFAULT_STACK_SIZE`] stack, unnamed.
    ///
    /// # Safety
    /// The contract of [`go`], for every thread that polls this future:
    /// nothing `!Send`, no reference into a thread-local, and no
    /// thread-local accessed both before and after in one frame, across any
    /// [`wait`] or [`yield_now`] the goroutine makes.
    pub unsafe fn new(f: F) -> CoroFuture<F, T> {
        CoroFuture {
            f: Some(f),
            stack_size: DEFAULT_STACK_SIZE,
            name: None,
            shared: None,
        }
    }

    fn start(&mut self) -> NonNull<Shared<F, T>> {
        let stack = match stack::Stack::get(self.stack_size) {
            Ok(s) => s,
            Err(e) => panic!(
                "gort: cannot map a {}-byte goroutine stack: {e}",
                self.stack_size
            ),
        };
        let (start, end) = stack.guard_range();
        let fiber = switch::Fiber::new(stack.top(), stack.size());
        let shared = Box::new(Shared {
            base: Base {
                caller_sp: Cell::new(ptr::null_mut()),
                coro_sp: Cell::new(ptr::null_mut()),
                cx: Cell::new(ptr::null_mut()),
                cancelled: Cell::new(false),
                done: Cell::new(false),
                guard: signal::Guard {
                    start,
                    end,
                    size: stack.size(),
                    name: self.name.take(),
                },
                fiber,
            },
            f: UnsafeCell::new(self.f.take()),
            result: UnsafeCell::new(None),
            stack: UnsafeCell::new(None),
        });
        let top = stack.top();
        let ptr = NonNull::from(Box::leak(shared));
        // SAFETY: `top` is the page-aligned end of a fresh read-write mapping
        // at least a page long, so the initial frame below it is writable.
        let sp = unsafe { switch::init_stack(top, entry::<F, T>, ptr.as_ptr().cast()) };
        // SAFETY: we own the control block and the coroutine has not run.
        let s = unsafe { ptr.as_ref() };
        s.base.coro_sp.set(sp);
        // SAFETY: as above.
        unsafe { *s.stack.get() = Some(stack) };
        self.shared = Some(ptr);
        ptr
    }
}

impl<F, T> Future for CoroFuture<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let shared = match this.shared {
            Some(s) => s,
            None => this.start(),
        };
        // SAFETY: the control block lives until this value drops.
        let s = unsafe { shared.as_ref() };
        assert!(!s.base.done.get(), "CoroFuture polled after completion");
        s.base.cx.set((cx as *mut Context<'_>).cast());
        // SAFETY: the coroutine is suspended (or new) and its stack mapped.
        unsafe { resume(&s.base) };
        s.base.cx.set(ptr::null_mut());
        if !s.base.done.get() {
            return Poll::Pending;
        }
        // SAFETY: the coroutine finished: nothing runs on its stack any more
        // and the result slot is ours.
        let (result, stack) = unsafe { ((*s.result.get()).take(), (*s.stack.get()).take()) };
        if let Some(stack) = stack {
            stack::release(stack);
        }
        match result.expect("finished coroutine left no result") {
            Ok(v) => Poll::Ready(v),
            // Resumed here, on the poller's stack, so the task machinery
            // records the payload as a JoinError.
            Err(payload) => panic::resume_unwind(payload),
        }
    }
}

impl<F, T> Drop for CoroFuture<F, T> {
    fn drop(&mut self) {
        let Some(shared) = self.shared else { return };
        // SAFETY: the control block is ours until freed at the end.
        let s = unsafe { shared.as_ref() };
        if !s.base.done.get() {
            // SAFETY: not done and not running (we hold it), so suspended in
            // `wait`; its stack is still mapped.
            unsafe { cancel(&s.base) };
        }
        // SAFETY: nothing runs on the coroutine stack now.
        let stack = unsafe { (*s.stack.get()).take() };
        if s.base.done.get() {
            if let Some(stack) = stack {
                stack::release(stack);
            }
        } else {
            // Cannot happen (`wait` never suspends a cancelled coroutine),
            // but a stack with live frames must never be reused or unmapped.
            std::mem::forget(stack);
        }
        // SAFETY: made by Box::leak in `start`; nothing refers to it now.
        drop(unsafe { Box::from_raw(shared.as_ptr()) });
    }
}

/// The untyped part of the control block, shared by the poller side and
/// the coroutine. The two sides never run at the same time (each runs only
/// while the other is switched out), so plain `Cell`s suffice.
struct Base {
    /// The poller's stack pointer, saved by [`resume`] while the coroutine runs.
    caller_sp: Cell<*mut u8>,
    /// The coroutine's stack pointer, saved by [`suspend`] (or the initial frame).
    coro_sp: Cell<*mut u8>,
    /// The `Context` of the poll that resumed the coroutine; null between polls.
    cx: Cell<*mut ()>,
    /// Set by `Drop`: the next resume must unwind the coroutine.
    cancelled: Cell<bool>,
    /// The coroutine returned (or unwound) through its boundary.
    done: Cell<bool>,
    /// Published to the overflow handler while the coroutine runs.
    guard: signal::Guard,
    /// The coroutine as the sanitizers see it; every switch goes through it.
    fiber: switch::Fiber,
}

struct Shared<F, T> {
    base: Base,
    f: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<std::thread::Result<T>>>,
    stack: UnsafeCell<Option<stack::Stack>>,
}

/// The panic payload `wait` unwinds with in a cancelled coroutine.
struct Cancelled;

thread_local! {
    /// The coroutine this thread is running now (null outside one).
    static CURRENT: Cell<*const Base> = const { Cell::new(ptr::null()) };
}

#[inline(never)]
fn set_current(base: *const Base) -> *const Base {
    CURRENT.with(|c| c.replace(base))
}

#[inline(never)]
fn current() -> *const Base {
    CURRENT.with(|c| c.get())
}

#[inline(never)]
fn thread_is_unwinding() -> bool {
    std::thread::panicking()
}

/// Poller side: switches onto the coroutine until it suspends or finishes.
///
/// # Safety
/// `base` belongs to a coroutine that is new or suspended, whose stack is mapped.
#[inline(never)]
unsafe fn resume(base: &Base) {
    signal::prepare_thread();
    let prev_guard = signal::set_running(&base.guard);
    let prev = set_current(base);
    // SAFETY: `coro_sp` was saved by the coroutine's last `suspend` (or built
    // by `init_stack`) and the caller says it is still resumable; we come
    // back here, on this thread, when it switches to `caller_sp`.
    unsafe {
        base.fiber
            .switch_in(base.caller_sp.as_ptr(), base.coro_sp.get())
    };
    set_current(prev);
    signal::set_running(prev_guard);
}

/// Resumes a suspended coroutine one last time with the cancelled flag, so
/// the `wait` it is suspended in unwinds and every value on its stack is
/// dropped.
///
/// A coroutine tells whether *it* is unwinding by the thread's panic count,
/// so it must not be resumed by a thread that is unwinding itself (a
/// runtime dropped during a panic): its destructors could not tell a `wait`
/// called during the cancellation unwind, which must block, from a `wait`
/// after it caught the cancellation, which must unwind again. Such a drop
/// resumes the coroutine on a fresh thread and joins it; only if no thread
/// can be started does it resume here, where the suspended `wait` still
/// unwinds first and any later `wait` blocks this thread.
///
/// # Safety
/// `base` belongs to a suspended coroutine whose stack is mapped.
unsafe fn cancel(base: &Base) {
    base.cancelled.set(true);
    if thread_is_unwinding() && resume_on_fresh_thread(base) {
        return;
    }
    // SAFETY: suspended, as the caller says.
    unsafe { resume(base) };
}

/// Runs `resume(base)` on a new thread and waits for it; false if no
/// thread could be started (nothing was resumed then).
fn resume_on_fresh_thread(base: &Base) -> bool {
    struct Suspended<'a>(&'a Base);
    // SAFETY: the control block is touched by one thread at a time: the
    // thread that sends this waits in the scope below until the coroutine
    // has switched back, and touches the block only after that.
    unsafe impl Send for Suspended<'_> {}
    impl Suspended<'_> {
        fn resume(self) {
            // SAFETY: `cancel`'s caller says the coroutine is suspended.
            unsafe { resume(self.0) }
        }
    }
    let suspended = Suspended(base);
    // The coroutine's destructors see the runtime the dropping thread saw.
    let runtime = crate::runtime::Handle::try_current().ok();
    std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .name("gort-coro-cancel".into())
            .spawn_scoped(scope, move || {
                let _entered = runtime.as_ref().map(|h| h.enter());
                suspended.resume()
            }) {
            Ok(h) => {
                // A panic in `resume` itself (the coroutine's own unwinds stop
                // at its boundary) leaves the coroutine not done, and `Drop`
                // then never reuses its stack.
                let _ = h.join();
                true
            }
            Err(_) => false,
        }
    })
}

/// Coroutine side: switches back to the poller that resumed us. Returns
/// when a later poll (perhaps on another thread) resumes us.
///
/// # Safety
/// Called on the coroutine's own stack, while it runs.
#[inline(never)]
unsafe fn suspend(base: &Base) {
    // SAFETY: `caller_sp` was saved by the `resume` that is running us.
    unsafe {
        base.fiber
            .switch_out(base.coro_sp.as_ptr(), base.caller_sp.get())
    };
}

/// The first frame on a coroutine stack.
extern "C" fn entry<F, T>(_transfer: usize, data: *mut u8) -> !
where
    F: FnOnce() -> T,
{
    let shared = data.cast::<Shared<F, T>>().cast_const();
    // SAFETY: the control block outlives the coroutine (freed only after it
    // is done).
    let base = unsafe { &(*shared).base };
    base.fiber.started();
    run::<F, T>(shared);
    base.done.set(true);
    // SAFETY: switching back to the resume that runs us, for the last
    // time: with `done` set, nobody switches to `coro_sp` again.
    unsafe { base.fiber.exit(base.coro_sp.as_ptr(), base.caller_sp.get()) }
}

/// Runs the closure inside the boundary every unwind stops at.
#[inline(never)]
fn run<F, T>(shared: *const Shared<F, T>)
where
    F: FnOnce() -> T,
{
    // SAFETY: only the coroutine touches `f` and `result` while it runs.
    let f = unsafe { (*(*shared).f.get()).take() }.expect("coroutine started twice");
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    // SAFETY: as above.
    unsafe { *(*shared).result.get() = Some(result) };
}

/// Waits for `fut`: inside a goroutine, suspends only the goroutine until
/// `fut` is ready (Go's `gopark` under a blocking call); outside one, blocks
/// the calling thread (handing the thread's P to another worker first when
/// called on a runtime worker, like [`block_in_place`](crate::block_in_place)).
///
/// Every gort future works here: channels, timers, sockets, join handles.
/// The leaf future records its wait reason, which task dumps show for the
/// goroutine.
///
/// Safe to call anywhere: in a goroutine, what may be held across it is the
/// contract of the `unsafe` spawn that started the goroutine (see [`go`]);
/// outside one it switches nothing.
///
/// # Panics
/// In a goroutine whose task was aborted (or whose runtime shuts down),
/// `wait` unwinds (with a private payload the goroutine's boundary
/// swallows) so its stack is dropped; again at every later `wait` if the
/// goroutine catches that unwind.
///
/// ```
/// // Outside a goroutine: blocks the thread.
/// assert_eq!(gort_core::coro::wait(async { 7 }), 7);
/// ```
pub fn wait<Fut: IntoFuture>(fut: Fut) -> Fut::Output {
    let base = current();
    if base.is_null() {
        return block_on_thread(fut.into_future());
    }
    // SAFETY: the running coroutine's control block outlives its run.
    let base = unsafe { &*base };
    let mut fut = pin!(fut.into_future());
    loop {
        if thread_is_unwinding() {
            // The panic count is per thread: never switch mid-unwind.
            return block_on_thread(fut);
        }
        if base.cancelled.get() {
            panic::resume_unwind(Box::new(Cancelled));
        }
        if let Poll::Ready(v) = poll_once(fut.as_mut(), base) {
            return v;
        }
        // SAFETY: we run on the coroutine's stack (CURRENT said so).
        unsafe { suspend(base) };
        // Resumed by a poll or by the drop that cancels us. Nothing was
        // unwinding on this stack when this `wait` suspended, so a panic in
        // progress on this thread now belongs to whoever resumed us, and
        // must not turn the cancellation into a block on `fut` that nothing
        // will complete: unwind before the check at the top of the loop.
        if base.cancelled.get() {
            panic::resume_unwind(Box::new(Cancelled));
        }
    }
}

/// Polls with the `Context` of the poll that resumed the coroutine. Not
/// inlined into [`wait`], so the thread-locals leaf futures touch are looked
/// up afresh, on whatever thread runs this resume.
#[inline(never)]
fn poll_once<Fut: Future>(fut: Pin<&mut Fut>, base: &Base) -> Poll<Fut::Output> {
    // SAFETY: `cx` is set by `CoroFuture::poll` for the duration of the
    // resume that is running us, and not used by anyone else meanwhile.
    let cx = unsafe { &mut *base.cx.get().cast::<Context<'_>>() };
    fut.poll(cx)
}

/// Go's `runtime.Gosched` for a goroutine: every other runnable task of its
/// P gets a turn before it continues. Outside a goroutine, yields the thread.
///
/// A switch like [`wait`], under the same contract of the spawn; it unwinds
/// the same way when the goroutine is cancelled.
///
/// ```
/// gort_core::coro::yield_now(); // outside a goroutine: std::thread::yield_now
/// ```
pub fn yield_now() {
    if current().is_null() {
        std::thread::yield_now();
    } else {
        wait(crate::yield_now());
    }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Blocks the thread until `fut` is ready, with the P handed off first on a
/// runtime worker.
fn block_on_thread<Fut: Future>(fut: Fut) -> Fut::Output {
    crate::block_in_place(|| {
        let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(fut);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    })
}
