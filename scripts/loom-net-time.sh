#!/usr/bin/env bash
# Model-checks gort-time's timer heaps (arm, stop, fire) and gort-net's
# poll descriptor (readiness, waiters, close) with loom.
#
#   scripts/loom-net-time.sh               # every model of both crates
#   scripts/loom-net-time.sh stop_racing   # filters, passed to both
#
# Each crate swaps its locks and atomics for loom's under --cfg loom
# (gort-time/src/loom.rs, gort-net/src/loom.rs) and keeps its models in
# `loom_tests` modules; the default filter selects exactly those. Every
# model explores all interleavings (no preemption bound) in under a second.
# Builds go to their own target dir, as in loom.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
    set -- loom_tests
fi
export RUSTFLAGS="--cfg loom -C debug-assertions=on ${RUSTFLAGS:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"
exec cargo test -p gort-time -p gort-net --release --lib -- "$@"
