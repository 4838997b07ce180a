#!/usr/bin/env bash
# Acceptance 7 (issue 10, "Several clones"): with --balance and two clones, each clone gets
# 40-60% of 1,000 client connections, and every byte is accounted for: each connection's
# bytes reach exactly one clone, whole (XXH64 per connection, XOR-combined over both clones ==
# the clients'), nothing dropped or desynced.  Then short connections one after another (the
# counts tie at 0 each time: ties go in turn) spread the same way; with --resync, connections
# given to a clone that was down rejoin that clone only; and the flag's usage errors.
. "$(dirname "$0")/lib.sh"

CONNS=1000 BYTES=20000 SEQ=50
PROD=$(pk_free_port) D1=$(pk_free_port) D2=$(pk_free_port) FRONT=$(pk_free_port)
ADMIN=$(pk_free_port)
LOAD=$PK_TOOLS/pk-tcpload
T1="127.0.0.1:$D1\"" T2="127.0.0.1:$D2\""

# The servers echo (the clones too: a clone that answered as much as production gets the
# client's close at once, without the close grace) and count until SIGTERM.
pk_bg prod "$LOAD" echo --port "$PROD" --timeout 300
PROD_PID=$PK_LAST_PID
pk_bg d1 "$LOAD" echo --port "$D1" --timeout 300
D1_PID=$PK_LAST_PID
pk_bg d2 "$LOAD" echo --port "$D2" --timeout 300
D2_PID=$PK_LAST_PID
for port in "$PROD" "$D1" "$D2"; do
	pk_wait_port "$port" || { pk_fail setup "pk-tcpload did not start on $port"; exit 1; }
done
pk_dup dup -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$D1" -m 127.0.0.1 -d "$D2" \
	--balance --threads 4 --admin "$ADMIN"
DUP=$PK_LAST_PID
pk_wait_port "$ADMIN" || { pk_fail setup "dup did not start"; exit 1; }

# summary LOG: "conns bytes xor" of a pk-tcpload summary line.
summary() {
	sed -nE 's/.*conns=([0-9]+) bytes=([0-9]+) xor=([0-9a-f]+).*/\1 \2 \3/p' "$1" | tail -n 1
}

# in_range NAME PART WHOLE: ok when PART is 40..60% of WHOLE.
in_range() {
	if [ $(($2 * 100)) -ge $(($3 * 40)) ] && [ $(($2 * 100)) -le $(($3 * 60)) ]; then
		pk_ok "$1"
	else
		pk_fail "$1" "$2 of $3 connections, not 40-60%"
	fi
}

# ---- 1,000 connections at once ----
if timeout 200 "$LOAD" client --port "$FRONT" --conns "$CONNS" --bytes "$BYTES" --seed 1 \
	--timeout 150 >"$PK_TMP/client.out" 2>"$PK_TMP/client.err"; then
	pk_ok client-1000-connections-echo-exact
else
	pk_fail client-1000-connections-echo-exact "$(cat "$PK_TMP/client.out") $(head -n 5 "$PK_TMP/client.err")"
fi
read -r c_conns c_bytes c_xor <<<"$(summary "$PK_TMP/client.out")"
pk_expect_eq client-sent-all "${c_conns:-} ${c_bytes:-}" "$CONNS $((CONNS * BYTES))"
a1=$(pk_metric "$ADMIN" parikshan_debug_connections_total "$T1")
a2=$(pk_metric "$ADMIN" parikshan_debug_connections_total "$T2")
pk_expect_eq every-connection-given-once "$((a1 + a2))" "$CONNS"
in_range clone1-share-40-60 "$a1" "$CONNS"
in_range clone2-share-40-60 "$a2" "$CONNS"
echo "# balanced at once: $a1 / $a2"

# ---- short connections one after another: the counts tie, ties go in turn ----
seq_xor=0
for i in $(seq 1 "$SEQ"); do
	timeout 30 "$LOAD" client --port "$FRONT" --conns 1 --bytes 1000 --seed $((100 + i)) \
		--timeout 20 >"$PK_TMP/seq.out" 2>"$PK_TMP/seq.err" ||
		{ pk_fail sequential-client "$i: $(cat "$PK_TMP/seq.out" "$PK_TMP/seq.err")"; break; }
	read -r _ _ x <<<"$(summary "$PK_TMP/seq.out")"
	seq_xor=$((seq_xor ^ 0x$x))
	# the next one starts once this one's clone connection closed: every count is 0 again
	PK_POLL_CAP_MS=20 pk_wait_metric "$ADMIN" parikshan_debug_connections_active 0 10 >/dev/null 2>&1 ||
		{ pk_fail sequential-drained "clone connection $i still open"; break; }
done
s1=$(($(pk_metric "$ADMIN" parikshan_debug_connections_total "$T1") - a1))
s2=$(($(pk_metric "$ADMIN" parikshan_debug_connections_total "$T2") - a2))
pk_expect_eq sequential-given-once "$((s1 + s2))" "$SEQ"
in_range sequential-clone1-share-40-60 "$s1" "$SEQ"
in_range sequential-clone2-share-40-60 "$s2" "$SEQ"
echo "# balanced one after another: $s1 / $s2"

# ---- every byte accounted ----
TOTAL=$((CONNS + SEQ)) TOTAL_BYTES=$((CONNS * BYTES + SEQ * 1000))
pk_check clones-drained pk_wait_metric "$ADMIN" parikshan_debug_connections_active 0 60
for pid in "$PROD_PID" "$D1_PID" "$D2_PID"; do
	kill -TERM "$pid"
	wait "$pid"
done
read -r p_conns p_bytes p_xor <<<"$(summary "$PK_TMP/prod.log")"
read -r n1 b1 x1 <<<"$(summary "$PK_TMP/d1.log")"
read -r n2 b2 x2 <<<"$(summary "$PK_TMP/d2.log")"
want_xor=$(printf '%016x' $((0x$c_xor ^ seq_xor)))
pk_expect_eq production-got-everything "$p_conns $p_bytes $p_xor" "$TOTAL $TOTAL_BYTES $want_xor"
pk_expect_eq clone1-got-its-connections "${n1:-}" "$((a1 + s1))"
pk_expect_eq clone2-got-its-connections "${n2:-}" "$((a2 + s2))"
pk_expect_eq clones-got-every-byte-once "$((b1 + b2))" "$TOTAL_BYTES"
pk_expect_eq clones-got-the-same-streams "$(printf '%016x' $((0x$x1 ^ 0x$x2)))" "$want_xor"
sent=$(pk_metric "$ADMIN" parikshan_debug_bytes_sent_total)
pk_expect_eq metrics-sent-sum-is-client-bytes "$sent" "$TOTAL_BYTES"
pk_expect_eq metrics-client-bytes "$(pk_metric "$ADMIN" parikshan_bytes_total client_to_prod)" "$TOTAL_BYTES"
pk_expect_eq metrics-nothing-dropped "$(pk_metric "$ADMIN" parikshan_debug_bytes_dropped_total)" 0
pk_expect_eq metrics-no-desync "$(pk_metric "$ADMIN" parikshan_debug_desyncs_total)" 0
pk_stop_clean dup "$DUP"

# ---- --resync: a clone that is down still gets its share only, and those connections rejoin
# their own clone (never the other) once it is up ----
PROD2=$(pk_free_port) R1=$(pk_free_port) R2=$(pk_free_port) FRONT2=$(pk_free_port)
ADMIN2=$(pk_free_port)
U1="127.0.0.1:$R1\"" U2="127.0.0.1:$R2\""
pk_redis prod2 "$PROD2" && pk_redis r2 "$R2" || { pk_fail setup "redis-server did not start"; exit 1; }
pk_dup dup2 -l "$FRONT2" -x 127.0.0.1 -p "$PROD2" -m 127.0.0.1 -d "$R1" -m 127.0.0.1 -d "$R2" \
	--balance --resync resp --threads 2 --admin "$ADMIN2"
DUP2=$PK_LAST_PID
pk_wait_port "$ADMIN2" || { pk_fail setup "dup did not start"; exit 1; }
# 10 keep-alive connections; clone 1 comes up once production has run 5,000 INCRs (of
# 300,000: the INCRs must outlast dup's 1 s back-off before it tries a down clone again, or
# their connections end before they can rejoin it; at 150,000 a second they take 2 s)
pk_bench "$FRONT2" -n 300000 -c 10 -t incr,lpush >/dev/null 2>"$PK_TMP/bench.err" &
BENCH=$!
incrs_under_way() { [ "$(pk_redis_calls "$PROD2" incr)" -ge 5000 ]; }
pk_wait_for "production to run 5000 INCRs" 60 incrs_under_way || exit 1
pk_redis r1 "$R1" || { pk_fail setup "redis-server did not start"; exit 1; }
if wait "$BENCH" && ! grep -qi error "$PK_TMP/bench.err"; then pk_ok resync-production-completes; else pk_fail resync-production-completes "$(cat "$PK_TMP/bench.err")"; fi
pk_check resync-drained pk_wait_metric "$ADMIN2" parikshan_debug_connections_active 0 30
g1=$(pk_metric "$ADMIN2" parikshan_debug_connections_total "$U1")
g2=$(pk_metric "$ADMIN2" parikshan_debug_connections_total "$U2")
pk_expect_eq resync-every-connection-given-once "$((g1 + g2))" "$(pk_metric "$ADMIN2" parikshan_connections_accepted_total)"
echo "# balanced with clone 1 down at first: $g1 / $g2"
if [ "$g1" -ge 5 ] && [ "$g2" -ge 5 ]; then pk_ok down-clone-gets-its-share-only; else pk_fail down-clone-gets-its-share-only "$g1 / $g2"; fi
if pk_metric_is "$ADMIN2" parikshan_debug_rejoins_total -ge 1 "$U1" >/dev/null; then pk_ok connections-rejoined-their-clone; else pk_fail connections-rejoined-their-clone "$(pk_metric "$ADMIN2" parikshan_debug_rejoins_total "$U1")"; fi
pk_expect_eq other-clone-no-rejoin "$(pk_metric "$ADMIN2" parikshan_debug_rejoins_total "$U2")" 0
pk_expect_eq other-clone-nothing-dropped "$(pk_metric "$ADMIN2" parikshan_debug_bytes_dropped_total "$U2")" 0
pk_expect_eq other-clone-no-desync "$(pk_metric "$ADMIN2" parikshan_debug_desyncs_total "$U2")" 0
for port in "$R1" "$R2"; do
	pk_expect_eq "clone-$port-saw-no-partial-request" "$(redis-cli -p "$port" INFO stats | tr -d '\r' | awk -F: '/^total_error_replies/ {print $2}')" 0
done
pk_stop_clean dup2 "$DUP2"

# ---- the flag where it does not belong ----
pk_expect_error agg-has-no-balance 2 "balance" \
	"$PK_BIN" agg -l "$(pk_free_port)" -x 127.0.0.1 -p "$PROD" --balance
