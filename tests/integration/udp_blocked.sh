#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Where UDP does not get through, data frames ride the TLS link (FRAME records over TCP): the
# tunnel works, stays up while idle, and moves back to UDP as soon as UDP passes again.
#
#     host1 (alice) 198.18.1.1 --- router: nft drops all forwarded UDP --- 198.18.2.1 host2 (bob)
#                     tcp/4800 (handshake + frames) passes; udp/4800 does not
#
# keepalive-seconds 2, so "idle" (3 keepalives + 2 s without traffic) comes after 8 s.
source "$(dirname "$0")/lib.sh"

vtx_require
command -v nft >/dev/null || skip "nft is not installed"
topo_up

path_is()
{
	[[ $(peer_json "$1" .path) == "$2" ]]
}

nr nft add table inet vtxtest
nr nft add chain inet vtxtest filter_fwd '{ type filter hook forward priority 0; policy accept; }'
nr nft add rule inet vtxtest filter_fwd meta l4proto udp counter drop
pass "router drops all forwarded UDP"

VTX_KEEPALIVE_SEC=2 pair_setup
vtx_start "$NS1" alice
vtx_start "$NS2" bob
wait_tunnel_up
check_ping q1 "$OVL4_PEER"
check_ping q2 "$OVL4_PEER"
check_ping q1 "$H1_OVL6_PEER"
path_is alice tcp || fail "alice's path is $(peer_json alice .path), expected tcp"
path_is bob tcp || fail "bob's path is $(peer_json bob .path), expected tcp"
pass "both sides carry frames over the TLS link"
sshd_start "$NS2"
check_ssh q1 "$OVL4_PEER"
check_bulk q1 "$OVL4_PEER" 8

dropped=$(nr nft list chain inet vtxtest filter_fwd | grep -o 'packets [0-9]*' | cut -d' ' -f2)
[[ $dropped -gt 0 ]] || fail "the router dropped no UDP: the test did not test anything"
pass "the router dropped $dropped UDP packets meanwhile"

say "idle for 12 s: keepalives over the link keep the session"
hs=$(peer_json alice .handshakes)
sleep 12
peer_is_up alice || fail "alice's session went down while idle"
[[ $(peer_json alice .handshakes) -eq $hs ]] ||
	fail "idle session re-handshook ($hs -> $(peer_json alice .handshakes)): keepalives did not get through"
pass "session stayed up with $hs handshake(s) while idle"

say "UDP passes again: both sides move to UDP"
nr nft delete table inet vtxtest
wait_until 15 path_is alice udp || fail "alice stayed on $(peer_json alice .path)"
wait_until 15 path_is bob udp || fail "bob stayed on $(peer_json bob .path)"
pass "both sides back on UDP"
check_ping q1 "$OVL4_PEER"
[[ $(peer_json alice '.drops | .replay + .auth + .bad_source + .malformed') -eq 0 ]] ||
	fail "alice dropped frames: $(vtx_ctl alice peers --json)"
pass "no frame dropped"

vtx_finish
