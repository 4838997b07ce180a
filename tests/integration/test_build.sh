#!/usr/bin/env bash
# The build's shape (issue 9, item 12): each program links only the system libraries of the
# archives it uses (a unit test of the ring or the proxy needs neither libcriu nor gnutls; the
# clone tests and the binary do), no -I names a directory that does not exist, and every
# phony target of the Makefile has a rule.
. "$(dirname "$0")/lib.sh"
cd "$PK_ROOT" || exit 1
BUILD=$(dirname "${PK_BIN#"$PK_ROOT"/}") # build/MODE, relative as the Makefile names it

# needed FILE: the shared libraries FILE names as DT_NEEDED, one a line.
needed() {
	readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

# expect_needs NAME FILE REGEX yes|no: FILE needs (or does not need) a library matching REGEX.
expect_needs() {
	local name=$1 file=$2 re=$3 want=$4 libs
	if [ ! -x "$file" ]; then
		pk_fail "$name" "$file not built"
		return
	fi
	libs=$(needed "$file" | tr '\n' ' ')
	if echo "$libs" | grep -qE "$re"; then
		[ "$want" = yes ] && pk_ok "$name" || pk_fail "$name" "links $libs"
	else
		[ "$want" = no ] && pk_ok "$name" || pk_fail "$name" "does not link $re: $libs"
	fi
}

expect_needs ring-without-criu "$BUILD/tests/test_ring" 'libcriu|libgnutls' no
expect_needs proxy-without-criu "$BUILD/tests/test_proxy" 'libcriu|libgnutls' no
expect_needs clone-test-with-criu "$BUILD/tests/test_container_state" 'libcriu' yes
expect_needs binary-with-criu-and-gnutls "$PK_BIN" 'libcriu.*libgnutls|libgnutls.*libcriu' yes
expect_needs ring-without-sqlite-or-pq "$BUILD/tests/test_ring" 'libsqlite3|libpq' no
expect_needs trace-test-with-sqlite "$BUILD/tests/test_trace_store" 'libsqlite3' yes
expect_needs binary-with-sqlite-and-pq "$PK_BIN" 'libsqlite3.*libpq|libpq.*libsqlite3' yes

# Every -I of the compile line names a directory that exists.
flags=$(make -s --no-print-directory -n -B MODE="$(basename "$BUILD")" "$BUILD/src/common/ring.o" 2>&1 |
	grep -oE -- '-I[^ ]+' | sort -u)
missing=""
for f in $flags; do
	[ -d "${f#-I}" ] || missing="$missing $f"
done
if [ -z "$flags" ]; then
	pk_fail include-dirs-exist "no compile line from make -n"
elif [ -n "$missing" ]; then
	pk_fail include-dirs-exist "missing:$missing"
else
	pk_ok include-dirs-exist
fi

# Every .PHONY target has a rule (a line "name:" or "name: ..." in the Makefile).
norule=""
for t in $(sed -n 's/^\.PHONY://p' Makefile); do
	grep -qE "^$t:" Makefile || norule="$norule $t"
done
pk_expect_eq phony-targets-have-rules "${norule:-none}" none
