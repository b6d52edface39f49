#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Checks the harness itself, without vertexd: the topology comes up, the underlay routes
# through the router both ways in IPv4 and IPv6, a real sshd answers across it, an overlay
# address is unreachable while no agent runs, and the trap leaves no namespace behind.
#
#     host1 (h1) eth0 198.18.1.1 --- r1 [router] r2 --- eth0 198.18.2.1 host2 (h2)
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces)"
for t in ip ping ssh ssh-keygen /usr/sbin/sshd; do
	command -v "$t" >/dev/null || skip "missing tool: $t"
done
vtx_setup_common
topo_up

check_ping n1 "$H2_IP4"
check_ping n2 "$H1_IP6"
sshd_start "$NS2"
check_ssh n1 "$H2_IP4"
check_ssh n1 "$H2_IP6"
check_bulk n1 "$H2_IP4" 4
# Negative: without an agent, the overlay is not routed anywhere.
if q1 ping -c 1 -W 1 "$OVL4_PEER" >/dev/null 2>&1; then
	fail "overlay address $OVL4_PEER answers with no agent running"
fi
pass "overlay address unreachable without an agent"
assert_clean "$NS1" "$NS2"
pass "$VTX_SCENARIO"
