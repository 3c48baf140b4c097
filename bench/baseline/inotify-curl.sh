#!/usr/bin/env bash
# Baseline (a): the shell script a user would write instead of videodrop. inotifywait watches the
# inbox (files already there are taken first), each manifest runs in a background job: curl
# creates the video, polls every POLL_S seconds, downloads it, ffprobe checks it, and it is moved
# into the outbox with a small sidecar. At most CONCURRENCY jobs at once; it exits after N jobs.
# Usage: inotify-curl.sh INBOX OUTBOX BASE_URL N CONCURRENCY POLL_S   (the key in $VD_BENCH_KEY)
set -uo pipefail
inbox=$1 outbox=$2 base=$3 total=$4 concurrency=$5 poll=$6
auth="Authorization: Bearer $VD_BENCH_KEY"

job() {
    local file=$1 name=${1%.json} model prompt seconds size id status
    IFS=$'\t' read -r model prompt seconds size < <(jq -r \
        '[.model // "tiny", .prompt, .seconds // 1, .size // "160x90"] | @tsv' "$inbox/$file") ||
        return
    id=$(curl -sS -X POST "$base/videos" -H "$auth" -F "model=$model" -F "prompt=$prompt" \
        -F "seconds=$seconds" -F "size=$size" | jq -r .id)
    [ -n "$id" ] && [ "$id" != null ] || { echo "$file: create failed" >&2; return; }
    while :; do
        sleep "$poll"
        status=$(curl -sS "$base/videos/$id" -H "$auth" | jq -r .status)
        case $status in completed | failed) break ;; esac
    done
    [ "$status" = completed ] || { echo "$file: $status" >&2; return; }
    curl -sS -f -o "$outbox/.$name.mp4" "$base/videos/$id/content" -H "$auth" || return
    ffprobe -v error -show_entries format=duration -of csv=p=0 "$outbox/.$name.mp4" >/dev/null ||
        { echo "$file: does not play" >&2; return; }
    mv "$outbox/.$name.mp4" "$outbox/$name.mp4"
    printf '{"name": "%s", "video_id": "%s"}\n' "$name" "$id" >"$outbox/$name.json"
    rm -f "$inbox/$file"
}

started=0
events=$(mktemp -u /tmp/inotify-curl-XXXXXX)
mkfifo "$events"
inotifywait -q -m -e moved_to -e close_write --format %f "$inbox" >"$events" &
watcher=$!
trap 'kill $watcher 2>/dev/null; rm -f "$events"' EXIT
{
    ls "$inbox"
    cat "$events"
} | while read -r file; do
    case $file in *.json) ;; *) continue ;; esac
    [ -e "$inbox/$file" ] || continue
    while [ "$(jobs -rp | wc -l)" -ge "$concurrency" ]; do wait -n; done
    job "$file" &
    started=$((started + 1))
    if [ "$started" -ge "$total" ]; then
        wait
        kill "$watcher" 2>/dev/null
        exit 0
    fi
done
