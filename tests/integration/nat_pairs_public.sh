#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A site without NAT (lib_nat.sh kind public: the host's own address is public, routed, and
# nothing is filtered) against every other kind, either side (lib_natpairs.sh): direct over
# UDP to the public host's own address, and to the NATed side's mapping (for a symmetric
# router, the port it gave toward the public host); with UDP blocked on the other side, the
# relay (the issue wants a direct TCP path there, to the public host's port: the agents have no
# TCP candidates yet, so what is asserted is today's relay).
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
nat_pair public udp-blocked relay
nat_pairs_report
pass "$VTX_SCENARIO"
