#!/usr/bin/env bash
# Soak: JOBS manifests through `videodrop run` against the mock with every fault on, the daemon
# killed with SIGKILL at random moments KILLS times (and restarted), a few SIGHUPs, then the
# promises checked on what is left (bench/soak_check.cpp): every manifest ended exactly once,
# every published MP4 decodes cleanly and matches its sidecar, no prompt created twice, no
# minute above the RPM, no key in any file.
#
#   bench/soak.sh [BUILD_DIR] [JOBS] [KILLS]      defaults: build/release 2000 20
#
# Faults (mock-server flags): 5% 5xx, 5% resets, 5% lost create answers plus 10% lost on a reused
# connection, 5% truncated and 5% wrecked downloads, an RPM limit, 2% of prompts moderated.
set -euo pipefail
build=${1:-build/release}
jobs=${2:-2000}
kills=${3:-20}
rpm=${SOAK_RPM:-300}
seed=${SOAK_SEED:-7}
bin=$(realpath "$build/videodrop")
check=$(realpath "$build/bench_soak_check")
key="sk-soak-$RANDOM$RANDOM-secret"
work=$(mktemp -d /tmp/vd-soak-XXXXXX)
mock_pid=""
daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null || true
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    if [ "${SOAK_KEEP:-0}" = 1 ]; then echo "soak: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p "$work"/{inbox,outbox,failed,state,staging}

"$bin" mock-server --listen 127.0.0.1:0 --keys "$key" --queue-time 200ms --gen-time 1s \
    --fail-rate 0.05 --reset-rate 0.05 --lost-rate 0.05 --lost-on-reuse-rate 0.10 \
    --truncate-rate 0.05 --corrupt-rate 0.05 --rpm "$rpm" --moderation-word forbidden \
    --model tiny:1,2:160x90,90x160:0.01 --seed "$seed" --log "$work/mock.jsonl" \
    >"$work/mock.out" 2>&1 &
mock_pid=$!
for _ in $(seq 100); do
    grep -q "listening on" "$work/mock.out" 2>/dev/null && break
    sleep 0.1
done
base_url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/mock.out")
[ -n "$base_url" ] || { echo "soak: the mock did not start"; cat "$work/mock.out"; exit 1; }

write_config() {  # $1: max_in_flight (changed by the SIGHUPs)
    cat >"$work/videodrop.toml" <<TOML
[paths]
inbox = "inbox"
outbox = "outbox"
failed = "failed"
state = "state"
[defaults]
provider = "soak"
model = "tiny"
seconds = 1
size = "160x90"
[providers.soak]
base_url = "$base_url"
api_key_env = "SOAK_KEY"
submits_per_minute = $rpm
max_in_flight = $1
[providers.soak.models.tiny]
seconds = [1, 2]
sizes = ["160x90", "90x160"]
usd_per_second = 0.01
[intake]
settle = "100ms"
rescan = "2s"
[polling]
min_interval = "200ms"
max_interval = "2s"
job_timeout = "20m"
[verify]
level = "decode"
download_backoff = "1s"
[log]
level = "info"
TOML
}
write_config 32

# Manifests are written in a staging folder and renamed into the inbox in waves while the
# daemon runs (and is killed), so kills land during intake as well as in flight.
for i in $(seq 0 $((jobs - 1))); do
    prompt="soak job $i of $jobs, seed $seed"
    [ $((i % 50)) -eq 7 ] && prompt="a forbidden scene, soak job $i"  # 2% moderated
    printf '{"prompt": "%s"}\n' "$prompt" >"$work/staging/soak-$i.json"
done
feed() {  # moves up to $1 staged manifests into the inbox
    find "$work/staging" -name '*.json' | head -n "$1" | while read -r f; do
        mv "$f" "$work/inbox/"
    done || true  # head closing the pipe early is expected
}

start=$(date +%s)
export SOAK_KEY="$key"
cd "$work"
wave=$(( (jobs + kills - 1) / (kills + 1) + 1 ))
hups=0
for k in $(seq 1 "$kills"); do
    feed "$wave"
    "$bin" --config "$work/videodrop.toml" run >>"$work/daemon.log" 2>&1 &
    daemon_pid=$!
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 1.5 + (r % 5000) / 1000 }')"
    if [ $((k % 7)) -eq 3 ]; then  # a reload now and then: limits change while jobs run
        write_config $((16 + k))
        kill -HUP "$daemon_pid"
        hups=$((hups + 1))
        sleep 0.5
    fi
    kill -9 "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null || true
    daemon_pid=""
done
feed "$jobs"
"$bin" --config "$work/videodrop.toml" run >>"$work/daemon.log" 2>&1 &
daemon_pid=$!
limit=$(( ${SOAK_LIMIT:-1800} ))
while :; do
    done_count=$(( $(find outbox -maxdepth 1 -name '*.json' | wc -l) + \
                   $(find failed -maxdepth 1 -name '*.error.json' | wc -l) ))
    [ "$done_count" -ge "$jobs" ] && break
    if [ $(( $(date +%s) - start )) -gt "$limit" ]; then
        echo "soak: only $done_count of $jobs ended within ${limit}s"
        break
    fi
    sleep 1
done
kill -TERM "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=""
elapsed=$(( $(date +%s) - start ))
echo "soak: $jobs jobs, $kills SIGKILLs, $hups SIGHUPs, ${elapsed}s"
cp "$work/daemon.log" "$work/state/daemon.log"  # searched for the key with the rest
"$check" "$work" "$work/mock.jsonl" "$rpm" "$jobs" "$key"
