# bench/common.sh — what the bench scripts share, sourced by them: the parikshan binary and
# the tools a script needs checked, a scratch directory, and the cleanup of the processes it
# started (their pids in PIDS) when it exits, however it exits.
#   bench_init NAME TOOL...  checks PK_BIN and the tools (exit 1 with one line when missing),
#                            makes TMP (/tmp/pk-bench-NAME.XXXXXX), sets PIDS=() and the traps
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
