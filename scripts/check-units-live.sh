#!/usr/bin/env bash
# The installed units under a live systemd, as README "Running under systemd" sets them up.
#
# systemd boots as PID 1 of a fresh PID and mount namespace, on a copy-on-write overlay of this
# machine's root (so nothing it or the install writes reaches the host; /tmp and /run are its
# own). The network is shared, so the service reaches a `videodrop mock-server` on 127.0.0.1.
# Checked, under the units' whole sandbox (system call filter, no W+X memory, read-only system):
#   - cmake --install, systemd-sysusers and systemd-tmpfiles make the user, the group and the
#     spool; a person in the videodrop group drops a manifest and reads the published result;
#   - videodrop.service starts (Type=notify: READY), keeps pinging the watchdog (shortened to
#     2 s here), delivers a verified video, tells a file still open for writing (CAP_LEASE),
#     logs warnings at priority warning with the job as a journal field, and stops cleanly;
#   - videodrop-once.service makes one pass with the same config and credential, and its timer
#     starts.
# Usage: check-units-live.sh BUILD_DIR (a configured and built build folder). Needs root.
set -euo pipefail
build=$(cd "${1:?usage: check-units-live.sh BUILD_DIR}" && pwd)
say() { echo "check-units-live: $*"; }
fail() {
    say "FAILED: $*"
    # VD_LIVE_HOLD=1 keeps the booted machine for a look: nsenter -t PID -m -p -r -w bash
    if [ -n "${VD_LIVE_HOLD:-}" ] && [ -n "${sd:-}" ]; then say "holding PID $sd"; sleep 900; fi
    exit 1
}
[ "$(id -u)" -eq 0 ] || fail "needs root (unshare, mount)"
[ -x /lib/systemd/systemd ] || fail "systemd is missing (apt-get install systemd)"

work=$(mktemp -d /var/tmp/vd-live.XXXXXX)
unshare_pid=""
mock_pid=""
cleanup() {
    set +e
    if [ -n "$unshare_pid" ]; then
        pkill -KILL -P "$unshare_pid" 2>/dev/null  # PID 1 of the namespace: all in it end
        wait "$unshare_pid" 2>/dev/null
    fi
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    umount -R "$work/root" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# The provider: a mock with one accepted key, on a free loopback port.
key="sk-live-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
"$build/videodrop" mock-server --listen 127.0.0.1:0 --keys "$key" --queue-time 200ms \
    --gen-time 1s >"$work/mock.out" 2>&1 &
mock_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/mock.out" && break; sleep 0.1; done
base_url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/mock.out")
[ -n "$base_url" ] || fail "the mock did not start: $(cat "$work/mock.out")"

# The machine to boot: an overlay of / whose writes go to a tmpfs of its own.
mkdir -p "$work/root"
cat >"$work/boot.sh" <<EOF
set -e
mount -t tmpfs tmpfs "$work/root"
mkdir "$work/root/upper" "$work/root/work" "$work/root/m"
m="$work/root/m"
mount -t overlay overlay -o lowerdir=/,upperdir="$work/root/upper",workdir="$work/root/work" "\$m"
mount -t proc proc "\$m/proc"
mount --rbind /sys "\$m/sys"
mount --rbind /dev "\$m/dev"
mount -t tmpfs tmpfs "\$m/run"
mount -t tmpfs tmpfs "\$m/tmp"
mkdir -p "\$m/run/systemd/system"
printf '[Unit]\nDescription=videodrop live check\nRequires=systemd-journald.socket\n' \
    >"\$m/run/systemd/system/vd-live.target"
# Shared, as systemd makes / on a host: the mounts it makes for a unit (its credentials) in a
# helper's namespace must reach its own.
mount --make-rshared "\$m"
echo ready >"$work/booting"
export container=videodrop-live
exec chroot "\$m" /lib/systemd/systemd --system --unit=vd-live.target --show-status=no
EOF
unshare --pid --fork --mount --propagation private bash "$work/boot.sh" </dev/null \
    >"$work/boot.out" 2>&1 &
unshare_pid=$!
sd=""
for _ in $(seq 100); do
    sd=$(pgrep -P "$unshare_pid" || true)
    [ -n "$sd" ] && [ -e "$work/booting" ] && break
    sleep 0.1
done
[ -n "$sd" ] || fail "systemd did not start: $(cat "$work/boot.out")"
inside() { nsenter -t "$sd" -m -p -r -w "$@"; }
state=""
for _ in $(seq 300); do
    state=$(inside systemctl is-system-running 2>/dev/null || true)
    case "$state" in running | degraded) break ;; esac
    sleep 0.1
done
case "$state" in running | degraded) ;; *) fail "systemd did not boot ($state)" ;; esac
say "systemd booted in a namespace (PID $sd)"

# README, "Running under systemd", step by step (the editor's part done with sed).
m="/proc/$sd/root"
DESTDIR="$m" cmake --install "$build" --prefix /usr/local >/dev/null
inside systemd-sysusers
inside systemd-tmpfiles --create videodrop.conf
sed -i "s|^base_url = .*|base_url = \"$base_url\"|" "$m/etc/videodrop/videodrop.toml"
printf '%s\n' "$key" | inside install -m 0600 /dev/stdin /etc/videodrop/openai.key
inside useradd --create-home --groups videodrop alice
# The ASan build: LeakSanitizer's exit check needs ptrace, which the filter refuses.
mkdir -p "$m/etc/systemd/system/videodrop.service.d" "$m/etc/systemd/system/videodrop-once.service.d"
printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\nWatchdogSec=2s\n' \
    >"$m/etc/systemd/system/videodrop.service.d/live.conf"
printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' \
    >"$m/etc/systemd/system/videodrop-once.service.d/live.conf"
inside systemctl daemon-reload
inside videodrop --config /etc/videodrop/videodrop.toml validate >/dev/null ||
    fail "validate refuses the installed config"

spool=/var/spool/videodrop
drop() {  # drop NAME JSON: alice writes NAME.json.tmp and renames it in
    inside runuser -u alice -- sh -c "umask 027; printf '%s' '$2' >$spool/inbox/$1.json.tmp &&
        mv $spool/inbox/$1.json.tmp $spool/inbox/$1.json"
}
wait_for() {  # wait_for FILE SECONDS
    for _ in $(seq $(($2 * 10))); do [ -e "$m$1" ] && return 0; sleep 0.1; done
    return 1
}

inside systemctl enable --now videodrop.service 2>/dev/null ||
    fail "videodrop.service did not start: $(inside journalctl -u videodrop --no-pager | tail -20)"
[ "$(inside systemctl show -p ActiveState --value videodrop.service)" = active ] ||
    fail "videodrop.service is not active after READY"
say "videodrop.service is active (Type=notify: READY=1 arrived)"

drop lake '{"prompt": "a calm lake at dawn"}'
drop broken '{"prompt": '
wait_for $spool/outbox/lake.json 60 ||
    fail "lake was not delivered: $(inside journalctl -u videodrop --no-pager | tail -20)"
say "lake delivered under the sandbox (downloaded with libcurl, verified with FFmpeg)"
# A file alice keeps open for writing, complete and quiet for longer than intake.settle (2 s):
# only the read lease (CAP_LEASE, as her file is not videodrop's) can tell it is still open.
inside runuser -u alice -- sh -c "printf '%s' '{\"prompt\": \"an open door\"}' >$spool/inbox/door.json
    exec 3>>$spool/inbox/door.json; sleep 8" &
writer=$!
sleep 6
[ -e "$m$spool/inbox/door.json" ] || fail "door.json was claimed while alice held it open"
wait "$writer"
wait_for $spool/outbox/door.json 60 || fail "door was not delivered once closed"
say "a file held open for writing was left alone until closed (read lease, CAP_LEASE)"
wait_for $spool/failed/broken.error.json 20 || fail "broken did not reach failed/"

inside runuser -u alice -- test -r $spool/outbox/lake.mp4 || fail "alice cannot read lake.mp4"
stat_of=$(inside stat -c '%a %G' $spool/outbox/lake.mp4)
[ "$stat_of" = "660 videodrop" ] || fail "lake.mp4 is $stat_of, not 660 videodrop"
inside runuser -u alice -- mv $spool/outbox/lake.mp4 /home/alice/ || fail "alice cannot take lake.mp4"
say "alice (group videodrop) read and took the result (0660, group videodrop)"

sleep 3  # more than the 2 s watchdog: a missing WATCHDOG=1 would have killed it by now
[ "$(inside systemctl show -p NRestarts --value videodrop.service)" = 0 ] &&
    [ "$(inside systemctl show -p ActiveState --value videodrop.service)" = active ] ||
    fail "the watchdog fired: $(inside journalctl -u videodrop --no-pager | tail -10)"
say "the watchdog (2 s) was fed"

warnings=$(inside journalctl -u videodrop -p warning --no-pager -o cat)
echo "$warnings" | grep -q "broken" || fail "journalctl -p warning does not show broken: $warnings"
if echo "$warnings" | grep -q "claimed"; then fail "info lines reach -p warning: $warnings"; fi
fields=$(inside journalctl -u videodrop VIDEODROP_JOB=lake --no-pager -o verbose)
echo "$fields" | grep -q "VIDEODROP_PROVIDER=gateway" || fail "no job fields in the journal: $fields"
echo "$fields" | grep -q "VIDEODROP_VIDEO_ID=" || fail "no video id field in the journal"
say "journal: priorities and fields (VIDEODROP_JOB, VIDEODROP_PROVIDER, VIDEODROP_VIDEO_ID)"
if inside journalctl --no-pager -o cat | grep -qF "$key"; then fail "the key reached the journal"; fi

inside systemctl stop videodrop.service
[ "$(inside systemctl show -p Result --value videodrop.service)" = success ] ||
    fail "videodrop.service did not stop cleanly"
say "videodrop.service stopped cleanly on SIGTERM (Result=success)"

drop river '{"prompt": "a river in the rain", "seconds": 8}'
# Each start is one pass (once --no-wait), as the timer makes one every five minutes: submit,
# then later passes poll and deliver.
passes=0
while [ ! -e "$m$spool/outbox/river.json" ] && [ $passes -lt 20 ]; do
    inside systemctl start videodrop-once.service || fail "videodrop-once.service failed: \
$(inside journalctl -u videodrop-once --no-pager | tail -20)"
    passes=$((passes + 1))
    sleep 1
done
[ -e "$m$spool/outbox/river.json" ] || fail "videodrop-once did not deliver river in $passes passes"
say "videodrop-once.service delivered river in $passes passes with the same config and credential"
inside systemctl enable --now videodrop-once.timer 2>/dev/null || fail "the timer did not start"
[ "$(inside systemctl is-active videodrop-once.timer)" = active ] || fail "the timer is not active"
say "videodrop-once.timer enabled and active (a pass every five minutes)"
say "every check passed"
