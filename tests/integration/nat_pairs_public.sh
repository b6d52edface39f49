#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A site without NAT (lib_nat.sh kind public: the host's own address is public, routed, and
# nothing is filtered) against every other kind, either side (lib_natpairs.sh): direct over
# UDP to the public host's own address, and to the NATed side's mapping (for a symmetric
# router, the port it gave toward the public host).
#
# Against UDP blocked (IPv4), where the issue wants a direct TCP path to the public host's
# port: only the agent whose identity sorts first (alice) dials a TCP candidate once UDP probing
# ended unanswered (daemon/direct). With bob public, alice dials his address: direct TCP. With
# alice public, she dials bob's host candidate, a private address behind his NAT that nothing
# routes, and bob never dials hers, which would work: the relay. That is what is asserted, as
# today's behaviour, not the issue's.
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
nat_pair public udp-blocked relay
nat_pairs_report
pass "$VTX_SCENARIO"
