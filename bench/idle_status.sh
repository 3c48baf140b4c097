#!/usr/bin/env bash
# Idle cost and the cost of a big state folder, on the spool a 10,000-job run left behind:
# wakeups a minute (context switches of every thread of `videodrop run`, nothing queued or in
# flight), first on an empty spool, then on the 10,000 finished jobs with the RSS that takes;
# then `videodrop status` and `status --json` on it (wall and peak RSS, RUNS times each).
# Usage: idle_status.sh SPOOL_OF_FINISHED_JOBS [SECONDS]
# Prints "idle SPOOL WAKEUPS_PER_MIN RSS_KB" and "status|status-json WALL_S MAXRSS_KB".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
big=$1 secs=${2:-60}
switches() {  # every thread's voluntary + involuntary context switches
    cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s }'
}
start_mock idle --gen-time 1s
trap stop_mock EXIT
empty=$BENCH_TMP/spool-idle
new_spool "$empty"
for spool in "$empty" "$big"; do
    write_config "$BENCH_TMP/idle.toml" "$spool"
    "$VD" -c "$BENCH_TMP/idle.toml" run 2>"$BENCH_TMP/idle.err" &
    pid=$!
    sleep 5
    before=$(switches $pid)
    sleep "$secs"
    after=$(switches $pid)
    rss=$(awk '/VmRSS/ { print $2 }' /proc/$pid/status)
    kill $pid
    wait $pid || true
    label=empty
    [ "$spool" = "$big" ] && label=finished
    echo "idle $label $(awk -v a="$after" -v b="$before" -v s="$secs" 'BEGIN { printf "%.1f", (a - b) * 60 / s }') $rss"
done
for args in status "status --json"; do
    for ((r = 1; r <= RUNS; r++)); do
        # shellcheck disable=SC2086
        timed "$BENCH_TMP/time" "$VD" -c "$BENCH_TMP/idle.toml" $args >/dev/null
        read -r wall _ _ rss <"$BENCH_TMP/time"
        echo "${args/ --/-} $wall $rss"
    done
done
