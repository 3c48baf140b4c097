#!/usr/bin/env bash
# Download: one job whose video is a ~200 MB MP4 (1080p at 12 fps, 4 s, noise coded losslessly,
# above the default size cap for 4 s, so the cap is raised), fetched by
# videodrop (`once`, verify.level = "demux") and by `curl -o` from the same URL, RUNS times each.
# Usage: download.sh     Prints "TOOL BYTES MB_PER_S MAXRSS_KB" per run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
big=${BENCH_BIG_FILE:-/tmp/videodrop-bench-200MB.mp4}
if [ ! -s "$big" ]; then
    ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi \
        -i "color=gray:size=1920x1080:rate=12,noise=alls=60:allf=t" -t 4 \
        -c:v libx264 -preset ultrafast -qp 0 -pix_fmt yuv420p "$big"
fi
start_mock download --gen-time 0s --queue-time 0s --video-file "$big"
trap stop_mock EXIT
for ((r = 1; r <= RUNS; r++)); do
    spool=$BENCH_TMP/spool-download
    new_spool "$spool"
    printf '{"prompt": "big", "seconds": 4, "size": "1920x1080"}\n' >"$spool/inbox/big.json"
    touch -d '10 seconds ago' "$spool/inbox/big.json"
    write_config "$BENCH_TMP/download.toml" "$spool" '
[verify]
level = "demux"

[download]
max_mbit_per_second = 2000'
    timed "$BENCH_TMP/time" "$VD" -c "$BENCH_TMP/download.toml" --log-level debug once \
        >/dev/null 2>"$BENCH_TMP/download.err"
    read -r _ _ _ rss <"$BENCH_TMP/time"
    # The daemon's own account of the transfer: "... /content -> 200 (BYTES bytes, MS ms)".
    sed -n 's/.*\/content -> 200 (\([0-9]*\) bytes, \([0-9]*\) ms).*/\1 \2/p' "$BENCH_TMP/download.err" |
        awk -v rss="$rss" '{ printf "videodrop %d %.1f %d\n", $1, $1 / 1e6 / ($2 / 1000), rss }'
    id=$(jq -r 'select(.method == "POST") | .video_id' "$BENCH_TMP/download.log" | tail -1)
    timed "$BENCH_TMP/time" curl -sS -o "$BENCH_TMP/curl.mp4" -w '%{size_download} %{time_total}\n' \
        -H "Authorization: Bearer $VD_BENCH_KEY" "$MOCK_URL/videos/$id/content" >"$BENCH_TMP/curl.out"
    read -r _ _ _ rss <"$BENCH_TMP/time"
    awk -v rss="$rss" '{ printf "curl %d %.1f %d\n", $1, $1 / 1e6 / $2, rss }' "$BENCH_TMP/curl.out"
    rm -f "$BENCH_TMP/curl.mp4"
done
