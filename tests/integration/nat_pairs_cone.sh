#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Every pair of the endpoint-independent-mapping kinds of the NAT lab (lib_nat.sh), both ways
# round (alice asks, so the two sides are not alike): address-and-port-dependent (apdf, plain
# masquerade), address-dependent (adf) and endpoint-independent (eif) filtering. Each pair must
# go direct over UDP, from router to router with the ports kept (lib_natpairs.sh), and the time
# from the session being up to the direct path is reported. Both sides probe at once, so even
# two apdf routers let each other in: each has sent to the other's mapping before the other's
# probe arrives, or the late one's probe is answered.
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
for a in apdf adf eif; do
	for b in apdf adf eif; do
		nat_pair "$a" "$b" direct
	done
done
nat_pairs_report
pass "$VTX_SCENARIO"
