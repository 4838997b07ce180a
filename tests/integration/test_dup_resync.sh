#!/usr/bin/env bash
# --resync: a clone that comes up while client connections are already open (or that fell out of
# sync) is attached to them at the next request boundary, so it never sees half a request.
. "$(dirname "$0")/lib.sh"

PROD=$(pk_free_port) DBG=$(pk_free_port) FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
pk_redis prod "$PROD" || { pk_fail setup "redis-server did not start"; exit 1; }
pk_dup dup -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG" --resync resp --admin "$ADMIN"
DUP=$PK_LAST_PID
# 10 keep-alive connections; the clone is started once production has run 20,000 INCRs (of
# 300,000, before the LPUSHes).
pk_bench "$FRONT" -n 300000 -c 10 -t incr,lpush >/dev/null 2>"$PK_TMP/bench.err" &
BENCH=$!
incrs_under_way() { [ "$(pk_redis_calls "$PROD" incr)" -ge 20000 ]; }
pk_wait_for "production to run 20000 INCRs" 60 incrs_under_way || exit 1
pk_redis dbg "$DBG"
if wait "$BENCH" && ! grep -qi error "$PK_TMP/bench.err"; then pk_ok production-completes; else pk_fail production-completes "$(cat "$PK_TMP/bench.err")"; fi
pk_check drained pk_wait_metric "$ADMIN" parikshan_debug_buffer_bytes 0 30
pk_wait_metric_ge "$ADMIN" parikshan_debug_rejoins_total 10 30 && pk_ok open-connections-rejoined
pk_expect_eq clone-saw-no-partial-request "$(redis-cli -p "$DBG" INFO stats | tr -d '\r' | awk -F: '/^total_error_replies/ {print $2}')" 0
p=$(redis-cli -p "$PROD" GET counter:__rand_int__) c=$(redis-cli -p "$DBG" GET counter:__rand_int__)
if [ -n "$c" ] && [ "$c" -gt 0 ] && [ "$c" -lt "$p" ]; then pk_ok clone-got-the-later-requests; else pk_fail clone-got-the-later-requests "prod $p clone $c"; fi
# every LPUSH after the clone joined arrived whole: the list holds only complete elements
pk_expect_eq clone-lists-whole "$(redis-cli -p "$DBG" LRANGE mylist 0 0 | wc -c)" "$(redis-cli -p "$PROD" LRANGE mylist 0 0 | wc -c)"
pk_stop_clean dup "$DUP"
