//! The task waker: a `RawWaker` whose data pointer is the task header.
//!
//! Cloning a waker takes a task reference (one relaxed increment of the
//! state word); dropping it releases one; waking a task that is already
//! queued, running-and-notified or complete does nothing beyond one CAS
//! attempt on the state word.

use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::raw::{self, Header};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// Builds a waker that owns one reference (the caller hands it over).
///
/// # Safety
/// `ptr` is a live task and the caller transfers one reference to the waker.
pub(super) unsafe fn raw_waker(ptr: NonNull<Header>) -> Waker {
    // SAFETY: the vtable functions below uphold the RawWaker contract,
    // treating the data pointer as a task header with one reference.
    unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &VTABLE)) }
}

/// Whether `w` is a gort task waker.
pub(super) fn is_task_waker(w: &Waker) -> bool {
    std::ptr::eq(w.vtable(), &VTABLE)
}

fn header(data: *const ()) -> NonNull<Header> {
    // SAFETY: every waker with this vtable was built from a non-null header.
    unsafe { NonNull::new_unchecked(data as *mut Header) }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    let ptr = header(data);
    // SAFETY: the waker being cloned holds a reference, so the task is alive.
    unsafe { ptr.as_ref() }.state.ref_inc();
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    let ptr = header(data);
    // SAFETY: this waker owns a reference; it is used, then released.
    unsafe {
        raw::wake_by_ref(ptr);
        raw::drop_reference(ptr);
    }
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: the borrowed waker holds a reference.
    unsafe { raw::wake_by_ref(header(data)) };
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: this waker owns a reference and gives it up.
    unsafe { raw::drop_reference(header(data)) };
}
