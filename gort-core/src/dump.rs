//! Task dumps (Go's goroutine dump on SIGQUIT / `runtime.Stack(all)`).
//!
//! Every live task, with its id, state, wait reason, how long it has been
//! waiting (coarse clock, milliseconds), its name and where it was
//! spawned. Go prints stacks; a parked future has no stack, so gort prints
//! what the leaf future that parked it recorded (`wait.rs`).

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use crate::task::DumpState;
use crate::wait::WaitReason;

pub(crate) fn dump(shared: &crate::sched::Shared) -> String {
    crate::clock::refresh();
    let now = crate::clock::coarse_now_ms();
    let mut lines = Vec::new();
    shared.owned.for_each(|h| {
        let mut line = format!("task {}", h.id);
        if let Some(name) = &h.meta.name {
            let _ = write!(line, " {name:?}");
        }
        match h.dump_state() {
            DumpState::Running => line.push_str(" [running]"),
            DumpState::Runnable => line.push_str(" [runnable]"),
            DumpState::Waiting => {
                let reason = WaitReason::from_u8(h.wait_reason.load(Relaxed));
                let since = h.wait_since.load(Relaxed);
                let waited = now.saturating_sub(since);
                let reason = match reason {
                    WaitReason::Unknown => "waiting",
                    r => r.as_str(),
                };
                let _ = write!(line, " [{reason}, {waited} ms]");
            }
        }
        let _ = write!(line, ":\n\tspawned at {}", h.meta.location);
        lines.push((h.id, line));
    });
    lines.sort_by_key(|(id, _)| *id);
    let mut out = format!("gort: {} tasks\n", lines.len());
    for (_, l) in lines {
        out.push('\n');
        out.push_str(&l);
        out.push('\n');
    }
    out
}
