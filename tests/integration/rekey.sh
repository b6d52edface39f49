#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Rekeying never interrupts traffic: a fresh TLS handshake replaces the data keys on a timer and
# after a number of frames, while a steady ping runs, and not one echo is lost or dropped.
#
#     host1 (alice) 198.18.1.1 --- router --- 198.18.2.1 host2 (bob)
#        vtx0 100.64.0.1    ping -i 0.05 over the overlay    vtx0 100.64.0.1
#
# Part 1: rekey-after-seconds 10; 500 pings over 25 s span at least two rekeys.
# Part 2: rekey-after-packets 1000 (rekey-after-seconds 600); 2500 pings from alice (the side
#         that dials, so the side that rekeys) cross the packet threshold at least twice.
# Both: zero loss, zero replay/auth drops, zero frames for unknown sessions, on both sides.
source "$(dirname "$0")/lib.sh"

vtx_require
topo_up

# handshakes NAME: how many handshakes agent NAME has completed with its peer.
handshakes()
{
	peer_json "$1" .handshakes
}

# no_drops NAME: no frame was dropped as a replay, forged, or for an unknown session.
no_drops()
{
	local p s
	p=$(peer_json "$1" '.drops | .replay + .auth + .bad_source + .malformed')
	s=$(vtx_ctl "$1" status --json | jq -er '.drops.unknown_receiver + .drops.malformed')
	[[ $p -eq 0 && $s -eq 0 ]] ||
		fail "$1 dropped frames during rekeys: $(vtx_ctl "$1" peers --json) $(vtx_ctl "$1" status --json)"
}

# steady_ping COUNT INTERVAL: exactly COUNT echo requests, exactly COUNT replies.
steady_ping()
{
	local out
	out=$(q1 ping -c "$1" -i "$2" -W 2 "$OVL4_PEER") || fail "ping during rekeys: $(tail -3 <<<"$out")"
	grep -q "$1 packets transmitted, $1 received" <<<"$out" ||
		fail "ping during rekeys lost packets: $(tail -3 <<<"$out")"
	pass "$1/$1 echoes answered across the rekeys"
}

say "part 1: rekey every 10 s"
VTX_REKEY_SEC=10 pair_setup
vtx_start "$NS1" alice
vtx_start "$NS2" bob
wait_tunnel_up
before=$(handshakes alice)
steady_ping 500 0.05
after=$(handshakes alice)
[[ $((after - before)) -ge 2 ]] || fail "expected >= 2 rekeys in 25 s, saw $((after - before))"
pass "alice rekeyed $((after - before)) times by time while traffic flowed"
[[ $(handshakes bob) -eq $after ]] || fail "bob counts $(handshakes bob) handshakes, alice $after"
pass "bob saw the same $after handshakes"
no_drops alice
no_drops bob
pass "no frame dropped on either side"
vtx_stop alice
vtx_stop bob

say "part 2: rekey every 1000 frames"
VTX_REKEY_SEC=600 VTX_EXTRA_CONFIG='rekey-after-packets 1000' pair_setup
vtx_start "$NS1" alice
vtx_start "$NS2" bob
wait_tunnel_up
before=$(handshakes alice)
steady_ping 2500 0.005
after=$(handshakes alice)
[[ $((after - before)) -ge 2 ]] || fail "expected >= 2 rekeys in 2500 frames, saw $((after - before))"
pass "alice rekeyed $((after - before)) times by frame count"
no_drops alice
no_drops bob
pass "no frame dropped on either side"

vtx_finish
