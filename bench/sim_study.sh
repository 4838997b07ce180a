#!/usr/bin/env bash
# bench/sim_study.sh — the original study's MySQL debug-window rows (its Table 3.1) again with
# `parikshan sim`: prints the Markdown table of docs/WINDOW.md (the study's window beside the
# simulator's for seed 1, the mean and 10th–90th percentiles over 100 seeds, and the fluid and
# M/M/1/K predictions) and writes the two plots docs/window-const.svg, docs/window-poisson.svg.
#
#   bench/sim_study.sh [BIN]      BIN: the parikshan binary (default build/release/parikshan)
#
# Assumptions (docs/WINDOW.md says why): 24 bytes per request (`select * from table` as a MySQL
# COM_QUERY packet), a debug server serving 50 requests/s before the slowdown; constant input
# with constant service times, Poisson input with exponential ones.  Deterministic: the same
# binary prints the same table.  Needs python3 (statistics over the seeds), nothing else.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/release/parikshan}
SIZE=24
MU=50
SEEDS=100
[ -x "$BIN" ] || {
	echo "sim_study.sh: $BIN not built (make)" >&2
	exit 1
}

# arrival rate service buffer slowdown study-window
ROWS="const 27 const 4K 1.8 none
const 27 const 4K 3 8
const 27 const 16K 3 72
poisson 17 exp 4K 8 16
poisson 17 exp 4K 5 18
poisson 17 exp 64K 3.2 none
poisson 17 exp 16K 3.2 376"

echo "| input | buffer | slowdown | study | sim, seed 1 | sim, $SEEDS seeds: mean (p10–p90) | fluid | M/M/1/K |"
echo "|---|---|---|---|---|---|---|---|"
echo "$ROWS" | while read -r arrival rate service buffer slowdown study; do
	python3 - "$BIN" "$arrival" "$rate" "$service" "$buffer" "$slowdown" "$study" "$SIZE" "$MU" "$SEEDS" <<'EOF'
import json, statistics, subprocess, sys
b, arrival, rate, service, buf, sd, study, size, mu, seeds = sys.argv[1:]
def run(seed):
    return json.loads(subprocess.check_output(
        [b, "sim", "--arrival", arrival, "--rate", rate, "--request-size", size,
         "--service-rate", mu, "--service", service, "--slowdown", sd, "--buffer", buf,
         "--seed", str(seed), "--json"]))
fmt = lambda s: "none" if s is None else "%.0f s" % s if s >= 100 else "%.1f s" % s
runs = [run(s) for s in range(1, int(seeds) + 1)]
ws = sorted(r["window_s"] for r in runs if r["window_s"] is not None)
none = len(runs) - len(ws)
if arrival == "const" and service == "const":
    spread = "the same for every seed"
elif not ws:
    spread = "none"
else:
    n = len(ws)
    spread = "%s (%s–%s)" % (fmt(statistics.mean(ws)), fmt(ws[n // 10]), fmt(ws[n * 9 // 10]))
    if none:
        spread += ", none in %d" % none
first = runs[0]
name = ("%s req/s constant" if arrival == "const" else "Poisson λ=%s req/s") % rate
print("| %s | %sB | %s× | %s | %s | %s | %s | %s |" % (
    name, buf.replace("K", " Ki"), sd, study if study == "none" else study + " s",
    fmt(first["window_s"]), spread, fmt(first["fluid_s"]), fmt(first["mm1k_s"])))
EOF
done

"$BIN" sim --arrival const --rate 27 --request-size $SIZE --service-rate $MU --service const \
	--slowdown 1.5,1.8,2,2.2,2.5,3,3.5,4,5,6,8 --buffer 4K,16K,64K \
	--svg "$ROOT/docs/window-const.svg" >/dev/null
"$BIN" sim --arrival poisson --rate 17 --request-size $SIZE --service-rate $MU --service exp \
	--slowdown 1.5,2,2.5,2.8,3,3.2,3.5,4,5,6,8 --buffer 4K,16K,64K \
	--svg "$ROOT/docs/window-poisson.svg" >/dev/null
echo
echo "plots: docs/window-const.svg docs/window-poisson.svg"
