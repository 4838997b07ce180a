#!/usr/bin/env bash
# Issue 5: the aggregator with a live clone.  Production is a container whose service (the
# two-tier front, one backend connection per request) reaches its backend (redis on the host)
# through `agg`.  `clone --agg` sets the clone's network so that its backend connections land on
# agg's debug side at the clone gateway and nothing else reaches the backend's address;
# `--agg-admin` resets agg's pairing while production is frozen, so the clone's k-th backend
# connection pairs with production's k-th one opened after the clone.  Under load through dup,
# the backend runs each request once and the clone answers exactly as production.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (namespaces, mounts, runc, criu)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE"
chmod 755 "$PK_TMP"
PROD=pk-test-ag$$ DBG=pk-test-ag$$-dbg IP=10.77.215.2 GW=10.77.215.1
trap '"$PK_BIN" container rm "$DBG" >/dev/null 2>&1; "$PK_BIN" container rm "$PROD" >/dev/null 2>&1; pk_cleanup' EXIT
FRONT_PY=$(cd "$(dirname "$0")/../tools" && pwd)/pk-front.py
cp "$FRONT_PY" "$PK_TMP/pk-front.py"

BACK=$(pk_free_port) AL=$(pk_free_port) DP=$(pk_free_port) AADM=$(pk_free_port)
pk_redis backend "$BACK" || { pk_fail setup "redis-server did not start"; exit 1; }
# The front listens at once; it serves once agg is up (its backend), below.
pk_container_up "$PROD" "$IP" 8080 true -- \
	python3 "$PK_TMP/pk-front.py" 8080 "$GW" "$AL" --per-request --bind 0.0.0.0 || exit 1
# agg listens on the production container's gateway (the host end of its veth) and serves
# clones on the clone gateway, which exists only once a clone does (IP_FREEBIND).
pk_agg agg -h "$GW" -l "$AL" -x 127.0.0.1 -p "$BACK" -D "$DP" --debug-addr 10.78.0.1 \
	--compare --admin "$AADM"
AGG=$PK_LAST_PID
front_serves() { curl -sf --max-time 5 -o /dev/null "http://$1:8080/get/warm"; }
pk_wait_for "the front to serve through agg" 30 front_serves "$IP" || exit 1
# Production's backend connections before the clone: never paired (reset drops them).
pre=$(curl -sf "http://$IP:8080/incr/pre[1-5]")
pk_expect_eq production-through-agg "$pre" 11111

if "$PK_BIN" clone "$PROD" "$DBG" --agg "$GW:$AL=$DP" --agg-admin "127.0.0.1:$AADM" --json \
	>"$PK_TMP/clone.json" 2>"$PK_TMP/clone.err"; then
	pk_ok clone
else
	pk_fail clone "$(cat "$PK_TMP/clone.err")"; exit 1
fi
grep -q warning "$PK_TMP/clone.err" && pk_fail pairing-reset "$(cat "$PK_TMP/clone.err")" || pk_ok pairing-reset
MGMT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mgmt_ip"])' "$PK_TMP/clone.json")
pk_route_ok "$MGMT" || { pk_fail route "$MGMT is not routed into our veth"; exit 1; }

# Isolation: from the clone's namespace, the backend address answers only through agg.
ns=pk-$DBG
acc0=$(pk_metric "$AADM" parikshan_debug_connections_active)
if timeout 5 ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$GW/$AL" 2>/dev/null; then
	pk_ok clone-backend-address-reaches-agg-debug-side
else
	pk_fail clone-backend-address-reaches-agg-debug-side "connect failed"
fi
if timeout 5 ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$GW/$BACK" 2>/dev/null; then
	pk_fail clone-other-ports-refused "connected to $GW:$BACK"
else
	pk_ok clone-other-ports-refused
fi
if timeout 5 ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/127.0.0.1/$BACK" 2>/dev/null; then
	pk_fail clone-no-real-backend "connected to the backend"
else
	pk_ok clone-no-real-backend
fi
# That probe was clone connection #1: reset again so the load starts both sides at #1.
curl -s -X POST "http://127.0.0.1:$AADM/pairing/reset" >/dev/null

FRONT=$(pk_free_port) DADM=$(pk_free_port)
pk_dup dup -l "$FRONT" -x "$IP" -p 8080 -m "$MGMT" -d 8080 --compare --admin "$DADM"
DUP=$PK_LAST_PID
incr0=$(pk_redis_calls "$BACK" incr)
out=$(timeout 60 curl -sS --fail "http://127.0.0.1:$FRONT/incr/k[1-100]" "http://127.0.0.1:$FRONT/get/k[1-100]")
pk_expect_eq production-answers "$(echo -n "$out" | wc -c)" 200
pk_check clone-answered-the-same pk_wait_metric "$DADM" parikshan_compare_connections_total 1 30 'verdict="same"'
pk_expect_eq clone-no-divergence "$(pk_metric "$DADM" parikshan_compare_connections_total 'verdict="different"')" 0
pk_check agg-pairs-same pk_wait_metric "$AADM" parikshan_compare_connections_total 200 30 'verdict="same"'
pk_expect_eq agg-pairs-none-different "$(pk_metric "$AADM" parikshan_compare_connections_total 'verdict="different"')" 0
# Counted once the clone's 200 backend connections are done: none of them reached the backend.
pk_expect_eq backend-ran-each-request-once "$(($(pk_redis_calls "$BACK" incr) - incr0))" 100
pk_stop_clean dup "$DUP"
"$PK_BIN" container rm "$DBG" >/dev/null 2>&1

# The same through `up`: it clones with --agg/--agg-admin and starts the duplicator.
UPDBG=$PROD-dbg1 FRONT=$(pk_free_port) UADM=$(pk_free_port)
trap '"$PK_BIN" down "$PROD" >/dev/null 2>&1; "$PK_BIN" container rm "$DBG" >/dev/null 2>&1; "$PK_BIN" container rm "$PROD" >/dev/null 2>&1; pk_cleanup' EXIT
same0=$(pk_metric "$AADM" parikshan_compare_connections_total 'verdict="same"')
if "$PK_BIN" up "$PROD" -p 8080 -l "$FRONT" --admin "127.0.0.1:$UADM" --agg "$GW:$AL=$DP" \
	--agg-admin "127.0.0.1:$AADM" >"$PK_TMP/up.out" 2>&1 && ! grep -q warning "$PK_TMP/up.out"; then
	pk_ok up-with-agg
else
	pk_fail up-with-agg "$(cat "$PK_TMP/up.out")"
fi
incr0=$(pk_redis_calls "$BACK" incr)
out=$(timeout 60 curl -sS --fail "http://127.0.0.1:$FRONT/incr/u[1-50]")
pk_expect_eq up-production-answers "$(echo -n "$out" | wc -c)" 50
pk_check up-agg-pairs-same pk_wait_metric "$AADM" parikshan_compare_connections_total $((same0 + 50)) 30 'verdict="same"'
pk_expect_eq up-backend-ran-each-request-once "$(($(pk_redis_calls "$BACK" incr) - incr0))" 50
pk_expect_eq up-agg-pairs-none-different "$(pk_metric "$AADM" parikshan_compare_connections_total 'verdict="different"')" 0
pk_check down "$PK_BIN" down "$PROD"
pk_stop_clean agg "$AGG"
"$PK_BIN" container rm "$PROD" >/dev/null 2>&1
pk_no_debris no-debris "$PROD" "$DBG" "$UPDBG"
