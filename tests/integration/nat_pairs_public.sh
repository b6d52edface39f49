#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A site without NAT (lib_nat.sh kind public: the host's own address is public, routed, and
# nothing is filtered) against every other kind, either side (lib_natpairs.sh): direct over
# UDP to the public host's own address, and to the NATed side's mapping (for a symmetric
# router, the port it gave toward the public host).
#
# Against UDP blocked (IPv4): a direct TCP path to the public host's port, with main's direct
# TCP paths (daemon/direct: once UDP probing ended unanswered, the agent whose identity sorts
# first, alice, dials the peer's TCP candidate; the other 5 s later). With bob public, alice's
# dial reaches him at once. With alice public, her dial goes to bob's host candidate, a private
# address nothing routes, and the session moves to TCP only when bob dials hers, 5 s later.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"
source "$(dirname "$0")/lib_natpairs.sh"

vtx_require python3
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
nat_lab_up pass
nat_pairs_up
nat_pair public public direct
for k in apdf adf eif symmetric; do
	nat_pair public "$k" direct
	nat_pair "$k" public direct
done
nat_pair udp-blocked public tcp
nat_pair public udp-blocked tcp
nat_pairs_report
pass "$VTX_SCENARIO"
