#!/usr/bin/env bash
# scripts/demo.sh — the whole Parikshan workflow, narrated: a production redis-server in a
# container (the host's root as its read-only lower filesystem: no image to download), a live
# clone and a duplicator in front of it (`up`, comparing every answer), load through the front
# door, `status` (debug window, divergence), proof that the clone got the same traffic and that
# its own writes stay in the sandbox, gdb inside the clone (`debug --gdb --bt`), a changed clone
# reported per request (`diverge`), teardown.
# Run through `make demo` (as root).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PK_BIN:-$ROOT/build/release/parikshan}
. "$ROOT/tests/integration/wait.sh" # pk_poll: waits on a condition with a deadline
export PARIKSHAN_STATE_DIR=${PARIKSHAN_STATE_DIR:-$(mktemp -d /tmp/pk-demo-state.XXXXXX)}
DEMO_TMP=$(mktemp -d /tmp/pk-demo.XXXXXX) # the compare log (the state dir holds containers only)
PROD=pk-demo IP=10.77.250.2

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
cleanup() {
	step "teardown"
	"$BIN" down "$PROD" 2>/dev/null || true
	"$BIN" container rm "$PROD" 2>/dev/null || true
	rm -rf "$PARIKSHAN_STATE_DIR" "$DEMO_TMP"
	echo "nothing left: $(ip netns list | grep -c "pk-$PROD" || true) namespaces, $("$BIN" container ls | tail -n +2 | wc -l) containers"
}

[ "$(id -u)" -eq 0 ] || { echo "parikshan: demo: run as root (namespaces, mounts, runc, criu)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "parikshan: demo: $BIN is not built (make)" >&2; exit 1; }
trap cleanup EXIT
read -r FRONT ADMIN <<<"$(python3 "$ROOT/tests/tools/pk-free-ports.py" 2)"

step "production: redis-server in container $PROD, service IP $IP, root = the host's / (read-only lower)"
run "$BIN" container run "$PROD" --rootfs / --ip "$IP/24" -- \
	redis-server --bind 0.0.0.0 --port 6379 --save '' --protected-mode no --enable-debug-command yes
ip route get "$IP" | grep -q ' dev pkh' || { echo "parikshan: demo: $IP is not routed to the container" >&2; exit 1; }
pk_poll 60 pk_redis_pong "$IP" || { echo "parikshan: demo: redis in $PROD did not answer PING within 60 s" >&2; exit 1; }
run redis-cli -h "$IP" DEBUG POPULATE 100000 demo:key 64
echo "production holds $(redis-cli -h "$IP" DBSIZE) keys"

step "up: live-clone production (CRIU, production keeps running) and put the duplicator in front"
COMPARE_LOG=$DEMO_TMP/compare.jsonl
run "$BIN" up "$PROD" -p 6379 -l "$FRONT" --admin "127.0.0.1:$ADMIN" --compare resp --compare-log "$COMPARE_LOG"
run "$BIN" container ls
MGMT=$("$BIN" container ls --json | python3 -c 'import json,sys; print([c["mgmt"] for c in json.load(sys.stdin) if c["kind"] == "clone"][0])')
ip route get "$MGMT" | grep -q ' dev pkh' || { echo "parikshan: demo: $MGMT is not routed to the clone" >&2; exit 1; }

step "load: redis-benchmark, 100k requests of each of SET, INCR, LPUSH (pipelined, one connection), through the front door"
timeout 120 redis-benchmark -h 127.0.0.1 -p "$FRONT" -c 1 -P 16 -n 100000 -t set,incr,lpush -q |
	tr '\r' '\n' | grep 'requests per second'
drained() { "$BIN" status --admin "127.0.0.1:$ADMIN" --json | python3 -c 'import json,sys; t=json.load(sys.stdin)["targets"][0]; sys.exit(t["buffer_bytes"] > 0 or t["requests_same"] < 300000)'; }
pk_poll 60 drained || { echo "parikshan: demo: the clone did not answer every request within 60 s" >&2; exit 1; }

step "status"
run "$BIN" status --admin "127.0.0.1:$ADMIN"

step "a key written through the front door reaches production and the clone"
run redis-cli -p "$FRONT" SET demo:greeting "hello from a client"
greeted() { [ "$(redis-cli -h "$MGMT" GET demo:greeting)" = "hello from a client" ]; }
pk_poll 30 greeted || { echo "parikshan: demo: the clone did not get the SET within 30 s" >&2; exit 1; }
echo "production: $(redis-cli -h "$IP" GET demo:greeting)"
echo "clone:      $(redis-cli -h "$MGMT" GET demo:greeting)"

step "a key written directly into the clone stays in the sandbox"
run redis-cli -h "$MGMT" SET demo:debug-only experiment
echo "clone:      $(redis-cli -h "$MGMT" GET demo:debug-only)"
echo "production: '$(redis-cli -h "$IP" GET demo:debug-only)' (absent)"
redis-cli -h "$MGMT" DEL demo:debug-only >/dev/null

step "same traffic, same state: DEBUG DIGEST of both datasets"
p=$(redis-cli -h "$IP" DEBUG DIGEST) d=$(redis-cli -h "$MGMT" DEBUG DIGEST)
echo "production: $p"
echo "clone:      $d"
[ "$p" = "$d" ] && echo "equal: the clone is in sync" || { echo "parikshan: demo: digests differ" >&2; exit 1; }

step "debugging inside the clone: every thread's backtrace with gdb, while production serves"
CLONE=$("$BIN" container ls --json | python3 -c 'import json,sys; print([c["name"] for c in json.load(sys.stdin) if c["kind"] == "clone"][0])')
run "$BIN" debug "$CLONE" --gdb redis-server --bt
echo "production: $(redis-cli -h "$IP" PING), clone: $(redis-cli -h "$MGMT" PING) (gdb detached)"

step "the clone cannot reach anything but the host's end of its link"
ip netns exec "pk-$PROD-dbg1" ip route

step "a value changed in the clone: the next read through the front door is reported, per request"
run redis-cli -h "$MGMT" SET demo:greeting "changed in the clone"
run redis-cli -p "$FRONT" GET demo:greeting
reported() { grep -q '"different"' "$COMPARE_LOG" 2>/dev/null; }
pk_poll 30 reported || { echo "parikshan: demo: the divergence was not reported within 30 s" >&2; exit 1; }
run "$BIN" diverge --wide "$COMPARE_LOG"
