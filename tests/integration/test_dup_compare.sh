#!/usr/bin/env bash
# Issue 10, acceptance 1 (redis) and 3: per-request divergence with `dup --compare resp`.
#  - identical clones over a 100k-request redis-benchmark run (SET and GET, 50 connections,
#    unpipelined and -P 16): no request is `different`;
#  - a key changed directly in the debug redis: the GET that reads it is reported `different`,
#    naming its connection, request index and both answers (compare log, `parikshan diverge`),
#    and nothing else redis-cli sends is (its COMMAND DOCS at start answers in an order each
#    server picks: the same elements are the same answer);
#  - a clone SIGSTOPped until it overflows: its later divergences are `lag`, never `different`.
. "$(dirname "$0")/lib.sh"

PROD=$(pk_free_port) DBG=$(pk_free_port) FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
pk_redis prod "$PROD" && pk_redis dbg "$DBG" || { pk_fail setup "redis-server did not start"; exit 1; }
DBG_PID=$PK_LAST_PID
LOG=$PK_TMP/compare.jsonl
pk_dup dup -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG" --compare resp \
	--compare-log "$LOG" --admin "$ADMIN" -b 256K
DUP=$PK_LAST_PID
verdict() { pk_metric "$ADMIN" parikshan_compare_requests_total "verdict=\"$1\""; }

# 1. identical: 2 x 50k requests (SET, GET), unpipelined and pipelined
for pipe in 1 16; do
	if pk_bench "$FRONT" -n 50000 -c 50 -P "$pipe" -t set,get >"$PK_TMP/bench.out" 2>"$PK_TMP/bench.err"; then
		pk_ok "bench-P$pipe"
	else
		pk_fail "bench-P$pipe" "$(tail -3 "$PK_TMP/bench.err")"
	fi
done
pk_check drained pk_wait_metric "$ADMIN" parikshan_debug_connections_active 0 60
pk_expect_eq identical-no-desync "$(pk_metric "$ADMIN" parikshan_debug_desyncs_total)" 0
same=$(verdict same)
if [ "$same" != none ] && [ "$same" -ge 200000 ]; then pk_ok identical-compared; else pk_fail identical-compared "same=$same"; fi
pk_expect_eq identical-none-different "$(verdict different)" 0
pk_expect_eq identical-none-lag "$(verdict lag)" 0

# 2. a key changed in the clone only
printf 'SET answer production\r\n' | timeout 10 redis-cli -h 127.0.0.1 -p "$FRONT" >/dev/null
pk_check clone-has-key pk_wait_for "the clone got the SET" 10 \
	sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $DBG GET answer)\" = production ]"
redis-cli -h 127.0.0.1 -p "$DBG" SET answer changed >/dev/null
out=$(printf 'PING\r\nGET answer\r\nPING\r\n' | timeout 10 redis-cli -h 127.0.0.1 -p "$FRONT" 2>&1 | tr '\n' ' ')
pk_expect_eq client-sees-production "$out" "PONG production PONG "
pk_check one-different pk_wait_metric "$ADMIN" parikshan_compare_requests_total 1 10 'verdict="different"'
pk_check logged pk_wait_log "$LOG" '"different"' 10
row=$(grep '"different"' "$LOG" | head -1)
if python3 - "$row" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
# PING is request 0, GET 1 (redis-cli may send COMMAND DOCS first: then 2)
assert r["request"] in (1, 2), r
assert "GET" in r["request_excerpt"] and "answer" in r["request_excerpt"], r
assert "production" in r["production_excerpt"] and "changed" in r["clone_excerpt"], r
assert r["verdict"] == "different" and r["conn"] > 0, r
PY
then pk_ok report-names-request; else pk_fail report-names-request "$row"; fi
table=$("$PK_BIN" diverge --wide "$LOG" 2>&1)
if grep -q different <<<"$table" && grep -q answer <<<"$table"; then pk_ok diverge-table; else pk_fail diverge-table "$table"; fi

# 3. a stopped clone overflows: what it missed is lag, never different
before_diff=$(verdict different)
kill -STOP "$DBG_PID"
python3 - "$FRONT" <<'PY' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
val = b"v" * 1000
for i in range(12000):  # bounded: 12000 SETs of 1 kB (past the socket buffers), a GET
    s.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$1000\r\n" + val + b"\r\n")
    assert s.recv(16).startswith(b"+OK")
s.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n")
s.recv(2000)
s.close()
PY
LOADER=$!
PK_PIDS+=("$LOADER")
pk_check stopped-clone-overflows pk_wait_metric_ge "$ADMIN" parikshan_debug_overflows_total 1 60
wait "$LOADER"
kill -CONT "$DBG_PID"
pk_check lag-counted pk_wait_metric_ge "$ADMIN" parikshan_compare_requests_total 1 10 'verdict="lag"'
pk_expect_eq lag-never-different "$(verdict different)" "$before_diff"
if grep -q '"lag"' "$LOG"; then pk_ok lag-logged; else pk_fail lag-logged "$(tail -3 "$LOG")"; fi
pk_stop_clean dup "$DUP"
