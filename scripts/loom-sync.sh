#!/usr/bin/env bash
# Model-checks gort-sync's channel and select state machines with loom.
# The crate swaps its Mutex/Arc/atomics for loom's under --cfg loom.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg loom ${RUSTFLAGS:-}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
exec cargo test -p gort-sync --release --test loom "$@"
