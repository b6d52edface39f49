#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The two-domain lab with alice and bob each behind a NAT router (sourced after lib.sh,
# lib_domains.sh and lib_servers.sh). The servers and the DNS sit on the "public" LAN as in
# lib_domains.sh; each site is a router with a public leg on that LAN and a private network
# behind it, nftables masquerading what leaves:
#
#                      dns 198.18.0.53   srva 198.18.0.10   srvb 198.18.0.20
#                                 \            |            /
#                                  ---------[ sw: br0 ]------
#                                    /                   \
#                 nata 198.18.0.201                         natb 198.18.0.202
#                 (masquerade)                              (masquerade, drops all UDP but
#                                                            DNS to the lab's resolver)
#                      |  198.19.1.0/24                          |  198.19.2.0/24
#                 alice 198.19.1.2                          bob 198.19.2.2
#
# Like a home router, each drops what arrives unasked for its own public address (the wan_in
# chain): the packet is dropped before conntrack confirms an entry for it, so it leaves no state
# that would clash with a mapping made later (as a router that answered it would).
#
# No config names an endpoint: the agents find only their own servers (DNS), and each other
# through rendezvous. Each router counts, in a named nftables counter `toward_peer`, every
# packet that crosses it between its host and the other site (either site's addresses): before
# an approval both must stay at zero.
#
#   nat_lab_up [bob-udp=drop|pass]   the lab (bob's router drops UDP unless told otherwise)
#   NATA_KIND=symmetric               (before nat_lab_up) alice's router maps every new
#                                     destination to a random port ("endpoint-dependent
#                                     mapping"); the default keeps the port ("endpoint-
#                                     independent", Linux masquerade's way)
#   nat_forward SITE HOST-IP          SITE's router forwards UDP port 4800 to HOST-IP (a port
#                                     mapping: anything may come in there)
#   nat_counter SITE                 packets counted by SITE's router (nata, natb)
#   on_alice CMD... / on_bob CMD...  CMD in that host's namespace (for check_ping and co.)
#
# shellcheck disable=SC2034

NATA_IP=198.18.0.201
NATB_IP=198.18.0.202
ALICE_LAN_IP=198.19.1.2
BOB_LAN_IP=198.19.2.2

# nat_site_add ROUTER PUBLIC-IP HOST NET(x.y.z) OTHER-PUBLIC OTHER-HOST-IP [udp-drop] [KIND]
nat_site_add()
{
	local router=$1 pub=$2 host=$3 net=$4 other_pub=$5 other_host=$6 udp=${7:-} kind=${8:-}
	local masq=masquerade
	[[ $kind == symmetric ]] && masq="masquerade random"
	local ns=$VTX_RUN-$host
	domain_node_add "$router" "$pub"
	ns_add "$ns"
	VTX_DOMAIN_NS[$host]=$ns
	domain_resolv_conf "$host"
	in_ns "$router" ip link add lan0 type veth peer name eth0 netns "$ns"
	in_ns "$router" ip addr add "$net.1/24" dev lan0
	in_ns "$router" ip link set lan0 up
	in_ns "$router" sysctl -qw net.ipv4.ip_forward=1
	in_ns "$host" ip addr add "$net.2/24" dev eth0
	in_ns "$host" ip link set eth0 up
	in_ns "$host" ip route add default via "$net.1"
	qn "$router" nft -f - <<EOF
table ip vtxlab {
	counter toward_peer { }
	chain nat_out {
		type nat hook postrouting priority 100;
		oifname "eth0" $masq
	}
	chain wan_in {
		type filter hook input priority 0; policy accept;
		iifname "eth0" ct state new drop
	}
	chain between {
		type filter hook forward priority 0; policy accept;
		ip saddr $net.0/24 ip daddr { $other_pub, $other_host } counter name toward_peer
		ip saddr { $other_pub, $other_host } ip daddr $net.0/24 counter name toward_peer
		ip saddr $other_pub counter name toward_peer
		${udp:+ip daddr $DNS_IP udp dport 53 accept}
		${udp:+ip saddr $DNS_IP udp sport 53 accept}
		${udp:+meta l4proto udp counter drop}
	}
}
EOF
	pass "$router: NAT for $host ($net.0/24 behind $pub)${udp:+, all UDP but DNS dropped}${kind:+, $kind}"
}

nat_lab_up()
{
	local bob_udp=${1:-drop}
	command -v dnsmasq >/dev/null || skip "missing tool: dnsmasq (scripts/install-deps.sh)"
	command -v nft >/dev/null || skip "missing tool: nft (scripts/install-deps.sh)"
	domains_trap
	local ns=$VTX_RUN-sw
	ns_add "$ns"
	VTX_DOMAIN_NS["sw"]=$ns
	in_ns sw ip link add br0 type bridge
	in_ns sw ip link set br0 up
	domain_ns_add dns
	in_ns dns ip addr add "$DNS_IP/$LAN_PREFIX" dev eth0
	domain_node_add srva "$SRVA_IP"
	domain_node_add srvb "$SRVB_IP"
	nat_site_add nata "$NATA_IP" alice 198.19.1 "$NATB_IP" "$BOB_LAN_IP" "" "${NATA_KIND:-}"
	nat_site_add natb "$NATB_IP" bob 198.19.2 "$NATA_IP" "$ALICE_LAN_IP" \
		"$([[ $bob_udp == drop ]] && echo udp-drop)"
	wait_until 10 qn alice ping -c 1 -W 1 "$DNS_IP" || fail "alice cannot reach the DNS server"
	wait_until 10 qn bob ping -c 1 -W 1 "$SRVB_IP" || fail "bob cannot reach server B"
	dns_start
	# The NAT counters start at zero now: the pings above went to the LAN, not to a site.
	qn nata nft reset counter ip vtxlab toward_peer >/dev/null
	qn natb nft reset counter ip vtxlab toward_peer >/dev/null
	pass "NAT lab up: alice behind nata, bob behind natb ($bob_udp UDP), servers public"
}

nat_forward()
{
	qn "$1" nft -f - <<EOF
table ip vtxfwd {
	chain pre {
		type nat hook prerouting priority -100;
		iifname "eth0" udp dport 4800 dnat to $2:4800
	}
}
EOF
}

nat_counter()
{
	qn "$1" nft list counter ip vtxlab toward_peer | awk '/packets/ { print $2; exit }'
}

on_alice()
{
	qn alice "$@"
}

on_bob()
{
	qn bob "$@"
}
