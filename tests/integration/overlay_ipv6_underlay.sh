#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The same as overlay_basic, but the peers know each other only by IPv6 underlay endpoints:
# every frame and the TLS handshake cross the router over IPv6. The router also drops all IPv4
# UDP/TCP to port 4800, so a silent fallback to IPv4 would show up as a failure.
#
#   host1: alice  vtx0 100.64.0.1, fd00:5678:1::1       host2: bob  vtx0 100.64.0.1, fd00:5678:2::1
#   eth0 fd00:198:18:1::1 ------ r1 [router] r2 ------ eth0 fd00:198:18:2::1   (sshd on host2)
#        (198.18.1.1)          (IPv4 :4800 dropped)          (198.18.2.1)
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

vtx_require ssh ssh-keygen sha256sum nft
topo_up
nr nft add table ip vtxt_block
nr nft add chain ip vtxt_block gate '{ type filter hook forward priority 0; }'
nr nft add rule ip vtxt_block gate meta l4proto '{ tcp, udp }' th dport "$VTX_PORT" drop

H1_ENDPOINTS=("[$H2_IP6]:$VTX_PORT")
H2_ENDPOINTS=("[$H1_IP6]:$VTX_PORT")
pair_setup "$BOB"
vtx_start "$NS1" alice
vtx_start "$NS2" bob
wait_tunnel_up

ep=$(peer_json alice .endpoint)
[[ $ep == *"$H2_IP6"* ]] || fail "alice reaches bob via $ep, expected [$H2_IP6]:$VTX_PORT"
ep=$(peer_json bob .endpoint)
[[ $ep == *"$H1_IP6"* ]] || fail "bob reaches alice via $ep, expected [$H1_IP6]:$VTX_PORT"
pass "both sides use the IPv6 underlay"

check_ping n1 "$OVL4_PEER"
check_ping n2 "$OVL4_PEER"
check_ping n1 "$H1_OVL6_PEER"
check_ping n2 "$H2_OVL6_PEER"
sshd_start "$NS2"
check_ssh n1 "$OVL4_PEER"
check_ssh n1 "$H1_OVL6_PEER"
check_bulk n1 "$H1_OVL6_PEER" 64

mib64=$((64 * 1024 * 1024))
for name in alice bob; do
	peer_json "$name" | jq -e --argjson m "$mib64" \
		'.state == "up" and .rx_bytes > $m and .tx_bytes > $m' >/dev/null ||
		fail "$name: peer not up with > 64 MiB each way: $(vtx_ctl "$name" peers --json)"
done
pass "both see the peer up with > 64 MiB each way"

vtx_finish
