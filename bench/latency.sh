#!/usr/bin/env bash
# Drop-to-create latency against a running daemon (`videodrop run`, default intake settings):
# 1,000 manifests renamed in and 1,000 written in place, one every 10 ms (bench_drop_latency).
# Usage: latency.sh BUILD_DIR [N]     Prints "MODE N P50_MS P99_MS MAX_MS" for each mode.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1 n=${2:-1000}
source "$here/lib.sh"
spool=$BENCH_TMP/spool-latency
new_spool "$spool"
start_mock latency --gen-time 1s --queue-time 0s
MAX_IN_FLIGHT=2000 write_config "$BENCH_TMP/latency.toml" "$spool"
"$VD" -c "$BENCH_TMP/latency.toml" run 2>"$BENCH_TMP/latency.err" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; stop_mock' EXIT
sleep 1
for mode in rename copy; do
    "$build/bench_drop_latency" "$spool/inbox" "$BENCH_TMP/latency.log" "$n" "$mode" 10
done
