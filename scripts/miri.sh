#!/usr/bin/env bash
# Runs gort-core's Miri-able tests under Miri (nightly with the miri
# component: rustup toolchain install nightly --profile minimal --component miri,rust-src).
#
# With no arguments: the run queue, task-state, GC and coro unit tests
# (gc:: runs the multi-threaded stress test too, shrunk; the coro tests that
# switch stacks are compiled out: Miri cannot run the assembly), then a set of
# whole-runtime scheduler tests small enough for Miri (threads, wakers,
# shutdown). With arguments: `cargo miri test -p gort-core --lib -- ARGS`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then
    exec cargo +nightly miri test -p gort-core --lib -- "$@"
fi
cargo +nightly miri test -p gort-core --lib -- queue task coro
cargo +nightly miri test -p gort-core --lib -- gc
cargo +nightly miri test -p gort-core --test scheduler -- \
    waking_an_already_queued_task_is_a_no_op \
    abort_drops_the_future_and_join_reports_cancelled \
    panicking_task_yields_join_error_with_payload_and_runtime_keeps_running \
    shutdown_drops_every_pending_task_exactly_once \
    spawn_after_shutdown_drops_the_task_and_reports_cancelled
