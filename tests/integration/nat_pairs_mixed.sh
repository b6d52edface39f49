#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Pairs of NAT kinds beyond the endpoint-independent ones (lib_nat.sh, lib_natpairs.sh):
#
# - endpoint-dependent mapping ("symmetric", random ports) on one side, either side: against
#   endpoint-independent (eif) or address-dependent (adf) filtering direct, the probes of the
#   symmetric side arrive from the port its router gave toward the other router, which lets
#   them in (eif: anything to the mapped port; adf: the other router's address was sent to),
#   and the other agent takes that endpoint (peer-reflexive). Against address-and-port-
#   dependent filtering (apdf) direct too, by the birthday technique (direct/birthday.h): the
#   port the symmetric side offers is the one its router gave toward its server, and the other
#   router lets in nothing from a port it did not send to, so the symmetric side opens 256
#   extra sockets toward the other's endpoint and the other sprays 2048 probes at its
#   router's ports; one lands (all but 3 times in 10,000, by the numbers) and that socket
#   carries the path. (Before the technique, these two pairs stayed on the relay.)
#   nat_birthday.sh measures it.
# - UDP blocked on one side, either side, against a router that keeps ports: direct TCP by a
#   simultaneous open (direct/direct_tcp.h; tcp_simopen.sh measures it). Against a router
#   that picks a new port per destination: the relay (nothing to dial either way).
# - Two agents behind the same router (bob's agent on a second host of alice's LAN): the host
#   path, frames on the LAN, never through the router.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"
source "$(dirname "$0")/lib_natpairs.sh"

vtx_require python3
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
nat_lab_up pass
nat_host_add nata carol 198.19.1.3
nat_pairs_up
nat_pair symmetric eif direct
nat_pair symmetric adf direct
nat_pair eif symmetric direct
nat_pair adf symmetric direct
# The birthday technique (the relay before it).
nat_pair symmetric apdf direct
nat_pair apdf symmetric direct
nat_pair apdf udp-blocked tcp
nat_pair udp-blocked eif tcp
nat_pair symmetric udp-blocked relay
nat_pair apdf apdf direct carol
nat_pairs_report
pass "$VTX_SCENARIO"
