#!/usr/bin/env bash
# test_trace_clone.sh — `parikshan clone PROD NAME --trace` (issue 12): tracing happens in the
# debug clone, never in production.  A production container runs the chain's lower tiers
# (tests/tools/pk-trace-backend.py -> redis-server, both inside); it is cloned with --trace:
# a logd starts for the clone and every process of the clone gets the tracing library live.
# N requests with ids sent to the clone (at its management address) come out of
# `trace paths --db` as N complete paths python3 -> redis-server; requests sent to production
# do not; production's processes never map the library; removing the clone stops its logd and
# leaves nothing behind.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (namespaces, mounts, runc, criu)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE"
PROD=pk-test-tc$$ DBG=pk-test-tc$$-dbg IP=10.77.231.2
N=${PK_TRACE_N:-60}
trap '"$PK_BIN" container rm "$DBG" >/dev/null 2>&1; "$PK_BIN" container rm "$PROD" >/dev/null 2>&1; pk_cleanup' EXIT
unset PARIKSHAN_TRACE_SOCK LD_PRELOAD

PY=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
chmod 755 "$PK_TMP"
# serves: the backend answers (404: it asked redis for a key that is not there)
serves() { [ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://$1:8080/r/none")" = 404 ]; }
pk_container_up "$PROD" "$IP" 8080 serves -- sh -c \
	"redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize no >/dev/null & exec '$PY' '$PK_ROOT/tests/tools/pk-trace-backend.py' 8080 6379 0.0.0.0" || exit 1
keys=()
for i in $(seq 1 "$N") p1 p2 p3; do keys+=("key:$i" "value-$i"); done
# the keys, set through the backend's network namespace (redis listens on its loopback only)
PPID_=$(runc state "$PROD" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
pk_check keys sh -c "nsenter -t $PPID_ -n redis-cli -p 6379 mset ${keys[*]} | grep -q OK"
pk_expect_eq production-serves "$(curl -s "http://$IP:8080/r/p1")" "value-p1"

if "$PK_BIN" clone "$PROD" "$DBG" --trace >"$PK_TMP/clone.out" 2>"$PK_TMP/clone.err"; then
	pk_ok clone-trace
else
	pk_fail clone-trace "$(cat "$PK_TMP/clone.err")"
	exit 1
fi
DB=$(sed -n 's/^trace: store \([^ ]*\) .*/\1/p' "$PK_TMP/clone.out")
LOGD=$(sed -n 's/^trace: .* logd pid \([0-9]*\) .*/\1/p' "$PK_TMP/clone.out")
pk_check store-printed test -n "$DB" -a -n "$LOGD"
pk_check store-under-state-dir test "$DB" = "$PK_STATE/$DBG/trace.sqlite"
MGMT=$("$PK_BIN" container ls --json | python3 -c 'import json,sys; print([c["mgmt"] for c in json.load(sys.stdin) if c["name"] == sys.argv[1]][0])' "$DBG")
pk_route_ok "$MGMT" || { pk_fail route "$MGMT is not routed into our veth"; exit 1; }

# production's processes: every one in production's pid namespace
prod_pids() {
	local ns p
	ns=$(readlink "/proc/$PPID_/ns/pid")
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] && echo "${p#/proc/}"
	done
}
clone_pids() {
	local ns p cpid
	cpid=$(runc state "$DBG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
	ns=$(readlink "/proc/$cpid/ns/pid")
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] && echo "${p#/proc/}"
	done
}
traced=0
for p in $(clone_pids); do grep -q libparikshan_trace "/proc/$p/maps" && traced=$((traced + 1)); done
pk_expect_eq clone-processes-traced "$traced" "$(clone_pids | wc -l)"
CPID=$(clone_pids | head -n 1)
pk_check attach-all-in-again sh -c "'$PK_BIN' trace attach --all-in $CPID | grep -c 'already attached' | grep -qx $(clone_pids | wc -l)"

urls=()
for i in $(seq 1 "$N"); do urls+=(-o /dev/null "http://$MGMT:8080/r/$i"); done
pk_expect_eq clone-requests "$(curl -s --max-time 60 -w '%{http_code}\n' "${urls[@]}" | sort | uniq -c | awk '{ print $1, $2 }')" "$N 200"
pk_expect_eq production-requests "$(curl -s --max-time 30 -w '%{http_code}\n' -o /dev/null "http://$IP:8080/r/p2" -o /dev/null "http://$IP:8080/r/p3" | tr '\n' ' ')" "200 200 "

paths_ready() {
	"$PK_BIN" trace analyze --db "$DB" --json >"$PK_TMP/analyze.json" 2>"$PK_TMP/analyze.err" &&
		python3 -c 'import json, sys; a = json.load(open(sys.argv[1])); sys.exit(a["complete"] < int(sys.argv[2]))' \
			"$PK_TMP/analyze.json" "$N"
}
pk_wait_for "$N complete paths ($(cat "$PK_TMP/analyze.json" 2>/dev/null))" 60 paths_ready
pk_check paths-json "$PK_BIN" trace paths --db "$DB" --format json -o "$PK_TMP/paths.json"
pk_check paths-exact python3 - "$PK_TMP/paths.json" "$N" <<'EOF'
import json, re, sys
doc = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
seen = set()
for p in doc["paths"]:
    hops = p["hops"]
    m = re.match(r"GET /r/(\w+) HTTP/1\.1", hops[0]["request"])
    assert m, hops[0]["request"]
    rid = m.group(1)
    assert rid.isdigit(), "a request to production was traced: %s" % rid
    assert p["complete"], p
    assert [h["comm"].split(".")[0] for h in hops] == ["python3", "redis-server"], [h["comm"] for h in hops]
    assert ("key:%s" % rid) in hops[1]["request"], (rid, hops[1]["request"])
    assert rid not in seen, "id %s twice" % rid
    seen.add(rid)
assert seen == {str(i) for i in range(1, n + 1)}, "ids missing: %s" % sorted({str(i) for i in range(1, n + 1)} - seen)[:10]
EOF
# every hello says attached; through a memfd (the clone's file system is an overlay: not the
# same file) it also says that an exec'd image would not be traced
pk_check hellos-attached python3 - "$DB" $(for p in $(clone_pids); do grep -q '/memfd:libparikshan_trace' "/proc/$p/maps" && echo "$p:memfd" || echo "$p:path"; done) <<'EOF'
import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = list(c.execute("select pid, flags from procs"))
assert rows, "no hello"
memfd = sum(1 for a in sys.argv[2:] if a.endswith(":memfd"))
assert all(f & 4 for _, f in rows), rows
assert all(bool(f & 8) == (memfd > 0) for _, f in rows), (rows, sys.argv[2:])
EOF
untouched=yes
for p in $(prod_pids); do
	grep -q libparikshan_trace "/proc/$p/maps" && untouched="no: $p maps it"
done
pk_expect_eq production-untouched "$untouched" yes
pk_check production-has-processes test "$(prod_pids | wc -l)" -ge 2

# removing the clone stops its logd, and leaves nothing behind
pk_check clone-rm "$PK_BIN" container rm "$DBG"
pk_wait_exit "$LOGD" 30 && pk_ok logd-stopped
pk_no_debris clone-gone "$DBG"
pk_expect_eq production-still-serves "$(curl -s "http://$IP:8080/r/p1")" "value-p1"
