#!/usr/bin/env bash
# bench/trace.sh — what request-path tracing costs the three-tier chain of the tests
# (tests/tools/pk-trace-chain.sh: nginx, 2 workers -> pk-trace-backend.py -> redis-server), side
# by side: two copies of the chain run at once, one plain and one with every process under
# `parikshan trace run` and a logd storing into SQLite; wrk (-t2 -c CONNS -d SECS --latency,
# GET /r/<id> over KEYS ids, keep-alive) runs against each in turn, in interleaved rounds
# (the order swapped every round), medians.  Then: the records the traced chain's logd stored
# per second of load, and the time `trace analyze` takes over everything stored (the record
# count printed beside it).
#   ROUNDS=3 SECS=10 CONNS=16 KEYS=1000 bash bench/trace.sh
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PK_BIN=${PK_BIN:-$ROOT/build/release/parikshan}
. "$ROOT/bench/common.sh"
. "$ROOT/tests/tools/pk-trace-chain.sh"
bench_init trace wrk nginx redis-server python3 openssl
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
CONNS=${CONNS:-16}
KEYS=${KEYS:-1000}
SOCK=$TMP/trace.sock
DB=$TMP/trace.sqlite

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listening() { ss -ltnH "( sport = :$1 )" | grep -q .; }

# chain NAME PREFIX...: starts a chain in $TMP/NAME with the command prefix PREFIX (empty:
# plain); sets FRONT_<NAME> to its HTTP port.
chain() {
	local name=$1 dir=$TMP/$1 f s b r
	shift
	mkdir -p "$dir"
	f=$(free_port) s=$(free_port) b=$(free_port) r=$(free_port)
	"$@" redis-server --bind 127.0.0.1 --port "$r" --save '' --appendonly no --dir "$dir" \
		--daemonize no >"$dir/redis.log" 2>&1 &
	PIDS+=($!)
	pk_poll 30 listening "$r" || { echo "trace.sh: $name: redis did not start" >&2; exit 1; }
	trace_chain_keys "$r" $(seq 1 "$KEYS") || exit 1
	"$@" python3 "$ROOT/tests/tools/pk-trace-backend.py" "$b" "$r" >"$dir/backend.log" 2>&1 &
	PIDS+=($!)
	trace_chain_conf "$dir" "$f" "$s" "$b" || exit 1
	"$@" nginx -p "$dir" -c "$dir/front.conf" >"$dir/front.log" 2>&1 &
	PIDS+=($!)
	pk_poll 30 listening "$b" && pk_poll 30 listening "$f" ||
		{ echo "trace.sh: $name: the chain did not start" >&2; exit 1; }
	printf -v "FRONT_$name" %s "$f"
}

"$PK_BIN" trace logd --socket "$SOCK" --db "$DB" >"$TMP/logd.log" 2>&1 &
LOGD=$!
PIDS+=("$LOGD")
pk_poll 30 test -S "$SOCK" || { echo "trace.sh: logd did not start: $(cat "$TMP/logd.log")" >&2; exit 1; }
chain plain
chain traced "$PK_BIN" trace run --logd "$SOCK" --

cat >"$TMP/ids.lua" <<LUA
local n = 0
request = function()
	n = n + 1
	return wrk.format("GET", "/r/" .. (n % $KEYS + 1))
end
LUA
# run NAME: one wrk run against chain NAME; appends "rps p50 p99 reqs" to $TMP/NAME.runs
run() {
	local port out=$TMP/wrk.out
	port=FRONT_$1
	timeout $((SECS + 30)) wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$TMP/ids.lua" \
		"http://127.0.0.1:${!port}/" >"$out" 2>&1 || { echo "trace.sh: wrk failed: $(tail -n 3 "$out")" >&2; exit 1; }
	bench_wrk_parse "$out" >>"$TMP/$1.runs" || { echo "trace.sh: wrk run unusable: $(tail -n 8 "$out")" >&2; exit 1; }
}
rows() {
	python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from events").fetchone()[0])' "$DB"
}
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
rows0=$(rows)
for ((k = 1; k <= ROUNDS; k++)); do
	echo "trace.sh: round $k of $ROUNDS" >&2
	if ((k % 2)); then run plain; run traced; else run traced; run plain; fi
done
kill -TERM "$LOGD"
wait "$LOGD"
rows1=$(rows)
t0=$(date +%s%N)
"$PK_BIN" trace analyze --db "$DB" --json >"$TMP/analyze.json" || { echo "trace.sh: analyze failed" >&2; exit 1; }
t1=$(date +%s%N)

python3 - "$TMP/plain.runs" "$TMP/traced.runs" "$rows0" "$rows1" "$((ROUNDS * SECS))" "$(((t1 - t0) / 1000000))" \
	"$TMP/analyze.json" "$LOAD0" "$CONNS" "$SECS" <<'EOF'
import json, statistics, sys
plain = [list(map(float, l.split())) for l in open(sys.argv[1])]
traced = [list(map(float, l.split())) for l in open(sys.argv[2])]
rows0, rows1, secs, analyze_ms = (int(x) for x in sys.argv[3:7])
a = json.load(open(sys.argv[7]))
med = lambda rs, i: statistics.median(r[i] for r in rs)
print(f"load at start {sys.argv[8]}; wrk -t2 -c{sys.argv[9]} -d{sys.argv[10]}s, {len(plain)} rounds, medians")
print()
print("| chain | requests/s | p50 ms | p99 ms |")
print("|---|---:|---:|---:|")
for name, rs in (("plain", plain), ("traced", traced)):
    print(f"| {name} | {med(rs, 0):,.0f} | {med(rs, 1):.3f} | {med(rs, 2):.3f} |")
print()
print(f"throughput cost {(1 - med(traced, 0) / med(plain, 0)) * 100:+.1f}%, "
      f"p99 cost {(med(traced, 2) / med(plain, 2) - 1) * 100:+.1f}%")
print(f"logd stored {rows1 - rows0:,} records in {secs} s of load: {(rows1 - rows0) / secs:,.0f} records/s "
      f"(what the chain produced; logd kept up: dropped {a.get('dropped', '?')})")
print(f"trace analyze over {rows1:,} records: {analyze_ms / 1000:.2f} s, {a.get('paths', '?')} paths, "
      f"{a.get('complete', '?')} complete")
EOF
