#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The choice between two direct UDP paths by RTT (daemon/path/path.h, docs/direct-paths.md):
# two hosts joined by two underlay links, each through its own router whose delay line
# (tools/delayline.c: the kernel here has no sch_netem) delays both directions. Static peers
# that know both of the other's addresses. Ping traffic flows throughout.
#
#   host1 (alice)                                                  host2 (bob)
#   ea 198.18.40.1 --- [ra: delay line] --- 198.18.41.1 ea
#   eb 198.18.42.1 --- [rb: delay line] --- 198.18.43.1 eb
#
#   1. the link alice's frames take (X: A, unless her first dial raced bob's start) gets 10 ms
#      each way (RTT 20 ms): both agents move to the other, Y (counted on bob's interfaces:
#      the echo requests cross Y, only probes cross X), `vertex peers` and the log say so;
#   2. the delay moved to Y: both follow back to X within a bounded time (measured, printed);
#   3. jitter: X 10 +- 3 ms each way, Y 8 +- 3 (RTTs around 20 and 16 ms: Y at the switching
#      point, 80 % of X) for 20 s: at most one switch per agent (the `path udp ... -> udp ...`
#      log lines counted);
#   4. the link in use cut (its router blackholes it): both agents move to the other link
#      within about 1.5 s (two probes unanswered), never leaving UDP for the TLS link.
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

vtx_require
DELAYLINE=$VTX_BUILD/delayline
[[ -x $DELAYLINE ]] || skip "delayline not built in $VTX_BUILD"
NSA=$VTX_RUN-ra
NSB=$VTX_RUN-rb
A1=198.18.40.1 A2=198.18.41.1 B1=198.18.42.1 B2=198.18.43.1
declare -A DL_PID=()

# link_up ROUTER-NS NAME H1-ADDR H2-ADDR: host1 -- router -- host2, the router's forwarding
# going through a delay line (policy routing sends what comes in from either host into dlyin;
# the line writes it to dlyout, and the kernel routes it on).
link_up()
{
	local ns=$1 name=$2 h1=$3 h2=$4
	ns_add "$ns"
	ip -n "$ns" link add r1 type veth peer name "e$name" netns "$NS1"
	ip -n "$ns" link add r2 type veth peer name "e$name" netns "$NS2"
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0
	ip -n "$ns" addr add "${h1%.*}.254/24" dev r1
	ip -n "$ns" addr add "${h2%.*}.254/24" dev r2
	ip -n "$ns" link set r1 up
	ip -n "$ns" link set r2 up
	ip -n "$NS1" addr add "$h1/24" dev "e$name"
	ip -n "$NS1" link set "e$name" up
	ip -n "$NS1" route add "${h2%.*}.0/24" via "${h1%.*}.254"
	ip -n "$NS2" addr add "$h2/24" dev "e$name"
	ip -n "$NS2" link set "e$name" up
	ip -n "$NS2" route add "${h1%.*}.0/24" via "${h2%.*}.254"
	echo "0 0" >"$VTX_TMP/delay-$name"
	pretty "${ns##*-}" "$DELAYLINE dlyin dlyout delay-$name &"
	ip netns exec "$ns" "$DELAYLINE" dlyin dlyout "$VTX_TMP/delay-$name" \
		>"$VTX_TMP/delayline-$name.log" 2>&1 &
	DL_PID[$name]=$!
	track_pid "${DL_PID[$name]}"
	wait_until 5 grep -q ready "$VTX_TMP/delayline-$name.log" ||
		fail "delayline on link $name: $(cat "$VTX_TMP/delayline-$name.log")"
	ip -n "$ns" link set dlyin up
	ip -n "$ns" link set dlyout up
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.dlyout.rp_filter=0
	ip -n "$ns" route add default dev dlyin table 100
	ip -n "$ns" rule add iif r1 lookup 100
	ip -n "$ns" rule add iif r2 lookup 100
	wait_until 10 q1 ping -c 1 -W 1 "$h2" || fail "link $name: host1 does not reach $h2"
}

# delay NAME MS JITTER: link NAME's delay line delays each direction MS +- JITTER ms.
delay()
{
	pretty host "link $1: $2 ms +- $3 ms each way"
	echo "$2 $3" >"$VTX_TMP/delay-$1"
	kill -HUP "${DL_PID[$1]}"
}

# in_use NAME ADDR: agent NAME sends to its peer's endpoint ADDR (port 4800).
in_use()
{
	[[ $(peer_json "$1" '.udp_endpoints[0]') == "$2:$VTX_PORT in-use "* ]]
}

rx() # rx IFACE: packets host2 received on IFACE
{
	q2 cat "/sys/class/net/$1/statistics/rx_packets"
}

switches() # switches NAME: the path's switches between UDP endpoints in NAME's log so far
{
	grep -c "path udp [^ ]* -> udp [^ ]*: " "$VTX_TMP/$1.log" || true
}

ns_add "$NS1"
ns_add "$NS2"
link_up "$NSA" a "$A1" "$A2"
link_up "$NSB" b "$B1" "$B2"
pass "two links up: A ($A1 - $A2) and B ($B1 - $B2)"

H1_ENDPOINTS=("$A2:$VTX_PORT" "$B2:$VTX_PORT")
H2_ENDPOINTS=("$A1:$VTX_PORT" "$B1:$VTX_PORT")
pair_setup "$BOB"
vtx_start "$NS2" bob
vtx_start "$NS1" alice
wait_tunnel_up
pretty h1 "ping -q -i 0.02 -c 6000 $OVL4_PEER >ping.log &"
ip netns exec "$NS1" ping -q -i 0.02 -c 6000 -W 1 "$OVL4_PEER" >"$VTX_TMP/ping.log" 2>&1 &
PING=$!
track_pid "$PING"
# Both links alike so far: alice's endpoint is where her first dial went (link A, unless
# that dial raced bob's start). The delay goes on that link, X; the other is Y.
wait_until 10 bash -c "[[ \$('$VERTEX' -s '$VTX_TMP/alice.sock' peers --json | jq -r '.peers[0].udp_endpoints[0]') == *' in-use '* ]]" ||
	fail "alice has no UDP endpoint in use: $(vtx_ctl alice peers)"
if in_use alice "$A2"; then
	X=a X1=$A1 X2=$A2 Y=b Y1=$B1 Y2=$B2 XIF=ea YIF=eb
else
	X=b X1=$B1 X2=$B2 Y=a Y1=$A1 Y2=$A2 XIF=eb YIF=ea
fi
pass "alice sends over link $X ($X2), the other endpoint: $(peer_json alice '.udp_endpoints[1]')"

say "1. link $X 20 ms RTT, $Y none: traffic takes $Y"
delay "$X" 10 0
T0=$(date +%s%N)
wait_until 30 in_use alice "$Y2" || fail "alice does not choose link $Y: $(vtx_ctl alice peers)"
MS_A=$((($(date +%s%N) - T0) / 1000000))
wait_until 30 in_use bob "$Y1" || fail "bob does not choose link $Y: $(vtx_ctl bob peers)"
MS_B=$((($(date +%s%N) - T0) / 1000000))
RX0=$(rx "$XIF") RY0=$(rx "$YIF")
wait_until 10 bash -c "(( \$(ip netns exec $NS2 cat /sys/class/net/$YIF/statistics/rx_packets) - $RY0 >= 100 ))" ||
	fail "link $Y does not carry the traffic"
RX=$(($(rx "$XIF") - RX0)) RY=$(($(rx "$YIF") - RY0))
((RX * 5 < RY)) || fail "link $X carried $RX packets to bob while $Y carried $RY"
grep -q "peer $BOB: path udp $X2:$VTX_PORT -> udp $Y2:$VTX_PORT: lower rtt" "$VTX_TMP/alice.log" ||
	fail "alice's log does not say why she switched"
pass "both on link $Y: alice after $MS_A ms, bob after $MS_B ms (bob then received $RY packets on $Y, $RX on $X)"
vtx_ctl alice peers | sed -n '/udp endpoint/p;/udp switches/p'
grep "path udp [^ ]* -> udp [^ ]*: " "$VTX_TMP/alice.log" | tail -n 1

say "2. the delay moves to $Y: the path follows back to $X"
delay "$Y" 10 0
delay "$X" 0 0
T0=$(date +%s%N)
wait_until 30 in_use alice "$X2" || fail "alice stays on link $Y: $(vtx_ctl alice peers)"
MS_A=$((($(date +%s%N) - T0) / 1000000))
wait_until 30 in_use bob "$X1" || fail "bob stays on link $Y: $(vtx_ctl bob peers)"
MS_B=$((($(date +%s%N) - T0) / 1000000))
RX0=$(rx "$XIF") RY0=$(rx "$YIF")
wait_until 10 bash -c "(( \$(ip netns exec $NS2 cat /sys/class/net/$XIF/statistics/rx_packets) - $RX0 >= 100 ))" ||
	fail "link $X does not carry the traffic"
RX=$(($(rx "$XIF") - RX0)) RY=$(($(rx "$YIF") - RY0))
((RY * 5 < RX)) || fail "link $Y carried $RY packets to bob while $X carried $RX"
pass "both back on link $X: alice after $MS_A ms, bob after $MS_B ms (bob then received $RX on $X, $RY on $Y)"
grep "path udp [^ ]* -> udp [^ ]*: " "$VTX_TMP/bob.log" | tail -n 1

say "3. jitter at the switching point for 20 s: at most one switch each"
SW_A=$(switches alice) SW_B=$(switches bob)
delay "$X" 10 3
delay "$Y" 8 3
T0=$SECONDS
while ((SECONDS - T0 < 20)); do
	kill -0 "$PING" 2>/dev/null || fail "the ping traffic ended early"
	sleep 1
done
N_A=$(($(switches alice) - SW_A)) N_B=$(($(switches bob) - SW_B))
vtx_ctl alice peers | sed -n '/udp endpoint/p'
((N_A <= 1 && N_B <= 1)) || fail "flapping: alice switched $N_A times, bob $N_B times in 20 s"
pass "alice switched $N_A time(s), bob $N_B in 20 s of jitter"

stop_pid "$PING" INT
LOSS=$(grep -o '[0-9.]*% packet loss' "$VTX_TMP/ping.log") || fail "no ping summary: $(cat "$VTX_TMP/ping.log")"
[[ ${LOSS%%[.%]*} -lt 2 ]] || fail "the pings were lost: $(tail -n 3 "$VTX_TMP/ping.log")"
pass "ping traffic throughout: $(grep -o '[0-9]* packets transmitted.*loss' "$VTX_TMP/ping.log")"
say "4. the link in use is cut: both go over the other at once, never leaving UDP"
if in_use alice "$A2"; then
	Z=a ZNS=$NSA W2=$B2 W1=$B1
else
	Z=b ZNS=$NSB W2=$A2 W1=$A1
fi
delay a 0 0
delay b 0 0
ip netns exec "$NS1" ping -q -i 0.02 -c 1000 -W 1 "$OVL4_PEER" >"$VTX_TMP/ping2.log" 2>&1 &
PING2=$!
track_pid "$PING2"
wait_until 5 q1 ping -c 1 -W 1 "$OVL4_PEER" || fail "no ping before the cut"
ip -n "$ZNS" route replace blackhole default table 100
pretty "${ZNS##*-}" "ip route replace blackhole default table 100  # link $Z cut"
T0=$(date +%s%N)
wait_until 10 in_use alice "$W2" || fail "alice stays on the cut link: $(vtx_ctl alice peers)"
MS_A=$((($(date +%s%N) - T0) / 1000000))
wait_until 10 in_use bob "$W1" || fail "bob stays on the cut link: $(vtx_ctl bob peers)"
MS_B=$((($(date +%s%N) - T0) / 1000000))
for name in alice bob; do
	grep -q "stopped answering (.*); .* answers (rtt" "$VTX_TMP/$name.log" ||
		fail "$name did not fail over to the other endpoint: $(grep 'path ' "$VTX_TMP/$name.log" | tail -n 3)"
	! grep -q "udp path stopped answering" "$VTX_TMP/$name.log" ||
		fail "$name left UDP for the link: $(grep 'udp path' "$VTX_TMP/$name.log")"
done
check_ping n1 "$OVL4_PEER"
stop_pid "$PING2" INT
pass "link $Z cut: alice on the other after $MS_A ms, bob after $MS_B ms, UDP throughout (pings from the cut until both moved: $(grep -o '[0-9]* packets transmitted.*loss' "$VTX_TMP/ping2.log"))"
ip -n "$ZNS" route replace default dev dlyin table 100

[[ $(peer_json alice .handshakes) == 1 && $(peer_json bob .handshakes) == 1 ]] ||
	fail "a new handshake on the way"
vtx_finish
