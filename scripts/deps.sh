#!/usr/bin/env bash
# Installs everything Parikshan needs to build, test, benchmark and demo, with apt-get only.
# Idempotent: packages already present are skipped, and apt is not touched when nothing is missing.
# Order matters (see docs/ARCHITECTURE.md): all bookworm packages first, CRIU (from sid) last.
set -euo pipefail

# Build and test tools and libraries (bookworm).
BOOKWORM_PKGS=(
	build-essential make gcc pkg-config
	libxxhash-dev libpcap-dev libcjson-dev
	runc iptables rsync
	libbsd-dev libcap-dev libgnutls28-dev libnet1-dev libnftables-dev libnl-3-dev libaio-dev
	libsqlite3-dev libpq-dev postgresql chromium openssl
	libprotobuf-c-dev libprotobuf-dev protobuf-c-compiler protobuf-compiler uuid-dev dpkg-dev
	redis-server redis-tools nginx-light haproxy socat wrk mariadb-server mariadb-client
	iproute2 procps psmisc curl python3 clang-format
	tshark tcpdump sysbench clang-14 libclang-rt-14-dev uthash-dev
	libelf-dev libdw-dev libcapstone-dev uftrace bpftrace
	libjemalloc-dev gdb strace dnsmasq-base bind9-dnsutils memcached libmemcached-tools
	libnetfilter-queue-dev libmnl-dev docker.io
)

missing=()
for p in "${BOOKWORM_PKGS[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	[[ "$st" == ii* ]] || missing+=("$p")
done

if ((${#missing[@]})); then
	if [ "$(id -u)" -ne 0 ]; then
		echo "parikshan: deps: missing packages (${missing[*]}): run scripts/deps.sh as root" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
	# Packaged daemons must not keep running on their default ports: tests start their own.
	for svc in redis-server nginx haproxy mariadb postgresql memcached; do
		if command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null; then
			systemctl stop "$svc" || true
			systemctl disable "$svc" 2>/dev/null || true
		fi
	done
else
	echo "deps: all bookworm packages present"
fi

# CRIU >= 4.2, last.  Bookworm's 3.17 fails on this kernel (vDSO) and trixie's 4.1 cannot dump
# inet sockets on kernels >= 6.16; sid's 4.2 binary needs glibc >= 2.38, and moving glibc to
# trixie on an image full of -dev packages cascades into removals.  So: fetch sid's *source*
# package with apt-get (a deb-src entry only: no binary package leaves bookworm), check it
# against the .dsc, build it with bookworm's libraries, install under /usr/local.
CRIU_MIN=4.2
CRIU_SRC_LIST=/etc/apt/sources.list.d/parikshan-sid-src.sources
criu_ok() {
	local v
	v=$(criu --version 2>/dev/null | awk '/^Version:/{print $2}') || true
	dpkg --compare-versions "${v:-0}" ge "$CRIU_MIN" && [ -f /usr/local/include/criu/criu.h ]
}
install_criu() {
	local uri work dsc orig want got
	if criu_ok; then
		echo "deps: criu $(criu --version | awk '/^Version:/{print $2}') present"
		return 0
	fi
	uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null) || true
	[ -n "$uri" ] || uri=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null) || true
	[ -n "$uri" ] || { echo "parikshan: deps: cannot find the Debian mirror in apt sources" >&2; return 1; }
	[ -f "$CRIU_SRC_LIST" ] || cat >"$CRIU_SRC_LIST" <<SRC
Types: deb-src
URIs: ${uri}
Suites: sid
Components: main
Check-Valid-Until: no
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -q
	work=$(mktemp -d /tmp/parikshan-criu.XXXXXX)
	chmod 755 "$work" # apt-get downloads as the _apt user
	# Only the upstream tarball is needed; the Debian diff may be missing on a mirror.
	(cd "$work" && apt-get source --download-only -q criu/sid) || true
	dsc=$(ls "$work"/criu_*.dsc 2>/dev/null | head -1)
	orig=$(ls "$work"/criu_*.orig.tar.* 2>/dev/null | head -1)
	[ -n "$dsc" ] && [ -n "$orig" ] ||
		{ echo "parikshan: deps: apt-get source criu/sid: no source package" >&2; return 1; }
	want=$(awk -v f="$(basename "$orig")" '/^Checksums-Sha256:/{s=1; next} /^[^ ]/{s=0} s && $3==f {print $1}' "$dsc")
	got=$(sha256sum "$orig" | awk '{print $1}')
	[ -n "$want" ] && [ "$want" = "$got" ] ||
		{ echo "parikshan: deps: $(basename "$orig"): checksum does not match the .dsc" >&2; return 1; }
	tar -C "$work" -xf "$orig"
	echo "deps: building $(basename "$orig") (about a minute)"
	make -C "$work"/criu-* -j"$(nproc)" criu lib >"$work/build.log" 2>&1 &&
		make -C "$work"/criu-* install-criu install-lib PREFIX=/usr/local SKIP_PIP_INSTALL=1 \
			>>"$work/build.log" 2>&1 ||
		{ echo "parikshan: deps: building criu failed: see $work/build.log" >&2; return 1; }
	ldconfig
	rm -rf "$work"
	criu_ok || { echo "parikshan: deps: criu still older than $CRIU_MIN after the build" >&2; return 1; }
	echo "deps: $(criu --version | head -1) installed in /usr/local"
}
install_criu
