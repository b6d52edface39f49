#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ICMP path-MTU errors across the overlay (docs/overlay-addressing.md, "ICMP errors"): a link
# narrower than the overlay behind bob (icmp_ptb: every echo request longer than 1200 bytes is
# answered with "fragmentation needed, mtu 1200", quoting the request as bob's side sees it).
# The error crosses the overlay, alice's agent translates the quoted header into her view of
# the addresses, and her kernel takes it: ping says so, the route to bob learns mtu 1200, the
# next oversized ping fails locally, and pings that fit go on. Run again by scripts/test.sh with
# VERTEX_TUN_OFFLOAD=0 (the plain TUN path; docs/performance.md).
#
#   host1 alice, vtx0 100.64.0.1 (bob = 100.64.0.2)  ---  host2 bob, vtx0 100.64.0.1 (+ icmp_ptb)
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

PTB_MTU=1200
vtx_require
[[ -x $VTX_BUILD/icmp_ptb ]] || fail "missing $VTX_BUILD/icmp_ptb (build the tree)"
topo_up
pair_setup "$BOB"
vtx_start "$NS1" alice
vtx_start "$NS2" bob
wait_tunnel_up
want=on
[[ ${VERTEX_TUN_OFFLOAD:-} != 0 ]] || want=off
for name in alice bob; do
	[[ $(vtx_ctl "$name" status --json | jq -r .tun_offload) == "$want" ]] ||
		fail "$name: TUN offloads not $want"
done
pass "TUN offloads $want on both sides"
check_ping n1 "$OVL4_PEER"

pretty h2 "icmp_ptb $PTB_MTU 1 &  # a ${PTB_MTU}-byte link behind bob"
ip netns exec "$NS2" "$VTX_BUILD/icmp_ptb" "$PTB_MTU" 1 >"$VTX_TMP/ptb.out" 2>&1 &
ptb=$!
track_pid "$ptb"
wait_until 10 grep -q '^ready' "$VTX_TMP/ptb.out" || fail "icmp_ptb did not start"
n1 ip route get "$OVL4_PEER" | grep -q "mtu $PTB_MTU" && fail "alice knows mtu $PTB_MTU already"

# 1300 bytes of payload, DF set: fits vtx0 (1420), not the link behind bob. Bob's kernel does
# not answer echoes meanwhile, so the error is the only answer ping gets (else the reply,
# quicker than icmp_ptb, would end it first).
n2 sysctl -qw net.ipv4.icmp_echo_ignore_all=1
out=$(n1 ping -M "do" -s 1300 -c 1 -W 3 "$OVL4_PEER" 2>&1) || true # no reply: the error
n2 sysctl -qw net.ipv4.icmp_echo_ignore_all=0
say "$out"
grep -q "Frag needed and DF set (mtu = $PTB_MTU)" <<<"$out" ||
	fail "alice's ping saw no fragmentation-needed error from bob's side: $out"
wait_until 5 bash -c "! kill -0 $ptb 2>/dev/null" || fail "icmp_ptb still waiting"
say "$(cat "$VTX_TMP/ptb.out")"
route=$(n1 ip route get "$OVL4_PEER")
grep -q "mtu $PTB_MTU" <<<"$route" || fail "alice's route to bob did not learn mtu $PTB_MTU: $route"
pass "the error crossed the overlay, translated: alice's route to bob has mtu $PTB_MTU"
out=$(n1 ping -M "do" -s 1300 -c 1 -W 2 "$OVL4_PEER" 2>&1) || true # refused by alice's kernel
grep -q "message too long, mtu=$PTB_MTU" <<<"$out" ||
	fail "the next oversized ping did not fail locally: $out"
pass "the next 1300-byte ping with DF stops at alice: message too long, mtu=$PTB_MTU"
out=$(n1 ping -M "do" -s 1100 -c 3 -i 0.2 -W 3 "$OVL4_PEER" 2>&1) || fail "1100-byte pings: $out"
grep -q '3 packets transmitted, 3 received' <<<"$out" || fail "1100-byte pings: $out"
pass "1100-byte pings that fit the narrow link: 3/3 replies"
vtx_finish
