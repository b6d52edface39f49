#!/bin/bash
# SPDX-License-Identifier: MIT
#
# An agent refuses a peer whose certificate it must not accept, and says why. Three cases, each
# with a fresh pair of agents; in each, host2 presents a bad certificate to alice on host1:
#
#   untrusted  bob's certificate is signed by a CA alice does not trust (same domain name)
#   identity   host2's certificate is valid but names carol@a.example.com; alice expects bob
#   expired    bob's certificate was valid from 2020-01-01 to 2020-01-02
#
# Each case: alice logs a refused handshake with the reason, no tunnel comes up (an overlay ping
# fails), and alice's `vertex peers --json` shows bob not up.
#
#   host1: alice (trusts CA "ca")                       host2: bob / carol (bad certificate)
#   eth0 198.18.1.1 ------ r1 [router] r2 ------ eth0 198.18.2.1
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

vtx_require grep
topo_up

# refusal_case NAME LOG-PATTERN: run the pair as pair_setup left it configured and check that
# alice refuses, logging a line that matches "handshake with" and LOG-PATTERN (an extended
# regular expression, matched without regard to case; loose on purpose, so rewording a message
# does not break the test while a line without the reason does).
refusal_case()
{
	local case=$1 pattern=$2 line
	say "case $case"
	vtx_start "$NS1" alice
	vtx_start "$NS2" bob
	if ! wait_until 30 grep -qEi "handshake with.*($pattern)" "$VTX_TMP/alice.log"; then
		fail "$case: alice logged no refused handshake matching /$pattern/"
	fi
	line=$(grep -Ei "handshake with.*($pattern)" "$VTX_TMP/alice.log" | head -n 1)
	pass "$case: alice logs: $line"
	if n1 ping -c 3 -i 0.2 -W 1 "$OVL4_PEER"; then
		fail "$case: ping over the overlay works with a refused peer"
	fi
	pass "$case: no tunnel (overlay ping fails)"
	[[ $(peer_json alice .state) != up ]] || fail "$case: alice shows bob up"
	pass "$case: peers --json shows the peer not up"
	vtx_stop alice
	[[ $VTX_LAST_RC -eq 0 ]] || fail "$case: alice exited with $VTX_LAST_RC on SIGTERM"
	vtx_stop bob
	[[ $VTX_LAST_RC -eq 0 ]] || fail "$case: host2 exited with $VTX_LAST_RC on SIGTERM"
	assert_clean "$NS1" "$NS2"
	# The next case starts from nothing: new keys, new certificates, new state.
	rm -f "$VTX_TMP"/alice.* "$VTX_TMP"/bob.* "$VTX_TMP"/ca.* "$VTX_TMP"/rogue.*
}

# 1. Signed by an untrusted CA: a second CA for the same domain name, with its own key.
ca_new rogue "$DOMAIN"
pair_setup "$BOB" rogue
refusal_case untrusted 'untrusted|not trusted|not signed by|unknown.?ca'

# 2. A valid certificate naming someone else: host2 is carol, alice expects bob there.
pair_setup "$CAROL" ca
refusal_case identity 'carol@a.example.com.*bob@a.example.com|names carol'

# 3. Expired: valid only during the first day of 2020.
pair_setup "$BOB" ca --not-before 2020-01-01T00:00:00Z --not-after 2020-01-02T00:00:00Z
refusal_case expired 'expired|not valid after|no longer valid'

vtx_finish
