#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Re-pinning on a running agent (issue 9 item 2): `vertex trust pin` to another fingerprint and
# `vertex trust forget` take effect at once. The CA trusted until then stops being trusted: the
# sessions it vouched for close, and new handshakes under it are refused, until the domain is
# decided anew (the real fingerprint pinned again, or first use after a forget).
#
#                                 dns  198.18.0.53
#                                          |
#     srva 198.18.0.10  ---------------[ sw: br0 ]---------------  srvb 198.18.0.20
#     vertex-server a.example.com       /         \                 vertex-server b.example.com
#                         alice 198.18.0.101       bob 198.18.0.102
#                         (a, peer bob@b)          (b, peer alice@a)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"

vtx_require
domains_up
server_init srva "$DOMAIN_A" >/dev/null
CA_B=$(server_init srvb "$DOMAIN_B")
server_start srva
server_start srvb
enrolled alice alice "alice@$DOMAIN_A"
enrolled bob bob "bob@$DOMAIN_B"
lab_agent_config alice "alice@$DOMAIN_A" fd00:5678:a1::/48 "bob@$DOMAIN_B" "$BOB_IP"
lab_agent_config bob "bob@$DOMAIN_B" fd00:5678:b1::/48 "alice@$DOMAIN_A" "$ALICE_IP"
lab_agent_start alice alice
lab_agent_start bob bob

peer_is_down()
{
	[[ $(peer_json "$1" .state) != up ]]
}
domain_state()
{
	vtx_ctl alice trust show "$DOMAIN_B" --json | jq -r '.domains[0].domain_state'
}
domain_is()
{
	[[ $(domain_state) == "$1" ]]
}
refusals() # handshakes alice refused because no CA of b is trusted
{
	grep -c "handshake with bob@$DOMAIN_B (.*) failed: .*no trusted CA for .*$DOMAIN_B" \
		"$VTX_TMP/alice.log" || true
}
up_again()
{
	wait_until 60 peer_is_up alice || fail "alice and bob never came back up: $(tail -5 "$VTX_TMP/alice.log")"
	wait_until 10 qn alice ping -c 1 -W 1 "$OVL4_PEER" || fail "no overlay ping after $1"
	pass "session back up after $1"
}

wait_until 40 peer_is_up alice || fail "alice never sees bob up: $(tail -5 "$VTX_TMP/alice.log")"
wait_until 10 qn alice ping -c 1 -W 1 "$OVL4_PEER" || fail "no overlay ping alice -> bob"
pass "alice pinned $CA_B on first use; the session is up"

say "1. the user pins b to another fingerprint"
OTHER=SHA256:$(head -c 32 /dev/urandom | base64 -w0 | tr -d =)
before=$(refusals)
pp vtx_ctl alice trust pin "$DOMAIN_B" "$OTHER"
wait_until 3 peer_is_down alice || fail "the session under the old CA stays up after the re-pin"
grep -q "peer bob@$DOMAIN_B: the pin of its domain changed; session closed" "$VTX_TMP/alice.log" ||
	fail "alice does not say why the session closed"
pass "the session under the old CA closed at once"
more_refusals()
{
	(($(refusals) > $1))
}
wait_until 40 more_refusals "$before" ||
	fail "no refused handshake from bob: $(tail -5 "$VTX_TMP/alice.log")"
pass "bob's new handshake under the old CA is refused: $(grep "handshake with bob@$DOMAIN_B" "$VTX_TMP/alice.log" | tail -1 | cut -d' ' -f3-)"
wait_until 10 domain_is refused ||
	fail "trust show says $(domain_state), not refused"
if qn alice ping -c 2 -W 1 "$OVL4_PEER" >/dev/null 2>&1; then
	fail "alice still reaches bob"
fi
peer_is_down alice || fail "the session came back under a CA that contradicts the pin"
pass "b is refused (pin $OTHER), no traffic"

say "2. the user pins the real fingerprint again"
pp vtx_ctl alice trust pin "$DOMAIN_B" "$CA_B"
up_again "pinning $CA_B"
domain_is trusted || fail "trust show says $(domain_state), not trusted"

say "3. the user forgets the pin"
CLOSED=$(grep -c "peer bob@$DOMAIN_B: the pin of its domain changed; session closed" "$VTX_TMP/alice.log")
pp vtx_ctl alice trust forget "$DOMAIN_B"
# The log, not the state: the first use that follows may bring the session back within
# milliseconds (the home server agrees at once), faster than a poll would see it down.
closed_again()
{
	(($(grep -c "peer bob@$DOMAIN_B: the pin of its domain changed; session closed" "$VTX_TMP/alice.log") > CLOSED))
}
wait_until 3 closed_again || fail "the session stays up after trust forget"
pass "the session closed at once"
up_again "forgetting the pin (first use again, cross-checked)"
[[ $(vtx_ctl alice trust show "$DOMAIN_B" --json | jq -r '.pins[0].how') == "first use; agreed: $DOMAIN_A" ]] ||
	fail "the new pin is not a first use agreed by a: $(vtx_ctl alice trust show "$DOMAIN_B")"
pass "b pinned again on first use, agreed by the home server"

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
