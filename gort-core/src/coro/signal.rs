//! Stack overflow detection: a guard-page fault becomes "goroutine stack
//! overflow" and an abort, never silent corruption (Go's `morestack`
//! check ends in "fatal error: stack overflow").
//!
//! A SIGSEGV/SIGBUS handler is installed once per process, on first use of
//! a coroutine, with `SA_ONSTACK`: a thread that overflowed its stack has
//! no stack left to run a handler on, so every thread that resumes
//! coroutines gets an alternate signal stack (`sigaltstack`) — the one Rust's
//! std already installed for its own threads, or one mapped here.
//!
//! The registry of guard ranges is per thread: before a thread switches onto
//! a coroutine stack it publishes that coroutine's [`Guard`] (the range of
//! its guard page and its name) in a thread-local, and withdraws it after
//! the switch back. A guard-page fault always happens on the thread running
//! that coroutine (Rust's stack probes touch pages in order, so a big frame
//! cannot jump over the guard), so the handler only needs that one entry —
//! no lock, nothing an async signal could find half-written.
//!
//! In the handler only async-signal-safe calls are made: `write(2)` of a
//! message built in a stack buffer, then `abort`. A fault outside the
//! current guard page is not ours: it goes to the handler that was there
//! before (Rust's own "thread has overflowed its stack" handler, usually),
//! or, if there was none, the default action is restored and the handler
//! returns, so the faulting instruction runs again and the process dies the
//! normal way.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Once;

/// What the handler needs to know about the running coroutine.
pub(crate) struct Guard {
    /// `[start, end)` of the guard page.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Usable stack bytes (printed with the message).
    pub(crate) size: usize,
    pub(crate) name: Option<Box<str>>,
}

thread_local! {
    /// The guard of the coroutine this thread is running now (null when it
    /// runs none). Const-initialised and without a destructor, so it is a
    /// plain `#[thread_local]` static the handler can read.
    static RUNNING: Cell<*const Guard> = const { Cell::new(ptr::null()) };
    /// Whether this thread has an alternate signal stack we checked or set.
    static ALT_READY: Cell<bool> = const { Cell::new(false) };
    /// The alternate stack this module mapped for the thread, if any.
    static ALT_STACK: std::cell::RefCell<Option<AltStack>> = const { std::cell::RefCell::new(None) };
}

static PREV_SEGV: AtomicPtr<libc::sigaction> = AtomicPtr::new(ptr::null_mut());
static PREV_BUS: AtomicPtr<libc::sigaction> = AtomicPtr::new(ptr::null_mut());
static INSTALL: Once = Once::new();

/// Bytes of alternate signal stack mapped for a thread that has none. The
/// handler itself needs a few hundred bytes; the rest is for a chained
/// handler and for kernels that save large vector state in the frame.
const ALT_STACK_SIZE: usize = 64 * 1024;

/// Publishes `guard` as the running coroutine's; returns the previous one
/// for [`set_running`] after the switch back.
#[inline(never)]
pub(crate) fn set_running(guard: *const Guard) -> *const Guard {
    RUNNING.with(|r| r.replace(guard))
}

/// Makes sure the process handler and this thread's alternate stack exist.
#[inline(never)]
pub(crate) fn prepare_thread() {
    if ALT_READY.with(|r| r.get()) {
        return;
    }
    INSTALL.call_once(install_handlers);
    ensure_alt_stack();
    ALT_READY.with(|r| r.set(true));
}

fn install_handlers() {
    for (sig, slot) in [(libc::SIGSEGV, &PREV_SEGV), (libc::SIGBUS, &PREV_BUS)] {
        // SAFETY: a zeroed sigaction is a valid "no handler" value to read into.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: querying the current action has no side effect.
        unsafe { libc::sigaction(sig, ptr::null(), &mut old) };
        slot.store(Box::into_raw(Box::new(old)), Ordering::Release);
        // SAFETY: as above, zeroed then filled.
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        act.sa_sigaction = on_fault as *const () as usize;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `sa_mask` is ours to initialise.
        unsafe { libc::sigemptyset(&mut act.sa_mask) };
        // SAFETY: installing a handler that only does async-signal-safe work.
        unsafe { libc::sigaction(sig, &act, ptr::null_mut()) };
    }
}

struct AltStack {
    base: *mut libc::c_void,
    len: usize,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: a zeroed stack_t is a valid value to fill in.
        let mut ss: libc::stack_t = unsafe { std::mem::zeroed() };
        ss.ss_flags = libc::SS_DISABLE;
        // SAFETY: disabling this thread's alternate stack before unmapping it;
        // the thread is exiting, so it runs no coroutine any more.
        unsafe {
            libc::sigaltstack(&ss, ptr::null_mut());
            libc::munmap(self.base, self.len);
        }
    }
}

fn ensure_alt_stack() {
    // SAFETY: zeroed stack_t to read into.
    let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: querying has no side effect.
    unsafe { libc::sigaltstack(ptr::null(), &mut old) };
    if old.ss_flags & libc::SS_DISABLE == 0 {
        return; // std (or the user) gave this thread one already
    }
    let len = ALT_STACK_SIZE.max(libc::SIGSTKSZ);
    // SAFETY: a fresh anonymous mapping.
    let base = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return; // overflow then dies by plain SIGSEGV, without our message
    }
    let ss = libc::stack_t {
        ss_sp: base,
        ss_flags: 0,
        ss_size: len,
    };
    // SAFETY: the mapping lives until the thread exits (AltStack's Drop).
    unsafe { libc::sigaltstack(&ss, ptr::null_mut()) };
    ALT_STACK.with(|a| *a.borrow_mut() = Some(AltStack { base, len }));
}

/// The SIGSEGV/SIGBUS handler. Async-signal-safe: reads a thread-local
/// pointer and immutable data behind it, calls `write` and `abort`.
extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let addr = unsafe { (*info).si_addr() } as usize;
    // SAFETY: as above.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let addr = unsafe { (*info).si_addr } as usize;
    let guard = RUNNING.with(|r| r.get());
    if !guard.is_null() {
        // SAFETY: a published guard stays alive until it is withdrawn after
        // the switch back, and this fault happened before that.
        let g = unsafe { &*guard };
        if addr >= g.start && addr < g.end {
            report_overflow(g);
        }
    }
    let prev = if sig == libc::SIGBUS {
        &PREV_BUS
    } else {
        &PREV_SEGV
    };
    let prev = prev.load(Ordering::Acquire);
    // SAFETY: set before our handler was installed, never freed.
    let prev = unsafe { &*prev };
    let h = prev.sa_sigaction;
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        // SAFETY: zeroed sigaction = SIG_DFL with an empty mask.
        let mut dfl: libc::sigaction = unsafe { std::mem::zeroed() };
        dfl.sa_sigaction = libc::SIG_DFL;
        // SAFETY: sigaction is async-signal-safe; returning re-runs the
        // faulting instruction, which now kills the process as usual.
        unsafe { libc::sigaction(sig, &dfl, ptr::null_mut()) };
    } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so it
        // has this signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: a plain handler takes just the signal number.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
        f(sig);
    }
}

fn report_overflow(g: &Guard) -> ! {
    let mut buf = [0u8; 512];
    let len = overflow_message(g, &mut buf);
    // SAFETY: write(2) and abort(3) are async-signal-safe; buf is ours.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), len);
        libc::abort();
    }
}

/// Builds the overflow report in `buf` without allocating (it runs in the
/// signal handler); returns its length.
fn overflow_message(g: &Guard, buf: &mut [u8]) -> usize {
    let mut w = Writer { buf, len: 0 };
    w.put(b"fatal error: goroutine stack overflow in goroutine ");
    match &g.name {
        Some(n) => {
            w.put(b"\"");
            w.put(n.as_bytes());
            w.put(b"\"");
        }
        None => w.put(b"(unnamed)"),
    }
    w.put(b" (stack reserve ");
    w.num(g.size);
    w.put(b" bytes; raise it with gort::coro::Builder::stack_size)\n");
    w.len
}

struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, s: &[u8]) {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn num(&mut self, mut v: usize) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Pure Rust: runs under Miri too.
    #[test]
    fn overflow_message_names_the_goroutine_and_its_stack_size() {
        let mut g = Guard {
            start: 0,
            end: 4096,
            size: 262_144,
            name: Some("conn-7".into()),
        };
        let mut buf = [0u8; 512];
        let n = overflow_message(&g, &mut buf);
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "fatal error: goroutine stack overflow in goroutine \"conn-7\" (stack reserve \
             262144 bytes; raise it with gort::coro::Builder::stack_size)\n"
        );
        g.name = None;
        g.size = 0;
        let mut small = [0u8; 40];
        let n = overflow_message(&g, &mut small);
        assert_eq!(
            n, 40,
            "a long message is cut to the buffer, never overflows it"
        );
        assert!(small.starts_with(b"fatal error: goroutine stack overflow"));
    }
}
