//! Coroutine stacks: mmap'd, guard-paged, lazily committed, pooled (Go's
//! `stackalloc` / `stackfree` and the stack pool in runtime/stack.go).
//!
//! A stack is one anonymous private mapping of `size + page` bytes. The
//! lowest page is `PROT_NONE`: the guard page. Stacks grow down, so a
//! coroutine that runs out of stack touches the guard page and faults;
//! `signal.rs` turns that fault into "goroutine stack overflow". The rest
//! is read-write but `MAP_NORESERVE`: the kernel commits a page only when
//! it is first touched, so a 256 KiB reserve of which a coroutine uses
//! 8 KiB costs 8 KiB of memory (and two VMAs: see the module docs of
//! `coro` for what that means for the number of live coroutines).
//!
//! Departure from Go: Go starts a goroutine at 8 KiB and copies the stack
//! to a bigger one when it runs out, which needs precise pointer maps of
//! every frame. Rust has none, so a gort stack can never move or grow: it
//! reserves its maximum size up front and relies on lazy commit instead.
//!
//! The pool: a freed stack goes to a global pool, bounded to [`POOL_MAX`]
//! stacks, and the next coroutine asking for the same size takes it — no
//! mmap, mprotect or munmap. Global rather than per P (Go's per-P
//! `stackcache`) or per thread: coroutines migrate, so a stack is often
//! freed on another M than the one that allocated it, and a per-thread
//! cache would fill on the Ms that finish coroutines while the others keep
//! mapping; a global pool behind one mutex costs one uncontended lock per
//! spawn and per exit, far below the three syscalls it saves.
//! Pooled stacks keep the pages their last user touched.

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Stacks the global pool keeps for reuse, over all sizes.
///
/// 256 stacks of the default 256 KiB reserve are 64 MiB of address space
/// and, for coroutines that used 8 KiB each, 2 MiB of memory: enough that a
/// server whose connection count hovers around a level never maps, small
/// enough that a burst does not keep its peak forever.
pub(crate) const POOL_MAX: usize = 256;

static MMAPS: AtomicU64 = AtomicU64::new(0);
static MUNMAPS: AtomicU64 = AtomicU64::new(0);
static POOL: Mutex<Vec<Stack>> = Mutex::new(Vec::new());

/// Counters of the coroutine stack allocator (Go's `StackSys` / `StackInuse`
/// in spirit), from [`stack_stats`](super::stack_stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackStats {
    /// Stacks mapped with `mmap` since the process started.
    pub mmaps: u64,
    /// Stacks unmapped since the process started.
    pub munmaps: u64,
    /// Stacks now waiting in the pool for reuse.
    pub pooled: usize,
}

pub(crate) fn stats() -> StackStats {
    StackStats {
        mmaps: MMAPS.load(Relaxed),
        munmaps: MUNMAPS.load(Relaxed),
        pooled: lock_pool().len(),
    }
}

fn lock_pool() -> std::sync::MutexGuard<'static, Vec<Stack>> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p <= 0 {
        4096
    } else {
        p as usize
    }
}

/// One coroutine stack. Owns its mapping; dropping it unmaps it (use
/// [`release`] to give it to the pool instead).
pub(crate) struct Stack {
    /// Lowest address of the mapping: the guard page starts here.
    base: NonNull<u8>,
    /// Usable bytes above the guard page.
    size: usize,
    guard: usize,
}

// SAFETY: a Stack is just an owned address range; nothing in it is tied to
// the thread that mapped it.
unsafe impl Send for Stack {}

impl Stack {
    /// A stack with at least `size` usable bytes (rounded up to pages), from
    /// the pool if one of that size is there.
    pub(crate) fn get(size: usize) -> io::Result<Stack> {
        let page = page_size();
        let size = size.max(page).div_ceil(page) * page;
        {
            let mut pool = lock_pool();
            if let Some(i) = pool.iter().rposition(|s| s.size == size) {
                return Ok(pool.swap_remove(i));
            }
        }
        Stack::map(size, page)
    }

    fn map(size: usize, guard: usize) -> io::Result<Stack> {
        let len = size + guard;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        // SAFETY: an anonymous mapping at an address of the kernel's choice
        // touches no existing memory.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        MMAPS.fetch_add(1, Relaxed);
        // SAFETY: the first page is inside the mapping we just made.
        if unsafe { libc::mprotect(p, guard, libc::PROT_NONE) } != 0 {
            let e = io::Error::last_os_error();
            // SAFETY: unmapping exactly what we mapped.
            unsafe { libc::munmap(p, len) };
            MUNMAPS.fetch_add(1, Relaxed);
            return Err(e);
        }
        Ok(Stack {
            base: NonNull::new(p.cast()).expect("mmap returned null"),
            size,
            guard,
        })
    }

    /// One past the highest usable address (stacks grow down from here).
    pub(crate) fn top(&self) -> *mut u8 {
        self.base.as_ptr().wrapping_add(self.guard + self.size)
    }

    /// The guard page's address range `[start, end)`.
    pub(crate) fn guard_range(&self) -> (usize, usize) {
        let start = self.base.as_ptr() as usize;
        (start, start + self.guard)
    }

    /// Usable bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }
}

/// Gives a stack back: into the pool, or unmapped if the pool is full.
pub(crate) fn release(stack: Stack) {
    let mut pool = lock_pool();
    if pool.len() < POOL_MAX {
        pool.push(stack);
        return;
    }
    drop(pool);
    drop(stack);
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours, made in `map` with this length.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.size + self.guard) };
        MUNMAPS.fetch_add(1, Relaxed);
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    #[test]
    fn stack_is_rounded_to_pages_and_writable_down_to_the_guard() {
        let page = page_size();
        let s = Stack::get(page + 1).unwrap();
        assert_eq!(s.size(), 2 * page);
        let (g0, g1) = s.guard_range();
        assert_eq!(g1 - g0, page);
        assert_eq!(s.top() as usize - g1, 2 * page);
        // The lowest usable byte and the highest are both writable.
        // SAFETY: both addresses are inside the read-write part of the mapping.
        unsafe {
            (g1 as *mut u8).write_volatile(1);
            s.top().sub(1).write_volatile(2);
        }
        release(s);
    }
}
