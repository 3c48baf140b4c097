#!/usr/bin/env bash
# pipeline/ is the pure core: it includes no IO library and reads no clock, randomness or files.
set -u
dir=${1:-pipeline}
bad=0
if grep -rnE '#include *[<"](uv\.h|curl/|libav|spdlog/|toml\+\+|httplib|systemd/|fstream|filesystem|random|thread|mutex|cstdio)' "$dir"; then
    echo "check-pure: $dir includes an IO library (above)"; bad=1
fi
if grep -rnE '(system|steady|high_resolution)_clock::now|std::random_device|\bfopen\(|std::ifstream|std::ofstream|\btime\(|\brand\(|getenv' "$dir"; then
    echo "check-pure: $dir reads the clock, randomness, files or the environment (above)"; bad=1
fi
[ $bad -eq 0 ] && echo "check-pure: $dir is pure"
exit $bad
