#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Hairpinning on the NAT lab of lib_nat.sh: alice's router (apdf) hairpins UDP
# (nat_site_hairpin), bob's (apdf) is plain masquerade, which does not. carol is a second host
# on alice's LAN, her bridge port and alice's isolated (client isolation): the two reach each
# other only through the router.
#
#              srva 198.18.0.10 (a.example.com)      srvb 198.18.0.20 (b.example.com)
#                         \______________ br0 ______________/
#                         /                                  \
#             nata 198.18.0.201, apdf + hairpin        natb 198.18.0.202, apdf
#                 | lan0 (isolated ports)                   | lan0
#        alice 198.19.1.2    carol 198.19.1.3            bob 198.19.2.2
#
# 1. The lab's hairpin, with plain UDP sockets: alice reaches carol at carol's mapping on the
#    router (seen from alice's mapping), never at carol's own address (isolation); a socket of
#    alice's that sent to server A gets what another socket of hers sends to that mapping; on
#    bob's router that datagram never arrives (the control, from server B, does); the router
#    counts exactly the 2 it hairpinned.
# 2. vertex netcheck: alice `hairpin yes` (one probe sent), bob `hairpin no` (3 probes, none
#    back), in text, JSON and their logs; datagrams of the probe's type that are not the test's
#    (another nonce, too short, a reserved byte set) are counted, exactly, and change nothing.
# 3. Two agents behind one hairpinning NAT that cannot reach each other on the LAN: alice and
#    carol go direct at their server-reflexive candidates, through the hairpin (each at the
#    other's mapping on the router, `vertex ping` says so, pings counted by the router's
#    hairpin counter). Without the hairpin (the router's rules anew, the agents restarted) the
#    same two stay on the relay, and alice's netcheck says `hairpin no`.
# 4. No NAT: bob's router made public, bob's netcheck says `hairpin no NAT`, having sent nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"

vtx_require python3
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
nat_lab_up pass
CAROL_LAN_IP=198.19.1.3
nat_host_add nata carol "$CAROL_LAN_IP"
nat_host_isolate nata alice
nat_host_isolate nata carol
nat_site_hairpin nata on

# udp_sock NODE IP PORT OUT SECONDS DEST:PORT:PAYLOAD...: in the background, a socket of NODE's
# on IP:PORT sends each payload in turn, then writes a line "PAYLOAD SOURCE-IP:PORT" to OUT for
# every datagram it receives, until one says "control" or SECONDS pass. OUT exists once the
# payloads are sent.
udp_sock()
{
	local node=$1 pid
	ip netns exec "$(ns_for "$node")" python3 - "${@:2}" <<'PY' &
import socket, sys, time
ip, port, out, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, port))
for send in sys.argv[5:]:
    dst, dport, payload = send.split(":")
    s.sendto(payload.encode(), (dst, int(dport)))
end = time.monotonic() + secs
with open(out, "w", buffering=1) as f:
    while time.monotonic() < end:
        s.settimeout(max(end - time.monotonic(), 0.01))
        try:
            data, src = s.recvfrom(2048)
        except socket.timeout:
            break
        f.write("%s %s:%d\n" % (data.decode(errors="replace"), src[0], src[1]))
        if data == b"control":
            break
PY
	pid=$!
	track_pid "$pid"
	wait_until 5 test -e "$4" || fail "$node: no socket on $2:$3"
	UDP_SOCK_PID=$pid
}

# udp_send NODE SRC-IP SRC-PORT DST-IP DST-PORT PAYLOAD
udp_send()
{
	ip netns exec "$(ns_for "$1")" python3 - "${@:2}" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.sendto(sys.argv[5].encode(), (sys.argv[3], int(sys.argv[4])))
PY
}

got() # got OUT PAYLOAD: a datagram PAYLOAD arrived (its source printed)
{
	awk -v p="$2" '$1 == p { print $2; f = 1; exit } END { exit !f }' "$1"
}

say "1. the lab: alice's router hairpins (between two hosts, and to the same host), bob's does not"
# A socket sends to the server (the router maps it); another sends to that mapping.
udp_sock carol "$CAROL_LAN_IP" 6002 "$VTX_TMP/hp.carol" 5 "$SRVA_IP:7000:map"
P1=$UDP_SOCK_PID
udp_send alice "$ALICE_LAN_IP" 6003 "$CAROL_LAN_IP" 6002 lan
udp_send alice "$ALICE_LAN_IP" 6003 "$NATA_IP" 6002 hairpin
udp_send srva "$SRVA_IP" 7000 "$NATA_IP" 6002 control
wait_until 10 pid_is_gone "$P1" || fail "carol's socket never ends"
got "$VTX_TMP/hp.carol" control >/dev/null || fail "carol's control never came: $(cat "$VTX_TMP/hp.carol")"
SRC=$(got "$VTX_TMP/hp.carol" hairpin) || fail "nata does not hairpin: $(cat "$VTX_TMP/hp.carol")"
[[ $SRC == "$NATA_IP:6003" ]] || fail "alice's datagram reached carol from $SRC, not from alice's mapping"
! got "$VTX_TMP/hp.carol" lan >/dev/null || fail "alice reached carol on the LAN: not isolated"
pass "nata: alice reaches carol at her mapping $NATA_IP:6002 (seen from $SRC, alice's mapping), not at $CAROL_LAN_IP"
# The same from a host to its own mapping (what the agent's hairpin test does).
udp_sock alice "$ALICE_LAN_IP" 6001 "$VTX_TMP/hp.alice" 5 "$SRVA_IP:7000:map"
P1=$UDP_SOCK_PID
udp_send alice "$ALICE_LAN_IP" 6004 "$NATA_IP" 6001 hairpin
udp_send srva "$SRVA_IP" 7000 "$NATA_IP" 6001 control
wait_until 10 pid_is_gone "$P1" || fail "alice's socket never ends"
got "$VTX_TMP/hp.alice" control >/dev/null || fail "alice's control never came: $(cat "$VTX_TMP/hp.alice")"
SRC=$(got "$VTX_TMP/hp.alice" hairpin) || fail "nata does not hairpin to the same host: $(cat "$VTX_TMP/hp.alice")"
[[ $SRC == "$NATA_IP:6004" ]] || fail "alice's own datagram came back from $SRC, not from her other socket's mapping"
pass "nata: alice's datagram to her own mapping $NATA_IP:6001 from another of her sockets came back (from $SRC)"
udp_sock bob "$BOB_LAN_IP" 6001 "$VTX_TMP/hp.bob" 5 "$SRVB_IP:7000:map"
P1=$UDP_SOCK_PID
udp_send bob "$BOB_LAN_IP" 6004 "$NATB_IP" 6001 hairpin
udp_send srvb "$SRVB_IP" 7000 "$NATB_IP" 6001 control
wait_until 10 pid_is_gone "$P1" || fail "bob's socket never ends"
got "$VTX_TMP/hp.bob" control >/dev/null || fail "bob's control never came: $(cat "$VTX_TMP/hp.bob")"
! got "$VTX_TMP/hp.bob" hairpin >/dev/null || fail "natb hairpins: $(cat "$VTX_TMP/hp.bob")"
pass "natb: bob's datagram to his own mapping never arrives (the control, sent after, does)"
HP0=$(nat_hairpin_counter nata)
((HP0 == 2)) || fail "nata's hairpin counter says $HP0, not 2"
pass "nata hairpinned exactly the 2 datagrams of the probe"

say "2. netcheck: hairpin yes behind alice's router, no behind bob's"
rdv_alice_bob
hairpin_known() # hairpin_known NAME: the test is over
{
	local h
	h=$(vtx_ctl "$1" netcheck --json | jq -r .nat.hairpin)
	[[ $h != untested && $h != testing ]]
}
for n in alice bob; do
	wait_until 20 hairpin_known "$n" || fail "$n's hairpin test never ends: $(vtx_ctl "$n" netcheck)"
done
NA=$(vtx_ctl alice netcheck --json)
NB=$(vtx_ctl bob netcheck --json)
[[ $(jq -r .nat.hairpin <<<"$NA") == yes ]] || fail "alice: $NA"
[[ $(jq -r .nat.hairpin_sent <<<"$NA") == 1 ]] || fail "alice sent more than one probe: $NA"
[[ $(jq -r .nat.hairpin <<<"$NB") == no ]] || fail "bob: $NB"
[[ $(jq -r .nat.hairpin_sent <<<"$NB") == 3 ]] || fail "bob did not send 3 probes: $NB"
for n in alice bob; do
	[[ $(vtx_ctl "$n" netcheck --json | jq -r .nat.hairpin_dropped) == 0 ]] ||
		fail "$n dropped hairpin datagrams: $(vtx_ctl "$n" netcheck)"
done
vtx_ctl alice netcheck | grep -q '^hairpin  *yes$' || fail "alice's netcheck: $(vtx_ctl alice netcheck)"
vtx_ctl bob netcheck | grep -q '^hairpin  *no$' || fail "bob's netcheck: $(vtx_ctl bob netcheck)"
grep -q "direct: hairpin yes: a datagram to our public address $NATA_IP:4800 came back" \
	"$VTX_TMP/alice.log" || fail "alice's log does not say: $(grep hairpin "$VTX_TMP/alice.log")"
grep -q "direct: hairpin no: none of 3 datagram(s) to our public address $NATB_IP:4800" \
	"$VTX_TMP/bob.log" || fail "bob's log does not say: $(grep hairpin "$VTX_TMP/bob.log")"
pass "netcheck: alice $(vtx_ctl alice netcheck | grep '^hairpin' | tr -s ' '), bob $(vtx_ctl bob netcheck | grep '^hairpin' | tr -s ' ')"
# Datagrams of the type that are not the test's: another nonce, too short, a reserved byte set.
qn alice python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for d in (b"\x17\0\0\0" + bytes(range(1, 9)), b"\x17\0\0", b"\x17\1\0\0" + bytes(range(1, 9))):
    s.sendto(d, ("127.0.0.1", 4800))
PY
dropped_is() # dropped_is NAME N
{
	[[ $(vtx_ctl "$1" netcheck --json | jq -r .nat.hairpin_dropped) == "$2" ]]
}
wait_until 5 dropped_is alice 3 || fail "alice did not count 3 drops: $(vtx_ctl alice netcheck)"
[[ $(vtx_ctl alice netcheck --json | jq -r .nat.hairpin) == yes ]] || fail "the drops changed the result"
pass "3 hairpin datagrams not of the test: counted (hairpin_dropped 3), result unchanged"

say "3. alice and carol, isolated behind one router: direct through its hairpin, relay without"
CAROL=carol@$DOMAIN_A
enrolled carol carol "$CAROL"
lab_agent_config carol "$CAROL" fd00:5678:a2::/48
printf 'purpose ssh tcp/22\n' >>"$VTX_TMP/carol.conf"
# First without the hairpin: the relay, and alice's netcheck says no.
vtx_stop alice
mv "$VTX_TMP/alice.log" "$VTX_TMP/alice.1.log"
nat_site_hairpin nata off
lab_agent_start carol carol
wait_until 20 home_up carol || fail "carol's agent never connects to its server"
lab_agent_start alice alice
wait_until 20 home_up alice || fail "alice's agent never connects to its server"
rdv_ask_approve alice "$ALICE" carol "$CAROL" ssh
CAROL4=$(vtx_ctl alice resolve --address "$CAROL/ssh")
wait_until 20 qn alice ping -c 1 -W 1 "$CAROL4" || fail "no ping through the overlay"
for n in alice carol; do
	wait_until 30 grep -q "direct: no answer from the .* candidate(s) of .* in 10 s" "$VTX_TMP/$n.log" ||
		fail "$n's agent never ends its fast probing: $(grep direct: "$VTX_TMP/$n.log")"
done
path_is alice "$CAROL" relay || fail "alice is not on the relay: $(vtx_ctl alice peers)"
path_is carol "$ALICE" relay || fail "carol is not on the relay: $(vtx_ctl carol peers)"
wait_until 10 hairpin_known alice || fail "alice's hairpin test never ends"
[[ $(vtx_ctl alice netcheck --json | jq -r .nat.hairpin) == no ]] ||
	fail "alice's netcheck without the hairpin: $(vtx_ctl alice netcheck)"
[[ $(nat_hairpin_counter nata) == 0 ]] || fail "nata hairpinned without the hairpin"
pass "without the hairpin: alice and carol on the relay, alice's netcheck says hairpin no"
# Then with it: the agents again (the approval is in their state).
for n in alice carol; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
	mv "$VTX_TMP/$n.log" "$VTX_TMP/$n.2.log"
done
nat_site_hairpin nata on
lab_agent_start carol carol
wait_until 20 home_up carol || fail "carol's agent never connects to its server"
lab_agent_start alice alice
wait_until 20 home_up alice || fail "alice's agent never connects to its server"
T0=$EPOCHREALTIME
wait_until 20 path_is alice "$CAROL" udp || fail "alice never goes direct: $(vtx_ctl alice peers)"
wait_until 20 path_is carol "$ALICE" udp || fail "carol never goes direct: $(vtx_ctl carol peers)"
T1=$EPOCHREALTIME
RA=$(vtx_ctl alice netcheck --json | jq -r .nat.reflexive)
RC=$(vtx_ctl carol netcheck --json | jq -r .nat.reflexive)
[[ $RA == "$NATA_IP:"* && $RC == "$NATA_IP:"* && $RA != "$RC" ]] || fail "reflexive: alice $RA, carol $RC"
EA=$(peer_field alice "$CAROL" endpoint)
EC=$(peer_field carol "$ALICE" endpoint)
[[ $EA == "$RC" && $EC == "$RA" ]] ||
	fail "alice -> $EA (want carol's mapping $RC), carol -> $EC (want alice's mapping $RA)"
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$CAROL" -c 1 -W 2) || fail "vertex ping: $OUT"
[[ $(grep reply <<<"$OUT") == *"via direct udp $RC" ]] || fail "vertex ping said: $OUT"
BEFORE=$(nat_hairpin_counter nata)
check_ping on_alice "$CAROL4"
GOT=$(($(nat_hairpin_counter nata) - BEFORE))
((GOT >= 10)) || fail "only $GOT packets went through the hairpin for 5 pings"
[[ $(vtx_ctl carol netcheck --json | jq -r .nat.hairpin) == yes ]] || fail "carol's netcheck: $(vtx_ctl carol netcheck)"
MS=$(((${T1/./} - ${T0/./}) / 1000))
pass "through the hairpin: alice -> $EA, carol -> $EC, direct ${MS} ms after both at home; $(grep reply <<<"$OUT"); $GOT packets hairpinned for 5 pings"

say "4. no NAT: bob's router public"
vtx_stop bob
mv "$VTX_TMP/bob.log" "$VTX_TMP/bob.1.log"
nat_site_kind natb public
lab_agent_start bob bob
wait_until 20 home_up bob || fail "bob's agent never connects to its server"
wait_until 20 hairpin_known bob || fail "bob's hairpin test never ends: $(vtx_ctl bob netcheck)"
NB=$(vtx_ctl bob netcheck --json)
[[ $(jq -r .nat.hairpin <<<"$NB") == "no NAT" && $(jq -r .nat.reflexive <<<"$NB") == "$BOB_LAN_IP:4800" ]] ||
	fail "bob behind no NAT: $NB"
[[ $(jq -r .nat.hairpin_sent <<<"$NB") == 0 ]] || fail "bob sent hairpin probes with no NAT: $NB"
pass "bob: $(vtx_ctl bob netcheck | grep '^hairpin' | tr -s ' '), no probe sent"

for n in alice bob carol; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
