#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A domain's server over time: agents renew their certificates by themselves, a restarted server
# keeps its CA and its agents come back without registering again, and a revocation reaches a
# live peer session within a bounded time.
#
#                                 dns  198.18.0.53
#                                          |
#     srva 198.18.0.10  ---------------[ sw: br0 ]
#     vertex-server a.example.com        /       \
#     (certificates valid 30 s)   alice 198.18.0.101   carol 198.18.0.103
#                                 vertexd, server auto   vertexd, server auto
#                                 peer carol             peer alice
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
domains_up
domain_node_add carol 198.18.0.103

ca_before=$(server_init srva "$DOMAIN_A")
server_start srva --cert-validity 30s
enrolled alice alice "alice@$DOMAIN_A"
enrolled carol carol "carol@$DOMAIN_A"
VTX_REKEY_SEC=10 lab_agent_config alice "alice@$DOMAIN_A" fd00:5678:a1::/48 "carol@$DOMAIN_A" 198.18.0.103
VTX_REKEY_SEC=10 lab_agent_config carol "carol@$DOMAIN_A" fd00:5678:a3::/48 "alice@$DOMAIN_A" "$ALICE_IP"
lab_agent_start alice alice
lab_agent_start carol carol

status() # status NAME FIELD: a field of agent NAME's `vertex status --json`
{
	vtx_ctl "$1" status --json | jq -er ".$2"
}
field_is() # field_is NAME FIELD VALUE
{
	[[ $(status "$1" "$2") == "$3" ]]
}
renewed() # renewed NAME: the agent renewed its certificate at least once
{
	[[ $(status "$1" last_renewal) -gt 0 ]]
}
time_after() # time_after T: the clock is past unix time T
{
	[[ $(date +%s) -gt $1 ]]
}
handshakes_above() # handshakes_above NAME N: agent NAME completed more than N handshakes
{
	[[ $(peer_json "$1" .handshakes) -gt $2 ]]
}

wait_until 15 field_is alice server_state up || fail "alice never reached her server: $(vtx_ctl alice status)"
wait_until 15 field_is carol server_state up || fail "carol never reached her server"
pass "both agents found server@$DOMAIN_A through DNS SRV and are connected"
wait_until 30 peer_is_up alice || fail "alice never sees carol up: $(vtx_ctl alice peers)"
wait_until 10 qn alice ping -c 1 -W 1 "$OVL4_PEER" || fail "no overlay ping alice -> carol"
pass "overlay up between alice and carol"

say "renewal: certificates live 30 s; agents renew at two thirds, with no password"
first_end=$(status alice cert_not_after)
fpr_before=$("$VERTEX" cert show --json "$VTX_TMP/alice.crt" | jq -r .fingerprint)
wait_until 40 renewed alice || fail "alice did not renew: $(vtx_ctl alice status)"
wait_until 40 renewed carol || fail "carol did not renew"
[[ $(status alice cert_not_after) -gt $first_end ]] || fail "alice's certificate did not get later"
fpr_after=$("$VERTEX" cert show --json "$VTX_TMP/alice.crt" | jq -r .fingerprint)
[[ $fpr_after != "$fpr_before" ]] || fail "alice's certificate file was not replaced"
grep -q "renewed alice@$DOMAIN_A" "$VTX_TMP/srva.log" || fail "the server did not log the renewal"
pass "both renewed; alice's certificate file now holds $fpr_after"
say "wait until the first certificates have expired, then prove handshakes use the new ones"
wait_until 40 time_after $((first_end + 1)) || fail "the first certificate never expired"
hs=$(peer_json alice .handshakes)
wait_until 30 handshakes_above alice $((hs + 1)) ||
	fail "no new handshakes after the old certificates expired: $(vtx_ctl alice peers)"
wait_until 10 qn alice ping -c 1 -W 1 "$OVL4_PEER" || fail "overlay broken after renewal"
pass "handshakes after the first certificates expired succeed: renewed certificates are in use"

say "restart: the server keeps its CA; agents reconnect without registering again"
server_stop srva
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server exited with $VTX_LAST_RC"
wait_until 10 field_is alice server_state down || wait_until 10 field_is alice server_state connecting ||
	fail "alice did not notice the server going away"
server_start srva --cert-validity 30s
"$VERTEX" cert show --json "$VTX_TMP/srva/ca.crt" | jq -er .fingerprint | grep -qxF "$ca_before" ||
	fail "the CA changed across the restart"
wait_until 70 field_is alice server_state up || fail "alice did not reconnect: $(vtx_ctl alice status)"
wait_until 70 field_is carol server_state up || fail "carol did not reconnect"
pass "CA unchanged ($ca_before); both agents reconnected on their own"

say "revocation: carol is revoked; alice's live session with her ends within 10 s"
t0=$(date +%s)
pp server_admin srva revoke carol
wait_until 10 grep -q "peer carol@$DOMAIN_A: certificate revoked" "$VTX_TMP/alice.log" ||
	fail "alice did not close carol's session: $(tail -5 "$VTX_TMP/alice.log")"
t1=$(date +%s)
[[ $(peer_json alice .state) != up ]] || fail "alice still shows carol up"
if qn alice ping -c 2 -W 1 "$OVL4_PEER" >/dev/null; then
	fail "alice still reaches carol after the revocation"
fi
pass "alice closed the session with carol $((t1 - t0)) s after the revoke; no more traffic"
grep -q "carol@$DOMAIN_A.*certificate revoked, disconnecting" "$VTX_TMP/srva.log" ||
	fail "the server did not disconnect carol"
pass "the server disconnected carol's agent"
wait_until 40 grep -q "handshake with carol@$DOMAIN_A.*failed: .*revoked" "$VTX_TMP/alice.log" ||
	fail "carol's new handshakes are not refused as revoked: $(grep carol "$VTX_TMP/alice.log" | tail -3)"
pass "carol's new handshakes refused: $(grep "handshake with carol@$DOMAIN_A.*revoked" "$VTX_TMP/alice.log" | tail -1 | cut -d' ' -f3-)"

vtx_stop alice
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd alice exited with status $VTX_LAST_RC (it crashed?)"
vtx_stop carol
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd carol exited with status $VTX_LAST_RC (it crashed?)"
server_stop srva
pass "$VTX_SCENARIO"
