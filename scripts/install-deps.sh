#!/usr/bin/env bash
# Installs the Debian 12 packages that the build, the tests and the demo need.
# Idempotent and non-interactive; skips the apt work when everything is present.
# With --bench, also what `make bench` runs: the baselines' tools and /usr/bin/time.
set -euo pipefail

packages=(
    build-essential make cmake ninja-build pkg-config git ca-certificates
    libuv1-dev libcurl4-openssl-dev libssl-dev libsystemd-dev
    libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
    libtomlplusplus-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
    libcpp-httplib-dev libexpected-dev catch2
    ffmpeg nodejs npm clang-format zlib1g-dev
    clang libclang-rt-14-dev
    systemd procps
)
if [ "${1:-}" = --bench ]; then packages+=(jq inotify-tools time); fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# node may come from elsewhere than Debian's package (the machine image ships one).
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=("${missing[@]/nodejs/}")
    missing=("${missing[@]/npm/}")
fi
read -ra missing <<<"${missing[*]}"

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all packages present"
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
