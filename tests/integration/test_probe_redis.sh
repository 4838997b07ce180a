#!/usr/bin/env bash
# test_probe_redis.sh — iProbe on a real server: Debian's redis-server built with
# -finstrument-functions (scripts/redis-iprobe.sh, cached in build/redis-iprobe/), then
#   - the instrumented and the cold-patched server both pass redis-benchmark and end with the
#     same dataset (DEBUG DIGEST, equal to the packaged server's after the same commands),
#   - one SET, with every probe on, shows the functions it goes through in order, from the read
#     handler to the reply written to the socket,
#   - 50 enable / dump / disable cycles on the cold-patched server while redis-benchmark keeps
#     its main thread and its two I/O threads busy: every command succeeds, no client sees an
#     error, the server lives, and its text is the cold-patched file's again at the end.
. "$(dirname "$0")/lib.sh"

RDIR=${PK_REDIS_IPROBE_DIR:-$PK_ROOT/build/redis-iprobe}
INSTR=$RDIR/redis-server.instr
COLD=$RDIR/redis-server.cold
CYCLES=50

# The build (a few minutes the first time, then cached) cold-patches with the binary under test.
if ! bash "$PK_ROOT/scripts/redis-iprobe.sh" "$PK_BIN" >"$PK_TMP/build.out" 2>&1; then
	pk_fail build "$(tail -n 3 "$PK_TMP/build.out" | tr '\n' ' ')"
	exit 1
fi
pk_ok build

# server NAME BIN [args]: a redis-server from BIN on a free port; sets PORT and PID (the
# server's own pid: pk_bg's child execs it).
server() {
	local name=$1 bin=$2
	shift 2
	PORT=$(pk_free_port)
	pk_redis_bin "$bin" "$name" "$PORT" "$@" || { pk_fail "$name-start" "$(tail -n 5 "$PK_TMP/$name.log")"; exit 1; }
	PID=$PK_LAST_PID
	[ "$(readlink "/proc/$PID/exe")" = "$(realpath "$bin")" ] ||
		{ pk_fail "$name-start" "pid $PID is not $bin"; exit 1; }
}

# bench_ok NAME FILE: FILE (redis-benchmark -q output) has a requests-per-second line for each
# of SET GET INCR LPUSH and no error.
bench_ok() {
	local got
	got=$(tr '\r' '\n' <"$2" | awk -F: '/^[A-Z_]+[^:]*: [0-9.]+ requests per second/ { print $1 }' |
		sort | tr '\n' ' ')
	if grep -q 'Error' "$2"; then
		pk_fail "$1" "$(grep -m 3 Error "$2" | tr '\n' ' ')"
	else
		pk_expect_eq "$1" "$got" "GET INCR LPUSH SET "
	fi
}

# --- instrumented vs cold-patched vs packaged: same answers, same dataset --------------------
# No -r: the benchmark uses fixed keys, so the dataset it leaves is deterministic.
declare -A DIGEST
for kind in packaged instr cold; do
	case $kind in
	packaged) bin=$(command -v redis-server) ;;
	instr) bin=$INSTR ;;
	cold) bin=$COLD ;;
	esac
	server "$kind" "$bin"
	timeout 300 redis-benchmark -h 127.0.0.1 -p "$PORT" -q -n 20000 -t set,get,incr,lpush \
		>"$PK_TMP/bench-$kind.out" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] || pk_fail "bench-$kind-exit" "exit $rc: $(tail -c 300 "$PK_TMP/bench-$kind.out")"
	bench_ok "bench-$kind" "$PK_TMP/bench-$kind.out"
	DIGEST[$kind]=$(pk_digest "$PORT")
	pk_expect_eq "state-$kind" "$(redis-cli -h 127.0.0.1 -p "$PORT" GET counter:__rand_int__) $(redis-cli -h 127.0.0.1 -p "$PORT" LLEN mylist)" \
		"20000 20000"
	[ "$kind" = cold ] && break # the cold-patched server goes on serving below
	kill -TERM "$PID"
	pk_wait_exit "$PID" 30
done
pk_check digest-shape grep -qxE '[0-9a-f]{40}' <<<"${DIGEST[packaged]}"
pk_expect_eq digest-instr "${DIGEST[instr]}" "${DIGEST[packaged]}"
pk_expect_eq digest-cold "${DIGEST[cold]}" "${DIGEST[packaged]}"
COLD_PORT=$PORT COLD_PID=$PID

# The functions the patterns below rely on have probe sites.
pk_check list sh -c "'$PK_BIN' probe list --pid $COLD_PID >'$PK_TMP/list.out' && for f in \
	readQueryFromClient processInputBuffer processCommand call setCommand setGenericCommand \
	setKey addReply writeToClient lookupKeyWrite; do
	grep -qE \"^\$f +[0-9]+ +[0-9]+ +off \" '$PK_TMP/list.out' || { echo \"no \$f\"; exit 1; }; done"

# --- one SET, every probe on: its path in order ----------------------------------------------
pk_check enable-all "$PK_BIN" probe enable --pid "$COLD_PID" '*'
# drain what the server did meanwhile (serverCron): the next dump holds little but the SET
pk_check drain "$PK_BIN" probe dump --pid "$COLD_PID" -o /dev/null
pk_expect_eq set "$(redis-cli -h 127.0.0.1 -p "$COLD_PORT" SET iprobe:key iprobe-value)" OK
pk_check dump-text "$PK_BIN" probe dump --pid "$COLD_PID" --format text -o "$PK_TMP/set.txt"
# Redis 7.0: readQueryFromClient -> processInputBuffer -> processMultibulkBuffer (parse) ->
# processCommandAndResetClient -> processCommand -> call -> setCommand -> setGenericCommand ->
# lookupKeyWrite (NX/XX check) -> setKey -> dbAdd (a new key) -> addReply ->
# _addReplyToBufferOrList; then, before the next epoll wait, beforeSleep ->
# handleClientsWithPendingWrites -> writeToClient -> connSocketWrite.  serverCron and the event
# loop interleave: the path must be a subsequence of one thread's entries.
pk_check set-path python3 - "$PK_TMP/set.txt" <<'EOF'
import re, sys, collections
path = ["readQueryFromClient", "processInputBuffer", "processMultibulkBuffer",
        "processCommandAndResetClient", "processCommand", "call", "setCommand",
        "setGenericCommand", "lookupKeyWrite", "setKey", "dbAdd", "addReply",
        "_addReplyToBufferOrList", "handleClientsWithPendingWrites", "writeToClient",
        "connSocketWrite"]
entries = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"\s*[0-9.]+ us  tid (\d+)\s+-> (\S+)$", line)
    if m:
        entries[m.group(1)].append(m.group(2))
best = (0, None)
for tid, names in entries.items():
    i = 0
    for n in names:
        if i < len(path) and n == path[i]:
            i += 1
    if i == len(path):
        sys.exit(0)
    best = max(best, (i, tid))
sys.exit(f"longest prefix of the SET path found: {path[:best[0]]} (tid {best[1]}); "
         f"missing {path[best[0]]}; {sum(map(len, entries.values()))} entries")
EOF
pk_check disable-all sh -c "'$PK_BIN' probe disable --pid $COLD_PID >'$PK_TMP/dis.out' &&
	grep -q 'disabled [0-9]* functions' '$PK_TMP/dis.out'"
pk_check set-text-restored pk_text_matches_file "$COLD_PID" "$COLD"
pk_expect_eq get "$(redis-cli -h 127.0.0.1 -p "$COLD_PORT" GET iprobe:key)" iprobe-value
kill -TERM "$COLD_PID"
pk_wait_exit "$COLD_PID" 30

# --- 50 cycles under redis-benchmark traffic --------------------------------------------------
# Two I/O threads that also read: with 50 pipelining clients all three threads run redis code.
# The clients run in bounded rounds until the cycles are done (at most 200 rounds, each under
# a timeout); every round's exit status is kept.
server hot "$COLD" --io-threads 2 --io-threads-do-reads yes
HOT_PID=$PID HOT_PORT=$PORT
bench_loop() {
	local k
	for ((k = 0; k < 200; k++)); do
		[ -e "$PK_TMP/stop" ] && break
		timeout 300 redis-benchmark -h 127.0.0.1 -p "$HOT_PORT" -q -n 200000 -c 50 -P 16 \
			-t set,get,incr,lpush >"$PK_TMP/load-$k.out" 2>&1
		echo "round $k exit $?" >>"$PK_TMP/load.rc"
	done
	echo done >>"$PK_TMP/load.rc"
}
pk_bg load bench_loop
LOAD_PID=$PK_LAST_PID
pk_wait_for "the first benchmark clients" 60 sh -c \
	"redis-cli -h 127.0.0.1 -p $HOT_PORT INFO clients | grep -qE '^connected_clients:([2-9]|[1-9][0-9]+)'" || exit 1

fails=0
t0=$(date +%s%N)
for ((i = 0; i < CYCLES; i++)); do
	"$PK_BIN" probe enable --pid "$HOT_PID" 'call*' 'process*' 'set*' 'lookup*' >>"$PK_TMP/cycles.out" \
		2>>"$PK_TMP/cycles.err" || fails=$((fails + 1))
	"$PK_BIN" probe dump --pid "$HOT_PID" --format table -o /dev/null 2>>"$PK_TMP/cycles.err" ||
		fails=$((fails + 1))
	"$PK_BIN" probe disable --pid "$HOT_PID" >>"$PK_TMP/cycles.out" 2>>"$PK_TMP/cycles.err" ||
		fails=$((fails + 1))
	[ "$fails" -eq 0 ] || break
	kill -0 "$HOT_PID" 2>/dev/null || break
done
t1=$(date +%s%N)
echo "# $i cycles in $(((t1 - t0) / 1000000)) ms" # in the log, for the record
pk_expect_eq cycles "$i fails $fails" "$CYCLES fails 0" || tail -n 3 "$PK_TMP/cycles.err"
pk_check cycles-alive kill -0 "$HOT_PID"
pk_check cycles-enabled test "$(grep -c '^enabled ' "$PK_TMP/cycles.out")" -eq "$CYCLES"
# every site switched inside the process (one store, or an int3 first for a site straddling a
# cache line): no thread of the server was ever stopped through ptrace
pk_expect_eq cycles-no-ptrace "$(grep -c 'through ptrace' "$PK_TMP/cycles.out")" 0
grep -m1 ' deferred (' "$PK_TMP/cycles.out" # in the log, for the record
pk_check cycles-text-restored pk_text_matches_file "$HOT_PID" "$COLD"
# the load ran through the cycles: a round still running, or one finished, after the last cycle
touch "$PK_TMP/stop"
pk_wait_exit "$LOAD_PID" 400
pk_check load-rounds grep -qE '^round [0-9]+ exit' "$PK_TMP/load.rc"
cat "$PK_TMP/load.rc" # in the log, for the record
pk_expect_eq load-errors "$(grep -E '^round ' "$PK_TMP/load.rc" | grep -vc 'exit 0$')" 0
pk_expect_eq load-error-lines "$(cat "$PK_TMP"/load-*.out | grep -c Error)" 0
pk_check served-after "$(command -v redis-cli)" -h 127.0.0.1 -p "$HOT_PORT" PING
pk_stop_clean hot "$HOT_PID"
