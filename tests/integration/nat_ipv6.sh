#!/bin/bash
# SPDX-License-Identifier: MIT
#
# IPv6 without NAT (lib_nat.sh nat_site_ipv6): each site's host has its own address in
# fd00:198:19:X::/64, routed between the routers over the public LAN's fd00:198:18::/64, behind
# a stateful firewall that lets in only what belongs to a connection that went out (what home
# routers do for IPv6), while IPv4 UDP is blocked at both routers (and the servers speak only
# IPv4): the agents offer their IPv6 host candidates, both probe at once, each firewall lets
# the other's probes in as answers, and the session goes direct over IPv6 between the hosts'
# own addresses (lib_natpairs.sh). Then the same with bob's site open (no firewall).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"
source "$(dirname "$0")/lib_natpairs.sh"

vtx_require python3
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
nat_lab_up pass
nat_site_ipv6 nata firewall
nat_site_ipv6 natb firewall
nat_pairs_up
nat_pair udp-blocked udp-blocked direct6
nat_site_ipv6 natb open
nat_pair udp-blocked udp-blocked direct6
nat_pairs_report
pass "$VTX_SCENARIO"
