#!/usr/bin/env bash
# bench/probe_redis.sh — what iProbe costs redis-server (Debian's 7.0, scripts/redis-iprobe.sh):
#
# (a) throughput, redis-benchmark -q -c 50 -t set,get, unpipelined (-n N_PLAIN) and -P 16
#     (-n N_PIPE), of three builds of the same version, interleaved in every round:
#       packaged  /usr/bin/redis-server (no instrumentation)
#       cold      built with -finstrument-functions, cold-patched: probes off (NOPs)
#       instr     built with -finstrument-functions, not patched: every function calls
#                 glibc's empty __cyg_profile_func_enter/exit
#     Reported: the median over ROUNDS of each test's requests per second, and cold / instr
#     against packaged.
# (b) how long `parikshan probe enable --pid P PATTERN...`, `probe dump -o /dev/null` and
#     `probe disable --pid P` take on the cold-patched server while redis-benchmark -P 16 keeps
#     it busy: the median over SWITCHES of each command's wall time.
#
#   bash bench/probe_redis.sh      env: PK_BIN (default build/release/parikshan), ROUNDS (3),
#                                  N_PLAIN (200000), N_PIPE (200000), SWITCHES (10),
#                                  PATTERNS ("call* process* set* lookup*")
# Prints a markdown table.  Everything on 127.0.0.1; every client run is bounded (timeout).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PK_BIN=${PK_BIN:-$ROOT/build/release/parikshan}
ROUNDS=${ROUNDS:-3}
N_PLAIN=${N_PLAIN:-200000}
N_PIPE=${N_PIPE:-200000}
SWITCHES=${SWITCHES:-10}
PATTERNS=${PATTERNS:-"call* process* set* lookup*"}
. "$ROOT/bench/common.sh"
bench_init probe_redis redis-server redis-benchmark redis-cli

bash "$ROOT/scripts/redis-iprobe.sh" "$PK_BIN" >&2 || exit 1
RDIR=${PK_REDIS_IPROBE_DIR:-$ROOT/build/redis-iprobe}
declare -A BIN=([packaged]=$(command -v redis-server) [cold]=$RDIR/redis-server.cold
	[instr]=$RDIR/redis-server.instr)
KINDS="packaged cold instr"
PORT=${PORT:-17391}

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# start KIND: a redis-server of KIND on PORT; sets SPID.
start() {
	mkdir -p "$TMP/$1"
	"${BIN[$1]}" --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --dir "$TMP/$1" \
		>"$TMP/$1.log" 2>&1 &
	SPID=$!
	PIDS+=("$SPID")
	pk_poll 30 redis-cli -h 127.0.0.1 -p "$PORT" PING >/dev/null ||
		{ echo "probe_redis.sh: $1 did not start: $(tail -n 3 "$TMP/$1.log")" >&2; exit 1; }
}

stop() {
	kill -TERM "$SPID"
	wait "$SPID" 2>/dev/null
}

# rps FILE TEST: the requests per second of TEST in a redis-benchmark -q output.
rps() {
	tr '\r' '\n' <"$1" | awk -v t="$2" -F'[: ]+' '$1 == t && $3 == "requests" { print $2 }'
}

# (a) throughput
for ((r = 0; r < ROUNDS; r++)); do
	for kind in $KINDS; do
		start "$kind"
		for w in plain pipe; do
			if [ "$w" = plain ]; then args=(-n "$N_PLAIN"); else args=(-n "$N_PIPE" -P 16); fi
			timeout 300 redis-benchmark -h 127.0.0.1 -p "$PORT" -q -c 50 -t set,get "${args[@]}" \
				>"$TMP/out" 2>&1 || { echo "probe_redis.sh: redis-benchmark failed on $kind: $(tail -c 300 "$TMP/out")" >&2; exit 1; }
			for t in SET GET; do
				rps "$TMP/out" "$t" >>"$TMP/rps-$kind-$w-$t"
			done
		done
		stop
	done
	echo "round $((r + 1))/$ROUNDS done" >&2
done

echo "| workload | test | packaged rps | cold (probes off) rps | instr (not patched) rps | cold/packaged | instr/packaged |"
echo "|---|---|---:|---:|---:|---:|---:|"
for w in plain pipe; do
	for t in SET GET; do
		p=$(median <"$TMP/rps-packaged-$w-$t")
		c=$(median <"$TMP/rps-cold-$w-$t")
		i=$(median <"$TMP/rps-instr-$w-$t")
		label=$([ "$w" = plain ] && echo "-n $N_PLAIN" || echo "-n $N_PIPE -P 16")
		awk -v w="$label" -v t="$t" -v p="$p" -v c="$c" -v i="$i" 'BEGIN {
			printf "| %s | %s | %.0f | %.0f | %.0f | %.3f | %.3f |\n", w, t, p, c, i, c / p, i / p }'
	done
done

# (b) switching under load
start cold
timeout 600 redis-benchmark -h 127.0.0.1 -p "$PORT" -q -c 50 -P 16 -t set,get -n 100000000 \
	>"$TMP/load.out" 2>&1 &
LOAD=$!
PIDS+=("$LOAD")
pk_poll 30 sh -c "redis-cli -h 127.0.0.1 -p $PORT INFO clients | grep -qE '^connected_clients:([2-9]|[1-9][0-9]+)'" ||
	{ echo "probe_redis.sh: the load did not start" >&2; exit 1; }
# ms CMD...: runs CMD, prints its wall time in ms (exits on failure).
ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>"$TMP/cmd.err" || { echo "probe_redis.sh: $* failed: $(cat "$TMP/cmd.err")" >&2; exit 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
read -r -a pats <<<"$PATTERNS"
for ((i = 0; i < SWITCHES; i++)); do
	ms "$PK_BIN" probe enable --pid "$SPID" "${pats[@]}" >>"$TMP/ms-enable"
	ms "$PK_BIN" probe dump --pid "$SPID" --format table -o /dev/null >>"$TMP/ms-dump"
	ms "$PK_BIN" probe disable --pid "$SPID" >>"$TMP/ms-disable"
done
ms "$PK_BIN" probe enable --pid "$SPID" '*' >>"$TMP/ms-enable-all"
ms "$PK_BIN" probe disable --pid "$SPID" >>"$TMP/ms-disable-all"
kill -TERM "$LOAD"
wait "$LOAD" 2>/dev/null
stop
echo
echo "| under redis-benchmark -c 50 -P 16 load | median ms | max ms |"
echo "|---|---:|---:|"
for c in "enable $PATTERNS" dump "disable (all)" "enable '*'" "disable (after '*')"; do
	case $c in
	enable\ \'*) f=enable-all ;;
	enable*) f=enable ;;
	dump) f=dump ;;
	"disable (all)") f=disable ;;
	*) f=disable-all ;;
	esac
	echo "| probe $c | $(median <"$TMP/ms-$f") | $(sort -n "$TMP/ms-$f" | tail -n 1) |"
done
