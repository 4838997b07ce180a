#!/usr/bin/env bash
# Acceptance 5: with -b 64K --spill, a debug target paused for a while and then resumed still
# ends with production's digest (nothing dropped), while the proxy's memory stays bounded:
# the bytes parked on disk far exceed what the proxy ever held in RAM.
. "$(dirname "$0")/lib.sh"

PROD=$(pk_free_port) DBG=$(pk_free_port) FRONT=$(pk_free_port) ADMIN=$(pk_free_port)
pk_redis prod "$PROD" && pk_redis dbg "$DBG" || { pk_fail setup "redis-server did not start"; exit 1; }
DBG_PID=$PK_LAST_PID
mkdir -p "$PK_TMP/spill"
pk_dup dup -l "$FRONT" -x 127.0.0.1 -p "$PROD" -m 127.0.0.1 -d "$DBG" -b 64K \
	--spill "$PK_TMP/spill" --spill-max 1G --admin "$ADMIN"
DUP=$PK_LAST_PID
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

# Warm up (allocator, sanitizer shadow) before the baseline is taken.
pk_bench "$FRONT" -n 2000 -c 5 -d 4096 -t set >/dev/null 2>&1
base=$(rss_kb "$DUP")
kill -STOP "$DBG_PID"
# 5 connections x 40 MB while the clone sleeps: ~200 MB must wait on disk.
if pk_bench "$FRONT" -n 50000 -c 5 -d 4096 -t set,incr >/dev/null 2>"$PK_TMP/bench.err" &&
	! grep -qi error "$PK_TMP/bench.err"; then
	pk_ok production-completes-while-clone-paused
else
	pk_fail production-completes-while-clone-paused "$(cat "$PK_TMP/bench.err")"
fi
pk_wait_metric_ge "$ADMIN" parikshan_debug_spill_bytes 100000001 30 && pk_ok spilled-to-disk
spilled=$(pk_metric "$ADMIN" parikshan_debug_spill_bytes)
peak=$(hwm_kb "$DUP")
# Bounded memory: the proxy grew by far less than what it parked on disk (64 MB allowance
# covers the sanitizer's quarantine and kernel-side bookkeeping).
grow=$(((peak - base) * 1024))
if [ "$grow" -lt $((64 << 20)) ] && [ "$grow" -lt $((spilled / 2)) ]; then
	pk_ok memory-bounded
else
	pk_fail memory-bounded "RSS grew $grow bytes (base ${base} kB, peak ${peak} kB) with $spilled bytes spilled"
fi
echo "# rss base ${base} kB, peak ${peak} kB, spilled $spilled bytes"
kill -CONT "$DBG_PID"
pk_check clone-catches-up pk_wait_metric "$ADMIN" parikshan_debug_buffer_bytes 0 120
pk_expect_eq nothing-dropped "$(pk_metric "$ADMIN" parikshan_debug_desyncs_total)" 0
pk_expect_eq clone-equals-prod "$(pk_digest "$DBG")" "$(pk_digest "$PROD")"
pk_check spill-drained pk_wait_metric "$ADMIN" parikshan_debug_spill_bytes 0 30
pk_expect_eq spill-dir-left-empty "$(ls -A "$PK_TMP/spill" | wc -l)" 0
pk_stop_clean dup "$DUP"
