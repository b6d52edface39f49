#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The NAT lab's router kinds (lib_nat.sh) do what their names say, proved with plain UDP
# sockets before any scenario relies on them. For each kind of alice's router:
#
# 1. Mapping: one socket of alice's sends to server A and to server B; each says which public
#    address and port it saw. Endpoint-independent: the same port for both, and the socket's
#    own (Linux keeps it); symmetric: two different ports; public: alice's own address.
# 2. Filtering: to the mapping server A saw, three datagrams come: from server A's other port
#    (`port`), from an address alice never sent to (the DNS host, `addr`), and last from where
#    she sent (`control`, which every kind lets in). When the control has arrived, whatever of
#    the first two did not was dropped: eif and public let both in, adf only `port`, apdf and
#    symmetric neither.
# 3. udp-blocked: nothing alice sends over UDP leaves (bounded wait), DNS still works.
# 4. IPv6 without NAT: behind a stateful firewall alice is seen at her own address, and only
#    answers come in (not from another port, not from another address); an open site lets
#    anything in. Last, nat_flush makes a router forget its mappings.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"

vtx_require python3
nat_lab_up pass

# udp_recv NODE IP PORT OUT SECONDS: in the background, NODE receives on IP:PORT and writes a
# line "PAYLOAD SOURCE-IP:PORT" to OUT for every datagram, until one says "control" or SECONDS
# pass. OUT exists once the socket is bound.
udp_recv()
{
	local node=$1 ip=$2 port=$3 out=$4 secs=$5 pid
	ip netns exec "$(ns_for "$node")" python3 - "$ip" "$port" "$out" "$secs" <<'PY' &
import socket, sys, time
ip, port, out, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port))
end = time.monotonic() + secs
with open(out, "w", buffering=1) as f:
    while time.monotonic() < end:
        s.settimeout(max(end - time.monotonic(), 0.01))
        try:
            data, src = s.recvfrom(2048)
        except socket.timeout:
            break
        f.write("%s %s:%d\n" % (data.decode(), src[0], src[1]))
        if data == b"control":
            break
PY
	pid=$!
	track_pid "$pid"
	wait_until 5 test -e "$out" || fail "$node: no socket on $ip:$port"
	UDP_RECV_PID=$pid
}

# udp_send NODE SRC-IP SRC-PORT DST-IP DST-PORT PAYLOAD
udp_send()
{
	ip netns exec "$(ns_for "$1")" python3 - "${@:2}" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.sendto(sys.argv[5].encode(), (sys.argv[3], int(sys.argv[4])))
PY
}

# seen OUT: the source the first datagram in OUT came from
seen()
{
	awk 'NR == 1 { print $2 }' "$1"
}

got() # got OUT PAYLOAD: a datagram PAYLOAD arrived
{
	grep -q "^$2 " "$1"
}

PORT=5000
probe()
{
	local kind=$1 map_a map_b pa pb want_port want_addr
	PORT=$((PORT + 1))
	say "$kind: alice's socket $ALICE_LAN_IP:$PORT"
	nat_site_kind nata "$kind"
	udp_recv srva "$SRVA_IP" 7000 "$VTX_TMP/$kind.a" 5
	local pid_a=$UDP_RECV_PID
	udp_recv srvb "$SRVB_IP" 7000 "$VTX_TMP/$kind.b" 5
	local pid_b=$UDP_RECV_PID
	udp_send alice "$ALICE_LAN_IP" "$PORT" "$SRVA_IP" 7000 map
	udp_send alice "$ALICE_LAN_IP" "$PORT" "$SRVB_IP" 7000 map
	if [[ $kind == udp-blocked ]]; then
		# Nothing can say a datagram will not come: the receivers' 5 s bound it.
		wait_until 10 pid_is_gone "$pid_a" || fail "receiver on server A never ends"
		wait_until 10 pid_is_gone "$pid_b" || fail "receiver on server B never ends"
		[[ ! -s $VTX_TMP/$kind.a && ! -s $VTX_TMP/$kind.b ]] ||
			fail "$kind: UDP got through: $(cat "$VTX_TMP/$kind.a" "$VTX_TMP/$kind.b")"
		qn alice getent ahostsv4 "$SRVA_HOST" >/dev/null || fail "$kind: DNS does not work"
		pass "$kind: no UDP leaves alice's site in 5 s; DNS works"
		return
	fi
	wait_until 5 test -s "$VTX_TMP/$kind.a" || fail "$kind: server A never hears alice"
	wait_until 5 test -s "$VTX_TMP/$kind.b" || fail "$kind: server B never hears alice"
	map_a=$(seen "$VTX_TMP/$kind.a")
	map_b=$(seen "$VTX_TMP/$kind.b")
	pa=${map_a##*:}
	pb=${map_b##*:}
	case $kind in
	public)
		[[ $map_a == "$ALICE_LAN_IP:$PORT" && $map_b == "$map_a" ]] ||
			fail "$kind: seen as $map_a and $map_b, not as alice's own address"
		;;
	symmetric)
		[[ ${map_a%:*} == "$NATA_IP" && ${map_b%:*} == "$NATA_IP" && $pa != "$pb" ]] ||
			fail "$kind: seen as $map_a and $map_b: not two ports of the router"
		;;
	*)
		[[ $map_a == "$NATA_IP:$PORT" && $map_b == "$map_a" ]] ||
			fail "$kind: seen as $map_a and $map_b: not one mapping keeping the port"
		;;
	esac
	pass "$kind: mapping: server A saw $map_a, server B saw $map_b"

	udp_recv alice "$ALICE_LAN_IP" "$PORT" "$VTX_TMP/$kind.in" 5
	local pid_in=$UDP_RECV_PID
	udp_send srva "$SRVA_IP" 7001 "${map_a%:*}" "$pa" port
	udp_send dns "$DNS_IP" 7000 "${map_a%:*}" "$pa" addr
	udp_send srva "$SRVA_IP" 7000 "${map_a%:*}" "$pa" control
	wait_until 10 pid_is_gone "$pid_in" || fail "alice's receiver never ends"
	got "$VTX_TMP/$kind.in" control ||
		fail "$kind: the answer from where alice sent never came in: $(cat "$VTX_TMP/$kind.in")"
	case $kind in
	eif | public) want_port=1 want_addr=1 ;;
	adf) want_port=1 want_addr=0 ;;
	*) want_port=0 want_addr=0 ;;
	esac
	if got "$VTX_TMP/$kind.in" port; then ((want_port)); else ((!want_port)); fi ||
		fail "$kind: from server A's other port: $( ((want_port)) || echo not) expected: $(cat "$VTX_TMP/$kind.in")"
	if got "$VTX_TMP/$kind.in" addr; then ((want_addr)); else ((!want_addr)); fi ||
		fail "$kind: from an address alice never sent to: $( ((want_addr)) || echo not) expected: $(cat "$VTX_TMP/$kind.in")"
	pass "$kind: filtering: let in: $(awk '{ printf "%s from %s; ", $1, $2 }' "$VTX_TMP/$kind.in")"
}

for kind in apdf adf eif symmetric public udp-blocked; do
	probe "$kind"
done
say "IPv6: alice's site behind a stateful firewall, bob's open"
nat_site_ipv6 nata firewall
nat_site_ipv6 natb open
A6=fd00:198:19:1::2
B6=fd00:198:19:2::2
udp_recv bob "$B6" 7000 "$VTX_TMP/v6.b" 5
udp_send alice "$A6" 5100 "$B6" 7000 map
wait_until 5 test -s "$VTX_TMP/v6.b" || fail "IPv6: bob never hears alice"
[[ $(seen "$VTX_TMP/v6.b") == "$A6:5100" ]] || fail "IPv6: bob saw alice as $(seen "$VTX_TMP/v6.b")"
udp_recv alice "$A6" 5100 "$VTX_TMP/v6.in" 5
PID_IN=$UDP_RECV_PID
udp_send bob "$B6" 7001 "$A6" 5100 port
udp_send natb "$NAT6_LAN:202" 7000 "$A6" 5100 addr
udp_send bob "$B6" 7000 "$A6" 5100 control
wait_until 10 pid_is_gone "$PID_IN" || fail "alice's receiver never ends"
[[ $(awk '{ print $1 }' "$VTX_TMP/v6.in") == control ]] ||
	fail "IPv6 firewall let in: $(cat "$VTX_TMP/v6.in")"
pass "IPv6 firewall: bob saw $A6:5100 (no NAT), only his answer came in"
udp_recv bob "$B6" 7000 "$VTX_TMP/v6.open" 5
PID_IN=$UDP_RECV_PID
udp_send nata "$NAT6_LAN:201" 7002 "$B6" 7000 addr
udp_send alice "$A6" 5101 "$B6" 7000 control
wait_until 10 pid_is_gone "$PID_IN" || fail "bob's receiver never ends"
got "$VTX_TMP/v6.open" addr || fail "IPv6 open: $(cat "$VTX_TMP/v6.open")"
pass "IPv6 open: anything comes in"

# Back to a NAT: the route to alice's network is gone; and a flush forgets the mappings: an
# answer to what alice sent before it is dropped, one to what she sent after comes in.
say "nat_flush: the mappings forgotten"
nat_site_kind nata apdf
! qn dns ip route get 198.19.1.2 2>/dev/null | grep -q "via $NATA_IP" || fail "the route to alice's LAN stayed"
PORT=$((PORT + 1))
udp_recv srva "$SRVA_IP" 7000 "$VTX_TMP/flush.a" 5
udp_send alice "$ALICE_LAN_IP" "$PORT" "$SRVA_IP" 7000 map
wait_until 5 test -s "$VTX_TMP/flush.a" || fail "server A never hears alice"
nat_flush nata
udp_recv alice "$ALICE_LAN_IP" "$PORT" "$VTX_TMP/flush.in" 5
PID_IN=$UDP_RECV_PID
udp_send srva "$SRVA_IP" 7000 "$NATA_IP" "$PORT" stale
udp_send alice "$ALICE_LAN_IP" "$PORT" "$SRVA_IP" 7000 again
udp_send srva "$SRVA_IP" 7000 "$NATA_IP" "$PORT" control
wait_until 10 pid_is_gone "$PID_IN" || fail "alice's receiver never ends"
got "$VTX_TMP/flush.in" control && ! got "$VTX_TMP/flush.in" stale ||
	fail "after nat_flush alice got: $(cat "$VTX_TMP/flush.in")"
pass "nat_flush: the answer to the forgotten mapping dropped, the new one let in"
pass "$VTX_SCENARIO"
