#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Two domains that never configured each other: first contact, Persistence of Pseudonym, notary
# disagreement, and revocation across domains.
#
#                                 dns  198.18.0.53
#                                          |
#     srva 198.18.0.10  ---------------[ sw: br0 ]---------------  srvb 198.18.0.20
#     vertex-server a.example.com       /    |    \                 vertex-server b.example.com
#                         alice 198.18.0.101 | bob 198.18.0.102     (later: an impostor with
#                         (a, peer bob@b)    |  (b, peer alice@a)    another CA for b)
#                                     dave 198.18.0.104 (a, peer bob@b)
#
# 1. alice and bob know only their own domain's CA. Each fetches the other domain's CA from its
#    server, asks its home server (the notary), pins it, and the overlay comes up.
# 2. b's server is replaced by an impostor with another CA for b.example.com at the same address:
#    dave (no pin yet) is refused because his home server has pinned b's real CA (notary
#    disagreement, both fingerprints named); alice (pinned) refuses the new CA (both named)
#    and keeps talking to the real bob.
# 3. alice is revoked in domain a: bob's agent, in domain b, drops her session within the
#    foreign-list refresh interval (30 s) plus a margin, and b's server refuses her too.
# Throughout, each server verifies the other domain's agents and the other server against the
# CA it pinned (servers authenticate each other the same way agents do).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
domains_up
domain_node_add dave 198.18.0.104

server_init srva "$DOMAIN_A" >/dev/null
CA_B=$(server_init srvb "$DOMAIN_B")
server_start srva
server_start srvb
enrolled alice alice "alice@$DOMAIN_A"
enrolled bob bob "bob@$DOMAIN_B"
enrolled dave dave "dave@$DOMAIN_A"
lab_agent_config alice "alice@$DOMAIN_A" fd00:5678:a1::/48 "bob@$DOMAIN_B" "$BOB_IP"
lab_agent_config bob "bob@$DOMAIN_B" fd00:5678:b1::/48 "alice@$DOMAIN_A" "$ALICE_IP"
lab_agent_config dave "dave@$DOMAIN_A" fd00:5678:a4::/48 "bob@$DOMAIN_B" "$BOB_IP"
grep -q "^ca.*$DOMAIN_B" "$VTX_TMP/alice.conf" && fail "alice must not be configured with b's CA"

say "1. first contact across domains: fetch, notary, pin"
lab_agent_start alice alice
lab_agent_start bob bob
wait_until 40 peer_is_up alice || fail "alice never sees bob up: $(vtx_ctl alice peers) $(tail -5 "$VTX_TMP/alice.log")"
wait_until 20 peer_is_up bob || fail "bob never sees alice up"
wait_until 10 qn alice ping -c 1 -W 1 "$OVL4_PEER" || fail "no overlay ping alice -> bob"
pass "alice@$DOMAIN_A and bob@$DOMAIN_B reach each other with no configured CA for the other"
grep -q "first use; agreed: $DOMAIN_A" "$VTX_TMP/alice.log" ||
	fail "alice did not pin b's CA with a's agreement: $(grep -i "$DOMAIN_B" "$VTX_TMP/alice.log" | tail -3)"
grep -q "first use; agreed: $DOMAIN_B" "$VTX_TMP/bob.log" || fail "bob did not pin a's CA with b's agreement"
grep -q "federation of $DOMAIN_A: pinned the CA of $DOMAIN_B: $CA_B" "$VTX_TMP/srva.log" || fail "server a did not pin b's CA"
pass "each pinned the other domain's CA after its home server (the notary) agreed; a pinned $CA_B"
wait_until 40 grep -q "alice@$DOMAIN_A (.*): certificate of another domain verified" "$VTX_TMP/srvb.log" ||
	fail "b's server never verified alice's certificate: $(grep -i federation "$VTX_TMP/srvb.log" | tail -3)"
# Each server verifies the other on its own time: wait for a's too (ASan under load is slow).
wait_until 40 grep -q "server@$DOMAIN_B (.*): certificate of another domain verified" "$VTX_TMP/srva.log" ||
	fail "a's server never verified b's server: $(grep -i federation "$VTX_TMP/srva.log" | tail -3)"
pass "each server verified the other domain's certificates (agents and the other server) against its pin"

say "2. an impostor takes over b's server address"
server_stop srvb
pp mv "$VTX_TMP/srvb" "$VTX_TMP/srvb.real"
IMPOSTOR=$(server_init srvb "$DOMAIN_B")
[[ $IMPOSTOR != "$CA_B" ]] || fail "the impostor got the same CA?"
server_start srvb
lab_agent_start dave dave
wait_until 30 grep -q "notary $DOMAIN_A sees CA $CA_B, but $IMPOSTOR was presented" "$VTX_TMP/dave.log" ||
	fail "dave did not refuse on notary disagreement: $(grep -i "$DOMAIN_B" "$VTX_TMP/dave.log" | tail -3)"
pass "dave refused the impostor's CA: $(grep -m1 "notary $DOMAIN_A sees" "$VTX_TMP/dave.log" | cut -d' ' -f3-)"
if wait_until 5 peer_is_up dave; then
	fail "dave came up with bob through an impostor CA"
fi
pass "no session for dave"
vtx_stop alice
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd alice exited with status $VTX_LAST_RC (it crashed?)"
vtx_start "$(ns_for alice)" alice
wait_until 30 grep -q "its server now offers CA $IMPOSTOR, but $CA_B is pinned" "$VTX_TMP/alice.log" ||
	fail "alice did not refuse the changed CA: $(grep -i "$DOMAIN_B" "$VTX_TMP/alice.log" | tail -3)"
pass "alice (pinned) refuses the changed CA, naming both fingerprints"
wait_until 30 peer_is_up alice || fail "alice lost the real bob"
wait_until 10 qn alice ping -c 1 -W 1 "$OVL4_PEER" || fail "no overlay ping alice -> bob after the restart"
pass "alice still talks to the real bob (his certificate chains to the pinned CA)"
server_stop srvb
pp mv "$VTX_TMP/srvb" "$VTX_TMP/srvb.impostor"
pp mv "$VTX_TMP/srvb.real" "$VTX_TMP/srvb"
server_start srvb
pass "the real b server is back"

say "3. alice is revoked in a: bob, in b, drops her"
t0=$(date +%s)
pp server_admin srva revoke alice
wait_until 40 grep -q "peer alice@$DOMAIN_A: certificate revoked by $DOMAIN_A" "$VTX_TMP/bob.log" ||
	fail "bob did not drop alice: $(tail -5 "$VTX_TMP/bob.log")"
pass "bob dropped alice's session $(($(date +%s) - t0)) s after the revoke (refresh every 30 s)"
if qn bob ping -c 2 -W 1 "$OVL4_PEER" >/dev/null 2>&1; then
	fail "bob still reaches alice"
fi
wait_until 70 grep -q "certificate revoked by $DOMAIN_A" "$VTX_TMP/srvb.log" ||
	fail "b's server did not refuse the revoked alice: $(tail -5 "$VTX_TMP/srvb.log")"
pass "b's server refuses alice: $(grep -m1 "certificate revoked by $DOMAIN_A" "$VTX_TMP/srvb.log" | cut -d' ' -f3-)"

for n in alice bob dave; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
