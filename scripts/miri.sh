#!/usr/bin/env bash
# Runs gort-core's Miri-able tests under Miri (nightly with the miri
# component: rustup toolchain install nightly --profile minimal --component miri,rust-src).
#
# With no arguments: the run queue, task-state, task lifecycle (the `task`
# filter includes task::local, the LocalSet queue and its tasks on a plain
# executor) and coro unit tests (the coro tests that switch stacks are
# compiled out: Miri cannot run the assembly), then a set of
# whole-runtime scheduler and current-thread tests small enough for Miri
# (threads, wakers, shutdown, the block_on thread driving the P). The GC's
# tests have a script of their own, scripts/miri-gc.sh. With arguments: `cargo miri test -p gort-core --lib -- ARGS`.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/nightly.sh"
if [ $# -gt 0 ]; then
    exec cargo +nightly miri test -p gort-core --lib -- "$@"
fi
cargo +nightly miri test -p gort-core --lib -- queue task coro
cargo +nightly miri test -p gort-core --test scheduler -- \
    waking_an_already_queued_task_is_a_no_op \
    abort_drops_the_future_and_join_reports_cancelled \
    panicking_task_yields_join_error_with_payload_and_runtime_keeps_running \
    shutdown_drops_every_pending_task_exactly_once \
    spawn_after_shutdown_drops_the_task_and_reports_cancelled
cargo +nightly miri test -p gort-core --test current_thread -- \
    tasks_spawned_before_block_on_run_once_it_starts \
    tasks_left_pending_when_block_on_returns_run_at_the_next_block_on \
    a_wake_from_another_thread_reaches_a_sleeping_driver \
    dropping_a_current_thread_runtime_drops_each_queued_task_once \
    a_yielding_block_on_future_lets_every_queued_task_run_first \
    shutdown_while_another_thread_drives_waits_for_it_and_cancels_every_task_once
