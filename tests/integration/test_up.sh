#!/usr/bin/env bash
# `up` + load + `status` (issue 4, acceptance 6): a production redis container is cloned and a
# duplicator put in front of it in one command; under redis-benchmark through the front door,
# production and the clone execute the same commands (equal command counts, equal digests);
# `down` removes the duplicator and the clones and leaves no debris.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (namespaces, mounts, runc, criu)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE"
PROD=pk-test-up$$ IP=10.77.203.2
FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
trap '"$PK_BIN" down "$PROD" >/dev/null 2>&1; "$PK_BIN" container rm "$PROD-dbg1" >/dev/null 2>&1; "$PK_BIN" container rm "$PROD" >/dev/null 2>&1; pk_cleanup' EXIT

pk_redis_container "$PROD" "$IP" || exit 1
redis-cli -h "$IP" DEBUG POPULATE 10000 >/dev/null

pk_check up "$PK_BIN" up "$PROD" -p 6379 -l "$FRONT" --admin "127.0.0.1:$ADMIN" || exit 1
MGMT=$("$PK_BIN" container ls --json | python3 -c 'import json,sys; print([c["mgmt"] for c in json.load(sys.stdin) if c["name"].endswith("-dbg1")][0])')
pk_route_ok "$MGMT" || { pk_fail route "$MGMT is not routed into our veth"; exit 1; }
pk_expect_eq clone-starts-equal "$(redis-cli -h "$MGMT" DEBUG DIGEST)" "$(redis-cli -h "$IP" DEBUG DIGEST)"
redis-cli -h "$IP" CONFIG RESETSTAT >/dev/null
redis-cli -h "$MGMT" CONFIG RESETSTAT >/dev/null

pk_check load pk_bench "$FRONT" -n 50000 -c 20 -t "$PK_REDIS_TESTS"
pk_check drained pk_wait_metric "$ADMIN" parikshan_debug_buffer_bytes 0 60
calls() { redis-cli -h "$1" INFO commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_(set|incr|lpush|sadd)/ {printf "%s=%s ", $1, $3}'; }
p=$(calls "$IP") c=$(calls "$MGMT")
echo "# production: $p"
echo "# clone:      $c"
pk_expect_eq command-counts-equal "$c" "$p" || grep -m5 desync "$PK_STATE/$PROD/dup.log"
pk_expect_eq digests-equal "$(redis-cli -h "$MGMT" DEBUG DIGEST)" "$(redis-cli -h "$IP" DEBUG DIGEST)"
st=$("$PK_BIN" status --admin "127.0.0.1:$ADMIN")
if echo "$st" | grep -q "$MGMT:6379 .*in-sync"; then pk_ok status-shows-clone-in-sync; else pk_fail status-shows-clone-in-sync "$st"; fi

pk_check down "$PK_BIN" down "$PROD"
pk_no_debris down-no-debris "$PROD-dbg1"
pk_expect_eq production-still-serves "$(redis-cli -h "$IP" PING)" PONG
pk_check rm "$PK_BIN" container rm "$PROD"
pk_no_debris rm-no-debris "$PROD"
