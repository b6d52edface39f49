#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The demo lab: two people's machines behind one router, each running vertexd, reaching each
# other over the overlay -- built from nothing in network namespaces and removed afterwards.
#
#   host1: alice@a.example.com                                 host2: bob@a.example.com
#   vtx0 100.64.0.1                                            vtx0 100.64.0.1
#   eth0 198.18.1.1 ------ r1 [router] r2 ------ eth0 198.18.2.1   (sshd)
#
# It uses the integration suite's helpers (tests/integration/lib.sh), so what the demo shows is
# what the tests check. Needs root and a built tree (VERTEX_BUILD_DIR, default build/).
#
# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib.sh
source "$(dirname "$0")/../../tests/integration/lib.sh"
VTX_SCENARIO=demo

step()
{
	if [[ -t 1 ]]; then
		printf '\n\033[1m>>> %s\033[0m\n' "$*"
	else
		printf '\n>>> %s\n' "$*"
	fi
}

vtx_require ssh ssh-keygen

step "Building a small lab: two hosts (alice's and bob's machines) joined by a router."
echo "    All of it lives in network namespaces named $VTX_RUN-*; nothing touches this machine's"
echo "    own network. (Routers doing NAT come with NAT traversal, in a later issue: here the"
echo "    two hosts can reach each other's public addresses directly.)"
topo_up

step "Making a certificate authority for the domain a.example.com, and a key and a"
echo "    certificate for alice and for bob signed by it. Each agent trusts that CA and"
echo "    knows its peer by name and by underlay address (static peers)."
pair_setup "$BOB"
echo
echo "    alice's configuration:"
sed 's/^/        /' "$VTX_TMP/alice.conf"

step "Starting vertexd on both hosts. Each creates vtx0, takes the first address of its"
echo "    pools for itself and gives its peer the next one; they then run a TLS 1.3 handshake"
echo "    with both certificates checked, and carry IP packets in encrypted UDP frames."
vtx_start "$NS1" alice
vtx_start "$NS2" bob
wait_tunnel_up

step "alice pings bob at his overlay addresses (IPv4, then IPv6)."
n1 ping -c 3 -i 0.2 "$OVL4_PEER"
n1 ping -c 3 -i 0.2 "$H1_OVL6_PEER"

step "bob pings alice back. On bob's machine alice is also 100.64.0.2: addresses are each"
echo "    agent's own local view, translated at the edge, so nobody has to coordinate them."
n2 ping -c 3 -i 0.2 "$OVL4_PEER"

step "An ordinary program over the overlay: ssh from alice's machine to bob's sshd."
sshd_start "$NS2"
ssh_opts
n1 ssh "${SSH_OPTS[@]}" "root@$OVL4_PEER" \
	'echo "hello over the Vertex overlay; the far end has:"; ip -brief address show dev vtx0'

step "What alice's agent says about itself and its peers (vertex status, vertex peers)."
n1 "$VERTEX" -s "$VTX_TMP/alice.sock" status
n1 "$VERTEX" -s "$VTX_TMP/alice.sock" peers

step "Stopping both agents; they remove vtx0 and their routes. Then checking nothing is left."
vtx_finish

step "Done. The namespaces and temporary files are removed on exit."
