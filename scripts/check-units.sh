#!/usr/bin/env bash
# The systemd units: each passes `systemd-analyze verify` and is rated at most 1.5 ("OK") by
# `systemd-analyze security --offline=true`. BINARY stands in for /usr/local/bin/videodrop.
set -u
shopt -s nullglob
root=${1:-.}
binary=${2:-}
limit=1.5
if ! command -v systemd-analyze >/dev/null; then
    echo "check-units: systemd-analyze is missing (apt-get install systemd)"; exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
for unit in "$root"/systemd/*.service "$root"/systemd/*.timer; do
    name=$(basename "$unit")
    if [ -n "$binary" ]; then
        sed "s|/usr/local/bin/videodrop|$binary|" "$unit" >"$tmp/$name"
    else
        cp "$unit" "$tmp/$name"
    fi
done
for unit in "$tmp"/*; do
    name=$(basename "$unit")
    out=$(cd "$tmp" && systemd-analyze verify --man=no "$unit" 2>&1 | grep -v "is not executable")
    if [ -n "$out" ]; then
        echo "check-units: $name: systemd-analyze verify:"; echo "$out"; bad=1
    fi
    case "$name" in *.service) ;; *) continue ;; esac
    score=$(systemd-analyze security --offline=true "$unit" 2>&1 |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [ -z "$score" ] || awk -v s="$score" -v l="$limit" 'BEGIN { exit !(s > l) }'; then
        echo "check-units: $name: exposure ${score:-unknown}, above $limit"; bad=1
    else
        echo "check-units: $name: exposure $score"
    fi
done
[ $bad -eq 0 ] && echo "check-units: every unit verifies and is rated at most $limit"
exit $bad
