#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The two-domain lab with alice and bob each behind a NAT router (sourced after lib.sh,
# lib_domains.sh and lib_servers.sh). The servers and the DNS sit on the "public" LAN as in
# lib_domains.sh; each site is a router with a public leg on that LAN and a private network
# (a bridge, lan0) behind it:
#
#                      dns 198.18.0.53   srva 198.18.0.10   srvb 198.18.0.20
#                                        (and .11: NAT tests)  (and .21)
#                                 \            |            /
#                                  ---------[ sw: br0 ]------
#                                    /                   \
#                 nata 198.18.0.201                         natb 198.18.0.202
#                 (NATA_KIND, default apdf)                 (NATB_KIND, default udp-blocked
#                                                            unless nat_lab_up pass: apdf)
#                      |  198.19.1.0/24 (lan0)                   |  198.19.2.0/24 (lan0)
#                 alice 198.19.1.2  (+ nat_host_add)        bob 198.19.2.2
#
# Each router's behaviour is a kind (nat_site_kind, which can change it between two runs of the
# agents): the NAT behaviours of RFC 4787, built with nftables --
#
#   kind         mapping                         filtering                 how
#   apdf         endpoint-independent            address-and-port-dep.     masquerade
#   adf          endpoint-independent            address-dependent         masquerade + DNAT
#   eif          endpoint-independent            endpoint-independent      masquerade + DNAT
#   symmetric    endpoint-dependent, random      address-and-port-dep.     masquerade random
#   udp-blocked  (as apdf for TCP)               IPv4 UDP dropped but DNS  masquerade + drop
#   public       none: the site is routed        none                      routes on the LAN
#
# Linux masquerade keeps a socket's port for every destination (when it is free), and
# conntrack lets in only what belongs to a connection that went out: that is apdf. The looser
# filterings need the router to remember its mappings itself: on the way out (postrouting,
# after masquerade) it learns, in a dynamic map `eim`, public port -> the host's address and
# port (`ct original ip saddr . ct original proto-src`), and for adf, in a dynamic set
# `contacted`, public port . remote address; on the way in (prerouting), a new datagram to a
# mapped port is DNATed to the host's socket (eif: any; adf: only from a contacted address).
# tests/integration/nat_behaviours.sh proves each kind with UDP probes.
#
# Independently of the kind, a router may hairpin (nat_site_hairpin ROUTER on; not for public):
# a datagram from its LAN to its own public address and a mapped UDP port is DNATed, through the
# same `eim` map (learnt for every kind then), to the host the mapping belongs to, and its
# source SNATed to the public address (the port kept when free), so the host sees it come from
# the sender's own mapping, as from outside, also to the sender's own host. Counted in
# `hairpinned`; no ICMP redirects (the packet leaves by the interface it came in by). Plain masquerade does not hairpin: such a
# datagram reaches the router itself, which drops it (wan_in does not apply: it comes from the
# LAN; no socket there). nat_host_isolate puts a host's bridge port in isolation (like a Wi-Fi
# access point's client isolation: two isolated hosts cannot reach each other on the LAN, only
# the router), so two hosts behind one router meet only through its hairpin.
#
# Like a home router, each drops what arrives unasked for its own public address (the wan_in
# chain): the packet is dropped before conntrack confirms an entry for it, so it leaves no state
# that would clash with a mapping made later (as a router that answered it would).
#
# No config names an endpoint: the agents find only their own servers (DNS), and each other
# through rendezvous. Each router counts, in a named nftables counter `toward_peer`, every
# packet that crosses it between its hosts and the other site (either site's addresses): before
# an approval both must stay at zero.
#
#   nat_lab_up [bob-udp=drop|pass]   the lab (bob's router drops UDP unless told otherwise)
#   NATA_KIND=KIND NATB_KIND=KIND     (before nat_lab_up) the routers' kinds; NATB_KIND wins
#                                     over bob-udp
#   nat_site_kind SITE KIND           SITE's router becomes KIND (rules anew, conntrack
#                                     flushed, routes on the LAN for public)
#   nat_host_add SITE NAME IP         one more host on SITE's LAN (e.g. carol 198.19.1.3)
#   nat_site_hairpin SITE on|off      SITE's router hairpins UDP (or not: the default); its
#                                     rules written anew and conntrack flushed, as nat_site_kind
#   nat_host_isolate SITE NAME        NAME's port on SITE's LAN isolated (client isolation)
#   nat_hairpin_counter SITE          packets SITE's router hairpinned
#   nat_flush SITE                    SITE's router forgets every connection (its mappings)
#   nat_site_ipv6 SITE firewall|open  IPv6 without NAT on SITE (fd00:198:19:X::/64 behind a
#                                     stateful firewall or none; the public LAN fd00:198:18::/64)
#   nat_counter6 SITE                 IPv6 packets SITE's router forwarded between the sites
#   nat_forward SITE HOST-IP          SITE's router forwards UDP port 4800 to HOST-IP (a port
#                                     mapping: anything may come in there)
#   nat_upnp_start ROUTER [upnp-only]
#                                     miniupnpd on ROUTER's LAN side (UPnP IGD, NAT-PMP, PCP;
#                                     upnp-only: no NAT-PMP/PCP), forwarding through its own
#                                     nftables table; see below
#   nat_upnp_stop ROUTER              miniupnpd stopped (SIGTERM)
#   nat_upnp_rules ROUTER             the DNAT rules miniupnpd holds now, one a line
#   nat_counter SITE                  packets counted by SITE's router (nata, natb)
#   on_alice CMD... / on_bob CMD...   CMD in that host's namespace (for check_ping and co.)
#
# shellcheck disable=SC2034

NATA_IP=198.18.0.201
NATB_IP=198.18.0.202
ALICE_LAN_IP=198.19.1.2
BOB_LAN_IP=198.19.2.2

STUN_IP=198.18.0.40

declare -A NAT_SITE_PUB=() NAT_SITE_NET=() NAT_SITE_OTHER=() NAT_SITE_KIND=() NAT_SITE_V6=() NAT_SITE_V6MODE=() NAT_SITE_HOST=() NAT_SITE_HAIRPIN=()
NAT_SITES=()

# nat_site_add ROUTER PUBLIC-IP HOST NET(x.y.z) OTHER-PUBLIC OTHER-HOST-IP [udp-drop] [KIND]
# A site: ROUTER with its public leg on the LAN and a bridge lan0 (NET.1/24) for its hosts, HOST
# at NET.2 behind it; KIND as for nat_site_kind (udp-drop: udp-blocked; default apdf).
nat_site_add()
{
	local router=$1 pub=$2 host=$3 net=$4 other_pub=$5 other_host=$6 udp=${7:-} kind=${8:-}
	[[ -n $kind ]] || kind=apdf
	[[ -z $udp ]] || kind="udp-blocked"
	domain_node_add "$router" "$pub"
	in_ns "$router" ip link add lan0 type bridge
	in_ns "$router" ip addr add "$net.1/24" dev lan0
	in_ns "$router" ip link set lan0 up
	in_ns "$router" sysctl -qw net.ipv4.ip_forward=1
	NAT_SITE_PUB[$router]=$pub
	NAT_SITE_NET[$router]=$net
	NAT_SITE_OTHER[$router]="$other_pub, $other_host"
	NAT_SITES+=("$router")
	NAT_SITE_HOST[$router]=$host
	nat_host_add "$router" "$host" "$net.2"
	nat_site_kind "$router" "$kind"
}

# nat_host_add ROUTER NAME IP: one more host on ROUTER's LAN (a port of its bridge), default
# route via the router, resolving through the lab's DNS.
nat_host_add()
{
	local router=$1 host=$2 ip=$3 ns=$VTX_RUN-$2
	ns_add "$ns"
	VTX_DOMAIN_NS[$host]=$ns
	domain_resolv_conf "$host"
	in_ns "$router" ip link add "l-$host" type veth peer name eth0 netns "$ns"
	in_ns "$router" ip link set "l-$host" master lan0 up
	in_ns "$host" ip addr add "$ip/24" dev eth0
	in_ns "$host" ip link set eth0 up
	in_ns "$host" ip route add default via "${NAT_SITE_NET[$router]}.1"
}

# nat_site_kind ROUTER KIND: ROUTER's behaviour (the table at the top of this file): its table
# ip vtxlab written anew, its connection tracking flushed (no mapping of the previous kind
# survives), a route to its network on the other LAN members for public (and none otherwise).
nat_site_kind()
{
	local router=$1 kind=$2 pub net other masq=masquerade learn='' dnat='' wan_fwd='' udp='' node
	pub=${NAT_SITE_PUB[$router]}
	net=${NAT_SITE_NET[$router]}
	other=${NAT_SITE_OTHER[$router]}
	# After masquerade the packet's source port is the public one; the connection's original
	# direction names the host's socket. Only connections that went out are learnt from.
	local out="oifname \"eth0\" ct original ip saddr $net.0/24 meta l4proto udp"
	local eim="$out update @eim { udp sport : ct original ip saddr . ct original proto-src }"
	case $kind in
	apdf | udp-blocked) ;;
	symmetric) masq="masquerade random" ;;
	eif)
		learn=$eim
		dnat="iifname \"eth0\" ip daddr $pub meta l4proto udp dnat ip addr . port to udp dport map @eim"
		;;
	adf)
		learn="$eim
		$out update @contacted { udp sport . ip daddr }"
		dnat="iifname \"eth0\" ip daddr $pub udp dport . ip saddr @contacted dnat ip addr . port to udp dport map @eim"
		;;
	public) masq='' ;;
	*) fail "nat_site_kind: unknown kind '$kind'" ;;
	esac
	local hp_in='' hp_out=''
	if [[ ${NAT_SITE_HAIRPIN[$router]:-} == on && $kind != public ]]; then
		[[ -n $learn ]] || learn=$eim
		hp_in="iifname \"lan0\" ip daddr $pub meta l4proto udp dnat ip addr . port to udp dport map @eim"
		hp_out="ip saddr $net.0/24 oifname \"lan0\" ct status dnat snat ip to $pub"
		in_ns "$router" sysctl -qw net.ipv4.conf.all.send_redirects=0 \
			net.ipv4.conf.lan0.send_redirects=0
		# Routed, not bridged: with br_netfilter (bridge-nf-call-iptables), a datagram
		# DNATed to a host on the same bridge is forwarded by the bridge itself, never back
		# out of the port it came in by (a host to its own mapping) and through the
		# isolation between ports.
		if qn "$router" test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
			in_ns "$router" sysctl -qw net.bridge.bridge-nf-call-iptables=0
		fi
	fi
	# A NAT forwards nothing new from outside that it did not translate itself.
	[[ $kind == public ]] || wan_fwd='iifname "eth0" ct state new ct status & dnat == 0 drop'
	[[ $kind != udp-blocked ]] || udp="ip daddr $DNS_IP udp dport 53 accept
		ip saddr $DNS_IP udp sport 53 accept
		oifname \"eth0\" meta l4proto udp counter drop
		iifname \"eth0\" meta l4proto udp counter drop"
	qn "$router" nft delete table ip vtxlab 2>/dev/null || true
	qn "$router" nft -f - <<EOF
table ip vtxlab {
	counter toward_peer { }
	counter hairpinned { }
	map eim {
		type inet_service : ipv4_addr . inet_service
		flags dynamic, timeout
		timeout 180s
	}
	set contacted {
		type inet_service . ipv4_addr
		flags dynamic, timeout
		timeout 180s
	}
	chain nat_out {
		type nat hook postrouting priority 100;
		${masq:+oifname \"eth0\" $masq}
		$hp_out
	}
	chain learn {
		type filter hook postrouting priority 110; policy accept;
		$learn
	}
	chain nat_in {
		type nat hook prerouting priority -100;
		$dnat
		$hp_in
	}
	chain wan_in {
		type filter hook input priority 0; policy accept;
		iifname "eth0" ct state new drop
	}
	chain wan_fwd {
		type filter hook forward priority -10; policy accept;
		$wan_fwd
	}
	chain between {
		type filter hook forward priority 0; policy accept;
		ip saddr $net.0/24 ip daddr { $other } counter name toward_peer
		ip saddr { $other } ip daddr $net.0/24 counter name toward_peer
		ip saddr ${other%%,*} counter name toward_peer
		iifname "lan0" oifname "lan0" ct status dnat counter name hairpinned
		$udp
	}
}
EOF
	for node in srva srvb dns "${NAT_SITES[@]}"; do
		[[ $node != "$router" && -n ${VTX_DOMAIN_NS[$node]:-} ]] || continue
		if [[ $kind == public ]]; then
			qn "$node" ip route replace "$net.0/24" via "$pub"
		else
			qn "$node" ip route del "$net.0/24" 2>/dev/null || true
		fi
	done
	# A new router has nothing to forget.
	[[ -z ${NAT_SITE_KIND[$router]:-} ]] || nat_flush "$router"
	NAT_SITE_KIND[$router]=$kind
	pass "$router: $kind for $net.0/24 (public address $pub)${hp_in:+, hairpinning}"
}

# nat_site_hairpin ROUTER on|off: ROUTER hairpins UDP or not (see the top of this file), its
# kind unchanged (rules anew, conntrack flushed).
nat_site_hairpin()
{
	NAT_SITE_HAIRPIN[$1]=$2
	nat_site_kind "$1" "${NAT_SITE_KIND[$1]}"
}

# nat_host_isolate ROUTER HOST: HOST's port on ROUTER's LAN bridge isolated: it reaches the
# router, and no other isolated port (nftables on the bridge's forward hook, which sees only
# frames between two ports: what the router routes, hairpinned datagrams too, is not bridged).
nat_host_isolate()
{
	if [[ -z ${NAT_ISOLATED[$1]:-} ]]; then
		qn "$1" nft -f - <<EOF
table bridge vtxiso {
	set ports {
		type ifname
	}
	chain isolate {
		type filter hook forward priority 0; policy accept;
		iifname @ports oifname @ports counter drop
	}
}
EOF
		NAT_ISOLATED[$1]=1
	fi
	in_ns "$1" nft add element bridge vtxiso ports "{ l-$2 }"
}
declare -A NAT_ISOLATED=()

nat_hairpin_counter()
{
	qn "$1" nft list counter ip vtxlab hairpinned | awk '/packets/ { print $2; exit }'
}

# nat_flush ROUTER: forget every connection ROUTER tracks, and its NAT mappings with them (one
# ctnetlink IPCTNL_MSG_CT_DELETE without attributes flushes the table).
nat_flush()
{
	command -v python3 >/dev/null || skip "missing tool: python3 (nat_flush)"
	qn "$1" python3 - <<'PY' || fail "$1: could not flush its connection tracking"
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
body = struct.pack("BBH", socket.AF_UNSPEC, 0, 0)  # nfgenmsg: IPv4 and IPv6
# NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE; NLM_F_REQUEST | NLM_F_ACK
s.send(struct.pack("=IHHII", 16 + len(body), 1 << 8 | 2, 1 | 4, 1, 0) + body)
ack = s.recv(4096)
raise SystemExit(struct.unpack("=i", ack[16:20])[0] != 0)
PY
}

# nat_site_ipv6 ROUTER firewall|open: IPv6 on ROUTER's site, without NAT: the public LAN is
# fd00:198:18::/64 (ROUTER at fd00:198:18::N, N the last byte of its IPv4 address), its own
# network fd00:198:19:X::/64 (X the third byte of its IPv4 network: the host at ::2), routed by
# the other routers. firewall: a stateful firewall lets in only what belongs to a connection
# that went out (as home routers do for IPv6); open: everything. Called again, it changes only
# the firewall. Each router counts the IPv6 packets it forwards between its network and the
# other sites (counter toward_peer6).
NAT6_LAN=fd00:198:18:
nat_site_ipv6()
{
	local router=$1 mode=$2 net pub6 net6 host node drop=''
	net=${NAT_SITE_NET[$router]}
	pub6=$NAT6_LAN:${NAT_SITE_PUB[$router]##*.}
	net6=fd00:198:19:${net##*.}:
	if [[ -z ${NAT_SITE_V6[$router]:-} ]]; then
		in_ns "$router" sysctl -qw net.ipv6.conf.all.forwarding=1
		in_ns "$router" ip addr add "$pub6/64" dev eth0 nodad
		in_ns "$router" ip addr add "$net6:1/64" dev lan0 nodad
		host=${NAT_SITE_HOST[$router]}
		in_ns "$host" ip addr add "$net6:2/64" dev eth0 nodad
		in_ns "$host" ip -6 route add default via "$net6:1"
		for node in "${NAT_SITES[@]}"; do
			[[ $node != "$router" && -n ${NAT_SITE_V6[$node]:-} ]] || continue
			qn "$node" ip -6 route replace "$net6:/64" via "$pub6"
			qn "$router" ip -6 route replace "${NAT_SITE_V6[$node]}:/64" via \
				"$NAT6_LAN:${NAT_SITE_PUB[$node]##*.}"
		done
		NAT_SITE_V6[$router]=$net6
	fi
	[[ $mode == open ]] || drop='iifname "eth0" ct state new drop'
	qn "$router" nft delete table ip6 vtxlab6 2>/dev/null || true
	qn "$router" nft -f - <<EOF
table ip6 vtxlab6 {
	counter toward_peer6 { }
	chain fw {
		type filter hook forward priority 0; policy accept;
		iifname "eth0" ip6 daddr $net6:/64 counter name toward_peer6
		oifname "eth0" ip6 saddr $net6:/64 ip6 daddr fd00:198:19::/48 counter name toward_peer6
		ct state established,related accept
		$drop
	}
}
EOF
	NAT_SITE_V6MODE[$router]=$mode
	pass "$router: IPv6 $net6:/64 behind $pub6, $mode"
}

nat_counter6()
{
	qn "$1" nft list counter ip6 vtxlab6 toward_peer6 | awk '/packets/ { print $2; exit }'
}

nat_lab_up()
{
	local bob_udp=${1:-drop} bob_kind=${NATB_KIND:-}
	command -v dnsmasq >/dev/null || skip "missing tool: dnsmasq (scripts/install-deps.sh)"
	command -v nft >/dev/null || skip "missing tool: nft (scripts/install-deps.sh)"
	[[ -n $bob_kind || $bob_udp != drop ]] || bob_kind="udp-blocked"
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
	domain_server_alt srva "$SRVA_ALT_IP"
	domain_server_alt srvb "$SRVB_ALT_IP"
	nat_site_add nata "$NATA_IP" alice 198.19.1 "$NATB_IP" "$BOB_LAN_IP" "" "${NATA_KIND:-}"
	nat_site_add natb "$NATB_IP" bob 198.19.2 "$NATA_IP" "$ALICE_LAN_IP" "" "$bob_kind"
	# Routes made for a public site before the other router existed.
	[[ ${NAT_SITE_KIND[nata]} != public ]] || nat_site_kind nata public
	wait_until 10 qn alice ping -c 1 -W 1 "$DNS_IP" || fail "alice cannot reach the DNS server"
	wait_until 10 qn bob ping -c 1 -W 1 "$SRVB_IP" || fail "bob cannot reach server B"
	dns_start
	# The NAT counters start at zero now: the pings above went to the LAN, not to a site.
	qn nata nft reset counter ip vtxlab toward_peer >/dev/null
	qn natb nft reset counter ip vtxlab toward_peer >/dev/null
	pass "NAT lab up: alice behind nata (${NAT_SITE_KIND[nata]}), bob behind natb (${NAT_SITE_KIND[natb]}), servers public"
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
