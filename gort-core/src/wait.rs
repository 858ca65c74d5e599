//! Wait reasons: what a parked task is waiting for (Go's `waitReason`).
//!
//! In Go, `gopark` records why a goroutine stopped ("chan receive",
//! "select", "sleep", ...) and the goroutine dump prints it. In gort a task
//! parks by returning `Pending` from its poll; the leaf future that caused
//! it calls [`set_wait_reason`] just before returning `Pending`. The value
//! goes into a thread-local slot, and the scheduler moves it into the task's
//! header when the poll returns `Pending` (one relaxed store), so a leaf
//! future needs no access to its task and the cost is a thread-local write.
//!
//! When several leaves of one task return `Pending` in the same poll (a
//! `select!`), the last one recorded wins; `select!` records
//! [`WaitReason::Select`] after polling its cases.

use std::cell::Cell;
use std::fmt;

/// Why a task is parked. The strings are Go's where Go has the same wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum WaitReason {
    /// Nothing recorded: a user future returned `Pending` on its own.
    Unknown = 0,
    /// Waiting to receive from a channel.
    ChanReceive,
    /// Waiting to send on a channel.
    ChanSend,
    /// Waiting in `select!` on several cases.
    Select,
    /// `select! {}` with no cases: parked forever.
    SelectNoCases,
    /// Waiting for a timer (`sleep`, `Timer`, `interval`).
    Sleep,
    /// Waiting for a socket to become readable or writable.
    IoWait,
    /// `Mutex::lock`.
    MutexLock,
    /// `RwMutex::read`.
    RwMutexRLock,
    /// `RwMutex::write`.
    RwMutexLock,
    /// `WaitGroup::wait`.
    WaitGroupWait,
    /// `Cond::wait`.
    CondWait,
    /// `Semaphore::acquire`.
    SemAcquire,
    /// `Once::call_once` while another caller runs the initializer.
    OnceWait,
    /// Awaiting another task's `JoinHandle`.
    JoinWait,
    /// Waiting on a `spawn_blocking` result.
    BlockingWait,
    /// `Notify::notified` (tokio's `Notify`).
    NotifyWait,
    /// `Barrier::wait` (tokio's `Barrier`).
    BarrierWait,
}

impl WaitReason {
    /// The Go-style string printed in task dumps.
    pub fn as_str(&self) -> &'static str {
        match self {
            WaitReason::Unknown => "",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::Sleep => "sleep",
            WaitReason::IoWait => "IO wait",
            WaitReason::MutexLock => "sync.Mutex.Lock",
            WaitReason::RwMutexRLock => "sync.RWMutex.RLock",
            WaitReason::RwMutexLock => "sync.RWMutex.Lock",
            WaitReason::WaitGroupWait => "sync.WaitGroup.Wait",
            WaitReason::CondWait => "sync.Cond.Wait",
            WaitReason::SemAcquire => "semacquire",
            WaitReason::OnceWait => "sync.Once.Do",
            WaitReason::JoinWait => "task join",
            WaitReason::BlockingWait => "blocking pool",
            WaitReason::NotifyWait => "sync.Notify.Notified",
            WaitReason::BarrierWait => "sync.Barrier.Wait",
        }
    }
}

impl WaitReason {
    /// Every reason, indexed by its discriminant (for decoding the `u8`
    /// stored in a task header).
    const ALL: [WaitReason; 18] = [
        WaitReason::Unknown,
        WaitReason::ChanReceive,
        WaitReason::ChanSend,
        WaitReason::Select,
        WaitReason::SelectNoCases,
        WaitReason::Sleep,
        WaitReason::IoWait,
        WaitReason::MutexLock,
        WaitReason::RwMutexRLock,
        WaitReason::RwMutexLock,
        WaitReason::WaitGroupWait,
        WaitReason::CondWait,
        WaitReason::SemAcquire,
        WaitReason::OnceWait,
        WaitReason::JoinWait,
        WaitReason::BlockingWait,
        WaitReason::NotifyWait,
        WaitReason::BarrierWait,
    ];

    pub(crate) fn from_u8(v: u8) -> WaitReason {
        Self::ALL
            .get(v as usize)
            .copied()
            .unwrap_or(WaitReason::Unknown)
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

thread_local! {
    static PENDING_REASON: Cell<WaitReason> = const { Cell::new(WaitReason::Unknown) };
}

/// Records why the current task is about to return `Pending`.
///
/// Call it from a leaf future right before returning `Poll::Pending`.
/// Outside a gort task it has no effect beyond a thread-local write.
///
/// ```
/// use gort_core::wait::{set_wait_reason, WaitReason};
/// set_wait_reason(WaitReason::ChanReceive);
/// ```
pub fn set_wait_reason(reason: WaitReason) {
    PENDING_REASON.with(|r| r.set(reason));
}

/// Takes the reason recorded during the poll that just returned, resetting it.
pub(crate) fn take_wait_reason() -> WaitReason {
    PENDING_REASON.with(|r| r.replace(WaitReason::Unknown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_reason_is_taken_once() {
        set_wait_reason(WaitReason::ChanSend);
        assert_eq!(take_wait_reason(), WaitReason::ChanSend);
        assert_eq!(take_wait_reason(), WaitReason::Unknown);
        assert_eq!(WaitReason::IoWait.to_string(), "IO wait");
        for (i, r) in WaitReason::ALL.iter().enumerate() {
            assert_eq!(*r as u8 as usize, i, "ALL is indexed by discriminant");
            assert_eq!(WaitReason::from_u8(i as u8), *r);
        }
    }
}
