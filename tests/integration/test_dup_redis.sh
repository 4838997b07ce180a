#!/usr/bin/env bash
# Acceptance 1 and 2: redis-benchmark (real client, >= 100k requests, pipelined and not) through
# `parikshan dup` to a production redis with one, then two, debug redis servers: every server
# ends with the same DEBUG DIGEST, and the client's results match a direct run.
. "$(dirname "$0")/lib.sh"

N=100000
PROD=$(pk_free_port) DBG1=$(pk_free_port) DBG2=$(pk_free_port) DIRECT=$(pk_free_port)
pk_redis prod "$PROD" && pk_redis dbg1 "$DBG1" && pk_redis dbg2 "$DBG2" && pk_redis direct "$DIRECT" ||
	{ pk_fail setup "redis-server did not start"; exit 1; }

# run_bench PORT LABEL: unpipelined then pipelined runs; checks every test reported a rate.
run_bench() {
	local port=$1 label=$2 out tests
	tests=$(echo "$PK_REDIS_TESTS" | tr ',' '\n' | wc -l)
	for pipe in 1 16; do
		if ! out=$(pk_bench "$port" -n "$N" -c 50 -P "$pipe" -t "$PK_REDIS_TESTS" 2>"$PK_TMP/bench-$label.err"); then
			pk_fail "$label-bench-P$pipe" "redis-benchmark failed: $(tail -n 3 "$PK_TMP/bench-$label.err")"
			return 1
		fi
		if [ "$(echo "$out" | grep -cE '^"[A-Z]+","[0-9.]+"')" -ne "$tests" ] ||
			grep -qi error "$PK_TMP/bench-$label.err"; then
			pk_fail "$label-bench-P$pipe" "incomplete results: $out $(cat "$PK_TMP/bench-$label.err")"
			return 1
		fi
	done
	pk_ok "$label-bench"
}

# The reference: the same client run straight against a fresh server.
run_bench "$DIRECT" direct || exit 1
WANT=$(pk_digest "$DIRECT")

ADMIN=$(pk_free_port) FRONT=$(pk_free_port)
pk_dup dup1 -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG1" --admin "$ADMIN"
DUP=$PK_LAST_PID
run_bench "$FRONT" one-target
pk_check one-target-drained pk_wait_metric "$ADMIN" parikshan_debug_buffer_bytes 0 60
pk_expect_eq one-target-no-desync "$(pk_metric "$ADMIN" parikshan_debug_desyncs_total)" 0
pk_expect_eq one-target-prod-equals-direct "$(pk_digest "$PROD")" "$WANT"
pk_expect_eq one-target-clone-equals-prod "$(pk_digest "$DBG1")" "$(pk_digest "$PROD")"
c2p=$(pk_metric "$ADMIN" parikshan_bytes_total client_to_prod)
pk_expect_eq one-target-sent-equals-forwarded "$(pk_metric "$ADMIN" parikshan_debug_bytes_sent_total)" "$c2p"

# status: a table and JSON that agree with /metrics.
table=$("$PK_BIN" status --admin "127.0.0.1:$ADMIN")
if echo "$table" | grep -q "127.0.0.1:$DBG1" && echo "$table" | grep -q in-sync; then
	pk_ok status-table
else
	pk_fail status-table "$table"
fi
json=$("$PK_BIN" status --admin "$ADMIN" --json)
got=$(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["bytes"]["client_to_prod"] == d["targets"][0]["bytes_sent"], d["targets"][0]["desyncs"])')
pk_expect_eq status-json "$got" "True 0"
pk_stop_clean dup1 "$DUP"

# Two debug targets at once: all three digests equal.
for p in "$PROD" "$DBG1" "$DBG2"; do redis-cli -p "$p" FLUSHALL >/dev/null; done
FRONT=$(pk_free_port)
pk_dup dup2 -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG1" -m 127.0.0.1 -d "$DBG2" --admin "$ADMIN"
DUP=$PK_LAST_PID
run_bench "$FRONT" two-targets
pk_check two-targets-drained pk_wait_metric "$ADMIN" parikshan_debug_buffer_bytes 0 60
pk_expect_eq two-targets-prod-equals-direct "$(pk_digest "$PROD")" "$WANT"
pk_expect_eq two-targets-clone1 "$(pk_digest "$DBG1")" "$WANT"
pk_expect_eq two-targets-clone2 "$(pk_digest "$DBG2")" "$WANT"
pk_expect_eq two-targets-no-desync "$(pk_metric "$ADMIN" parikshan_debug_desyncs_total)" 0
pk_stop_clean dup2 "$DUP"
