#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Benchmark (prints figures, asserts nothing): the firewall's rule update latency
# (docs/firewall.md). In a namespace of its own, nft_bench installs the table, adds
# BENCH_PEERS peers (one batch each: its chain, its rules, its two map entries), then updates
# every peer once (a revocation: its chain flushed and refilled) and removes each, and prints
# total, median, p99 and max per phase. Throughput with the firewall on and off is not measured
# here yet (docs/firewall.md, Limits).
#
# Usage: as root, on a built tree: bash tests/bench/bench_firewall.sh [BENCH_PEERS=1000]
source "$(dirname "$0")/../integration/lib.sh"
VTX_SCENARIO=bench_firewall
PEERS=${BENCH_PEERS:-1000}
BENCH=$VTX_BUILD/nft_bench

vtx_require
[[ -x $BENCH ]] || fail "missing $BENCH (build the tree)"
NS=$VTX_RUN-fw
ns_add "$NS"
in_ns_run()
{
	pretty "${NS##*-}" "$*"
	ip netns exec "$NS" "$@"
}
in_ns_run "$BENCH" lo "$PEERS" | tee "$VTX_TMP/bench.out"
grep -q '^remove ' "$VTX_TMP/bench.out" || fail "nft_bench did not finish"
pass "$VTX_SCENARIO: $PEERS peers"
