#!/usr/bin/env bash
# scripts/redis-iprobe.sh — Redis for iProbe: the redis-server of Debian's own source package,
# the same version as the installed /usr/bin/redis-server, with its own code (src/, not the
# bundled hiredis/lua/linenoise/hdr_histogram) built with -finstrument-functions, then
# cold-patched by parikshan.
#
#   scripts/redis-iprobe.sh [PARIKSHAN]     PARIKSHAN: the binary that cold-patches
#                                           (default build/release/parikshan)
# Writes, under build/redis-iprobe/ (PK_REDIS_IPROBE_DIR):
#   redis-server.instr   built with -finstrument-functions (its calls reach glibc's empty
#                        __cyg_profile_func_enter/exit)
#   redis-server.cold    the same, cold-patched (the probe sites are NOPs)
#   build.log, version, build-seconds
# Idempotent and cached: the source package (.dsc and tarballs) is kept in
# ${PK_CACHE:-~/.cache/parikshan}/redis-src/ (it survives `make clean`), the build is redone only
# when the version or the flags change, the cold patch only when PARIKSHAN is newer than it.
# A second run takes well under a second and touches neither apt nor the network.
#
# Fetching uses apt-get only: a deb-src entry for bookworm (and bookworm-updates and -security,
# from the same mirrors as the binary entries) is added when apt does not know the version, the
# way scripts/deps.sh adds sid's for CRIU; dpkg-source checks the files against the .dsc and
# applies Debian's patches.  The flags are the package's (dpkg-buildflags with
# hardening=+all, system jemalloc); only TLS and systemd support are left out (not needed here,
# and they would need more -dev packages).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PK=${1:-$ROOT/build/release/parikshan}
OUT=${PK_REDIS_IPROBE_DIR:-$ROOT/build/redis-iprobe}
CACHE=${PK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parikshan}/redis-src
SRC_LIST=/etc/apt/sources.list.d/parikshan-bookworm-src.sources
JOBS=$(nproc)

say() { echo "redis-iprobe: $*"; }
die() {
	echo "parikshan: redis-iprobe: $*" >&2
	exit 1
}

[ -x "$PK" ] || die "$PK not built (make)"
mkdir -p "$OUT" "$CACHE"
exec 9>"$OUT/.lock"
flock 9 # two runs at once: the second waits and then finds everything done

# The version: the installed redis-server's, so that the benchmarks compare like with like.
VERSION=${PK_REDIS_VERSION:-$(dpkg-query -W -f='${Version}' redis-server 2>/dev/null || true)}
[ -n "$VERSION" ] || die "redis-server is not installed (run scripts/deps.sh) and PK_REDIS_VERSION is not set"
UPSTREAM=${VERSION#*:}  # 5:7.0.15-1~deb12u10 -> 7.0.15-1~deb12u10
DSC=$CACHE/redis_$UPSTREAM.dsc

# add_src_list: a deb-src twin of every bookworm entry of debian.sources (same mirrors).
add_src_list() {
	local main sec
	main=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null) || true
	[ -n "$main" ] || main=$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null) || true
	sec=$(awk '/^URIs:/ && $2 ~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null) || true
	[ -n "$sec" ] || sec=$(awk '$1=="deb" && $2 ~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null) || true
	[ -n "$main" ] || die "cannot find the Debian mirror in apt sources"
	say "adding $SRC_LIST (deb-src for bookworm main)"
	{
		printf 'Types: deb-src\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n' "$main"
		printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
		if [ -n "$sec" ]; then
			printf '\nTypes: deb-src\nURIs: %s\nSuites: bookworm-security\nComponents: main\n' "$sec"
			printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
		fi
	} >"$SRC_LIST"
}

fetch_source() {
	local work known
	[ -f "$DSC" ] && return 0
	[ "$(id -u)" -eq 0 ] || die "the source of redis $VERSION is not cached in $CACHE: run as root once (apt-get source)"
	known=$(apt-cache showsrc redis 2>/dev/null || true) # not piped into grep -q: pipefail
	if ! grep -qxF "Version: $VERSION" <<<"$known"; then
		[ -f "$SRC_LIST" ] || add_src_list
		say "apt-get update"
		apt-get update -q >"$OUT/apt.log" 2>&1 || die "apt-get update failed: see $OUT/apt.log"
	fi
	work=$(mktemp -d "$CACHE/fetch.XXXXXX")
	chmod 755 "$work" # apt-get downloads as the _apt user
	say "apt-get source redis=$VERSION"
	(cd "$work" && apt-get source --download-only -q "redis=$VERSION") >>"$OUT/apt.log" 2>&1 ||
		{ rm -rf "$work"; die "apt-get source redis=$VERSION failed: see $OUT/apt.log"; }
	# the .dsc last: its presence means the whole package is here
	mv "$work"/*.tar.* "$CACHE"/
	mv "$work"/*.dsc "$CACHE"/
	rm -rf "$work"
	[ -f "$DSC" ] || die "apt-get source gave no $(basename "$DSC")"
}

# The build's inputs; a change rebuilds.
flags() {
	DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get "$1"
}
BUILD_ARGS=(USE_SYSTEMD=no BUILD_TLS=no USE_JEMALLOC=yes USE_SYSTEM_JEMALLOC=yes
	"CFLAGS=$(flags CFLAGS)" "CPPFLAGS=$(flags CPPFLAGS)" "LDFLAGS=$(flags LDFLAGS)"
	REDIS_CFLAGS=-finstrument-functions)
STAMP="$VERSION ${BUILD_ARGS[*]}"

build() {
	local src=$OUT/src t0 t1
	if [ -x "$OUT/redis-server.instr" ] && [ "$(cat "$OUT/version" 2>/dev/null)" = "$STAMP" ]; then
		say "redis-server $VERSION (instrumented) cached: $OUT/redis-server.instr"
		return 0
	fi
	[ -f /usr/include/jemalloc/jemalloc.h ] || die "libjemalloc-dev is missing (run scripts/deps.sh)"
	fetch_source
	rm -rf "$src" "$OUT/redis-server.instr" "$OUT/redis-server.cold" "$OUT/version"
	say "unpacking $(basename "$DSC") (dpkg-source checks it against the .dsc)"
	dpkg-source --no-copy -x "$DSC" "$src" >"$OUT/build.log" 2>&1 || die "dpkg-source -x failed: see $OUT/build.log"
	say "building redis-server with -finstrument-functions on src/ (make -j$JOBS; a few minutes)"
	t0=$(date +%s)
	# REDIS_CFLAGS reaches src/ only; CFLAGS also reaches the bundled deps (not instrumented).
	make -C "$src/src" -j"$JOBS" redis-server "${BUILD_ARGS[@]}" >>"$OUT/build.log" 2>&1 ||
		die "building redis failed: see $OUT/build.log"
	t1=$(date +%s)
	cp "$src/src/redis-server" "$OUT/redis-server.instr.tmp"
	mv "$OUT/redis-server.instr.tmp" "$OUT/redis-server.instr"
	echo $((t1 - t0)) >"$OUT/build-seconds"
	echo "$STAMP" >"$OUT/version"
	say "built in $((t1 - t0)) s"
}

coldpatch() {
	if [ "$OUT/redis-server.cold" -nt "$OUT/redis-server.instr" ] && [ "$OUT/redis-server.cold" -nt "$PK" ]; then
		say "cold-patched redis-server cached: $OUT/redis-server.cold"
		return 0
	fi
	say "cold-patching: $PK coldpatch redis-server.instr -o redis-server.cold"
	"$PK" coldpatch "$OUT/redis-server.instr" -o "$OUT/redis-server.cold" >"$OUT/coldpatch.log" 2>&1 ||
		die "coldpatch failed: $(tail -n 3 "$OUT/coldpatch.log")"
	say "$(tail -n 1 "$OUT/coldpatch.log")"
}

build
coldpatch
