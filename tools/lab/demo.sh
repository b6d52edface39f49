#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The demo lab: two domains, each with its own vertex-server, and one person in each. They
# enrol with invite codes, find each other's domain through DNS, trust each other's CA on first
# use after asking their own server, and then ping and ssh each other over the overlay -- built
# from nothing in network namespaces and removed afterwards.
#
#                           dns 198.18.0.53 (SRV/A records for a.example.com, b.example.com)
#                                    |
#   vertex-server a.example.com -----+----- vertex-server b.example.com
#   198.18.0.10                      |      198.18.0.20
#                  alice@a.example.com      bob@b.example.com (runs sshd)
#                  198.18.0.101             198.18.0.102
#
# It uses the integration suite's helpers (tests/integration/lib*.sh), so what the demo shows
# is what the tests check. Needs root and a built tree (VERTEX_BUILD_DIR, default build/).
#
# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib.sh
source "$(dirname "$0")/../../tests/integration/lib.sh"
# shellcheck source=../../tests/integration/lib_domains.sh
source "$(dirname "$0")/../../tests/integration/lib_domains.sh"
# shellcheck source=../../tests/integration/lib_servers.sh
source "$(dirname "$0")/../../tests/integration/lib_servers.sh"
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
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER (build first)"

step "Building a small internet: a DNS server, two domains' servers and two people's machines."
echo "    All of it lives in network namespaces named $VTX_RUN-*; nothing touches this machine's"
echo "    own network. (NAT traversal is a later issue: here everyone shares one LAN.)"
domains_up

step "Each domain's administrator sets up its server: a domain CA, the server's own key,"
echo "    an account store. Then one account each, with a one-time invite code."
CA_A=$(server_init srva "$DOMAIN_A")
CA_B=$(server_init srvb "$DOMAIN_B")
echo "    a.example.com CA: $CA_A"
echo "    b.example.com CA: $CA_B"
server_admin srva user add alice
server_admin srvb user add bob
CODE_A=$(server_admin srva invite new alice)
CODE_B=$(server_admin srvb invite new bob)
echo "    invite for alice: $CODE_A    invite for bob: $CODE_B"
server_start srva
server_start srvb

step "alice and bob register. The key is made on their own machine and never leaves it;"
echo "    the server is found through DNS and its CA is trusted on first use (fingerprint shown)."
in_ns alice "$VERTEX" register "alice@$DOMAIN_A" --invite "$CODE_A" --key "$VTX_TMP/alice.key" \
	--cert "$VTX_TMP/alice.crt" --ca "$VTX_TMP/alice.ca"
in_ns bob "$VERTEX" register "bob@$DOMAIN_B" --invite "$CODE_B" --key "$VTX_TMP/bob.key" \
	--cert "$VTX_TMP/bob.crt" --ca "$VTX_TMP/bob.ca"

step "Their agents' configurations name each other. Neither knows the other domain's CA."
lab_agent_config alice "alice@$DOMAIN_A" fd00:5678:a1::/48 "bob@$DOMAIN_B" "$BOB_IP"
lab_agent_config bob "bob@$DOMAIN_B" fd00:5678:b1::/48 "alice@$DOMAIN_A" "$ALICE_IP"
sed 's/^/        /' "$VTX_TMP/alice.conf"

step "Starting vertexd on both machines. Each connects to its own server, fetches the other"
echo "    domain's CA from that domain's server, asks its own server what it sees for that"
echo "    domain, pins it, and then runs a TLS 1.3 handshake with the peer."
lab_agent_start alice alice
lab_agent_start bob bob
wait_until 40 peer_is_up alice || fail "alice never sees bob up: $(tail -5 "$VTX_TMP/alice.log")"
wait_until 20 peer_is_up bob || fail "bob never sees alice up"
grep -h "first use\|session up" "$VTX_TMP/alice.log" | cut -d' ' -f3- | sed 's/^/    alice: /'

step "alice pings bob at his overlay addresses (IPv4, then IPv6)."
in_ns alice ping -c 3 -i 0.2 "$OVL4_PEER"
in_ns alice ping -c 3 -i 0.2 fd00:5678:a1::2

step "bob pings alice back. On bob's machine alice is also 100.64.0.2: addresses are each"
echo "    agent's own local view, translated at the edge, so nobody has to coordinate them."
in_ns bob ping -c 3 -i 0.2 "$OVL4_PEER"

step "An ordinary program over the overlay: ssh from alice's machine to bob's sshd."
sshd_start "$(ns_for bob)"
ssh_opts
in_ns alice ssh "${SSH_OPTS[@]}" "root@$OVL4_PEER" \
	'echo "hello over the Vertex overlay; the far end has:"; ip -brief address show dev vtx0'

step "What alice's agent says: vertex status, vertex peers, vertex trust list."
in_ns alice "$VERTEX" -s "$VTX_TMP/alice.sock" status
in_ns alice "$VERTEX" -s "$VTX_TMP/alice.sock" peers
in_ns alice "$VERTEX" -s "$VTX_TMP/alice.sock" trust list

step "What a's server pinned when alice asked it about b (the notary): vertex-server trust list."
pp server_admin srva trust list

step "Stopping everything; the agents remove vtx0 and their routes."
vtx_stop alice
vtx_stop bob
server_stop srva
server_stop srvb
step "Done. The namespaces and temporary files are removed on exit."
