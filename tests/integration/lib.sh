# lib.sh — helpers for integration tests (sourced).  Every test:
#   - reports with pk_ok / pk_fail / pk_skip (one line each, read by tests/run),
#   - starts servers with pk_bg (pids recorded, killed by the EXIT trap even on failure),
#   - talks only to 127.0.0.1, with bounded loops and timeouts.
set -u
: "${PK_BIN:?run through tests/run}"
: "${PK_TOOLS:?run through tests/run}"
PK_TEST_NAME=$(basename "$0" .sh)
PK_TMP=$(mktemp -d "/tmp/pk-test-$PK_TEST_NAME.XXXXXX")
PK_PIDS=()

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
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	done
	rm -rf "$PK_TMP"
}
trap pk_cleanup EXIT
trap 'exit 130' INT TERM

# pk_free_port: prints a TCP port on 127.0.0.1 that is free now.
pk_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# pk_wait_port PORT [SECONDS]: waits until something listens on PORT (without connecting to
# it, so servers that count connections see only the test's own).
pk_wait_port() {
	local port=$1 limit=${2:-10} i
	for ((i = 0; i < limit * 20; i++)); do
		[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && return 0
		sleep 0.05
	done
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

# pk_redis NAME PORT [extra redis args]: starts a redis-server on 127.0.0.1:PORT; sets PK_LAST_PID.
pk_redis() {
	local name=$1 port=$2
	shift 2
	mkdir -p "$PK_TMP/$name"
	pk_bg "$name" redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
		--enable-debug-command yes --dir "$PK_TMP/$name" --daemonize no "$@"
	pk_wait_port "$port"
}

# pk_digest PORT: the redis DEBUG DIGEST of the server on PORT.
pk_digest() {
	redis-cli -h 127.0.0.1 -p "$1" DEBUG DIGEST
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

# pk_wait_metric ADMIN_PORT NAME VALUE [SECONDS] [LABEL]: waits until the metric equals VALUE.
pk_wait_metric() {
	local port=$1 name=$2 want=$3 limit=${4:-30} label=${5:-} i v
	for ((i = 0; i < limit * 10; i++)); do
		v=$(pk_metric "$port" "$name" "$label")
		[ "$v" = "$want" ] && return 0
		sleep 0.1
	done
	echo "metric $name is $v, not $want, after ${limit}s" >&2
	return 1
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

# pk_no_debris NAME...: ok when nothing of the named containers is left: state, netns, veth
# routes, overlay mounts, runc state.
pk_no_debris() {
	local label=$1 n left=""
	shift
	for n in "$@"; do
		ip netns list | grep -qw "pk-$n" && left+=" netns:pk-$n"
		runc state "$n" >/dev/null 2>&1 && left+=" runc:$n"
		grep -q "/$n/rootfs" /proc/mounts && left+=" mount:$n"
		[ -e "$PK_STATE/$n" ] && left+=" state:$n"
	done
	if [ -z "$left" ]; then pk_ok "$label"; else pk_fail "$label" "left behind:$left"; fi
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

# pk_redis_calls PORT CMD: how many times the redis server on PORT ran CMD (commandstats).
pk_redis_calls() {
	redis-cli -p "$1" INFO commandstats | tr -d '\r' |
		awk -F'[=:,]' -v c="cmdstat_$2" '$1 == c { print $3; f = 1 } END { if (!f) print 0 }'
}
