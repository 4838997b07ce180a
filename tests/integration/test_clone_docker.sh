#!/usr/bin/env bash
# test_clone_docker.sh — `parikshan clone docker:NAME` and `up docker:NAME` (issue 14,
# acceptance 1 and 5): a Docker container (an image made here with `docker import`, no
# registry) running redis, a client connection held open and a load running, is cloned through
# Docker's API: the clone's DEBUG DIGEST equals production's; production's connections survive;
# the clone has production's IP in a namespace of its own and answers at its management address;
# writes stay on their side; it cannot reach production's published port; removing the clone
# leaves Docker's state as it was.  Then `up docker:NAME`: clients and a load through its front
# door, the clone's digest equals production's, `down` leaves Docker's state as it was.  Bad
# input (no such container, a stopped one, no daemon, an unknown source) is one clear line, exit
# 1, nothing left behind.  A container with a named volume: the clone gets a copy, its writes
# never reach production's volume.  Last, `docker rm -f` and `docker rmi` of production after
# cloning: the clone keeps serving (its layers are pinned); and a daemon with the vfs storage
# driver: refused.  Stopped, the daemons leave the host's firewall as it was.
. "$(dirname "$0")/lib.sh"
. "$PK_ROOT/tests/tools/pk-docker.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (dockerd, namespaces, mounts, runc, criu)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE"
WEB=pk-test-web$$ OFF=pk-test-off$$ DBG=pk-test-dw$$ PK_CLONE_GW=10.78.0.1
trap 'for n in "$DBG" "$DBG-v"; do "$PK_BIN" container rm "$n" >/dev/null 2>&1; done; pk_docker_stop; pk_cleanup' EXIT

fw() { iptables -S; iptables -t nat -S; ip6tables -S; ip6tables -t nat -S; cat /proc/sys/net/ipv4/ip_forward; }
fw >"$PK_TMP/fw.before"
pk_docker_start "$PK_TMP/docker" && pk_ok dockerd || { pk_fail dockerd "$PK_DOCKER_ERR"; exit 1; }
pk_docker_image pk-test-redis:1 "$PK_TMP" || { pk_fail image "docker import failed"; exit 1; }
PUB=$(pk_free_port)
docker run -d --name "$WEB" -p "$PUB:6379" pk-test-redis:1 /bin/redis-server --bind 0.0.0.0 --save '' \
	--protected-mode no --enable-debug-command yes >"$PK_TMP/run.out" 2>&1 ||
	{ pk_fail docker-run "$(cat "$PK_TMP/run.out")"; exit 1; }
pk_docker_addr "$WEB" || { pk_fail route "$PK_DOCKER_ERR"; exit 1; }
IP=$PK_DOCKER_ADDR
pk_wait_for "redis in $WEB answering at $IP" 60 pk_redis_pong "$IP" || exit 1
redis-cli -h "$IP" DEBUG POPULATE 200000 key 100 >/dev/null
pk_check container-ls-lists-docker bash -c "'$PK_BIN' container ls | grep -E '^docker:$WEB +docker +- +$IP +- +running '"

pk_held_start "$IP" 6379 || exit 1 # a client connection held across the clone
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

pk_held_check held-connection-survives
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

# --- up docker:NAME: a front door and a clone; clients and load through it ----------------------
LPORT=$(pk_free_port) APORT=$(pk_free_port)
pk_check up "$PK_BIN" up "docker:$WEB" -p 6379 -l "$LPORT" --admin "$APORT"
UPDBG=$WEB-dbg1
UPMGMT=$("$PK_BIN" container ls --json | python3 -c 'import json, sys
print(next(c["mgmt"] for c in json.load(sys.stdin) if c["name"] == sys.argv[1]))' "$UPDBG")
pk_route_ok "$UPMGMT" || { pk_fail route "$UPMGMT is not routed into our veth: not sending anything"; exit 1; }
pk_held_start 127.0.0.1 "$LPORT" || exit 1 # a client of the front door, held across the load
timeout 120 redis-benchmark -p "$LPORT" -c 8 -n 20000 -r 5000 -t set,lpush --csv >"$PK_TMP/upload.csv" 2>"$PK_TMP/upload.err"
if [ $? -eq 0 ] && ! grep -qi error "$PK_TMP/upload.err"; then pk_ok up-load-without-errors; else pk_fail up-load-without-errors "$(head -c 300 "$PK_TMP/upload.err")"; fi
pk_held_check up-held-connection-survives
digests_equal() { [ "$(redis-cli -h "$UPMGMT" DEBUG DIGEST)" = "$(redis-cli -h "$IP" DEBUG DIGEST)" ]; }
pk_wait_for "the clone's digest to equal production's after the load" 60 digests_equal && pk_ok up-clone-digest
pk_check up-clone-has-service-ip sh -c "ip netns exec 'pk-$UPDBG' ip -4 addr show eth0 | grep -q ' $IP/'"
pk_check down "$PK_BIN" down "docker:$WEB"
pk_no_debris down-left-nothing "$UPDBG"
pk_check down-removed-its-directory test ! -e "$PK_STATE/.docker-$WEB"
pk_check docker-unchanged-after-down python3 -c 'import json, sys
a, b = (json.load(open(f))[0] for f in sys.argv[1:3])
assert a["State"]["Pid"] == b["State"]["Pid"] and b["State"]["Running"], b["State"]
assert a["NetworkSettings"]["Networks"] == b["NetworkSettings"]["Networks"]' "$PK_TMP/inspect.before" <(docker inspect "$WEB")

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

# --- a named volume (redis's append-only file in it): the clone gets a copy ----------------------
docker run -d --name "$OFF-v" -v "pk-test-vol$$:/data" pk-test-redis:1 /bin/redis-server \
	--bind 0.0.0.0 --save '' --protected-mode no --dir /data --appendonly yes \
	--appendfsync always --enable-debug-command yes >/dev/null
pk_docker_addr "$OFF-v" || { pk_fail route "$PK_DOCKER_ERR"; exit 1; }
VIP=$PK_DOCKER_ADDR
pk_wait_for "redis in $OFF-v answering at $VIP" 60 pk_redis_pong "$VIP" || exit 1
redis-cli -h "$VIP" SET in-volume before-clone >/dev/null
VOL=$(docker volume inspect -f '{{.Mountpoint}}' "pk-test-vol$$")
pk_clone_up "docker:$OFF-v" "$DBG-v" || exit 1
pk_expect_eq volume-copied "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["volumes_copied"], d["volume_bytes"] > 0)' "$PK_TMP/clone.json")" "1 True"
pk_expect_eq volume-clone-has-data "$(redis-cli -h "$MGMT" GET in-volume)" before-clone
redis-cli -h "$MGMT" SET clone-only written-in-clone >/dev/null
redis-cli -h "$VIP" SET prod-only written-in-prod >/dev/null
pk_check clone-writes-not-in-production-volume sh -c "! grep -rq written-in-clone '$VOL'"
pk_check production-writes-in-its-volume grep -rq written-in-prod "$VOL"
pk_check clone-writes-in-its-copy grep -rq written-in-clone "$PK_STATE/$DBG-v/volumes/0"
pk_expect_eq volume-clone-has-not-prod-write "$(redis-cli -h "$MGMT" EXISTS prod-only)" 0
pk_check rm-volume-clone "$PK_BIN" container rm "$DBG-v"
pk_no_debris volume-clone-gone "$DBG-v"
pk_check production-volume-kept test -n "$(ls -A "$VOL")"

# --- docker rm -f and docker rmi of production: the clone keeps serving ---------------------------
pk_clone_up "docker:$WEB" "$DBG" || exit 1
pk_check clone-pins-layers test -d "$PK_STATE/$DBG/layers/0"
docker rm -f "$WEB" "$OFF" "$OFF-v" >/dev/null 2>&1
docker volume rm "pk-test-vol$$" >/dev/null 2>&1
pk_check docker-rmi docker rmi pk-test-redis:1
pk_check docker-layers-gone sh -c "! docker image inspect pk-test-redis:1 >/dev/null 2>&1"
pk_expect_eq clone-serves-after-rm "$(redis-cli -h "$MGMT" PING)" PONG
pk_expect_eq clone-writes-after-rm "$(redis-cli -h "$MGMT" SET after-rm 1) $(redis-cli -h "$MGMT" GET after-rm)" "OK 1"
# the image's files, from the clone's root: its pinned layers
pk_expect_eq clone-runs-image-files "$(nsenter -t "$CPID" -m -p -- /bin/sh -c 'echo from-the-image')" from-the-image
pk_check rm-clone-after-rm "$PK_BIN" container rm "$DBG"
pk_no_debris clone-after-rm-gone "$DBG"

# --- a storage driver other than overlay2 (a daemon of its own, vfs): refused ---------------------
pk_docker_stop
pk_docker_start "$PK_TMP/docker-vfs" --storage-driver vfs || { pk_fail dockerd-vfs "$PK_DOCKER_ERR"; exit 1; }
pk_docker_image pk-test-redis:1 "$PK_TMP/vfs" || { pk_fail image-vfs "docker import failed"; exit 1; }
docker run -d --name "$WEB" pk-test-redis:1 /bin/redis-server --save '' >/dev/null ||
	{ pk_fail docker-run-vfs "docker run failed"; exit 1; }
pk_expect_error storage-driver-refused 1 "storage driver vfs: only overlay2 can be cloned" \
	"$PK_BIN" clone "docker:$WEB" "$DBG"
pk_no_debris storage-driver-left-nothing "$DBG"

# --- the host as it was: dockerd's firewall rules and forwarding gone with it (a fresh host has
# no tables at all before dockerd makes them) ---------------------------------------------------
pk_docker_stop
pk_expect_eq firewall-restored "$(fw)" "$(cat "$PK_TMP/fw.before")"
