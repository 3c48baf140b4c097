#!/usr/bin/env bash
# The figures one round of cost cuts moves, before and after side by side in one run, without the
# two hours of `make bench`: CPU, RSS and requests a job at SMALL and LARGE jobs, and `status` on
# the LARGE run's finished jobs. Each binary drives its own mock (the mock is the one of the build
# under test for both). Writes bench/CUTS.md; bench/RESULTS.md stays the full run's.
# Usage: bench/compare.sh BEFORE_BINARY [BUILD_DIR]
#   (BENCH_RUNS=3 runs each; SMALL=1000, LARGE=10000 jobs; LARGE_RUNS=BENCH_RUNS runs of LARGE)
set -euo pipefail
cd "$(dirname "$0")/.."
before=$(realpath "$1")
build=${2:-build/release}
export VD=$PWD/$build/videodrop
export MOCK_BIN=$VD
export BENCH_TMP=$(mktemp -d /tmp/vd-compare-XXXXXX)
trap 'rm -rf "$BENCH_TMP"' EXIT
source bench/lib.sh
small=${SMALL:-1000} large=${LARGE:-10000} large_runs=${LARGE_RUNS:-$RUNS}
rows=$BENCH_TMP/rows
say() { echo "compare: $*" >&2; }
col() { awk -v k="$2" -v c="$3" 'index($0, k " ") == 1 { print $c }' "$1" | median; }

for ((r = 1; r <= RUNS; r++)); do
    say "run $r of $RUNS: $small jobs, before then after"
    VD=$before bench/throughput.sh videodrop "$small" demux | sed 's/^videodrop/before-small/' >>"$rows"
    bench/throughput.sh videodrop "$small" demux | sed 's/^videodrop/after-small/' >>"$rows"
done
for who in before after; do
    bin=$VD
    [ "$who" = before ] && bin=$before
    for ((r = 1; r <= large_runs; r++)); do
        say "$who: $large jobs, run $r of $large_runs"
        VD=$bin KEEP_SPOOL=1 bench/throughput.sh videodrop "$large" demux | sed "s/^videodrop/$who-large/" >>"$rows"
    done
    # `status` on the finished jobs this binary left (its own state format); no provider is asked.
    MOCK_URL=http://127.0.0.1:9/v1 write_config "$BENCH_TMP/status.toml" "$BENCH_TMP/spool-large"
    for args in status "status --json"; do
        for ((r = 1; r <= RUNS; r++)); do
            # shellcheck disable=SC2086
            timed "$BENCH_TMP/time" "$bin" -c "$BENCH_TMP/status.toml" $args >/dev/null
            read -r wall _ _ rss <"$BENCH_TMP/time"
            echo "$who-${args/ --/-} $wall $rss" >>"$rows"
        done
    done
done

{
    echo "# One round of cost cuts, before and after"
    echo
    echo "Produced by \`bench/compare.sh\` ($(machine_line)); medians of $RUNS runs ($large jobs:"
    echo "$large_runs run(s) each), before and after alternating in one run. Before: $("$before" --version | head -1) built from the"
    echo "commit before the cuts. The full benchmark with its baselines is bench/RESULTS.md."
    echo
    echo "| figure | before | after |"
    echo "|---|---|---|"
    for size in small large; do
        n=$(col "$rows" "after-$size" 2)
        awk -v n="$n" -v bc="$(col "$rows" "before-$size" 4)" -v ac="$(col "$rows" "after-$size" 4)" \
            -v bm="$(col "$rows" "before-$size" 5)" -v am="$(col "$rows" "after-$size" 5)" \
            -v bw="$(col "$rows" "before-$size" 3)" -v aw="$(col "$rows" "after-$size" 3)" \
            -v bp="$(col "$rows" "before-$size" 7)" -v ap="$(col "$rows" "after-$size" 7)" \
            -v bd="$(col "$rows" "before-$size" 10)" -v ad="$(col "$rows" "after-$size" 10)" 'BEGIN {
            printf "| CPU ms/job, %d jobs | %.2f | %.2f |\n", n, 1000 * bc / n, 1000 * ac / n
            printf "| peak RSS MiB, %d jobs | %.1f | %.1f |\n", n, bm / 1024, am / 1024
            printf "| jobs/s, %d jobs | %.1f | %.1f |\n", n, n / bw, n / aw
            printf "| polls/job, %d jobs | %.2f | %.2f |\n", n, bp / n, ap / n
            printf "| delivered, %d jobs | %d | %d |\n", n, bd, ad }'
    done
    for key in status status-json; do
        awk -v k="$key" -v n="$large" -v bw="$(col "$rows" "before-$key" 2)" -v aw="$(col "$rows" "after-$key" 2)" \
            -v bm="$(col "$rows" "before-$key" 3)" -v am="$(col "$rows" "after-$key" 3)" 'BEGIN {
            name = k == "status" ? "`videodrop status`" : "`videodrop status --json`"
            printf "| %s ms, %d finished jobs | %.0f | %.0f |\n", name, n, bw * 1000, aw * 1000
            printf "| %s peak RSS MiB | %.1f | %.1f |\n", name, bm / 1024, am / 1024 }'
    done
} >bench/CUTS.md
cat bench/CUTS.md
