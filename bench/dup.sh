#!/usr/bin/env bash
# bench/dup.sh — side-by-side benchmark of TCP proxies in front of redis and nginx.
#
# Workloads (all on 127.0.0.1 only, every client run bounded in count and time):
#   redis      redis-benchmark -c 50 -n N_PLAIN -t set,get            (unpipelined)
#   redis-P16  redis-benchmark -c 50 -n N_PIPE  -t set,get -P 16      (pipelined)
#   http       wrk -t1 -c50 -d WRK_SECS --latency  against nginx (1 KiB static file)
# Configs, run interleaved inside every round (direct, haproxy, socat, dup0, dup1):
#   direct   client -> server
#   haproxy  haproxy 2.6, mode tcp, default nbthread
#   socat    socat TCP-LISTEN:...,fork,backlog=1024 (one child process per connection; socat's
#            default listen backlog of 5 drops SYNs when 50 clients connect at once, which adds
#            1 s / 3 s SYN retransmits and measures the backlog, not the proxy)
#   dup0     parikshan dup, no debug target (forward only)
#   dup1     parikshan dup, one debug target (a second redis-server / nginx, the clone)
#   dup1rec  dup1 plus --record (pcap of every connection, rotated at 256M, 2 files kept)
#   dup1cmp  dup1 plus per-request comparison: --compare resp (redis) or --compare http (nginx)
#   agg0     parikshan agg in front of the server, no clone connected (responses buffered per
#            connection for a clone that never comes; redis workloads only)
#   agg1     parikshan agg with a clone side: before each run a reader opens one debug-side
#            connection per client connection and drains the replayed responses
# CONFIGS and WORKLOADS (space-separated) pick a subset, e.g. bench/agg.sh.
#
# Reported per workload and config: medians over the rounds of throughput, p50 and p99 latency,
# proxy CPU time per request, and throughput ratios vs direct and vs haproxy; then the issue's goals.
#
# Measurement choices:
#   * redis-benchmark --csv prints one row per test (SET, GET). Throughput is the combined rate
#     (2N requests / (N/rps_SET + N/rps_GET), i.e. the harmonic mean of the two rps); p50 and p99
#     are the mean of the SET and GET percentiles.
#   * wrk: "Requests/sec" and the 50% / 99% lines of --latency (converted to ms).
#   * Proxy CPU: utime+stime+cutime+cstime (fields 14-17 of /proc/PID/stat, whole thread group) of
#     the proxy process plus utime+stime+cutime+cstime of its live child processes, sampled before
#     and after the client run; the delta / requests, in microseconds (ticks of getconf CLK_TCK).
#     Before each sample the script waits (bounded) until the proxy has no child processes left,
#     so socat's per-connection children have exited and been reaped into socat's cutime/cstime.
#     Each "after" sample is taken SETTLE seconds after the client ends, so CPU a proxy spends
#     draining a clone after the client finished is counted too.
#   * Before every redis client run both redis servers are FLUSHALLed (and CONFIG RESETSTAT).
#
# Exit status: 0 when every run completed (goals missed or not), 1 when a tool is missing or a
# server/proxy/client failed, 2 on a usage error.

set -uo pipefail

usage() {
	cat <<'EOF'
usage: bench/dup.sh [--markdown] [--help]

Benchmarks direct / haproxy / socat / parikshan dup (no target) / parikshan dup (one debug
target) under redis-benchmark (unpipelined and -P 16, 50 clients) and wrk against nginx.
Results (tables + goals) go to stdout, progress to stderr.

  --markdown   print the tables as Markdown (same as MD=1)
  --help       this text

Environment:
  PK_BIN     parikshan binary               (default: <repo>/build/release/parikshan)
  ROUNDS     interleaved rounds             (default 5; QUICK=1: 1)
  N_PLAIN    requests per test, unpipelined (default 100000; QUICK=1: 10000)
  N_PIPE     requests per test, -P 16       (default 1000000; QUICK=1: 100000)
  WRK_SECS   wrk duration per run, seconds  (default 4; QUICK=1: 2)
  SETTLE     seconds between client end and the CPU sample (default 0.3)
  CONFIGS    configs to run   (default: direct haproxy socat dup0 dup1)
             (also: dup1rec, dup1cmp, agg0, agg1 — see the top of this file)
  WORKLOADS  workloads to run (default: redis redis-P16 http)
  QUICK=1    smoke run, about a minute
  MD=1       Markdown tables
EOF
}

MD=${MD:-0}
for a in "$@"; do
	case "$a" in
	--markdown) MD=1 ;;
	--help | -h) usage; exit 0 ;;
	*) echo "dup.sh: unknown argument: $a" >&2; usage >&2; exit 2 ;;
	esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$HERE/common.sh" # pk_poll: waits on a condition with a deadline; bench_wrk_parse
PK_BIN=${PK_BIN:-$ROOT/build/release/parikshan}

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	ROUNDS=${ROUNDS:-1}; N_PLAIN=${N_PLAIN:-10000}; N_PIPE=${N_PIPE:-100000}; WRK_SECS=${WRK_SECS:-2}
else
	ROUNDS=${ROUNDS:-5}; N_PLAIN=${N_PLAIN:-100000}; N_PIPE=${N_PIPE:-1000000}; WRK_SECS=${WRK_SECS:-4}
fi
SETTLE=${SETTLE:-0.3}
CLIENTS=50
for v in ROUNDS N_PLAIN N_PIPE WRK_SECS; do
	if ! [[ "${!v}" =~ ^[1-9][0-9]*$ ]]; then echo "dup.sh: $v must be a positive integer" >&2; exit 2; fi
done
if ! [[ "$SETTLE" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then echo "dup.sh: SETTLE must be a number" >&2; exit 2; fi

die() { echo "dup.sh: $*" >&2; exit 1; }
log() { echo "dup.sh: $*" >&2; }

# ---- tools ---------------------------------------------------------------------------------------
missing=()
for t in redis-server redis-cli redis-benchmark nginx haproxy socat wrk python3 curl timeout getconf pgrep; do
	command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (run scripts/deps.sh)"
[ -x "$PK_BIN" ] || die "parikshan binary not found or not executable: $PK_BIN (build it, or set PK_BIN)"
CLK_TCK=$(getconf CLK_TCK)

# ---- cleanup -------------------------------------------------------------------------------------
# all_gone PID...: true when none of the processes is alive.
all_gone() {
	local p
	for p in "$@"; do kill -0 "$p" 2>/dev/null && return 1; done
	return 0
}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pk-bench-dup.XXXXXX") || die "mktemp failed"
PIDS=()
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
	local p c
	# children first (socat's per-connection processes), then the processes we started
	for p in "${PIDS[@]}"; do
		for c in $(pgrep -P "$p" 2>/dev/null); do kill -TERM "$c" 2>/dev/null; done
		kill -TERM "$p" 2>/dev/null
	done
	pk_poll 5 all_gone "${PIDS[@]}"
	for p in "${PIDS[@]}"; do
		for c in $(pgrep -P "$p" 2>/dev/null); do kill -KILL "$c" 2>/dev/null; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers -------------------------------------------------------------------------------------
# N distinct free ports outside the ephemeral range (tests/tools/pk-free-ports.py).
free_ports() { python3 "$ROOT/tests/tools/pk-free-ports.py" "$1"; }

# start NAME CMD...: run in background, log to $TMP/NAME.log, record the pid in PID_NAME
start() {
	local name=$1; shift
	"$@" >"$TMP/$name.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	printf -v "PID_$name" '%s' "$pid"
}

# accepts_or_died PID PORT: true when 127.0.0.1:PORT accepts, or when PID has exited.
accepts_or_died() {
	! kill -0 "$1" 2>/dev/null || timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$2" 2>/dev/null
}

# wait_port NAME PORT: bounded wait (30 s) until 127.0.0.1:PORT accepts, and NAME is still alive
wait_port() {
	local name=$1 port=$2 pid_var="PID_$1"
	if ! pk_poll 30 accepts_or_died "${!pid_var}" "$port"; then
		log "$name did not accept on 127.0.0.1:$port within 30 s; its log:"; tail -n 20 "$TMP/$name.log" >&2
		exit 1
	fi
	if ! kill -0 "${!pid_var}" 2>/dev/null; then
		log "$name exited during startup; its log:"; tail -n 20 "$TMP/$name.log" >&2; exit 1
	fi
}

# CPU ticks of a process: utime+stime+cutime+cstime (fields 14..17) of PID and its live children
ticks_one() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	local -a f
	read -ra f <<<"$s"
	echo $((f[11] + f[12] + f[13] + f[14]))
}
no_children() { ! pgrep -P "$1" >/dev/null; }
proc_ticks() {
	local pid=$1 kids t
	# bounded wait until children (socat per-connection processes) have exited and been reaped
	pk_poll 5 no_children "$pid"
	t=$(ticks_one "$pid")
	for k in $(pgrep -P "$pid" 2>/dev/null); do t=$((t + $(ticks_one "$k"))); done
	echo "$t"
}

rcli() { timeout 10 redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }

metrics() { curl -s --max-time 3 "http://127.0.0.1:$1/metrics" || true; }
# metric_sum TEXT NAME [LABEL-SUBSTRING]: sum of all samples of NAME whose labels contain the substring
metric_sum() {
	awk -v n="$2" -v l="${3:-}" '
		$1 ~ ("^" n "({|$)") && index($1, l) { s += $NF } END { printf "%.0f\n", s + 0 }' <<<"$1"
}

# ---- servers -------------------------------------------------------------------------------------
read -r P_RPROD P_RDBG P_NPROD P_NDBG \
	P_H_R P_S_R P_D0_R P_D1_R P_H_N P_S_N P_D0_N P_D1_N \
	A_D0_R A_D1_R A_D0_N A_D1_N P_DR_R P_DR_N A_DR_R A_DR_N \
	P_A0 P_A0D A_A0 P_A1 P_A1D A_A1 P_DC_R P_DC_N A_DC_R A_DC_N <<<"$(free_ports 30)"
[ -n "${A_DC_N:-}" ] || die "could not find free ports"

redis_start() { # name port
	start "$1" redis-server --bind 127.0.0.1 --port "$2" --save '' --appendonly no --daemonize no \
		--dir "$TMP" --logfile ''
}
redis_start rprod "$P_RPROD"
redis_start rdbg "$P_RDBG"

mkdir -p "$TMP/www"
python3 -c 'import sys; sys.stdout.write(("x" * 63 + "\n") * 16)' >"$TMP/www/index.html" # 1 KiB
nginx_start() { # name port
	local d="$TMP/$1"
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$2;
        root $TMP/www;
        location / { }
    }
}
EOF
	start "$1" nginx -p "$d" -c "$d/nginx.conf"
}
nginx_start nprod "$P_NPROD"
nginx_start ndbg "$P_NDBG"

# ---- proxies -------------------------------------------------------------------------------------
haproxy_start() { # name listen-port backend-port
	cat >"$TMP/$1.cfg" <<EOF
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind 127.0.0.1:$2
    default_backend be
backend be
    server s1 127.0.0.1:$3
EOF
	start "$1" haproxy -f "$TMP/$1.cfg" -db
}
haproxy_start hap_r "$P_H_R" "$P_RPROD"
haproxy_start hap_n "$P_H_N" "$P_NPROD"
start soc_r socat "TCP-LISTEN:$P_S_R,fork,reuseaddr,backlog=1024,bind=127.0.0.1" "TCP:127.0.0.1:$P_RPROD"
start soc_n socat "TCP-LISTEN:$P_S_N,fork,reuseaddr,backlog=1024,bind=127.0.0.1" "TCP:127.0.0.1:$P_NPROD"
start dup0_r "$PK_BIN" dup -h 127.0.0.1 -l "$P_D0_R" -x 127.0.0.1 -p "$P_RPROD" --admin "127.0.0.1:$A_D0_R" --log-level warn
start dup1_r "$PK_BIN" dup -h 127.0.0.1 -l "$P_D1_R" -x 127.0.0.1 -p "$P_RPROD" -m 127.0.0.1 -d "$P_RDBG" --admin "127.0.0.1:$A_D1_R" --log-level warn
start dup0_n "$PK_BIN" dup -h 127.0.0.1 -l "$P_D0_N" -x 127.0.0.1 -p "$P_NPROD" --admin "127.0.0.1:$A_D0_N" --log-level warn
start dup1_n "$PK_BIN" dup -h 127.0.0.1 -l "$P_D1_N" -x 127.0.0.1 -p "$P_NPROD" -m 127.0.0.1 -d "$P_NDBG" --admin "127.0.0.1:$A_D1_N" --log-level warn
REC=(--record-max 256M --record-files 2)
start dup1rec_r "$PK_BIN" dup -h 127.0.0.1 -l "$P_DR_R" -x 127.0.0.1 -p "$P_RPROD" -m 127.0.0.1 -d "$P_RDBG" --admin "127.0.0.1:$A_DR_R" --log-level warn --record "$TMP/rec-r.pcap" "${REC[@]}"
start dup1rec_n "$PK_BIN" dup -h 127.0.0.1 -l "$P_DR_N" -x 127.0.0.1 -p "$P_NPROD" -m 127.0.0.1 -d "$P_NDBG" --admin "127.0.0.1:$A_DR_N" --log-level warn --record "$TMP/rec-n.pcap" "${REC[@]}"
start dup1cmp_r "$PK_BIN" dup -h 127.0.0.1 -l "$P_DC_R" -x 127.0.0.1 -p "$P_RPROD" -m 127.0.0.1 -d "$P_RDBG" --admin "127.0.0.1:$A_DC_R" --log-level warn --compare resp
start dup1cmp_n "$PK_BIN" dup -h 127.0.0.1 -l "$P_DC_N" -x 127.0.0.1 -p "$P_NPROD" -m 127.0.0.1 -d "$P_NDBG" --admin "127.0.0.1:$A_DC_N" --log-level warn --compare http
start agg0_r "$PK_BIN" agg -h 127.0.0.1 -l "$P_A0" -x 127.0.0.1 -p "$P_RPROD" -D "$P_A0D" --admin "127.0.0.1:$A_A0" --log-level warn --pair-timeout 5
start agg1_r "$PK_BIN" agg -h 127.0.0.1 -l "$P_A1" -x 127.0.0.1 -p "$P_RPROD" -D "$P_A1D" --admin "127.0.0.1:$A_A1" --log-level warn

wait_port rprod "$P_RPROD"; wait_port rdbg "$P_RDBG"
wait_port nprod "$P_NPROD"; wait_port ndbg "$P_NDBG"
wait_port hap_r "$P_H_R"; wait_port hap_n "$P_H_N"
wait_port soc_r "$P_S_R"; wait_port soc_n "$P_S_N"
wait_port dup0_r "$P_D0_R"; wait_port dup1_r "$P_D1_R"
wait_port dup0_n "$P_D0_N"; wait_port dup1_n "$P_D1_N"
wait_port dup1_r "$A_D1_R"; wait_port dup1_n "$A_D1_N"
wait_port dup1rec_r "$P_DR_R"; wait_port dup1rec_n "$P_DR_N"
wait_port dup1cmp_r "$P_DC_R"; wait_port dup1cmp_n "$P_DC_N"
wait_port agg0_r "$P_A0"; wait_port agg1_r "$P_A1"

# port and pid of each config, per backend kind (r = redis, n = nginx)
port_of() { # config kind
	case "$1" in
	direct) [ "$2" = r ] && echo "$P_RPROD" || echo "$P_NPROD" ;;
	haproxy) [ "$2" = r ] && echo "$P_H_R" || echo "$P_H_N" ;;
	socat) [ "$2" = r ] && echo "$P_S_R" || echo "$P_S_N" ;;
	dup0) [ "$2" = r ] && echo "$P_D0_R" || echo "$P_D0_N" ;;
	dup1) [ "$2" = r ] && echo "$P_D1_R" || echo "$P_D1_N" ;;
	dup1rec) [ "$2" = r ] && echo "$P_DR_R" || echo "$P_DR_N" ;;
	dup1cmp) [ "$2" = r ] && echo "$P_DC_R" || echo "$P_DC_N" ;;
	agg0) echo "$P_A0" ;;
	agg1) echo "$P_A1" ;;
	esac
}
pid_of() { # config kind -> proxy pid, empty for direct
	local v
	case "$1" in
	direct) echo ""; return ;;
	haproxy) v=PID_hap_$2 ;;
	socat) v=PID_soc_$2 ;;
	dup0) v=PID_dup0_$2 ;;
	dup1) v=PID_dup1_$2 ;;
	dup1rec) v=PID_dup1rec_$2 ;;
	dup1cmp) v=PID_dup1cmp_$2 ;;
	agg0) v=PID_agg0_r ;;
	agg1) v=PID_agg1_r ;;
	esac
	echo "${!v}"
}

read -ra CONFIGS <<<"${CONFIGS:-direct haproxy socat dup0 dup1}"
read -ra WORKLOADS <<<"${WORKLOADS:-redis redis-P16 http}"
for c in "${CONFIGS[@]}"; do
	case "$c" in direct | haproxy | socat | dup0 | dup1 | dup1rec | dup1cmp | agg0 | agg1) ;; *) echo "dup.sh: unknown config: $c" >&2; exit 2 ;; esac
done
for w in "${WORKLOADS[@]}"; do
	case "$w" in redis | redis-P16 | http) ;; *) echo "dup.sh: unknown workload: $w" >&2; exit 2 ;; esac
done

# agg1's clone side: as many connections to the aggregator's debug side as redis-benchmark
# opens (one to read the config, then CLIENTS per test), each reading what is replayed until
# the aggregator closes it (bounded: 300 s, or 5 s without a byte once one has closed).
start_agg_reader() {
	python3 - "$P_A1D" $((2 * CLIENTS + 1)) >"$TMP/agg-reader.log" 2>&1 <<'PY' &
import selectors, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
total, left, end, last = 0, n, time.time() + 300, time.time()
while left and time.time() < end and (left == n or time.time() - last < 5):
    for k, _ in sel.select(1):
        last = time.time()
        try:
            b = k.fileobj.recv(1 << 16)
        except ConnectionError:
            b = b""
        if not b:
            sel.unregister(k.fileobj); k.fileobj.close(); left -= 1
        total += len(b)
print("read", total, "open", left)
PY
	AGG_READER=$!
	pk_poll 30 grep -q ready "$TMP/agg-reader.log" ||
		die "agg reader did not connect within 30 s: $(cat "$TMP/agg-reader.log")"
}
RES="$TMP/results.tsv"   # workload config round rps p50 p99 cpu_us_per_req
CLONE="$TMP/clone.tsv"   # workload round c2p_bytes dbg_sent dbg_dropped desyncs overflows prod_cmds clone_cmds
: >"$RES"; : >"$CLONE"

# redis_cmds PORT: SET+GET calls since the last CONFIG RESETSTAT
redis_cmds() {
	rcli "$1" info commandstats | tr -d '\r' |
		awk -F'[:=,]' '/^cmdstat_(set|get):/ { s += $3 } END { print s + 0 }'
}

# run_client WORKLOAD PORT OUTFILE -> sets R_RPS R_P50 R_P99 R_REQS; returns non-zero on failure
run_client() {
	local w=$1 port=$2 out=$3 rc
	case "$w" in
	redis | redis-P16)
		local n=$N_PLAIN extra=()
		if [ "$w" = redis-P16 ]; then n=$N_PIPE; extra=(-P 16); fi
		timeout 300 redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" -t set,get "${extra[@]}" --csv >"$out" 2>&1
		rc=$?
		if ((rc != 0)); then
			log "redis-benchmark exited $rc$( ((rc == 124)) && echo ' (timed out)')"; tail -n 5 "$out" >&2; return 1
		fi
		local parsed
		parsed=$(python3 - "$out" "$n" <<'PY'
import csv, sys
rows = {}
with open(sys.argv[1]) as f:
    for r in csv.reader(f):
        if len(r) >= 8 and r[0] in ("SET", "GET"):
            rows[r[0]] = r
if set(rows) != {"SET", "GET"}:
    sys.exit(1)
n = int(sys.argv[2])
rps = [float(rows[t][1]) for t in ("SET", "GET")]
if min(rps) <= 0:
    sys.exit(1)
comb = 2 * n / sum(n / x for x in rps)
p50 = sum(float(rows[t][4]) for t in ("SET", "GET")) / 2
p99 = sum(float(rows[t][6]) for t in ("SET", "GET")) / 2
print(f"{comb:.1f} {p50:.4f} {p99:.4f} {2 * n}")
PY
		) || { log "could not parse redis-benchmark output:"; tail -n 5 "$out" >&2; return 1; }
		read -r R_RPS R_P50 R_P99 R_REQS <<<"$parsed"
		if grep -qiE '^(error|.*ERR )' "$out"; then log "redis-benchmark reported errors:"; grep -iE 'error|ERR ' "$out" | head -3 >&2; return 1; fi
		;;
	http)
		timeout $((WRK_SECS + 30)) wrk -t1 -c"$CLIENTS" -d"${WRK_SECS}s" --latency "http://127.0.0.1:$port/" >"$out" 2>&1
		rc=$?
		if ((rc != 0)); then log "wrk exited $rc$( ((rc == 124)) && echo ' (timed out)')"; tail -n 5 "$out" >&2; return 1; fi
		local parsed
		parsed=$(bench_wrk_parse "$out"
		) || { log "wrk run failed or unparsable (errors, non-2xx, or no latency lines):"; tail -n 8 "$out" >&2; return 1; }
		read -r R_RPS R_P50 R_P99 R_REQS <<<"$parsed"
		;;
	esac
	return 0
}

# ---- rounds --------------------------------------------------------------------------------------
START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
ENV_LINE="$(nproc) CPUs, load average at start $LOAD0; redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), $(haproxy -v | head -1 | awk '{print "haproxy " $3}'), $(nginx -v 2>&1 | sed 's/.*nginx\//nginx /'), $(socat -V 2>/dev/null | awk '/socat version/ {print "socat " $3; exit}'), $(wrk -v 2>&1 | awk 'NR == 1 {print "wrk " $2}')"
log "parikshan: $PK_BIN"
log "rounds=$ROUNDS n_plain=$N_PLAIN n_pipe=$N_PIPE wrk=${WRK_SECS}s clients=$CLIENTS clk_tck=$CLK_TCK"
for ((round = 1; round <= ROUNDS; round++)); do
	for w in "${WORKLOADS[@]}"; do
		kind=r; [ "$w" = http ] && kind=n
		for c in "${CONFIGS[@]}"; do
			[ "$kind" = n ] && [[ "$c" == agg* ]] && continue # agg runs in front of redis only
			port=$(port_of "$c" "$kind")
			pid=$(pid_of "$c" "$kind")
			if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
				lf=${c/haproxy/hap}; lf=${lf/socat/soc}
				die "$c ($w) proxy pid $pid is gone; its log: $(tail -n 5 "$TMP/${lf}_$kind.log" 2>/dev/null)"
			fi
			if [ "$kind" = r ]; then
				for p in "$P_RPROD" "$P_RDBG"; do
					{ rcli "$p" flushall && rcli "$p" config resetstat; } >/dev/null ||
						die "FLUSHALL on redis 127.0.0.1:$p failed"
				done
			fi
			m_before=""
			admin=""
			if [ "$c" = dup1 ]; then
				[ "$kind" = r ] && admin=$A_D1_R || admin=$A_D1_N
				m_before=$(metrics "$admin")
			fi
			t0=0
			[ -n "$pid" ] && t0=$(proc_ticks "$pid")
			out="$TMP/out.$w.$c.$round"
			log "round $round/$ROUNDS  $w  $c (127.0.0.1:$port) ..."
			[ "$c" = agg1 ] && start_agg_reader
			if ! run_client "$w" "$port" "$out"; then
				die "client run failed: round $round, $w, $c"
			fi
			if [ "$c" = agg1 ]; then
				wait "$AGG_READER" || die "agg reader failed: $(cat "$TMP/agg-reader.log")"
				log "    agg1 clone side: $(tail -n 1 "$TMP/agg-reader.log")"
			fi
			cpu="-"
			if [ -n "$pid" ]; then
				sleep "$SETTLE"
				t1=$(proc_ticks "$pid")
				cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$R_REQS" 'BEGIN { printf "%.3f", d * 1e6 / hz / n }')
			fi
			if [ "$c" = dup1 ]; then
				m_after=$(metrics "$admin")
				pc="-"; cc="-"
				if [ "$kind" = r ]; then pc=$(redis_cmds "$P_RPROD"); cc=$(redis_cmds "$P_RDBG"); fi
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$round" \
					$(($(metric_sum "$m_after" parikshan_bytes_total client_to_prod) - $(metric_sum "$m_before" parikshan_bytes_total client_to_prod))) \
					$(($(metric_sum "$m_after" parikshan_debug_bytes_sent_total) - $(metric_sum "$m_before" parikshan_debug_bytes_sent_total))) \
					$(($(metric_sum "$m_after" parikshan_debug_bytes_dropped_total) - $(metric_sum "$m_before" parikshan_debug_bytes_dropped_total))) \
					$(($(metric_sum "$m_after" parikshan_debug_desyncs_total) - $(metric_sum "$m_before" parikshan_debug_desyncs_total))) \
					$(($(metric_sum "$m_after" parikshan_debug_overflows_total) - $(metric_sum "$m_before" parikshan_debug_overflows_total))) \
					"$pc" "$cc" "$([ -n "$m_after" ] && echo ok || echo no-metrics)" >>"$CLONE"
			fi
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$c" "$round" "$R_RPS" "$R_P50" "$R_P99" "$cpu" >>"$RES"
			log "    $(printf '%.0f req/s  p50 %s ms  p99 %s ms  cpu %s us/req' "$R_RPS" "$R_P50" "$R_P99" "$cpu")"
		done
	done
done
ELAPSED=$(($(date +%s) - START))

# ---- report --------------------------------------------------------------------------------------
python3 - "$RES" "$CLONE" "$MD" "$ROUNDS" "$N_PLAIN" "$N_PIPE" "$WRK_SECS" "$ELAPSED" "$CLIENTS" "$ENV_LINE" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import statistics as st, sys
res, clone, md, rounds, n_plain, n_pipe, wrk_secs, elapsed, clients, env, load1 = sys.argv[1:]
md = md == "1"
W = ["redis", "redis-P16", "http"]
C = ["direct", "haproxy", "socat", "dup0", "dup1", "dup1rec", "dup1cmp", "agg0", "agg1"]
TITLE = {
    "redis": f"redis-benchmark -c {clients} -n {n_plain} -t set,get (unpipelined)",
    "redis-P16": f"redis-benchmark -c {clients} -n {n_pipe} -t set,get -P 16 (pipelined)",
    "http": f"wrk -t1 -c{clients} -d{wrk_secs}s --latency, nginx 1 KiB file",
}
DESC = {"direct": "direct", "haproxy": "haproxy (tcp)", "socat": "socat (fork)",
        "dup0": "dup, no target", "dup1": "dup, 1 debug target",
        "dup1rec": "dup, 1 target, --record", "dup1cmp": "dup, 1 target, --compare PROTO",
        "agg0": "agg, no clone", "agg1": "agg, clone side"}
data = {}
for line in open(res):
    w, c, r, rps, p50, p99, cpu = line.rstrip("\n").split("\t")
    d = data.setdefault((w, c), {"rps": [], "p50": [], "p99": [], "cpu": []})
    d["rps"].append(float(rps)); d["p50"].append(float(p50)); d["p99"].append(float(p99))
    if cpu != "-":
        d["cpu"].append(float(cpu))
med = {}
for k, d in data.items():
    med[k] = {m: (st.median(v) if v else None) for m, v in d.items()}

def table(header, rows, align):
    if md:
        out = ["| " + " | ".join(header) + " |",
               "|" + "|".join(("---:" if a == "r" else ":---") for a in align) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    wd = [max(len(x) for x in col) for col in zip(header, *rows)]
    f = lambda r: "  ".join((x.rjust(n) if a == "r" else x.ljust(n)) for x, n, a in zip(r, wd, align))
    return "\n".join(l.rstrip() for l in [f(header), f(["-" * n for n in wd])] + [f(r) for r in rows])

print(f"# parikshan dup benchmark: medians of {rounds} interleaved round(s), all on 127.0.0.1"
      if md else f"parikshan dup benchmark: medians of {rounds} interleaved round(s), all on 127.0.0.1")
print(("" if not md else "\n") + f"({env}; load average at end {load1}; wall time of the rounds: {elapsed} s)")
for w in W:
    if not any((w, c) in med for c in C):
        continue
    print()
    print(f"## {w}: {TITLE[w]}" if md else f"== {w}: {TITLE[w]}")
    print()
    rows = []
    dr = med.get((w, "direct"), {}).get("rps")
    hr = med.get((w, "haproxy"), {}).get("rps")
    for c in C:
        m = med.get((w, c))
        if not m:
            continue
        rows.append([DESC[c], f"{m['rps']:,.0f}", f"{m['p50']:.3f}", f"{m['p99']:.3f}",
                     "-" if m["cpu"] is None else f"{m['cpu']:.2f}",
                     f"{m['rps'] / dr:.2f}" if dr else "-",
                     f"{m['rps'] / hr:.2f}" if hr else "-"])
    print(table(["config", "req/s", "p50 ms", "p99 ms", "proxy CPU us/req", "x direct", "x haproxy"],
                rows, ["l", "r", "r", "r", "r", "r", "r"]))

# goals
goals = []
def g(name, ok, detail):
    goals.append(["PASS" if ok else "MISS", name, detail] if ok is not None else ["info", name, detail])
for w in W:
    h, d1, rec = med.get((w, "haproxy")), med.get((w, "dup1")), med.get((w, "dup1rec"))
    if d1 and rec:
        r = rec["rps"] / d1["rps"]
        g(f"{w}: dup1 --record throughput >= 0.95x dup1", r >= 0.95,
          f"{rec['rps']:,.0f} vs {d1['rps']:,.0f} req/s = {r:.3f}x")
    cmp = med.get((w, "dup1cmp"))
    if d1 and cmp:
        r = cmp["rps"] / d1["rps"]
        g(f"{w}: dup1 --compare PROTO throughput >= 0.95x dup1", r >= 0.95,
          f"{cmp['rps']:,.0f} vs {d1['rps']:,.0f} req/s = {r:.3f}x")
    for a in ("agg0", "agg1"):  # no goal is set for the aggregator: reported only
        m, d = med.get((w, a)), med.get((w, "direct"))
        if m and h and d:
            g(f"{w}: {a} throughput vs haproxy / direct", None,
              f"{m['rps']:,.0f} req/s = {m['rps'] / h['rps']:.3f}x haproxy, {m['rps'] / d['rps']:.3f}x direct")
for w in W:
    h, d0, d1 = med.get((w, "haproxy")), med.get((w, "dup0")), med.get((w, "dup1"))
    if not (h and d0 and d1):
        continue
    r = d0["rps"] / h["rps"]
    g(f"{w}: dup0 throughput >= 1.0x haproxy", r >= 1.0,
      f"{d0['rps']:,.0f} vs {h['rps']:,.0f} req/s = {r:.3f}x")
    g(f"{w}: dup0 p99 <= haproxy p99", d0["p99"] <= h["p99"],
      f"{d0['p99']:.3f} vs {h['p99']:.3f} ms")
    g(f"{w}: dup0 CPU/req < haproxy CPU/req", d0["cpu"] < h["cpu"],
      f"{d0['cpu']:.2f} vs {h['cpu']:.2f} us/req")
    need = 0.75 if w == "redis-P16" else 0.85
    r1 = d1["rps"] / h["rps"]
    g(f"{w}: dup1 throughput >= {need:.2f}x haproxy", r1 >= need,
      f"{d1['rps']:,.0f} vs {h['rps']:,.0f} req/s = {r1:.3f}x")
    rp = d1["p50"] / d0["p50"]
    g(f"{w}: dup1 p50 within 10% of dup0 p50", rp <= 1.10,
      f"{d1['p50']:.3f} vs {d0['p50']:.3f} ms = {rp:.3f}x")
print()
print("## Goals" if md else "== Goals")
print()
print(table(["result", "goal", "measured (medians)"], goals, ["l", "l", "l"]))

# clone health
rows = []
agg = {}
for line in open(clone):
    w, r, c2p, sent, dropped, desync, ovf, pc, cc, ok = line.rstrip("\n").split("\t")
    a = agg.setdefault(w, {"c2p": 0, "sent": 0, "dropped": 0, "desync": 0, "ovf": 0, "pc": 0, "cc": 0,
                           "cmds": False, "ok": True})
    a["c2p"] += int(c2p); a["sent"] += int(sent); a["dropped"] += int(dropped)
    a["desync"] += int(desync); a["ovf"] += int(ovf); a["ok"] &= ok == "ok"
    if pc != "-":
        a["cmds"] = True; a["pc"] += int(pc); a["cc"] += int(cc)
for w in W:
    if w not in agg:
        continue
    a = agg[w]
    rows.append([w, f"{a['c2p']:,}", f"{a['sent']:,}", f"{a['dropped']:,}", str(a["desync"]), str(a["ovf"]),
                 f"{a['cc']:,} / {a['pc']:,}" if a["cmds"] else "-"])
print()
print("## Debug target (dup1), summed over rounds" if md else "== Debug target (dup1), summed over rounds")
print()
print(table(["workload", "client->prod bytes", "sent to clone", "dropped", "desyncs", "overflows",
             "clone/prod SET+GET"], rows, ["l", "r", "r", "r", "r", "r", "r"]))
if not all(a["ok"] for a in agg.values()):
    print("\nnote: /metrics could not be read for some dup1 runs; their byte and desync counts are 0 here")
PY
rc=$?
((rc == 0)) || die "report failed"
exit 0
