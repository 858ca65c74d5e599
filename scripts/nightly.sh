#!/usr/bin/env bash
# Makes sure the nightly toolchain the Miri and sanitizer scripts use is
# installed, with the components they need: miri (scripts/miri*.sh) and
# rust-src (Miri's own std build, and -Zbuild-std for the sanitizers).
# Idempotent and silent when everything is there; every nightly script
# calls it first.
set -euo pipefail
installed="$(rustup component list --toolchain nightly --installed 2>/dev/null || true)"
if grep -q '^miri' <<<"$installed" && grep -q '^rust-src' <<<"$installed"; then
    exit 0
fi
echo "scripts/nightly.sh: installing nightly with miri and rust-src" >&2
rustup toolchain install nightly --profile minimal --component miri,rust-src >&2
