#!/bin/bash
# SPDX-License-Identifier: MIT
#
# One vertex-server process serving two domains (run --also): a.example.com from its -D state
# directory and c.example.com from another, on one listener, told apart by the TLS server name
# each client sends.
#
#                                 dns  198.18.0.53   (c.example.com A 198.18.0.30)
#                                          |
#     srva 198.18.0.10 + 198.18.0.30 ---[ sw: br0 ]---
#     one vertex-server: a.example.com (-D srva), c.example.com (--also srvc)
#                        /                        \
#          alice 198.18.0.101 (a)            carol 198.18.0.103 (c)
#
# 1. One process, two domains, each with its own CA, accounts and store.
# 2. alice@a and carol@c register (each verifies server@ its own domain, so each got the right
#    certificate), keep their home connections, meet across the two domains (CAs fetched, the
#    notary asked, pinned: the server federates with itself like with any other) and ping.
# 3. Revoking carol in c's directory: c's half of the process disconnects and refuses her;
#    alice, in a, drops her at her next fetch of c's list; a's accounts are untouched.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"

CAROL_IP=198.18.0.103

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
domains_up
domain_node_add carol "$CAROL_IP"
in_ns srva ip addr add "$SRVC_IP/$LAN_PREFIX" dev eth0

say "1. one process, two domains"
CA_A=$(server_init srva "$DOMAIN_A")
pretty host "vertex-server -D srvc init --domain $DOMAIN_C"
server_admin srvc init --domain "$DOMAIN_C" >"$VTX_TMP/srvc.init" ||
	fail "init of $DOMAIN_C failed: $(cat "$VTX_TMP/srvc.init")"
CA_C=$(awk '/ CA / { print $NF }' "$VTX_TMP/srvc.init")
[[ -n $CA_C && $CA_C != "$CA_A" ]] || fail "no separate CA for $DOMAIN_C"
server_start srva --also "$VTX_TMP/srvc"
grep -q "serving $DOMAIN_A, $DOMAIN_C on tcp port $SERVER_PORT" "$VTX_TMP/srva.log" ||
	fail "the server does not say it serves both: $(head -3 "$VTX_TMP/srva.log")"
pass "one vertex-server process serves $DOMAIN_A and $DOMAIN_C"

say "2. an agent of each domain registers, and they meet"
enrolled alice alice "alice@$DOMAIN_A"
enrolled carol carol "carol@$DOMAIN_C"
grep -q "$CA_C" "$VTX_TMP/carol.reg" || fail "carol did not get c's CA: $(cat "$VTX_TMP/carol.reg")"
server_admin srvc user list | grep -qw carol || fail "carol is not an account of $DOMAIN_C"
if server_admin srva user list | grep -qw carol; then
	fail "carol is an account of $DOMAIN_A too"
fi
pass "each registered with its own domain (carol's certificate chains to $CA_C)"
lab_agent_config alice "alice@$DOMAIN_A" fd00:5678:a1::/48 "carol@$DOMAIN_C" "$CAROL_IP"
lab_agent_config carol "carol@$DOMAIN_C" fd00:5678:c1::/48 "alice@$DOMAIN_A" "$ALICE_IP"
lab_agent_start alice alice
lab_agent_start carol carol
home_up()
{
	[[ $(vtx_ctl "$1" status --json | jq -r .server_state) == up ]]
}
wait_until 20 home_up alice || fail "alice has no home connection: $(tail -5 "$VTX_TMP/alice.log")"
wait_until 20 home_up carol || fail "carol has no home connection: $(tail -5 "$VTX_TMP/carol.log")"
grep -q "home: connected to server@$DOMAIN_C" "$VTX_TMP/carol.log" ||
	fail "carol's home connection is not to server@$DOMAIN_C"
pass "both keep their home connections, each verified as its own domain's server"
wait_until 40 peer_is_up alice || fail "alice never sees carol up: $(tail -8 "$VTX_TMP/alice.log")"
wait_until 20 peer_is_up carol || fail "carol never sees alice up"
grep -q "$DOMAIN_C: pinned CA $CA_C" "$VTX_TMP/alice.log" || fail "alice did not pin c's CA"
grep -q "$DOMAIN_A: pinned CA $CA_A" "$VTX_TMP/carol.log" || fail "carol did not pin a's CA"
grep -q "federation of $DOMAIN_A: pinned the CA of $DOMAIN_C: $CA_C" "$VTX_TMP/srva.log" ||
	fail "a's side of the server did not pin c: $(grep federation "$VTX_TMP/srva.log" | tail -3)"
carol4=$(peer_json alice .overlay4)
wait_until 10 qn alice ping -c 1 -W 1 "$carol4" || fail "no overlay ping alice -> carol"
pass "alice@$DOMAIN_A and carol@$DOMAIN_C met through the one server and reach each other"

say "3. carol is revoked in $DOMAIN_C"
t0=$(date +%s)
pp server_admin srvc revoke carol
wait_until 10 grep -q "carol@$DOMAIN_C.*certificate revoked, disconnecting" "$VTX_TMP/srva.log" ||
	fail "c's side did not disconnect carol: $(tail -5 "$VTX_TMP/srva.log")"
wait_until 10 grep -q "home: connection to .* lost: peer refused the read: bad_certificate" "$VTX_TMP/carol.log" ||
	fail "carol's reconnections are not refused: $(tail -5 "$VTX_TMP/carol.log")"
pass "c's side of the server disconnected carol and refuses her, $(($(date +%s) - t0)) s after the revoke"
wait_until 45 grep -q "peer carol@$DOMAIN_C: certificate revoked by $DOMAIN_C" "$VTX_TMP/alice.log" ||
	fail "alice did not drop carol: $(tail -5 "$VTX_TMP/alice.log")"
pass "alice, in $DOMAIN_A, dropped carol $(($(date +%s) - t0)) s after the revoke"
server_admin srva user list | grep -qw alice || fail "alice's account in $DOMAIN_A is gone"

for n in alice carol; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server exited with status $VTX_LAST_RC"
grep -q "stopped: .* in $DOMAIN_C" "$VTX_TMP/srva.log" || fail "no summary for $DOMAIN_C"
pass "$VTX_SCENARIO"
