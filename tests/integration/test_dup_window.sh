#!/usr/bin/env bash
# Issue 10, acceptance 5: the live debug window.  A client sends at a constant rate through
# `dup` to a clone that reads at a constant, slower rate; once the kernel's socket buffers are
# full, dup's buffer grows at (arrival - drain).  When the buffer is a quarter full, the window
# dup predicts (status: window_s) must put the overflow within 25% of when it really comes.
# The expectation is the proxy's own measured rates, not wall-clock assumptions: the check is
# that the prediction, made at one moment, matches the overflow observed later.
. "$(dirname "$0")/lib.sh"

PACED=$PK_ROOT/tests/tools/pk-paced.py
PROD=$(pk_free_port) DBG=$(pk_free_port) FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
ARRIVAL=1000000 DRAIN=250000 BUF=8M

pk_bg prod "$PK_TOOLS/pk-tcpload" echo --port "$PROD" --no-echo --timeout 120
pk_bg dbg python3 "$PACED" sink "$DBG" "$DRAIN"
pk_wait_port "$PROD" && pk_wait_port "$DBG" || { pk_fail setup "servers did not start"; exit 1; }
pk_dup dup -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG" -b "$BUF" \
	--admin "$ADMIN" --window-warn 30
DUP=$PK_LAST_PID

# Without a connection there is no predicted overflow: null in the document, ∞ in the table.
doc=$(curl -s --max-time 3 "http://127.0.0.1:$ADMIN/status.json")
pk_expect_eq idle-window-null "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["targets"][0]["window_s"])' <<<"$doc")" None
table=$("$PK_BIN" status --admin "127.0.0.1:$ADMIN" 2>&1)
if grep -q WINDOW <<<"$table" && grep -q '∞' <<<"$table"; then pk_ok idle-window-table; else pk_fail idle-window-table "$table"; fi
if curl -s --max-time 3 "http://127.0.0.1:$ADMIN/metrics" | grep -q '^parikshan_debug_window_seconds{target="127.0.0.1:'"$DBG"'"} +Inf$'; then
	pk_ok idle-window-metric
else
	pk_fail idle-window-metric "$(curl -s "http://127.0.0.1:$ADMIN/metrics" | grep window)"
fi

pk_bg client python3 "$PACED" send "$FRONT" "$ARRIVAL" 1000 90

# Watch the status document: take the prediction when the buffer is a quarter full, then
# wait (deadline) for the first overflow; print both.
result=$(timeout 120 python3 - "$ADMIN" <<'PY'
import json, sys, time, urllib.request
admin = sys.argv[1]
def doc():
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/status.json", timeout=3) as r:
        return json.load(r)["targets"][0]
cap = 8 << 20
deadline = time.monotonic() + 100
pred = None
while time.monotonic() < deadline:
    t = doc()
    now = time.monotonic()
    if t["overflows"] > 0:
        if pred is None:
            print("overflow before a prediction", json.dumps(t)); sys.exit(1)
        print(f"predicted={pred[1]:.2f} measured={now - pred[0]:.2f} arrival={pred[2]} drain={pred[3]}")
        sys.exit(0)
    if pred is None and t["buffer_bytes"] >= cap // 4 and t["window_s"] is not None:
        pred = (now, t["window_s"], t["arrival_bytes_per_s"], t["drain_bytes_per_s"])
    time.sleep(0.05)  # the polling period of this watcher, not synchronisation
print("no overflow within 100 s"); sys.exit(1)
PY
)
echo "# $result"
read -r predicted measured arrival drain < <(sed -E 's/[a-z]+=//g' <<<"$result")
if [[ $result == predicted=* ]] && awk -v p="$predicted" -v m="$measured" 'BEGIN { d = m - p; if (d < 0) d = -d; exit !(d <= 0.25 * p) }'; then
	pk_ok window-within-25pct
else
	pk_fail window-within-25pct "$result"
fi
# The rates it measured are the ones the client and the clone run at (generous bounds).
if [[ $result == predicted=* ]] && awk -v a="$arrival" -v d="$drain" -v A="$ARRIVAL" -v D="$DRAIN" \
	'BEGIN { exit !(a > 0.7 * A && a < 1.3 * A && d > 0.5 * D && d < 2 * D) }'; then
	pk_ok rates-measured
else
	pk_fail rates-measured "$result"
fi
pk_check window-warn-logged pk_wait_log "$PK_TMP/dup.log" "debug window target=127.0.0.1:$DBG: a buffer overflows in" 5
pk_check overflow-desynced pk_wait_metric_ge "$ADMIN" parikshan_debug_desyncs_total 1 10
kill "$PK_LAST_PID" 2>/dev/null
pk_stop_clean dup "$DUP"
