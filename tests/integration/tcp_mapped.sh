#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A direct TCP path where UDP is blocked but a TCP port is mapped or forwarded by a NATed
# host's router, on the NAT lab of lib_nat.sh (docs/direct-paths.md, "Direct TCP").
#
#                      dns 198.18.0.53   srva .10   srvb .20   stun 198.18.0.40 (stun_answer)
#                                 \          |         |         /
#                                  ---------[ sw: br0 ]----------
#                                    /                   \
#          nata 198.18.0.201                               natb 198.18.0.202
#          udp-blocked: masquerade,                        part 1: udp-blocked + miniupnpd
#          every UDP datagram dropped                      (its DNAT rules the only way in)
#          (DNS aside)                                     part 2: apdf + one hand-made DNAT
#                      |  198.19.1.0/24                          |  198.19.2.0/24
#                 alice 198.19.1.2                          bob 198.19.2.2
#
# 1. The behaviours, proved first: no UDP leaves either site; a TCP SYN from the public LAN to
#    natb:4800 does not reach bob (counted in bob's namespace).
# 2. bob's agent maps its peer port over TCP too (PCP, protocol 6): netcheck says `mapped tcp
#    198.18.0.202:4800 by pcp`, offered as `mapped .../tcp`; miniupnpd holds a TCP DNAT rule
#    beside the UDP one, and the same SYN now reaches bob.
# 3. alice asks, bob approves: the relay first; neither side's UDP reaches its server (no srflx
#    candidate), so TCP is due at once, and alice (whose TCP candidates are host ones only) is
#    the one who dials: bob's mapped candidate first. Both on path tcp, `vertex ping` says
#    `direct tcp 198.18.0.202:4800`, pings and 4 MiB over ssh (sha256 both ways) cross natb
#    directly. The time from the approval to both agents on the direct TCP path is printed.
# 4. bob's agent stops: both mappings deleted (its log, miniupnpd's table).
# 5. natb without miniupnpd, plain apdf, plus a DNAT of TCP port 4900 to bob's peer port (a
#    hand-made port forward): proved by a SYN first; bob's config says `public-tcp 4900`
#    (vertexd -n prints it), his netcheck offers `srflx 198.18.0.202:4900/tcp`; both agents
#    started again (the approval is in their state): alice dials that candidate, both on
#    path tcp, pings and ssh work.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
nat_upnp_binary >/dev/null || skip "missing miniupnpd (scripts/install-deps.sh unpacks it)"
NATA_KIND=udp-blocked NATB_KIND=udp-blocked nat_lab_up
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

netcheck_field() # netcheck_field NAME FIELD
{
	vtx_ctl "$1" netcheck --json | jq -er ".nat.$2"
}

# What reaches bob: new TCP connections to his peer port from srvb's host, and UDP from the
# public LAN (counted in bob's namespace, before his agent's sockets).
qn bob nft -f - <<EOF
table ip vtxprobe {
	counter syn { }
	chain input {
		type filter hook input priority -10; policy accept;
		ip saddr $SRVB_IP tcp dport 4800 tcp flags syn counter name syn
	}
}
EOF
syns()
{
	qn bob nft list counter ip vtxprobe syn | awk '/packets/ { print $2; exit }'
}
# knock PORT: one TCP connection attempt from srvb's host to natb:PORT (its answer, if any,
# does not matter: what is counted is what arrives at bob).
knock()
{
	qn srvb timeout 2 bash -c "echo knock >/dev/tcp/$NATB_IP/$1" 2>/dev/null || true
}
# UDP that left a site: counted at the servers' host (nothing there answers it).
qn srva nft -f - <<EOF
table ip vtxprobe {
	counter udp_in { }
	chain input {
		type filter hook input priority -10; policy accept;
		ip saddr { $NATA_IP, $NATB_IP } udp dport 9999 counter name udp_in
	}
}
EOF
udp_in()
{
	qn srva nft list counter ip vtxprobe udp_in | awk '/packets/ { print $2; exit }'
}

say "1. the routers' behaviours"
for h in alice bob; do
	qn "$h" bash -c "echo probe >/dev/udp/$SRVA_IP/9999"
done
qn alice bash -c "echo probe >/dev/tcp/$SRVA_IP/4801" || fail "alice cannot open TCP to server A"
knock 4800
# What is tested is that nothing comes: the TCP control above went out and back after the
# datagrams, through the same routers.
[[ $(udp_in) == 0 ]] || fail "$(udp_in) datagram(s) left a udp-blocked site"
[[ $(syns) == 0 ]] || fail "natb let in $(syns) TCP connection(s) nobody asked for"
pass "no UDP leaves either site (2 datagrams, 0 arrive; TCP goes out), natb lets in no unasked TCP"

lab_agent_start alice alice
lab_agent_start bob bob
wait_until 20 home_up alice || fail "alice's agent never connects to its server"
wait_until 20 home_up bob || fail "bob's agent never connects to its server"

say "2. bob's router maps his peer port over TCP"
tcp_mapped()
{
	[[ $(netcheck_field bob port_mapping_tcp_external) == "$NATB_IP:4800" ]]
}
wait_until 15 tcp_mapped ||
	fail "bob gets no TCP mapping: $(vtx_ctl bob netcheck); $(grep portmap "$VTX_TMP/bob.log")"
NC=$(vtx_ctl bob netcheck --json)
[[ $(jq -r .nat.port_mapping_tcp_protocol <<<"$NC") == pcp ]] || fail "not mapped by PCP: $NC"
[[ $(jq -r .nat.port_mapping_tcp_lifetime <<<"$NC") == 7200 ]] || fail "lifetime: $NC"
jq -e '.candidates | index("mapped '"$NATB_IP"':4800/tcp")' <<<"$NC" >/dev/null ||
	fail "no mapped TCP candidate: $NC"
jq -e '.candidates | map(select(startswith("srflx"))) | length == 0' <<<"$NC" >/dev/null ||
	fail "bob's UDP is blocked, yet he has a reflexive address: $NC"
grep -q "portmap tcp: PCP at 198.19.2.1: mapped $NATB_IP:4800 for 7200 s" "$VTX_TMP/bob.log" ||
	fail "bob's log does not say how it was mapped: $(grep portmap "$VTX_TMP/bob.log")"
OUT=$(vtx_ctl bob netcheck)
grep -q "^mapped tcp  *$NATB_IP:4800 by pcp for 7200 s" <<<"$OUT" || fail "netcheck text: $OUT"
RULES=$(nat_upnp_rules natb)
grep -q "0x6 th dport 4800 dnat ip to $BOB_LAN_IP:4800" <<<"$RULES" || fail "miniupnpd's rules: $RULES"
grep -q "0x11 th dport 4800 dnat ip to $BOB_LAN_IP:4800" <<<"$RULES" || fail "miniupnpd's rules: $RULES"
(($(wc -l <<<"$RULES") == 2)) || fail "two mappings expected (UDP, TCP), miniupnpd holds: $RULES"
pass "bob: $(grep -E '^mapped' <<<"$OUT" | tr -s ' ' | tr '\n' ';')"
pass "miniupnpd on natb: $(tr '\n' ';' <<<"$RULES")"
knock 4800
wait_until 5 test "$(syns)" -ge 1 || fail "through the mapping, no TCP connection reaches bob"
pass "through the TCP mapping, a connection from the public LAN reaches bob"

say "3. ask and approve: the relay, then alice dials bob's mapped TCP port at once"
vtx_ctl alice connect "$BOB/ssh" --wait 60 >"$VTX_TMP/connect.out" 2>&1 &
CONNECT_PID=$!
track_pid "$CONNECT_PID"
wait_until 20 bash -c "'$VERTEX' -s '$VTX_TMP/bob.sock' requests --json | jq -e '.incoming[0]'" ||
	fail "bob never sees the request"
T0=$(date +%s.%N)
vtx_ctl bob approve "$ALICE" ssh >/dev/null || fail "approve failed"
wait "$CONNECT_PID" || fail "connect: $(cat "$VTX_TMP/connect.out")"
wait_until 20 path_is alice "$BOB" tcp ||
	fail "alice never goes direct over TCP: $(vtx_ctl alice peers); $(grep direct: "$VTX_TMP/alice.log")"
wait_until 10 path_is bob "$ALICE" tcp || fail "bob is not on a direct TCP path: $(vtx_ctl bob peers)"
T1=$(date +%s.%N)
APPROVE_TO_TCP=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f", b - a }')
grep -q "direct: no UDP path to $BOB: trying a direct link to its TCP candidate $NATB_IP:4800 (mapped)" \
	"$VTX_TMP/alice.log" || fail "alice did not dial bob's mapped candidate: $(grep direct: "$VTX_TMP/alice.log")"
! grep -q "trying a direct link to its TCP candidate" "$VTX_TMP/bob.log" ||
	fail "bob (the reachable side) dialed: $(grep 'trying a direct' "$VTX_TMP/bob.log")"
grep -q "peer $BOB ($NATB_IP:4800): session up, handshake #2, we dialed" "$VTX_TMP/alice.log" ||
	fail "the session did not move to the link alice dialed: $(grep "peer $BOB" "$VTX_TMP/alice.log")"
pass "approval to both agents on the direct TCP path: $APPROVE_TO_TCP s"
BOB4=$(vtx_ctl alice resolve --address "$BOB/ssh")
BEFORE=$(nat_counter natb)
check_ping on_alice "$BOB4"
(($(nat_counter natb) >= BEFORE + 10)) || fail "pings did not cross bob's router directly"
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $OUT"
grep -q "reply in .* ms via direct tcp $NATB_IP:4800" <<<"$OUT" || fail "vertex ping said: $OUT"
pass "vertex ping: $(grep reply <<<"$OUT")"
jq -e --arg c "mapped $NATB_IP:4800/tcp dialed (a direct link is up)" 'index($c)' \
	<<<"$(vtx_ctl alice peers --json | jq -c --arg id "$BOB" '.peers[] | select(.identity == $id) | .candidates')" \
	>/dev/null || fail "vertex peers does not show the dialed mapped candidate: $(vtx_ctl alice peers)"
sshd_start "$(ns_for bob)"
BEFORE=$(nat_counter natb)
check_bulk on_alice "$BOB4" 4
(($(nat_counter natb) >= BEFORE + 500)) ||
	fail "the transfer did not cross bob's router directly ($(($(nat_counter natb) - BEFORE)) packets)"
pass "4 MiB each way over the direct TCP link ($(($(nat_counter natb) - BEFORE)) packets at natb)"
path_is alice "$BOB" tcp || fail "alice left the direct TCP path: $(vtx_ctl alice peers)"

say "4. bob's agent stops: both mappings deleted"
vtx_stop alice
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd alice exited with status $VTX_LAST_RC (it crashed?)"
vtx_stop bob
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd bob exited with status $VTX_LAST_RC (it crashed?)"
grep -q "portmap tcp: PCP at 198.19.2.1: mapping deleted" "$VTX_TMP/bob.log" ||
	fail "bob's log: $(grep portmap "$VTX_TMP/bob.log")"
grep -q "portmap: PCP at 198.19.2.1: mapping deleted" "$VTX_TMP/bob.log" ||
	fail "bob's log: $(grep portmap "$VTX_TMP/bob.log")"
no_rules()
{
	[[ -z $(nat_upnp_rules natb) ]]
}
wait_until 5 no_rules || fail "miniupnpd still maps: $(nat_upnp_rules natb)"
pass "miniupnpd holds no mapping any more (UDP and TCP deleted at bob's SIGTERM)"

say "5. a hand-made TCP port forward and public-tcp"
nat_upnp_stop natb
qn natb nft delete table inet vtxupnp
nat_site_kind natb apdf
SYN0=$(syns)
knock 4900
qn natb nft -f - <<EOF
table ip vtxfwd {
	chain pre {
		type nat hook prerouting priority -100;
		iifname "eth0" tcp dport 4900 dnat to $BOB_LAN_IP:4800
	}
}
EOF
knock 4900
wait_until 5 test "$(syns)" -ge $((SYN0 + 1)) || fail "the forward of TCP 4900 lets nothing in"
(($(syns) == SYN0 + 1)) || fail "$(($(syns) - SYN0)) connections reached bob, 1 expected (the first came before the forward)"
pass "natb: nothing in on TCP 4900 before the DNAT, bob's peer port through it after"
printf 'public-tcp 4900\n' >>"$VTX_TMP/bob.conf"
lab_agent_start alice alice
lab_agent_start bob bob
grep -q "^public-tcp  *4900$" "$VTX_TMP/bob.norm" || fail "vertexd -n: $(cat "$VTX_TMP/bob.norm")"
wait_until 20 home_up alice || fail "alice's agent never connects to its server again"
wait_until 20 home_up bob || fail "bob's agent never connects to its server again"
T0=$(date +%s.%N)
offers_forward()
{
	vtx_ctl bob netcheck --json | jq -e '.candidates | index("srflx '"$NATB_IP"':4900/tcp")' >/dev/null
}
wait_until 15 offers_forward || fail "bob does not offer the forwarded port: $(vtx_ctl bob netcheck)"
grep -q "^public tcp  *port 4900" <<<"$(vtx_ctl bob netcheck)" || fail "netcheck: $(vtx_ctl bob netcheck)"
pass "bob offers $(vtx_ctl bob netcheck --json | jq -r '.candidates[] | select(endswith(":4900/tcp"))')"
wait_until 30 path_is alice "$BOB" tcp ||
	fail "alice never goes direct over TCP: $(vtx_ctl alice peers); $(grep direct: "$VTX_TMP/alice.log")"
wait_until 10 path_is bob "$ALICE" tcp || fail "bob is not on a direct TCP path: $(vtx_ctl bob peers)"
T1=$(date +%s.%N)
grep -q "trying a direct link to its TCP candidate $NATB_IP:4900 (srflx)" "$VTX_TMP/alice.log" ||
	fail "alice did not dial the forwarded port: $(grep direct: "$VTX_TMP/alice.log")"
pass "both agents at home to both on the direct TCP path: $(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f", b - a }') s"
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $OUT"
grep -q "reply in .* ms via direct tcp $NATB_IP:4900" <<<"$OUT" || fail "vertex ping said: $OUT"
pass "vertex ping: $(grep reply <<<"$OUT")"
BEFORE=$(nat_counter natb)
check_ping on_alice "$BOB4"
check_ssh on_alice "$BOB4"
(($(nat_counter natb) >= BEFORE + 10)) || fail "the traffic did not cross bob's router directly"
pass "pings and ssh over the forwarded port ($(($(nat_counter natb) - BEFORE)) packets at natb)"

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO  (approval to direct TCP through the mapping: $APPROVE_TO_TCP s)"
