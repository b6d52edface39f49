#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Benchmark (prints figures, asserts nothing): the firewall's rule update latency
# (docs/firewall.md). In a namespace of its own, nft_bench installs the table, adds
# BENCH_PEERS peers (one batch each: its chain, its rules, its two map entries), then updates
# every peer once (a revocation: its chain flushed and refilled) and removes each, and prints
# total, median, p99 and max per phase.
#
# Then throughput: two agents in the flat lab (lib.sh's topo_up), iperf3 TCP from host1 to host2
# over the overlay for BENCH_SECONDS (10) with bob's table in place, then again after deleting
# it by hand (the daemon does not notice; it deletes nothing at stop, which is fine), and the
# ratio. The peers are configured ones, so their chain is one accept: the per-packet path of
# the table (prerouting hook, conntrack direction, the vmap lookup, the jump) is all there.
#
# Usage: as root, on a built tree: bash tests/bench/bench_firewall.sh [BENCH_PEERS=1000]
source "$(dirname "$0")/../integration/lib.sh"
VTX_SCENARIO=bench_firewall
PEERS=${BENCH_PEERS:-1000}
SECS=${BENCH_SECONDS:-10}
BENCH=$VTX_BUILD/nft_bench

vtx_require iperf3
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

gbits() # gbits: one iperf3 run host1 -> host2 over the overlay, in Gbit/s
{
	q1 iperf3 -c "$OVL4_PEER" -t "$SECS" -J | jq -r '.end.sum_received.bits_per_second / 1e9'
}

topo_up
pair_setup "$BOB"
vtx_start "$NS1" alice
vtx_start "$NS2" bob
wait_tunnel_up
ip netns exec "$NS2" iperf3 -s >"$VTX_TMP/iperf3-server.log" 2>&1 &
track_pid $!
wait_until 10 q1 bash -c "exec 3<>/dev/tcp/$OVL4_PEER/5201" || fail "no iperf3 server"
q2 nft list table inet vertex >/dev/null || fail "bob has no table"
ON=$(gbits)
pretty h2 "nft delete table inet vertex"
q2 nft delete table inet vertex
OFF=$(gbits)
# Our table's ct expressions turn conntrack on in the namespace (for the underlay's packets too);
# most hosts' own firewall already has it on. The same without our table but with conntrack:
pretty h2 "nft add table inet ctonly (a chain with one ct rule)"
q2 nft -f - <<'NFT'
table inet ctonly {
	chain c {
		type filter hook prerouting priority 0; policy accept;
		ct state established accept
	}
}
NFT
CT=$(gbits)
q2 nft delete table inet ctonly
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
printf 'throughput %s s TCP, Gbit/s: firewall on %.2f; off %.2f (on/off %s); off with conntrack on %.2f (on/that %s)\n' \
	"$SECS" "$ON" "$OFF" "$(ratio "$ON" "$OFF")" "$CT" "$(ratio "$ON" "$CT")"
pass "$VTX_SCENARIO: $PEERS peers; throughput on and off"
