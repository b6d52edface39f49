#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A direct TCP path where UDP is blocked but a TCP port is reachable, on the NAT lab of
# lib_nat.sh: alice behind her NAT router; carol a public host (no NAT) whose firewall drops
# every UDP datagram but DNS answers, and lets TCP in.
#
# 1. alice asks, carol approves: the session comes up through the relay; they offer their
#    candidates (carol's include her address as a TCP candidate: the peer port takes TCP too).
# 2. UDP probing finds no way (10 s of fast probing, said in the log); alice, whose identity
#    sorts first, dials carol's TCP candidate: the session moves to that direct link (a new
#    handshake), the relayed link closes. `vertex peers` says path tcp, `vertex ping` says
#    direct tcp, and ssh works over it.
# 3. alice rekeys after 20 s, over the relay as every rekey of a peer met by rendezvous goes:
#    the new session's offers dial carol's candidate again (handshake #4), back on path tcp.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
nat_lab_up pass
CAROL_IP=198.18.0.30
domain_node_add carol "$CAROL_IP"
qn carol nft -f - <<NFT
table inet vtxfw {
	chain in {
		type filter hook input priority 0; policy accept;
		udp sport 53 accept
		meta l4proto udp counter drop
	}
}
NFT
pass "carol at $CAROL_IP: a public host whose firewall drops UDP (DNS answers aside)"

ALICE=alice@$DOMAIN_A
CAROL=carol@$DOMAIN_B
server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva
server_start srvb
enrolled alice alice "$ALICE"
enrolled carol carol "$CAROL"
# A rekey within the run (part 3): alice, the TLS client, dials it over the relay.
VTX_REKEY_SEC=20 lab_agent_config alice "$ALICE" fd00:5678:a1::/48
VTX_REKEY_SEC=20 lab_agent_config carol "$CAROL" fd00:5678:c1::/48
printf 'purpose ssh tcp/22\n' >>"$VTX_TMP/carol.conf"
lab_agent_start alice alice
lab_agent_start carol carol
wait_until 20 home_up alice || fail "alice's agent never connects to its server"
wait_until 20 home_up carol || fail "carol's agent never connects to her server"

say "1. ask and approve: the relay"
rdv_ask_approve alice "$ALICE" carol "$CAROL" ssh
CAROL4=$(vtx_ctl alice resolve --address "$CAROL/ssh")
wait_until 20 qn alice ping -c 1 -W 1 "$CAROL4" || fail "no ping through the relay"
grep -q "peer $CAROL (relay): session up, handshake #1" "$VTX_TMP/alice.log" ||
	fail "the session did not come up through the relay"
pass "session up through the relay"

say "2. no UDP: a direct TCP link to carol's candidate"
wait_until 30 grep -q "direct: no UDP path to $CAROL: trying a direct link to its TCP candidate $CAROL_IP:4800" \
	"$VTX_TMP/alice.log" || fail "alice never tries carol's TCP candidate: $(grep direct "$VTX_TMP/alice.log")"
wait_until 20 path_is alice "$CAROL" tcp || fail "alice is not on a direct TCP path: $(vtx_ctl alice peers)"
wait_until 10 path_is carol "$ALICE" tcp || fail "carol is not on a direct TCP path: $(vtx_ctl carol peers)"
grep -q "peer $CAROL ($CAROL_IP:4800): session up, handshake #2, we dialed" "$VTX_TMP/alice.log" ||
	fail "the session did not move to the link alice dialed"
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$CAROL" -c 1 -W 2) || fail "vertex ping: $OUT"
grep -q "reply in .* ms via direct tcp" <<<"$OUT" || fail "vertex ping said: $OUT"
check_ping on_alice "$CAROL4"
sshd_start "$(ns_for carol)"
check_ssh on_alice "$CAROL4"
jq -e --arg c "host $CAROL_IP:4800/tcp dialed (a direct link is up)" 'index($c)' \
	<<<"$(vtx_ctl alice peers --json | jq -c '.peers[0].candidates')" >/dev/null ||
	fail "vertex peers does not show the dialed TCP candidate: $(vtx_ctl alice peers)"
pass "direct over TCP: $(grep reply <<<"$OUT")"

say "3. a rekey over the relay: the offers that follow dial the direct link again"
wait_until 40 grep -q "peer $CAROL (relay): session up, handshake #3, we dialed" "$VTX_TMP/alice.log" ||
	fail "no rekey over the relay: $(grep "peer $CAROL" "$VTX_TMP/alice.log")"
wait_until 20 grep -q "peer $CAROL ($CAROL_IP:4800): session up, handshake #4, we dialed" "$VTX_TMP/alice.log" ||
	fail "the direct link does not come back after the rekey: $(grep -E "peer $CAROL|direct:" "$VTX_TMP/alice.log")"
wait_until 10 path_is alice "$CAROL" tcp || fail "alice is on $(peer_field alice "$CAROL" path) after the rekey"
wait_until 10 path_is carol "$ALICE" tcp || fail "carol is on $(peer_field carol "$ALICE" path) after the rekey"
check_ping on_alice "$CAROL4"
pass "after the rekey: back on the direct TCP link (handshake #4)"

for n in alice carol; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
