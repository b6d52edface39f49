#!/bin/bash
# SPDX-License-Identifier: MIT
#
# From the relay to a direct path: the NAT lab of lib_nat.sh with both routers passing UDP
# (nftables masquerade: each keeps a socket's mapping for every destination, and lets in only
# answers to what went out).
#
# 1. alice asks, bob approves: the session comes up through the relay, as in rendezvous.sh
#    (and goes direct a few hundred milliseconds later: `vertex ping` through the relay is
#    checked in 3, where the relay is all there is).
# 2. Each agent learnt its public address from its server (reflection over UDP) and offers its
#    candidates to the other through the servers; both probe at once, under the session's keys,
#    and within seconds frames go directly from NAT to NAT: `vertex peers` says path udp with
#    the other router's public address, `vertex ping` says which path answered, and the routers
#    count packets between the sites. `vertex netcheck` tells the NAT's mapping and filtering.
# 3. bob's router starts dropping UDP: the direct path dies and the relay carries the session
#    again, with no new handshake; ping keeps working.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
nat_lab_up pass

ALICE=alice@$DOMAIN_A
BOB=bob@$DOMAIN_B
server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva
server_start srvb
enrolled alice alice "$ALICE"
enrolled bob bob "$BOB"
lab_agent_config alice "$ALICE" fd00:5678:a1::/48
lab_agent_config bob "$BOB" fd00:5678:b1::/48
printf 'purpose ssh tcp/22\n' >>"$VTX_TMP/bob.conf"

home_up()
{
	[[ $(vtx_ctl "$1" status --json | jq -r .server_state) == up ]]
}

peer_field() # peer_field NAME IDENTITY FIELD
{
	vtx_ctl "$1" peers --json | jq -er --arg id "$2" ".peers[] | select(.identity == \$id) | .$3"
}

path_is() # path_is NAME IDENTITY PATH
{
	[[ $(peer_field "$1" "$2" path 2>/dev/null) == "$3" ]]
}

say "1. ask and approve: the relay first"
lab_agent_start alice alice
lab_agent_start bob bob
wait_until 20 home_up alice || fail "alice's agent never connects to its server"
wait_until 20 home_up bob || fail "bob's agent never connects to its server"
wait_until 10 grep -q "direct: our address as the server sees it: $NATA_IP:" "$VTX_TMP/alice.log" ||
	fail "alice never learnt her public address: $(grep direct "$VTX_TMP/alice.log")"
wait_until 10 grep -q "direct: our address as the server sees it: $NATB_IP:" "$VTX_TMP/bob.log" ||
	fail "bob never learnt his public address"
pass "each agent learnt its NAT's public address from its server"
# Linux masquerade keeps the port (one mapping for every destination) and the routers let in
# only what comes from where they sent: netcheck says so once the reflection round is over.
netcheck_done()
{
	[[ $(vtx_ctl alice netcheck --json | jq -r .nat.filtering) != unknown &&
		$(vtx_ctl alice netcheck --json | jq -r .nat.mapping) != unknown ]]
}
wait_until 30 netcheck_done || fail "netcheck never classifies alice's NAT: $(vtx_ctl alice netcheck)"
NC=$(vtx_ctl alice netcheck --json)
[[ $(jq -r .nat.reflexive <<<"$NC") == "$NATA_IP:4800" ]] || fail "netcheck: $NC"
[[ $(jq -r .nat.mapping <<<"$NC") == endpoint-independent ]] || fail "netcheck mapping: $NC"
[[ $(jq -r .nat.filtering <<<"$NC") == port-dependent ]] || fail "netcheck filtering: $NC"
jq -e '.candidates | index("srflx '"$NATA_IP"':4800")' <<<"$NC" >/dev/null || fail "candidates: $NC"
jq -e '.candidates | index("host '"$ALICE_LAN_IP"':4800")' <<<"$NC" >/dev/null || fail "candidates: $NC"
pass "netcheck: $(vtx_ctl alice netcheck | tr -s ' ' | tr '\n' ';' | cut -c1-200)"
vtx_ctl alice connect "$BOB/ssh" --wait 60 >"$VTX_TMP/connect.out" 2>&1 &
CONNECT_PID=$!
track_pid "$CONNECT_PID"
wait_until 20 bash -c "'$VERTEX' -s '$VTX_TMP/bob.sock' requests --json | jq -e '.incoming[0]'" ||
	fail "bob never sees the request"
[[ $(nat_counter nata) == 0 && $(nat_counter natb) == 0 ]] ||
	fail "packets between the sites before approval: nata $(nat_counter nata), natb $(nat_counter natb)"
pass "before approval: no packet between the sites"
vtx_ctl bob approve "$ALICE" ssh >/dev/null || fail "approve failed"
wait "$CONNECT_PID" || fail "connect: $(cat "$VTX_TMP/connect.out")"
BOB4=$(vtx_ctl alice resolve --address "$BOB/ssh")
wait_until 20 qn alice ping -c 1 -W 1 "$BOB4" || fail "no ping through the relay"
pass "session up, ping works"
grep -q "peer $BOB (relay): session up, handshake #1" "$VTX_TMP/alice.log" ||
	fail "the session did not come up through the relay"
pass "the session came up through the relay"

say "2. candidates offered, probes both ways: a direct path"
wait_until 20 path_is alice "$BOB" udp || fail "alice never goes direct: $(vtx_ctl alice peers) counters nata $(nat_counter nata) natb $(nat_counter natb); $(qn nata nft list ruleset | grep -c counter)"
wait_until 20 path_is bob "$ALICE" udp || fail "bob never goes direct: $(vtx_ctl bob peers)"
EP=$(peer_field alice "$BOB" endpoint)
[[ $EP == "$NATB_IP:"* ]] || fail "alice's endpoint for bob is $EP, not bob's router"
[[ $(peer_field bob "$ALICE" endpoint) == "$NATA_IP:"* ]] || fail "bob's endpoint for alice"
# The figure (printed, not asserted): from bob's approval to the first authentic frame over UDP.
log_ms() # log_ms FILE PATTERN: the first line's time of day in ms
{
	grep -m1 "$2" "$1" | awk '{ split($1, t, /[:.]/); print ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4] }'
}
T_APPROVE=$(log_ms "$VTX_TMP/bob.log" "rendezvous: approved $ALICE")
T_DIRECT=$(log_ms "$VTX_TMP/bob.log" "peer $ALICE: endpoint (none) -> ")
pass "both on path udp: alice -> $EP, bob -> $(peer_field bob "$ALICE" endpoint); approval to direct: $((T_DIRECT - T_APPROVE)) ms (bob's log)"
CANDS=$(vtx_ctl alice peers --json | jq -c --arg id "$BOB" '.peers[] | select(.identity == $id) | .candidates')
jq -e --arg c "srflx $EP works" 'index($c)' <<<"$CANDS" >/dev/null ||
	fail "alice's peers does not say which of bob's candidates works: $CANDS"
jq -e --arg c "^host $BOB_LAN_IP:4800 (no-answer|probing)\$" 'any(.[]; test($c))' <<<"$CANDS" >/dev/null ||
	fail "alice's peers does not say bob's host candidate got no answer: $CANDS"
vtx_ctl alice peers | grep -q "candidate  *srflx $EP works" || fail "vertex peers text: $(vtx_ctl alice peers)"
pass "vertex peers: bob's candidates and their state: $CANDS"
BEFORE=$(nat_counter natb)
check_ping on_alice "$BOB4"
(($(nat_counter natb) >= BEFORE + 10)) || fail "pings did not cross bob's router directly"
pass "pings go directly between the routers ($(nat_counter natb) packets counted at natb)"
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $OUT"
grep -q "reply in .* ms via direct udp $NATB_IP:" <<<"$OUT" || fail "vertex ping said: $OUT"
pass "vertex ping, direct: $(grep reply <<<"$OUT")"
HS=$(peer_field alice "$BOB" handshakes)

say "3. bob's router drops UDP: back to the relay, same session"
qn natb nft add rule ip vtxlab between meta l4proto udp ip daddr != "$DNS_IP" ip saddr != "$DNS_IP" drop
wait_until 40 path_is alice "$BOB" relay || fail "alice never falls back to the relay: $(vtx_ctl alice peers)"
wait_until 40 path_is bob "$ALICE" relay || fail "bob never falls back to the relay: $(vtx_ctl bob peers)"
check_ping on_alice "$BOB4"
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $OUT"
grep -q "reply in .* ms via relay via $DOMAIN_A $DOMAIN_B" <<<"$OUT" || fail "vertex ping said: $OUT"
[[ $(peer_field alice "$BOB" handshakes) == "$HS" ]] || fail "a new handshake was needed"
pass "the relay carries the session again, with no new handshake: $(grep reply <<<"$OUT")"
wait_until 5 grep -q "direct: the direct path to $BOB stopped answering" "$VTX_TMP/alice.log" ||
	fail "alice's agent did not look for a direct path again"
pass "alice's agent asked its server again and offered anew when the direct path died"

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
