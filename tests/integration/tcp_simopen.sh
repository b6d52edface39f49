#!/bin/bash
# SPDX-License-Identifier: MIT
#
# TCP simultaneous open between two NATs that both let in only answers and block UDP, on the
# NAT lab of lib_nat.sh (docs/direct-paths.md, "TCP simultaneous open").
#
#                      dns 198.18.0.53   srva .10   srvb .20
#                                 \          |         /
#                                  ---------[ sw: br0 ]---------
#                                    /                   \
#          nata 198.18.0.201                               natb 198.18.0.202
#          udp-blocked: masquerade (ports kept),           udp-blocked, as nata
#          new inbound dropped, every UDP datagram
#          dropped (DNS aside); part 3: symmetric
#          (masquerade random: a random port per flow);
#          part 4: apdf (UDP passes)
#                      |  198.19.1.0/24                          |  198.19.2.0/24
#                 alice 198.19.1.2                          bob 198.19.2.2
#
# 1. The behaviours, proved first: no UDP leaves either site; a TCP SYN from the public LAN to
#    either router's port 4800 reaches nobody (counted in alice's and bob's namespaces).
# 2. Each agent dials its home server from its peer port (4800), the server tells it where the
#    connection came from (CTL_OBSERVED): the router's address and port 4800 (its NAT keeps
#    ports), offered as `simopen ROUTER:4800/tcp`; neither has a reflexive UDP address. alice
#    asks, bob approves: the relay first; then both connect from 4800 to the other router's
#    4800 at once (both logs say so), alice (whose identity sorts first) the TLS client; the
#    session moves to that link with a new handshake (each log: `we dialed`). `vertex ping`
#    says `via direct tcp 198.18.0.202:4800`, pings and 4 MiB each way over ssh (equal
#    sha256) cross natb directly. The time from the approval to both on it is printed. Then
#    alice (the TLS client) rekeys after 30 s, over the relay as every rekey goes; the offers
#    of the new session bring a second simultaneous open and the link back (handshake #4).
# 3. nata made symmetric (a random port per flow; its UDP passes): alice's home connection now
#    leaves from a random port, so she offers no simopen candidate, bob (udp-blocked) still
#    does; after the approval (kept in the agents' state) no simultaneous open is tried, the
#    session stays on the relay through the fast phase of probing, and pings work over it.
# 4. nata plain apdf (UDP passes there, its reflexive address known), natb still udp-blocked:
#    UDP cannot work (bob's is blocked), both offer simopen candidates: the simultaneous open
#    at once, direct TCP, `vertex ping` and pings across natb.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
NATA_KIND=udp-blocked NATB_KIND=udp-blocked nat_lab_up

ALICE=alice@$DOMAIN_A
BOB=bob@$DOMAIN_B
server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva
server_start srvb
enrolled alice alice "$ALICE"
enrolled bob bob "$BOB"
# A rekey within the run: alice (the TLS client) dials it over the relay, as for any session.
VTX_REKEY_SEC=30 lab_agent_config alice "$ALICE" fd00:5678:a1::/48
VTX_REKEY_SEC=30 lab_agent_config bob "$BOB" fd00:5678:b1::/48
printf 'purpose ssh tcp/22\n' >>"$VTX_TMP/bob.conf"

# New TCP connections to the peer port from srvb's host, counted in alice's and bob's
# namespaces, before their agents' sockets.
for h in alice bob; do
	qn "$h" nft -f - <<EOF
table ip vtxprobe {
	counter syn { }
	chain input {
		type filter hook input priority -10; policy accept;
		ip saddr $SRVB_IP tcp dport 4800 tcp flags syn counter name syn
	}
}
EOF
done
syns() # syns HOST
{
	qn "$1" nft list counter ip vtxprobe syn | awk '/packets/ { print $2; exit }'
}
knock() # knock ADDRESS: one TCP connection attempt from srvb's host to ADDRESS:4800
{
	qn srvb timeout 2 bash -c "echo knock >/dev/tcp/$1/4800" 2>/dev/null || true
}
qn srva nft -f - <<EOF
table ip vtxprobe {
	counter udp_in { }
	chain input {
		type filter hook input priority -10; policy accept;
		ip saddr { $NATA_IP, $NATB_IP } udp dport 9999 counter name udp_in
	}
}
EOF
udp_in()
{
	qn srva nft list counter ip vtxprobe udp_in | awk '/packets/ { print $2; exit }'
}
netcheck_has() # netcheck_has NAME CANDIDATE
{
	vtx_ctl "$1" netcheck --json | jq -e --arg c "$2" '.candidates | index($c)' >/dev/null
}
simopen_tries() # simopen_tries NAME: the simultaneous opens its log says it made
{
	grep -c "a TCP simultaneous open with" "$VTX_TMP/$1.log" || true
}

say "1. the routers' behaviours"
for h in alice bob; do
	qn "$h" bash -c "echo probe >/dev/udp/$SRVA_IP/9999"
done
qn alice bash -c "echo probe >/dev/tcp/$SRVA_IP/4801" || fail "alice cannot open TCP to server A"
qn bob bash -c "echo probe >/dev/tcp/$SRVA_IP/4801" || fail "bob cannot open TCP to server A"
knock "$NATA_IP"
knock "$NATB_IP"
# What is tested is that nothing comes: the TCP controls went out and back after the
# datagrams, through the same routers, and the knocks' two seconds are over.
[[ $(udp_in) == 0 ]] || fail "$(udp_in) datagram(s) left a udp-blocked site"
[[ $(syns alice) == 0 ]] || fail "nata let in $(syns alice) TCP connection(s) nobody asked for"
[[ $(syns bob) == 0 ]] || fail "natb let in $(syns bob) TCP connection(s) nobody asked for"
pass "no UDP leaves either site (2 datagrams, 0 arrive), neither router lets in unasked TCP"

lab_agent_start alice alice
lab_agent_start bob bob
wait_until 20 home_up alice || fail "alice's agent never connects to its server"
wait_until 20 home_up bob || fail "bob's agent never connects to its server"

say "2. both sides offer their router's mapping of port 4800; a simultaneous open after approval"
wait_until 10 netcheck_has alice "simopen $NATA_IP:4800/tcp" ||
	fail "alice offers no simopen candidate: $(vtx_ctl alice netcheck); $(grep direct: "$VTX_TMP/alice.log")"
wait_until 10 netcheck_has bob "simopen $NATB_IP:4800/tcp" ||
	fail "bob offers no simopen candidate: $(vtx_ctl bob netcheck)"
grep -q "direct: our home server sees our connection from $NATA_IP:4800: our NAT keeps the peer port" \
	"$VTX_TMP/alice.log" || fail "alice's log: $(grep direct: "$VTX_TMP/alice.log")"
for h in alice bob; do
	vtx_ctl "$h" netcheck --json | jq -e '.candidates | map(select(startswith("srflx"))) | length == 0' \
		>/dev/null || fail "$h's UDP is blocked, yet it has a reflexive address: $(vtx_ctl "$h" netcheck)"
done
pass "alice offers simopen $NATA_IP:4800/tcp, bob simopen $NATB_IP:4800/tcp, no srflx"

vtx_ctl alice connect "$BOB/ssh" --wait 60 >"$VTX_TMP/connect.out" 2>&1 &
CONNECT_PID=$!
track_pid "$CONNECT_PID"
wait_until 20 bash -c "'$VERTEX' -s '$VTX_TMP/bob.sock' requests --json | jq -e '.incoming[0]'" ||
	fail "bob never sees the request"
T0=$(date +%s.%N)
vtx_ctl bob approve "$ALICE" ssh >/dev/null || fail "approve failed"
wait "$CONNECT_PID" || fail "connect: $(cat "$VTX_TMP/connect.out")"
wait_until 20 path_is alice "$BOB" tcp ||
	fail "alice never goes direct over TCP: $(vtx_ctl alice peers); $(grep direct: "$VTX_TMP/alice.log")"
wait_until 10 path_is bob "$ALICE" tcp ||
	fail "bob is not on a direct TCP path: $(vtx_ctl bob peers); $(grep direct: "$VTX_TMP/bob.log")"
T1=$(date +%s.%N)
APPROVE_TO_TCP=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f", b - a }')
grep -q "direct: no UDP path to $BOB: a TCP simultaneous open with $NATB_IP:4800 (try 1 of 3, we are the TLS client)" \
	"$VTX_TMP/alice.log" || fail "alice's log: $(grep direct: "$VTX_TMP/alice.log")"
grep -q "direct: no UDP path to $ALICE: a TCP simultaneous open with $NATA_IP:4800 (try 1 of 3, we are the TLS server)" \
	"$VTX_TMP/bob.log" || fail "bob's log: $(grep direct: "$VTX_TMP/bob.log")"
grep -q "peer $BOB ($NATB_IP:4800): session up, handshake #2, we dialed" "$VTX_TMP/alice.log" ||
	fail "alice's session did not move to the link: $(grep "peer $BOB" "$VTX_TMP/alice.log")"
grep -q "peer $ALICE ($NATA_IP:4800): session up, handshake #2, we dialed" "$VTX_TMP/bob.log" ||
	fail "bob's session did not move to the link: $(grep "peer $ALICE" "$VTX_TMP/bob.log")"
! grep -q "trying a direct link to its TCP candidate" "$VTX_TMP/alice.log" "$VTX_TMP/bob.log" ||
	fail "a plain TCP dial went first: $(grep 'trying a direct' "$VTX_TMP/alice.log" "$VTX_TMP/bob.log")"
tod() # tod NAME REGEX: the time of day (seconds) of NAME's first log line matching REGEX
{
	grep -m1 "$2" "$VTX_TMP/$1.log" | awk '{ split($1, t, ":"); print t[1] * 3600 + t[2] * 60 + t[3] }'
}
SKEW=$(awk -v a="$(tod alice "a TCP simultaneous open with")" -v b="$(tod bob "a TCP simultaneous open with")" \
	'BEGIN { d = b - a; if (d < 0) d = -d; printf "%.3f", d }')
pass "approval to both agents on the direct TCP path: $APPROVE_TO_TCP s (one simultaneous open each, started $SKEW s apart)"
# (bob's `vertex ping alice` would not be answered: alice offers bob no purpose, so her
# firewall lets nothing in from him; his path is asserted above.)
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $OUT"
grep -q "reply in .* ms via direct tcp $NATB_IP:4800" <<<"$OUT" || fail "vertex ping said: $OUT"
pass "vertex ping: $(grep reply <<<"$OUT")"
vtx_ctl alice peers --json | jq -e --arg id "$BOB" --arg c "simopen $NATB_IP:4800/tcp dialed (a direct link is up)" \
	'.peers[] | select(.identity == $id) | .candidates | index($c)' >/dev/null ||
	fail "vertex peers does not show the simultaneous open: $(vtx_ctl alice peers)"
BOB4=$(vtx_ctl alice resolve --address "$BOB/ssh")
BEFORE=$(nat_counter natb)
check_ping on_alice "$BOB4"
(($(nat_counter natb) >= BEFORE + 10)) || fail "pings did not cross bob's router directly"
sshd_start "$(ns_for bob)"
BEFORE=$(nat_counter natb)
check_bulk on_alice "$BOB4" 4
(($(nat_counter natb) >= BEFORE + 500)) ||
	fail "the transfer did not cross bob's router directly ($(($(nat_counter natb) - BEFORE)) packets)"
pass "4 MiB each way over the simultaneous-open link ($(($(nat_counter natb) - BEFORE)) packets at natb)"
path_is alice "$BOB" tcp || fail "alice left the direct TCP path: $(vtx_ctl alice peers)"
path_is bob "$ALICE" tcp || fail "bob left the direct TCP path: $(vtx_ctl bob peers)"
for h in alice bob; do
	(($(simopen_tries "$h") == 1)) || fail "$h made $(simopen_tries "$h") simultaneous opens, 1 expected"
done
pass "one simultaneous open each so far"

say "2b. alice rekeys over the relay (30 s): the offers that follow bring the direct link back"
wait_until 45 grep -q "peer $BOB (relay): session up, handshake #3, we dialed" "$VTX_TMP/alice.log" ||
	fail "no rekey over the relay: $(grep "peer $BOB" "$VTX_TMP/alice.log")"
wait_until 15 grep -q "peer $BOB ($NATB_IP:4800): session up, handshake #4, we dialed" "$VTX_TMP/alice.log" ||
	fail "the direct link does not come back after the rekey: $(grep -E "peer $BOB|direct:" "$VTX_TMP/alice.log")"
wait_until 10 path_is alice "$BOB" tcp || fail "alice is on $(peer_field alice "$BOB" path) after the rekey"
wait_until 10 path_is bob "$ALICE" tcp || fail "bob is on $(peer_field bob "$ALICE" path) after the rekey"
for h in alice bob; do
	(($(simopen_tries "$h") == 2)) || fail "$h made $(simopen_tries "$h") simultaneous opens, 2 expected"
done
check_ping on_alice "$BOB4"
ON_RELAY=$(awk -v a="$(tod alice "handshake #3, we dialed")" -v b="$(tod alice "handshake #4, we dialed")" \
	'BEGIN { printf "%.2f", b - a }')
pass "after the rekey: back on the direct TCP link with one more simultaneous open each (handshake #4, $ON_RELAY s after #3)"

say "3. nata picks a random port per flow: no simultaneous open, the relay carries"
for h in alice bob; do
	vtx_stop "$h"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $h exited with status $VTX_LAST_RC (it crashed?)"
	# The stopped agent's home connection waits in TIME_WAIT at its host (it closed first), so
	# a new one from port 4800 to the same server would have to leave from another port
	# for a minute (docs/direct-paths.md): the restart here is the test's, not the feature's.
	qn "$h" sysctl -qw net.ipv4.tcp_tw_reuse=1
	mv "$VTX_TMP/$h.log" "$VTX_TMP/$h.part2.log"
done
nat_site_kind nata symmetric
lab_agent_start alice alice
lab_agent_start bob bob
wait_until 20 home_up alice || fail "alice's agent never connects to its server again"
wait_until 20 home_up bob || fail "bob's agent never connects to its server again"
wait_until 10 netcheck_has bob "simopen $NATB_IP:4800/tcp" ||
	fail "bob offers no simopen candidate after his restart: $(vtx_ctl bob netcheck)"
wait_until 10 grep -q "direct: our home server sees our connection from $NATA_IP:" "$VTX_TMP/alice.log" ||
	fail "alice's server never says where her connection comes from: $(grep direct: "$VTX_TMP/alice.log")"
SEEN=$(grep -o "our home server sees our connection from $NATA_IP:[0-9]*" "$VTX_TMP/alice.log" | tail -n 1)
[[ ${SEEN##*:} != 4800 ]] || fail "the symmetric router kept port 4800: $SEEN"
! vtx_ctl alice netcheck --json | jq -e '.candidates | map(select(startswith("simopen"))) | length > 0' \
	>/dev/null || fail "alice offers a simopen candidate through a symmetric NAT: $(vtx_ctl alice netcheck)"
pass "alice's server sees ${SEEN##* } (a random port): no simopen candidate; bob still offers his"
wait_until 20 peer_is_up alice || fail "alice's session with bob does not come back"
# The fast phase of UDP probing ends (bob's UDP is blocked: alice's probes get no answer).
wait_until 20 grep -q "direct: no answer from the .* candidate(s) of $BOB in 10 s" "$VTX_TMP/alice.log" ||
	fail "alice's fast phase never ends: $(grep direct: "$VTX_TMP/alice.log")"
path_is alice "$BOB" relay || fail "alice is on $(peer_field alice "$BOB" path), expected relay"
path_is bob "$ALICE" relay || fail "bob is on $(peer_field bob "$ALICE" path), expected relay"
for h in alice bob; do
	(($(simopen_tries "$h") == 0)) || fail "$h tried a simultaneous open: $(grep simultaneous "$VTX_TMP/$h.log")"
done
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $OUT"
grep -q "reply in .* ms via relay" <<<"$OUT" || fail "vertex ping said: $OUT"
check_ping on_alice "$BOB4"
pass "symmetric / udp-blocked: no simultaneous open, $(grep reply <<<"$OUT")"

say "4. nata plain apdf (its UDP passes, bob's does not): the simultaneous open again"
for h in alice bob; do
	vtx_stop "$h"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $h exited with status $VTX_LAST_RC (it crashed?)"
	mv "$VTX_TMP/$h.log" "$VTX_TMP/$h.part3.log"
done
nat_site_kind nata apdf
lab_agent_start alice alice
lab_agent_start bob bob
wait_until 20 home_up alice || fail "alice's agent never connects to its server again"
wait_until 20 home_up bob || fail "bob's agent never connects to its server again"
wait_until 10 netcheck_has alice "simopen $NATA_IP:4800/tcp" ||
	fail "alice offers no simopen candidate behind apdf: $(vtx_ctl alice netcheck)"
wait_until 10 netcheck_has alice "srflx $NATA_IP:4800" ||
	fail "alice's UDP passes, yet she has no reflexive address: $(vtx_ctl alice netcheck)"
wait_until 20 path_is alice "$BOB" tcp ||
	fail "alice never goes direct over TCP: $(vtx_ctl alice peers); $(grep direct: "$VTX_TMP/alice.log")"
wait_until 10 path_is bob "$ALICE" tcp || fail "bob is not on a direct TCP path: $(vtx_ctl bob peers)"
for h in alice bob; do
	(($(simopen_tries "$h") == 1)) || fail "$h made $(simopen_tries "$h") simultaneous opens, 1 expected"
done
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $OUT"
grep -q "reply in .* ms via direct tcp $NATB_IP:4800" <<<"$OUT" || fail "vertex ping said: $OUT"
BEFORE=$(nat_counter natb)
check_ping on_alice "$BOB4"
(($(nat_counter natb) >= BEFORE + 10)) || fail "pings did not cross bob's router directly"
pass "apdf / udp-blocked: a simultaneous open at once (bob's UDP is blocked), $(grep reply <<<"$OUT")"

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO  (approval to direct TCP by simultaneous open: $APPROVE_TO_TCP s)"
