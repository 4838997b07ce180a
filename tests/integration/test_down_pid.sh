#!/usr/bin/env bash
# Issue 9 item 5: `down` signals the duplicator only if the pid in up.json is still the process
# `up` started (pid and start time, through a pidfd).  A stale up.json whose pid now names an
# unrelated process (a `sleep` of the test's) must leave that process alone; with the right
# start time, the process is stopped.
. "$(dirname "$0")/lib.sh"

STATE=$PK_TMP/state PROD=pk-test-down$$
mkdir -p "$STATE/$PROD"

# start_time PID: field 22 of /proc/PID/stat (the comm of `sleep` has no spaces).
start_time() { awk '{ print $22 }' "/proc/$1/stat"; }

# write_up PID [START]: an up.json naming PID (and START when given), with no clones.
write_up() {
	if [ $# -eq 2 ]; then
		printf '{"dup_pid": %d, "dup_start": %s, "admin": "127.0.0.1:1", "clones": []}\n' "$1" "$2"
	else
		printf '{"dup_pid": %d, "admin": "127.0.0.1:1", "clones": []}\n' "$1"
	fi >"$STATE/$PROD/up.json"
}

pk_bg sleeper sleep 300
SLEEP=$PK_LAST_PID
START=$(start_time "$SLEEP")

# A stale up.json: the pid is reused by our sleep, whose start time differs.
write_up "$SLEEP" $((START + 1))
out=$("$PK_BIN" down "$PROD" --state-dir "$STATE" 2>&1); rc=$?
if [ $rc -eq 0 ] && kill -0 "$SLEEP" 2>/dev/null; then
	pk_ok stale-pid-not-killed
else
	pk_fail stale-pid-not-killed "rc=$rc, sleep alive: $(kill -0 "$SLEEP" 2>/dev/null && echo yes || echo no): $out"
fi
pk_expect_eq stale-up-json-removed "$([ -e "$STATE/$PROD/up.json" ] && echo present || echo gone)" gone

# An up.json without a start time (nothing to check the pid against): not signalled either.
write_up "$SLEEP"
out=$("$PK_BIN" down "$PROD" --state-dir "$STATE" 2>&1 >/dev/null); rc=$?
if kill -0 "$SLEEP" 2>/dev/null && [[ "$out" == *"not signalling"* ]] && [ "$(echo "$out" | wc -l)" -eq 1 ]; then
	pk_ok unverifiable-pid-not-killed
else
	pk_fail unverifiable-pid-not-killed "rc=$rc, sleep alive: $(kill -0 "$SLEEP" 2>/dev/null && echo yes || echo no): $out"
fi

# The process up.json really names (pid and start time): stopped.
write_up "$SLEEP" "$START"
out=$("$PK_BIN" down "$PROD" --state-dir "$STATE" 2>&1); rc=$?
wait "$SLEEP" 2>/dev/null
if [ $rc -eq 0 ] && ! kill -0 "$SLEEP" 2>/dev/null; then
	pk_ok own-pid-stopped
else
	pk_fail own-pid-stopped "rc=$rc, sleep alive: $(kill -0 "$SLEEP" 2>/dev/null && echo yes || echo no): $out"
fi
