#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A site without NAT (lib_nat.sh kind public: the host's own address is public, routed, and
# nothing is filtered) against every other kind, either side (lib_natpairs.sh): direct over
# UDP to the public host's own address, and to the NATed side's mapping (for a symmetric
# router, the port it gave toward the public host).
#
# Against UDP blocked (IPv4): a direct TCP path to the public host's port (daemon/direct,
# direct_tcp_plan: the UDP-blocked side has no srflx candidate, so TCP is due at the offer;
# the public side's host TCP candidate is on its srflx address, so it ranks higher and is
# the one dialed). With bob public, alice dials him; with alice public, bob dials her (before,
# alice dialed bob's private host address first, and the session moved to TCP only when bob
# dialed hers, 15 s after it came up).
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
