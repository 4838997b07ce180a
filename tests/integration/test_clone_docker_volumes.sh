#!/usr/bin/env bash
# test_clone_docker_volumes.sh — what a clone of a Docker container has of production's volumes
# (issue 14): `--volumes overlay` (nothing copied; the clone writes upper dirs of its own) and
# `--share-volume PATH:ro` (production's mount bound read-only).  A redis container with its
# append-only file in a named volume, a bound directory and a writable bound file: refused
# without --share-volume for the file (one line naming the flag, nothing left); bad flags, a
# share that cannot be mounted and a bound socket (shared or not) refused; cloned with the volumes overlaid and the file shared: the clone has production's
# data, its writes (redis's and a shell's) never reach production's volume or directory, the
# shared file reads as production's and cannot be written in the clone; a snapshot and rewind
# of the clone take its overlaid volume back; `up` passes the same flags to its clone.
. "$(dirname "$0")/lib.sh"
. "$PK_ROOT/tests/tools/pk-docker.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (dockerd, namespaces, mounts, runc, criu)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE"
WEB=pk-test-vw$$ DBG=pk-test-vwd$$
trap '"$PK_BIN" down "docker:$WEB" >/dev/null 2>&1; "$PK_BIN" container rm "$DBG" >/dev/null 2>&1; pk_docker_stop; pk_cleanup' EXIT

pk_docker_start "$PK_TMP/docker" && pk_ok dockerd || { pk_fail dockerd "$PK_DOCKER_ERR"; exit 1; }
pk_docker_image pk-test-redis:1 "$PK_TMP" || { pk_fail image "docker import failed"; exit 1; }
mkdir -p "$PK_TMP/bdir" "$PK_TMP/etc" # (a shared file's directory must not hold the state dir)
echo in-prod-dir >"$PK_TMP/bdir/prod-file"
echo shared-line >"$PK_TMP/etc/shared.conf"
docker run -d --name "$WEB" -v "pk-test-vv$$:/data" -v "$PK_TMP/bdir:/bdir" \
	-v "$PK_TMP/etc/shared.conf:/etc/pk-shared.conf" pk-test-redis:1 /bin/redis-server \
	--bind 0.0.0.0 --save '' --protected-mode no --dir /data --appendonly yes \
	--appendfsync always --enable-debug-command yes >"$PK_TMP/run.out" 2>&1 ||
	{ pk_fail docker-run "$(cat "$PK_TMP/run.out")"; exit 1; }
pk_docker_addr "$WEB" || { pk_fail route "$PK_DOCKER_ERR"; exit 1; }
IP=$PK_DOCKER_ADDR
pk_wait_for "redis in $WEB answering at $IP" 60 pk_redis_pong "$IP" || exit 1
redis-cli -h "$IP" SET in-volume before-clone >/dev/null
VOL=$(docker volume inspect -f '{{.Mountpoint}}' "pk-test-vv$$")
pk_check aof-in-volume grep -rq before-clone "$VOL"

# --- refused: the writable file, and bad flags -------------------------------------------------
pk_expect_error writable-file-refused 1 "writable bind at /etc/pk-shared.conf that is not a directory.*--share-volume /etc/pk-shared.conf:ro" \
	"$PK_BIN" clone "docker:$WEB" "$DBG"
pk_expect_error share-rw-refused 2 "must be /PATH:ro" \
	"$PK_BIN" clone "docker:$WEB" "$DBG" --share-volume /etc/pk-shared.conf:rw
pk_expect_error share-unknown-path 1 "share-volume /nope: docker:$WEB has no volume or bind mount there" \
	"$PK_BIN" clone "docker:$WEB" "$DBG" --share-volume /nope:ro
pk_expect_error volumes-bad-mode 2 "volumes 'snapshot': copy or overlay" \
	"$PK_BIN" clone "docker:$WEB" "$DBG" --volumes snapshot
pk_no_debris refused-left-nothing "$DBG"
# a file whose directory holds the state dir cannot be shared that way: refused after the
# volume before it was overlaid, and that overlay goes too
echo top-line >"$PK_TMP/top.conf"
docker run -d --name "$WEB-t" -v "pk-test-vt$$:/data" -v "$PK_TMP/top.conf:/etc/top.conf" \
	pk-test-redis:1 /bin/redis-server --save '' >/dev/null ||
	{ pk_fail docker-run-t "docker run failed"; exit 1; }
pk_expect_error share-holding-state-refused 1 "holds the clone's directory.*--state-dir elsewhere" \
	"$PK_BIN" clone "docker:$WEB-t" "$DBG" --volumes overlay --share-volume /etc/top.conf:ro
pk_no_debris share-refused-left-nothing "$DBG"
docker rm -f "$WEB-t" >/dev/null
# a socket is reached through even when read-only: never shared, never cloned
mkdir -p "$PK_TMP/s"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$PK_TMP/s/x.sock"
docker run -d --name "$WEB-s" -v "$PK_TMP/s/x.sock:/run/x.sock" pk-test-redis:1 /bin/redis-server \
	--save '' >/dev/null || { pk_fail docker-run-s "docker run failed"; exit 1; }
pk_expect_error socket-refused 1 "bind at /run/x.sock that is neither a directory nor a file" \
	"$PK_BIN" clone "docker:$WEB-s" "$DBG"
pk_expect_error socket-share-refused 1 "reach production through it, read-only or not" \
	"$PK_BIN" clone "docker:$WEB-s" "$DBG" --share-volume /run/x.sock:ro
pk_no_debris socket-refused-left-nothing "$DBG"
docker rm -f "$WEB-s" >/dev/null

# --- overlaid volumes, the file shared read-only (named by its host path) ------------------------
pk_clone_up "docker:$WEB" "$DBG" --volumes overlay --share-volume "$PK_TMP/etc/shared.conf:ro" || exit 1
pk_expect_eq volumes-reported "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["volumes_copied"], d["volumes_overlaid"], d["volumes_shared"])' "$PK_TMP/clone.json")" "0 2 1"
pk_expect_eq clone-has-volume-data "$(redis-cli -h "$MGMT" GET in-volume)" before-clone
in_clone() { nsenter -t "$CPID" -m -p -- /bin/sh -c "$1"; }
pk_expect_eq clone-reads-bound-dir "$(in_clone 'read -r l </bdir/prod-file; echo "$l"')" in-prod-dir
pk_expect_eq clone-reads-shared-file "$(in_clone 'read -r l </etc/pk-shared.conf; echo "$l"')" shared-line
pk_check shared-file-read-only-in-clone sh -c "! nsenter -t $CPID -m -p -- /bin/sh -c 'echo from-clone >>/etc/pk-shared.conf' 2>/dev/null"
pk_expect_eq production-file-unchanged "$(cat "$PK_TMP/etc/shared.conf")" shared-line
redis-cli -h "$MGMT" SET clone-only written-in-clone >/dev/null
redis-cli -h "$IP" SET prod-only written-in-prod >/dev/null
in_clone 'echo from-clone >/bdir/clone-file'
pk_check clone-writes-not-in-production-volume sh -c "! grep -rq written-in-clone '$VOL'"
pk_check clone-writes-in-its-upper grep -rq written-in-clone "$PK_STATE/$DBG/volumes-rw"
pk_check clone-file-not-in-production-dir test ! -e "$PK_TMP/bdir/clone-file"
pk_check production-writes-in-its-volume grep -rq written-in-prod "$VOL"
pk_expect_eq clone-lacks-prod-write "$(redis-cli -h "$MGMT" EXISTS prod-only)" 0

# --- snapshot and rewind: the overlaid volume goes back too --------------------------------------
pk_check snapshot "$PK_BIN" snapshot "$DBG" t0
redis-cli -h "$MGMT" SET after-snap 1 >/dev/null
in_clone 'echo later >/bdir/after-snap'
pk_check rewind "$PK_BIN" rewind "$DBG" t0
CPID=$(runc state "$DBG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
pk_wait_for "the rewound clone answering at $MGMT" 30 pk_redis_pong "$MGMT" || exit 1
pk_expect_eq rewind-keeps-earlier "$(redis-cli -h "$MGMT" GET clone-only)" written-in-clone
pk_expect_eq rewind-drops-later "$(redis-cli -h "$MGMT" EXISTS after-snap)" 0
pk_check rewind-drops-later-file sh -c "! nsenter -t $CPID -m -p -- /bin/sh -c 'test -e /bdir/after-snap'"
pk_check rewind-shared-still-read-only sh -c "! nsenter -t $CPID -m -p -- /bin/sh -c 'echo x >>/etc/pk-shared.conf' 2>/dev/null"
pk_check production-volume-untouched sh -c "! grep -rq written-in-clone '$VOL' && test ! -e '$PK_TMP/bdir/after-snap'"
pk_check rm-clone "$PK_BIN" container rm "$DBG"
pk_no_debris clone-gone "$DBG"
pk_expect_eq production-file-kept "$(cat "$PK_TMP/etc/shared.conf")" shared-line
pk_check production-dir-kept test -f "$PK_TMP/bdir/prod-file"

# --- up passes the same flags to its clone ------------------------------------------------------
LPORT=$(pk_free_port) APORT=$(pk_free_port)
pk_check up-overlay "$PK_BIN" up "docker:$WEB" -p 6379 -l "$LPORT" --admin "$APORT" --volumes overlay \
	--share-volume /etc/pk-shared.conf:ro
# (Docker lists a container's mounts in no fixed order: the clone's indexes follow it)
pk_expect_eq up-clone-overlaid-and-shared "$(cd "$PK_STATE/$WEB-dbg1" && ls -d volumes-rw/*/upper shared/*/shared.conf 2>/dev/null | wc -l)" 3
pk_expect_eq up-front-door "$(redis-cli -p "$LPORT" GET in-volume)" before-clone
pk_check down "$PK_BIN" down "docker:$WEB"
pk_no_debris down-left-nothing "$WEB-dbg1"
pk_expect_eq production-serves-after "$(redis-cli -h "$IP" GET prod-only)" written-in-prod
