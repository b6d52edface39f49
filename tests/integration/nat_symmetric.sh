#!/bin/bash
# SPDX-License-Identifier: MIT
#
# An endpoint-dependent ("symmetric") NAT on the NAT lab of lib_nat.sh: alice's router gives
# every new destination a random public port; bob's keeps the port and lets in only answers.
#
# 1. netcheck on alice's side says what her router does: the server's two ports saw two
#    different public ports (mapping endpoint-dependent).
# 2. Against bob's router, hole punching cannot work without port prediction (not built yet):
#    the port alice offers (the one her router gave toward her server) is not the one it gives
#    toward bob, and bob's router drops what comes from ports bob never sent to. The session
#    stays on the relay, and works there.
# 3. bob's router forwards his port (as a UPnP/NAT-PMP mapping or a "full cone" would): alice's
#    probes now arrive, from the port her router gave toward bob; bob's agent takes that
#    endpoint (peer-reflexive) and answers at once, which her router lets back in: direct,
#    with no new handshake.
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

say "2. against a router that lets in only answers: the relay"
rdv_ask_approve alice "$ALICE" bob "$BOB" ssh
BOB4=$(vtx_ctl alice resolve --address "$BOB/ssh")
wait_until 20 qn alice ping -c 1 -W 1 "$BOB4" || fail "no ping through the relay"
# Offers go out at session up and both probe every 500 ms for 10 s; then each says so.
for n in alice bob; do
	wait_until 30 grep -q "direct: no answer from the .* candidate(s) of .* in 10 s" "$VTX_TMP/$n.log" ||
		fail "$n's agent never ends its fast probing: $(grep direct "$VTX_TMP/$n.log")"
done
path_is alice "$BOB" relay || fail "alice is not on the relay: $(vtx_ctl alice peers)"
path_is bob "$ALICE" relay || fail "bob is not on the relay: $(vtx_ctl bob peers)"
check_ping on_alice "$BOB4"
HS=$(peer_field alice "$BOB" handshakes)
pass "no direct path through a symmetric NAT and a port-restricted one; the relay carries"

say "3. bob's port forwarded: alice's probes get in, bob answers, direct"
nat_forward natb "$BOB_LAN_IP"
wait_until 20 path_is bob "$ALICE" udp || fail "bob never goes direct: $(vtx_ctl bob peers)"
EP=$(peer_field bob "$ALICE" endpoint)
[[ $EP == "$NATA_IP:"* && $EP != "$(jq -r .nat.reflexive <<<"$NC")" ]] ||
	fail "bob's endpoint for alice is $EP: not a new port of her router"
wait_until 10 path_is alice "$BOB" udp || fail "alice never goes direct: $(vtx_ctl alice peers)"
check_ping on_alice "$BOB4"
[[ $(peer_field alice "$BOB" handshakes) == "$HS" ]] || fail "a new handshake was needed"
pass "direct: bob -> $EP (the port alice's router gave toward bob), same handshake"
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
