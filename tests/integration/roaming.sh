#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Roaming and re-gathering on the NAT lab of lib_nat.sh (both routers pass UDP), after the
# session has gone direct as in direct_upgrade.sh:
#
# 1. alice's host gets a second address: her agent sees it (netlink), gathers again and offers
#    the new candidate; the session is not disturbed.
# 2. alice's router is renumbered (its ISP gave it a new public address, which also flushes its
#    NAT's mappings), while bob's router forwards his port (as a port mapping would): alice's
#    next frames come from her new public address, bob's agent follows at once (and answers, so
#    alice's NAT has the way back), with no new handshake.
#
# 3. The same between two routers that both let in only answers (bob's forward gone), under a
#    flow of pings: nothing direct arrives until both offer again through the servers; alice's
#    frames go by the relay meanwhile, her home connection (whose mapping went with the old
#    address) is checked as soon as reflection shows her new address and made anew, and the
#    session comes back direct at her new address, with no new handshake.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
nat_lab_up pass

NATA_NEW_IP=198.18.0.211
rdv_alice_bob_direct
[[ $(peer_field bob "$ALICE" endpoint) == "$NATA_IP:"* ]] || fail "bob's endpoint for alice"
pass "session up and direct: bob -> $(peer_field bob "$ALICE" endpoint)"

say "1. a new address on alice's host: gathered again, offered"
qn alice ip addr add 198.19.1.3/24 dev eth0
wait_until 10 grep -q "direct: our host addresses changed" "$VTX_TMP/alice.log" ||
	fail "alice's agent never noticed her new address"
wait_until 5 bash -c "'$VERTEX' -s '$VTX_TMP/alice.sock' netcheck --json |
	jq -e '.candidates | index(\"host 198.19.1.3:4800\")'" ||
	fail "netcheck does not list the new host candidate: $(vtx_ctl alice netcheck)"
check_ping on_alice "$BOB4"
pass "alice's new address is a candidate; the session goes on"

say "2. alice's router renumbered, bob's port forwarded: bob follows her at once"
nat_forward natb "$BOB_LAN_IP"
qn nata ip addr del "$NATA_IP/24" dev eth0
qn nata ip addr add "$NATA_NEW_IP/24" dev eth0
T0=$SECONDS
endpoint_moved()
{
	[[ $(peer_field bob "$ALICE" endpoint) == "$NATA_NEW_IP:"* ]] && path_is bob "$ALICE" udp
}
# Alice's next keepalive (every 5 s) comes from her router's new address.
wait_until 20 endpoint_moved ||
	fail "bob never follows alice to $NATA_NEW_IP: $(vtx_ctl bob peers); alice: $(vtx_ctl alice peers)"
wait_until 10 path_is alice "$BOB" udp || fail "alice is not on udp: $(vtx_ctl alice peers)"
check_ping on_alice "$BOB4"
[[ $(peer_field alice "$BOB" handshakes) == "$HS_A" && $(peer_field bob "$ALICE" handshakes) == "$HS_B" ]] ||
	fail "a new handshake was needed: $(peer_field alice "$BOB" handshakes) (was $HS_A)"
pass "bob follows alice to $(peer_field bob "$ALICE" endpoint) after $((SECONDS - T0)) s, same handshake"

say "3. neither router lets in more than answers; alice's router renumbered under a flow"
# bob's forward gone and his router's connections forgotten: plain apdf on both sides. The
# direct path breaks, the session goes on by the relay and comes back direct (offers again).
qn natb nft delete table ip vtxfwd
nat_flush natb
both_direct()
{
	path_is alice "$BOB" udp && path_is bob "$ALICE" udp
}
wait_until 40 both_direct || fail "not direct again after bob's router forgot: $(vtx_ctl bob peers)"
HS_A=$(peer_field alice "$BOB" handshakes)
HS_B=$(peer_field bob "$ALICE" handshakes)
NATA_NEW2_IP=198.18.0.212
# A flow (5 pings a second, 300 of them at most) across the renumbering.
qn alice ping -i 0.2 -c 300 -W 1 "$BOB4" >"$VTX_TMP/flow.out" 2>&1 &
FLOW=$!
track_pid "$FLOW"
wait_until 5 grep -q "bytes from" "$VTX_TMP/flow.out" || fail "no flow before the renumbering"
qn nata ip addr del "$NATA_NEW_IP/24" dev eth0
qn nata ip addr add "$NATA_NEW2_IP/24" dev eth0
T0=$SECONDS
endpoint_moved2()
{
	[[ $(peer_field bob "$ALICE" endpoint) == "$NATA_NEW2_IP:"* ]] && both_direct
}
# alice's direct path stops answering (her router's mappings are gone, and bob's router lets in
# only answers to where he sent): her frames go by the relay; reflection shows her new address,
# so her home connection, whose mapping went with the old one, is checked and made anew; the
# offers that follow take both direct again.
wait_until 45 endpoint_moved2 ||
	fail "not direct at $NATA_NEW2_IP: alice: $(vtx_ctl alice peers); bob: $(vtx_ctl bob peers); alice's log: $(grep -E 'home|direct|path' "$VTX_TMP/alice.log" | tail -15)"
T1=$SECONDS
[[ $(peer_field alice "$BOB" handshakes) == "$HS_A" && $(peer_field bob "$ALICE" handshakes) == "$HS_B" ]] ||
	fail "a new handshake was needed: alice $(peer_field alice "$BOB" handshakes) (was $HS_A), bob $(peer_field bob "$ALICE" handshakes) (was $HS_B)"
stop_pid "$FLOW" TERM
# Replies counted against the requests sent until now (the last icmp_seq answered).
LOST=$(awk -F'icmp_seq=' '/bytes from/ { n++; split($2, a, " "); last = a[1] } END { printf "%d of %d answered", n, last }' "$VTX_TMP/flow.out")
check_ping on_alice "$BOB4"
pass "direct again at $(peer_field bob "$ALICE" endpoint) $((T1 - T0)) s after the renumbering, same handshake (the flow: $LOST)"

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
