#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Two agents with static peers reach each other over the overlay: ping over IPv4 and IPv6 both
# ways with exact counts, ssh runs a command across, 64 MiB go up and come back intact, and the
# CLI shows the peer up with the bytes counted.
#
#   host1: alice@a.example.com                                 host2: bob@a.example.com
#   vtx0 100.64.0.1, fd00:5678:1::1                            vtx0 100.64.0.1, fd00:5678:2::1
#   (bob = 100.64.0.2, fd00:5678:1::2)                         (alice = 100.64.0.2, fd00:5678:2::2)
#   eth0 198.18.1.1 ------ r1 [router] r2 ------ eth0 198.18.2.1   (sshd on host2)
#        fd00:198:18:1::1                            fd00:198:18:2::1
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

vtx_require ssh ssh-keygen sha256sum
topo_up
pair_setup "$BOB"
vtx_start "$NS1" alice
vtx_start "$NS2" bob
wait_tunnel_up

# Once up, the daemon keeps CAP_NET_ADMIN (bit 12) and nothing else, and cannot regain more.
for name in alice bob; do
	st=/proc/${VTX_DAEMON_PID[$name]}/status
	caps=$(awk '/^CapEff:/ { print $2 }' "$st")
	[[ $caps == 0000000000001000 ]] || fail "vertexd $name runs with capabilities $caps"
	grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" || fail "vertexd $name lacks no_new_privs"
done
pass "both daemons run with CAP_NET_ADMIN only, no_new_privs set"

check_ping n1 "$OVL4_PEER"
check_ping n2 "$OVL4_PEER"
check_ping n1 "$H1_OVL6_PEER"
check_ping n2 "$H2_OVL6_PEER"

sshd_start "$NS2"
check_ssh n1 "$OVL4_PEER"
check_ssh n1 "$H1_OVL6_PEER"
check_bulk n1 "$OVL4_PEER" 64

# The CLI: own addresses, the peer up, and both directions counted (64 MiB each way at least).
status=$(vtx_ctl alice status --json)
say "alice status: $status"
[[ $(jq -r .interface <<<"$status") == vtx0 ]] || fail "status: interface is not vtx0"
[[ $(jq -r .overlay4 <<<"$status") == "$OVL4_SELF" ]] || fail "status: overlay4 is not $OVL4_SELF"
[[ $(jq -r .overlay6 <<<"$status") == "$H1_OVL6_SELF" ]] || fail "status: overlay6 not $H1_OVL6_SELF"
[[ $(jq -r '"\(.peers) \(.peers_up)"' <<<"$status") == "1 1" ]] || fail "status: want 1 peer, 1 up"
n1 "$VERTEX" -s "$VTX_TMP/alice.sock" status
n1 "$VERTEX" -s "$VTX_TMP/alice.sock" peers
mib64=$((64 * 1024 * 1024))
for name in alice bob; do
	peer=$(vtx_ctl "$name" peers --json | jq -c '.peers[0]')
	say "$name peers: $peer"
	[[ $(jq -r .state <<<"$peer") == up ]] || fail "$name: peer not up"
	[[ $(jq -r .overlay4 <<<"$peer") == "$OVL4_PEER" ]] || fail "$name: peer overlay4 not $OVL4_PEER"
	jq -e --argjson m "$mib64" '.rx_bytes > $m and .tx_bytes > $m' <<<"$peer" >/dev/null ||
		fail "$name: rx/tx bytes not both above 64 MiB"
	jq -e '.last_handshake > 0 and .handshakes >= 1' <<<"$peer" >/dev/null ||
		fail "$name: no handshake recorded"
	pass "$name sees its peer up with > 64 MiB each way"
done
# TUN offloads (docs/performance.md), on unless VERTEX_TUN_OFFLOAD=0: with them, each side
# read the bulk transfer as super-packets and cut them into frames, and wrote what it received
# coalesced, no segment refused for its checksum; without them, none of these counters exist.
for name in alice bob; do
	st=$(vtx_ctl "$name" status --json)
	if [[ ${VERTEX_TUN_OFFLOAD:-} == 0 ]]; then
		jq -e '.tun_offload == "off" and (has("tun_super_read") | not)' <<<"$st" >/dev/null ||
			fail "$name: TUN offloads not off: $st"
		pass "$name: TUN offloads off, as VERTEX_TUN_OFFLOAD=0 asks"
		continue
	fi
	jq -e '.tun_offload == "on" and .tun_super_read > 0 and
		.tun_frames_cut > .tun_super_read and .tun_super_written > 0 and
		.tun_frames_merged > .tun_super_written and .tun_bad_csum == 0' <<<"$st" >/dev/null ||
		fail "$name: TUN offloads not used: $st"
	pass "$name: $(jq -r '"\(.tun_super_read) super-packets read (\(.tun_frames_cut) frames),
\(.tun_super_written) written (\(.tun_frames_merged) segments)"' <<<"$st" | tr '\n' ' ')"
done
# AEAD workers (docs/performance.md, "More than one core"), none unless VERTEX_WORKERS=N: with
# them, the bulk transfer was sealed and opened on the workers (well over 64 MiB of 1,420-byte
# frames each way, so more than 45,000 jobs), and the sha256 checks above held.
for name in alice bob; do
	st=$(vtx_ctl "$name" status --json)
	if [[ ${VERTEX_WORKERS:-0} == 0 ]]; then
		jq -e '.crypto_workers == 0 and (has("crypto_jobs") | not)' <<<"$st" >/dev/null ||
			fail "$name: AEAD workers on without VERTEX_WORKERS: $st"
		continue
	fi
	jq -e --argjson w "$VERTEX_WORKERS" '.crypto_workers == $w and .crypto_jobs > 90000 and
		.crypto_batches > 0 and .crypto_batches <= .crypto_jobs' <<<"$st" >/dev/null ||
		fail "$name: AEAD workers not used: $st"
	pass "$name: $(jq -r '"\(.crypto_jobs) frames sealed or opened on \(.crypto_workers) workers in \(.crypto_batches) batches (\(.crypto_full_waits) waits)"' <<<"$st")"
done
# The frames' AEAD (docs/protocol.md, "Data keys"): AES-256-GCM both ways where this CPU has it
# (both agents run on it), ChaCha20-Poly1305 with VERTEX_CIPHER=chacha20-poly1305 or without
# AES-NI; the 64 MiB sha256 checks above went through it.
want_cipher=chacha20-poly1305
if [[ ${VERTEX_CIPHER:-auto} != chacha20-poly1305 ]] && grep -qw aes /proc/cpuinfo &&
	grep -qw pclmulqdq /proc/cpuinfo; then
	want_cipher=aes-256-gcm
fi
for name in alice bob; do
	[[ $(peer_json "$name" .cipher) == "$want_cipher" ]] ||
		fail "$name seals with $(peer_json "$name" .cipher), not $want_cipher"
done
pass "both seal their frames with $want_cipher"
[[ $(peer_json alice .identity) == "$BOB" ]] || fail "alice's peer is not $BOB"
[[ $(peer_json bob .identity) == "$ALICE" ]] || fail "bob's peer is not $ALICE"
[[ $(peer_json alice .overlay6) == "$H1_OVL6_PEER" ]] || fail "alice: bob's overlay6 is not $H1_OVL6_PEER"
[[ $(peer_json bob .overlay6) == "$H2_OVL6_PEER" ]] || fail "bob: alice's overlay6 is not $H2_OVL6_PEER"

vtx_finish
