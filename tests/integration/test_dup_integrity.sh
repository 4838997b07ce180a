#!/usr/bin/env bash
# Acceptance 4: under 1,000 concurrent connections the bytes production receives equal the
# bytes clients sent (XXH64 per connection, XOR-combined), the echo comes back byte-exact,
# and the debug target receives the very same streams.
. "$(dirname "$0")/lib.sh"

CONNS=1000 BYTES=100000
PROD=$(pk_free_port) DBG=$(pk_free_port) FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
LOAD=$PK_TOOLS/pk-tcpload
pk_bg prod "$LOAD" echo --port "$PROD" --conns "$CONNS" --timeout 120
PROD_PID=$PK_LAST_PID
pk_bg dbg "$LOAD" echo --no-echo --port "$DBG" --conns "$CONNS" --timeout 120
DBG_PID=$PK_LAST_PID
pk_wait_port "$PROD" && pk_wait_port "$DBG" || { pk_fail setup "pk-tcpload did not start"; exit 1; }
pk_dup dup -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG" --admin "$ADMIN"
DUP=$PK_LAST_PID

if timeout 150 "$LOAD" client --port "$FRONT" --conns "$CONNS" --bytes "$BYTES" --timeout 120 \
	>"$PK_TMP/client.out" 2>"$PK_TMP/client.err"; then
	pk_ok client-1000-connections-echo-exact
else
	pk_fail client-1000-connections-echo-exact "$(cat "$PK_TMP/client.out") $(head -n 5 "$PK_TMP/client.err")"
fi
wait "$PROD_PID"
wait "$DBG_PID"
client=$(grep -o 'conns=[0-9]* bytes=[0-9]* xor=[0-9a-f]*' "$PK_TMP/client.out")
prod=$(grep -o 'conns=[0-9]* bytes=[0-9]* xor=[0-9a-f]*' "$PK_TMP/prod.log")
dbg=$(grep -o 'conns=[0-9]* bytes=[0-9]* xor=[0-9a-f]*' "$PK_TMP/dbg.log")
pk_expect_eq client-sent-all "${client%% xor*}" "conns=$CONNS bytes=$((CONNS * BYTES))"
pk_expect_eq production-received-what-clients-sent "$prod" "$client"
pk_expect_eq clone-received-what-clients-sent "$dbg" "$client"
pk_expect_eq metrics-bytes-forwarded "$(pk_metric "$ADMIN" parikshan_bytes_total client_to_prod)" $((CONNS * BYTES))
pk_expect_eq metrics-bytes-echoed "$(pk_metric "$ADMIN" parikshan_bytes_total prod_to_client)" $((CONNS * BYTES))
pk_expect_eq metrics-no-desync "$(pk_metric "$ADMIN" parikshan_debug_desyncs_total)" 0
pk_expect_eq metrics-all-accepted "$(pk_metric "$ADMIN" parikshan_connections_accepted_total)" "$CONNS"
pk_stop_clean dup "$DUP"
