#!/usr/bin/env bash
# Clone failure paths (issue 4, acceptance 5): a state dir too small (disk full), production not
# running, and a restore killed mid-way each fail with a clear message, leave no debris
# (state, netns, veth, mounts, runc state), and production keeps running.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (namespaces, mounts, runc, criu)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE"
P=pk-test-fl$$
PROD=$P DBG=$P-dbg IP=10.77.208.2
SMALL=$PK_TMP/small
cleanup_all() {
	for n in "$DBG" "$PROD" "$P-x"; do "$PK_BIN" container rm "$n" >/dev/null 2>&1; done
	for n in "$DBG" "$PROD"; do PARIKSHAN_STATE_DIR=$SMALL "$PK_BIN" container rm "$n" >/dev/null 2>&1; done
	umount "$SMALL" 2>/dev/null
	pk_cleanup
}
trap cleanup_all EXIT
start_prod() { pk_redis_container "$PROD" "$IP"; }

# 1. Disk full: the whole state dir on an 16 MB tmpfs, production holding ~60 MB.
mkdir -p "$SMALL"
mount -t tmpfs -o size=16m tmpfs "$SMALL"
PARIKSHAN_STATE_DIR=$SMALL start_prod || exit 1
redis-cli -h "$IP" DEBUG POPULATE 400000 >/dev/null
out=$(PARIKSHAN_STATE_DIR=$SMALL "$PK_BIN" clone "$PROD" "$DBG" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"not enough disk"* ]]; then pk_ok disk-full-refused; else pk_fail disk-full-refused "rc=$rc: $out"; fi
PK_STATE=$SMALL pk_no_debris disk-full-no-debris "$DBG"
pk_expect_eq disk-full-production-runs "$(redis-cli -h "$IP" PING)" PONG
PARIKSHAN_STATE_DIR=$SMALL "$PK_BIN" container rm "$PROD" >/dev/null
umount "$SMALL"

# 2. Production not running (its process killed): refused.
start_prod || exit 1
runc kill "$PROD" KILL
runc_stopped() { runc state "$1" | grep -q '"stopped"'; }
pk_wait_for "runc to report $PROD stopped" 30 runc_stopped "$PROD" || exit 1
out=$("$PK_BIN" clone "$PROD" "$DBG" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"is not running"* ]]; then pk_ok stopped-production-refused; else pk_fail stopped-production-refused "rc=$rc: $out"; fi
if "$PK_BIN" container ls | grep -qE "^$PROD .* stopped"; then pk_ok ls-reports-stopped; else pk_fail ls-reports-stopped "$("$PK_BIN" container ls)"; fi
pk_no_debris stopped-no-debris "$DBG"
"$PK_BIN" container rm "$PROD" >/dev/null

# 3. Restore killed mid-way: CRIU's restore is SIGKILLed as soon as it appears.
start_prod || exit 1
redis-cli -h "$IP" DEBUG POPULATE 200000 >/dev/null
"$PK_BIN" clone "$PROD" "$DBG" >"$PK_TMP/clone.out" 2>&1 &
CL=$!
# kill_restore: true once a criu child of `runc restore` has been killed (its pid is left in
# $PK_TMP/killed), or once the clone has ended without one appearing.
kill_restore() {
	local c pp
	for c in $(pgrep -x criu); do
		pp=$(awk '{print $4}' "/proc/$c/stat" 2>/dev/null)
		if tr '\0' ' ' <"/proc/$pp/cmdline" 2>/dev/null | grep -q "runc restore"; then
			kill -KILL "$c" && echo "$c" >"$PK_TMP/killed" && return 0
		fi
	done
	pk_gone "$CL"
}
# A 10 ms poll: the restore lives for a few tenths of a second.
PK_POLL_CAP_MS=10 pk_wait_for "CRIU's restore to appear (or the clone to end)" 60 kill_restore
wait "$CL"
rc=$?
killed=$(cat "$PK_TMP/killed" 2>/dev/null)
if [ -n "$killed" ] && [ $rc -eq 1 ] && grep -q "restore" "$PK_TMP/clone.out"; then
	pk_ok killed-restore-reported
else
	pk_fail killed-restore-reported "killed='$killed' rc=$rc: $(cat "$PK_TMP/clone.out")"
fi
pk_no_debris killed-restore-no-debris "$DBG"
if ip link | grep -q "pkh"; then
	# only production's own veth may remain
	n=$(ip link | grep -c 'pkh')
	pk_expect_eq killed-restore-no-stray-veth "$n" 1
fi
pk_expect_eq killed-restore-production-runs "$(redis-cli -h "$IP" PING)" PONG
pk_check clone-after-failure "$PK_BIN" clone "$PROD" "$DBG"
pk_check rm "$PK_BIN" container rm "$DBG"
pk_check rm-prod "$PK_BIN" container rm "$PROD"
pk_no_debris no-debris "$PROD" "$DBG"

# 4. Containers that cannot start: a clear reason, exit status, and no debris.
out=$("$PK_BIN" container run "$P-x" --rootfs / --ip 10.77.209.2/24 -- /nonexistent-binary 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"no such file or directory"* ]]; then pk_ok bad-command-reported; else pk_fail bad-command-reported "rc=$rc: $out"; fi
pk_no_debris bad-command-no-debris "$P-x"
out=$("$PK_BIN" container run "$P-x" --rootfs / --ip 10.77.209.0/24 -- true 2>&1); rc=$?
if [ $rc -eq 2 ] && [[ "$out" == *"is not ADDR/PREFIX"* ]]; then pk_ok bad-ip-refused; else pk_fail bad-ip-refused "rc=$rc: $out"; fi
out=$("$PK_BIN" container run "$P-x" --rootfs /nonexistent --ip 10.77.209.2/24 -- true 2>&1); rc=$?
if [ $rc -eq 2 ] && [[ "$out" == *"not a directory"* ]]; then pk_ok bad-rootfs-refused; else pk_fail bad-rootfs-refused "rc=$rc: $out"; fi
out=$("$PK_BIN" container run "BAD NAME" --rootfs / --ip 10.77.209.2/24 -- true 2>&1); rc=$?
if [ $rc -eq 2 ] && [[ "$out" == *"not a valid name"* ]]; then pk_ok bad-name-refused; else pk_fail bad-name-refused "rc=$rc: $out"; fi
pk_no_debris bad-input-no-debris "$P-x"
