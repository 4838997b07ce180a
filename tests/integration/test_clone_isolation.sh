#!/usr/bin/env bash
# Clone isolation (issue 9, item 0).  Cgroups: a clone runs in cgroups of its own for every
# controller (none shared with production), with production's live limits copied, or the
# limits of --mem/--cpus; freezing the clone's freezer cgroup leaves production serving.
# Network: from each of the clone's source addresses (service IP, management address), nothing
# reaches a host listener on 0.0.0.0 or the gateway's other ports, and no packet arrives in
# production's namespace; --agg's debug port and the host's connections to the clone still
# work; the firewall counts what it refused, and holds on the host's side alone too.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (namespaces, mounts, runc, criu)"; exit 1; }
[ -d /sys/fs/cgroup/freezer ] && [ -d /sys/fs/cgroup/memory ] ||
	{ pk_skip cgroups "no cgroup v1 memory/freezer hierarchy on this kernel"; exit 0; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE"
P=pk-test-iso$$
PROD=$P-prod DBG=$P-dbg DBG2=$P-dbg2
IP=10.77.216.2 HOSTEND=10.77.216.1 GW=10.78.0.1
ANY=$(pk_free_port) DPORT=$(pk_free_port) BPORT=7001
cleanup_containers() {
	for n in "$DBG" "$DBG2" "$PROD"; do "$PK_BIN" container rm "$n" >/dev/null 2>&1; done
}
trap 'cleanup_containers; pk_cleanup' EXIT

# pid_of NAME: the init pid of container NAME (from `container ls --json`).
pid_of() {
	"$PK_BIN" container ls --json |
		python3 -c 'import json,sys; print([c["pid"] for c in json.load(sys.stdin) if c["name"] == sys.argv[1]][0])' "$1"
}
# cg PID CONTROLLER: the cgroup path of PID for CONTROLLER ("memory", "name=systemd", "" for v2).
cg() { awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3; if ($2 == c) print $3 }' "/proc/$1/cgroup" | head -n1; }
# cgfile PID CONTROLLER FILE: the contents of FILE in PID's cgroup of CONTROLLER.
cgfile() { cat "/sys/fs/cgroup/$2$(cg "$1" "$2")/$3"; }
# wait_ping HOST SECONDS: waits until the redis server at HOST answers PING.
wait_ping() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ "$(timeout 2 redis-cli -h "$1" PING 2>/dev/null)" = PONG ] && return 0
		sleep 0.1
	done
	echo "$1 did not answer PING within $2 s" >&2
	return 1
}

pk_check container-run "$PK_BIN" container run "$PROD" --rootfs / --ip "$IP/24" --mem 256M -- \
	redis-server --bind 0.0.0.0 --port 6379 --save '' --protected-mode no || exit 1
pk_route_ok "$IP" || { pk_fail route "$IP is not routed into our veth: not sending anything"; exit 1; }
pk_check production-serves wait_ping "$IP" 10 || exit 1
PPID_=$(pid_of "$PROD")
# Live limits changed after the start: the clone copies what production has now.
pk_check production-limits-updated runc update --cpu-quota 30000 --cpu-period 100000 \
	--pids-limit 500 "$PROD"
redis-cli -h "$IP" SET k v >/dev/null

if "$PK_BIN" clone "$PROD" "$DBG" --agg "$HOSTEND:$BPORT=$DPORT" --json >"$PK_TMP/clone.json" 2>"$PK_TMP/clone.err"; then
	pk_ok clone
else
	pk_fail clone "$(cat "$PK_TMP/clone.err")"
	exit 1
fi
MGMT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mgmt_ip"])' "$PK_TMP/clone.json")
pk_route_ok "$MGMT" || { pk_fail route "$MGMT is not routed into our veth: not sending anything"; exit 1; }
pk_check clone-serves wait_ping "$MGMT" 10
CPID=$(pid_of "$DBG")

# Every controller production is in (v1 controllers, name=systemd, the v2 hierarchy): the clone
# is somewhere else.
shared="" n=0
while IFS=: read -r _ ctls path; do
	n=$((n + 1))
	cpath=$(awk -F: -v c="$ctls" '$2 == c { print $3 }' "/proc/$CPID/cgroup")
	[ -n "$cpath" ] && [ "$cpath" != "$path" ] || shared+=" ${ctls:-unified}:$path=${cpath:-?}"
done <"/proc/$PPID_/cgroup"
if [ "$n" -ge 5 ] && [ -z "$shared" ]; then pk_ok clone-own-cgroups-every-controller; else
	pk_fail clone-own-cgroups-every-controller "shared with production ($n controllers):$shared"; fi
echo "# production: $(tr '\n' ' ' <"/proc/$PPID_/cgroup")"
echo "# clone:      $(tr '\n' ' ' <"/proc/$CPID/cgroup")"
# The cgroups hold only their own side's processes.
if grep -qx "$PPID_" "/sys/fs/cgroup/memory$(cg "$CPID" memory)/cgroup.procs" ||
	grep -qx "$CPID" "/sys/fs/cgroup/memory$(cg "$PPID_" memory)/cgroup.procs"; then
	pk_fail cgroups-hold-own-processes "a process sits in the other side's memory cgroup"
else
	pk_ok cgroups-hold-own-processes
fi
# The clone's memory is charged to its own cgroup: production's usage did not grow by it.
pk_check clone-memory-charged-to-clone test "$(cgfile "$CPID" memory memory.usage_in_bytes)" -gt $((1 << 20))

# Limits copied from production (the --mem of its start, the cpu quota and pids limit set live).
pk_expect_eq clone-memory-limit-copied "$(cgfile "$CPID" memory memory.limit_in_bytes)" $((256 << 20))
pk_expect_eq clone-cpu-quota-copied "$(cgfile "$CPID" cpu cpu.cfs_quota_us)/$(cgfile "$CPID" cpu cpu.cfs_period_us)" 30000/100000
pk_expect_eq clone-pids-limit-copied "$(cgfile "$CPID" pids pids.max)" 500
pk_expect_eq clone-report-limits "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["mem_limit"], d["cpus"])' "$PK_TMP/clone.json")" "$((256 << 20)) 0.3"

# Freezing the clone's freezer cgroup stops the clone only.
FRZ=/sys/fs/cgroup/freezer$(cg "$CPID" freezer)
echo FROZEN >"$FRZ/freezer.state"
pk_wait_for "the clone's freezer cgroup to reach FROZEN" 30 grep -qx FROZEN "$FRZ/freezer.state"
pk_expect_eq clone-frozen "$(cat "$FRZ/freezer.state")" FROZEN
pk_expect_eq production-not-frozen "$(cgfile "$PPID_" freezer freezer.state)" THAWED
pk_expect_eq production-serves-while-clone-frozen "$(timeout 5 redis-cli -h "$IP" GET k)" v
if [ "$(timeout 1 redis-cli -h "$MGMT" PING 2>/dev/null)" = PONG ]; then
	pk_fail frozen-clone-silent "the frozen clone answered"
else
	pk_ok frozen-clone-silent
fi
echo THAWED >"$FRZ/freezer.state"
pk_check clone-serves-after-thaw wait_ping "$MGMT" 10

# ---- network ----
redis-cli -h "$IP" SET only:prod 1 >/dev/null # written after the clone: only production has it
# A host listener on 0.0.0.0 (any port the clone might try, and the agg debug port); it logs
# "PORT PEER" per accepted connection.
python3 - "$PK_TMP/accepts" "$ANY" "$DPORT" <<'PY' >"$PK_TMP/listener.log" 2>&1 &
import select, socket, sys, time
socks = []
for p in sys.argv[2:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(p)))
    s.listen(16)
    socks.append(s)
log = open(sys.argv[1], "a", buffering=1)
open(sys.argv[1] + ".ready", "w").close()
end = time.time() + 300
while time.time() < end:
    for s in select.select(socks, [], [], 1)[0]:
        c, a = s.accept()
        log.write("%d %s\n" % (s.getsockname()[1], a[0]))
        c.close()
PY
PK_PIDS+=($!)
pk_wait_for "the host listener's ready file" 30 test -e "$PK_TMP/accepts.ready" ||
	{ echo "listener log: $(cat "$PK_TMP/listener.log")"; exit 1; }
ip netns exec "pk-$DBG" ip route get "$GW" | grep -q ' dev eth0' || { pk_fail route "$GW not on the clone's link"; exit 1; }
# Production's namespace counts every packet that does not come from its own gateway.
ip netns exec "pk-$PROD" iptables -w -t raw -I PREROUTING ! -s "$HOSTEND"
prod_foreign() { ip netns exec "pk-$PROD" iptables -w -t raw -nvxL PREROUTING | awk 'NR == 3 { print $1 }'; }
pk_expect_eq production-counter-set "$(prod_foreign)" 0
blocked() { "$PK_BIN" container ls --json | python3 -c 'import json,sys; print([c.get("blocked_packets", -1) for c in json.load(sys.stdin) if c["name"] == sys.argv[1]][0])' "$DBG"; }
B0=$(blocked)
# probe SRC DST PORT: from the clone's namespace, connect from SRC; prints connected, refused,
# timeout or the errno name.
probe() {
	ip netns exec "pk-$DBG" python3 - "$@" <<'PY'
import errno, socket, sys
s = socket.socket()
s.settimeout(1.5)
try:
    s.bind((sys.argv[1], 0))
    s.connect((sys.argv[2], int(sys.argv[3])))
    print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("refused" if e.errno == errno.ECONNREFUSED else errno.errorcode.get(e.errno, "error"))
PY
}
MGMT_ACCEPTS() { grep -c "^$1 " "$PK_TMP/accepts"; }
for src in "$IP" "$MGMT"; do
	tag=$([ "$src" = "$IP" ] && echo service || echo mgmt)
	r=$(probe "$src" "$GW" "$ANY")
	[ "$r" != connected ] && pk_ok "from-$tag-host-listener-refused" || pk_fail "from-$tag-host-listener-refused" "$r"
	r=$(probe "$src" "$GW" 1)
	[ "$r" = refused ] && pk_ok "from-$tag-gateway-other-port-rejected" || pk_fail "from-$tag-gateway-other-port-rejected" "$r"
	r=$(probe "$src" "$HOSTEND" 6379)
	[ "$r" != connected ] && pk_ok "from-$tag-production-gateway-refused" || pk_fail "from-$tag-production-gateway-refused" "$r"
	if ip netns exec "pk-$DBG" ping -c 1 -W 1 -I "$src" "$GW" >/dev/null 2>&1; then
		pk_fail "from-$tag-ping-gateway-refused" "answered"
	else
		pk_ok "from-$tag-ping-gateway-refused"
	fi
	# production's service IP is the clone's own: it answers, production is not reached
	pk_expect_eq "from-$tag-service-ip-is-the-clone" \
		"$(ip netns exec "pk-$DBG" redis-cli -h "$IP" EXISTS only:prod)" 0
	# --agg: the backend address leads to the debug port; the debug port itself is open
	pk_expect_eq "from-$tag-agg-backend-reaches-debug-port" "$(probe "$src" "$HOSTEND" "$BPORT")" connected
	pk_expect_eq "from-$tag-agg-debug-port-open" "$(probe "$src" "$GW" "$DPORT")" connected
done
pk_expect_eq host-listener-never-reached "$(MGMT_ACCEPTS "$ANY")" 0
pk_expect_eq agg-connections-from-mgmt "$(grep -c "^$DPORT $MGMT\$" "$PK_TMP/accepts") $(MGMT_ACCEPTS "$DPORT")" "4 4"
pk_expect_eq production-saw-no-clone-packet "$(prod_foreign)" 0
B1=$(blocked)
[ "$B1" -gt "$B0" ] && pk_ok firewall-counts-blocked || pk_fail firewall-counts-blocked "blocked_packets $B0 -> $B1"
echo "# blocked_packets after the probes: $B1"
pk_expect_eq host-reaches-clone "$(redis-cli -h "$MGMT" PING)" PONG
pk_expect_eq clone-link-no-ipv6 "$(ip -n "pk-$DBG" -6 -o addr show dev eth0 | wc -l)" 0
# The host's side holds alone: with the clone's own chains emptied, still nothing gets through.
ip netns exec "pk-$DBG" iptables -w -F pk-out
ip netns exec "pk-$DBG" iptables -w -F pk-in
B1=$(blocked) # the host's side only, now
for src in "$IP" "$MGMT"; do
	tag=$([ "$src" = "$IP" ] && echo service || echo mgmt)
	r=$(probe "$src" "$GW" "$ANY")
	[ "$r" != connected ] && pk_ok "host-side-alone-$tag-refused" || pk_fail "host-side-alone-$tag-refused" "$r"
	ip netns exec "pk-$DBG" ping -c 1 -W 1 -I "$src" "$GW" >/dev/null 2>&1 &&
		pk_fail "host-side-alone-$tag-ping" "answered" || pk_ok "host-side-alone-$tag-ping"
done
pk_expect_eq host-side-alone-listener-never-reached "$(MGMT_ACCEPTS "$ANY")" 0
pk_expect_eq host-side-alone-production-saw-nothing "$(prod_foreign)" 0
pk_expect_eq host-side-alone-host-reaches-clone "$(redis-cli -h "$MGMT" PING)" PONG
B2=$(blocked)
[ "$B2" -gt "$B1" ] && pk_ok host-side-counts || pk_fail host-side-counts "blocked_packets $B1 -> $B2"

# --mem and --cpus override production's limits.
if "$PK_BIN" clone "$PROD" "$DBG2" --mem 128M --cpus 0.5 --json >"$PK_TMP/clone2.json" 2>"$PK_TMP/clone2.err"; then
	pk_ok clone-with-limits
else
	pk_fail clone-with-limits "$(cat "$PK_TMP/clone2.err")"
	exit 1
fi
C2=$(pid_of "$DBG2")
pk_expect_eq clone-mem-override "$(cgfile "$C2" memory memory.limit_in_bytes)" $((128 << 20))
pk_expect_eq clone-cpus-override "$(cgfile "$C2" cpu cpu.cfs_quota_us)/$(cgfile "$C2" cpu cpu.cfs_period_us)" 50000/100000
pk_expect_eq production-limits-unchanged "$(cgfile "$PPID_" memory memory.limit_in_bytes) $(cgfile "$PPID_" cpu cpu.cfs_quota_us)" "$((256 << 20)) 30000"
if [ "$(cg "$C2" memory)" != "$(cg "$CPID" memory)" ]; then pk_ok clones-apart; else pk_fail clones-apart "both clones in $(cg "$C2" memory)"; fi
pk_expect_error mem-too-small 2 "is not a size" "$PK_BIN" clone "$PROD" "$P-x" --mem 1K
pk_expect_error cpus-bad 2 "not a number of CPUs" "$PK_BIN" clone "$PROD" "$P-x" --cpus lots

# Removing a clone removes its cgroups.
CGDIRS="/sys/fs/cgroup/freezer$(cg "$C2" freezer) /sys/fs/cgroup/memory$(cg "$C2" memory)"
pk_check rm-clone "$PK_BIN" container rm "$DBG2"
left=""
for d in $CGDIRS; do [ -e "$d" ] && left+=" $d"; done
[ -z "$left" ] && pk_ok rm-removes-cgroups || pk_fail rm-removes-cgroups "left:$left"
pk_check rm-clone1 "$PK_BIN" container rm "$DBG"
pk_check rm-production "$PK_BIN" container rm "$PROD"
pk_no_debris rm-no-debris "$PROD" "$DBG" "$DBG2" "$P-x"
