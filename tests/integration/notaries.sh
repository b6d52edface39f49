#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Notaries beyond the home server (DESIGN §3): a man in the middle on alice's side of the network
# fools alice and her home server about c.example.com, and is caught by the notaries that are not
# on that path: the server of b (a domain alice already trusts) and bob@b (a peer she has a
# session with). Three domains:
#
#                                 dns  198.18.0.53
#                                          |
#     srva 198.18.0.10 ---- srvb 198.18.0.20 ---[ sw: br0 ]--- srvc 198.18.0.30 --- srvx 198.18.0.33
#     a.example.com         b.example.com          |           c.example.com       an impostor: another
#                                                  |                               CA for c.example.com
#            alice 198.18.0.101 (a)   bob 198.18.0.102 (b)   carol 198.18.0.103 (c)
#
# 1. bob@b and carol@c meet: bob and b's server pin c's CA (and carol and c's server pin b's).
# 2. alice@a meets bob@b: alice and a's server pin b's CA.
# 3. alice's and srva's hosts files send c.example.com to srvx. alice, now also configured with
#    carol, fetches the impostor's CA and asks her notaries: a's server (which fetches the impostor
#    too, asks b's server, and so reports the domain disputed), b's server and bob (both have
#    pinned the real CA). The first use is refused, naming the notary and both fingerprints; a's
#    server does not pin the impostor either.
# 4. The man in the middle goes away. At alice's next fetch of c's CA (a refused domain is
#    fetched again every 30 s) all notaries agree on the real CA: alice pins it (the pin names
#    who agreed), a's server pins it after its own cross-check, and alice reaches carol (who
#    now has alice among her peers).
# 5. A peer that floods bob with notary questions gets the first 16 answered; the rest are
#    dropped and counted (rate_limited).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"

SRVX_IP=198.18.0.33
CAROL_IP=198.18.0.103

vtx_require python3
[[ -x $VERTEX_SERVER && -x $VTX_BUILD/notary_flood ]] || fail "missing $VERTEX_SERVER or $VTX_BUILD/notary_flood"
domains_up
domain_c_up
domain_node_add carol "$CAROL_IP"
domain_node_add srvx "$SRVX_IP"
# Before anything starts there: `ip netns exec` binds the file only if it exists.
domain_hosts alice
domain_hosts srva

server_init srva "$DOMAIN_A" >/dev/null
CA_B=$(server_init srvb "$DOMAIN_B")
CA_C=$(server_init srvc "$DOMAIN_C")
IMPOSTOR=$(server_init srvx "$DOMAIN_C")
[[ $IMPOSTOR != "$CA_C" ]] || fail "the impostor got the same CA?"
for s in srva srvb srvc; do
	server_start "$s"
done
enrolled alice alice "alice@$DOMAIN_A"
enrolled bob bob "bob@$DOMAIN_B"
enrolled carol carol "carol@$DOMAIN_C"
lab_agent_config bob "bob@$DOMAIN_B" fd00:5678:b1::/48 "carol@$DOMAIN_C" "$CAROL_IP" \
	"alice@$DOMAIN_A" "$ALICE_IP"
# carol meets alice only in step 4: fetching a's CA she would show a's server her certificate,
# and it would pin c's CA then, before the man in the middle is there to fool it.
lab_agent_config carol "carol@$DOMAIN_C" fd00:5678:c1::/48 "bob@$DOMAIN_B" "$BOB_IP"
lab_agent_config alice "alice@$DOMAIN_A" fd00:5678:a1::/48 "bob@$DOMAIN_B" "$BOB_IP"

# peer_state NAME IDENTITY: the state NAME's agent reports for that peer.
peer_state()
{
	vtx_ctl "$1" peers --json | jq -er --arg id "$2" '.peers[] | select(.identity == $id) | .state'
}

peer_up_with()
{
	[[ $(peer_state "$1" "$2") == up ]]
}

# overlay_of NAME IDENTITY: the overlay IPv4 address NAME's agent gave that peer.
overlay_of()
{
	vtx_ctl "$1" peers --json | jq -er --arg id "$2" '.peers[] | select(.identity == $id) | .overlay4'
}

# server_pins NODE: the domains NODE's server has pinned, read from its store (read-only).
server_pins()
{
	python3 - "$VTX_TMP/$1/server.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for (domain,) in db.execute("SELECT domain FROM pins ORDER BY domain"):
    print(domain)
PY
}

say "1. bob@b and carol@c meet"
lab_agent_start bob bob
lab_agent_start carol carol
wait_until 40 peer_up_with bob "carol@$DOMAIN_C" || fail "bob never sees carol up: $(tail -5 "$VTX_TMP/bob.log")"
grep -q "federation of $DOMAIN_B: pinned the CA of $DOMAIN_C: $CA_C" "$VTX_TMP/srvb.log" ||
	fail "b's server did not pin c's CA: $(grep federation "$VTX_TMP/srvb.log" | tail -3)"
pass "bob and b's server pinned c's CA $CA_C"

say "2. alice@a meets bob@b"
lab_agent_start alice alice
wait_until 40 peer_up_with alice "bob@$DOMAIN_B" || fail "alice never sees bob up: $(tail -5 "$VTX_TMP/alice.log")"
grep -q "federation of $DOMAIN_A: pinned the CA of $DOMAIN_B: $CA_B" "$VTX_TMP/srva.log" || fail "a's server did not pin b's CA"
pass "alice and a's server pinned b's CA"

say "3. a man in the middle on alice's side sends c.example.com to an impostor"
domain_hosts alice "$SRVX_IP" "$DOMAIN_C"
domain_hosts srva "$SRVX_IP" "$DOMAIN_C"
qn alice getent hosts "$DOMAIN_C" | grep -q "$SRVX_IP" || fail "the hosts file does not take effect"
vtx_stop alice
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd alice exited with status $VTX_LAST_RC (it crashed?)"
lab_agent_config alice "alice@$DOMAIN_A" fd00:5678:a1::/48 "bob@$DOMAIN_B" "$BOB_IP" \
	"carol@$DOMAIN_C" "$CAROL_IP"
# The impostor starts only once alice has her session with bob, so that bob is among the
# notaries asked (until then her fetches of c's CA fail and are retried).
lab_agent_start alice alice
wait_until 20 peer_up_with alice "bob@$DOMAIN_B" || fail "alice lost bob"
server_start srvx
refusal="$DOMAIN_C: notary $DOMAIN_B sees CA $CA_C, but $IMPOSTOR was presented; refused"
wait_until 40 grep -qF "$refusal" "$VTX_TMP/alice.log" ||
	fail "alice did not refuse the impostor: $(grep -i "$DOMAIN_C" "$VTX_TMP/alice.log" | tail -8)"
pass "alice refused the impostor's CA: $refusal"
grep -qF "$DOMAIN_C: notary bob@$DOMAIN_B sees CA $CA_C" "$VTX_TMP/alice.log" ||
	fail "bob (a peer) was not asked or did not answer: $(grep -i "notary" "$VTX_TMP/alice.log" | tail -5)"
pass "bob@$DOMAIN_B, a peer, answered as a notary with the real CA"
grep -qF "$DOMAIN_C: notary $DOMAIN_A reports the domain disputed (shown CA $IMPOSTOR)" "$VTX_TMP/alice.log" ||
	fail "a's server did not report the dispute: $(grep -i "notary $DOMAIN_A" "$VTX_TMP/alice.log" | tail -3)"
grep -qF "federation of $DOMAIN_A: not pinning: $DOMAIN_C: notary $DOMAIN_B sees CA $CA_C, but $IMPOSTOR was presented" "$VTX_TMP/srva.log" ||
	fail "a's server did not cross-check its first use: $(grep federation "$VTX_TMP/srva.log" | tail -5)"
pass "a's server, fooled too, cross-checked with b's server, did not pin, and reported the dispute"
# Pins print as a bare domain line; the domains being worked on as "domain D" and indented facts.
vtx_ctl alice trust list >"$VTX_TMP/alice.trust"
grep -qxF "$DOMAIN_B" "$VTX_TMP/alice.trust" || fail "cannot read alice's pins: $(cat "$VTX_TMP/alice.trust")"
if grep -qxF "$DOMAIN_C" "$VTX_TMP/alice.trust"; then
	fail "alice pinned c anyway: $(cat "$VTX_TMP/alice.trust")"
fi
grep -A1 -xF "domain $DOMAIN_C" "$VTX_TMP/alice.trust" | grep -q "state *refused" ||
	fail "vertex trust does not show c as refused: $(cat "$VTX_TMP/alice.trust")"

server_pins srva | grep -qx "$DOMAIN_B" || fail "cannot read a's server's pins: $(server_pins srva)"
if server_pins srva | grep -qx "$DOMAIN_C"; then
	fail "a's server pinned c anyway"
fi
[[ $(peer_state alice "carol@$DOMAIN_C") != up ]] || fail "alice came up with carol through the impostor"
pass "no pin and no session for c.example.com"

say "4. the man in the middle goes away"
server_stop srvx
domain_hosts alice
domain_hosts srva
vtx_stop carol
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd carol exited with status $VTX_LAST_RC (it crashed?)"
lab_agent_config carol "carol@$DOMAIN_C" fd00:5678:c1::/48 "bob@$DOMAIN_B" "$BOB_IP" \
	"alice@$DOMAIN_A" "$ALICE_IP"
lab_agent_start carol carol
# alice keeps running: a refused domain is fetched again every 30 s (FOREIGN_REFRESH_MS), and
# the new candidate goes through a new notary round.
agreed="first use; agreed: $DOMAIN_A, $DOMAIN_B, bob@$DOMAIN_B"
wait_until 50 grep -qF "$DOMAIN_C: pinned CA $CA_C ($agreed)" "$VTX_TMP/alice.log" ||
	fail "alice did not pin c's real CA with all notaries agreeing: $(grep -i "$DOMAIN_C" "$VTX_TMP/alice.log" | tail -8)"
pass "alice pinned $CA_C: $agreed"
grep -qF "federation of $DOMAIN_A: pinned the CA of $DOMAIN_C: $CA_C (first use; agreed: $DOMAIN_B)" "$VTX_TMP/srva.log" ||
	fail "a's server did not pin c after its cross-check: $(grep federation "$VTX_TMP/srva.log" | tail -5)"
pass "a's server pinned c's CA after b's server agreed"
crl_shown()
{
	vtx_ctl alice trust list | grep -A6 -xF "domain $DOMAIN_C" | grep -q "crl *#1, next update"
}
wait_until 10 crl_shown ||
	fail "vertex trust does not show c's revocation list: $(vtx_ctl alice trust list)"
pass "vertex trust shows c's revocation list: $(vtx_ctl alice trust list | grep -A6 -xF "domain $DOMAIN_C" | grep crl | xargs)"
wait_until 40 peer_up_with alice "carol@$DOMAIN_C" || fail "alice never sees carol up"
carol4=$(overlay_of alice "carol@$DOMAIN_C")
wait_until 10 qn alice ping -c 1 -W 1 "$carol4" || fail "no overlay ping alice -> carol ($carol4)"
pass "alice reaches carol@$DOMAIN_C over the overlay ($carol4)"

say "5. a peer that asks too many notary questions"
# carol's agent stops; a tool with her key dials bob, completes a session and asks 40 questions
# at once. bob answers the first NOTARIES_PEER_BURST (16; one more may have been earned by the
# time they are read) and drops the rest, counted.
vtx_stop carol
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd carol exited with status $VTX_LAST_RC (it crashed?)"
out=$(qn carol "$VTX_BUILD/notary_flood" "$BOB_IP:4800" "$VTX_TMP/carol.key" "$VTX_TMP/carol.crt" \
	"bob@$DOMAIN_B" "$VTX_TMP/bob.ca" "$DOMAIN_C" 40) || fail "notary_flood: $out"
answered=$(sed -n 's/^answered \([0-9]*\) of 40$/\1/p' <<<"$out")
[[ -n $answered ]] && ((answered >= 16 && answered <= 17)) ||
	fail "bob answered '$out' to 40 notary questions at once, expected 16 (or 17)"
dropped=$(vtx_ctl bob peers --json |
	jq -er --arg id "carol@$DOMAIN_C" '.peers[] | select(.identity == $id) | .drops.rate_limited')
[[ $dropped -eq $((40 - answered)) ]] || fail "bob counted $dropped rate-limited drops, expected $((40 - answered))"
grep -q "peer carol@$DOMAIN_C: dropped (rate_limited): notary question over the rate" "$VTX_TMP/bob.log" ||
	fail "bob did not log the rate-limited questions"
pass "bob answered $answered of 40 notary questions and counted $dropped drops (rate_limited)"

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
for s in srva srvb srvc; do
	server_stop "$s"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server $s exited with status $VTX_LAST_RC (it crashed?)"
done
pass "$VTX_SCENARIO"
