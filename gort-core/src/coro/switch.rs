//! The context switch: Go's `gogo` / `mcall` (runtime/asm_amd64.s), for a
//! stack that a future's `poll` enters and leaves.
//!
//! One primitive, [`switch`], saves the calling context on the current
//! stack, stores the stack pointer through `save_sp`, loads `next_sp` and
//! restores the context saved there. A context is what the platform ABI
//! says survives a call: the callee-saved registers, the stack pointer and
//! the return address. Everything else is, to the compiler, clobbered by an
//! ordinary function call — which is exactly what `switch` is: an opaque
//! `extern "C"` function defined in `global_asm!`, so the compiler assumes
//! it reads and writes all memory and every caller-saved register, and
//! cannot move a load or store (of a thread-local's address either, as
//! long as the caller obeys the rule in `coro/mod.rs`) across it.
//!
//! A new stack is prepared by [`init_stack`] so that the first switch to it
//! "returns" into a small trampoline, which calls `entry(transfer, data)`.
//! `entry` must never return (it switches away for the last time instead)
//! and must never unwind: it is `extern "C"`, which aborts on unwinding.
//!
//! Departures from Go: Go's `gogo` restores a `gobuf` (sp, pc, g, ctxt)
//! because the compiler spills everything else before a call; gort saves
//! the callee-saved registers on the stack being left, as corosensei and
//! Boost.Context do. The floating-point control state (x86 MXCSR / x87
//! control word, aarch64 FPCR) is *not* switched: it is thread state that
//! Rust code does not change, and saving it costs more than the rest of
//! the switch. Code that changes it must restore it before `wait`.
//!
//! `global_asm!` rather than a `#[naked]` function because the workspace's
//! MSRV (1.85) predates naked functions (stable in 1.88).
//!
//! # Sanitizers
//!
//! AddressSanitizer and ThreadSanitizer keep per-thread state about the
//! stack the thread runs on; a switch they are not told about makes ASan
//! report false stack-buffer overflows (and mis-unpoison on unwinding) and
//! makes TSan attribute a coroutine's accesses to whichever thread stack it
//! interrupted (false races, or a crash in its shadow stack). So the
//! coroutine code never calls [`switch`] directly: it goes through a
//! [`Fiber`], one per coroutine, whose four calls say which way a switch
//! goes ([`Fiber::switch_in`], [`Fiber::started`], [`Fiber::switch_out`],
//! [`Fiber::exit`]). In an ordinary build a `Fiber` is empty and each call
//! is exactly one [`switch`]. Built with `--cfg gort_asan` (with
//! `-Zsanitizer=address`, as `scripts/asan.sh` does) they bracket the switch
//! with `__sanitizer_start_switch_fiber` / `__sanitizer_finish_switch_fiber`;
//! with `--cfg gort_tsan` (`scripts/tsan.sh`) a `Fiber` owns a TSan fiber
//! (`__tsan_create_fiber`, destroyed with the `Fiber`) and every switch is
//! preceded by `__tsan_switch_to_fiber`, which also makes the switch a
//! happens-before edge, as it is. The cfgs are custom rather than nightly's
//! `cfg(sanitize = "...")` so that stable builds need no feature gate; a
//! sanitizer build without them reports false errors in every coroutine.

#[cfg(not(any(
    all(target_arch = "x86_64", unix, not(target_vendor = "apple")),
    all(target_arch = "aarch64", unix, not(target_vendor = "apple")),
)))]
compile_error!(
    "gort-core's stackful coroutines (coro) support only x86_64 (System V) and aarch64 \
     (AAPCS64) on ELF unix targets (Linux, Android, the BSDs)"
);

#[cfg(any(gort_asan, gort_tsan))]
use std::ptr;

/// Bytes of saved context [`switch`] keeps on a suspended stack.
#[cfg(target_arch = "x86_64")]
const FRAME: usize = 8 * 8; // rbp rbx r12 r13 r14 r15 + return address + alignment pad

#[cfg(target_arch = "aarch64")]
const FRAME: usize = 0xa0; // x19..x30 (12 × 8) + d8..d15 (8 × 8)

// x86_64, System V AMD64 ABI.
//
// SAFETY: the ABI contract of `gort_core_coro_switch(save_sp: rdi,
// next_sp: rsi, transfer: rdx) -> rax`:
// - callee-saved per System V are rbx, rbp, r12–r15 and rsp; they are pushed
//   on the current stack, after the return address the `call` pushed, and the
//   resulting rsp is stored to `*save_sp`;
// - `next_sp` must be a value a previous switch stored (or `init_stack`
//   built): the same six registers are popped from it in reverse order and
//   `ret` pops the return address saved there, so execution continues right
//   after that earlier `call`, with rsp exactly as that caller left it;
// - `transfer` comes out in rax, the return value of the resumed call (or
//   the first argument of `entry`, see the trampoline);
// - no caller-saved register is preserved (the caller's compiler assumes a
//   call clobbers them) and the direction flag stays clear, as the ABI
//   requires at every call boundary.
//
// The trampoline `gort_core_coro_start` is entered by that `ret` on a fresh
// stack with rsp 16-byte aligned; `call` then gives `entry` the aligned-
// minus-8 rsp the ABI promises at function entry. r12 holds `data`, r13
// `entry`, rbp is 0 (ends frame-pointer walks) and the CFI says the return
// address is undefined, so unwinders and backtraces stop here.
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl gort_core_coro_switch",
    ".hidden gort_core_coro_switch",
    ".type gort_core_coro_switch,@function",
    "gort_core_coro_switch:",
    ".cfi_startproc",
    "push rbp",
    ".cfi_adjust_cfa_offset 8",
    "push rbx",
    ".cfi_adjust_cfa_offset 8",
    "push r12",
    ".cfi_adjust_cfa_offset 8",
    "push r13",
    ".cfi_adjust_cfa_offset 8",
    "push r14",
    ".cfi_adjust_cfa_offset 8",
    "push r15",
    ".cfi_adjust_cfa_offset 8",
    "sub rsp, 8",
    ".cfi_adjust_cfa_offset 8",
    "mov [rdi], rsp",
    "mov rsp, rsi",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "mov rax, rdx",
    "ret",
    ".cfi_endproc",
    ".size gort_core_coro_switch, .-gort_core_coro_switch",
    "",
    ".p2align 4",
    ".globl gort_core_coro_start",
    ".hidden gort_core_coro_start",
    ".type gort_core_coro_start,@function",
    "gort_core_coro_start:",
    ".cfi_startproc",
    ".cfi_undefined rip",
    "mov rdi, rax",
    "mov rsi, r12",
    "call r13",
    "ud2",
    ".cfi_endproc",
    ".size gort_core_coro_start, .-gort_core_coro_start",
);

// aarch64, AAPCS64.
//
// SAFETY: the ABI contract of `gort_core_coro_switch(save_sp: x0,
// next_sp: x1, transfer: x2) -> x0`:
// - callee-saved per AAPCS64 are x19–x28, the frame pointer x29, the low 64
//   bits of v8–v15 (d8–d15) and sp; the link register x30 holds the return
//   address. All of them are stored in a 160-byte block below sp (sp stays
//   16-byte aligned, as AAPCS64 requires whenever it is used to access
//   memory) and that sp is stored to `*save_sp`;
// - `next_sp` must be a value a previous switch stored (or `init_stack`
//   built): the registers are reloaded from its block, sp moves past it and
//   `ret` branches to the saved x30, right after that earlier `bl`;
// - `transfer` comes out in x0, the return value of the resumed call (or
//   the first argument of `entry`);
// - caller-saved registers (x0–x18 except the platform register's own rules,
//   v0–v7, v16–v31, the upper halves of v8–v15) are not preserved: the
//   caller's compiler assumes a call clobbers them.
//
// The trampoline `gort_core_coro_start` is entered by that `ret` on a fresh
// stack with sp 16-byte aligned: x19 holds `data`, x20 `entry`, x29 is 0
// (ends frame-record walks) and the CFI marks the return address undefined.
#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl gort_core_coro_switch",
    ".hidden gort_core_coro_switch",
    ".type gort_core_coro_switch,%function",
    "gort_core_coro_switch:",
    ".cfi_startproc",
    "sub sp, sp, #0xa0",
    ".cfi_adjust_cfa_offset 0xa0",
    "stp x19, x20, [sp, #0x00]",
    "stp x21, x22, [sp, #0x10]",
    "stp x23, x24, [sp, #0x20]",
    "stp x25, x26, [sp, #0x30]",
    "stp x27, x28, [sp, #0x40]",
    "stp x29, x30, [sp, #0x50]",
    "stp d8, d9, [sp, #0x60]",
    "stp d10, d11, [sp, #0x70]",
    "stp d12, d13, [sp, #0x80]",
    "stp d14, d15, [sp, #0x90]",
    "mov x3, sp",
    "str x3, [x0]",
    "mov sp, x1",
    "ldp x19, x20, [sp, #0x00]",
    "ldp x21, x22, [sp, #0x10]",
    "ldp x23, x24, [sp, #0x20]",
    "ldp x25, x26, [sp, #0x30]",
    "ldp x27, x28, [sp, #0x40]",
    "ldp x29, x30, [sp, #0x50]",
    "ldp d8, d9, [sp, #0x60]",
    "ldp d10, d11, [sp, #0x70]",
    "ldp d12, d13, [sp, #0x80]",
    "ldp d14, d15, [sp, #0x90]",
    "add sp, sp, #0xa0",
    "mov x0, x2",
    "ret",
    ".cfi_endproc",
    ".size gort_core_coro_switch, .-gort_core_coro_switch",
    "",
    ".p2align 4",
    ".globl gort_core_coro_start",
    ".hidden gort_core_coro_start",
    ".type gort_core_coro_start,%function",
    "gort_core_coro_start:",
    ".cfi_startproc",
    ".cfi_undefined x30",
    "mov x1, x19",
    "blr x20",
    "brk #0",
    ".cfi_endproc",
    ".size gort_core_coro_start, .-gort_core_coro_start",
);

extern "C" {
    fn gort_core_coro_switch(save_sp: *mut *mut u8, next_sp: *mut u8, transfer: usize) -> usize;
    fn gort_core_coro_start();
}

/// What a new coroutine stack starts running: `entry(transfer, data)`,
/// where `transfer` is the value the first [`switch`] to it passes.
pub(crate) type Entry = extern "C" fn(transfer: usize, data: *mut u8) -> !;

/// Saves the current context, storing its stack pointer to `*save_sp`, and
/// resumes the context saved at `next_sp`, handing it `transfer`. Returns
/// when some later switch resumes this context, with that switch's
/// `transfer`.
///
/// `#[inline(never)]` so that every caller sees a real call: no thread-local
/// address computed before it can be reused after it (see `coro/mod.rs`).
///
/// # Safety
/// `save_sp` is valid for a write; `next_sp` was stored by a previous
/// `switch` (whose context has not been resumed since) or built by
/// [`init_stack`], and the stack it points into stays mapped while that
/// context runs.
#[inline(never)]
pub(crate) unsafe fn switch(save_sp: *mut *mut u8, next_sp: *mut u8, transfer: usize) -> usize {
    // SAFETY: per the caller; the asm follows the platform C ABI (see the
    // SAFETY comments on the global_asm! blocks above).
    unsafe { gort_core_coro_switch(save_sp, next_sp, transfer) }
}

/// One coroutine's identity for the sanitizers (see the module docs); empty
/// unless built with `--cfg gort_asan` or `--cfg gort_tsan`.
///
/// A coroutine is entered by [`switch_in`](Fiber::switch_in) from its
/// poller, starts with [`started`](Fiber::started), goes back with
/// [`switch_out`](Fiber::switch_out) (which returns when some later
/// `switch_in`, perhaps on another thread, resumes it) and leaves for good
/// with [`exit`](Fiber::exit). The `Fiber` must outlive the coroutine's last
/// switch and be dropped by the poller side, never on the coroutine's stack.
pub(crate) struct Fiber {
    /// ASan: `[bottom, bottom + size)` is the coroutine's usable stack.
    #[cfg(gort_asan)]
    bottom: *const u8,
    #[cfg(gort_asan)]
    size: usize,
    /// ASan: the bounds of the stack that resumed the coroutine, as ASan
    /// reported them when the coroutine arrived; `switch_out` goes back to
    /// them. Written and read only on the coroutine side.
    #[cfg(gort_asan)]
    caller: std::cell::Cell<(*const u8, usize)>,
    /// TSan: the coroutine's own fiber, made in `new`, destroyed in `drop`.
    #[cfg(gort_tsan)]
    tsan: *mut std::ffi::c_void,
    /// TSan: the fiber (a thread's or an outer coroutine's) that resumed the
    /// coroutine; set by `switch_in`, switched back to by `switch_out`/`exit`.
    #[cfg(gort_tsan)]
    tsan_caller: std::cell::Cell<*mut std::ffi::c_void>,
}

#[cfg(gort_asan)]
extern "C" {
    fn __sanitizer_start_switch_fiber(
        fake_stack_save: *mut *mut std::ffi::c_void,
        bottom: *const u8,
        size: usize,
    );
    fn __sanitizer_finish_switch_fiber(
        fake_stack_save: *mut std::ffi::c_void,
        bottom_old: *mut *const u8,
        size_old: *mut usize,
    );
    fn __asan_unpoison_memory_region(addr: *const u8, size: usize);
}

#[cfg(gort_tsan)]
extern "C" {
    fn __tsan_get_current_fiber() -> *mut std::ffi::c_void;
    fn __tsan_create_fiber(flags: std::ffi::c_uint) -> *mut std::ffi::c_void;
    fn __tsan_destroy_fiber(fiber: *mut std::ffi::c_void);
    fn __tsan_switch_to_fiber(fiber: *mut std::ffi::c_void, flags: std::ffi::c_uint);
}

impl Fiber {
    /// The fiber of a coroutine whose usable stack is the `size` bytes
    /// below `top`.
    pub(crate) fn new(top: *mut u8, size: usize) -> Fiber {
        let _ = (top, size);
        #[cfg(gort_asan)]
        let bottom = top.wrapping_sub(size).cast_const();
        // A pooled stack still carries the poisoned redzones of the frames
        // its last coroutine never returned from (`entry`'s, at least).
        // SAFETY: the range is the coroutine's own read-write mapping;
        // unpoisoning only clears ASan's shadow bytes for it.
        #[cfg(gort_asan)]
        unsafe {
            __asan_unpoison_memory_region(bottom, size)
        };
        Fiber {
            #[cfg(gort_asan)]
            bottom,
            #[cfg(gort_asan)]
            size,
            #[cfg(gort_asan)]
            caller: std::cell::Cell::new((ptr::null(), 0)),
            // SAFETY: no precondition; 0 = no flags.
            #[cfg(gort_tsan)]
            tsan: unsafe { __tsan_create_fiber(0) },
            #[cfg(gort_tsan)]
            tsan_caller: std::cell::Cell::new(ptr::null_mut()),
        }
    }

    /// Poller side: [`switch`]es onto the coroutine (saving our stack
    /// pointer to `save_sp`) and returns when it switches back.
    ///
    /// # Safety
    /// As [`switch`]; `next_sp` is this fiber's coroutine's saved context.
    #[inline]
    pub(crate) unsafe fn switch_in(&self, save_sp: *mut *mut u8, next_sp: *mut u8) {
        #[cfg(gort_asan)]
        let mut fake = ptr::null_mut();
        // SAFETY: `fake` outlives the switch back, where it is handed to
        // finish_switch_fiber; the bounds are the coroutine's stack.
        #[cfg(gort_asan)]
        unsafe {
            __sanitizer_start_switch_fiber(&mut fake, self.bottom, self.size)
        };
        // SAFETY: our fiber is the current one; the coroutine's fiber lives
        // until `self` drops, which the caller does only after we return.
        #[cfg(gort_tsan)]
        unsafe {
            self.tsan_caller.set(__tsan_get_current_fiber());
            __tsan_switch_to_fiber(self.tsan, 0);
        }
        // SAFETY: per the caller.
        unsafe { switch(save_sp, next_sp, 0) };
        // SAFETY: back on our own stack, with the fake stack saved above;
        // the coroutine's bounds are not needed (`self` has them).
        #[cfg(gort_asan)]
        unsafe {
            __sanitizer_finish_switch_fiber(fake, ptr::null_mut(), ptr::null_mut())
        };
    }

    /// Coroutine side, first thing on the new stack: completes the
    /// sanitizers' half of the `switch_in` that started it.
    #[inline]
    pub(crate) fn started(&self) {
        #[cfg(gort_asan)]
        {
            let (mut bottom, mut size) = (ptr::null(), 0);
            // SAFETY: the first arrival on this stack has no fake stack to
            // restore; ASan writes the resumer's bounds to our locals.
            unsafe { __sanitizer_finish_switch_fiber(ptr::null_mut(), &mut bottom, &mut size) };
            self.caller.set((bottom, size));
        }
    }

    /// Coroutine side: [`switch`]es back to the poller that resumed us
    /// (saving our stack pointer to `save_sp`); returns when a later
    /// [`switch_in`](Fiber::switch_in) resumes us, perhaps on another thread.
    ///
    /// # Safety
    /// As [`switch`]; we run on this fiber's coroutine stack and `next_sp` is
    /// the context of the `switch_in` that is running us.
    #[inline]
    pub(crate) unsafe fn switch_out(&self, save_sp: *mut *mut u8, next_sp: *mut u8) {
        #[cfg(gort_asan)]
        let mut fake = ptr::null_mut();
        // SAFETY: `fake` lives in this frame on the coroutine stack, which
        // stays mapped until we are resumed; the bounds are the resumer's.
        #[cfg(gort_asan)]
        unsafe {
            let (bottom, size) = self.caller.get();
            __sanitizer_start_switch_fiber(&mut fake, bottom, size)
        };
        // SAFETY: the resumer's fiber is alive: it is blocked in `switch_in`.
        #[cfg(gort_tsan)]
        unsafe {
            __tsan_switch_to_fiber(self.tsan_caller.get(), 0)
        };
        // SAFETY: per the caller.
        unsafe { switch(save_sp, next_sp, 0) };
        #[cfg(gort_asan)]
        {
            let (mut bottom, mut size) = (ptr::null(), 0);
            // SAFETY: resumed by a `switch_in`, with the fake stack we saved.
            unsafe { __sanitizer_finish_switch_fiber(fake, &mut bottom, &mut size) };
            self.caller.set((bottom, size));
        }
    }

    /// Coroutine side, for the last time: switches back to the poller that
    /// resumed us, storing a stack pointer to `save_sp` that nothing may
    /// ever switch to.
    ///
    /// The save slot is the caller's, not a local here: under ASan a local
    /// whose address is taken lives in the coroutine's fake stack, which the
    /// first call below frees.
    ///
    /// # Safety
    /// As [`switch_out`](Fiber::switch_out); nothing on this stack may be
    /// used after the call (the caller has finished with it).
    #[inline]
    pub(crate) unsafe fn exit(&self, save_sp: *mut *mut u8, next_sp: *mut u8) -> ! {
        // SAFETY: a null save slot tells ASan this stack is left for good,
        // so it frees the coroutine's fake stack.
        #[cfg(gort_asan)]
        unsafe {
            let (bottom, size) = self.caller.get();
            __sanitizer_start_switch_fiber(ptr::null_mut(), bottom, size)
        };
        // SAFETY: as in `switch_out`; our own fiber is destroyed later, by
        // the poller side, when `self` drops.
        #[cfg(gort_tsan)]
        unsafe {
            __tsan_switch_to_fiber(self.tsan_caller.get(), 0)
        };
        // SAFETY: per the caller; the context saved to `save_sp` is never
        // resumed.
        unsafe { switch(save_sp, next_sp, 0) };
        std::process::abort()
    }
}

#[cfg(gort_tsan)]
impl Drop for Fiber {
    fn drop(&mut self) {
        // SAFETY: the coroutine has left its stack (or never ran), so this
        // fiber is not the current one of any thread.
        unsafe { __tsan_destroy_fiber(self.tsan) };
    }
}

/// Builds the initial context on a fresh stack whose highest address is
/// `top`, so that the first [`switch`] to the returned stack pointer calls
/// `entry(transfer, data)` on that stack.
///
/// # Safety
/// `top` is 16-byte aligned and the [`FRAME`] bytes below it are writable.
pub(crate) unsafe fn init_stack(top: *mut u8, entry: Entry, data: *mut u8) -> *mut u8 {
    debug_assert_eq!(top as usize % 16, 0);
    let sp = top.wrapping_sub(FRAME).cast::<usize>();
    let mut regs = [0usize; FRAME / 8];
    #[cfg(target_arch = "x86_64")]
    {
        // Slots from sp upwards, in the order the switch consumes them: pad,
        // r15, r14, r13, r12, rbx, rbp, return address. After its `ret`,
        // rsp = top: 16-byte aligned, as the trampoline needs.
        regs[3] = entry as usize; // r13
        regs[4] = data as usize; // r12
        regs[6] = 0; // rbp: ends frame-pointer walks
        regs[7] = gort_core_coro_start as *const () as usize;
    }
    #[cfg(target_arch = "aarch64")]
    {
        regs[0] = data as usize; // x19
        regs[1] = entry as usize; // x20
        regs[10] = 0; // x29: ends frame-record walks
        regs[11] = gort_core_coro_start as *const () as usize; // x30
    }
    // SAFETY: the caller promises FRAME writable, aligned bytes below `top`.
    unsafe { sp.copy_from_nonoverlapping(regs.as_ptr(), regs.len()) };
    sp.cast()
}
