#!/usr/bin/env bash
# The README as a newcomer follows it: the first command block of "Using it" runs as written
# (the binary under test standing in for build/release), the demo leaves a folder where
# `videodrop status` works, and the example config's commented gateway is valid once uncommented.
# Usage: check-readme.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "${1:?usage: check-readme.sh SOURCE_DIR BUILD_DIR}" && pwd)
build=$(cd "${2:?usage: check-readme.sh SOURCE_DIR BUILD_DIR}" && pwd)
say() { echo "check-readme: $*"; }
fail() { say "FAILED: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/build"
ln -s "$build" "$work/build/release"
ln -s "$src/config" "$work/config"

# The first ```sh block after "## Using it".
awk '/^## Using it/ { on = 1 } on && /^```sh/ { inside = 1; next }
     inside && /^```/ { exit } inside { print }' "$src/README.md" >"$work/using.sh"
[ -s "$work/using.sh" ] || fail "no command block under \"## Using it\""
say "running the README's \"Using it\" block ($(wc -l <"$work/using.sh") lines)"
(cd "$work" && bash -euo pipefail -x using.sh) >"$work/using.out" 2>&1 ||
    fail "the block failed: $(tail -20 "$work/using.out")"
# submit names the job after the prompt's words, with no suffix while the name is free.
shopt -s nullglob
videos=("$work"/my-videos/outbox/a-cat-playing-the-piano*.mp4)
[ ${#videos[@]} -eq 1 ] && [ "$(basename "${videos[0]}")" = a-cat-playing-the-piano.mp4 ] ||
    fail "not one outbox/a-cat-playing-the-piano.mp4: $(tail "$work/using.out")"
[ -s "${videos[0]%.mp4}.json" ] || fail "no sidecar beside ${videos[0]}"
grep -q "1 job: 1 delivered" "$work/using.out" || fail "status shows no delivered job"
say "the block ran as written: $(basename "${videos[0]}") delivered with the example config"

# The demo's folder has a configuration of its own.
"$build/videodrop" demo "$work/demo" >"$work/demo.out" 2>&1 || fail "demo: $(tail "$work/demo.out")"
grep -q "Next: cd $work/demo && videodrop status" "$work/demo.out" || fail "demo names no next step"
(cd "$work/demo" && "$build/videodrop" status) >"$work/status.out" 2>&1 ||
    fail "status in the demo folder: $(cat "$work/status.out")"
grep -q "cat-piano" "$work/status.out" || fail "status in the demo folder: $(cat "$work/status.out")"
say "after the demo, videodrop status in its folder lists its jobs"

# The commented gateway of the example config, uncommented as the README says, is valid.
awk '/^# \[providers\.gateway\]/ { on = 1 } /^\[intake\]/ { on = 0 }
     { if (on) sub(/^# ?/, ""); print }' "$src/config/videodrop.example.toml" |
    sed 's/^provider = "mock"/provider = "gateway"/' >"$work/my-videos/gateway.toml"
grep -q '^\[providers.gateway.dialect\]' "$work/my-videos/gateway.toml" || fail "no gateway to uncomment"
(cd "$work/my-videos" && OPENAI_API_KEY=sk-readme "$build/videodrop" --config gateway.toml \
    validate) >"$work/gateway.out" 2>&1 || fail "the gateway config: $(cat "$work/gateway.out")"
say "the example's gateway provider is valid once uncommented"
