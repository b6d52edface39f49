#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Rendezvous through two domains' servers, both agents behind NAT routers and bob's router
# dropping all UDP (lib_nat.sh draws the lab). No config names an endpoint. alice's router
# gives a new random port per destination, so no direct path exists either way (no UDP at
# bob's; a TCP simultaneous open needs the ports kept, docs/direct-paths.md) and the relay
# carries the session throughout.
#
# 1. alice asks bob@b.example.com/ssh; bob sees her request with the fingerprint of her real
#    certificate. Until he approves, neither router passes a packet between the sites and
#    nothing alice's agent logged or printed names any of bob's addresses.
# 2. bob approves: alice is told where to reach the purpose, the session comes up through the
#    relay (a's server -> b's server), ping (IPv4 and IPv6 overlay) and ssh work, and 64 MiB
#    go both ways byte-identical. Both agents show the peer "relay via a.example.com
#    b.example.com" with the approvals each way.
# 3. kill -9 both agents and both servers, start them again: the peers come back with the same
#    overlay addresses and approvals, and ping works with no one asked again.
# 4. bob revokes alice: her session is cut within a second (measured), ping fails, the
#    approvals are gone on both sides (rendezvous_server.sh shows the servers then refuse to
#    relay for the pair).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
command -v jq >/dev/null || skip "missing tool: jq"
NATA_KIND=symmetric nat_lab_up drop

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
grep -q endpoint "$VTX_TMP/alice.conf" "$VTX_TMP/bob.conf" && fail "no config may name an endpoint"

home_up()
{
	[[ $(vtx_ctl "$1" status --json | jq -r .server_state) == up ]]
}

start_agents()
{
	lab_agent_start alice alice
	lab_agent_start bob bob
	wait_until 20 home_up alice || fail "alice's agent never connects to its server"
	wait_until 20 home_up bob || fail "bob's agent never connects to its server"
}

peer_field() # peer_field NAME IDENTITY FIELD
{
	vtx_ctl "$1" peers --json | jq -er --arg id "$2" ".peers[] | select(.identity == \$id) | .$3"
}

peer_up() # peer_up NAME IDENTITY
{
	[[ $(peer_field "$1" "$2" state 2>/dev/null) == up ]]
}

say "1. alice asks; nothing flows toward her before bob approves"
start_agents
qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" connect "$BOB/ssh" --wait 120 \
	>"$VTX_TMP/connect.out" 2>&1 &
CONNECT_PID=$!
track_pid "$CONNECT_PID"
wait_until 20 bash -c "'$VERTEX' -s '$VTX_TMP/bob.sock' requests --json | jq -e '.incoming[0]'" ||
	fail "bob never sees alice's request: $(vtx_ctl bob requests) $(tail -5 "$VTX_TMP/srvb.log")"
REQ=$(vtx_ctl bob requests --json)
[[ $(jq -r '.incoming[0].identity' <<<"$REQ") == "$ALICE" ]] || fail "request from: $REQ"
[[ $(jq -r '.incoming[0].purpose' <<<"$REQ") == ssh ]] || fail "request for: $REQ"
FPR=$(openssl x509 -in "$VTX_TMP/alice.crt" -outform DER | sha256sum | cut -d' ' -f1)
[[ $(jq -r '.incoming[0].fpr' <<<"$REQ") == "$FPR" ]] ||
	fail "bob sees fingerprint $(jq -r '.incoming[0].fpr' <<<"$REQ"), alice's certificate is $FPR"
pass "bob sees alice@$DOMAIN_A asking for ssh, certificate $FPR as her server verified it"
vtx_ctl bob requests | grep -q "$ALICE asks for ssh" || fail "requests text: $(vtx_ctl bob requests)"
sleep 1 # a second of pending request: what could leak, would
[[ $(nat_counter nata) == 0 && $(nat_counter natb) == 0 ]] ||
	fail "packets between the sites before approval: nata $(nat_counter nata), natb $(nat_counter natb)"
pass "before approval: no packet between the sites on either router"
vtx_ctl alice requests --json >"$VTX_TMP/alice.requests"
vtx_ctl alice peers --json >>"$VTX_TMP/alice.requests"
for addr in "$BOB_LAN_IP" "$NATB_IP"; do
	! grep -qF "$addr" "$VTX_TMP/alice.log" "$VTX_TMP/alice.requests" ||
		fail "alice's agent learnt bob's address $addr before approval"
done
pass "before approval: alice's log and CLI name none of bob's addresses"

say "2. bob approves: the relay carries the session at once"
T_APPROVE=$(date +%s%N)
vtx_ctl bob approve "$ALICE" ssh | grep -q "approved $ALICE for ssh" || fail "approve failed"
wait "$CONNECT_PID" || fail "alice's connect did not end approved: $(cat "$VTX_TMP/connect.out")"
grep -q "$BOB approved ssh" "$VTX_TMP/connect.out" || fail "connect said: $(cat "$VTX_TMP/connect.out")"
BOB4=$(vtx_ctl alice resolve --address "$BOB/ssh")
BOB6=$(vtx_ctl alice resolve -6 --address "$BOB/ssh")
[[ $(vtx_ctl alice resolve --port "$BOB/ssh") == 22 ]] || fail "resolve port"
[[ $(vtx_ctl alice resolve "$BOB/ssh") == "$BOB4 22" ]] || fail "resolve: $(vtx_ctl alice resolve "$BOB/ssh")"
pass "alice resolves $BOB/ssh to $BOB4 port 22 ($BOB6)"
wait_until 20 qn alice ping -c 1 -W 1 "$BOB4" ||
	fail "no overlay ping through the relay: $(vtx_ctl alice peers) $(tail -5 "$VTX_TMP/alice.log")"
T_PING=$(date +%s%N)
pass "first ping reply $(((T_PING - T_APPROVE) / 1000000)) ms after the approval"
check_ping on_alice "$BOB4"
check_ping on_alice "$BOB6"
[[ $(peer_field alice "$BOB" path) == relay ]] || fail "alice's path: $(vtx_ctl alice peers)"
vtx_ctl alice peers | grep -q "relay via $DOMAIN_A $DOMAIN_B" || fail "peers: $(vtx_ctl alice peers)"
[[ $(peer_field alice "$BOB" approved_out) == "ssh(tcp/22)" ]] || fail "alice's approvals"
[[ $(peer_field bob "$ALICE" approved_in) == "ssh(tcp/22)" ]] || fail "bob's approvals"
pass "both see the peer up by relay via both servers, ssh approved each way as it should"
sshd_start "$(ns_for bob)"
check_ssh on_alice "$BOB4"
check_bulk on_alice "$BOB4" 64
ALICE4=$(peer_field bob "$ALICE" overlay4)
# bob is approved for nothing at alice: her firewall (docs/firewall.md) drops his echo requests.
! on_bob ping -c 2 -W 1 "$ALICE4" >/dev/null || fail "bob pings alice, approved for nothing there"
pass "bob's ping to alice dropped by her firewall: he may reach nothing of hers"

say "3. kill -9 everything, start again: the same peers, addresses and approvals"
vtx_stop alice KILL
vtx_stop bob KILL
stop_pid "${VTX_SERVER_PID[srva]}" KILL
stop_pid "${VTX_SERVER_PID[srvb]}" KILL
server_start srva
server_start srvb
start_agents
wait_until 30 peer_up alice "$BOB" || fail "bob never comes back for alice: $(vtx_ctl alice peers)"
[[ $(vtx_ctl alice resolve --address "$BOB/ssh") == "$BOB4" ]] || fail "bob's address changed"
[[ $(peer_field bob "$ALICE" overlay4) == "$ALICE4" ]] || fail "alice's address changed"
wait_until 20 qn alice ping -c 1 -W 1 "$BOB4" || fail "no ping after the restart"
check_ping on_alice "$BOB4"
[[ -z $(vtx_ctl bob requests --json | jq -r '.incoming[]') ]] || fail "bob was asked again"
pass "after kill -9 of both agents and both servers: same addresses, approvals kept, no new ask"

say "4. bob revokes alice: cut within a second"
T0=$(date +%s%N)
vtx_ctl bob revoke "$ALICE" >/dev/null || fail "revoke failed"
cut_off()
{
	! peer_up alice "$BOB" && ! peer_up bob "$ALICE"
}
wait_until 5 cut_off || fail "alice still has a session: $(vtx_ctl alice peers)"
T1=$(date +%s%N)
MS=$(((T1 - T0) / 1000000))
((MS < 1000)) || fail "the session ended $MS ms after the revocation (more than a second)"
pass "session cut $MS ms after 'vertex revoke'"
! qn alice ping -c 2 -W 1 "$BOB4" >/dev/null || fail "ping still works after the revocation"
! vtx_ctl alice resolve "$BOB/ssh" >/dev/null 2>&1 || fail "alice still resolves bob's ssh"
pass "after the revocation: no ping, no approval on alice's side"

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
assert_clean "$(ns_for alice)" "$(ns_for bob)"
server_stop srva
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server a exited with status $VTX_LAST_RC"
server_stop srvb
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server b exited with status $VTX_LAST_RC"
pass "$VTX_SCENARIO"
