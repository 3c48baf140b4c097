#!/usr/bin/env bash
# Runs the mock benchmark and checks the rendered clips with ffprobe (size and duration).
# Usage: bench/mock_throughput.sh BUILD_DIR [CLIENTS] [SECONDS]
set -euo pipefail
build=${1:?usage: mock_throughput.sh BUILD_DIR [CLIENTS] [SECONDS]}
clips=$(mktemp -d)
trap 'rm -rf "$clips"' EXIT
"$build/bench_mock_throughput" "${2:-4}" "${3:-3}" "$clips" 2> >(grep -v "Starting second pass" >&2)
if command -v ffprobe >/dev/null; then
    for f in "$clips"/*.mp4; do
        probe=$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,width,height \
            -show_entries format=duration -of csv=p=0 "$f" | paste -sd' ')
        echo "ffprobe $(basename "$f"): $probe"
    done
fi
