#!/usr/bin/env bash
# Issue 9 item 7: capacity under the open-files limit.  dup runs under a lowered RLIMIT_NOFILE
# that leaves room for about a hundred client connections (3 fds each: client, production, one
# clone); 300 concurrent client connections must all be served correctly: those beyond the
# capacity wait in the listen backlog (accepting pauses) instead of failing, no clone
# connection desyncs with "Too many open files", and both redis servers end equal.
. "$(dirname "$0")/lib.sh"

NOFILE=330 CONNS=300 INCRS=20
PROD=$(pk_free_port) DBG=$(pk_free_port) FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
pk_redis prod "$PROD" && pk_redis dbg "$DBG" || { pk_fail setup "redis-server did not start"; exit 1; }

pk_bg dup prlimit --nofile="$NOFILE:$NOFILE" "$PK_BIN" dup -h 127.0.0.1 -l "$FRONT" -x 127.0.0.1 \
	-p "$PROD" -m 127.0.0.1 -d "$DBG" --admin "$ADMIN" --threads 2
DUP=$PK_LAST_PID
pk_wait_port "$FRONT" && pk_wait_port "$ADMIN" || { pk_fail setup "dup did not start: $(cat "$PK_TMP/dup.log")"; exit 1; }

# The capacity is computed at start, logged, and published.
if grep -qE "open-files limit $NOFILE: room for [0-9]+ client connections" "$PK_TMP/dup.log"; then
	pk_ok capacity-logged
else
	pk_fail capacity-logged "no capacity line in: $(head -c 600 "$PK_TMP/dup.log")"
fi
cap=$(pk_metric "$ADMIN" parikshan_connections_capacity)
if [ "$cap" != none ] && [ "$cap" -ge 50 ] && [ "$cap" -le $((NOFILE / 3)) ]; then
	pk_ok capacity-metric
else
	pk_fail capacity-metric "parikshan_connections_capacity is '$cap', want 50..$((NOFILE / 3))"
fi

# 300 concurrent connections: all served, exactly.
if out=$(timeout 120 python3 "$PK_ROOT/tests/tools/pk-redisconc.py" "$FRONT" "$CONNS" "$INCRS" 90 2>"$PK_TMP/conc.err"); then
	pk_ok all-served
else
	pk_fail all-served "$out $(head -n 5 "$PK_TMP/conc.err" | tr '\n' ' ') dup log: $(grep -m3 -E 'WARN|ERROR' "$PK_TMP/dup.log" | tr '\n' ' ')"
fi
paused=$(pk_metric "$ADMIN" parikshan_accept_paused_total)
if [ "$paused" != none ] && [ "$paused" -gt 0 ]; then
	pk_ok accept-paused
else
	pk_fail accept-paused "parikshan_accept_paused_total is '$paused' (300 connections never met the capacity?)"
fi
pk_check clone-drained pk_wait_metric "$ADMIN" parikshan_debug_connections_active 0 60
pk_expect_eq no-desync "$(pk_metric "$ADMIN" parikshan_debug_desyncs_total)" 0
if grep -q "Too many open files" "$PK_TMP/dup.log"; then
	pk_fail no-emfile "$(grep -m3 'Too many open files' "$PK_TMP/dup.log")"
else
	pk_ok no-emfile
fi
pk_expect_eq accepted-all "$(pk_metric "$ADMIN" parikshan_connections_accepted_total)" "$CONNS"
pk_expect_eq prod-has-all "$(redis-cli -p "$PROD" DBSIZE)" "$CONNS"
pk_expect_eq clone-equals-prod "$(pk_digest "$DBG")" "$(pk_digest "$PROD")"

# status says it: capacity and connections in use, in the table and in JSON.
table=$("$PK_BIN" status --admin "127.0.0.1:$ADMIN")
if echo "$table" | grep -qE "^capacity $cap connections \(open-files limit $NOFILE\), in use 0, accept paused [1-9][0-9]* times"; then
	pk_ok status-table
else
	pk_fail status-table "$table"
fi
got=$("$PK_BIN" status --admin "127.0.0.1:$ADMIN" --json |
	python3 -c 'import json,sys; c=json.load(sys.stdin)["connections"]; print(c["capacity"], c["in_use"], c["accept_paused"] > 0)')
pk_expect_eq status-json "$got" "$cap 0 True"
pk_stop_clean dup "$DUP"
