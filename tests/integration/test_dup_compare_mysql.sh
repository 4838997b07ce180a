#!/usr/bin/env bash
# Issue 10, acceptance 4: `dup --compare mysql` with a production MariaDB and a debug copy.
# sysbench oltp_read_only (prepared statements, two threads) through dup: no request is
# `different`; then a row changed directly in the copy: the SELECT that reads it is reported
# `different` (its request excerpt names the query), and the client still gets production's row.
. "$(dirname "$0")/lib.sh"

PROD=$(pk_free_port) DBG=$(pk_free_port) FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
pk_mariadb prod "$PROD" && pk_mariadb dbg "$DBG" || { pk_fail setup "mariadbd did not start: $(tail -3 "$PK_TMP"/*.log)"; exit 1; }
for p in "$PROD" "$DBG"; do pk_sql "$p" "create database sbtest"; done
LOG=$PK_TMP/mysql.jsonl
pk_dup dup -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG" -b 16M --compare mysql \
	--compare-log "$LOG" --admin "$ADMIN"
DUP=$PK_LAST_PID
verdict() { pk_metric "$ADMIN" parikshan_compare_requests_total "verdict=\"$1\""; }
SB=(sysbench oltp_read_only --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$FRONT"
	--mysql-user=root --mysql-password= --mysql-db=sbtest --tables=2 --table-size=2000 --rand-seed=7)

if timeout 120 "${SB[@]}" prepare >"$PK_TMP/prepare.log" 2>&1; then pk_ok prepare; else pk_fail prepare "$(tail -3 "$PK_TMP/prepare.log")"; exit 1; fi
pk_check prepare-drained pk_wait_metric "$ADMIN" parikshan_debug_connections_active 0 60
if timeout 180 "${SB[@]}" --threads=2 --events=2000 --time=150 run >"$PK_TMP/run.log" 2>&1 &&
	grep -q 'total number of events: *2000' "$PK_TMP/run.log"; then
	pk_ok oltp-read-only
else
	pk_fail oltp-read-only "$(tail -5 "$PK_TMP/run.log")"
fi
pk_check run-drained pk_wait_metric "$ADMIN" parikshan_debug_connections_active 0 60
pk_expect_eq no-desync "$(pk_metric "$ADMIN" parikshan_debug_desyncs_total)" 0
same=$(verdict same)
# 2000 transactions of 14 statements each, at least
if [ "$same" != none ] && [ "$same" -ge 28000 ]; then pk_ok compared; else pk_fail compared "same=$same"; fi
pk_expect_eq none-different "$(verdict different)" 0
pk_expect_eq none-lag "$(verdict lag)" 0

pk_sql "$DBG" "update sbtest.sbtest1 set c='changed in the clone' where id=7"
row=$(pk_sql "$FRONT" "select c from sbtest.sbtest1 where id=7")
if [ -n "$row" ] && [ "$row" != "changed in the clone" ]; then pk_ok client-sees-production; else pk_fail client-sees-production "$row"; fi
pk_check select-different pk_wait_metric "$ADMIN" parikshan_compare_requests_total 1 10 'verdict="different"'
pk_check logged pk_wait_log "$LOG" '"different"' 10
if python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if "\"different\"" in l][0]
assert "select c from sbtest.sbtest1 where id=7" in r["request_excerpt"], r
assert "changed in the clone" in r["clone_excerpt"] or r["part"] >= 0, r
' "$LOG"; then pk_ok report-names-select; else pk_fail report-names-select "$(head -3 "$LOG")"; fi
pk_stop_clean dup "$DUP"
