#!/usr/bin/env bash
# bench/sysbench_divergence.sh — how often a debug mariadb behind `parikshan dup` ends with a
# different CHECKSUM TABLE than production after a sysbench oltp_read_write run, by client
# thread count.  With one thread the clone replays the same statements in the same order; with
# several, the two servers may order concurrent transactions differently (lock waits,
# deadlock victims, which DELETE/INSERT of the same id wins), and the data can diverge.
# Both servers run without a thread cache (--thread-cache-size=0): a reused MariaDB thread
# goes on numbering prepared statements where its previous connection stopped, so with a cache
# the two servers' statement ids drift apart and the clone's executions fail (THREAD_CACHE=1
# shows it: prepared statements that the clone cannot execute).
#
#   bench/sysbench_divergence.sh [--help]
#   env: PK_BIN (default build/release/parikshan), RUNS (default 5), THREADS ("1 4 8"),
#        THREAD_CACHE=1 (servers keep MariaDB's default thread cache),
#        EVENTS per run (default 2000), TABLES (2), TABLE_SIZE (2000)
# Everything on 127.0.0.1; each run bounded (events and 120 s).
set -uo pipefail
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then sed -n 2,16p "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
[ $# -eq 0 ] || { echo "sysbench_divergence.sh: unknown argument: $1" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PK_BIN=${PK_BIN:-$HERE/../build/release/parikshan}
. "$HERE/common.sh" # bench_init; pk_poll: waits on a condition with a deadline
RUNS=${RUNS:-5} THREADS=${THREADS:-1 4 8} EVENTS=${EVENTS:-2000} TABLES=${TABLES:-2} TABLE_SIZE=${TABLE_SIZE:-2000}
bench_init sysbench_divergence sysbench mariadbd mariadb-install-db mariadb python3
wait_port() { pk_poll 60 pk_listening "$1"; }
sql() { timeout 60 mariadb -h 127.0.0.1 -P "$1" -u root -N -B -e "$2"; }
start_db() {
	mariadb-install-db --no-defaults --datadir="$TMP/$1" --user=root --skip-test-db \
		--auth-root-authentication-method=normal >"$TMP/$1-install.log" 2>&1 || return 1
	mariadbd --no-defaults --datadir="$TMP/$1" --user=root --bind-address=127.0.0.1 --port="$2" \
		--socket="$TMP/$1.sock" --pid-file="$TMP/$1.pid" --skip-grant-tables --skip-name-resolve \
		--innodb-use-native-aio=0 --skip-log-bin --innodb-buffer-pool-size=64M --thread-cache-size=$([ "${THREAD_CACHE:-0}" = 1 ] && echo 256 || echo 0) >"$TMP/$1.log" 2>&1 &
	PIDS+=($!)
	wait_port "$2"
}
read -r PROD DBG FRONT ADMIN <<<"$(python3 "$HERE/../tests/tools/pk-free-ports.py" 4)"
start_db prod "$PROD" && start_db dbg "$DBG" || { echo "sysbench_divergence.sh: mariadbd did not start" >&2; exit 1; }
"$PK_BIN" dup -h 127.0.0.1 -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG" -b 64M \
	--admin "$ADMIN" --log-level warn >"$TMP/dup.log" 2>&1 &
PIDS+=($!)
wait_port "$FRONT" || { echo "sysbench_divergence.sh: dup did not start" >&2; exit 1; }
metric() { curl -s --max-time 3 "http://127.0.0.1:$ADMIN/metrics" | awk -v n="$1" '$1 ~ "^"n"({|$)" { s += $2 } END { print s + 0 }'; }

echo "threads  runs  diverged  desyncs  (events per run: $EVENTS, tables: $TABLES x $TABLE_SIZE rows)"
for th in $THREADS; do
	diverged=0 desync0=$(metric parikshan_debug_desyncs_total)
	for ((r = 1; r <= RUNS; r++)); do
		for p in "$PROD" "$DBG"; do
			sql "$p" "drop database if exists sbtest; create database sbtest" ||
				{ echo "sysbench_divergence.sh: could not recreate the database on port $p" >&2; exit 1; }
		done
		SB=(sysbench oltp_read_write --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$FRONT"
			--mysql-user=root --mysql-password= --mysql-db=sbtest --tables="$TABLES" --table-size="$TABLE_SIZE" --rand-seed="$r")
		timeout 120 "${SB[@]}" prepare >"$TMP/prepare.log" 2>&1 || { echo "prepare failed: $(tail -3 "$TMP/prepare.log")" >&2; exit 1; }
		timeout 180 "${SB[@]}" --threads="$th" --events="$EVENTS" --time=120 run >"$TMP/run.log" 2>&1 ||
			{ echo "run failed: $(tail -3 "$TMP/run.log")" >&2; exit 1; }
		no_clone_conns() { [ "$(metric parikshan_debug_connections_active)" = 0 ]; }
		pk_poll 60 no_clone_conns || { echo "sysbench_divergence.sh: clone connections still open after 60 s" >&2; exit 1; }
		same=1
		for ((t = 1; t <= TABLES; t++)); do
			[ "$(sql "$PROD" "checksum table sbtest.sbtest$t")" = "$(sql "$DBG" "checksum table sbtest.sbtest$t")" ] || same=0
		done
		((same)) || diverged=$((diverged + 1))
		echo "  threads=$th run=$r: $([ $same = 1 ] && echo same || echo DIFFERENT)" >&2
		if ((!same)) && [ -n "${DIAG:-}" ]; then
			for p in "$PROD" "$DBG"; do
				echo "    $p: $(sql "$p" "select count(*), sum(k), sum(crc32(c)) from sbtest.sbtest1") / $(sql "$p" "select count(*), sum(k), sum(crc32(c)) from sbtest.sbtest2")" >&2
			done
			echo "    c2p $(metric 'parikshan_bytes_total{direction="client_to_prod"}') sent $(metric parikshan_debug_bytes_sent_total) active $(metric parikshan_debug_connections_active)" >&2
			tail -n 20 "$TMP/run.log" | grep -E 'transactions|queries:|ignored|reconn' >&2
			for p in "$PROD" "$DBG"; do
				echo "    $p: $(sql "$p" "show global status where variable_name in ('Com_stmt_prepare','Com_stmt_execute','Com_update','Com_insert','Com_delete','Handler_update','Handler_write','Handler_delete','Com_commit','Aborted_clients','Threads_created','Connections')" | tr '\n\t' '  ')" >&2
			done
		fi
	done
	printf '%7s  %4s  %8s  %7s\n' "$th" "$RUNS" "$diverged" $(($(metric parikshan_debug_desyncs_total) - desync0))
done
