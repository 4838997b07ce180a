#!/usr/bin/env bash
# A/B on live traffic (issue 13, acceptance 5), by composition: `up --clones 2 --compare resp
# --compare-log` makes two clones fed the same traffic, `debug B -- redis-cli ACL SETUSER ...`
# changes one of them (its default user may no longer run SADD: a deterministic error answer),
# `diverge --all --json` reports by clone (dup names a clone by its management address, which
# `up` prints).  B is different on exactly the K SADD requests and on nothing else; A
# (unchanged) on nothing; production's answers are the unchanged ones.
. "$(dirname "$0")/lib.sh"

pk_clone_frame ab
IP=10.77.235.2 # no other test uses 10.77.235.0/24
A=$PROD-dbg1 B=$PROD-dbg2
trap '"$PK_BIN" down "$PROD" >/dev/null 2>&1; cleanup_containers; pk_cleanup' EXIT
K=6 M=10
FRONT=$(pk_free_port) ADM=$(pk_free_port) LOG=$PK_TMP/compare.log

pk_redis_container "$PROD" "$IP" || exit 1
if "$PK_BIN" up "$PROD" -p 6379 --clones 2 -l "$FRONT" --admin "127.0.0.1:$ADM" \
	--compare resp --compare-log "$LOG" >"$PK_TMP/up.out" 2>&1; then
	pk_ok up-two-clones
else
	pk_fail up-two-clones "$(tail -n 5 "$PK_TMP/up.out")"
	exit 1
fi
pk_wait_port "$FRONT" || exit 1

# B: the change, applied inside it with the host's redis-cli; A keeps production's setting
pk_expect_eq patch-b "$(timeout 60 "$PK_BIN" debug "$B" -- redis-cli -h "$IP" ACL SETUSER default -sadd 2>&1)" OK
pk_check b-changed sh -c "timeout 60 '$PK_BIN' debug '$B' -- redis-cli -h '$IP' ACL LIST 2>&1 | grep -q -- '-sadd'"
pk_check a-unchanged sh -c "! timeout 60 '$PK_BIN' debug '$A' -- redis-cli -h '$IP' ACL LIST 2>&1 | grep -q -- '-sadd'"
mgmt_of() {
	"$PK_BIN" container ls --json | python3 -c 'import json,sys; print([c["mgmt"] for c in json.load(sys.stdin) if c["name"] == sys.argv[1]][0])' "$1"
}
MA=$(mgmt_of "$A") MB=$(mgmt_of "$B")
pk_check up-printed-addresses grep -q "$B at $MB" "$PK_TMP/up.out"

# the traffic: one connection per request, through the front door
bad=0
for ((i = 1; i <= K; i++)); do
	[ "$(redis-cli -p "$FRONT" SADD "ab-set$i" 1 2 3)" = 3 ] || bad=$((bad + 1))
done
for ((i = 1; i <= M; i++)); do
	[ "$(redis-cli -p "$FRONT" SET "ab-key$i" "v$i")" = OK ] || bad=$((bad + 1))
	[ "$(redis-cli -p "$FRONT" GET "ab-key$i")" = "v$i" ] || bad=$((bad + 1))
done
pk_expect_eq production-answers "$bad" 0
# every request compared on both clones: 2 x (K + 2M)
N=$((2 * (K + 2 * M)))
pk_check all-compared pk_wait_metric "$ADM" parikshan_compare_requests_total "$N" 60

"$PK_BIN" diverge --all --json "$LOG" >"$PK_TMP/diverge.json" 2>"$PK_TMP/diverge.err"
pk_expect_eq diverge-exit "$?" 0
python3 - "$PK_TMP/diverge.json" "$MA:6379" "$MB:6379" "$K" >"$PK_TMP/check.out" 2>&1 <<'PY'
import collections, json, sys
d = json.load(open(sys.argv[1]))
a, b, k = sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = d["rows"]
by = collections.Counter(r["target"] for r in rows)
print("rows by target", dict(by), "verdicts", collections.Counter(r["verdict"] for r in rows))
assert not any(r["target"] == a for r in rows), ("A diverged", [r for r in rows if r["target"] == a])
rb = [r for r in rows if r["target"] == b]
assert len(rb) == k, (len(rb), rb)
for r in rb:
    assert r["verdict"] == "different", r
    assert "SADD" in r["request_excerpt"].upper() and "ab-set" in r["request_excerpt"], r
    assert ":3" in r["production_excerpt"] and "NOPERM" in r["clone_excerpt"], r
assert len({r["request_excerpt"] for r in rb}) == k, "each affected request once"
PY
if [ $? -eq 0 ]; then pk_ok b-different-exactly-on-affected; else pk_fail b-different-exactly-on-affected "$(tail -n 3 "$PK_TMP/check.out")"; fi
cat "$PK_TMP/check.out"
# the table names B's divergences and nothing of A
"$PK_BIN" diverge "$LOG" >"$PK_TMP/diverge.txt" 2>&1
pk_check table-by-target grep -qE "^$K divergences \($K different\) on $K connections; by target: $MB:6379 $K\$" "$PK_TMP/diverge.txt"
pk_check down "$PK_BIN" down "$PROD"
