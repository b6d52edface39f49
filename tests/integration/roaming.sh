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
# Not here: a renumbering between two routers that both let in only answers. There nothing
# arrives at all until both offer again through the servers, and alice's relay waits for her
# home connection to time out, so the peer is silent long enough for a new handshake: the
# session comes back, but not as a roam (docs/direct-paths.md).
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

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
