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
#   nat_upnp_start ROUTER [upnp-only]
#                                    miniupnpd on ROUTER's LAN side (UPnP IGD, NAT-PMP, PCP;
#                                    upnp-only: no NAT-PMP/PCP), forwarding through its own
#                                    nftables table; see below
#   nat_upnp_stop ROUTER             miniupnpd stopped (SIGTERM)
#   nat_upnp_rules ROUTER            the DNAT rules miniupnpd holds now, one a line
#   nat_counter SITE                 packets counted by SITE's router (nata, natb)
#   on_alice CMD... / on_bob CMD...  CMD in that host's namespace (for check_ping and co.)
#
# shellcheck disable=SC2034

NATA_IP=198.18.0.201
NATB_IP=198.18.0.202
ALICE_LAN_IP=198.19.1.2
BOB_LAN_IP=198.19.2.2

STUN_IP=198.18.0.40

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
	pass "NAT lab up: alice behind nata${NATA_KIND:+ ($NATA_KIND)}, bob behind natb ($bob_udp UDP), servers public"
}

# The miniupnpd binary: $MINIUPNPD, or where scripts/install-deps.sh unpacks Debian's
# miniupnpd-nftables (apt-get download + dpkg-deb -x: no system service, no debconf), or one
# installed as a package.
nat_upnp_binary()
{
	local b
	for b in "${MINIUPNPD:-}" /usr/local/lib/vertex-lab/miniupnpd/usr/sbin/miniupnpd \
		/usr/sbin/miniupnpd; do
		[[ -n $b && -x $b ]] && echo "$b" && return 0
	done
	return 1
}

# nat_upnp_start ROUTER: miniupnpd on ROUTER (natb), its LAN side (lan0) only: UPnP IGD (SSDP
# and HTTP), NAT-PMP and PCP (port 5351), secure mode (a host maps only to itself), mappings of
# ports 1024-65535 for the site's hosts only. Its rules live in a table of their own, vtxupnp:
# a DNAT per mapping in prerouting_miniupnpd, an accept in the forward chain miniupnpd, before
# which nothing new from the WAN gets through (so the router still lets in nothing unasked).
# miniupnpd refuses to map behind a reserved WAN address (198.18.0.0/15 is one) unless a STUN
# check finds the address public and unfiltered: stun_answer (a test tool) on the public LAN
# answers it. Waits (bounded) until miniupnpd listens for NAT-PMP/PCP.
nat_upnp_start()
{
	local router=$1 natpmp=yes bin conf=$VTX_TMP/$1-miniupnpd.conf lan net pid
	[[ ${2:-} == upnp-only ]] && natpmp=no
	bin=$(nat_upnp_binary) || skip "missing miniupnpd (scripts/install-deps.sh unpacks it)"
	[[ -x $VTX_BUILD/stun_answer ]] || skip "stun_answer not built in $VTX_BUILD"
	lan=$(qn "$router" ip -4 -o addr show dev lan0 | awk '{ print $4 }')
	net=${lan%.*}.0/24
	if [[ -z ${VTX_DOMAIN_NS[stun]:-} ]]; then
		domain_node_add stun "$STUN_IP"
		# ip netns exec execs the program: $! is its PID (a function would fork a shell).
		pretty stun "$VTX_BUILD/stun_answer $STUN_IP 3478 >stun.log &"
		ip netns exec "$(ns_for stun)" "$VTX_BUILD/stun_answer" "$STUN_IP" 3478 \
			>"$VTX_TMP/stun.log" 2>&1 &
		track_pid $!
		wait_until 5 grep -q listening "$VTX_TMP/stun.log" ||
			fail "stun_answer: $(cat "$VTX_TMP/stun.log")"
	fi
	qn "$router" nft delete table inet vtxupnp 2>/dev/null || true # a previous run's
	qn "$router" nft -f - <<EOF
table inet vtxupnp {
	chain forward {
		type filter hook forward priority -5; policy accept;
		ct state established,related accept
		iifname "eth0" jump miniupnpd
		iifname "eth0" ct state new drop
	}
	chain miniupnpd {
	}
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		jump postrouting_miniupnpd
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
}
EOF
	cat >"$conf" <<EOF
ext_ifname=eth0
listening_ip=lan0
http_port=0
enable_upnp=yes
enable_natpmp=$natpmp
ext_perform_stun=yes
ext_stun_host=$STUN_IP
ext_stun_port=3478
secure_mode=yes
system_uptime=no
notify_interval=60
lease_file=$VTX_TMP/$router-miniupnpd.leases
upnp_table_name=vtxupnp
upnp_nat_table_name=vtxupnp
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
uuid=8d3c41f0-51a4-4e4c-9d5e-$(printf '%012x' $$)
allow 1024-65535 $net 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
	pretty "$router" "$bin -f $conf -d -P $router-miniupnpd.pid >$router-miniupnpd.log &"
	ip netns exec "$(ns_for "$router")" "$bin" -f "$conf" -d -P "$VTX_TMP/$router-miniupnpd.pid" \
		>"$VTX_TMP/$router-miniupnpd.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	VTX_UPNP_PID[$router]=$pid
	# The last line of its start-up: NAT-PMP/PCP's socket, or UPnP's HTTP one.
	wait_until 15 grep -q -E "Listening for NAT-PMP/PCP traffic|HTTP listening on port" \
		"$VTX_TMP/$router-miniupnpd.log" ||
		fail "miniupnpd on $router never listens: $(tail -5 "$VTX_TMP/$router-miniupnpd.log")"
	wait_until 10 grep -q "Port forwarding is now enabled" "$VTX_TMP/$router-miniupnpd.log" ||
		fail "miniupnpd on $router does not forward: $(cat "$VTX_TMP/$router-miniupnpd.log")"
	if [[ $natpmp == yes ]]; then
		pass "$router: miniupnpd (UPnP IGD, NAT-PMP, PCP) on lan0 for $net, PID $pid"
	else
		pass "$router: miniupnpd (UPnP IGD only) on lan0 for $net, PID $pid"
	fi
}
declare -A VTX_UPNP_PID=()

nat_upnp_stop()
{
	pretty "$1" "kill -TERM ${VTX_UPNP_PID[$1]}  # miniupnpd"
	stop_pid "${VTX_UPNP_PID[$1]}"
}

nat_upnp_rules()
{
	qn "$1" nft list chain inet vtxupnp prerouting_miniupnpd | grep dnat || true
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
