#!/usr/bin/env bash
# `container run --trace` (issue 12): every process of a container runs with
# libparikshan_trace.so preloaded and reaches logd on the host.  A redis container is started
# traced *before* logd listens (it must run anyway, and connect once logd is up); N requests
# from the host are then in `trace analyze` and `trace paths --format json` as the server's
# exchanges, with the server's pid and exe; the container is cloned (CRIU with the library's
# bind mount and its logd connection), and the clone answers, with its data, and is traced too.
# Bad --trace arguments fail with one clear line and leave nothing behind.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (namespaces, mounts, runc, criu)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE" "$PK_TMP/logd"
P=pk-test-tc$$
PROD=$P-prod DBG=$P-dbg
IP=10.77.213.2
SOCK=$PK_TMP/logd/trace.sock
DB=$PK_TMP/trace.sqlite
N=20
cleanup_containers() {
	for n in "$DBG" "$PROD" "$P-x"; do "$PK_BIN" container rm "$n" >/dev/null 2>&1; done
}
trap 'cleanup_containers; pk_cleanup' EXIT

# ---- bad arguments: one line, no container ----
LONG=/$(printf 'd%.0s' $(seq 1 110))/trace.sock
pk_expect_error trace-sock-too-long 2 'trace socket path is too long' \
	"$PK_BIN" container run "$P-x" --rootfs / --ip "$IP/24" --trace-sock "$LONG" -- true
pk_expect_error trace-sock-in-root 2 'is in /' \
	"$PK_BIN" container run "$P-x" --rootfs / --ip "$IP/24" --trace-sock /trace.sock -- true
pk_expect_error trace-lib-missing 1 'libparikshan_trace.so not found' \
	env PARIKSHAN_TRACE_LIB="$PK_TMP/none.so" \
	"$PK_BIN" container run "$P-x" --rootfs / --ip "$IP/24" --trace --trace-sock "$SOCK" -- true
pk_no_debris bad-args-leave-nothing "$P-x"

# ---- traced production, started before logd listens ----
PK_CONTAINER_OPTS=(--trace-sock "$SOCK")
pk_redis_container "$PROD" "$IP" || exit 1
PK_CONTAINER_OPTS=()
pk_expect_eq runs-without-logd "$(redis-cli -h "$IP" PING)" PONG
field() {
	"$PK_BIN" container ls --json | python3 -c 'import json,sys; print([c.get(sys.argv[2], "") for c in json.load(sys.stdin) if c["name"] == sys.argv[1]][0])' "$1" "$2"
}
pk_expect_eq listed-traced "$(field "$PROD" traced)/$(field "$PROD" trace_sock)" "True/$SOCK"
PPID_=$(field "$PROD" pid)
pk_check preloaded grep -q "/run/parikshan-trace/libparikshan_trace.so" "/proc/$PPID_/maps"

pk_trace_logd || exit 1

# paths_has PYTHON: the paths JSON now satisfies PYTHON, over P (paths), S (the processes)
# and hops(word): the hops whose request holds word.
paths_has() {
	"$PK_BIN" trace paths --db "$DB" --format json -o "$PK_TMP/paths.json" 2>"$PK_TMP/paths.err" &&
		python3 - "$PK_TMP/paths.json" "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
P, S = d["paths"], d["processes"]
def hops(word):
    return [h for p in P for h in p["hops"] if word in h["request"]]
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)
EOF
}
# The library connects again (every 200 ms at most) once logd listens: each try sends one
# request, until one of them is recorded.
probe() {
	redis-cli -h "$IP" SET "probe-$1-$RANDOM" x >/dev/null && paths_has "hops('probe-$1-')"
}
pk_wait_for "production's records in logd after logd started" 30 probe prod ||
	{ cat "$PK_TMP/logd.log"; exit 1; }
pk_ok connects-when-logd-starts

bad=0
for i in $(seq 1 $N); do
	[ "$(redis-cli -h "$IP" SET "pkreq-${i}x" "v$i")" = OK ] || bad=$((bad + 1))
done
pk_expect_eq requests-answered "$bad" 0
all_requests() {
	paths_has "all(len(hops('pkreq-%dx' % i)) == 1 for i in range(1, $N + 1))"
}
pk_wait_for "the $N requests in the paths" 30 all_requests || exit 1
pk_ok paths-hold-all-requests
pk_check requests-are-the-servers paths_has "
all(h['pid'] == $PPID_ and h['comm'].startswith('redis') and h['local'] == '$IP:6379'
    and h['end_ns'] > h['start_ns'] for i in range(1, $N + 1) for h in hops('pkreq-%dx' % i))
and any(s['pid'] == $PPID_ and 'redis' in s['exe'] for s in S)"
"$PK_BIN" trace analyze --db "$DB" --json >"$PK_TMP/analyze.json" 2>"$PK_TMP/analyze.err"
pk_check analyze-counts python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
assert a["complete"] >= int(sys.argv[2]), a' "$PK_TMP/analyze.json" "$N"

# ---- clone: CRIU takes the library's mapping (bind mount) and its logd connection along ----
if "$PK_BIN" clone "$PROD" "$DBG" >"$PK_TMP/clone.out" 2>"$PK_TMP/clone.err"; then
	pk_ok clone
else
	pk_fail clone "$(cat "$PK_TMP/clone.err")"
	exit 1
fi
MGMT=$(field "$DBG" mgmt)
pk_route_ok "$MGMT" || { pk_fail route "$MGMT is not routed into our veth"; exit 1; }
pk_expect_eq clone-answers "$(redis-cli -h "$MGMT" GET "pkreq-${N}x")" "v$N"
pk_expect_eq clone-listed-traced "$(field "$DBG" traced)" True
pk_expect_eq production-answers "$(redis-cli -h "$IP" GET pkreq-1x)" v1
# The clone's restored connection is refused by logd (records before a hello); its library
# connects again and says hello, so the clone's requests are recorded as well.
probe_clone() {
	redis-cli -h "$MGMT" SET "probe-dbg-$RANDOM" x >/dev/null && paths_has "hops('probe-dbg-')"
}
pk_wait_for "the clone's records in logd" 30 probe_clone || exit 1
pk_ok clone-traced
pk_wait_for "production's records after the clone" 30 probe prod-after && pk_ok production-still-traced
# production and clone are both pid 1 in their namespaces: logd stores each as it sees it
CPID=$(field "$DBG" pid)
pk_check clone-and-production-apart paths_has "
all(h['pid'] == $CPID for h in hops('probe-dbg-')) and all(h['pid'] == $PPID_ for h in hops('probe-prod-after-'))
and $CPID != $PPID_"
echo "# processes in the store: $(python3 -c 'import json,sys; print([(s["pid"], s["comm"]) for s in json.load(open(sys.argv[1]))["processes"]])' "$PK_TMP/paths.json")"

kill -TERM "$LOGD"
pk_wait_exit "$LOGD" 20
pk_expect_eq runs-after-logd-stops "$(redis-cli -h "$IP" PING)$(redis-cli -h "$MGMT" PING)" PONGPONG
# the PING's records found no logd: the connection is dropped (no connected Unix stream socket
# left in production's namespace), and a clone needs no logd
no_logd_conn() { ! awk '$5 == "0001" && $6 == "03" && NF == 7' "/proc/$PPID_/net/unix" | grep -q .; }
pk_wait_for "production to drop its logd connection" 20 no_logd_conn
"$PK_BIN" container rm "$DBG" >/dev/null 2>&1
if "$PK_BIN" clone "$PROD" "$DBG" >"$PK_TMP/clone2.out" 2>"$PK_TMP/clone2.err"; then
	pk_ok clone-without-logd
	MGMT=$(field "$DBG" mgmt)
	pk_route_ok "$MGMT" && pk_expect_eq clone-without-logd-answers \
		"$(redis-cli -h "$MGMT" GET pkreq-1x)" v1
else
	pk_fail clone-without-logd "$(cat "$PK_TMP/clone2.err")"
fi
cleanup_containers
pk_no_debris rm-leaves-nothing "$PROD" "$DBG"
