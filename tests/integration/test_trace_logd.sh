#!/usr/bin/env bash
# `parikshan trace logd`, `trace expand` and `trace run` end to end: logd with SQLite and with a
# real throwaway PostgreSQL server (initdb + pg_ctl as user postgres, Unix socket only), fed by
# tests/tools/pk-trace-client.py writing struct-packed frames: records land, per-process drops
# are summed, the store reads back the same records from PostgreSQL as from SQLite (the unit
# test's round trip on the throwaway server), a bad frame drops only its connection (one log line, counted), the raw log reads
# back with expand and a corrupt one gives one clear error, a database that is down gives one
# clear error (at start and while running), a full disk too, SIGTERM commits and prints the summary; `trace run`
# refuses a statically linked program, passes the command's exit status through and sets
# LD_PRELOAD (prepended), warning once when no logd listens.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tools/pk-pg.sh"

CLIENT=$PK_ROOT/tests/tools/pk-trace-client.py
SOCK=$PK_TMP/run/trace.sock
DB=$PK_TMP/t.sqlite
RAW=$PK_TMP/t.raw

# sq DB SQL: the first column of SQL's rows on the SQLite file DB.
sq() {
	python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [print(r[0]) for r in c.execute(sys.argv[2])]' "$1" "$2"
}

# rows_are DB TABLE N: DB's TABLE has N rows (for pk_wait_for).
rows_are() { [ "$(sq "$1" "select count(*) from $2" 2>/dev/null)" = "$3" ]; }

# logd_start NAME ARGS...: starts logd on $SOCK, waits for its socket.
logd_start() {
	local name=$1
	shift
	pk_bg "$name" "$PK_BIN" trace logd --socket "$SOCK" "$@"
	LOGD=$PK_LAST_PID
	pk_wait_for "logd's socket" 20 test -S "$SOCK"
}

# logd_stop: SIGTERM, waits, sets LOGD_RC.
logd_stop() {
	kill -TERM "$LOGD"
	wait "$LOGD"
	LOGD_RC=$?
}

# --- SQLite -------------------------------------------------------------------------------
logd_start sqlite --db "$DB" --raw "$RAW" || exit 1
pk_check socket-mode test "$(stat -c %a "$SOCK")" = 666
pk_check client-a python3 "$CLIENT" "$SOCK" good 2001 1000 3
pk_check client-b python3 "$CLIENT" "$SOCK" good 2002 250
pk_wait_for "1252 events in SQLite" 20 rows_are "$DB" events 1252 && pk_ok sqlite-records
pk_expect_eq sqlite-procs "$(sq "$DB" 'select pid from procs order by pid' | tr '\n' ' ')" "2001 2002 "
pk_expect_eq sqlite-peek "$(sq "$DB" "select cast(peek as text) from events e join procs p on p.id=e.proc where p.pid=2001 and e.ts=4")" \
	"$(printf 'GET /r/4 HTTP/1.1\r')"
for kind in magic version call peek count recs-first garbage; do
	pk_check "bad-$kind" python3 "$CLIENT" "$SOCK" bad "$kind"
done
# each bad run's good connection still stored its 10 records (a valid hello before a bad
# record is stored too: 3 of the kinds)
pk_wait_for "the good connections' records" 20 rows_are "$DB" events $((1252 + 7 * 10)) && pk_ok bad-drops-only-its-connection
pk_check bad-logged grep -qE "connection [0-9]+ \(pid [0-9-]+\) dropped: .*magic" "$PK_TMP/sqlite.log"
logd_stop
pk_expect_eq sqlite-exit "$LOGD_RC" 0
pk_check sqlite-summary grep -qx "trace logd: 12 processes, 1322 records, 13 dropped by the processes, 7 bad connections" "$PK_TMP/sqlite.log"
pk_check socket-removed test ! -e "$SOCK"

# --- the raw log ----------------------------------------------------------------------------
"$PK_BIN" trace expand "$RAW" >"$PK_TMP/expand.out" 2>"$PK_TMP/expand.err"
pk_expect_eq expand-exit "$?" 0
pk_expect_eq expand-lines "$(wc -l <"$PK_TMP/expand.out")" $((12 + 1322))
pk_check expand-hello grep -qE "^conn [0-9]+ hello pid 2001 ppid 1 mono 1000 real 1700000000000000000 dropped 3 exe /usr/bin/pk-fake comm pk-fake$" "$PK_TMP/expand.out"
pk_check expand-read grep -qF 'pid 2001 tid 7 ts 4 read fd 5 arg 0 ret 19 off 0 flags from_start,server 127.0.0.1:8080 127.0.0.1:40000 peek "GET /r/4 HTTP/1.1\x0d\x0a"' "$PK_TMP/expand.out"
head -c 1000 "$RAW" >"$PK_TMP/cut.raw"
pk_expect_error expand-cut 1 "trace expand: .*cut.raw: corrupt raw log at byte [0-9]+: cut in a frame" \
	bash -c "'$PK_BIN' trace expand '$PK_TMP/cut.raw' >/dev/null"
# the second entry's header (after 8 + 16 + 312 bytes of the first hello) overwritten
{ head -c 336 "$RAW"; printf 'XXXXXXXX'; tail -c +345 "$RAW"; } >"$PK_TMP/bad.raw"
pk_expect_error expand-corrupt 1 "trace expand: .*bad.raw: corrupt raw log at byte 336: not a raw log entry" \
	bash -c "'$PK_BIN' trace expand '$PK_TMP/bad.raw' >/dev/null"
# trace load: the raw log into a new store gives what logd stored
dump() { sq "$1" "select p.pid, p.exe, e.tid, e.ts, e.call, e.fd, e.ret, e.off, hex(e.peek) from events e join procs p on p.id = e.proc order by p.pid, e.tid, e.ts, e.call" | md5sum; }
pk_expect_eq load "$("$PK_BIN" trace load "$RAW" --db "$PK_TMP/loaded.sqlite" 2>&1)" \
	"trace load: 12 processes, 1322 records stored"
pk_expect_eq load-same-rows "$(dump "$PK_TMP/loaded.sqlite")" "$(dump "$DB")"
pk_expect_error load-cut 1 "trace load: .*cut.raw: corrupt raw log at byte [0-9]+: cut in a frame" \
	"$PK_BIN" trace load "$PK_TMP/cut.raw" --db "$PK_TMP/cut.sqlite"
pk_check load-cut-keeps test "$(sq "$PK_TMP/cut.sqlite" 'select count(*) from procs')" -ge 1
pk_expect_error load-no-store 2 "trace load: --db FILE or --pg CONNINFO: exactly one is required" \
	"$PK_BIN" trace load "$RAW"
pk_expect_error load-missing 1 "trace load: .*nope.raw" \
	"$PK_BIN" trace load "$PK_TMP/nope.raw" --db "$PK_TMP/nope.sqlite"
head -c 3000 /dev/urandom >"$PK_TMP/random.raw"
pk_expect_error expand-random 1 "trace expand: .*random.raw: corrupt raw log at byte 0" \
	"$PK_BIN" trace expand "$PK_TMP/random.raw"
pk_expect_error expand-missing 1 "trace expand: .*nope.raw: No such file" \
	"$PK_BIN" trace expand "$PK_TMP/nope.raw"
pk_expect_error logd-bad-db 1 "trace logd: .*not a trace store" \
	"$PK_BIN" trace logd --socket "$SOCK" --db "$RAW"
pk_expect_error logd-two-dbs 2 "trace logd: --db and --pg" \
	"$PK_BIN" trace logd --socket "$SOCK" --db "$DB" --pg "host=/nonexistent"

# --- raw log only (--no-db): no store is made; `trace load` stores the log later -----------
cd "$PK_TMP" || exit 1 # where logd would make its default store
logd_start rawonly --no-db --raw "$PK_TMP/only.raw" || exit 1
cd "$PK_ROOT" || exit 1
pk_check rawonly-client python3 "$CLIENT" "$SOCK" good 2003 500 5
logd_stop
pk_expect_eq rawonly-exit "$LOGD_RC" 0
pk_check rawonly-summary grep -qx "trace logd: 1 processes, 501 records, 10 dropped by the processes, 0 bad connections" "$PK_TMP/rawonly.log"
pk_check rawonly-no-store test ! -e "$PK_TMP/parikshan-trace.sqlite"
pk_expect_eq rawonly-load "$("$PK_BIN" trace load "$PK_TMP/only.raw" --db "$PK_TMP/only.sqlite" 2>&1)" \
	"trace load: 1 processes, 501 records stored"
pk_expect_eq rawonly-load-rows "$(sq "$PK_TMP/only.sqlite" 'select count(*) from events')" 501
pk_expect_error rawonly-needs-raw 2 "trace logd: --no-db: needs --raw FILE" \
	"$PK_BIN" trace logd --socket "$SOCK" --no-db
pk_expect_error rawonly-conflicts 2 "trace logd: --no-db: conflicts with --db and --pg" \
	"$PK_BIN" trace logd --socket "$SOCK" --no-db --raw "$PK_TMP/x.raw" --db "$DB"

# --- a disk that fills up: one clear line, exit 1 ------------------------------------------
mkdir -p "$PK_TMP/small"
if mount -t tmpfs -o size=256k pk-test-trace "$PK_TMP/small"; then
	trap 'umount "$PK_TMP/small" 2>/dev/null; pk_cleanup' EXIT
	logd_start full --db "$PK_TMP/small/full.sqlite" || exit 1
	python3 "$CLIENT" "$SOCK" good 4001 5000 >/dev/null 2>&1
	pk_wait_exit "$LOGD" 20
	wait "$LOGD"
	pk_expect_eq full-exit "$?" 1
	pk_check full-line grep -qE "^parikshan: trace logd: .*(disk is full|No space)" "$PK_TMP/full.log"
	umount "$PK_TMP/small"
	trap pk_cleanup EXIT
else
	pk_fail full-tmpfs "mount failed"
fi
rm -f "$SOCK"

# --- PostgreSQL -----------------------------------------------------------------------------
chmod 0711 "$PK_TMP"
if ! pg_start "$PK_TMP/pg"; then
	pk_fail pg-start "$PG_WHY"
else
	pk_ok pg-start
	trap 'pg_down; pk_cleanup' EXIT
	pg_rows_are() { [ "$(pg_rows "select count(*) from $1")" = "$2" ]; }
	logd_start pg --pg "$PGCONN" || exit 1
	pk_check pg-client-a python3 "$CLIENT" "$SOCK" good 3001 1000 4
	pk_check pg-bad python3 "$CLIENT" "$SOCK" bad call
	pk_wait_for "1011 events in PostgreSQL" 20 pg_rows_are events 1011 && pk_ok pg-records
	pk_expect_eq pg-procs "$(pg_rows 'select pid from procs order by pid' | tr '\n' ' ')" "1001 1002 3001 "
	pk_expect_eq pg-peek "$(pg_rows "select convert_from(peek, 'SQL_ASCII') from events e join procs p on p.id=e.proc where p.pid=3001 and e.ts=4")" \
		"$(printf 'GET /r/4 HTTP/1.1\r')"
	logd_stop
	pk_expect_eq pg-exit "$LOGD_RC" 0
	pk_check pg-summary grep -qx "trace logd: 3 processes, 1011 records, 9 dropped by the processes, 1 bad connections" "$PK_TMP/pg.log"
	# the store's reading side on PostgreSQL: the unit test's round trip on an empty database
	pg_rows "create database unit" >/dev/null
	UNIT=$(dirname "$PK_BIN")/tests/test_trace_store
	if [ -x "$UNIT" ]; then
		PK_TRACE_TEST_PG="host=$PGSOCK port=5432 user=postgres dbname=unit" "$UNIT" >"$PK_TMP/unit.out" 2>&1
		if grep -qx "ok trace_store/test_roundtrip_pg" "$PK_TMP/unit.out"; then
			pk_ok pg-roundtrip
		else
			pk_fail pg-roundtrip "$(grep -v '^ok' "$PK_TMP/unit.out" | head -n 5 | tr '\n' ' ')"
		fi
	else
		pk_fail pg-roundtrip "$UNIT not built"
	fi
	# the database goes down while logd runs: one clear line, exit 1
	logd_start pg-down --pg "$PGCONN" || exit 1
	pg_down
	python3 "$CLIENT" "$SOCK" good 3002 10 >/dev/null 2>&1
	pk_wait_exit "$LOGD" 20
	wait "$LOGD"
	pk_expect_eq pg-down-exit "$?" 1
	pk_check pg-down-line grep -qE "^parikshan: trace logd: .*database is down" "$PK_TMP/pg-down.log"
	# and down at the start
	pk_expect_error pg-down-start 1 "trace logd: database is down" \
		"$PK_BIN" trace logd --socket "$SOCK" --pg "$PGCONN"
	rm -f "$SOCK"
fi

# --- trace run ----------------------------------------------------------------------------
printf 'int main(void){return 0;}\n' >"$PK_TMP/static.c"
if gcc -static -o "$PK_TMP/static-bin" "$PK_TMP/static.c" 2>/dev/null; then
	pk_expect_error run-static 2 "trace run: .*static-bin is statically linked" \
		"$PK_BIN" trace run -- "$PK_TMP/static-bin"
else
	pk_fail run-static "gcc -static does not link here"
fi
FAKELIB=$(dirname "$PK_BIN")/libinvivo.so # any loadable library stands for the tracing one
out=$(PARIKSHAN_TRACE_LIB=$FAKELIB LD_PRELOAD=/nonexistent-pre.so "$PK_BIN" trace run --logd "$PK_TMP/none.sock" -- \
	sh -c 'echo "$LD_PRELOAD|$PARIKSHAN_TRACE_SOCK|$PARIKSHAN_TRACE_LIB"; exit 3' 2>"$PK_TMP/run.err")
pk_expect_eq run-exit-status "$?" 3
pk_expect_eq run-env "$out" "$(realpath "$FAKELIB"):/nonexistent-pre.so|$PK_TMP/none.sock|$(realpath "$FAKELIB")"
pk_check run-warns-once test "$(grep -c "no logd listens on $PK_TMP/none.sock" "$PK_TMP/run.err")" = 1
pk_expect_error run-no-lib 1 "trace run: libparikshan_trace.so not found" \
	env PARIKSHAN_TRACE_LIB=$PK_TMP/nope.so "$PK_BIN" trace run -- true
pk_expect_error run-no-cmd 2 "trace run: .*pk-no-such-cmd" \
	"$PK_BIN" trace run -- pk-no-such-cmd
