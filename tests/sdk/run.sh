#!/usr/bin/env bash
# The official openai npm SDK against `videodrop mock-server`: the mock speaks the protocol the way
# the reference client expects. Usage: run.sh VIDEODROP_BINARY WORKDIR
# Installs openai@^6 (the newest major that runs on Node 20) into WORKDIR once.
set -euo pipefail
bin=${1:?usage: run.sh VIDEODROP_BINARY WORKDIR}
work=${2:?usage: run.sh VIDEODROP_BINARY WORKDIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
work=$(cd "$work" && pwd)

if [ ! -f "$work/node_modules/openai/package.json" ]; then
    echo "sdk: installing openai@^6 into $work"
    npm install --prefix "$work" --no-audit --no-fund --loglevel=error openai@^6 >/dev/null
fi
echo "sdk: openai $(node -p "require('$work/node_modules/openai/package.json').version")"

out="$work/mock.out"
: >"$out"
: >"$work/mock-requests.jsonl"
"$bin" mock-server --listen 127.0.0.1:0 --keys sk-test --queue-time 100ms --gen-time 300ms \
    --log "$work/mock-requests.jsonl" >"$out" 2>"$work/mock.err" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT

url=""
for _ in $(seq 100); do
    url=$(sed -n 's/^mock: listening on //p' "$out")
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "sdk: mock-server did not start"
    cat "$work/mock.err"
    exit 1
fi

# ESM resolves packages from the script's folder, so the script runs beside node_modules.
cp "$here/sdk_test.mjs" "$work/sdk_test.mjs"
node "$work/sdk_test.mjs" "$url"
