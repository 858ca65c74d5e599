#!/usr/bin/env bash
# Runs gort-sync's unit tests and its channel, select, mutex, sync-primitive and
# tokio-named-type (tokio_sync) tests
# under Miri (undefined behaviour + data-race detection). The stress tests
# shrink themselves under cfg(miri) and run too; the loom model tests do not
# (they need --cfg loom). Needs: rustup toolchain install nightly
#   --profile minimal --component miri,rust-src
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/nightly.sh"
export MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-strict-provenance"
exec cargo +nightly miri test -p gort-sync --lib --test chan --test select --test stress --test mutex --test sync --test tokio_sync "$@"
