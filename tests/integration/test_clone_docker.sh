#!/usr/bin/env bash
# test_clone_docker.sh — `parikshan clone docker:NAME` (issue 14, acceptance 1 and 5): a Docker
# container (an image made here with `docker import`, no registry) running redis, a client
# connection held open and a load running, is cloned through Docker's API: the clone's DEBUG
# DIGEST equals production's; production's connections survive; the clone has production's IP
# in a namespace of its own and answers at its management address; writes stay on their side;
# it cannot reach production's published port; removing the clone leaves Docker's state as it
# was.  Bad input (no such container, a stopped one, no daemon, an unknown source) is one clear
# line, exit 1, nothing left behind.
. "$(dirname "$0")/lib.sh"
. "$PK_ROOT/tests/tools/pk-docker.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (dockerd, namespaces, mounts, runc, criu)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE"
WEB=pk-test-web$$ OFF=pk-test-off$$ DBG=pk-test-dw$$ PK_CLONE_GW=10.78.0.1
trap '"$PK_BIN" container rm "$DBG" >/dev/null 2>&1; pk_docker_stop; pk_cleanup' EXIT

pk_docker_start || exit 1
pk_docker_image pk-test-redis:1 || { pk_fail image "docker import failed"; exit 1; }
PUB=$(pk_free_port)
docker run -d --name "$WEB" -p "$PUB:6379" pk-test-redis:1 /bin/redis-server --bind 0.0.0.0 --save '' \
	--protected-mode no --enable-debug-command yes >"$PK_TMP/run.out" 2>&1 ||
	{ pk_fail docker-run "$(cat "$PK_TMP/run.out")"; exit 1; }
IP=$(pk_docker_ip "$WEB")
ip route get "$IP" 2>/dev/null | grep -q " dev $PK_DOCKER_BR" ||
	{ pk_fail route "$IP is not routed into $PK_DOCKER_BR: not sending anything"; exit 1; }
pk_wait_for "redis in $WEB answering at $IP" 60 pk_redis_pong "$IP" || exit 1
redis-cli -h "$IP" DEBUG POPULATE 200000 key 100 >/dev/null
pk_check container-ls-lists-docker bash -c "'$PK_BIN' container ls | grep -E '^docker:$WEB +docker +- +$IP +- +running '"

# a client connection held across the clone (zdtm style: ready, then "go" once cloned)
mkfifo "$PK_TMP/held.go"
python3 - "$IP" "$PK_TMP/held.go" >"$PK_TMP/held.out" 2>&1 <<'PY' &
import socket, sys
s = socket.create_connection((sys.argv[1], 6379), timeout=60)
def ping():
    s.sendall(b"PING\r\n"); return s.recv(64)
first = ping()
print("ready", flush=True)
open(sys.argv[2]).read()
print("held", first.strip().decode(), ping().strip().decode())
PY
HELD=$!
PK_PIDS+=("$HELD")
pk_wait_log "$PK_TMP/held.out" '^ready$' 30 || exit 1
timeout 60 redis-benchmark -h "$IP" -c 10 -n 100000 -t get --csv >"$PK_TMP/load.csv" 2>"$PK_TMP/load.err" &
LOAD=$!
PK_PIDS+=("$LOAD")
get_calls() { [ "$(pk_redis_calls_at "$IP" 6379 get)" -ge 1000 ]; }
pk_wait_for "the load to be under way (>= 1000 GETs)" 30 get_calls || exit 1
before=$(redis-cli -h "$IP" DEBUG DIGEST)
docker inspect "$WEB" >"$PK_TMP/inspect.before"
docker ps -a --format '{{.ID}} {{.Names}} {{.State}}' | sort >"$PK_TMP/ps.before"

pk_clone_up "docker:$WEB" "$DBG" || exit 1
echo "# $(tr -d '\n\t ' <"$PK_TMP/clone.json")"
pk_expect_eq clone-digest "$(redis-cli -h "$MGMT" DEBUG DIGEST)" "$before"
pk_check clone-has-service-ip sh -c "ip netns exec 'pk-$DBG' ip -4 addr show eth0 | grep -q ' $IP/'"
pk_check clone-namespace-own sh -c "[ \"\$(readlink /proc/$CPID/ns/net)\" != \"\$(readlink /proc/$(docker inspect -f '{{.State.Pid}}' "$WEB")/ns/net)\" ]"
# Docker DNATs the published port on every local address, the clone's gateway included: the
# clone cannot reach it (production's own address is the clone's own there)
pk_check clone-cannot-reach-published-port sh -c "! ip netns exec 'pk-$DBG' timeout 5 bash -c '</dev/tcp/$PK_CLONE_GW/$PUB' 2>/dev/null"
pk_check container-ls-shows-clone bash -c "'$PK_BIN' container ls | grep -E '^$DBG +clone +docker:$WEB '"

timeout 30 sh -c 'echo go >"$1"' sh "$PK_TMP/held.go"
pk_wait_exit "$HELD" 30
pk_expect_eq held-connection-survives "$(tail -n 1 "$PK_TMP/held.out")" "held +PONG +PONG"
if wait "$LOAD" && ! grep -qi error "$PK_TMP/load.err"; then pk_ok load-without-errors; else pk_fail load-without-errors "$(head -c 300 "$PK_TMP/load.err")"; fi

redis-cli -h "$IP" SET only-prod 1 >/dev/null
redis-cli -h "$MGMT" SET only-clone 1 >/dev/null
pk_expect_eq writes-stay-in-prod "$(redis-cli -h "$MGMT" EXISTS only-prod) $(redis-cli -h "$IP" EXISTS only-prod)" "0 1"
pk_expect_eq writes-stay-in-clone "$(redis-cli -h "$IP" EXISTS only-clone) $(redis-cli -h "$MGMT" EXISTS only-clone)" "0 1"

pk_check rm-clone "$PK_BIN" container rm "$DBG"
pk_no_debris clone-gone "$DBG"
docker ps -a --format '{{.ID}} {{.Names}} {{.State}}' | sort >"$PK_TMP/ps.after"
pk_check docker-containers-unchanged cmp -s "$PK_TMP/ps.before" "$PK_TMP/ps.after"
pk_check docker-inspect-unchanged python3 -c 'import json, sys
a, b = (json.load(open(f))[0] for f in sys.argv[1:3])
for k in ("Id", "Image", "GraphDriver", "Mounts", "HostConfig"):
    assert a[k] == b[k], k
assert a["State"]["Pid"] == b["State"]["Pid"] and b["State"]["Running"], b["State"]
assert a["NetworkSettings"]["Networks"] == b["NetworkSettings"]["Networks"]' "$PK_TMP/inspect.before" <(docker inspect "$WEB")
pk_expect_eq production-serves-after "$(redis-cli -h "$IP" PING)" PONG

# --- bad input: one line, exit 1, nothing left ---------------------------------------------------
docker create --name "$OFF" pk-test-redis:1 /bin/redis-server >/dev/null
pk_expect_error no-such-container 1 "no Docker container 'pk-test-none$$'" \
	"$PK_BIN" clone "docker:pk-test-none$$" "$DBG"
pk_expect_error stopped-container 1 "Docker container '$OFF' is not running" \
	"$PK_BIN" clone "docker:$OFF" "$DBG"
pk_expect_error no-daemon 1 "cannot reach dockerd" \
	env DOCKER_HOST="unix://$PK_TMP/no-such.sock" "$PK_BIN" clone "docker:$WEB" "$DBG"
pk_expect_error unknown-source 1 "unknown container source" "$PK_BIN" clone "podman:$WEB" "$DBG"
pk_no_debris bad-input-left-nothing "$DBG"
