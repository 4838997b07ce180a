#!/usr/bin/env bash
# test_trace_mariadb.sh — request paths of a real MariaDB server and a real client: mariadbd and
# sysbench (oltp_read_only, 2 threads, prepared statements over the binary protocol) both under
# `parikshan trace run`.  Every statement sysbench reports is one complete path of mariadbd,
# shown readably (EXECUTE stmt N, PREPARE <sql>, QUERY <sql>), each reached by a sysbench call
# over both ends of its TCP connection; the packets that expect no answer (COM_STMT_CLOSE,
# COM_QUIT) do not make a path incomplete; the MySQL server reads a header, then the rest, and
# the request is still whole.
. "$(dirname "$0")/lib.sh"

PORT=$(pk_free_port)
pk_trace_logd || exit 1
pk_mariadb db "$PORT" "${TRACE[@]}" || { pk_fail setup "mariadbd did not start: $(tail -n 3 "$PK_TMP"/db*.log)"; exit 1; }
pk_sql "$PORT" "create database sbtest" || { pk_fail setup "create database failed"; exit 1; }
SB=(sysbench oltp_read_only --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$PORT"
	--mysql-user=root --mysql-password= --mysql-db=sbtest --tables=1 --table-size=1000 --rand-seed=3)
if timeout 120 "${SB[@]}" prepare >"$PK_TMP/prepare.log" 2>&1; then pk_ok prepare; else pk_fail prepare "$(tail -n 3 "$PK_TMP/prepare.log")"; exit 1; fi
if timeout 120 "${TRACE[@]}" "${SB[@]}" --threads=2 --events=100 --time=100 run >"$PK_TMP/run.log" 2>&1; then
	pk_ok sysbench-run
else
	pk_fail sysbench-run "$(tail -n 5 "$PK_TMP/run.log")"
	exit 1
fi
QUERIES=$(grep -oE 'queries: +[0-9]+' "$PK_TMP/run.log" | grep -oE '[0-9]+$')
pk_expect_eq sysbench-queries "$QUERIES" 1600
pk_stop_clean db "$(cat "$PK_TMP/db.pid")"
pk_stop_clean logd "$LOGD"

pk_check paths "$PK_BIN" trace paths --db "$DB" --format json -o "$PK_TMP/paths.json"
python3 - "$PK_TMP/paths.json" "$QUERIES" >"$PK_TMP/check.out" 2>&1 <<'PY'
import collections, json, sys
d = json.load(open(sys.argv[1]))
queries = int(sys.argv[2])
kinds = collections.Counter()
for p in d["paths"]:
    h = p["hops"][0]
    assert len(p["hops"]) == 1 and h["comm"] == "mariadbd" and h["proto"] == "mysql", h
    assert p["complete"], ("incomplete", h["title"], h["request"])
    kinds[h["title"].split(" ")[0]] += 1
titles = collections.Counter(p["hops"][0]["title"] for p in d["paths"])
print("paths", len(d["paths"]), dict(kinds))
assert kinds["EXECUTE"] == queries, kinds
assert titles["PREPARE SELECT c FROM sbtest1 WHERE id=?"] == 2, titles
assert titles["QUERY create database sbtest"] == 1, titles
assert kinds["HANDSHAKE"] >= 4 and kinds["QUERY"] >= 3, kinds
assert kinds["CLOSE"] >= 1 and kinds["QUIT"] >= 2, kinds  # (closes may share a write)
PY
if [ $? -eq 0 ]; then pk_ok paths-exact; else pk_fail paths-exact "$(tail -n 5 "$PK_TMP/check.out")"; fi
cat "$PK_TMP/check.out"
