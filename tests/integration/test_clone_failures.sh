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
start_prod() {
	"$PK_BIN" container run "$PROD" --rootfs / --ip "$IP/24" -- redis-server --bind 0.0.0.0 \
		--port 6379 --save '' --protected-mode no --enable-debug-command yes >/dev/null || return 1
	pk_route_ok "$IP" || return 1
	for _ in $(seq 50); do [ "$(redis-cli -h "$IP" PING 2>/dev/null)" = PONG ] && return 0; sleep 0.1; done
	return 1
}

# 1. Disk full: the whole state dir on an 16 MB tmpfs, production holding ~60 MB.
mkdir -p "$SMALL"
mount -t tmpfs -o size=16m tmpfs "$SMALL"
PARIKSHAN_STATE_DIR=$SMALL start_prod || { pk_fail setup "production did not start"; exit 1; }
redis-cli -h "$IP" DEBUG POPULATE 400000 >/dev/null
out=$(PARIKSHAN_STATE_DIR=$SMALL "$PK_BIN" clone "$PROD" "$DBG" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"not enough disk"* ]]; then pk_ok disk-full-refused; else pk_fail disk-full-refused "rc=$rc: $out"; fi
PK_STATE=$SMALL pk_no_debris disk-full-no-debris "$DBG"
pk_expect_eq disk-full-production-runs "$(redis-cli -h "$IP" PING)" PONG
PARIKSHAN_STATE_DIR=$SMALL "$PK_BIN" container rm "$PROD" >/dev/null
umount "$SMALL"

# 2. Production not running (its process killed): refused.
start_prod || { pk_fail setup "production did not start"; exit 1; }
runc kill "$PROD" KILL
for _ in $(seq 50); do runc state "$PROD" 2>/dev/null | grep -q '"stopped"' && break; sleep 0.1; done
out=$("$PK_BIN" clone "$PROD" "$DBG" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"is not running"* ]]; then pk_ok stopped-production-refused; else pk_fail stopped-production-refused "rc=$rc: $out"; fi
if "$PK_BIN" container ls | grep -qE "^$PROD .* stopped"; then pk_ok ls-reports-stopped; else pk_fail ls-reports-stopped "$("$PK_BIN" container ls)"; fi
pk_no_debris stopped-no-debris "$DBG"
"$PK_BIN" container rm "$PROD" >/dev/null

# 3. Restore killed mid-way: CRIU's restore is SIGKILLed as soon as it appears.
start_prod || { pk_fail setup "production did not start"; exit 1; }
redis-cli -h "$IP" DEBUG POPULATE 200000 >/dev/null
"$PK_BIN" clone "$PROD" "$DBG" >"$PK_TMP/clone.out" 2>&1 &
CL=$!
killed=""
for _ in $(seq 3000); do # bounded: at most ~30 s
	for c in $(pgrep -x criu); do
		pp=$(awk '{print $4}' "/proc/$c/stat" 2>/dev/null)
		if tr '\0' ' ' <"/proc/$pp/cmdline" 2>/dev/null | grep -q "runc restore"; then
			kill -KILL "$c" && killed=$c
		fi
	done
	[ -n "$killed" ] && break
	kill -0 "$CL" 2>/dev/null || break
	sleep 0.01
done
wait "$CL"
rc=$?
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
