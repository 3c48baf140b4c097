#!/usr/bin/env bash
# `make bench`: every measurement, videodrop side by side with what a user would run instead,
# each tool and each mock in its own process on 127.0.0.1, into bench/RESULTS.md.
# Usage: bench/run.sh [BUILD_DIR]   (BENCH_RUNS=3 runs for each median; BENCH_QUICK=1 for a
# shorter pass with smaller counts, to try the scripts; BENCH_BEFORE=PATH to an older videodrop
# binary adds a before/after table of the figures the cost cuts moved)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
export VD=$PWD/$build/videodrop
export MOCK_BIN=$VD
export BENCH_TMP=$(mktemp -d /tmp/vd-bench-XXXXXX)
before=${BENCH_BEFORE:-}
trap 'rm -rf "$BENCH_TMP"' EXIT
source bench/lib.sh
quick=${BENCH_QUICK:-}
small=1000 large=10000 polls_gen=180 idle_secs=60
[ -n "$quick" ] && small=100 large=500 polls_gen=20 idle_secs=10
[ -d bench/baseline/node/node_modules ] || (cd bench/baseline/node && npm ci --no-audit --no-fund --silent)
out=bench/RESULTS.md
tmp=$BENCH_TMP/results.md
say() { echo "bench: $*" >&2; }

# col FILE KEY N: the median of column N of the lines of FILE starting with KEY.
col() { awk -v k="$2" -v c="$3" 'index($0, k " ") == 1 { print $c }' "$1" | median; }

{
    echo "# videodrop benchmarks"
    echo
    echo "Produced by \`make bench\` ($(machine_line)). Every figure is the median of $RUNS runs;"
    echo "each tool and the mock provider run as separate processes on 127.0.0.1."
    [ -n "$quick" ] && echo "**Quick pass (BENCH_QUICK=1): smaller counts, not the published figures.**"
    echo
} >"$tmp"

say "throughput: $small jobs through videodrop, the shell and the Node baselines"
rows=$BENCH_TMP/throughput
for ((r = 1; r <= RUNS; r++)); do
    bench/throughput.sh videodrop "$small" demux >>"$rows"
    bench/throughput.sh shell "$small" >>"$rows"
    bench/throughput.sh node "$small" >>"$rows"
done
say "throughput: $large jobs through videodrop"
for ((r = 1; r <= RUNS; r++)); do
    KEEP_SPOOL=1 bench/throughput.sh videodrop "$large" demux | sed 's/^videodrop/videodrop-large/' >>"$rows"
done
# shellcheck disable=SC2129
{
    echo "## Throughput and cost"
    echo
    echo "Manifests already in the inbox, the mock answering with 1 s generations; every tool runs"
    echo "64 jobs at once and polls every 1 s (videodrop: \`min_interval = \"1s\"\`, then its own"
    echo "schedule). CPU is user + system of the tool's process tree (videodrop: the daemon alone,"
    echo "its checks in-process; the baselines: the script with its curl, jq, ffprobe children)."
    echo
    echo "| tool | jobs | jobs/s | CPU ms/job | peak RSS MiB | creates/job | polls/job | lists/job | delivered |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for key in videodrop videodrop-decode videodrop-large shell node; do
        grep -q "^$key " "$rows" || continue
        n=$(col "$rows" "$key" 2)
        awk -v k="$key" -v n="$n" -v w="$(col "$rows" "$key" 3)" -v c="$(col "$rows" "$key" 4)" \
            -v m="$(col "$rows" "$key" 5)" -v cr="$(col "$rows" "$key" 6)" -v p="$(col "$rows" "$key" 7)" \
            -v l="$(col "$rows" "$key" 8)" -v d="$(col "$rows" "$key" 10)" 'BEGIN {
            name = k == "videodrop" ? "videodrop `once` (verify demux)" : \
                   k == "videodrop-decode" ? "videodrop `once` (verify decode)" : \
                   k == "videodrop-large" ? "videodrop `once` (verify demux)" : \
                   k == "shell" ? "inotifywait + curl + jq + ffprobe" : "Node: openai + chokidar + ffprobe"
            printf "| %s | %d | %.1f | %.2f | %.1f | %.2f | %.2f | %.2f | %d |\n", name, n, n / w, \
                1000 * c / n, m / 1024, cr / n, p / n, l / n, d }'
    done
    echo
    timed "$BENCH_TMP/time" "$VD" --version >/dev/null
    read -r _ _ _ floor <"$BENCH_TMP/time"
    awk -v f="$floor" -v libs="$(ldd "$VD" | wc -l)" 'BEGIN {
        printf "The floor: `videodrop --version`, which only loads the binary and its %d shared\n", libs
        printf "libraries (Debian'"'"'s FFmpeg brings most of them), peaks at %.1f MiB RSS.\n\n", f / 1024 }'
    vd_cpu=$(col "$rows" videodrop 4) vd_rss=$(col "$rows" videodrop 5)
    awk -v v="$vd_cpu" -v vr="$vd_rss" -v s="$(col "$rows" shell 4)" -v sr="$(col "$rows" shell 5)" \
        -v n="$(col "$rows" node 4)" -v nr="$(col "$rows" node 5)" 'BEGIN {
        printf "Ratios at %s jobs, same run: the Node script used **%.1fx** videodrop'"'"'s CPU and %.1fx its peak RSS;", "'"$small"'", n / v, nr / vr
        printf " the shell script **%.1fx** its CPU and %.1fx its peak RSS.\n", s / v, sr / vr }'
    echo
} >>"$tmp"

say "drop-to-create latency ($RUNS runs of about $((small * 11 / 100 + 10)) s)"
for ((r = 1; r <= RUNS; r++)); do
    bench/latency.sh "$build" "$small" >>"$BENCH_TMP/latency"
done
{
    echo "## Drop-to-create latency"
    echo
    echo "\`videodrop run\` with the default intake settings; $small manifests dropped one every"
    echo "50 ms, then $small one every 10 ms; from the drop (the \`rename()\`, or the \`close()\` of a"
    echo "file written in place) to the create request arriving at the mock. Each job is then"
    echo "generated (1 s), fetched, verified and published while later files arrive."
    echo
    echo "| drop | rate | files | p50 ms | p99 ms | max ms |"
    echo "|---|---|---|---|---|---|"
    for key in rename-50 copy-50 rename-10; do
        grep -q "^$key " "$BENCH_TMP/latency" || continue
        awk -v k="$key" -v n="$(col "$BENCH_TMP/latency" "$key" 2)" -v a="$(col "$BENCH_TMP/latency" "$key" 3)" \
            -v b="$(col "$BENCH_TMP/latency" "$key" 4)" -v c="$(col "$BENCH_TMP/latency" "$key" 5)" 'BEGIN {
            printf "| %s | %s | %d | %.1f | %.1f | %.1f |\n", k ~ /^rename/ ? "renamed in" : "written in place",
                k ~ /-10$/ ? "100/s" : "20/s", n, a, b, c }'
    done
    echo
    echo "Renamed-in files go at once; files written in place wait for \`intake.settle\` (2 s"
    echo "unchanged). At 100 files a second, more than the jobs a second this machine finishes"
    echo "(see the throughput table), each drop also waits behind other jobs' recorded (fsynced)"
    echo "steps on the daemon's one loop."
    echo
} >>"$tmp"

say "polls for ${polls_gen}-second renders (takes about $((polls_gen + 20)) s)"
bench/polls.sh 10 "$polls_gen" >"$BENCH_TMP/polls"
{
    echo "## Polls per job and completion-to-delivery lag"
    echo
    echo "10 renders of $polls_gen s each (the mock's real clock), side by side: videodrop with its"
    echo "default polling against the shell baseline polling every 1 s and every 10 s."
    echo
    echo "| poller | jobs | polls/job | lag p50 s | lag max s |"
    echo "|---|---|---|---|---|"
    awk '{ printf "| %s | %d | %.1f | %.2f | %.2f |\n", $1 == "videodrop" ? "videodrop (min 2 s, max 30 s, from progress)" : $1 == "poll-1s" ? "fixed 1 s" : "fixed 10 s", $2, $3, $4, $5 }' "$BENCH_TMP/polls"
    echo
} >>"$tmp"

say "download of a 200 MB body"
bench/download.sh >"$BENCH_TMP/download"
{
    echo "## Download"
    echo
    echo "A ~200 MB MP4 from the mock on loopback: videodrop's own transfer time (its debug log:"
    echo "libcurl's total time, the body written to the file; the fsync that follows, which"
    echo "\`curl -o\` does not do, is not counted) against \`curl -o\` of the same URL; peak RSS"
    echo "of each process."
    echo
    echo "| tool | MB | MB/s | peak RSS MiB |"
    echo "|---|---|---|---|"
    for key in videodrop curl; do
        awk -v k="$key" -v b="$(col "$BENCH_TMP/download" "$key" 2)" -v s="$(col "$BENCH_TMP/download" "$key" 3)" \
            -v m="$(col "$BENCH_TMP/download" "$key" 4)" 'BEGIN { printf "| %s | %.0f | %.0f | %.1f |\n", k == "curl" ? "curl -o" : "videodrop", b / 1e6, s, m / 1024 }'
    done
    awk -v v="$(col "$BENCH_TMP/download" videodrop 3)" -v c="$(col "$BENCH_TMP/download" curl 3)" \
        'BEGIN { printf "\nvideodrop downloads at **%.0f%%** of curl'"'"'s throughput.\n\n", 100 * v / c }'
} >>"$tmp"

say "verification of 720p and 1080p files"
{
    echo "## Verification"
    echo
    echo "CPU and wall per file, in-process (videodrop) against the commands a user would run."
    echo
    "$build/bench_verify_decode" "$RUNS"
    echo
} >>"$tmp"

say "idle and status (takes about $((2 * idle_secs + 20)) s)"
large_spool=$BENCH_TMP/spool-large
[ -d "$large_spool" ] || { say "no $large spool left by the throughput run"; exit 1; }
bench/idle_status.sh "$large_spool" "$idle_secs" >"$BENCH_TMP/idle"
{
    echo "## Idle and a big state folder"
    echo
    echo "\`videodrop run\` with nothing queued and nothing in flight, over $idle_secs s: context"
    echo "switches of all its threads a minute, and its RSS; first on an empty spool, then on the"
    echo "spool of the $large-job run ($large finished jobs in \`state/\` and \`outbox/\`)."
    echo
    echo "| spool | wakeups/min | RSS MiB |"
    echo "|---|---|---|"
    awk -v big="$large finished jobs" '$1 == "idle" { printf "| %s | %.1f | %.1f |\n", $2 == "empty" ? "empty" : big, $3, $4 / 1024 }' "$BENCH_TMP/idle"
    echo
    echo "| command ($large finished jobs) | wall ms | peak RSS MiB |"
    echo "|---|---|---|"
    for key in status status-json; do
        awk -v k="$key" -v w="$(col "$BENCH_TMP/idle" "$key" 2)" -v m="$(col "$BENCH_TMP/idle" "$key" 3)" \
            'BEGIN { printf "| `videodrop %s` | %.0f | %.1f |\n", k == "status" ? "status" : "status --json", w * 1000, m / 1024 }'
    done
    echo
} >>"$tmp"

if [ -n "$before" ]; then
    # The older binary may not finish $large jobs in reasonable time: one run, stopped at three
    # times the current binary's time, and the table says what it delivered by then.
    limit=$(awk -v w="$(col "$rows" videodrop-large 3)" 'BEGIN { print int(3 * w) + 1 }')
    say "before and after with $before: $small jobs, $large jobs (stopped after $limit s), download, idle, status, latency"
    for ((r = 1; r <= RUNS; r++)); do
        VD=$before bench/throughput.sh videodrop "$small" demux | sed 's/^videodrop/before/' >>"$rows"
    done
    TIME_LIMIT=$limit VD=$before bench/throughput.sh videodrop "$large" demux | sed 's/^videodrop/before-large/' >>"$rows"
    VD=$before bench/download.sh >"$BENCH_TMP/download-before"
    VD=$before bench/idle_status.sh "$large_spool" "$idle_secs" >"$BENCH_TMP/idle-before"
    VD=$before bench/latency.sh "$build" "$small" >"$BENCH_TMP/latency-before"
    {
        echo "## Before and after the cost cuts"
        echo
        echo "The same measurements with the binary before the cuts ($("$before" --version | head -1),"
        echo "built from the commit before them), in this run; the mock is the current one for both."
        echo
        echo "| figure | before | after |"
        echo "|---|---|---|"
        awk -v n="$small" -v bc="$(col "$rows" before 4)" -v ac="$(col "$rows" videodrop 4)" \
            -v bm="$(col "$rows" before 5)" -v am="$(col "$rows" videodrop 5)" \
            -v bp="$(col "$rows" before 7)" -v ap="$(col "$rows" videodrop 7)" 'BEGIN {
            printf "| CPU ms/job, %d jobs | %.2f | %.2f |\n", n, 1000 * bc / n, 1000 * ac / n
            printf "| peak RSS MiB, %d jobs | %.1f | %.1f |\n", n, bm / 1024, am / 1024
            printf "| polls/job, %d jobs | %.2f | %.2f |\n", n, bp / n, ap / n }'
        awk -v n="$large" -v bc="$(col "$rows" before-large 4)" -v ac="$(col "$rows" videodrop-large 4)" \
            -v bm="$(col "$rows" before-large 5)" -v am="$(col "$rows" videodrop-large 5)" \
            -v bw="$(col "$rows" before-large 3)" -v aw="$(col "$rows" videodrop-large 3)" \
            -v bd="$(col "$rows" before-large 10)" -v ad="$(col "$rows" videodrop-large 10)" -v lim="$limit" 'BEGIN {
            printf "| %d jobs: delivered, in s (before: one run, stopped at %d s) | %d in %.0f | %d in %.0f |\n", n, lim, bd, bw, ad, aw
            printf "| %d jobs: CPU s (ms per delivered job) | %.0f (%s) | %.0f (%.2f) |\n", n, bc, \
                bd ? sprintf("%.2f", 1000 * bc / bd) : "none delivered", ac, 1000 * ac / ad
            printf "| %d jobs: peak RSS MiB | %.1f | %.1f |\n", n, bm / 1024, am / 1024 }'
        awk -v b="$(col "$BENCH_TMP/download-before" videodrop 3)" -v bc="$(col "$BENCH_TMP/download-before" curl 3)" \
            -v a="$(col "$BENCH_TMP/download" videodrop 3)" -v ac="$(col "$BENCH_TMP/download" curl 3)" 'BEGIN {
            printf "| download MB/s (%% of curl -o in the same run) | %.0f (%.0f%%) | %.0f (%.0f%%) |\n", b, 100 * b / bc, a, 100 * a / ac }'
        for label in empty finished; do
            awk -v l="$label" -v b="$(awk -v l="$label" '$1 == "idle" && $2 == l { print $3 }' "$BENCH_TMP/idle-before")" \
                -v a="$(awk -v l="$label" '$1 == "idle" && $2 == l { print $3 }' "$BENCH_TMP/idle")" \
                -v big="$large finished jobs" \
                'BEGIN { printf "| idle wakeups/min, %s | %.1f | %.1f |\n", l == "empty" ? "empty spool" : big, b, a }'
        done
        for key in rename-50 copy-50; do
            awk -v k="$key" -v b="$(col "$BENCH_TMP/latency-before" "$key" 3)" -v a="$(col "$BENCH_TMP/latency" "$key" 3)" \
                'BEGIN { printf "| drop-to-create p50 ms, %s at 20/s | %.1f | %.1f |\n", k ~ /^rename/ ? "renamed in" : "written in place", b, a }'
        done
        for key in status status-json; do
            awk -v k="$key" -v b="$(col "$BENCH_TMP/idle-before" "$key" 2)" -v a="$(col "$BENCH_TMP/idle" "$key" 2)" \
                'BEGIN { printf "| `videodrop %s` ms, %s finished jobs | %.0f | %.0f |\n", k == "status" ? "status" : "status --json", "'"$large"'", b * 1000, a * 1000 }'
        done
        echo
    } >>"$tmp"
fi

mv "$tmp" "$out"
say "wrote $out"
