# Shared by the benchmark scripts (sourced): the mock in its own process, spools, configs, timing.
# Every server here listens on 127.0.0.1 only and is stopped by the script that started it.

VD=${VD:?VD must name the videodrop binary}
MOCK_BIN=${MOCK_BIN:-$VD}  # the mock always comes from the build under test, also for a "before" run
BENCH_TMP=${BENCH_TMP:-$(mktemp -d /tmp/vd-bench-XXXXXX)}
MODEL=tiny
MODEL_SPEC="tiny:1,4,12,20:160x90,1280x720,1920x1080:0.01"

# start_mock NAME [ARGS...]: starts `videodrop mock-server` on a free port with its request log at
# $BENCH_TMP/NAME.log; sets MOCK_PID and MOCK_URL (http://127.0.0.1:PORT/v1).
start_mock() {
    local name=$1
    shift
    rm -f "$BENCH_TMP/$name.log"
    "$MOCK_BIN" mock-server --listen 127.0.0.1:0 --threads 256 --model "$MODEL_SPEC" --log "$BENCH_TMP/$name.log" \
        "$@" >"$BENCH_TMP/$name.out" 2>&1 &
    MOCK_PID=$!
    for _ in $(seq 200); do
        MOCK_URL=$(sed -n 's/^mock: listening on //p' "$BENCH_TMP/$name.out")
        [ -n "$MOCK_URL" ] && return 0
        sleep 0.05
    done
    echo "bench: the mock did not start: $(cat "$BENCH_TMP/$name.out")" >&2
    exit 1
}

stop_mock() {
    kill "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
}

# new_spool DIR: empty inbox/outbox/failed/state under DIR.
new_spool() {
    rm -rf "$1"
    mkdir -p "$1"/inbox "$1"/outbox "$1"/failed "$1"/state
}

# write_manifests INBOX N [SECONDS] [SIZE]: N manifests job-1.json ... job-N.json.
write_manifests() {
    local inbox=$1 n=$2 secs=${3:-1} size=${4:-160x90} i
    for ((i = 1; i <= n; i++)); do
        printf '{"prompt": "bench job %d", "seconds": %d, "size": "%s"}\n' "$i" "$secs" "$size" \
            >"$inbox/.job-$i.json.tmp"
    done
    # Older than intake.settle, as files written a while before the run: they go at once.
    find "$inbox" -name '.job-*.json.tmp' -exec touch -d '10 seconds ago' {} +
    for ((i = 1; i <= n; i++)); do
        mv "$inbox/.job-$i.json.tmp" "$inbox/job-$i.json"
    done
}

# write_config FILE SPOOL [EXTRA_TOML]: videodrop's config for the mock at $MOCK_URL.
write_config() {
    local file=$1 spool=$2 extra=${3:-}
    cat >"$file" <<EOF
[paths]
inbox = "$spool/inbox"
outbox = "$spool/outbox"
failed = "$spool/failed"
state = "$spool/state"

[defaults]
provider = "mock"
model = "$MODEL"
seconds = 1
size = "160x90"

[providers.mock]
base_url = "$MOCK_URL"
api_key_env = "VD_BENCH_KEY"
submits_per_minute = 100000
max_in_flight = ${MAX_IN_FLIGHT:-64}

[providers.mock.models.$MODEL]
seconds = [1, 4, 12, 20]
sizes = ["160x90", "1280x720", "1920x1080"]
usd_per_second = 0.01

[log]
level = "warn"
$extra
EOF
}
export VD_BENCH_KEY=sk-bench

# timed OUT CMD...: runs CMD under /usr/bin/time; OUT gets "WALL_S USER_S SYS_S MAXRSS_KB".
timed() {
    local out=$1
    shift
    /usr/bin/time -o "$out" -f '%e %U %S %M' "$@"
}

# median: the median of the numbers on stdin, one a line.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# count_requests LOG: "CREATES POLLS LISTS DOWNLOADS" in the mock's request log.
count_requests() {
    jq -r '[.method, .path] | @tsv' "$1" | awk -F'\t' '
        $1 == "POST" && $2 == "/v1/videos" { c++ }
        $1 == "GET" && $2 == "/v1/videos" { l++ }
        $1 == "GET" && $2 ~ /^\/v1\/videos\/[^\/]+$/ { p++ }
        $1 == "GET" && $2 ~ /\/content$/ { d++ }
        END { printf "%d %d %d %d\n", c, p, l, d }'
}

# runs N: how many times each measurement is repeated for its median (BENCH_RUNS, default 3).
RUNS=${BENCH_RUNS:-3}

machine_line() {
    printf '%s, %s cores, %s GiB, %s; %s\n' "$(uname -srm)" "$(nproc)" \
        "$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" \
        "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" "$(date -u '+%Y-%m-%d %H:%M UTC')"
}
