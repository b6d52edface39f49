#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The peering between two domains' servers when it has nothing to carry, and when it is down
# (docs/rendezvous.md, "Idle peering links" and "Revocations across a peering that is down"),
# with rendezvous probes (tools/rdv_probe.c) on lib_domains.sh's lab:
#
#     srva 198.18.0.10 (a.example.com) ----[ sw: br0 ]---- srvb 198.18.0.20 (b.example.com)
#                                        /    |     \
#                          alice 198.18.0.101   |    bob 198.18.0.102
#                                        carol 198.18.0.103 (a)
#
# Both servers run with --peering-idle 10s.
# 1. alice asks bob, bob approves; carol too: both servers record both approvals.
# 2. Each server's link to the other closes after 10 s with nothing to carry (no keepalives
#    forever); alice's next frame opens a's link again and reaches bob.
# 3. a's server is stopped; bob revokes alice: b's server deletes its approval and keeps the
#    REVOKED (in its store) instead of dropping it with the failed attempt.
# 4. b's server is killed (SIGKILL) and started again: it finds the REVOKED it kept.
# 5. a's server comes back: b's server sends the REVOKED, a's deletes its approval (its relay
#    refuses alice's next frame to bob, counted), and b's deletes what it kept once a's server
#    answered the PING after it. Without the outbox a's server keeps the approval for ever.
# 6. `user del carol` on a's state directory while a's server runs: her approval is purged from
#    the store, a's server reloads its index within its 2 s poll, and its relay refuses bob's
#    next frame to carol (b's server, which still holds the approval, carries it that far).
# 7. At exit: the counters say so, and nothing waits.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_probe.sh"

vtx_require
RDV_PROBE=$VTX_BUILD/rdv_probe
[[ -x $VERTEX_SERVER && -x $RDV_PROBE ]] || fail "missing $VERTEX_SERVER or $RDV_PROBE"
domains_up
domain_node_add carol 198.18.0.103

IDLE=(--peering-idle 10s)
server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva "${IDLE[@]}"
server_start srvb "${IDLE[@]}"
enrolled alice alice "alice@$DOMAIN_A"
enrolled bob bob "bob@$DOMAIN_B"
enrolled carol carol "carol@$DOMAIN_A"
ALICE=alice@$DOMAIN_A BOB=bob@$DOMAIN_B CAROL=carol@$DOMAIN_A
probe_start alice alice "$DOMAIN_A"
probe_start bob bob "$DOMAIN_B"
probe_start carol carol "$DOMAIN_A"

log_has() # log_has NODE REGEX
{
	grep -Eq -- "$2" "$VTX_TMP/$1.log"
}

log_count() # log_count NODE REGEX
{
	grep -Ec -- "$2" "$VTX_TMP/$1.log" || true
}

say "1. alice asks bob, bob approves"
probe_send alice "contact me $BOB ssh 60 1001"
expect_line 40 bob "^contact id=1001 from=$ALICE to=$BOB purpose=ssh ttl=60 fpr=" "alice's request"
probe_send bob "answer me $ALICE ssh approved 6 22 1001"
expect_line 10 alice "^answer id=1001 from=$BOB to=$ALICE purpose=ssh verdict=approved proto=6 port=22\$" "the approval"
log_has srva "approval recorded: $ALICE may reach $BOB/ssh" || fail "a's server did not record it"
log_has srvb "approval recorded: $ALICE may reach $BOB/ssh" || fail "b's server did not record it"
probe_send carol "contact me $BOB ssh 60 1002"
expect_line 40 bob "^contact id=1002 from=$CAROL to=$BOB purpose=ssh ttl=60 fpr=" "carol's request"
probe_send bob "answer me $CAROL ssh approved 6 22 1002"
expect_line 10 carol "^answer id=1002 from=$BOB to=$CAROL purpose=ssh verdict=approved proto=6 port=22\$" "the approval"
log_has srva "approval recorded: $CAROL may reach $BOB/ssh" || fail "a's server did not record carol's"
log_has srvb "approval recorded: $CAROL may reach $BOB/ssh" || fail "b's server did not record carol's"
pass "both servers recorded both approvals"

say "2. idle links close after 10 s; the next record opens one again"
IDLE_RE="closed: idle for [0-9]+ s, nothing to carry"
wait_until 40 log_has srva "peering with $DOMAIN_B: $IDLE_RE" ||
	fail "a's link to b was not closed when idle: $(grep peering "$VTX_TMP/srva.log" | tail -3)"
wait_until 40 log_has srvb "peering with $DOMAIN_A: $IDLE_RE" ||
	fail "b's link to a was not closed when idle: $(grep peering "$VTX_TMP/srvb.log" | tail -3)"
secs=$(grep -Eo "peering with $DOMAIN_B: closed: idle for [0-9]+" "$VTX_TMP/srva.log" | head -1 | grep -Eo '[0-9]+$')
((secs >= 10 && secs <= 15)) || fail "a's link closed after $secs s idle, not 10 to 15"
pass "both links closed once idle ($secs s)"
ups=$(log_count srva "peering with $DOMAIN_B: up")
f1=$(hexof 600)
probe_send alice "frame me $BOB $f1"
expect_line 20 bob "^frame from=$ALICE to=$BOB data=$f1\$" "alice's frame over the reopened link"
(($(log_count srva "peering with $DOMAIN_B: up") == ups + 1)) ||
	fail "a's server did not open its link to b again for the frame"
pass "the frame opened a's link to b again and reached bob"

say "3. a's server down; bob revokes alice: b's server keeps the REVOKED"
probe_stop alice
probe_stop carol
server_stop srva
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server a exited with status $VTX_LAST_RC"
probe_send bob "answer me $ALICE - revoked 0 0 0"
probe_sync bob
log_has srvb "$BOB revoked every purpose for $ALICE: 1 approval\(s\) deleted" ||
	fail "b's server did not delete its own approval"
wait_until 10 log_has srvb "peering with $DOMAIN_A: not up; the revocation of $ALICE by $BOB is kept until it is \(1 waiting\)" ||
	fail "b's server did not keep the revocation: $(grep peering "$VTX_TMP/srvb.log" | tail -3)"
wait_until 10 log_has srvb "peering with $DOMAIN_A: .*; 0 record\(s\) not sent, 1 revocation\(s\) kept; next attempt in" ||
	fail "b's server made no attempt to reach a's: $(grep peering "$VTX_TMP/srvb.log" | tail -3)"
pass "b's server applied it, kept it, and keeps trying a's server"

say "4. kill -9 b's server, start it again: the REVOKED is still kept"
probe_stop bob
stop_pid "${VTX_SERVER_PID[srvb]}" KILL
server_start srvb "${IDLE[@]}"
log_has srvb "rendezvous of $DOMAIN_B: 1 revocation\(s\) for other domains kept from before; sending them" ||
	fail "b's server lost the kept revocation: $(grep rendezvous "$VTX_TMP/srvb.log" | tail -3)"
pass "b's server found it at start"

say "5. a's server back: b's delivers the REVOKED; a's relay refuses the pair"
log_has srva "$BOB revoked every purpose for $ALICE" && fail "a's server heard of it while it was down?"
server_start srva "${IDLE[@]}"
log_has srva "rendezvous of $DOMAIN_A: 2 approval\(s\) loaded" || fail "a's server lost its approvals"
wait_until 60 log_has srva "$BOB revoked every purpose for $ALICE: 1 approval\(s\) deleted" ||
	fail "a's server never got the revocation: $(grep -E 'peering|revoked' "$VTX_TMP/srvb.log" | tail -4)"
wait_until 10 log_has srvb "peering with $DOMAIN_A: 1 revocation\(s\) delivered" ||
	fail "b's server did not see it acknowledged: $(grep peering "$VTX_TMP/srvb.log" | tail -3)"
log_has srvb "peering with $DOMAIN_A: sent 1 revocation\(s\) kept while it was down" ||
	fail "b's server did not say it sent the kept one"
pass "the revocation reached a's server once it was back, and was acknowledged"
probe_start alice alice "$DOMAIN_A"
probe_send alice "frame me $BOB 0badf00d"
probe_sync alice
wait_until 5 log_has srva "relay: refused relay_frame from $ALICE to $BOB: no approval between them" ||
	fail "a's server relayed after the revocation: $(grep relay "$VTX_TMP/srva.log" | tail -3)"
pass "a's relay refuses alice's frame to bob, counted"

say "6. user del carol while a's server runs: her approval goes, from its relay too"
OUT=$(server_admin srva user del carol) || fail "user del carol: $OUT"
[[ $OUT == "deleted carol; 1 certificate(s) revoked, 1 approval(s) purged" ]] || fail "user del printed: $OUT"
wait_until 10 log_has srva "approvals .*: reloaded, 0 approval\(s\): an account was deleted" ||
	fail "a's server did not reload its approvals: $(grep approvals "$VTX_TMP/srva.log" | tail -3)"
probe_start bob bob "$DOMAIN_B"
probe_send bob "frame me $CAROL 0badcafe"
probe_sync bob
wait_until 20 log_has srva "relay: refused relay_frame from $BOB to $CAROL: no approval between them" ||
	fail "a's server relayed to the deleted carol: $(grep -E 'relay|peering' "$VTX_TMP/srva.log" | tail -3)"
pass "carol's approval purged; a's relay refuses bob's frame to her"

say "7. at exit: counters, and nothing left waiting"
probe_stop alice
probe_stop bob
server_stop srva
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server a exited with status $VTX_LAST_RC"
server_stop srvb
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server b exited with status $VTX_LAST_RC"
LINE=$(grep "peering of $DOMAIN_B at exit" "$VTX_TMP/srvb.log" | tail -1)
[[ $LINE == *"revocations for other domains: 0 kept, 1 delivered, 0 not kept, 0 waiting"* ]] ||
	fail "b's counters at exit (its second run): $LINE"
pass "b's server: ${LINE#*vertex-server: }"
LINE=$(grep "peering of $DOMAIN_A at exit" "$VTX_TMP/srva.log" | head -1)
[[ $LINE =~ :\ ([1-9][0-9]*)\ idle\ links\ closed ]] || fail "a's counters at exit (its first run): $LINE"
pass "a's server: ${LINE#*vertex-server: }"
pass "$VTX_SCENARIO"
