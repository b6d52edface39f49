#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Benchmark (prints figures, asserts nothing): how the kernel spreads one agent's traffic over
# the queues of a multi-queue TUN device and over SO_REUSEPORT sockets, the measurement behind
# the choice of AEAD workers over a thread per TUN queue (docs/performance.md, "More than one
# core"). In a namespace of its own, mq_probe makes a TUN device with BENCH_QUEUES (4) queues
# and sends BENCH_PACKETS (4000) datagrams through it over 1, 4 and 16 flows, then binds as
# many SO_REUSEPORT sockets and does the same to them; for each it prints how many queues (or
# sockets) the flows landed on, and whether any flow was split.
#
# Usage: as root, on a built tree: bash tests/bench/bench_multiqueue.sh
source "$(dirname "$0")/../integration/lib.sh"
VTX_SCENARIO=bench_multiqueue
QUEUES=${BENCH_QUEUES:-4}
PACKETS=${BENCH_PACKETS:-4000}
PROBE=$VTX_BUILD/mq_probe

vtx_require

[[ -x $PROBE ]] || fail "missing $PROBE (build the tree)"
NS=$VTX_RUN-mq
ns_add "$NS"
ip netns exec "$NS" ip link set lo up
echo "machine: $(nproc) CPUs, kernel $(uname -r); $QUEUES queues, $PACKETS datagrams a run"
for flows in 1 4 16; do
	out=$(ip netns exec "$NS" "$PROBE" tun vtxmq0 "$QUEUES" "$flows" "$PACKETS") ||
		fail "mq_probe tun failed"
	printf 'multi-queue TUN, %2d flow(s): %s; %s\n' "$flows" \
		"$(grep '^queues used' <<<"$out")" "$(grep '^flows on more' <<<"$out")"
done
# The TUN device is gone with the probe: the sockets' address goes on lo.
ip -n "$NS" addr add 100.64.0.1/32 dev lo
for flows in 1 4 16; do
	out=$(ip netns exec "$NS" "$PROBE" reuseport "$QUEUES" "$flows" "$PACKETS") ||
		fail "mq_probe reuseport failed"
	printf 'SO_REUSEPORT,    %2d flow(s): %s; %s\n' "$flows" \
		"$(grep '^queues used' <<<"$out" | sed 's/queues/sockets/')" \
		"$(grep '^flows on more' <<<"$out" | sed 's/queue/socket/')"
done
exit 0 # the EXIT trap removes the namespace
