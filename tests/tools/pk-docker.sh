# pk-docker.sh — a Docker daemon of one's own, for the tests and the bench that clone Docker
# containers (sourced after tests/integration/wait.sh).  Debian's docker.io (scripts/deps.sh) is
# started by hand: its data under a directory of the caller's, its sockets under /run/pkd<pid>*,
# its default bridge one made here (pk-test-dbr<n>, 172.31.250.0/24), its iptables rules as
# dockerd makes them on any host (FORWARD policy DROP, DOCKER chains, published ports DNATed):
# the firewall and ip_forward are put back as they were by pk_docker_stop (the caller's EXIT
# trap runs it).
#
#   pk_docker_start DIR [ARGS...]  starts dockerd (ARGS added), data in DIR; exports DOCKER_HOST;
#                                  false with the reason in PK_DOCKER_ERR
#   pk_docker_stop                 removes its containers, stops it, puts the host back
#   pk_docker_image TAG DIR        imports a root of redis-server and /bin/sh (staged in DIR)
#   pk_docker_ip NAME              prints container NAME's IPv4 address
#   pk_docker_routed ADDR          true when ADDR is routed into the bridge (never elsewhere)
#   pk_docker_addr NAME            NAME's address into PK_DOCKER_ADDR, routed into the bridge;
#                                  false with the reason (none, or routed elsewhere) in PK_DOCKER_ERR

PK_DOCKER_SUBNET=172.31.250
PK_DOCKER_BR=pk-test-dbr$(($$ % 1000))
PK_DOCKER_RUN=/run/pkd$$

pk_docker_start() {
	local dir=$1 f
	shift
	for f in dockerd containerd docker; do
		command -v "$f" >/dev/null ||
			{ PK_DOCKER_ERR="$f not installed (scripts/deps.sh installs docker.io)"; return 1; }
	done
	mkdir -p "$dir/data" "$PK_DOCKER_RUN"
	PK_DOCKER_DIR=$dir
	iptables-save >"$dir/iptables.before" && ip6tables-save >"$dir/ip6tables.before" ||
		{ PK_DOCKER_ERR="cannot save the firewall"; return 1; }
	cat /proc/sys/net/ipv4/ip_forward >"$dir/ip_forward.before"
	PK_DOCKER_STARTED=1
	ip link add "$PK_DOCKER_BR" type bridge && ip addr add "$PK_DOCKER_SUBNET.1/24" dev "$PK_DOCKER_BR" &&
		ip link set "$PK_DOCKER_BR" up || { PK_DOCKER_ERR="cannot make bridge $PK_DOCKER_BR"; return 1; }
	export DOCKER_HOST=unix://$PK_DOCKER_RUN.sock
	dockerd --data-root "$dir/data" --exec-root "$PK_DOCKER_RUN" -H "$DOCKER_HOST" \
		--pidfile "$PK_DOCKER_RUN.pid" --bridge "$PK_DOCKER_BR" --log-level warn "$@" \
		>"$dir/dockerd.log" 2>&1 &
	PK_DOCKERD=$!
	pk_poll 60 docker info ||
		{ PK_DOCKER_ERR="dockerd did not answer at $DOCKER_HOST: $(tail -n 3 "$dir/dockerd.log")"; return 1; }
}

# pk_fw_restore iptables|ip6tables FILE: the firewall back to what FILE (its -save output from
# before) held: every table it had as it was, and every table made since (a fresh host has none
# until dockerd makes filter and nat) emptied, its built-in chains accepting.
pk_fw_restore() {
	local now t
	[ -f "$2" ] || return 0
	now=$("$1-save") || return 1
	{
		cat "$2"
		for t in $(sed -n 's/^\*//p' <<<"$now"); do
			grep -qx "\*$t" "$2" && continue
			echo "*$t"
			awk -v t="$t" '/^\*/ { in_t = ($0 == "*" t) } in_t && /^:/ && $2 != "-" { print $1 " ACCEPT [0:0]" }' <<<"$now"
			echo COMMIT
		done
	} | "$1-restore"
}

pk_docker_stop() {
	[ -n "${PK_DOCKER_STARTED:-}" ] || return 0
	PK_DOCKER_STARTED=
	if [ -n "${PK_DOCKERD:-}" ] && kill -0 "$PK_DOCKERD" 2>/dev/null; then
		docker ps -aq 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1
		kill -TERM "$PK_DOCKERD" 2>/dev/null
		pk_poll 30 pk_gone "$PK_DOCKERD" || kill -KILL "$PK_DOCKERD" 2>/dev/null
	fi
	# what dockerd and its containerd may leave: shims, mounts under the data and exec roots
	pkill -f "containerd-shim-runc-v2 .*$PK_DOCKER_RUN" 2>/dev/null
	grep -oE " ($PK_DOCKER_DIR/data|$PK_DOCKER_RUN)[^ ]*" /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf "$PK_DOCKER_RUN" "$PK_DOCKER_RUN.sock" "$PK_DOCKER_RUN.pid" "$PK_DOCKER_DIR/data"
	ip link del "$PK_DOCKER_BR" 2>/dev/null
	pk_fw_restore iptables "$PK_DOCKER_DIR/iptables.before"
	pk_fw_restore ip6tables "$PK_DOCKER_DIR/ip6tables.before"
	[ -s "$PK_DOCKER_DIR/ip_forward.before" ] &&
		cat "$PK_DOCKER_DIR/ip_forward.before" >/proc/sys/net/ipv4/ip_forward
	return 0
}

# pk_docker_image TAG DIR: a root filesystem of redis-server and /bin/sh with the libraries they
# load (ldd), staged in DIR, imported with `docker import` (no registry).
pk_docker_image() {
	local root=$2/image-root bin lib
	mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/data"
	for bin in "$(command -v redis-server)" /bin/sh; do
		cp -L "$bin" "$root/bin/"
		for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
			mkdir -p "$root$(dirname "$lib")"
			cp -nL "$lib" "$root$lib"
		done
	done
	tar -C "$root" -c . | docker import - "$1" >/dev/null
}

pk_docker_ip() {
	docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"
}

pk_docker_routed() {
	[ -n "$1" ] && ip route get "$1" 2>/dev/null | grep -q " dev $PK_DOCKER_BR"
}

pk_docker_addr() {
	PK_DOCKER_ADDR=$(pk_docker_ip "$1")
	if [ -z "$PK_DOCKER_ADDR" ]; then
		PK_DOCKER_ERR="$1 has no address: $(docker ps -a --filter name="$1" --format '{{.Status}}'); $(docker logs "$1" 2>&1 | tail -n 3)"
		return 1
	fi
	pk_docker_routed "$PK_DOCKER_ADDR" && return 0
	PK_DOCKER_ERR="$1's address $PK_DOCKER_ADDR is not routed into $PK_DOCKER_BR: not sending anything"
	return 1
}
