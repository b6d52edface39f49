#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The demo lab: two domains, each with its own vertex-server, and one person in each, each
# behind a NAT router (bob's drops all UDP). They enrol with invite codes; no config names any
# address of the other. alice asks for bob@b.example.com/ssh, bob sees who asks and approves,
# and at once the two agents are connected through the servers' relay: ping and ssh by overlay
# address; then a direct path once bob's router lets UDP through, and alice's agent again in
# userspace mode (no TUN), ssh through its SOCKS5 server -- built from nothing in network
# namespaces and removed afterwards.
#
#                        dns 198.18.0.53 (SRV/A records for a.example.com, b.example.com)
#                                    |
#   vertex-server a.example.com -----+----- vertex-server b.example.com
#   198.18.0.10                      |      198.18.0.20
#                 NAT 198.18.0.201       NAT 198.18.0.202 (drops UDP)
#                        |                      |
#             alice@a.example.com        bob@b.example.com (runs sshd)
#             198.19.1.2                 198.19.2.2
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
# shellcheck source=../../tests/integration/lib_nat.sh
source "$(dirname "$0")/../../tests/integration/lib_nat.sh"
VTX_SCENARIO=demo

step()
{
	if [[ -t 1 ]]; then
		printf '\n\033[1m>>> %s\033[0m\n' "$*"
	else
		printf '\n>>> %s\n' "$*"
	fi
}

vtx_require ssh ssh-keygen jq
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER (build first)"

step "Building a small internet: a DNS server, two domains' servers, and two homes behind NAT"
echo "    routers (bob's drops all UDP). All of it lives in network namespaces named $VTX_RUN-*;"
echo "    nothing touches this machine's own network."
nat_lab_up drop

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

step "Their agents' configurations name no peer and no address. bob offers one purpose, ssh."
lab_agent_config alice "alice@$DOMAIN_A" fd00:5678:a1::/48
lab_agent_config bob "bob@$DOMAIN_B" fd00:5678:b1::/48
printf 'purpose ssh tcp/22\n' >>"$VTX_TMP/bob.conf"
sed 's/^/        /' "$VTX_TMP/bob.conf"
lab_agent_start alice alice
lab_agent_start bob bob
home_up()
{
	[[ $("$VERTEX" -s "$VTX_TMP/$1.sock" status --json | jq -r .server_state) == up ]]
}
wait_until 20 home_up alice || fail "alice's agent does not reach its server"
wait_until 20 home_up bob || fail "bob's agent does not reach its server"

step "alice asks for bob@b.example.com/ssh. The request goes alice -> a's server (which vouches"
echo "    for her) -> b's server -> bob's agent. Nothing tells alice how to reach bob yet."
in_ns alice "$VERTEX" -s "$VTX_TMP/alice.sock" connect "bob@$DOMAIN_B/ssh" --wait 120 &
CONNECT_PID=$!
track_pid "$CONNECT_PID"
wait_until 20 bash -c "'$VERTEX' -s '$VTX_TMP/bob.sock' requests --json | jq -e '.incoming[0]'" ||
	fail "bob never sees the request"

step "bob sees who asks, with the fingerprint of her certificate as her server verified it."
in_ns bob "$VERTEX" -s "$VTX_TMP/bob.sock" requests
echo "    packets between the two homes so far: $(nat_counter nata) (a's router), $(nat_counter natb) (b's router)"

step "bob approves. alice's agent is told, and the session comes up through the relay."
in_ns bob "$VERTEX" -s "$VTX_TMP/bob.sock" approve "alice@$DOMAIN_A" ssh
wait "$CONNECT_PID" || fail "alice's request did not end approved"
BOB4=$("$VERTEX" -s "$VTX_TMP/alice.sock" resolve --address "bob@$DOMAIN_B/ssh")
BOB6=$("$VERTEX" -s "$VTX_TMP/alice.sock" resolve -6 --address "bob@$DOMAIN_B/ssh")

step "alice pings bob at his overlay addresses (IPv4, then IPv6), through both NATs."
in_ns alice ping -c 3 -i 0.2 "$BOB4"
in_ns alice ping -c 3 -i 0.2 "$BOB6"

step "An ordinary program over the overlay: ssh from alice's machine to bob's sshd,"
echo "    with the address and port from 'vertex resolve bob@b.example.com/ssh'."
sshd_start "$(ns_for bob)"
ssh_opts
in_ns alice ssh "${SSH_OPTS[@]}" -p "$("$VERTEX" -s "$VTX_TMP/alice.sock" resolve --port "bob@$DOMAIN_B/ssh")" \
	"root@$BOB4" 'echo "hello over the Vertex overlay; the far end has:"; ip -brief address show dev vtx0'

step "bob's router stops dropping UDP. Each agent learnt its public address from its server"
echo "    and offered it, through the servers, to the peer it approved; their probes (sealed with"
echo "    the session's keys) open both NATs, and the session moves to the direct path, with no"
echo "    new handshake. The relay stays there should the direct path die."
qn natb nft flush chain ip vtxlab between
direct_path()
{
	[[ $("$VERTEX" -s "$VTX_TMP/alice.sock" peers --json | jq -r '.peers[0].path') == udp ]]
}
if wait_until 40 direct_path; then
	in_ns alice ping -c 3 -i 0.2 "$BOB4"
else
	echo "    (no direct path within 40 s: the session stays on the relay)"
fi

step "The same without a TUN device: alice's agent restarts in userspace mode (lwIP inside"
echo "    vertexd: no interface, no routes, no privileges kept). Her approval is remembered, and"
echo "    ssh reaches bob by name through the agent's SOCKS5 server on 127.0.0.1:1080."
vtx_stop alice
wait_until 10 bash -c "! kill -0 ${VTX_DAEMON_PID[alice]} 2>/dev/null" || fail "alice's agent does not stop"
printf 'userspace on\nsocks 127.0.0.1:1080\n' >>"$VTX_TMP/alice.conf"
lab_agent_start alice alice
peer_up()
{
	[[ $("$VERTEX" -s "$VTX_TMP/alice.sock" peers --json | jq -r '.peers[0].state') == up ]]
}
wait_until 30 peer_up || fail "alice's agent (userspace) does not get its session back"
in_ns alice ssh "${SSH_OPTS[@]}" -o "ProxyCommand=nc -X 5 -x 127.0.0.1:1080 %h %p" \
	"root@bob.at.$DOMAIN_B" 'echo "hello from alice in userspace mode, through SOCKS5"'
in_ns alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping -c 2 "bob@$DOMAIN_B"

step "What alice's agent says: vertex status, vertex peers, vertex trust list."
in_ns alice "$VERTEX" -s "$VTX_TMP/alice.sock" status
in_ns alice "$VERTEX" -s "$VTX_TMP/alice.sock" peers
in_ns alice "$VERTEX" -s "$VTX_TMP/alice.sock" trust list

step "Stopping everything; bob's agent removes vtx0 and its routes."
vtx_stop alice
vtx_stop bob
server_stop srva
server_stop srvb
step "Done. The namespaces and temporary files are removed on exit."
