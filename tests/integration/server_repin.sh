#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A domain really replaces its CA, and the administrator of another domain's server re-pins it
# with `vertex-server trust`, while that server runs.
#
#                                 dns  198.18.0.53
#                                          |
#     srva 198.18.0.10  ---------------[ sw: br0 ]---------------  srvb 198.18.0.20
#     vertex-server a.example.com            \                     vertex-server b.example.com
#                                       bob 198.18.0.102           (later: re-made with a new CA)
#                                       vertexd bob@b, peer alice@a (who never runs: bob only
#                                       needs a's CA, which he fetches from a's server with his
#                                       certificate, every 30 s for a's revocation list)
#
# 1. bob presents his certificate to a's server: it pins b's CA on first use and verifies him.
# 2. b's administrator re-makes the domain with a new CA and bob registers again: a's server
#    refuses bob's new certificate, and its refresh refuses b's new CA, naming both prints.
# 3. a's administrator pins b to the new fingerprint (`trust pin`): within the 2 s store poll the
#    running server stops trusting the old CA; the next contact from b (bob or b's server) is
#    checked against the new pin and gets through -- no restart.
# 4. `trust forget`: the running server lets go of the CA again, and bob's next contact pins it
#    on first use, cross-checked.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
domains_up

server_init srva "$DOMAIN_A" >/dev/null
CA_B=$(server_init srvb "$DOMAIN_B")
server_start srva
server_start srvb
enrolled bob bob "bob@$DOMAIN_B"
lab_agent_config bob "bob@$DOMAIN_B" fd00:5678:b1::/48 "alice@$DOMAIN_A" "$ALICE_IP"

# since FILE MARK PATTERN: PATTERN appears in FILE after its first MARK lines.
since()
{
	tail -n "+$(($2 + 1))" "$1" | grep -q -- "$3"
}
lines() # lines FILE: how many lines FILE has now
{
	wc -l <"$1"
}
pin_json() # pin_json FIELD: FIELD of the pin a's server holds for b
{
	server_admin srva trust show "$DOMAIN_B" --json | jq -er ".pins[0].$1"
}
# bob's agent or b's server: whichever of them presents its certificate to a's server first.
# (bob may hang up before a's server has judged his certificate: what he fetches is public.)
VERIFIED="@$DOMAIN_B (.*): certificate of another domain verified against its pinned CA"

say "1. first use: a's server pins b's CA when bob presents his certificate"
lab_agent_start bob bob
wait_until 40 grep -q "$VERIFIED" "$VTX_TMP/srva.log" ||
	fail "a's server never verified b's certificates: $(grep -i federation "$VTX_TMP/srva.log" | tail -3)"
[[ $(pin_json fingerprint) == "$CA_B" ]] || fail "a's pin of b: $(pin_json fingerprint)"
[[ $(pin_json how) == "first use"* ]] || fail "a's pin of b was made by: $(pin_json how)"
pass "a's server pinned $CA_B for $DOMAIN_B on first use and verified b's certificates against it"

say "2. b replaces its CA; bob registers again under the new one"
server_stop srvb
pp mv "$VTX_TMP/srvb" "$VTX_TMP/srvb.old"
CA_B2=$(server_init srvb "$DOMAIN_B")
[[ -n $CA_B2 && $CA_B2 != "$CA_B" ]] || fail "the new CA of b is not new: $CA_B2"
server_start srvb
vtx_stop bob
pp rm -f "$VTX_TMP/bob.ca" "$VTX_TMP/bob.crt"
enrolled bob bob "bob@$DOMAIN_B"
mark=$(lines "$VTX_TMP/srva.log")
lab_agent_start bob bob
wait_until 40 since "$VTX_TMP/srva.log" "$mark" "bob@$DOMAIN_B.*not signed by the CA of $DOMAIN_B" ||
	fail "a's server did not refuse bob's new certificate: $(tail -n 5 "$VTX_TMP/srva.log")"
wait_until 40 since "$VTX_TMP/srva.log" "$mark" "$DOMAIN_B now offers CA $CA_B2, but $CA_B is pinned; refused" ||
	fail "a's server did not refuse b's new CA: $(grep -i federation "$VTX_TMP/srva.log" | tail -3)"
since "$VTX_TMP/srva.log" "$mark" "$VERIFIED" && fail "a's server verified a certificate under b's new CA"
pass "a's server refuses b's new CA ($CA_B2) and bob's certificate under it: $CA_B is pinned"

say "3. a's administrator re-pins b to the new fingerprint; the running server follows"
mark=$(lines "$VTX_TMP/srva.log")
bob_mark=$(lines "$VTX_TMP/bob.log")
pp server_admin srva trust pin "$DOMAIN_B" "$CA_B2"
[[ $(pin_json fingerprint) == "$CA_B2" && $(pin_json how) == "pinned by the administrator" ]] ||
	fail "the new pin: $(server_admin srva trust show "$DOMAIN_B")"
wait_until 5 since "$VTX_TMP/srva.log" "$mark" "the administrator changed the pin of $DOMAIN_B: its CA $CA_B is no longer trusted" ||
	fail "the running server did not notice the new pin: $(tail -n 3 "$VTX_TMP/srva.log")"
pass "within the store poll: $(tail -n "+$((mark + 1))" "$VTX_TMP/srva.log" | grep -m1 "changed the pin" | cut -d' ' -f3-)"
wait_until 40 since "$VTX_TMP/srva.log" "$mark" "the CA of $DOMAIN_B matches its pin $CA_B2 (pinned by the administrator): trusted" ||
	fail "a's server never trusted b's new CA by its pin: $(tail -n 5 "$VTX_TMP/srva.log")"
wait_until 40 since "$VTX_TMP/srva.log" "$mark" "$VERIFIED" ||
	fail "a's server never verified a certificate under b's new CA: $(tail -n 5 "$VTX_TMP/srva.log")"
# bob kept a's list from before (his state store): the sign of a fetch that works again is
# that he says a's server answers again.
wait_until 40 since "$VTX_TMP/bob.log" "$bob_mark" "$DOMAIN_A: its server answers again" ||
	fail "bob's connections to a's server still fail: $(tail -n 3 "$VTX_TMP/bob.log")"
[[ $(pin_json how) == "pinned by the administrator" ]] || fail "the pin was replaced: $(pin_json how)"
pass "b's new CA is trusted by a's running server through the administrator's pin; bob gets through"

say "4. a's administrator forgets b's pin: the next contact is a first use again"
mark=$(lines "$VTX_TMP/srva.log")
pp server_admin srva trust forget "$DOMAIN_B"
wait_until 5 since "$VTX_TMP/srva.log" "$mark" "the administrator changed the pin of $DOMAIN_B: its CA $CA_B2 is no longer trusted" ||
	fail "the running server did not notice the forgotten pin: $(tail -n 3 "$VTX_TMP/srva.log")"
wait_until 40 since "$VTX_TMP/srva.log" "$mark" "pinned the CA of $DOMAIN_B: $CA_B2 (first use" ||
	fail "a's server did not pin b again on first use: $(grep -i federation "$VTX_TMP/srva.log" | tail -3)"
wait_until 40 since "$VTX_TMP/srva.log" "$mark" "$VERIFIED" ||
	fail "no certificate of b verified after the first use"
[[ $(pin_json fingerprint) == "$CA_B2" && $(pin_json how) == "first use"* ]] ||
	fail "the pin after forget: $(server_admin srva trust show "$DOMAIN_B")"
pass "forgotten, then pinned again on first use: $(pin_json how)"

vtx_stop bob
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd bob exited with status $VTX_LAST_RC (it crashed?)"
server_stop srva
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server srva exited with status $VTX_LAST_RC"
server_stop srvb
pass "$VTX_SCENARIO"
