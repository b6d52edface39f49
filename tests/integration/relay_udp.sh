#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The relay's frames as UDP datagrams (docs/rendezvous.md, "The relay over UDP"), on the flat
# two-domain LAN of lib_domains.sh:
#
#     srva 198.18.0.10 (a.example.com) ----[ sw: br0 ]---- srvb 198.18.0.20 (b.example.com)
#                                         /    |     \
#                       alice 198.18.0.101   carol    bob 198.18.0.102
#                        (nft: only DNS,    .103      (the same filter)
#                        TCP and UDP to the servers' port 4801)
#
# 1. alice asks bob, bob approves. Their direct path is blocked (each host's nft filter passes
#    only DNS and the servers' port, TCP and UDP, and counts what it drops): the session runs
#    through the relay, and both agents' frames go over UDP to their server (`vertex peers`:
#    "relay via a.example.com b.example.com, udp to our server"; relay_transport udp), and
#    the two servers send them to each other as datagrams too (their logs say so).
# 2. 64 MiB up and down by ssh, byte-identical; the filter's UDP counter toward the server shows
#    the frames went as datagrams (the direct module's probes toward bob are dropped by it).
# 3. carol, on the LAN, replays datagrams of alice's captured on the bridge (wrong source
#    address), sends DATA with a ticket nobody has, and junk: a's server drops them all, counted
#    by reason (its log at exit); bob gets nothing more.
# 4. UDP to the servers is then blocked on alice's host: her agent sees its BIND unanswered and
#    falls back to the TLS relay (relay_transport tls) and 8 MiB still arrive intact.
# At the end, a's server's counts (logged at exit) show carol's datagrams, by reason.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_rdv.sh"

INJECT=$VTX_BUILD/udp_inject
vtx_require nft tcpdump
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
[[ -x $INJECT ]] || skip "udp_inject not built in $VTX_BUILD"
command -v jq >/dev/null || skip "missing tool: jq"
domains_up
domain_node_add carol 198.18.0.103

ALICE=alice@$DOMAIN_A
BOB=bob@$DOMAIN_B

on_alice()
{
	ip netns exec "$(ns_for alice)" "$@"
}

# filter NODE UDP-VERDICT: only DNS and the servers' port leave NODE's eth0; UDP to the servers
# passes (accept) or not (drop); counters: srvudp (to the servers), direct (everything dropped).
filter()
{
	qn "$1" nft delete table ip vtxru 2>/dev/null
	qn "$1" nft -f - <<NFT
table ip vtxru {
	counter srvudp { }
	counter direct { }
	chain out {
		type filter hook output priority 0; policy accept;
		oifname "eth0" ip daddr $DNS_IP accept
		oifname "eth0" ip daddr { $SRVA_IP, $SRVB_IP } tcp dport $SERVER_PORT accept
		oifname "eth0" ip daddr { $SRVA_IP, $SRVB_IP } udp dport { $SERVER_PORT, $((SERVER_PORT + 1)) } counter name srvudp $2
		oifname "eth0" counter name direct drop
	}
}
NFT
}

nft_count() # nft_count NODE COUNTER [bytes]: its packets (or bytes)
{
	qn "$1" nft -j list counter ip vtxru "$2" | jq -r ".nftables[1].counter.${3:-packets}"
}

relay_over() # relay_over NODE PEER TRANSPORT
{
	path_is "$1" "$2" relay && [[ $(peer_field "$1" "$2" relay_transport 2>/dev/null) == "$3" ]]
}

server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva
server_start srvb
enrolled alice alice "$ALICE"
enrolled bob bob "$BOB"
lab_agent_config alice "$ALICE" fd00:5678:a1::/48
lab_agent_config bob "$BOB" fd00:5678:b1::/48
printf 'purpose ssh tcp/22\n' >>"$VTX_TMP/bob.conf"
filter alice accept || fail "nft filter on alice"
filter bob accept || fail "nft filter on bob"
lab_agent_start alice alice
lab_agent_start bob bob
wait_until 20 home_up alice || fail "alice's agent never connects to its server"
wait_until 20 home_up bob || fail "bob's agent never connects to its server"

say "1. approved, no direct path: the relay carries the session, its frames over UDP"
rdv_ask_approve alice "$ALICE" bob "$BOB" ssh
BOB4=$(vtx_ctl alice resolve --address "$BOB/ssh")
wait_until 20 qn alice ping -c 1 -W 1 "$BOB4" ||
	fail "no overlay ping through the relay: $(vtx_ctl alice peers)"
wait_until 20 relay_over alice "$BOB" udp || fail "alice's relay is not udp: $(vtx_ctl alice peers)"
wait_until 20 relay_over bob "$ALICE" udp || fail "bob's relay is not udp: $(vtx_ctl bob peers)"
vtx_ctl alice peers | grep -q "relay via $DOMAIN_A $DOMAIN_B, udp to our server" ||
	fail "peers: $(vtx_ctl alice peers)"
check_ping on_alice "$BOB4"
pass "both agents relay over UDP to their servers: $(vtx_ctl alice peers | head -1)"
for s in "srva $DOMAIN_A $DOMAIN_B" "srvb $DOMAIN_B $DOMAIN_A"; do
	read -r node ours theirs <<<"$s"
	wait_until 10 grep -q "rendezvous of $ours: peering with $theirs: frames go over udp now" \
		"$VTX_TMP/$node.log" || fail "$node does not relay to $theirs's server over udp"
done
pass "and both servers relay to each other over UDP"

say "2. 64 MiB each way through the UDP relay"
sshd_start "$(ns_for bob)"
UDP0=$(nft_count alice srvudp bytes)
check_bulk on_alice "$BOB4" 64
UDP1=$(nft_count alice srvudp bytes)
# The upload's 64 MiB leave alice toward her server (with UDP GSO, the filter sees a run of
# datagrams as one packet: bytes are what it counts right).
((UDP1 - UDP0 > 64 * 1048576)) || fail "only $((UDP1 - UDP0)) bytes from alice to the servers over udp"
# The direct module's probes toward bob's candidates are what the filter drops: they never
# get through, and the relay stays the path.
relay_over alice "$BOB" udp || fail "alice left the udp relay: $(vtx_ctl alice peers)"
pass "$((UDP1 - UDP0)) bytes of datagrams from alice to her server; direct attempts dropped: alice $(nft_count alice direct), bob $(nft_count bob direct)"

say "3. carol's datagrams: replayed from her address, unknown tickets, junk: all dropped"
CAP=$VTX_TMP/alice-udp.pcap
ip netns exec "$(ns_for sw)" tcpdump -Z root -U -n -i br0 -c 50 -w "$CAP" \
	"udp and src host $ALICE_IP and dst host $SRVA_IP and dst port $SERVER_PORT" \
	>"$CAP.log" 2>&1 &
CAP_PID=$!
track_pid "$CAP_PID"
wait_until 10 grep -q 'listening on' "$CAP.log" || fail "tcpdump did not start"
qn alice ping -c 60 -i 0.05 -W 1 "$BOB4" >/dev/null
wait_until 10 pid_is_gone "$CAP_PID" || fail "tcpdump caught no 50 datagrams of alice's"
RX_BOB0=$(peer_field bob "$ALICE" rx_bytes)
OUT=$(qn carol "$INJECT" "$CAP" "$SRVA_IP" "$SERVER_PORT") || fail "udp_inject: $OUT"
[[ $OUT == "sent 50 skipped 0" ]] || fail "udp_inject: $OUT"
# The same with a byte of the ticket flipped (unknown tickets), then a reserved byte (malformed).
OUT=$(qn carol "$INJECT" -x 4 "$CAP" "$SRVA_IP" "$SERVER_PORT") || fail "udp_inject -x 4: $OUT"
OUT=$(qn carol "$INJECT" -x 1 "$CAP" "$SRVA_IP" "$SERVER_PORT") || fail "udp_inject -x 1: $OUT"
wait_until 5 grep -q "relay udp: dropped a datagram from 198.18.0.103" "$VTX_TMP/srva.log" ||
	fail "a's server does not say it dropped carol's datagrams"
RX_BOB1=$(peer_field bob "$ALICE" rx_bytes)
# bob's keepalives and whatever alice's ping left in flight may still arrive: not 50 frames.
((RX_BOB1 - RX_BOB0 < 5000)) || fail "bob received $((RX_BOB1 - RX_BOB0)) bytes meanwhile"
pass "carol's 150 datagrams dropped by a's server; bob received nothing of them"

say "4. UDP to the servers blocked: back to the TLS relay, and the transfer goes on"
filter alice drop || fail "nft filter on alice"
wait_until 10 relay_over alice "$BOB" tls ||
	fail "alice never falls back to tls: $(vtx_ctl alice peers)"
wait_until 5 grep -q "relay: the home server stopped answering over udp: frames go over tls" \
	"$VTX_TMP/alice.log" || fail "alice's log does not say it fell back"
check_bulk on_alice "$BOB4" 8
pass "after the fallback: 8 MiB each way over the TLS relay"

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server a exited with status $VTX_LAST_RC"
server_stop srvb
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server b exited with status $VTX_LAST_RC"
LINE=$(grep "relay udp at exit" "$VTX_TMP/srva.log") || fail "a's server logged no relay udp counts"
say "a's server: $LINE"
WRONG=$(sed -n 's/.* \([0-9]*\) wrong source.*/\1/p' <<<"$LINE")
UNKNOWN=$(sed -n 's/.* \([0-9]*\) unknown ticket.*/\1/p' <<<"$LINE")
MALFORMED=$(sed -n 's/.* \([0-9]*\) malformed.*/\1/p' <<<"$LINE")
REPLAYED=$(sed -n 's/.* \([0-9]*\) replayed.*/\1/p' <<<"$LINE")
# The 50 replayed ones are alice's frames (wrong source) and her BINDs (replayed), in a
# proportion that depends on how many BINDs (one each 500 ms) fell into the capture.
((WRONG + REPLAYED >= 50 && UNKNOWN >= 50 && MALFORMED >= 50)) ||
	fail "carol's datagrams not all counted: $LINE"
pass "a's server counted carol's: $WRONG from a wrong source, $UNKNOWN unknown tickets, $MALFORMED malformed"
assert_clean "$(ns_for alice)" "$(ns_for bob)"
pass "$VTX_SCENARIO"
