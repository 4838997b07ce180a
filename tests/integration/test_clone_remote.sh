#!/usr/bin/env bash
# External clones (issue 4): `parikshan clone PROD NAME --to HOST:PORT` onto another "host" — a
# network namespace of the test's own, where `parikshan agent` runs.  Memory pages go through
# CRIU's page server, files through rsync; the agent authenticates and restores.  Also: a wrong
# token, an incompatible host, a transfer broken by the agent, and a client that dies half-way
# (the agent undoes what it made).
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (namespaces, mounts, runc, criu)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/stateA PK_STATE=$PK_TMP/stateA
STATE_B=$PK_TMP/stateB
mkdir -p "$PARIKSHAN_STATE_DIR" "$STATE_B"
HB=pk-test-hb$$ VETH=pkth$$ HOST_B=10.79.0.2 PORT=7700
PROD=pk-test-rp$$ DBG=pk-test-rc$$ IP=10.77.214.2
cleanup_all() {
	"$PK_BIN" container rm "$PROD" >/dev/null 2>&1
	for n in "$DBG" "$DBG-x"; do PARIKSHAN_STATE_DIR=$STATE_B "$PK_BIN" container rm "$n" >/dev/null 2>&1; done
	pk_cleanup_pids
	ip netns del "$HB" 2>/dev/null
	ip link del "$VETH" 2>/dev/null
	rm -rf "$PK_TMP"
}
pk_cleanup_pids() { for p in "${PK_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; }
trap cleanup_all EXIT

# The other host: a namespace with a veth to this one.
ip netns add "$HB" && ip link add "$VETH" type veth peer name eth0 netns "$HB" &&
	ip addr add 10.79.0.1/24 dev "$VETH" && ip link set "$VETH" up &&
	ip -n "$HB" addr add "$HOST_B/24" dev eth0 && ip -n "$HB" link set eth0 up && ip -n "$HB" link set lo up ||
	{ pk_fail setup "second host namespace"; exit 1; }
ip route get "$HOST_B" | grep -q " dev $VETH" || { pk_fail setup "$HOST_B not routed to our namespace"; exit 1; }
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PK_TMP/token"
echo "not-the-right-token-at-all" >"$PK_TMP/badtoken"
start_agent() {
	pk_bg agent nsenter --net="/var/run/netns/$HB" "$PK_BIN" agent --listen "$HOST_B:$PORT" \
		--token "$PK_TMP/token" --state-dir "$STATE_B"
	AGENT=$PK_LAST_PID
	pk_wait_for "the agent listening on $HOST_B:$PORT" 30 pk_listening "$PORT" "$HB"
}
start_agent || { pk_fail setup "agent did not start: $(cat "$PK_TMP/agent.log")"; exit 1; }

pk_redis_container "$PROD" "$IP" || exit 1
redis-cli -h "$IP" DEBUG POPULATE 200000 >/dev/null
want=$(redis-cli -h "$IP" DEBUG DIGEST)

# The clone, on the other host.
if "$PK_BIN" clone "$PROD" "$DBG" --to "$HOST_B:$PORT" --token "$PK_TMP/token" --json >"$PK_TMP/clone.json" 2>"$PK_TMP/clone.err"; then
	pk_ok remote-clone
else
	pk_fail remote-clone "$(cat "$PK_TMP/clone.err") | agent: $(tail -n 3 "$PK_TMP/agent.log")"
	exit 1
fi
MGMT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mgmt_ip"])' "$PK_TMP/clone.json")
ip netns exec "$HB" ip route get "$MGMT" | grep -q ' dev pkh' || { pk_fail route "$MGMT not routed inside $HB"; exit 1; }
pk_expect_eq remote-clone-digest "$(ip netns exec "$HB" redis-cli -h "$MGMT" DEBUG DIGEST)" "$want"
pk_expect_eq remote-clone-listed-on-agent "$(PARIKSHAN_STATE_DIR=$STATE_B "$PK_BIN" container ls --json | python3 -c 'import json,sys; print([c["status"] for c in json.load(sys.stdin)])')" "['running']"
pk_expect_eq production-unchanged "$(redis-cli -h "$IP" DEBUG DIGEST)" "$want"
pk_expect_eq nothing-local "$(ls "$PARIKSHAN_STATE_DIR" | grep -c "$DBG")" 0

# A wrong token: refused, nothing made on the agent.
out=$("$PK_BIN" clone "$PROD" "$DBG-x" --to "$HOST_B:$PORT" --token "$PK_TMP/badtoken" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"authentication failed"* ]]; then pk_ok wrong-token-refused; else pk_fail wrong-token-refused "rc=$rc: $out"; fi
PK_STATE=$STATE_B pk_no_debris wrong-token-no-debris "$DBG-x"

# A client that dies half-way (during its first rsync): the agent undoes what it made.
"$PK_BIN" clone "$PROD" "$DBG-x" --to "$HOST_B:$PORT" --token "$PK_TMP/token" >/dev/null 2>&1 &
CL=$!
# kill_at_rsync: true once the client, caught in its first rsync, has been killed (or has ended).
kill_at_rsync() {
	if pgrep -P "$CL" -x rsync >/dev/null; then
		kill -STOP "$CL" # stopped first, so that its children are still its own when killed
		pkill -KILL -P "$CL"
		kill -KILL "$CL"
		echo killed >"$PK_TMP/killed"
		return 0
	fi
	pk_gone "$CL"
}
# A 5 ms poll: the first rsync of a small upper dir is short-lived.
PK_POLL_CAP_MS=5 pk_wait_for "the client's first rsync" 60 kill_at_rsync
wait "$CL" 2>/dev/null
pk_expect_eq dead-client-killed-in-rsync "$(cat "$PK_TMP/killed" 2>/dev/null)" killed
# The agent notices the dead client asynchronously: wait for its log line and its cleanup.
pk_wait_log "$PK_TMP/agent.log" "ended before the restore" 30 && pk_ok dead-client-logged
PK_STATE=$STATE_B pk_wait_for "the agent to undo $DBG-x" 30 pk_debris_gone "$DBG-x" &&
	pk_ok dead-client-agent-undoes

# An incompatible host and a broken transfer, played by a fake agent.
FAKE=$(pk_free_port)
python3 - "$FAKE" incompatible >"$PK_TMP/fake1.log" 2>&1 <<'PY' &
import json, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(60)
print("listening", flush=True)
c, _ = s.accept(); c.settimeout(30)
kernel = "0.0.0-other" if sys.argv[2] == "incompatible" else __import__("os").uname().release
crit = __import__("subprocess").run(["criu", "--version"], capture_output=True, text=True).stdout
criu = crit.split("Version:")[1].split()[0]
c.sendall((json.dumps({"hello": "parikshan-agent", "proto": 1, "nonce": "00", "kernel": kernel, "criu": criu}) + "\n").encode())
f = c.makefile("rb")
if sys.argv[2] == "broken":
    f.readline(); c.sendall(b'{"ok":true}\n')   # accept any auth
    f.readline(); c.close()                      # then break on "prepare"
else:
    f.readline()
PY
PK_PIDS+=($!)
pk_wait_log "$PK_TMP/fake1.log" '^listening$' 30 || exit 1
out=$("$PK_BIN" clone "$PROD" "$DBG-x" --to "127.0.0.1:$FAKE" --token "$PK_TMP/token" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"incompatible host"* ]]; then pk_ok incompatible-host-refused; else pk_fail incompatible-host-refused "rc=$rc: $out"; fi
FAKE=$(pk_free_port)
python3 - "$FAKE" broken >"$PK_TMP/fake2.log" 2>&1 <<'PY' &
import json, os, socket, subprocess, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(60)
print("listening", flush=True)
c, _ = s.accept(); c.settimeout(30)
criu = subprocess.run(["criu", "--version"], capture_output=True, text=True).stdout.split("Version:")[1].split()[0]
c.sendall((json.dumps({"hello": "parikshan-agent", "proto": 1, "nonce": "00", "kernel": os.uname().release, "criu": criu}) + "\n").encode())
f = c.makefile("rb")
f.readline(); c.sendall(b'{"ok":true}\n')
f.readline(); c.close()
PY
PK_PIDS+=($!)
pk_wait_log "$PK_TMP/fake2.log" '^listening$' 30 || exit 1
out=$("$PK_BIN" clone "$PROD" "$DBG-x" --to "127.0.0.1:$FAKE" --token "$PK_TMP/token" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"transfer broken"* ]]; then pk_ok broken-transfer-reported; else pk_fail broken-transfer-reported "rc=$rc: $out"; fi
pk_expect_eq production-still-serves "$(redis-cli -h "$IP" PING)" PONG

PARIKSHAN_STATE_DIR=$STATE_B pk_check rm-remote-clone "$PK_BIN" container rm "$DBG"
PK_STATE=$STATE_B pk_no_debris remote-no-debris "$DBG"
