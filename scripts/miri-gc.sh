#!/usr/bin/env bash
# Runs the GC's tests under Miri (nightly with the miri component:
# rustup toolchain install nightly --profile minimal --component miri,rust-src).
#
# The gc unit tests (the multi-threaded stress test included, shrunk), the
# dead-handle regression tests (tests/gc_dead_handles.rs) and the
# model-based property test (tests/gc_model.rs: 8 cases under Miri, no
# fork, no failure persistence). PROPTEST_CASES, if set, is forwarded to
# Miri and overrides the case count.
set -euo pipefail
"$(dirname "$0")/nightly.sh"
cd "$(dirname "$0")/.."
export MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-env-forward=PROPTEST_CASES"
cargo +nightly miri test -p gort-core --lib -- gc
cargo +nightly miri test -p gort-core --test gc_dead_handles
cargo +nightly miri test -p gort-core --test gc_model
