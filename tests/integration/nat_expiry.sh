#!/bin/bash
# SPDX-License-Identifier: MIT
#
# NAT mappings that expire, on the NAT lab of lib_nat.sh (both routers pass UDP), with the
# routers' UDP conntrack timeouts made short by the test:
#
# 1. Timeouts of 8 s, keepalives every 5 s: idle for 20 s, the mappings stay (each keepalive
#    renews them), and the first ping after the pause goes directly, with no failover.
# 2. Timeouts of 2 s, below the keepalive interval: the mappings lapse between keepalives, so
#    what comes after a pause finds the way closed; the agents notice (probes unanswered), carry
#    the traffic through the relay, offer again, and a direct path comes back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
nat_lab_up pass

rdv_alice_bob_direct
pass "direct"

udp_timeouts() # udp_timeouts SECONDS: both routers' UDP conntrack timeouts
{
	local r
	for r in nata natb; do
		qn "$r" sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$1" \
			net.netfilter.nf_conntrack_udp_timeout_stream="$1"
	done
}

say "1. mappings of 8 s, keepalives every 5 s: idle 20 s, still direct"
udp_timeouts 8
FO=$(peer_field alice "$BOB" udp_failovers)
# The pause is the test: time for the mappings to lapse, were they not kept.
pretty host "idle for 20 s"
sleep 20
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $OUT"
grep -q "reply in .* ms via direct udp $NATB_IP:" <<<"$OUT" || fail "after the pause: $OUT"
check_ping on_alice "$BOB4"
[[ $(peer_field alice "$BOB" udp_failovers) == "$FO" ]] || fail "a failover happened: $(vtx_ctl alice peers)"
pass "the keepalives kept the mappings: $(grep reply <<<"$OUT")"

say "2. mappings of 2 s: they lapse between keepalives; traffic after a pause recovers"
udp_timeouts 2
HS=$(peer_field alice "$BOB" handshakes)
pretty host "idle for 8 s"
sleep 8
# Traffic resumes: some of it may be lost while the agents find the way again.
qn alice ping -c 30 -i 0.2 -W 1 "$BOB4" >"$VTX_TMP/ping.out" 2>&1 || true
pass "after the pause: $(grep -o '[0-9]* received' "$VTX_TMP/ping.out") of 30 echo requests answered"
wait_until 30 path_is alice "$BOB" udp || fail "alice never goes direct again: $(vtx_ctl alice peers)"
check_ping on_alice "$BOB4"
[[ $(peer_field alice "$BOB" handshakes) == "$HS" ]] || fail "a new handshake was needed"
pass "direct again, same handshake; alice: $(vtx_ctl alice peers | grep 'udp probes' | tr -s ' ')"

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
