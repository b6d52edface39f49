#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A domain's server under bad input: garbage, junk records inside valid TLS, and a crowd of
# silent connections. It says what it dropped and why, keeps serving everyone else (a connected
# agent stays connected, a new user enrols meanwhile), and loses nothing it stored.
#
#                                 dns  198.18.0.53
#                                          |
#     srva 198.18.0.10  ---------------[ sw: br0 ]
#     vertex-server a.example.com       /    |    \
#                       alice 198.18.0.101   |   bob 198.18.0.102 (the attacker here)
#                       (vertexd, server auto)   carol 198.18.0.103 (enrols during the attack)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"

vtx_require
command -v openssl >/dev/null || skip "missing tool: openssl"
domains_up
domain_node_add carol 198.18.0.103
server_init srva "$DOMAIN_A" >/dev/null
server_start srva
enrolled alice alice "alice@$DOMAIN_A"
lab_agent_config alice "alice@$DOMAIN_A" fd00:5678:a1::/48 "carol@$DOMAIN_A" 198.18.0.103
lab_agent_start alice alice

home_up()
{
	[[ $(vtx_ctl alice status --json | jq -r .server_state) == up ]]
}
server_conns() # established TCP connections to the server's port, seen from the server
{
	qn srva ss -Htn state established "( sport = :$SERVER_PORT )" | wc -l
}
conns_at_most()
{
	[[ $(server_conns) -le $1 ]]
}
log_has()
{
	grep -q "$1" "$VTX_TMP/srva.log"
}
wait_until 15 home_up || fail "alice never connected to her server"
pass "alice is connected to server@$DOMAIN_A"

say "garbage instead of TLS"
in_ns bob bash -c "exec 3<>/dev/tcp/$SRVA_IP/$SERVER_PORT; head -c 2000 /dev/urandom >&3; sleep 1" || true
GARBAGE="dropped a connection from $BOB_IP:[0-9]* before HELLO: handshake failed"
wait_until 5 log_has "$GARBAGE" || fail "no line about the garbage: $(tail -3 "$VTX_TMP/srva.log")"
pass "$(grep -m1 "$GARBAGE" "$VTX_TMP/srva.log" | cut -d' ' -f3-)"

say "valid TLS, then a junk record header (a 1.8 GB body announced)"
printf 'hello, server\n' | qn bob timeout 10 openssl s_client -quiet -tls1_3 \
	-connect "$SRVA_IP:$SERVER_PORT" >/dev/null 2>&1 || true
wait_until 5 log_has "from $BOB_IP:[0-9]* before HELLO: malformed or oversized record" ||
	fail "no line about the junk record: $(tail -3 "$VTX_TMP/srva.log")"
pass "$(grep -m1 "malformed or oversized record" "$VTX_TMP/srva.log" | cut -d' ' -f3-)"

say "200 connections that never speak, held 13 s"
in_ns bob bash -c "for i in \$(seq 200); do ( exec 3<>/dev/tcp/$SRVA_IP/$SERVER_PORT; sleep 13 ) & done; wait" &
crowd=$!
track_pid "$crowd"
wait_until 10 bash -c "[[ \$(ip netns exec $(ns_for srva) ss -Htn state established '( sport = :$SERVER_PORT )' | wc -l) -ge 150 ]]" ||
	fail "the crowd did not arrive: $(server_conns) connections"
pass "$(server_conns) connections held open against the server"
enrolled carol carol "carol@$DOMAIN_A"
pass "carol enrolled while the crowd was there"
home_up || fail "alice lost her server during the crowd"
wait_until 15 conns_at_most 5 || fail "silent connections not closed: $(server_conns) remain"
pass "the silent connections were closed at the handshake deadline; $(server_conns) remain"
home_up || fail "alice lost her server"
pass "alice stayed connected throughout"
wait "$crowd" 2>/dev/null || true

say "nothing stored was lost: restart and look"
server_stop srva
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server exited with $VTX_LAST_RC"
users=$(server_admin srva user list --json | jq -r '[.users[] | select(.certificates > 0) | .user] | join(",")')
[[ $users == alice,carol ]] || fail "after the restart the store lists certified users '$users'"
server_start srva
wait_until 70 home_up || fail "alice did not reconnect after the restart"
pass "both accounts with their certificates are there; alice reconnected"

vtx_stop alice
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd alice exited with status $VTX_LAST_RC (it crashed?)"
server_stop srva
pass "$VTX_SCENARIO"
