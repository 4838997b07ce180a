#!/usr/bin/env bash
# Issue 5, acceptance 1: a two-tier service.  Load → dup → production front → agg → redis
# (the real backend); dup's clone side → debug front → agg's debug side.  The backend runs
# every request exactly once; the debug front answers exactly what production answered
# (dup --compare), and its backend requests equal production's (agg --compare).  Then the
# pairing with one backend connection per request, a clone that stops or dies, a full buffer,
# spill, and bad input.
. "$(dirname "$0")/lib.sh"

BACK=$(pk_free_port)
pk_redis backend "$BACK" || { pk_fail setup "redis-server did not start"; exit 1; }

# two_tier LABEL [--per-request]: starts agg, the two fronts and dup; sets AGG, DUP, DBGF pids
# and the ports FRONT (dup's), AADM, DADM (admin endpoints).
two_tier() {
	local label=$1
	shift
	AL=$(pk_free_port) AD=$(pk_free_port) AADM=$(pk_free_port)
	PF=$(pk_free_port) DF=$(pk_free_port) FRONT=$(pk_free_port) DADM=$(pk_free_port)
	pk_agg "agg-$label" -l "$AL" -x 127.0.0.1 -p "$BACK" -D "$AD" --compare --admin "$AADM" \
		"${AGG_EXTRA[@]}"
	AGG=$PK_LAST_PID
	pk_front "prodfront-$label" "$PF" "$AL" "$@" # production's front opens its connection first
	PRODF=$PK_LAST_PID
	pk_front "dbgfront-$label" "$DF" "$AD" "$@"
	DBGF=$PK_LAST_PID
	pk_dup "dup-$label" -l "$FRONT" -x 127.0.0.1 -p "$PF" -m 127.0.0.1 -d "$DF" --compare \
		--admin "$DADM"
	DUP=$PK_LAST_PID
}

# load PORT N PREFIX: N sequential requests on one keep-alive connection (INCR, SET, GET mixed),
# printing the bodies.
load() {
	timeout 60 curl -sS --fail "http://127.0.0.1:$1/incr/$3c[1-$2]" "http://127.0.0.1:$1/set/$3s[1-$2]/v" \
		"http://127.0.0.1:$1/get/$3c[1-$2]"
}

# --- One persistent backend connection per front ---------------------------------------
AGG_EXTRA=()
two_tier persistent
incr0=$(pk_redis_calls "$BACK" incr) get0=$(pk_redis_calls "$BACK" get) set0=$(pk_redis_calls "$BACK" set)
ok=1
for round in 1 2 3; do # three client connections, one after the other
	out=$(load "$FRONT" 400 "r$round") || ok=0
	# every INCR of a fresh key answers 1, every SET OK, every GET 1
	[ "$(echo -n "$out" | wc -c)" -eq $((400 * 4)) ] || ok=0
done
if [ $ok = 1 ]; then pk_ok persistent-production-answers; else pk_fail persistent-production-answers "$out"; fi
pk_expect_eq persistent-backend-incr-once "$(($(pk_redis_calls "$BACK" incr) - incr0))" 1200
pk_expect_eq persistent-backend-set-once "$(($(pk_redis_calls "$BACK" set) - set0))" 1200
pk_expect_eq persistent-backend-get-once "$(($(pk_redis_calls "$BACK" get) - get0))" 1200
pk_check persistent-dup-drained pk_wait_metric "$DADM" parikshan_compare_connections_total 3 20 'verdict="same"'
pk_expect_eq persistent-debug-front-same-responses "$(pk_metric "$DADM" parikshan_compare_connections_total 'verdict="different"')" 0
p2c=$(pk_metric "$DADM" parikshan_bytes_total prod_to_client)
pk_expect_eq persistent-debug-front-all-bytes-compared "$(pk_metric "$DADM" parikshan_compare_bytes_total)" "$p2c"
# agg: the debug side got every backend response, and the clone's requests equal production's
pk_expect_eq persistent-agg-replayed-all "$(pk_metric "$AADM" parikshan_debug_bytes_sent_total)" \
	"$(pk_metric "$AADM" parikshan_bytes_total prod_to_client)"
pk_expect_eq persistent-agg-requests-equal "$(pk_metric "$AADM" parikshan_compare_bytes_total)" \
	"$(pk_metric "$AADM" parikshan_bytes_total client_to_prod)"
pk_expect_eq persistent-agg-no-desync "$(pk_metric "$AADM" parikshan_debug_desyncs_total)" 0

# The clone dies: production goes on, agg counts the clone's connection as desynced.
kill -KILL "$DBGF"
wait "$DBGF" 2>/dev/null
out=$(load "$FRONT" 100 dead) && [ "$(echo -n "$out" | wc -c)" -eq 400 ] &&
	pk_ok dead-clone-production-answers || pk_fail dead-clone-production-answers "$out"
pk_check dead-clone-agg-desync pk_wait_metric "$AADM" parikshan_debug_desyncs_total 1 20
pk_stop_clean "dup-persistent" "$DUP"
pk_stop_clean "agg-persistent" "$AGG"
kill "$PRODF"

# --- One backend connection per request: pairing of the k-th connections ---------------
two_tier perreq --per-request
incr0=$(pk_redis_calls "$BACK" incr)
out=$(load "$FRONT" 100 pr)
pk_expect_eq perreq-production-answers "$(echo -n "$out" | wc -c)" 400
pk_expect_eq perreq-backend-incr-once "$(($(pk_redis_calls "$BACK" incr) - incr0))" 100
pk_check perreq-dup-same pk_wait_metric "$DADM" parikshan_compare_connections_total 1 20 'verdict="same"'
pk_check perreq-agg-pairs-same pk_wait_metric "$AADM" parikshan_compare_connections_total 300 20 'verdict="same"'
pk_expect_eq perreq-agg-none-different "$(pk_metric "$AADM" parikshan_compare_connections_total 'verdict="different"')" 0
pk_expect_eq perreq-agg-none-unpaired "$(pk_metric "$AADM" parikshan_debug_unpaired_total)" 0
pk_stop_clean "dup-perreq" "$DUP"
pk_stop_clean "agg-perreq" "$AGG"
kill "$PRODF" "$DBGF" 2>/dev/null

# --- A stopped clone with a small buffer: overflow, desync, production untouched --------
AGG_EXTRA=(-b 64K)
two_tier stopped
big=$(head -c 60000 /dev/zero | tr '\0' x)
redis-cli -p "$BACK" SET bigkey "$big" >/dev/null
kill -STOP "$DBGF"
out=$(timeout 60 curl -sS --fail "http://127.0.0.1:$FRONT/get/bigkey" "http://127.0.0.1:$FRONT/get/bigkey" \
	"http://127.0.0.1:$FRONT/get/bigkey" "http://127.0.0.1:$FRONT/get/bigkey")
pk_expect_eq stopped-clone-production-answers "$(echo -n "$out" | wc -c)" 240000
pk_check stopped-clone-overflow pk_wait_metric "$AADM" parikshan_debug_overflows_total 1 20
hw=$(pk_metric "$AADM" parikshan_debug_buffer_high_water_bytes)
if [ "$hw" -le 65536 ]; then pk_ok stopped-clone-buffer-bounded; else pk_fail stopped-clone-buffer-bounded "high water $hw"; fi
pk_wait_log "$PK_TMP/agg-stopped.log" 'agg: desync conn=[0-9]* target=127.0.0.1:[0-9]* offset=[0-9]* reason=buffer full' 20 &&
	pk_ok stopped-clone-desync-logged
kill -CONT "$DBGF"
pk_stop_clean "dup-stopped" "$DUP"
pk_stop_clean "agg-stopped" "$AGG"
kill "$PRODF" "$DBGF" 2>/dev/null

# --- The same, with --spill: nothing lost, the clone catches up --------------------------
mkdir -p "$PK_TMP/spill"
AGG_EXTRA=(-b 64K --spill "$PK_TMP/spill")
two_tier spill
kill -STOP "$DBGF"
out=$(timeout 60 curl -sS --fail "http://127.0.0.1:$FRONT/get/bigkey" "http://127.0.0.1:$FRONT/get/bigkey" \
	"http://127.0.0.1:$FRONT/get/bigkey" "http://127.0.0.1:$FRONT/get/bigkey")
pk_expect_eq spill-production-answers "$(echo -n "$out" | wc -c)" 240000
kill -CONT "$DBGF"
pk_check spill-clone-caught-up pk_wait_metric "$AADM" parikshan_debug_buffer_bytes 0 20
pk_expect_eq spill-no-desync "$(pk_metric "$AADM" parikshan_debug_desyncs_total)" 0
pk_check spill-debug-front-same pk_wait_metric "$DADM" parikshan_compare_bytes_total \
	"$(pk_metric "$DADM" parikshan_bytes_total prod_to_client)" 20
pk_stop_clean "dup-spill" "$DUP"
pk_stop_clean "agg-spill" "$AGG"
kill "$PRODF" "$DBGF" 2>/dev/null

# --- Bad input ----------------------------------------------------------------------------
# expect_error NAME STATUS PATTERN ARGS...: `agg ARGS` fails with STATUS and one
# "parikshan: agg: ..." line matching PATTERN.
expect_error() {
	local name=$1 st=$2 pat=$3
	shift 3
	pk_expect_error "bad-$name" "$st" "^parikshan: agg: .*$pat" "$PK_BIN" agg "$@"
}
P1=$(pk_free_port) P2=$(pk_free_port)
expect_error no-debug-port 2 "debug port is required" -l "$P1" -x 127.0.0.1 -p "$BACK"
expect_error same-ports 2 "must differ" -l "$P1" -x 127.0.0.1 -p "$BACK" -D "$P1"
expect_error bad-port 2 "debug port" -l "$P1" -x 127.0.0.1 -p "$BACK" -D 70000x
expect_error bad-host 1 "resolve backend host" -l "$P1" -x no.such.host.invalid -p "$BACK" -D "$P2"
expect_error debug-port-in-use 1 "debug listen 127.0.0.1:$BACK" -l "$P1" -x 127.0.0.1 -p "$BACK" -D "$BACK"
expect_error record-max-alone 2 "needs --record" -l "$P1" -x 127.0.0.1 -p "$BACK" -D "$P2" --record-max 1M
expect_error record-bad-dir 1 "open record file /nonexistent/dir/x.pcap: No such file" -l "$P1" -x 127.0.0.1 -p "$BACK" -D "$P2" --record /nonexistent/dir/x.pcap
expect_error unknown-flag 2 "unknown option" -l "$P1" -x 127.0.0.1 -p "$BACK" -D "$P2" --frobnicate
if "$PK_BIN" agg --help | grep -q 'usage: parikshan agg'; then pk_ok help; else pk_fail help "no usage"; fi

# An unreachable backend: production's connection is closed, agg goes on serving.
DEAD=$(pk_free_port) AL=$(pk_free_port) AD=$(pk_free_port) AADM=$(pk_free_port)
pk_agg agg-dead -l "$AL" -x 127.0.0.1 -p "$DEAD" -D "$AD" --admin "$AADM"
AGG=$PK_LAST_PID
out=$(timeout 10 redis-cli -p "$AL" PING 2>&1)
pk_check unreachable-backend-counted pk_wait_metric "$AADM" parikshan_prod_connect_failures_total 1 10
kill -0 "$AGG" && pk_ok unreachable-backend-agg-alive || pk_fail unreachable-backend-agg-alive "agg exited"
# The admin endpoint: POST /pairing/reset (GET is refused).
pk_expect_eq pairing-reset-post "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$AADM/pairing/reset")" 200
pk_expect_eq pairing-reset-get-refused "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AADM/pairing/reset")" 405
pk_wait_log "$PK_TMP/agg-dead.log" 'agg: pairing reset' 20 && pk_ok pairing-reset-logged
pk_stop_clean agg-dead "$AGG"
