# pk-docker.sh — a Docker daemon of a test's own, sourced by the tests that clone Docker
# containers (after lib.sh).  Debian's docker.io (scripts/deps.sh) is started by hand: its data
# under $PK_TMP, its sockets under /run/pkd<pid>*, its default bridge one the test makes
# (pk-test-dbr<n>, 172.31.250.0/24), its iptables rules as dockerd makes them on any host (FORWARD
# policy DROP, DOCKER chains, published ports DNATed): the firewall and ip_forward are put back
# as they were by pk_docker_stop (the EXIT trap's business).
#
#   pk_docker_start          starts it (ok/fail "dockerd"); exports DOCKER_HOST; false on failure
#   pk_docker_stop           removes its containers, stops it, puts the host back (idempotent)
#   pk_docker_image TAG      imports a staged root filesystem with redis-server as image TAG
#   pk_docker_ip NAME        prints container NAME's IPv4 address

PK_DOCKER_SUBNET=172.31.250
PK_DOCKER_BR=pk-test-dbr$(($$ % 1000))
PK_DOCKER_RUN=/run/pkd$$

pk_docker_start() {
	local f
	for f in dockerd containerd docker; do
		command -v "$f" >/dev/null || { pk_fail dockerd "$f not installed (scripts/deps.sh installs docker.io)"; return 1; }
	done
	iptables-save >"$PK_TMP/iptables.before" && ip6tables-save >"$PK_TMP/ip6tables.before" ||
		{ pk_fail dockerd "cannot save the firewall"; return 1; }
	cat /proc/sys/net/ipv4/ip_forward >"$PK_TMP/ip_forward.before"
	PK_DOCKER_STARTED=1
	ip link add "$PK_DOCKER_BR" type bridge && ip addr add "$PK_DOCKER_SUBNET.1/24" dev "$PK_DOCKER_BR" &&
		ip link set "$PK_DOCKER_BR" up || { pk_fail dockerd "bridge $PK_DOCKER_BR"; return 1; }
	mkdir -p "$PK_TMP/docker" "$PK_DOCKER_RUN"
	export DOCKER_HOST=unix://$PK_DOCKER_RUN.sock
	pk_bg dockerd dockerd --data-root "$PK_TMP/docker" --exec-root "$PK_DOCKER_RUN" \
		-H "$DOCKER_HOST" --pidfile "$PK_DOCKER_RUN.pid" --bridge "$PK_DOCKER_BR" \
		--log-level warn
	PK_DOCKERD=$PK_LAST_PID
	pk_wait_for "dockerd at $DOCKER_HOST" 60 docker info || {
		pk_fail dockerd "$(tail -n 5 "$PK_TMP/dockerd.log")"
		return 1
	}
	pk_ok dockerd
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
	grep -oE " ($PK_TMP/docker|$PK_DOCKER_RUN)[^ ]*" /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf "$PK_DOCKER_RUN" "$PK_DOCKER_RUN.sock" "$PK_DOCKER_RUN.pid"
	ip link del "$PK_DOCKER_BR" 2>/dev/null
	[ -s "$PK_TMP/iptables.before" ] && iptables-restore <"$PK_TMP/iptables.before"
	[ -s "$PK_TMP/ip6tables.before" ] && ip6tables-restore <"$PK_TMP/ip6tables.before"
	[ -s "$PK_TMP/ip_forward.before" ] && cat "$PK_TMP/ip_forward.before" >/proc/sys/net/ipv4/ip_forward
	return 0
}

# pk_docker_image TAG: a root filesystem of redis-server and /bin/sh with the libraries they
# load (ldd), imported with `docker import` (no registry).
pk_docker_image() {
	local root=$PK_TMP/image-root bin lib
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
