#!/usr/bin/env bash
# Model-checks gort-core's lock-free structures with loom.
#
#   scripts/loom.sh            # the default list: run queue, task harness,
#                              # live-task list, blocking pool
#   scripts/loom.sh queue task # several filters
#
# Under cfg(loom), LOCAL_QUEUE_CAPACITY is 4 and only the `loom_tests`
# modules run (the std-thread tests are compiled out). Debug assertions stay
# on in --release so a model that reads a never-written slot fails loudly.
# The queue's models explore every interleaving (no preemption bound) in a
# few seconds; set LOOM_MAX_PREEMPTIONS=2 or 3 if a future model gets slow
# (the blocking pool's three- and four-thread models bound themselves to 3).
# Builds go to their own target dir, because RUSTFLAGS differ from a normal
# build's and would otherwise invalidate it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
    set -- queue task::raw::loom_tests task::list::loom_tests blocking::loom_tests
fi
export RUSTFLAGS="--cfg loom -C debug-assertions=on ${RUSTFLAGS:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"
exec cargo test -p gort-core --release --lib -- "$@"
