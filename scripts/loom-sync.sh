#!/usr/bin/env bash
# Model-checks gort-sync's state machines with loom: channels, select,
# Mutex and RwMutex (tests/loom.rs); oneshot, watch, broadcast and Notify
# (tests/loom_tokio.rs); Semaphore, Once/OnceCell and WaitGroup
# (tests/loom_sync.rs). The crate swaps its Mutex/RwLock/Arc/atomics for
# loom's under --cfg loom (src/primitives.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg loom ${RUSTFLAGS:-}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
exec cargo test -p gort-sync --release --test loom --test loom_tokio --test loom_sync "$@"
