# lib.sh — helpers for integration tests (sourced).  Every test:
#   - reports with pk_ok / pk_fail / pk_skip (one line each, read by tests/run),
#   - starts servers with pk_bg (pids recorded, killed by the EXIT trap even on failure),
#   - talks only to 127.0.0.1, with bounded loops and timeouts,
#   - never synchronises with a sleep: it waits for the condition (pk_wait_for, pk_wait_file,
#     pk_wait_port, pk_wait_metric, pk_container_up) with a deadline and a clear failure.
set -u
: "${PK_BIN:?run through tests/run}"
: "${PK_TOOLS:?run through tests/run}"
PK_TEST_NAME=$(basename "$0" .sh)
PK_TMP=$(mktemp -d "/tmp/pk-test-$PK_TEST_NAME.XXXXXX")
PK_PIDS=()
. "$(dirname "${BASH_SOURCE[0]}")/wait.sh"

pk_ok() { echo "ok $PK_TEST_NAME/$1"; }
pk_fail() { echo "FAIL $PK_TEST_NAME/$1: ${2:-}"; }
pk_skip() { echo "skip $PK_TEST_NAME/$1: ${2:-}"; }

# pk_check NAME CMD...: ok when CMD succeeds, FAIL (with its output) otherwise.
pk_check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pk_ok "$name"
	else
		pk_fail "$name" "$(echo "$out" | tail -n 5 | tr '\n' ' ')"
		return 1
	fi
}

# pk_expect_eq NAME GOT WANT: ok when the two strings are equal.
pk_expect_eq() {
	if [ "$2" = "$3" ]; then
		pk_ok "$1"
	else
		pk_fail "$1" "got '$2', want '$3'"
		return 1
	fi
}

# pk_expect_error NAME STATUS REGEX CMD...: ok when CMD exits with STATUS, prints nothing on
# stdout, and its stderr is exactly one line "parikshan: <what>: <why>" matching REGEX, with no
# sanitizer report (ASan/UBSan exit with 86/87, which no STATUS here equals).
pk_expect_error() {
	local name=$1 want=$2 re=$3 rc err
	shift 3
	timeout 60 "$@" >"$PK_TMP/expect.out" 2>"$PK_TMP/expect.err" </dev/null
	rc=$?
	err=$(head -c 2000 "$PK_TMP/expect.err")
	if [ "$rc" -ne "$want" ]; then
		pk_fail "$name" "exit $rc, want $want; stderr: $err"
	elif [ "$(wc -l <"$PK_TMP/expect.err")" -ne 1 ] ||
		! grep -qE "^parikshan: [^:]+.*: .+" "$PK_TMP/expect.err" ||
		! grep -qE "$re" "$PK_TMP/expect.err"; then
		pk_fail "$name" "stderr not one line matching '$re': $err"
	elif [ -s "$PK_TMP/expect.out" ]; then
		pk_fail "$name" "unexpected stdout: $(head -c 300 "$PK_TMP/expect.out")"
	else
		pk_ok "$name"
	fi
}

pk_cleanup() {
	local pid
	for pid in "${PK_PIDS[@]}"; do
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PK_PIDS[@]}"; do
		pk_poll 5 pk_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	done
	rm -rf "$PK_TMP"
}
trap pk_cleanup EXIT
trap 'exit 130' INT TERM

# pk_free_port: prints a TCP port that is free now, outside the kernel's ephemeral range (no
# client socket can take it before the test's server binds it) and never handed out before in
# this test (tests/tools/pk-free-ports.py).
pk_free_port() {
	python3 "$(dirname "${BASH_SOURCE[0]}")/../tools/pk-free-ports.py" 1 "$PK_TMP/ports"
}

# pk_wait_for DESC SECONDS CMD...: waits until CMD succeeds (see pk_poll); at the deadline
# reports "FAIL <test>/wait: DESC: not within SECONDS s (last try: <CMD's output>)" and returns
# 1, so a caller only decides whether to go on (`|| exit 1` for setup steps).
pk_wait_for() {
	local desc=$1 limit=$2
	shift 2
	pk_poll "$limit" "$@" && return 0
	pk_fail wait "$desc: not within ${limit}s${PK_POLL_OUT:+ (last try: ${PK_POLL_OUT//$'\n'/ })}"
	return 1
}

# pk_wait_file FILE SECONDS: waits until FILE exists and is not empty (pk_wait_for).  Writers
# write the whole content in one write (print(..., flush=True)) or rename it into place.
pk_wait_file() {
	pk_wait_for "$1 written" "$2" test -s "$1"
}

# pk_wait_exit PID SECONDS: waits until process PID has exited (pk_wait_for).
pk_wait_exit() {
	pk_wait_for "process $1 to exit" "$2" pk_gone "$1"
}

# pk_wait_log FILE REGEX SECONDS: waits until a line of FILE matches the extended REGEX.
pk_wait_log() {
	pk_wait_for "a line /$2/ in $(basename "$1")" "$3" grep -qE -- "$2" "$1"
}

# pk_wait_port PORT [SECONDS]: waits until something listens on 127.0.0.1's PORT (pk_listening:
# without connecting).  Quiet but for one line on stderr at the deadline, for pk_check.
pk_wait_port() {
	local port=$1 limit=${2:-30}
	pk_poll "$limit" pk_listening "$port" && return 0
	echo "port $port did not open within ${limit}s" >&2
	return 1
}

# pk_bg NAME CMD...: starts CMD in the background, output to $PK_TMP/NAME.log; sets PK_LAST_PID.
pk_bg() {
	local name=$1
	shift
	"$@" >"$PK_TMP/$name.log" 2>&1 &
	PK_LAST_PID=$!
	PK_PIDS+=("$PK_LAST_PID")
}

# pk_trace_logd [ARGS...]: starts `trace logd` (pk_bg name logd) on $SOCK storing into $DB
# (defaults $PK_TMP/trace.sock, $PK_TMP/trace.sqlite), ARGS added; sets SOCK, DB, LOGD and
# TRACE (the `trace run` prefix that reaches it) and waits for its socket (pk_wait_for).
pk_trace_logd() {
	SOCK=${SOCK:-$PK_TMP/trace.sock} DB=${DB:-$PK_TMP/trace.sqlite}
	TRACE=("$PK_BIN" trace run --logd "$SOCK" --)
	pk_bg logd "$PK_BIN" trace logd --socket "$SOCK" --db "$DB" "$@"
	LOGD=$PK_LAST_PID
	pk_wait_for "logd's socket" 30 test -S "$SOCK"
}

# pk_redis NAME PORT [extra redis args]: starts a redis-server on 127.0.0.1:PORT; sets PK_LAST_PID.
pk_redis() {
	pk_redis_bin redis-server "$@"
}

# pk_redis_bin BIN NAME PORT [extra redis args]: pk_redis with the server binary BIN.
pk_redis_bin() {
	local bin=$1 name=$2 port=$3
	shift 3
	mkdir -p "$PK_TMP/$name"
	pk_bg "$name" "$bin" --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
		--enable-debug-command yes --dir "$PK_TMP/$name" --daemonize no "$@"
	pk_wait_port "$port"
}

# pk_text_matches_file PID FILE: the executable mappings of FILE in process PID equal FILE's
# bytes at the same offsets (after iProbe's disable: every probe site back to its exact NOP).
pk_text_matches_file() {
	python3 - "$1" "$2" <<'EOF'
import os, sys
pid, path = sys.argv[1], sys.argv[2]
real = os.path.realpath(path)
data = open(path, "rb").read()
seen = 0
with open(f"/proc/{pid}/maps") as f, open(f"/proc/{pid}/mem", "rb") as mem:
    for line in f:
        parts = line.split()
        if len(parts) < 6 or "x" not in parts[1] or parts[5] != real:
            continue
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        off = int(parts[2], 16)
        mem.seek(lo)
        got = mem.read(hi - lo)
        want = data[off:off + (hi - lo)]
        n = min(len(got), len(want))
        if got[:n] != want[:n]:
            bad = next(i for i in range(n) if got[i] != want[i])
            sys.exit(f"text differs at file offset {off + bad:#x}")
        seen += 1
sys.exit(0 if seen else f"no executable mapping of {real}")
EOF
}

# pk_digest PORT: the redis DEBUG DIGEST of the server on PORT.
pk_digest() {
	redis-cli -h 127.0.0.1 -p "$1" DEBUG DIGEST
}

# pk_mariadb NAME PORT [PREFIX...]: a throwaway mariadbd on 127.0.0.1:PORT, started through the
# command PREFIX when given (e.g. `parikshan trace run --`) (grant checks off: the duplicated
# handshake carries production's scramble, which only production can check).  No thread cache:
# a reused MariaDB thread goes on numbering prepared statements where its last connection
# stopped, so two servers with different thread-cache histories hand out different statement
# ids, and the clone's COM_STMT_EXECUTEs (carrying production's ids) fail; without the cache
# every connection numbers from 1 on both.  (Measured: with the cache, 5 of 8 one-thread runs
# diverged; without, 0 of 10.  docs/BENCHMARKS.md.)
pk_mariadb() {
	local name=$1 port=$2
	shift 2
	mariadb-install-db --no-defaults --datadir="$PK_TMP/$name" --user=root --skip-test-db \
		--auth-root-authentication-method=normal >"$PK_TMP/$name-install.log" 2>&1 || return 1
	pk_bg "$name" "$@" mariadbd --no-defaults --datadir="$PK_TMP/$name" --user=root \
		--bind-address=127.0.0.1 --port="$port" --socket="$PK_TMP/$name.sock" \
		--pid-file="$PK_TMP/$name.pid" --skip-grant-tables --skip-name-resolve \
		--innodb-use-native-aio=0 --skip-log-bin --innodb-buffer-pool-size=64M \
		--thread-cache-size=0
	pk_wait_port "$port" 60
}

# pk_sql PORT SQL: runs SQL as root on the mariadbd at 127.0.0.1:PORT (batch output, no names).
pk_sql() {
	timeout 30 mariadb -h 127.0.0.1 -P "$1" -u root -N -B -e "$2"
}

# pk_dup NAME ARGS...: starts `parikshan dup ARGS` (listen address 127.0.0.1); sets PK_LAST_PID.
# The caller passes -l PORT; it waits for that port.
pk_dup() {
	local name=$1 lport="" a prev=""
	shift
	for a in "$@"; do
		[ "$prev" = "-l" ] && lport=$a
		prev=$a
	done
	pk_bg "$name" "$PK_BIN" dup -h 127.0.0.1 "$@"
	[ -z "$lport" ] || pk_wait_port "$lport"
}

# pk_stop_clean NAME PID: SIGTERM, then require exit 0 and no sanitizer report in NAME.log.
pk_stop_clean() {
	local name=$1 pid=$2 rc
	kill -CONT "$pid" 2>/dev/null
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		pk_fail "$name-exit" "exit status $rc: $(tail -n 20 "$PK_TMP/$name.log" | tr '\n' ' ')"
		return 1
	fi
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$PK_TMP/$name.log"; then
		pk_fail "$name-exit" "sanitizer report: $(grep -m3 -E 'Sanitizer|runtime error' "$PK_TMP/$name.log")"
		return 1
	fi
	pk_ok "$name-exit"
}

# pk_metric ADMIN_PORT NAME [LABEL_SUBSTRING]: prints the value of one metric sample (sum if several).
pk_metric() {
	curl -s --max-time 3 "http://127.0.0.1:$1/metrics" |
		awk -v n="$2" -v l="${3:-}" '$1 ~ "^"n"({|$)" && index($1, l) { s += $2; f = 1 }
			END { if (f) printf "%.0f\n", s; else print "none" }'
}

# pk_metric_is ADMIN_PORT NAME OP VALUE [LABEL]: true when the metric compares to VALUE with
# the test(1) operator OP (-eq, -ge, ...); false while it is absent.
pk_metric_is() {
	local v
	v=$(pk_metric "$1" "$2" "${5:-}")
	echo "$2${5:+{$5\}} = $v"
	[ "$v" != none ] && [ "$v" "$3" "$4" ]
}

# pk_wait_metric ADMIN_PORT NAME VALUE [SECONDS] [LABEL]: waits until the metric equals VALUE.
# Quiet but for one line on stderr at the deadline, for pk_check.
pk_wait_metric() {
	local port=$1 name=$2 want=$3 limit=${4:-30} label=${5:-}
	pk_poll "$limit" pk_metric_is "$port" "$name" -eq "$want" "$label" && return 0
	echo "metric $name${label:+{$label\}} is $(pk_metric "$port" "$name" "$label"), not $want, after ${limit}s" >&2
	return 1
}

# pk_wait_metric_ge ADMIN_PORT NAME MIN SECONDS [LABEL]: waits until the metric is at least MIN
# (pk_wait_for: reports the failure itself).
pk_wait_metric_ge() {
	pk_wait_for "metric $2${5:+{$5\}} >= $3" "$4" pk_metric_is "$1" "$2" -ge "$3" "${5:-}"
}

# pk_bench PORT ARGS...: a bounded redis-benchmark run (CSV); fails on a client error.
pk_bench() {
	local port=$1
	shift
	timeout 120 redis-benchmark -h 127.0.0.1 -p "$port" --csv "$@"
}

# A deterministic command mix: every command commutes with the others, so a clone that
# runs them with another interleaving of connections still ends with the same dataset.
PK_REDIS_TESTS=set,get,incr,lpush,rpush,sadd,hset

# pk_route_ok ADDR: true only when ADDR is routed into one of our veths (never to the outside
# network): every test checks this before it sends a packet to a container address.
pk_route_ok() {
	ip route get "$1" 2>/dev/null | grep -q ' dev pkh'
}

# The redis-server of the container tests: all interfaces, port 6379, no persistence.
PK_REDIS_CONTAINER=(redis-server --bind 0.0.0.0 --port 6379 --save '' --protected-mode no
	--enable-debug-command yes)
# Deadline for a container's service to come up (the tests run on loaded 2-core machines).
PK_SERVE_SECONDS=${PK_SERVE_SECONDS:-60}

# pk_container_up NAME IP PORT PROBE [ARGS...] -- CMD...: the one way the tests start a
# container and wait until it serves: `parikshan container run NAME --rootfs / --ip IP/24 --
# CMD...` (its output in $PK_TMP/NAME.run), then pk_route_ok IP (nothing is sent otherwise),
# then waits (PK_SERVE_SECONDS) until PORT listens inside the container's namespace and
# `PROBE ARGS... IP` succeeds (e.g. pk_redis_pong; `true` for none).  Reports a FAIL and
# returns 1 when any step fails; PARIKSHAN_STATE_DIR is honoured as for any parikshan command,
# and the array PK_CONTAINER_OPTS (e.g. --trace) is added to `container run`'s options.
pk_container_up() {
	local name=$1 ip=$2 port=$3 probe=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		probe+=("$1")
		shift
	done
	[ $# -gt 1 ] || { pk_fail container-up "$name: no command given"; return 1; }
	shift
	if ! "$PK_BIN" container run "$name" --rootfs / --ip "$ip/24" \
		${PK_CONTAINER_OPTS[@]+"${PK_CONTAINER_OPTS[@]}"} -- "$@" >"$PK_TMP/$name.run" 2>&1; then
		pk_fail container-up "$name: $(tr '\n' ' ' <"$PK_TMP/$name.run")"
		return 1
	fi
	pk_route_ok "$ip" || { pk_fail route "$ip is not routed into our veth: not sending anything"; return 1; }
	pk_wait_for "$name listening on port $port" "$PK_SERVE_SECONDS" pk_listening "$port" "pk-$name" &&
		pk_wait_for "$name serving (probe: ${probe[*]} $ip)" "$PK_SERVE_SECONDS" "${probe[@]}" "$ip"
}

# pk_redis_container NAME IP: pk_container_up for a redis-server (PK_REDIS_CONTAINER) on IP:6379.
pk_redis_container() {
	pk_container_up "$1" "$2" 6379 pk_redis_pong -- "${PK_REDIS_CONTAINER[@]}"
}

# pk_held_start IP PORT: a client connection to a redis at IP:PORT held open across what the
# test does next (zdtm style: it has answered a PING, says "ready", waits for pk_held_check's
# "go" on a FIFO, then PINGs again); sets HELD (its pid, stopped by pk_cleanup); false when it
# did not get ready.
pk_held_start() {
	rm -f "$PK_TMP/held.go" && mkfifo "$PK_TMP/held.go"
	python3 - "$1" "$2" "$PK_TMP/held.go" >"$PK_TMP/held.out" 2>&1 <<'PY' &
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
def ping():
    s.sendall(b"PING\r\n"); return s.recv(64)
first = ping()
print("ready", flush=True)
open(sys.argv[3]).read()             # blocks until pk_held_check writes "go"
print("held", first.strip().decode(), ping().strip().decode())
PY
	HELD=$!
	PK_PIDS+=("$HELD")
	pk_wait_log "$PK_TMP/held.out" '^ready$' 30
}

# pk_held_check NAME: tells the held connection to go on; ok NAME when it answered again.
pk_held_check() {
	timeout 30 sh -c 'echo go >"$1"' sh "$PK_TMP/held.go" # bounded: the client may have died
	pk_wait_exit "$HELD" 30
	pk_expect_eq "$1" "$(grep -v '^ready$' "$PK_TMP/held.out")" "held +PONG +PONG"
}

# pk_clone_up PROD DBG [ARGS...]: clones PROD into DBG (ARGS: more of clone's flags; ok or fail
# "clone"); sets MGMT (the clone's management address, its route into our veth checked) and
# CPID (its init, as runc says); false on any failure, with the reason reported.
pk_clone_up() {
	if "$PK_BIN" clone "$1" "$2" --json "${@:3}" >"$PK_TMP/clone.json" 2>"$PK_TMP/clone.err"; then
		pk_ok clone
	else
		pk_fail clone "$(cat "$PK_TMP/clone.err")"
		return 1
	fi
	MGMT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mgmt_ip"])' "$PK_TMP/clone.json")
	pk_route_ok "$MGMT" || { pk_fail route "$MGMT is not routed into our veth: not sending anything"; return 1; }
	CPID=$(runc state "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
}

# pk_clone_frame ID: the frame of a test of a container and its clone: needs root; a state dir
# of its own ($PK_STATE, exported as PARIKSHAN_STATE_DIR); PROD=pk-test-ID<pid>-prod and
# DBG=...-dbg; cleanup_containers removes both, and the EXIT trap runs it (a test that needs
# more in its trap sets its own, calling cleanup_containers and pk_cleanup).
pk_clone_frame() {
	[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (namespaces, mounts, runc, criu)"; exit 1; }
	export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
	mkdir -p "$PK_STATE"
	PROD=pk-test-$1$$-prod DBG=pk-test-$1$$-dbg
	trap 'cleanup_containers; pk_cleanup' EXIT
}
cleanup_containers() {
	local n
	for n in "$DBG" "$PROD"; do "$PK_BIN" container rm "$n" >/dev/null 2>&1; done
}

# pk_debris_gone NAME...: true when nothing of the named containers is left (state, netns,
# runc's state or its directory, any mount below a directory named NAME: overlay, tmpfs
# copies, what CRIU mounts), and no clone firewall rules on the host for a veth that is gone;
# otherwise prints what is left.
pk_debris_gone() {
	local n v left=""
	for n in "$@"; do
		ip netns list | grep -qw "pk-$n" && left+=" netns:pk-$n"
		{ runc state "$n" >/dev/null 2>&1 || [ -e "/run/runc/$n" ]; } && left+=" runc:$n"
		grep -q "/$n/" /proc/mounts && left+=" mount:$n"
		[ -e "$PK_STATE/$n" ] && left+=" state:$n"
	done
	for v in $(iptables -w -S 2>/dev/null | grep -oE -- '(-N pkfw-|-[io] )pkh[0-9a-f]+' | grep -oE 'pkh[0-9a-f]+' | sort -u); do
		ip link show "$v" >/dev/null 2>&1 || left+=" firewall:$v"
	done
	[ -z "$left" ] || { echo "left behind:$left"; return 1; }
}

# pk_no_debris LABEL NAME...: ok when nothing of the named containers is left now (checked once:
# after a command that returned, everything it undid must already be gone).
pk_no_debris() {
	local label=$1 left
	shift
	if left=$(pk_debris_gone "$@"); then pk_ok "$label"; else pk_fail "$label" "$left"; fi
}

# pk_agg NAME ARGS...: starts `parikshan agg ARGS` (listen address 127.0.0.1); sets PK_LAST_PID.
# The caller passes -l PORT and -D PORT; it waits for both.
pk_agg() {
	local name=$1 lport="" dport="" a prev=""
	shift
	for a in "$@"; do
		[ "$prev" = "-l" ] && lport=$a
		[ "$prev" = "-D" ] && dport=$a
		prev=$a
	done
	pk_bg "$name" "$PK_BIN" agg -h 127.0.0.1 "$@"
	[ -z "$lport" ] || pk_wait_port "$lport"
	[ -z "$dport" ] || pk_wait_port "$dport"
}

# pk_front NAME PORT BACKEND_PORT [--per-request]: starts the two-tier tests' HTTP front
# service (tests/tools/pk-front.py) with a Redis backend on 127.0.0.1:BACKEND_PORT.
pk_front() {
	local name=$1 port=$2 bport=$3
	shift 3
	pk_bg "$name" python3 "$(dirname "${BASH_SOURCE[0]}")/../tools/pk-front.py" "$port" \
		127.0.0.1 "$bport" "$@"
	pk_wait_port "$port"
}

# pk_redis_calls PORT CMD: how many times the redis server on 127.0.0.1:PORT ran CMD.
pk_redis_calls() {
	pk_redis_calls_at 127.0.0.1 "$1" "$2"
}

# pk_redis_calls_at HOST PORT CMD: how many times the redis server on HOST:PORT ran CMD
# (commandstats).
pk_redis_calls_at() {
	timeout 10 redis-cli -h "$1" -p "$2" INFO commandstats | tr -d '\r' |
		awk -F'[=:,]' -v c="cmdstat_$3" '$1 == c { print $3; f = 1 } END { if (!f) print 0 }'
}
