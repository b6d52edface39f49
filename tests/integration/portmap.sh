#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A direct path through a router port mapping: the NAT lab of lib_nat.sh, where hole punching
# alone cannot work, and bob's router maps ports on request (miniupnpd: UPnP IGD, NAT-PMP, PCP).
#
#                      dns 198.18.0.53   srva .10   srvb .20   stun 198.18.0.40 (stun_answer)
#                                 \          |         |         /
#                                  ---------[ sw: br0 ]----------
#                                    /                   \
#          nata 198.18.0.201                               natb 198.18.0.202
#          masquerade random: a new random                 masquerade, nothing unasked gets in;
#          public port per destination                     miniupnpd on lan0: its DNAT rules
#          (endpoint-dependent mapping)                    are the only way in
#                      |  198.19.1.0/24                          |  198.19.2.0/24
#                 alice 198.19.1.2                          bob 198.19.2.2
#
# 1. The behaviours, proved first: datagrams from the public LAN to natb's port 4800 do not
#    reach bob (counted in bob's namespace); alice's netcheck finds her mapping
#    endpoint-dependent (the port the server saw is useless to anyone else).
# 2. bob's agent asks natb for a mapping of its data port: netcheck names the protocols that
#    answered (pcp nat-pmp upnp) and the mapping (PCP, 198.18.0.202:4800, 7200 s), offered as
#    a `mapped` candidate; miniupnpd holds the DNAT rule, and the same datagrams now reach bob.
#    alice's router maps nothing: her netcheck says "none".
# 3. alice asks, bob approves: the relay first, then alice's probes reach bob through the
#    mapped port: both go direct (vertex peers, vertex ping; packets counted at natb), alice's
#    endpoint for bob is the mapped address, bob's for alice a random port of nata.
# 4. bob's agent is killed (SIGKILL): the mapping stays; started again, it maps the same port
#    (the router's old mapping taken over, not a second one).
# 5. bob's agent stops (SIGTERM): the mapping is deleted (lifetime 0) and gone from miniupnpd.
# 6. The same router with UPnP IGD only: bob's agent, started again, maps by UPnP
#    (AddPortMapping, on a thread), and deletes it when it stops (DeletePortMapping).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
nat_upnp_binary >/dev/null || skip "missing miniupnpd (scripts/install-deps.sh unpacks it)"
NATA_KIND=symmetric nat_lab_up pass
nat_upnp_start natb

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

netcheck_field() # netcheck_field NAME FIELD
{
	vtx_ctl "$1" netcheck --json | jq -er ".nat.$2"
}

netcheck_done() # netcheck_done NAME: the reflection round classified the NAT
{
	[[ $(netcheck_field "$1" filtering) != unknown && $(netcheck_field "$1" mapping) != unknown ]]
}

peer_field() # peer_field NAME IDENTITY FIELD
{
	vtx_ctl "$1" peers --json | jq -er --arg id "$2" ".peers[] | select(.identity == \$id) | .$3"
}

path_is() # path_is NAME IDENTITY PATH
{
	[[ $(peer_field "$1" "$2" path 2>/dev/null) == "$3" ]]
}

# Datagrams to bob's data port, counted where they arrive (bob's namespace).
qn bob nft -f - <<EOF
table ip vtxprobe {
	counter arrived { }
	chain input {
		type filter hook input priority -10; policy accept;
		ip saddr $SRVB_IP udp sport != { 4801, 4802 } udp dport 4800 counter name arrived
	}
}
EOF
arrived()
{
	qn bob nft list counter ip vtxprobe arrived | awk '/packets/ { print $2; exit }'
}
unasked() # unasked N: N datagrams from server B's host (not its server's ports) to natb:4800
{
	local i
	for ((i = 0; i < $1; i++)); do
		qn srvb bash -c "echo unasked >/dev/udp/$NATB_IP/4800"
	done
}

say "1. the routers' behaviours"
unasked 3
sleep 0.5 # nothing can be awaited: what is tested is that nothing comes
[[ $(arrived) == 0 ]] || fail "natb let in $(arrived) datagram(s) nobody asked for"
pass "natb lets in nothing unasked (3 datagrams from the public LAN to $NATB_IP:4800, 0 reach bob)"
lab_agent_start alice alice
lab_agent_start bob bob
wait_until 20 home_up alice || fail "alice's agent never connects to its server"
wait_until 20 home_up bob || fail "bob's agent never connects to its server"
wait_until 30 netcheck_done alice || fail "netcheck never classifies alice's NAT: $(vtx_ctl alice netcheck)"
[[ $(netcheck_field alice mapping) == endpoint-dependent ]] ||
	fail "nata should give a new port per destination: $(vtx_ctl alice netcheck)"
pass "alice's NAT: endpoint-dependent mapping (reflexive $(netcheck_field alice reflexive), other port $(netcheck_field alice reflexive_other))"

say "2. bob's router maps his data port"
mapped() # mapped NAME: the agent holds a mapping and every protocol of natb answered
{
	[[ $(netcheck_field "$1" port_mapping) == "pcp nat-pmp upnp" &&
		$(netcheck_field "$1" port_mapping_protocol) != - ]]
}
wait_until 15 mapped bob || fail "bob gets no mapping: $(vtx_ctl bob netcheck); $(grep portmap "$VTX_TMP/bob.log")"
NC=$(vtx_ctl bob netcheck --json)
[[ $(jq -r .nat.port_mapping_protocol <<<"$NC") == pcp ]] || fail "not mapped by PCP: $NC"
[[ $(jq -r .nat.port_mapping_external <<<"$NC") == "$NATB_IP:4800" ]] || fail "mapping: $NC"
[[ $(jq -r .nat.port_mapping_lifetime <<<"$NC") == 7200 ]] || fail "lifetime: $NC"
[[ $(jq -r .nat.port_mapping_gateway <<<"$NC") == 198.19.2.1 ]] || fail "gateway: $NC"
jq -e '.candidates | index("mapped '"$NATB_IP"':4800")' <<<"$NC" >/dev/null || fail "candidates: $NC"
grep -q "portmap: PCP at 198.19.2.1: mapped $NATB_IP:4800 for 7200 s" "$VTX_TMP/bob.log" ||
	fail "bob's log does not say how it was mapped: $(grep portmap "$VTX_TMP/bob.log")"
RULES=$(nat_upnp_rules natb)
grep -q "0x11 th dport 4800 dnat ip to $BOB_LAN_IP:4800" <<<"$RULES" || fail "miniupnpd's rules: $RULES"
grep -q "0x6 th dport 4800 dnat ip to $BOB_LAN_IP:4800" <<<"$RULES" || fail "miniupnpd's rules: $RULES"
(($(wc -l <<<"$RULES") == 2)) || fail "two mappings expected (UDP, TCP), miniupnpd holds: $RULES"
pass "bob: $(vtx_ctl bob netcheck | grep -E '^(port mapping|mapped)' | tr -s ' ' | tr '\n' ';')"
pass "miniupnpd on natb: $RULES"
unasked 3
wait_until 5 test "$(arrived)" -eq 3 || fail "through the mapping, $(arrived) of 3 datagrams reach bob"
pass "through the mapping, the same 3 datagrams reach bob"
OUT=$(vtx_ctl bob netcheck)
grep -q "^mapped  *$NATB_IP:4800 by pcp for 7200 s" <<<"$OUT" || fail "netcheck text: $OUT"
# Asking ends when every protocol has had its tries (PCP and NAT-PMP retransmit, UPnP waits
# for SSDP answers), for UDP and TCP alike: a few seconds.
alice_done_asking() { [[ $(netcheck_field alice port_mapping) != asking ]]; }
wait_until 15 alice_done_asking
[[ $(netcheck_field alice port_mapping) == none ]] ||
	fail "alice's router maps nothing, her netcheck says: $(vtx_ctl alice netcheck)"
jq -e '.candidates | map(select(startswith("mapped"))) | length == 0' \
	<<<"$(vtx_ctl alice netcheck --json)" >/dev/null || fail "alice offers a mapped candidate"
pass "alice's router answers no port-mapping protocol: netcheck says none, no mapped candidate"

say "3. ask and approve: the relay first, then direct through bob's mapped port"
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
wait_until 20 path_is alice "$BOB" udp ||
	fail "alice never goes direct: $(vtx_ctl alice peers); natb $(nat_counter natb)"
wait_until 20 path_is bob "$ALICE" udp || fail "bob never goes direct: $(vtx_ctl bob peers)"
EP=$(peer_field alice "$BOB" endpoint)
[[ $EP == "$NATB_IP:4800" ]] || fail "alice's endpoint for bob is $EP, not the mapped port"
EPA=$(peer_field bob "$ALICE" endpoint)
[[ $EPA == "$NATA_IP:"* && $EPA != "$(netcheck_field alice reflexive)" ]] ||
	fail "bob's endpoint for alice is $EPA (her reflexive address: $(netcheck_field alice reflexive))"
pass "both on path udp: alice -> $EP (the mapping), bob -> $EPA (a port nata made for bob alone)"
BEFORE=$(nat_counter natb)
check_ping on_alice "$BOB4"
(($(nat_counter natb) >= BEFORE + 10)) || fail "pings did not cross bob's router directly"
pass "pings go directly between the routers ($(nat_counter natb) packets counted at natb)"
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $OUT"
grep -q "reply in .* ms via direct udp $NATB_IP:4800" <<<"$OUT" || fail "vertex ping said: $OUT"
pass "vertex ping: $(grep reply <<<"$OUT")"

say "4. bob's agent is killed (SIGKILL) and started again: it takes over its old mapping"
vtx_stop bob KILL
[[ $(nat_upnp_rules natb) == *"dnat ip to $BOB_LAN_IP:4800"* ]] ||
	fail "a killed agent deletes nothing, yet miniupnpd holds: $(nat_upnp_rules natb)"
lab_agent_start bob bob
wait_until 20 home_up bob || fail "bob's agent never connects to its server again"
again_mapped()
{
	[[ $(netcheck_field bob port_mapping_external) == "$NATB_IP:4800" ]]
}
wait_until 15 again_mapped || fail "bob gets no mapping after a crash: $(vtx_ctl bob netcheck); $(grep portmap "$VTX_TMP/bob.log" | tail -5)"
RULES=$(nat_upnp_rules natb)
(($(wc -l <<<"$RULES") == 2)) || fail "two mappings expected (UDP, TCP), miniupnpd holds: $RULES"
pass "after a crash: $(vtx_ctl bob netcheck | grep -E '^mapped' | tr -s ' ') (one rule at natb)"

say "5. bob's agent stops: the mapping is deleted"
vtx_stop bob
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd bob exited with status $VTX_LAST_RC (it crashed?)"
grep -q "portmap: PCP at 198.19.2.1: mapping deleted" "$VTX_TMP/bob.log" ||
	fail "bob's log: $(grep portmap "$VTX_TMP/bob.log")"
no_rules()
{
	[[ -z $(nat_upnp_rules natb) ]]
}
wait_until 5 no_rules || fail "miniupnpd still maps: $(nat_upnp_rules natb)"
pass "miniupnpd holds no mapping any more"

say "6. UPnP IGD only: mapped and deleted by UPnP"
nat_upnp_stop natb
nat_upnp_start natb upnp-only
lab_agent_start bob bob
upnp_mapped()
{
	[[ $(netcheck_field bob port_mapping) == upnp &&
		$(netcheck_field bob port_mapping_protocol) == upnp ]]
}
wait_until 20 upnp_mapped || fail "bob gets no UPnP mapping: $(vtx_ctl bob netcheck); $(grep portmap "$VTX_TMP/bob.log")"
[[ $(netcheck_field bob port_mapping_external) == "$NATB_IP:4800" ]] ||
	fail "UPnP mapping: $(vtx_ctl bob netcheck)"
RULES=$(nat_upnp_rules natb)
grep -q "0x11 th dport 4800 dnat ip to $BOB_LAN_IP:4800" <<<"$RULES" || fail "miniupnpd's rules: $RULES"
tcp_upnp_mapped()
{
	[[ $(netcheck_field bob port_mapping_tcp_protocol) == upnp ]]
}
wait_until 20 tcp_upnp_mapped || fail "bob gets no UPnP TCP mapping: $(vtx_ctl bob netcheck)"
grep -q "0x6 th dport 4800 dnat ip to $BOB_LAN_IP:4800" <<<"$(nat_upnp_rules natb)" ||
	fail "miniupnpd's rules: $(nat_upnp_rules natb)"
pass "bob: $(vtx_ctl bob netcheck | grep -E '^(port mapping|mapped)' | tr -s ' ' | tr '\n' ';')"
vtx_stop bob
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd bob exited with status $VTX_LAST_RC (it crashed?)"
grep -q "portmap: UPnP at 198.19.2.1: mapping deleted" "$VTX_TMP/bob.log" ||
	fail "bob's log: $(grep portmap "$VTX_TMP/bob.log")"
grep -q "portmap tcp: UPnP at 198.19.2.1: mapping deleted" "$VTX_TMP/bob.log" ||
	fail "bob's log: $(grep portmap "$VTX_TMP/bob.log")"
wait_until 5 no_rules || fail "miniupnpd still maps: $(nat_upnp_rules natb)"
pass "UPnP: mapped, then deleted by DeletePortMapping when bob's agent stopped"
vtx_stop alice
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd alice exited with status $VTX_LAST_RC (it crashed?)"
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
