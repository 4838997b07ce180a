#!/usr/bin/env bash
# Issue 9 item 5: `clone --to` against an agent that answers incomplete or malformed messages
# (a fake agent on 127.0.0.1, tests/tools/pk-fakeagent.py): one clear error line and exit 1,
# never a crash (before the fix, a prepare answer of {"ok":true} dereferenced a NULL field).
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (runc container)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state
mkdir -p "$PARIKSHAN_STATE_DIR"
PROD=pk-test-fa$$ IP=10.77.216.2
cleanup_all() {
	"$PK_BIN" container rm "$PROD" >/dev/null 2>&1
	pk_cleanup
}
trap cleanup_all EXIT

pk_check container-run "$PK_BIN" container run "$PROD" --rootfs / --ip "$IP/24" -- sleep 600 || exit 1
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PK_TMP/token"

SCENARIOS=(hello-bare hello-garbage auth-ok-number prepare-bare prepare-badport prepare-nomgmt)
pk_bg fakeagent python3 "$PK_ROOT/tests/tools/pk-fakeagent.py" "$PK_TMP/agent.port" "${SCENARIOS[@]}"
pk_wait_file "$PK_TMP/agent.port" 30 || { echo "fake agent log: $(cat "$PK_TMP/fakeagent.log")"; exit 1; }
PORT=$(cat "$PK_TMP/agent.port")

declare -A WANT=(
	[hello-bare]="no parikshan agent greeting"
	[hello-garbage]="no parikshan agent greeting"
	[auth-ok-number]="agent: refused"
	[prepare-bare]="incomplete answer to prepare: no valid 'rsync_port'"
	[prepare-badport]="incomplete answer to prepare: no valid 'rsync_port'"
	[prepare-nomgmt]="incomplete answer to prepare: no valid 'mgmt'"
)
for s in "${SCENARIOS[@]}"; do
	pk_expect_error "$s" 1 "${WANT[$s]}" "$PK_BIN" clone "$PROD" "$PROD-x" \
		--to "127.0.0.1:$PORT" --token "$PK_TMP/token"
done
pk_expect_eq nothing-made "$(ls "$PARIKSHAN_STATE_DIR" | grep -c -- "$PROD-x")" 0
