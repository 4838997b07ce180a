#!/usr/bin/env bash
# Installs everything Parikshan needs to build, test, benchmark and demo, with apt-get only.
# Idempotent: packages already present are skipped, and apt is not touched when nothing is missing.
# Order matters (see docs/ARCHITECTURE.md): all bookworm packages first, CRIU (from sid) last.
set -euo pipefail

# Build and test tools and libraries (bookworm).
BOOKWORM_PKGS=(
	build-essential make gcc pkg-config
	libxxhash-dev libpcap-dev libcjson-dev
	redis-server redis-tools nginx-light haproxy socat wrk
	iproute2 procps psmisc curl python3 clang-format
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
	for svc in redis-server nginx haproxy; do
		if command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null; then
			systemctl stop "$svc" || true
			systemctl disable "$svc" 2>/dev/null || true
		fi
	done
else
	echo "deps: all packages present"
fi
