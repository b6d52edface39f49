#!/bin/bash
# SPDX-License-Identifier: MIT
#
# An endpoint-dependent ("symmetric") NAT on the NAT lab of lib_nat.sh: alice's router gives
# every new destination a random public port; bob's keeps the port and lets in only answers.
#
# 1. netcheck on alice's side says what her router does: the server's two ports saw two
#    different public ports (mapping endpoint-dependent).
# 2. Against bob's router, hole punching alone cannot work: the port alice offers (the one her
#    router gave toward her server) is not the one it gives toward bob, and bob's router drops
#    what comes from ports bob never sent to. The session comes up on the relay; the offers say
#    what each NAT does, and the birthday technique (direct/birthday.h) finds a way: alice
#    opens 256 sockets toward bob's endpoint, bob sprays probes at her router's ports, one
#    lands, and that socket carries the path: direct, with no new handshake; bob's agent takes
#    the endpoint its probe reached (peer-reflexive). (Before the technique the relay stayed
#    here, and a step 3 forwarded bob's port to show the peer-reflexive endpoint; that case is
#    nat_pairs_mixed.sh's symmetric/eif pair.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
NATA_KIND=symmetric nat_lab_up pass

rdv_alice_bob

say "1. netcheck: alice's mapping is endpoint-dependent"
mapping_known()
{
	[[ $(vtx_ctl alice netcheck --json | jq -r .nat.mapping) != unknown ]]
}
wait_until 30 mapping_known || fail "netcheck never classifies alice's NAT: $(vtx_ctl alice netcheck)"
NC=$(vtx_ctl alice netcheck --json)
[[ $(jq -r .nat.mapping <<<"$NC") == endpoint-dependent ]] || fail "netcheck mapping: $NC"
[[ $(jq -r .nat.reflexive <<<"$NC") == "$NATA_IP:"* ]] || fail "netcheck reflexive: $NC"
pass "netcheck: $(vtx_ctl alice netcheck | grep -i mapping | tr -s ' ')"

say "2. against a router that lets in only answers: the birthday technique"
rdv_ask_approve alice "$ALICE" bob "$BOB" ssh
BOB4=$(vtx_ctl alice resolve --address "$BOB/ssh")
wait_until 20 qn alice ping -c 1 -W 1 "$BOB4" || fail "no ping through the overlay"
HS=$(peer_field alice "$BOB" handshakes)
wait_until 20 grep -q "opening 256 sockets toward $NATB_IP:4800 (birthday technique)" "$VTX_TMP/alice.log" ||
	fail "alice never opens her sockets: $(grep direct: "$VTX_TMP/alice.log")"
wait_until 20 path_is bob "$ALICE" udp || fail "bob never goes direct: $(vtx_ctl bob peers)"
EP=$(peer_field bob "$ALICE" endpoint)
[[ $EP == "$NATA_IP:"* && $EP != "$(jq -r .nat.reflexive <<<"$NC")" ]] ||
	fail "bob's endpoint for alice is $EP: not a new port of her router"
wait_until 10 path_is alice "$BOB" udp || fail "alice never goes direct: $(vtx_ctl alice peers)"
check_ping on_alice "$BOB4"
[[ $(peer_field alice "$BOB" handshakes) == "$HS" ]] || fail "a new handshake was needed"
pass "direct: bob -> $EP (the port alice's router gave one of her extra sockets toward bob), same handshake"
CANDS=$(vtx_ctl bob peers --json | jq -c --arg id "$ALICE" '.peers[] | select(.identity == $id) | .candidates')
jq -e --arg c "prflx $EP works" 'index($c)' <<<"$CANDS" >/dev/null ||
	fail "bob's peers does not show the peer-reflexive endpoint: $CANDS"
pass "vertex peers (bob): $CANDS"

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
