#!/usr/bin/env bash
# bench/agg.sh — issue 5's benchmark, in one run of bench/dup.sh: the aggregator's pass-through
# (agg0: no clone; agg1: a clone side draining the replayed responses) against direct and
# haproxy, and pcap recording's cost on the duplicator (dup1 vs dup1 --record), under
# redis-benchmark unpipelined and -P 16.  Same environment knobs as bench/dup.sh.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONFIGS=${CONFIGS:-direct haproxy agg0 agg1 dup1 dup1rec} WORKLOADS=${WORKLOADS:-redis redis-P16} \
	exec "$HERE/dup.sh" "$@"
