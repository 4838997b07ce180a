#!/usr/bin/env bash
# Issue 9, item 2: agg's pairing.  A production connection that carries nothing (a port probe,
# a health check) is never paired; a clone connection is paired with the production
# connection whose first request is byte-identical (rule "content"), else with the oldest
# waiting one (rule "order").  Production's and the clone's service are python clients
# (tests/tools/pk-agg-peers.py); the backend is a real redis.
. "$(dirname "$0")/lib.sh"

PEERS=$(dirname "$0")/../tools/pk-agg-peers.py
N=10
BACK=$(pk_free_port)
pk_redis backend "$BACK" || { pk_fail setup "redis-server did not start"; exit 1; }

# start_agg LABEL: a fresh agg (with --compare) in front of the backend; sets AL, AD, AADM, AGG.
start_agg() {
	AL=$(pk_free_port) AD=$(pk_free_port) AADM=$(pk_free_port)
	pk_agg "agg-$1" -l "$AL" -x 127.0.0.1 -p "$BACK" -D "$AD" --compare --admin "$AADM"
	AGG=$PK_LAST_PID
}

# peers NAME ARGS...: runs the python peers; ok when every clone connection got its answers.
peers() {
	local name=$1 out
	shift
	out=$(timeout 60 python3 "$PEERS" "$@" "$AL" "$AD" "${PEER_ARGS[@]}" 2>&1)
	if [ "$(echo "$out" | tail -n 1)" = ok ]; then
		pk_ok "$name"
	else
		pk_fail "$name" "$(echo "$out" | grep -v '^ok$' | head -n 12 | tr '\n' ' ')"
	fi
}

# --- probes between real connections, the clone sending the same requests: content --------
start_agg probes-same
PEER_ARGS=("$N" same)
peers probes-same-each-clone-gets-its-answers sequence
pk_check probes-same-verdicts-same pk_wait_metric "$AADM" parikshan_compare_connections_total "$N" 20 'verdict="same"'
pk_expect_eq probes-same-none-different "$(pk_metric "$AADM" parikshan_compare_connections_total 'verdict="different"')" 0
pk_expect_eq probes-same-paired-by-content "$(pk_metric "$AADM" parikshan_debug_paired_total 'rule="content"')" "$N"
pk_expect_eq probes-same-none-by-order "$(pk_metric "$AADM" parikshan_debug_paired_total 'rule="order"')" 0
pk_expect_eq probes-same-none-unpaired "$(pk_metric "$AADM" parikshan_debug_unpaired_total)" 0
pk_stop_clean agg-probes-same "$AGG"

# --- probes, the clone's requests differ from production's: order, probes skipped ---------
start_agg probes-order
PEER_ARGS=("$N" differ)
peers probes-order-each-clone-gets-its-answers sequence
pk_check probes-order-all-ended pk_wait_metric "$AADM" parikshan_compare_connections_total "$N" 20 'verdict="different"'
pk_expect_eq probes-order-paired-by-order "$(pk_metric "$AADM" parikshan_debug_paired_total 'rule="order"')" "$N"
pk_expect_eq probes-order-none-by-content "$(pk_metric "$AADM" parikshan_debug_paired_total 'rule="content"')" 0
pk_expect_eq probes-order-no-desync "$(pk_metric "$AADM" parikshan_debug_desyncs_total)" 0
pk_stop_clean agg-probes-order "$AGG"

# --- concurrent connections opened in another order by the clone: content -----------------
start_agg reorder
PEER_ARGS=()
peers reorder-each-clone-gets-its-answers reorder
pk_check reorder-verdicts-same pk_wait_metric "$AADM" parikshan_compare_connections_total 3 20 'verdict="same"'
pk_expect_eq reorder-none-different "$(pk_metric "$AADM" parikshan_compare_connections_total 'verdict="different"')" 0
pk_expect_eq reorder-paired-by-content "$(pk_metric "$AADM" parikshan_debug_paired_total 'rule="content"')" 3
pk_stop_clean agg-reorder "$AGG"
