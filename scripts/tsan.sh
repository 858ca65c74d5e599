#!/usr/bin/env bash
# Runs the tests that exercise the scheduler, the coroutines, the GC and the
# channels under ThreadSanitizer (nightly -Zsanitizer=thread, std rebuilt
# instrumented with -Zbuild-std, which TSan needs: an uninstrumented std's
# Mutex, Arc and channels would look like races):
#   gort-core: the lib tests (task, queue, gc, coro, ...), tests/scheduler.rs,
#              tests/current_thread.rs and any tests/gc_*.rs;
#   gort:      tests/coro.rs, tests/coro_pool.rs, tests/gc.rs;
#   gort-sync: tests/chan.rs, tests/select.rs, tests/stress.rs.
# Arguments are passed to every test binary (a filter, --nocapture, ...).
#
# Left out: gc::tests::gc_random_graph_drops_exactly_the_unreachable_objects.
# It is single-threaded (one thread mutates a random graph and collects), so
# TSan has nothing to check in it, and it takes over 3 minutes under TSan;
# scripts/asan.sh runs it. The GC's threads are covered by
# gc_stress_threads_mutate_and_collect_concurrently and tests/gc.rs.
#
# --cfg gort_tsan turns on the fiber annotations of gort-core's stack
# switch (coro/switch.rs); without it TSan sees a coroutine's frames as the
# interrupted thread's and reports false races (or crashes). The build has
# its own target dir (target/tsan): its RUSTFLAGS differ from a normal
# build's. --target is explicit so that RUSTFLAGS reach only the target
# crates, not build scripts and proc macros.
#
# No suppressions: every report is a failure (TSan exits with status 66).
# gort's four `fence(SeqCst)`s (wakep/kick against an M or the block_on
# thread going idle: the store-fence-load of Go's spinning/idle protocol)
# order atomics only; TSan does not model fences, but nothing non-atomic
# relies on them (tasks travel through the queues' release/acquire and the
# idle lock), so they cause no reports.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/nightly.sh"
target="$(rustc +nightly -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Zsanitizer=thread --cfg gort_tsan ${RUSTFLAGS:-}"
export RUSTDOCFLAGS="-Zsanitizer=thread --cfg gort_tsan ${RUSTDOCFLAGS:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/tsan"
cargo_test() {
    cargo +nightly test -Zbuild-std --target "$target" "$@"
}
gc_tests=()
for f in gort-core/tests/gc_*.rs; do
    if [ -e "$f" ]; then
        gc_tests+=(--test "$(basename "$f" .rs)")
    fi
done
cargo_test -p gort-core --lib -- \
    --skip gc::tests::gc_random_graph_drops_exactly_the_unreachable_objects "$@"
cargo_test -p gort-core --test scheduler --test current_thread ${gc_tests[@]+"${gc_tests[@]}"} -- "$@"
cargo_test -p gort --test coro --test coro_pool --test gc -- "$@"
cargo_test -p gort-sync --test chan --test select --test stress -- "$@"
