#!/usr/bin/env bash
# Issue 5, acceptance 2: sysbench oltp_read_write (one client thread) through `dup` to a
# production mariadb, with a debug mariadb behind it: afterwards the debug copy's CHECKSUM
# TABLE equals production's.  (With several client threads, transactions may interleave
# differently on the clone; bench/sysbench_divergence.sh measures how often: docs/BENCHMARKS.md.)
. "$(dirname "$0")/lib.sh"

PROD=$(pk_free_port) DBG=$(pk_free_port)
pk_mariadb prod "$PROD" && pk_mariadb dbg "$DBG" || { pk_fail setup "mariadbd did not start: $(tail -3 "$PK_TMP"/*.log)"; exit 1; }
for p in "$PROD" "$DBG"; do pk_sql "$p" "create database sbtest"; done

FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
pk_dup dup -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG" -b 16M --admin "$ADMIN"
DUP=$PK_LAST_PID
SB=(sysbench oltp_read_write --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$FRONT"
	--mysql-user=root --mysql-password= --mysql-db=sbtest --tables=2 --table-size=2000 --rand-seed=7)

if timeout 120 "${SB[@]}" prepare >"$PK_TMP/prepare.log" 2>&1; then pk_ok prepare; else pk_fail prepare "$(tail -3 "$PK_TMP/prepare.log")"; exit 1; fi
prepared=$(pk_sql "$PROD" "checksum table sbtest.sbtest1" | awk '{print $2}')
if timeout 180 "${SB[@]}" --threads=1 --events=3000 --time=150 run >"$PK_TMP/run.log" 2>&1 &&
	grep -q 'total number of events: *3000' "$PK_TMP/run.log"; then
	pk_ok oltp-run-1-thread
else
	pk_fail oltp-run-1-thread "$(tail -5 "$PK_TMP/run.log")"
fi
pk_check clone-drained pk_wait_metric "$ADMIN" parikshan_debug_connections_active 0 60
pk_expect_eq no-desync "$(pk_metric "$ADMIN" parikshan_debug_desyncs_total)" 0
pk_expect_eq all-bytes-sent "$(pk_metric "$ADMIN" parikshan_debug_bytes_sent_total)" \
	"$(pk_metric "$ADMIN" parikshan_bytes_total client_to_prod)"
for t in sbtest1 sbtest2; do
	want=$(pk_sql "$PROD" "checksum table sbtest.$t" | awk '{print $2}')
	got=$(pk_sql "$DBG" "checksum table sbtest.$t" | awk '{print $2}')
	if [ -n "$want" ] && [ "$want" != NULL ] && [ "$got" = "$want" ]; then
		pk_ok "checksum-$t-equal"
	else
		pk_fail "checksum-$t-equal" "production $want, clone $got"
	fi
done
# The run really wrote: sysbench counted write queries, and the table's checksum moved.
upd=$(grep -oE 'write: *[0-9]+' "$PK_TMP/run.log" | grep -oE '[0-9]+$')
now=$(pk_sql "$PROD" "checksum table sbtest.sbtest1" | awk '{print $2}')
if [ -n "$upd" ] && [ "$upd" -gt 0 ] && [ "$now" != "$prepared" ]; then
	pk_ok run-wrote
else
	pk_fail run-wrote "writes=$upd checksum $prepared -> $now"
fi
pk_stop_clean dup "$DUP"
