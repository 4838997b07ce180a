#!/usr/bin/env bash
# `parikshan snapshot` / `rewind` (issue 13, acceptance 4 and 7): a redis container behind dup
# with a clone; keys written through the front door, a snapshot, more keys; rewind: the later
# keys are gone from the clone (the earlier ones there), production untouched; rewind --replay:
# the later keys are back, the recorded answers match, the clone's digest equals production's.
# The snapshot stays usable (rewound twice).  Bad input: unknown clone, production, unknown
# tag, a traced clone; nothing left running (the recorder stops with the rewind and with rm).
. "$(dirname "$0")/lib.sh"

pk_clone_frame snap
IP=10.77.236.2 # no other test uses 10.77.236.0/24

pk_redis_container "$PROD" "$IP" || exit 1
pk_clone_up "$PROD" "$DBG" || exit 1
pk_route_ok "$IP" || { pk_fail route "$IP not routed into our veth"; exit 1; }
FRONT=$(pk_free_port)
pk_dup front -l "$FRONT" -x "$IP" -p 6379 -m "$MGMT" -d 6379 || exit 1

# set_keys PREFIX N: N keys PREFIX1..N through the front door, one connection each
set_keys() {
	local i bad=0
	for ((i = 1; i <= $2; i++)); do
		[ "$(redis-cli -p "$FRONT" SET "$1$i" "v$i")" = OK ] || bad=$((bad + 1))
	done
	[ "$bad" -eq 0 ]
}
clone_has() { [ "$(redis-cli -h "$MGMT" EXISTS "$1")" = 1 ]; }
clone_keys() { redis-cli -h "$MGMT" --scan --pattern "$1*" | wc -l; }

pk_check early-keys set_keys early 20
pk_wait_for "the clone to have the early keys" 30 clone_has early20 || exit 1

out=$("$PK_BIN" snapshot "$DBG" t0 2>&1)
rc=$?
pk_expect_eq snapshot-exit "$rc" 0
if grep -qE "^snapshot t0 of $DBG taken in [0-9]+ ms .*port 6379 \(recorder pid [0-9]+\)" <<<"$out"; then
	pk_ok snapshot-says
else
	pk_fail snapshot-says "$out"
fi
RPID=$(grep -oE 'recorder pid [0-9]+' <<<"$out" | grep -oE '[0-9]+$')
pk_expect_eq clone-kept-running "$(redis-cli -h "$MGMT" PING)" PONG
pk_check listed sh -c "'$PK_BIN' snapshot '$DBG' --list | grep -qE '^t0 .* 6379 yes '"

pk_check late-keys set_keys late 30
pk_wait_for "the clone to have the late keys" 30 clone_has late30 || exit 1
PROD_DIGEST=$(nsenter --net="/var/run/netns/pk-$PROD" redis-cli DEBUG DIGEST)
pk_expect_eq clone-equals-production-before "$(redis-cli -h "$MGMT" DEBUG DIGEST)" "$PROD_DIGEST"

# --- rewind: back to t0 ------------------------------------------------------------------
out=$("$PK_BIN" rewind "$DBG" t0 2>&1)
pk_expect_eq rewind-exit "$?" 0
pk_check rewind-says grep -qE "^clone $DBG rewound to t0; its input since then: [1-9][0-9]* bytes" <<<"$out"
pk_check recorder-stopped pk_gone "$RPID"
pk_expect_eq rewound-serves "$(redis-cli -h "$MGMT" PING)" PONG
pk_expect_eq later-keys-gone "$(clone_keys late)" 0
pk_expect_eq earlier-keys-kept "$(clone_keys early)" 20
pk_expect_eq production-untouched "$(nsenter --net="/var/run/netns/pk-$PROD" redis-cli DEBUG DIGEST)" "$PROD_DIGEST"

# --- rewind --replay: the same input again -----------------------------------------------------
out=$("$PK_BIN" rewind "$DBG" t0 --replay 2>&1)
rc=$?
echo "$out" | tail -n 3
pk_expect_eq replay-exit "$rc" 0
pk_check replay-all-same grep -qE "^([3-9][0-9]) connections: \1 same, 0 different, 0 unknown" <<<"$out"
pk_expect_eq later-keys-back "$(clone_keys late)" 30
pk_expect_eq replayed-equals-production "$(redis-cli -h "$MGMT" DEBUG DIGEST)" "$PROD_DIGEST"

# --- bad input: one line, non-zero -------------------------------------------------------------
pk_expect_error unknown-clone 1 "no container 'pk-test-nosuch'" "$PK_BIN" snapshot pk-test-nosuch
pk_expect_error production-refused 1 "is production" "$PK_BIN" snapshot "$PROD"
pk_expect_error unknown-tag 1 "has no snapshot 'nope'" "$PK_BIN" rewind "$DBG" nope
pk_expect_error tag-taken 1 "exists already" "$PK_BIN" snapshot "$DBG" t0
pk_expect_error rewind-needs-tag 2 "CLONE TAG" "$PK_BIN" rewind "$DBG"
CPID=$(runc state "$DBG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
pk_bg tracer strace -f -o /dev/null -p "$CPID"
TRACER=$PK_LAST_PID
pk_wait_for "strace attached" 20 sh -c "[ \$(awk '/^TracerPid:/ {print \$2}' /proc/$CPID/status) != 0 ]" || exit 1
pk_expect_error traced-refused 1 "traced by [0-9]+" "$PK_BIN" snapshot "$DBG" t1
kill "$TRACER"
pk_wait_exit "$TRACER" 20

# a second snapshot's recorder goes with the clone
out=$("$PK_BIN" snapshot "$DBG" 2>&1)
pk_check default-tag grep -qE "^snapshot s1 of $DBG" <<<"$out"
RPID=$(grep -oE 'recorder pid [0-9]+' <<<"$out" | grep -oE '[0-9]+$')
pk_check rm-clone "$PK_BIN" container rm "$DBG"
pk_check recorder-gone-with-clone pk_gone "${RPID:-1}"
pk_no_debris nothing-left "$DBG"
