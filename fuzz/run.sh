#!/bin/sh
# Builds the fuzz targets with clang and runs each for SECONDS (default 60), starting from the
# seeds in fuzz/seeds. A crash stops the run and leaves its input as fuzz/crash-TARGET-*.
# Usage: fuzz/run.sh [SECONDS] [BUILD_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-60}
build=${2:-$here/../build/fuzz}
cmake -S "$here" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
for target in manifest config provider; do
    work=$(mktemp -d)
    cp "$here/seeds/$target/"* "$work/"
    echo "fuzz_$target: $seconds s"
    "$build/fuzz_$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$here/crash-$target-" -print_final_stats=1 "$work" 2>&1 |
        grep -E "^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)" || true
    rm -rf "$work"
    if ls "$here"/crash-$target-* >/dev/null 2>&1; then
        echo "fuzz_$target found a crash: $(ls "$here"/crash-$target-*)" >&2
        exit 1
    fi
done
