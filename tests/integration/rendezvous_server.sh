#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The servers' side of the rendezvous (docs/rendezvous.md), with probes that speak the records
# themselves (tools/rdv_probe.c, each with a real enrolled certificate): ask, approve, relay,
# and every refusal, across two domains whose servers never configured each other.
#
#                                 dns  198.18.0.53
#                                          |
#     srva 198.18.0.10  ---------------[ sw: br0 ]---------------  srvb 198.18.0.20
#     vertex-server a.example.com       /    |    \                 vertex-server b.example.com
#                   alice 198.18.0.101       |     bob 198.18.0.102
#                   (probe, alice@a)   carol 198.18.0.103           (probe, bob@b;
#                                      (probe, carol@a)              dave@b: an account, never
#                                                                    connected)
#
# 1. alice asks bob (his probe connected): bob receives CONTACT with alice's certificate
#    fingerprint as a's server verified it; a's server opened its peering connection to b's (a
#    first contact: b's CA fetched and pinned), and b's server verified server@a the same way.
# 2. bob approves: alice receives APPROVED with the protocol and port; RELAY_FRAME and RELAY both
#    ways arrive byte-identical.
# 3. unknown user -> unknown_user; dave (an account, not connected) -> offline; a domain whose
#    server does not run, and one not in DNS -> unreachable; a forged `from`
#    -> CTL_ERROR, counted; carol (never approved) sends a frame to bob: refused and counted at
#    a's server, bob receives nothing; an ANSWER matching nothing and a server's verdict from an
#    agent are refused; carol's 21 requests in a burst: the 21st gets `rate`.
# 4. kill -9 both servers, start them again: the approval is still there, the relay works at
#    once with no new request.
# 5. bob revokes: alice hears it, and the relay refuses the pair afterwards (counted).
# 6. b's server with --private: unknown and offline users answer `timeout` at the ttl.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_probe.sh"

vtx_require
RDV_PROBE=$VTX_BUILD/rdv_probe
[[ -x $VERTEX_SERVER && -x $RDV_PROBE ]] || fail "missing $VERTEX_SERVER or $RDV_PROBE"
domains_up
domain_node_add carol 198.18.0.103

server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva
server_start srvb
enrolled alice alice "alice@$DOMAIN_A"
enrolled bob bob "bob@$DOMAIN_B"
enrolled carol carol "carol@$DOMAIN_A"
pp server_admin srvb user add dave >/dev/null
ALICE=alice@$DOMAIN_A BOB=bob@$DOMAIN_B CAROL=carol@$DOMAIN_A DAVE=dave@$DOMAIN_B
NOBODY=nobody@$DOMAIN_B

probe_start alice alice "$DOMAIN_A"
probe_start bob bob "$DOMAIN_B"
probe_start carol carol "$DOMAIN_A"

say "1. alice asks bob: through a's server, peering, b's server"
probe_send alice "contact me $BOB ssh 60 1001"
expect_line 40 bob "^contact id=1001 from=$ALICE to=$BOB purpose=ssh ttl=60 fpr=" "alice's request"
seen=$(grep -m1 '^contact id=1001' "${PROBE_OUT[bob]}" | sed 's/.* fpr=//')
[[ $seen == "$(fpr_of alice)" ]] || fail "bob saw fingerprint $seen, alice's certificate is $(fpr_of alice)"
pass "bob sees alice's real certificate fingerprint $seen"
grep -q "peering with $DOMAIN_B: up" "$VTX_TMP/srva.log" || fail "a's server has no peering with b"
grep -q "server@$DOMAIN_A (.*): certificate of another domain verified" "$VTX_TMP/srvb.log" ||
	fail "b's server did not verify server@$DOMAIN_A"
pass "a's server peers with b's, each verified against the CA it pinned"
probe_send alice "contact me $BOB ssh 60 1001"
probe_sync alice
probe_sync bob
[[ $(probe_count bob '^contact id=1001') -eq 1 ]] || fail "a duplicate request was forwarded again"
pass "a duplicate while pending is merged, not forwarded"

say "2. bob approves; the relay carries frames and streams both ways"
probe_send bob "answer me $ALICE ssh approved 6 22 1001"
expect_line 10 alice "^answer id=1001 from=$BOB to=$ALICE purpose=ssh verdict=approved proto=6 port=22\$" "the approval (tcp/22)"
grep -q "approval recorded: $ALICE may reach $BOB/ssh" "$VTX_TMP/srva.log" || fail "a's server did not record it"
grep -q "approval recorded: $ALICE may reach $BOB/ssh" "$VTX_TMP/srvb.log" || fail "b's server did not record it"
pass "both servers recorded the approval"

relay_both_ways() # relay_both_ways TAG: a frame and a stream record each way, byte-identical
{
	local f1 f2 r1 r2
	f1=$(hexof 1200) f2=$(hexof 900) r1=$(hexof 4000) r2=$(hexof 3000)
	probe_send alice "frame me $BOB $f1"
	probe_send bob "frame me $ALICE $f2"
	probe_send alice "relay me $BOB 7 2 $r1"
	probe_send bob "relay me $ALICE 7 0 $r2"
	expect_line 10 bob "^frame from=$ALICE to=$BOB data=$f1\$" "alice's frame, byte-identical ($1)"
	expect_line 10 alice "^frame from=$BOB to=$ALICE data=$f2\$" "bob's frame, byte-identical ($1)"
	expect_line 10 bob "^relay from=$ALICE to=$BOB channel=7 flags=2 data=$r1\$" "alice's stream bytes ($1)"
	expect_line 10 alice "^relay from=$BOB to=$ALICE channel=7 flags=0 data=$r2\$" "bob's stream bytes ($1)"
}
relay_both_ways "approved"

say "3. refusals"
probe_send alice "contact me $NOBODY ssh 60 1002"
expect_line 10 alice "^answer id=1002 from=$NOBODY to=$ALICE purpose=ssh verdict=unknown_user" "unknown_user for $NOBODY"
probe_send alice "contact me $DAVE ssh 60 1003"
expect_line 10 alice "^answer id=1003 from=$DAVE to=$ALICE purpose=ssh verdict=offline" "offline for $DAVE"
probe_send alice "contact me erin@$DOMAIN_C ssh 60 1005"
probe_send alice "contact me frank@nowhere.example.com ssh 60 1006"
expect_line 40 alice "^answer id=1005 from=erin@$DOMAIN_C to=$ALICE purpose=ssh verdict=unreachable" \
	"unreachable for $DOMAIN_C (in DNS, no server running)"
expect_line 20 alice "^answer id=1006 from=frank@nowhere.example.com to=$ALICE purpose=ssh verdict=unreachable" \
	"unreachable for a domain not in DNS"
grep -q "peering with nowhere.example.com: .*; 1 record(s) not sent" "$VTX_TMP/srva.log" ||
	fail "a's server did not say why nowhere.example.com is unreachable"
probe_send alice "contact $CAROL $BOB ssh 60 1004"
expect_line 10 alice "^error protocol: .from. is not the connection's identity" "CTL_ERROR for a forged from"
grep -q "refused contact from $CAROL to $BOB (via $ALICE): .from. is not the connection's identity (1 so far)" \
	"$VTX_TMP/srva.log" || fail "a's server did not count the forged from: $(grep refused "$VTX_TMP/srva.log" | tail -3)"
probe_send carol "frame me $BOB cafe0001"
probe_send carol "relay me $BOB 9 2 cafe0002"
probe_sync carol
grep -q "relay: refused relay_frame from $CAROL to $BOB: no approval between them (1 so far)" "$VTX_TMP/srva.log" ||
	fail "a's server did not refuse carol's frame: $(grep relay "$VTX_TMP/srva.log" | tail -3)"
grep -q "relay: refused relay from $CAROL to $BOB: no approval between them (2 so far)" "$VTX_TMP/srva.log" ||
	fail "a's server did not refuse carol's stream record"
pass "carol's frame and stream record to bob refused and counted at a's server"
probe_send bob "answer me $ALICE ssh approved 6 22 4242"
expect_line 10 bob "^error protocol: this ANSWER matches no pending request" "a refusal of an ANSWER matching nothing"
probe_send bob "answer me $ALICE ssh offline 0 0 1001"
expect_line 10 bob "^error protocol: the verdict is the servers'" "a refusal of a server's verdict"
for i in $(seq 1 21); do
	printf 'contact me %s p%d 60 %d\n' "$NOBODY" "$i" $((2000 + i)) >&"${PROBE_FD[carol]}"
done
pretty carol "probe: 21 requests to $NOBODY in a burst"
carol_answers() { [[ $(probe_count carol 'verdict=(unknown_user|rate)') -eq $1 ]]; }
wait_until 15 carol_answers 21 ||
	fail "carol got $(probe_count carol 'verdict=') answers of 21"
[[ $(probe_count carol 'verdict=unknown_user') -eq 20 && $(probe_count carol 'verdict=rate') -eq 1 ]] ||
	fail "carol's burst: $(probe_count carol 'verdict=unknown_user') unknown_user, $(probe_count carol 'verdict=rate') rate (want 20 and 1)"
pass "a burst of 21 requests: 20 answered, the 21st refused with verdict rate"
probe_sync bob
[[ $(probe_count bob "from=$CAROL") -eq 0 ]] || fail "bob received something from carol: $(grep "from=$CAROL" "${PROBE_OUT[bob]}")"
pass "bob received nothing from carol"

say "4. kill -9 both servers: the approval survives"
for n in alice bob carol; do probe_stop "$n"; done
stop_pid "${VTX_SERVER_PID[srva]}" KILL
stop_pid "${VTX_SERVER_PID[srvb]}" KILL
pass "both servers killed (SIGKILL)"
server_start srva
server_start srvb
grep -q "rendezvous of $DOMAIN_A: 1 approval(s) loaded" "$VTX_TMP/srva.log" || fail "a's server lost the approval"
grep -q "rendezvous of $DOMAIN_B: 1 approval(s) loaded" "$VTX_TMP/srvb.log" || fail "b's server lost the approval"
probe_start alice alice "$DOMAIN_A"
probe_start bob bob "$DOMAIN_B"
relay_both_ways "after kill -9, no new request"

say "5. bob revokes: the relay refuses the pair"
probe_send bob "answer me $ALICE - revoked 0 0 0"
expect_line 10 alice "^answer id=0 from=$BOB to=$ALICE purpose= verdict=revoked" "the revocation"
grep -q "$BOB revoked every purpose for $ALICE: 1 approval(s) deleted" "$VTX_TMP/srva.log" ||
	fail "a's server did not delete the approval"
probe_send alice "frame me $BOB 0badf00d"
probe_sync alice
grep -q "relay: refused relay_frame from $ALICE to $BOB: no approval between them (1 so far)" "$VTX_TMP/srva.log" ||
	fail "a's server relayed after the revocation: $(grep relay "$VTX_TMP/srva.log" | tail -3)"
probe_sync bob
[[ $(probe_count bob "data=0badf00d") -eq 0 ]] || fail "bob received alice's frame after revoking"
pass "after REVOKED the frame is refused and counted; bob receives nothing"

say "6. --private: unknown and offline users time out at the ttl"
probe_stop bob
server_stop srvb
server_start srvb --private
t0=$SECONDS
probe_send alice "contact me $NOBODY ssh 3 3001"
probe_send alice "contact me $DAVE ssh 3 3002"
expect_line 15 alice "^answer id=3001 from=$NOBODY to=$ALICE purpose=ssh verdict=timeout" "timeout for $NOBODY"
expect_line 5 alice "^answer id=3002 from=$DAVE to=$ALICE purpose=ssh verdict=timeout" "timeout for $DAVE"
((SECONDS - t0 >= 2)) || fail "the private answers came after $((SECONDS - t0)) s, before the 3 s ttl"
probe_has alice "id=300[12].*verdict=(unknown_user|offline)" && fail "a private server told unknown/offline"
pass "with --private both look alike: timeout after the ttl ($((SECONDS - t0)) s)"

probe_stop alice
server_stop srva
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server a exited with status $VTX_LAST_RC"
server_stop srvb
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server b exited with status $VTX_LAST_RC"
grep -q "relay of $DOMAIN_A at exit: .*; 1 refused" "$VTX_TMP/srva.log" ||
	fail "a's counters at exit: $(grep "relay of $DOMAIN_A at exit" "$VTX_TMP/srva.log")"
pass "counters at exit: $(grep "relay of $DOMAIN_A at exit" "$VTX_TMP/srva.log" | tail -1 | cut -d' ' -f3-)"
pass "$VTX_SCENARIO"
