#!/usr/bin/env bash
# Runs the tests that exercise the scheduler, the coroutines, the GC and the
# channels under AddressSanitizer (nightly -Zsanitizer=address, std rebuilt
# instrumented with -Zbuild-std):
#   gort-core: the lib tests (task, queue, gc, coro, ...), tests/scheduler.rs,
#              tests/current_thread.rs and any tests/gc_*.rs;
#   gort:      tests/coro.rs, tests/coro_pool.rs, tests/gc.rs;
#   gort-sync: tests/chan.rs, tests/select.rs, tests/stress.rs.
# Arguments are passed to every test binary (a filter, --nocapture, ...).
#
# --cfg gort_asan turns on the fiber annotations of gort-core's stack
# switch (coro/switch.rs). Without it ASan does not know a coroutine's stack:
# a panic unwinding on one makes it print "ASan is ignoring requested
# __asan_handle_no_return ... False positive error reports may follow" and
# leave that stack's stale poison in place, and its fake stacks (for
# stack-use-after-return) follow the thread, not the coroutine.
#
# Nothing is skipped: even the stack-overflow test (tests/coro.rs) passes,
# since gort's guard-page handler runs before ASan's and aborts with the
# goroutine message the test expects. The build has its own target dir (target/asan): its RUSTFLAGS
# differ from a normal build's. --target is explicit so that RUSTFLAGS
# reach only the target crates, not build scripts and proc macros.
#
# Leak detection stays on (LeakSanitizer, ASan's default on Linux): what
# gort keeps for the whole process (the GC heap, the stack pool, the signal
# handlers' saved actions) is reachable from statics, so LSan does not
# count it, and nothing else may leak.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/nightly.sh"
target="$(rustc +nightly -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Zsanitizer=address --cfg gort_asan ${RUSTFLAGS:-}"
export RUSTDOCFLAGS="-Zsanitizer=address --cfg gort_asan ${RUSTDOCFLAGS:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/asan"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
cargo_test() {
    cargo +nightly test -Zbuild-std --target "$target" "$@"
}
gc_tests=()
for f in gort-core/tests/gc_*.rs; do
    if [ -e "$f" ]; then
        gc_tests+=(--test "$(basename "$f" .rs)")
    fi
done
cargo_test -p gort-core --lib --test scheduler --test current_thread ${gc_tests[@]+"${gc_tests[@]}"} -- "$@"
cargo_test -p gort --test coro --test coro_pool --test gc -- "$@"
cargo_test -p gort-sync --test chan --test select --test stress -- "$@"
