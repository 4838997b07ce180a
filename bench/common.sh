# bench/common.sh — what the bench scripts share, sourced by them: the parikshan binary and
# the tools a script needs checked, a scratch directory, and the cleanup of the processes it
# started (their pids in PIDS) when it exits, however it exits.
#   bench_init NAME TOOL...  checks PK_BIN and the tools (exit 1 with one line when missing),
#                            makes TMP (/tmp/pk-bench-NAME.XXXXXX), sets PIDS=() and the traps
#   bench_switches PKBIN TARGET OUT
#                            TARGET (an iprobe-spin build) looping on 64 threads at nice 19;
#                            SWITCHES enables of every probe by PKBIN, each followed by a
#                            disable; the enables' output lines in OUT
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/wait.sh" # pk_poll: waits with a deadline

bench_cleanup() {
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}

bench_init() {
	local name=$1 t
	shift
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "$name.sh: missing $t (run scripts/deps.sh)" >&2; exit 1; }
	done
	[ -x "$PK_BIN" ] || { echo "$name.sh: $PK_BIN not built (make)" >&2; exit 1; }
	TMP=$(mktemp -d "/tmp/pk-bench-$name.XXXXXX")
	PIDS=()
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_switches() {
	local bin=$1 target=$2 out=$3 pid i
	nice -n 19 "$target" loop 64 >"$TMP/switch-spin.out" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	pk_poll 30 grep -q '^ready' "$TMP/switch-spin.out" || { echo "bench: $target did not start" >&2; exit 1; }
	for ((i = 0; i < SWITCHES; i++)); do
		"$bin" probe enable --pid "$pid" '*' || exit 1
		"$bin" probe disable --pid "$pid" >/dev/null || exit 1
	done >"$out"
	kill -TERM "$pid"
	wait "$pid"
	grep -q 'errors 0' "$TMP/switch-spin.out" || { echo "bench: $target reported errors" >&2; exit 1; }
}
