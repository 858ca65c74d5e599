#!/usr/bin/env bash
# The macro benchmark: hyper on gort vs hyper on tokio, same service, same
# load: wrk -t1 -c50 -d10s (Debian package `wrk`), printing requests/s and
# the p50/p99 latencies for each. Loopback only; both servers are stopped
# at the end. Usage: benches/http.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build -q --release --example hyper_server --example tokio_hyper_server
run() {
    local name=$1 bin=$2 port=$3
    "target/release/examples/$bin" --port "$port" >/dev/null 2>&1 &
    local pid=$!
    sleep 0.5
    local out
    out=$(wrk -t1 -c50 -d"${secs}s" --latency "http://127.0.0.1:$port/")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    local rps p50 p99
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    printf '%-6s requests/s=%s p50=%s p99=%s\n' "$name" "$rps" "$p50" "$p99"
}
run gort hyper_server 3100
run tokio tokio_hyper_server 3101
