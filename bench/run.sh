#!/usr/bin/env bash
# Runs every benchmark of a build folder (default build/release) and prints their figures.
set -euo pipefail
build=${1:-build/release}
for b in "$build"/bench_*; do
    [ -x "$b" ] || continue
    [ "$(basename "$b")" = bench_soak_check ] && continue  # a checker for bench/soak.sh
    echo "== $(basename "$b")"
    "$b"
done
