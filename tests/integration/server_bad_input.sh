#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A domain's server under bad input: garbage, junk records inside valid TLS, a crowd of silent
# connections, and a flood of certificates naming domains that do not exist. It says what it dropped and why, keeps serving everyone else (a connected
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
# One network may hold SERVER_PREHELLO_PER_SOURCE (64) connections that have not said HELLO;
# the server closes the rest at once, so the crowd cannot take everyone else's places.
CROWD_REFUSED="refused a connection from $BOB_IP: 64 connections from its network have not said HELLO yet"
wait_until 10 log_has "$CROWD_REFUSED" ||
	fail "the crowd was not limited: $(server_conns) connections; $(tail -3 "$VTX_TMP/srva.log")"
wait_until 5 bash -c "[[ \$(ip netns exec $(ns_for srva) ss -Htn state established '( sport = :$SERVER_PORT )' | wc -l) -ge 60 ]]" ||
	fail "the crowd did not arrive: $(server_conns) connections"
sleep 1
held=$(server_conns)
((held >= 60 && held <= 66)) || fail "$held connections held, expected bob's 64 and alice's"
pass "$held connections held open against the server (64 of them bob's); the rest refused: $CROWD_REFUSED"
enrolled carol carol "carol@$DOMAIN_A"
pass "carol enrolled while the crowd was there"
home_up || fail "alice lost her server during the crowd"
wait_until 15 conns_at_most 5 || fail "silent connections not closed: $(server_conns) remain"
pass "the silent connections were closed at the handshake deadline; $(server_conns) remain"
home_up || fail "alice lost her server"
pass "alice stayed connected throughout"
wait "$crowd" 2>/dev/null || true

say "a flood of first contacts: certificates naming 25 domains that do not exist"
# Presenting a certificate of another domain makes the server fetch that domain's CA (a DNS
# lookup, outbound connections): from one address, 10 at once, then one per 10 s. A domain whose
# first contact failed is forgotten, so junk domains cannot fill the server's domain table.
qn bob "$VERTEX" key new --key "$VTX_TMP/junk.key" --pub "$VTX_TMP/junk.pub" >/dev/null
for i in $(seq 25); do
	"$VERTEX" ca init "junk$i.example.com" --key "$VTX_TMP/junk$i.cakey" \
		--cert "$VTX_TMP/junk$i.ca" --days 1 >/dev/null
	"$VERTEX" ca sign --ca-key "$VTX_TMP/junk$i.cakey" --ca-cert "$VTX_TMP/junk$i.ca" \
		--pub "$VTX_TMP/junk.pub" --identity "x@junk$i.example.com" \
		--out "$VTX_TMP/junk$i.crt" >/dev/null
done
junk() # junk NODE I: present x@junkI.example.com's certificate from NODE; prints the answer
{
	qn "$1" "$VTX_BUILD/foreign_probe" "$SRVA_IP:$SERVER_PORT" "$VTX_TMP/junk.key" \
		"$VTX_TMP/junk$2.crt" "$DOMAIN_A" "$VTX_TMP/alice.ca" || true
}
unpinned=0 limited=0
for i in $(seq 24); do
	out=$(junk bob "$i")
	case $out in
	"error denied: certificate refused: its domain's CA could not be pinned") ((++unpinned)) ;;
	"error denied: certificate refused: too many first contacts from $BOB_IP; try again in "*) ((++limited)) ;;
	*) fail "junk certificate $i got: $out" ;;
	esac
done
((unpinned >= 10 && unpinned <= 11 && unpinned + limited == 24)) ||
	fail "from one address: $unpinned first contacts tried, $limited refused (expected 10, or 11 if slow)"
pass "from $BOB_IP: $unpinned first contacts tried (each domain: no such name), $limited refused by the limit"
first="fetching its CA; 0 other first contact(s) running, 1 domain(s) known"
[[ $(grep -c "first contact with junk[0-9]*.example.com (asked from $BOB_IP): $first" "$VTX_TMP/srva.log") -eq $unpinned ]] ||
	fail "the failed domains were not forgotten: $(grep 'first contact with' "$VTX_TMP/srva.log" | tail -3)"
pass "each failed domain was forgotten: every first contact began with 1 domain known"
out=$(junk carol 25)
[[ $out == "error denied: certificate refused: its domain's CA could not be pinned" ]] ||
	fail "from another address the first contact was not tried: $out"
log_has "first contact with junk25.example.com (asked from 198.18.0.103)" ||
	fail "no first contact from carol's address in the log"
pass "another address still gets its first contact tried"
home_up || fail "alice lost her server during the flood"

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
