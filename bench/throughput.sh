#!/usr/bin/env bash
# Throughput and cost: N manifests through one tool against the mock in its own process (1 s
# generation, no queue time), the same concurrency (64) and poll interval (1 s) for every tool.
# Usage: throughput.sh TOOL N [VERIFY_LEVEL]     TOOL: videodrop | shell | node
# TIME_LIMIT=S stops videodrop after S seconds (SIGTERM, then SIGKILL 20 s later) and reports
# what it delivered by then, for an older binary that may not finish.
# Prints one line: TOOL N WALL_S CPU_S MAXRSS_KB CREATES POLLS LISTS DOWNLOADS DELIVERED USER_S SYS_S
# (CPU and RSS are the tool's own process tree: for videodrop the daemon alone, for the baselines
# the script with its curl, jq, ffprobe and inotifywait children.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
tool=$1 n=$2 level=${3:-demux}
spool=$BENCH_TMP/spool-$tool-$n
new_spool "$spool"
write_manifests "$spool/inbox" "$n"
start_mock "tp-$tool" --gen-time 1s --queue-time 0s
trap stop_mock EXIT
case $tool in
videodrop)
    write_config "$BENCH_TMP/tp.toml" "$spool" "
[polling]
min_interval = \"1s\"

[verify]
level = \"$level\""
    limit=()
    [ -n "${TIME_LIMIT:-}" ] && limit=(timeout --foreground -k 20 -s TERM "$TIME_LIMIT")
    timed "$BENCH_TMP/time" "${limit[@]}" "$VD" -c "$BENCH_TMP/tp.toml" once >/dev/null 2>"$BENCH_TMP/tp.err" || {
        status=$?
        # 124 and 137 are timeout's "stopped at the limit"; any other failure is one.
        case "${TIME_LIMIT:+limited}:$status" in
        limited:124 | limited:137) ;;
        *)
            echo "bench: videodrop once failed ($status): $(tail -5 "$BENCH_TMP/tp.err")" >&2
            exit 1
            ;;
        esac
    }
    ;;
shell)
    timed "$BENCH_TMP/time" "$here/baseline/inotify-curl.sh" "$spool/inbox" "$spool/outbox" \
        "$MOCK_URL" "$n" 64 1 2>"$BENCH_TMP/tp.err"
    ;;
node)
    timed "$BENCH_TMP/time" node "$here/baseline/node/drop.mjs" "$spool/inbox" "$spool/outbox" \
        "$MOCK_URL" "$n" 64 1 2>"$BENCH_TMP/tp.err"
    ;;
esac
# (GNU time puts a "Command exited with non-zero status" line first when the limit cut it short.)
read -r wall user sys rss < <(tail -1 "$BENCH_TMP/time")
delivered=$(find "$spool/outbox" -maxdepth 1 -name '*.mp4' | wc -l)
echo "$tool $n $wall $(awk "BEGIN { print $user + $sys }") $rss $(count_requests "$BENCH_TMP/tp-$tool.log") $delivered $user $sys"
# The spool of the large run (KEEP_SPOOL=1) is kept for the idle and status measurements.
if [ -n "${KEEP_SPOOL:-}" ]; then rm -rf "$BENCH_TMP/spool-large" && mv "$spool" "$BENCH_TMP/spool-large"; else rm -rf "$spool"; fi
