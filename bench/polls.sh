#!/usr/bin/env bash
# Polls per job and completion-to-delivery lag for 3-minute renders: 10 jobs through `videodrop
# run` (default polling) and through the shell baseline polling every 1 s and every 10 s, the
# three side by side, each against its own mock (queue 0 s, generation 180 s).
# Usage: polls.sh [N] [GEN_SECONDS]   Prints "TOOL N POLLS_PER_JOB LAG_P50_S LAG_MAX_S".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-10} gen=${2:-180}
source "$here/lib.sh"
pids=()
for tool in videodrop poll-1s poll-10s; do
    spool=$BENCH_TMP/spool-polls-$tool
    new_spool "$spool"
    write_manifests "$spool/inbox" "$n"
    start_mock "polls-$tool" --gen-time "${gen}s" --queue-time 0s
    mocks+=("$MOCK_PID")
    case $tool in
    videodrop)
        write_config "$BENCH_TMP/polls.toml" "$spool"
        "$VD" -c "$BENCH_TMP/polls.toml" once >/dev/null 2>"$BENCH_TMP/polls.err" &
        ;;
    poll-1s) "$here/baseline/inotify-curl.sh" "$spool/inbox" "$spool/outbox" "$MOCK_URL" "$n" 64 1 & ;;
    poll-10s) "$here/baseline/inotify-curl.sh" "$spool/inbox" "$spool/outbox" "$MOCK_URL" "$n" 64 10 & ;;
    esac
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
for m in "${mocks[@]}"; do kill "$m" 2>/dev/null || true; done
for tool in videodrop poll-1s poll-10s; do
    log=$BENCH_TMP/polls-$tool.log
    read -r creates polls _ _ < <(count_requests "$log")
    # Lag: from the video's completion (its create + the generation time) to its sidecar's mtime.
    lags=$(jq -r 'select(.method == "POST" and .path == "/v1/videos") | "\(.fields.prompt)\t\(.at_ms)"' "$log" |
        while IFS=$'\t' read -r prompt at; do
            sidecar=$BENCH_TMP/spool-polls-$tool/outbox/job-${prompt##* }.json
            [ -f "$sidecar" ] || continue
            awk -v m="$(stat -c %.3Y "$sidecar")" -v a="$at" -v g="$gen" 'BEGIN { print m - a / 1000 - g }'
        done)
    echo "$tool $n $(awk -v p="$polls" -v c="$creates" 'BEGIN { printf "%.1f", p / c }') $(median <<<"$lags") $(sort -g <<<"$lags" | tail -1)"
done
