#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Failover under a running transfer, on the NAT lab of lib_nat.sh (both routers pass UDP):
# alice and bob go direct as in direct_upgrade.sh, then alice sends 48 MiB to bob's sshd,
# paced to last several seconds. Mid-way bob's router starts dropping the UDP between the
# sites: the agents' probes (path/path.h) go unanswered, and both sides move to the relay
# within about a second and a half, long before the dead-peer interval; the transfer goes on
# there. The rule is lifted: two probes answered in a row and the direct path is back. The data
# arrives intact (sha256 on both ends), with the same handshake throughout.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
nat_lab_up pass

MIB=48
rdv_alice_bob_direct
sshd_start "$(ns_for bob)"
check_ssh on_alice "$BOB4"
pass "direct, ssh works"

say "1. a paced transfer; bob's router drops the UDP between the sites mid-way"
head -c "${MIB}M" /dev/urandom >"$VTX_TMP/blob"
WANT=$(sha256sum <"$VTX_TMP/blob" | cut -d' ' -f1)
ssh_opts
# 1 MiB every 0.15 s: about 7 s in all, on any path.
(
	for ((i = 0; i < MIB; i++)); do
		dd if="$VTX_TMP/blob" bs=1M skip="$i" count=1 status=none
		sleep 0.15
	done | on_alice ssh "${SSH_OPTS[@]}" "root@$BOB4" sha256sum >"$VTX_TMP/got"
) &
XFER=$!
track_pid "$XFER"
wait_until 10 bash -c "(( \$(jq -r '.peers[0].tx_bytes' <<<\"\$('$VERTEX' -s '$VTX_TMP/alice.sock' peers --json)\") > 8 * 1048576 ))" ||
	fail "the transfer does not start"
qn natb nft -f - <<NFT
table ip vtxcut {
	chain cut {
		type filter hook forward priority -10; policy accept;
		meta l4proto udp ip saddr $NATA_IP drop
		meta l4proto udp ip daddr $NATA_IP drop
	}
}
NFT
T_CUT=$(date +%s%N)
wait_until 5 path_is alice "$BOB" relay || fail "alice stays on the dead path: $(vtx_ctl alice peers)"
MS_A=$((($(date +%s%N) - T_CUT) / 1000000))
wait_until 5 path_is bob "$ALICE" relay || fail "bob stays on the dead path: $(vtx_ctl bob peers)"
MS_B=$((($(date +%s%N) - T_CUT) / 1000000))
grep -q "peer $BOB: udp path stopped answering" "$VTX_TMP/alice.log" ||
	fail "alice's log does not say why she left the direct path"
kill -0 "$XFER" 2>/dev/null || fail "the transfer ended before the cut was noticed: pace it slower"
pass "both on the relay (alice after $MS_A ms, bob after $MS_B ms) while the transfer runs"

say "2. the rule lifted: back to direct; the transfer completes intact"
qn natb nft delete table ip vtxcut
T_UP=$(date +%s%N)
wait_until 10 path_is alice "$BOB" udp || fail "alice never goes direct again: $(vtx_ctl alice peers)"
wait_until 10 path_is bob "$ALICE" udp || fail "bob never goes direct again: $(vtx_ctl bob peers)"
pass "direct again after $((($(date +%s%N) - T_UP) / 1000000)) ms"
wait_until 60 pid_is_gone "$XFER" || fail "the transfer never ends"
wait "$XFER" || fail "the transfer failed"
GOT=$(cut -d' ' -f1 <"$VTX_TMP/got")
[[ $GOT == "$WANT" ]] || fail "bob received sha256 $GOT, alice sent $WANT"
[[ $(peer_field alice "$BOB" handshakes) == "$HS_A" && $(peer_field bob "$ALICE" handshakes) == "$HS_B" ]] ||
	fail "a new handshake was needed"
(($(peer_field alice "$BOB" udp_failovers) >= 1)) || fail "alice counts no failover"
pass "$MIB MiB arrived intact (sha256 $WANT), same handshake; alice: $(vtx_ctl alice peers | grep 'udp probes' | tr -s ' ')"

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
