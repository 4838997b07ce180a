#!/usr/bin/env bash
# bench/trace.sh — what request-path tracing costs the three-tier chain of the tests
# (tests/tools/pk-trace-chain.sh: nginx, 2 workers -> pk-trace-backend.py -> redis-server), side
# by side: three copies of the chain run at once, one plain, one with every process under
# `parikshan trace run` and a logd storing into SQLite, one traced the same way but with a logd
# that only writes the raw log (`--no-db`; `trace load` stores it afterwards, timed); wrk
# (-t2 -c CONNS -d SECS --latency, GET /r/<id> over KEYS ids, keep-alive) runs against each in
# turn, in interleaved rounds (the order rotated every round), medians.  Then a harsher load with a real client:
# redis-benchmark (GET, -c 16, REQS requests a run) against a plain redis-server and, with both
# the client and the server under `trace run`, against a traced one with a second logd, in
# interleaved rounds: its cost, and how many records per second that logd stored (its drops
# printed beside it: 0 means it kept up).  Last, the time `trace analyze` takes over the redis
# phase's store (4 records a request: 1.2M records with the defaults).
#   ROUNDS=3 SECS=10 CONNS=16 KEYS=1000 REQS=100000 bash bench/trace.sh
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PK_BIN=${PK_BIN:-$ROOT/build/release/parikshan}
. "$ROOT/bench/common.sh"
. "$ROOT/tests/tools/pk-trace-chain.sh"
bench_init trace wrk nginx redis-server redis-benchmark python3 openssl
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
CONNS=${CONNS:-16}
KEYS=${KEYS:-1000}
REQS=${REQS:-100000}
SOCK=$TMP/trace.sock
DB=$TMP/trace.sqlite
RSOCK=$TMP/redis-trace.sock
RDB=$TMP/redis-trace.sqlite
RAWSOCK=$TMP/raw-trace.sock
RAW=$TMP/trace.raw

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

# logd SOCK ARGS...: starts a logd with ARGS (--db FILE, or --no-db --raw FILE); sets LOGD to
# its pid.
logd() {
	"$PK_BIN" trace logd --socket "$@" >"$1.log" 2>&1 &
	LOGD=$!
	PIDS+=("$LOGD")
	pk_poll 30 test -S "$1" || { echo "trace.sh: logd did not start: $(cat "$1.log")" >&2; exit 1; }
}
# logd_stop PID: prints its CPU time in clock ticks, then stops it (it commits what it holds).
logd_stop() {
	local f
	read -ra f <"/proc/$1/stat"
	echo $((f[13] + f[14]))
	kill -TERM "$1"
	wait "$1"
}
logd "$SOCK" --db "$DB"
CHAIN_LOGD=$LOGD
logd "$RAWSOCK" --no-db --raw "$RAW"
RAW_LOGD=$LOGD
chain plain
chain traced "$PK_BIN" trace run --logd "$SOCK" --
chain rawonly "$PK_BIN" trace run --logd "$RAWSOCK" --

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
	python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from events").fetchone()[0])' "$1"
}
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
rows0=$(rows "$DB")
for ((k = 1; k <= ROUNDS; k++)); do
	echo "trace.sh: chain round $k of $ROUNDS" >&2
	case $((k % 3)) in
	1) run plain; run traced; run rawonly ;;
	2) run traced; run rawonly; run plain ;;
	0) run rawonly; run plain; run traced ;;
	esac
done
CHAIN_CPU=$(logd_stop "$CHAIN_LOGD")
RAW_CPU=$(logd_stop "$RAW_LOGD")
rows1=$(rows "$DB")
t0=$(date +%s%N)
"$PK_BIN" trace load "$RAW" --db "$TMP/loaded.sqlite" >"$TMP/load.out" ||
	{ echo "trace.sh: trace load of the raw log failed" >&2; exit 1; }
t1=$(date +%s%N)
LOAD_MS=$(((t1 - t0) / 1000000))
rawrows=$(rows "$TMP/loaded.sqlite")

# the redis phase: a plain server and a traced one (its own logd), the same client
logd "$RSOCK" --db "$RDB"
REDIS_LOGD=$LOGD
RPLAIN=$(free_port) RTRACED=$(free_port)
redis-server --bind 127.0.0.1 --port "$RPLAIN" --save '' --appendonly no --dir "$TMP" >"$TMP/rplain.log" 2>&1 &
PIDS+=($!)
"$PK_BIN" trace run --logd "$RSOCK" -- redis-server --bind 127.0.0.1 --port "$RTRACED" --save '' \
	--appendonly no --dir "$TMP" >"$TMP/rtraced.log" 2>&1 &
PIDS+=($!)
pk_poll 30 listening "$RPLAIN" && pk_poll 30 listening "$RTRACED" ||
	{ echo "trace.sh: redis did not start" >&2; exit 1; }
# rbench NAME PORT PREFIX...: one redis-benchmark run; appends "rps p50 p99 secs" to $TMP/NAME.runs
rbench() {
	local name=$1 port=$2 out=$TMP/rbench.out t0 t1
	shift 2
	t0=$(date +%s%N)
	timeout 300 "$@" redis-benchmark -p "$port" -t get -c 16 -n "$REQS" --csv >"$out" 2>&1 ||
		{ echo "trace.sh: redis-benchmark failed: $(tail -n 3 "$out")" >&2; exit 1; }
	t1=$(date +%s%N)
	python3 - "$out" "$(((t1 - t0) / 1000000))" >>"$TMP/$name.runs" <<'PY' ||
import csv, sys
r = [r for r in csv.reader(open(sys.argv[1])) if r and r[0] == "GET"][-1]
print(float(r[1]), float(r[4]), float(r[6]), int(sys.argv[2]) / 1000)
PY
		{ echo "trace.sh: redis-benchmark output unusable: $(tail -n 3 "$out")" >&2; exit 1; }
}
for ((k = 1; k <= ROUNDS; k++)); do
	echo "trace.sh: redis round $k of $ROUNDS" >&2
	if ((k % 2)); then
		rbench rplain "$RPLAIN"
		rbench rtraced "$RTRACED" "$PK_BIN" trace run --logd "$RSOCK" --
	else
		rbench rtraced "$RTRACED" "$PK_BIN" trace run --logd "$RSOCK" --
		rbench rplain "$RPLAIN"
	fi
done
REDIS_CPU=$(logd_stop "$REDIS_LOGD")
rrows=$(rows "$RDB")
t0=$(date +%s%N)
"$PK_BIN" trace analyze --db "$RDB" --json >"$TMP/analyze.json" || { echo "trace.sh: analyze failed" >&2; exit 1; }
t1=$(date +%s%N)
"$PK_BIN" trace analyze --db "$DB" --json >"$TMP/chain.json" || { echo "trace.sh: analyze of the chain failed" >&2; exit 1; }

python3 - "$TMP" "$rows0" "$rows1" "$rrows" "$((ROUNDS * SECS))" "$(((t1 - t0) / 1000000))" \
	"$LOAD0" "$CONNS" "$SECS" "$CHAIN_CPU" "$REDIS_CPU" "$REQS" "$RAW_CPU" "$rawrows" "$LOAD_MS" <<'EOF'
import json, statistics, sys
tmp = sys.argv[1]
rows0, rows1, rrows, secs, analyze_ms = (int(x) for x in sys.argv[2:7])
load0, conns, wsecs = sys.argv[7:10]
chain_cpu, redis_cpu, reqs, raw_cpu, rawrows, load_ms = (int(x) for x in sys.argv[10:16])
runs = lambda n: [list(map(float, l.split())) for l in open(f"{tmp}/{n}.runs")]
plain, traced, rawonly = runs("plain"), runs("traced"), runs("rawonly")
rplain, rtraced = runs("rplain"), runs("rtraced")
a, c = json.load(open(f"{tmp}/analyze.json")), json.load(open(f"{tmp}/chain.json"))
med = lambda rs, i: statistics.median(r[i] for r in rs)
# table TITLE ROWS: ROWS = [(name, runs)], the first one plain; each other row's cost against it
def table(title, rows):
    p = rows[0][1]
    print(f"| {title} | requests/s | p50 ms | p99 ms | throughput cost | p99 cost |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, rs in rows:
        cost = (f"{(1 - med(rs, 0) / med(p, 0)) * 100:+.1f}% | {(med(rs, 2) / med(p, 2) - 1) * 100:+.1f}%"
                if rs is not p else " | ")
        print(f"| {name} | {med(rs, 0):,.0f} | {med(rs, 1):.3f} | {med(rs, 2):.3f} | {cost} |")
    print()
print(f"load at start {load0}; {len(plain)} interleaved rounds, medians")
print()
print(f"chain: nginx (2 workers) -> python backend -> redis, wrk -t2 -c{conns} -d{wsecs}s")
print()
table("chain", [("plain", plain), ("traced, SQLite", traced), ("traced, raw log only", rawonly)])
print(f"the chain's logd stored {rows1 - rows0:,} records ({(rows1 - rows0) / secs:,.0f}/s of load), "
      f"dropped {c.get('dropped', '?')}, used {chain_cpu / 100:.1f} s of CPU; "
      f"{c.get('complete', '?')} of {c.get('paths', '?')} paths complete")
print(f"the raw-only logd used {raw_cpu / 100:.1f} s of CPU; `trace load` stored its {rawrows:,} "
      f"records into SQLite afterwards in {load_ms / 1000:.2f} s")
print()
print(f"redis-benchmark -t get -c 16 -n {reqs}, client and server traced")
print()
table("redis", [("plain", rplain), ("traced", rtraced)])
tsecs = sum(r[3] for r in rtraced)
print(f"the redis logd stored {rrows:,} records in {tsecs:.1f} s of traced runs: "
      f"{rrows / tsecs:,.0f} records/s, dropped {a.get('dropped', '?')}, used {redis_cpu / 100:.1f} s of CPU")
print(f"trace analyze over those {rrows:,} records: {analyze_ms / 1000:.2f} s, "
      f"{a.get('paths', '?')} paths, {a.get('complete', '?')} complete")
EOF
