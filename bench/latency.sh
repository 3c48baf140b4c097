#!/usr/bin/env bash
# Drop-to-create latency against a running daemon (`videodrop run`, default intake settings):
# N manifests renamed in and N written in place, one every 50 ms (20 a second, a busy producer
# the daemon keeps up with), then N renamed in one every 10 ms (100 a second, about twice the
# jobs a second the daemon finishes here, so drops queue behind other jobs' work).
# Usage: latency.sh BUILD_DIR [N]   Prints "MODE-GAP N P50_MS P99_MS MAX_MS" for each pass.
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
for pass in rename:50 copy:50 rename:10; do
    mode=${pass%:*} gap=${pass#*:}
    "$build/bench_drop_latency" "$spool/inbox" "$BENCH_TMP/latency.log" "$n" "$mode" "$gap" |
        sed "s/^$mode /$mode-$gap /"
    sleep 3  # the previous pass's jobs finish
done
