#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A two- or three-domain lab for the scenarios of servers and federation (issue 3), sourced after
# lib.sh.
# Everything sits on one "public" LAN, 198.18.0.0/24: a bridge inside a switch namespace, one
# veth port per member namespace. A DNS namespace runs dnsmasq, authoritative for example.com:
#
#                                 dns  198.18.0.53  (dnsmasq)
#                                          |
#     srva 198.18.0.10  ---------------[ sw: br0 ]---------------  srvb 198.18.0.20
#     (vx.a.example.com)                 /       \                 (b.example.com)
#                                       /         \
#                   alice 198.18.0.101             bob 198.18.0.102    (+ domain_node_add ...)
#                   (domain a)                     (domain b)
#
#   _vertex._tcp.a.example.com  SRV 0 0 4801 vx.a.example.com     a.example.com finds its server
#   vx.a.example.com            A   198.18.0.10                   through SRV;
#   b.example.com               A   198.18.0.20                   b.example.com has no SRV: the
#                                                                 A/AAAA fallback on port 4801.
#   c.example.com               A   198.18.0.30                   the same; its server's namespace
#                                                                 (srvc) is made by domain_c_up.
#   Any other name under example.com is NXDOMAIN (dnsmasq --local), nothing is forwarded.
#
# Every member namespace (not sw, not dns) gets /etc/netns/NS/resolv.conf naming 198.18.0.53
# (`ip netns exec` bind-mounts it over /etc/resolv.conf), with timeout:2 attempts:1 so that a
# getaddrinfo against a dead DNS server is as bounded as the SRV query of discover.c. Those
# directories and dnsmasq are removed by the EXIT trap, before lib.sh's own cleanup.
#
# Use: source lib.sh, then this file; vtx_setup_common (or vtx_require); domains_up. Then
#   ns_for NAME            the namespace of a short name (sw, dns, srva, srvb, alice, bob, ...)
#   in_ns NAME CMD...      run CMD there, echoed;  qn NAME CMD...  the same, quiet
#   domain_node_add NAME ADDR   one more member on the LAN (e.g. carol 198.18.0.103)
#   domain_c_up            the third domain's server namespace, srvc
#   domain_hosts NAME [ADDR HOST]...  NAME's /etc/hosts (what it resolves before asking DNS), for
#                          a man in the middle on one side of the network; none: just localhost
#   dns_stop / dns_start   stop or (re)start dnsmasq
#
# shellcheck disable=SC2034

DNS_IP=198.18.0.53
SRVA_IP=198.18.0.10
SRVB_IP=198.18.0.20
SRVA_ALT_IP=198.18.0.11
SRVB_ALT_IP=198.18.0.21
SRVC_IP=198.18.0.30
ALICE_IP=198.18.0.101
BOB_IP=198.18.0.102
LAN_PREFIX=24
DOMAIN_A=a.example.com
DOMAIN_B=b.example.com
DOMAIN_C=c.example.com
SRVA_HOST=vx.$DOMAIN_A
SERVER_PORT=4801

declare -A VTX_DOMAIN_NS=()
VTX_NETNS_DIRS=()
VTX_DNS_PID=
VTX_DOMAINS_TRAP=

ns_for() # ns_for NAME: the namespace name of a short lab name
{
	[[ -n ${VTX_DOMAIN_NS[$1]:-} ]] || fail "ns_for: no lab namespace named '$1'"
	printf '%s\n' "${VTX_DOMAIN_NS[$1]}"
}

in_ns() # in_ns NAME CMD...: run CMD in the lab namespace NAME, echoed with NAME
{
	local ns
	ns=$(ns_for "$1")
	shift
	pretty "${ns##*-}" "$*"
	ip netns exec "$ns" "$@"
}

qn() # qn NAME CMD...: the quiet variant, for polling and for reading values
{
	local ns
	ns=$(ns_for "$1")
	shift
	ip netns exec "$ns" "$@"
}

# The EXIT trap: dnsmasq first (it is a process of ours), then the resolv.conf directories, then
# lib.sh's cleanup with the scenario's exit status.
domains_cleanup()
{
	local rc=$? dir
	set +e
	[[ -z $VTX_DNS_PID ]] || stop_pid "$VTX_DNS_PID"
	for dir in "${VTX_NETNS_DIRS[@]}"; do
		rm -rf "$dir"
	done
	(exit "$rc")
	vtx_cleanup
}

# domains_trap: take over the EXIT trap once lib.sh has set it (vtx_setup_common).
domains_trap()
{
	[[ -n $VTX_DOMAINS_TRAP ]] && return 0
	[[ -n $VTX_TMP ]] || fail "lib_domains.sh: call vtx_setup_common or vtx_require first"
	trap domains_cleanup EXIT
	VTX_DOMAINS_TRAP=1
}

# domain_ns_add NAME: a namespace for NAME with one port on the bridge; eth0 inside, no address.
domain_ns_add()
{
	local name=$1 ns=$VTX_RUN-$1 sw
	sw=$(ns_for sw)
	ns_add "$ns"
	VTX_DOMAIN_NS[$name]=$ns
	# Created in the switch namespace and moved at once, so the names never touch ours.
	in_ns sw ip link add "p-$name" type veth peer name eth0 netns "$ns"
	in_ns sw ip link set "p-$name" master br0 up
	in_ns "$name" ip link set eth0 up
}

# domain_resolv_conf NAME: the lab's DNS server for NAME (bind-mounted by `ip netns exec`).
domain_resolv_conf()
{
	local dir
	dir=/etc/netns/$(ns_for "$1")
	mkdir -p "$dir"
	VTX_NETNS_DIRS+=("$dir")
	printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$DNS_IP" >"$dir/resolv.conf"
	pretty host "wrote $dir/resolv.conf (nameserver $DNS_IP)"
}

# domain_node_add NAME ADDR: a member of the LAN at ADDR that resolves through the lab's DNS.
domain_node_add()
{
	local name=$1 addr=$2
	[[ ${#name} -le 13 ]] || fail "domain_node_add: '$name' is too long for an interface name"
	domain_ns_add "$name"
	domain_resolv_conf "$name"
	in_ns "$name" ip addr add "$addr/$LAN_PREFIX" dev eth0
}

# domain_server_alt NODE IP: a second address on NODE's eth0, which server_start then passes
# to vertex-server as --alt-address (reflection's NAT tests by address, proto/reflect.h).
domain_server_alt()
{
	in_ns "$1" ip addr add "$2/$LAN_PREFIX" dev eth0
	VTX_SERVER_ALT[$1]=$2
}

# domain_hosts NAME [ADDR HOST]...: NAME's own hosts file, consulted before DNS (nsswitch
# "files dns"). Rewritten in place, so a running process sees the change at its next lookup.
domain_hosts()
{
	local name=$1 file
	file=/etc/netns/$(ns_for "$name")/hosts
	shift
	{
		printf '127.0.0.1 localhost\n::1 localhost\n'
		while (($# >= 2)); do
			printf '%s %s\n' "$1" "$2"
			shift 2
		done
	} >"$file"
	pretty "$name" "hosts: $(grep -v localhost "$file" | tr '\n' ' ')"
}

domain_c_up()
{
	domain_node_add srvc "$SRVC_IP"
	wait_until 10 qn srvc ping -c 1 -W 1 "$DNS_IP" || fail "srvc cannot reach the DNS server"
}

# dns_start: dnsmasq in the dns namespace, answering only from the records below.
dns_start()
{
	local ns
	ns=$(ns_for dns)
	pretty dns "dnsmasq --no-daemon ... --listen-address=$DNS_IP 2>>dnsmasq.log &"
	ip netns exec "$ns" dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
		--listen-address="$DNS_IP" --bind-interfaces --pid-file \
		--log-queries --log-facility=- --local=/example.com/ \
		--srv-host="_vertex._tcp.$DOMAIN_A,$SRVA_HOST,$SERVER_PORT,0,0" \
		--host-record="$SRVA_HOST,$SRVA_IP" \
		--host-record="$DOMAIN_B,$SRVB_IP" \
		--host-record="$DOMAIN_C,$SRVC_IP" \
		>>"$VTX_TMP/dnsmasq.log" 2>&1 &
	VTX_DNS_PID=$!
	track_pid "$VTX_DNS_PID"
	wait_until 10 qn alice getent ahostsv4 "$SRVA_HOST" ||
		fail "dnsmasq does not answer: $(tail -n 20 "$VTX_TMP/dnsmasq.log")"
	pass "dnsmasq answering on $DNS_IP (PID $VTX_DNS_PID)"
}

dns_stop()
{
	[[ -n $VTX_DNS_PID ]] || return 0
	pretty dns "kill -TERM $VTX_DNS_PID  # dnsmasq"
	stop_pid "$VTX_DNS_PID"
	VTX_DNS_PID=
}

# domains_up: the LAN, the DNS, both servers' namespaces (each with a second address,
# domain_server_alt) and the agents alice and bob.
domains_up()
{
	local ns
	command -v dnsmasq >/dev/null || skip "missing tool: dnsmasq (scripts/install-deps.sh)"
	domains_trap
	ns=$VTX_RUN-sw
	ns_add "$ns"
	VTX_DOMAIN_NS[sw]=$ns
	in_ns sw ip link add br0 type bridge
	in_ns sw ip link set br0 up
	domain_ns_add dns
	in_ns dns ip addr add "$DNS_IP/$LAN_PREFIX" dev eth0
	domain_node_add srva "$SRVA_IP"
	domain_node_add srvb "$SRVB_IP"
	domain_server_alt srva "$SRVA_ALT_IP"
	domain_server_alt srvb "$SRVB_ALT_IP"
	domain_node_add alice "$ALICE_IP"
	domain_node_add bob "$BOB_IP"
	wait_until 10 qn alice ping -c 1 -W 1 "$DNS_IP" || fail "alice cannot reach the DNS server"
	wait_until 10 qn bob ping -c 1 -W 1 "$SRVA_IP" || fail "bob cannot reach server A"
	dns_start
	pass "two-domain lab up: $DOMAIN_A (SRV) and $DOMAIN_B (A only) on 198.18.0.0/$LAN_PREFIX"
}
