#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Replayed and corrupted data frames are dropped and counted exactly, and the tunnel survives.
#
#   host1: alice                                                  host2: bob
#   eth0 198.18.1.1 ------ r1 [router] r2 ------ eth0 198.18.2.1:4800
#                          ^ udp_inject sends copies of captured frames from here to host2
#
# 1. With pings flowing, capture REPLAYS frames alice -> bob on host2's eth0 (so bob has
#    received each of them), then resend them unchanged from the router: each is a replay.
# 2. Drop frames alice -> bob in the router for a moment and capture CORRUPTS of them on the
#    router's ingress (bob never sees them, so their counters are fresh), then send copies with
#    one ciphertext byte flipped: each fails authentication. Using never-delivered frames keeps
#    the two counts apart whether the receiver checks the window before or after the AEAD.
# Then bob's `vertex peers --json` must show drops.replay up by exactly REPLAYS and drops.auth
# up by exactly CORRUPTS, and ping must still work both ways.
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

REPLAYS=6
CORRUPTS=5
INJECT=$VTX_BUILD/udp_inject
# Data frames (type byte 1, ChaCha20-Poly1305, or 2, AES-256-GCM) from alice to bob's agent port.
FILTER="udp and dst port $VTX_PORT and src host $H1_IP4 and (udp[8] = 1 or udp[8] = 2)"

vtx_require tcpdump nft
[[ -x $INJECT ]] || skip "udp_inject not built in $VTX_BUILD"
topo_up
# No rekey during the test: every captured frame stays under the session that sent it.
VTX_REKEY_SEC=3600
H1_ENDPOINTS=("$H2_IP4:$VTX_PORT")
H2_ENDPOINTS=("$H1_IP4:$VTX_PORT")
pair_setup "$BOB"
vtx_start "$NS1" alice
vtx_start "$NS2" bob
wait_tunnel_up

# capture NS IFACE COUNT FILE: start tcpdump in NS for COUNT data frames; sets CAPTURE_PID.
capture()
{
	local ns=$1 ifc=$2 count=$3 file=$4
	pretty "${ns##*-}" "tcpdump -i $ifc -c $count -w $file '$FILTER' &"
	ip netns exec "$ns" tcpdump -Z root -U -n -i "$ifc" -c "$count" -w "$file" "$FILTER" \
		2>"$file.log" &
	CAPTURE_PID=$!
	track_pid "$CAPTURE_PID"
	wait_until 10 grep -q 'listening on' "$file.log" || fail "tcpdump did not start"
}

# 1. Delivered frames, to replay.
capture "$NS2" eth0 "$REPLAYS" "$VTX_TMP/delivered.pcap"
n1 ping -c 20 -i 0.05 "$OVL4_PEER" >/dev/null
wait_until 10 pid_is_gone "$CAPTURE_PID" || fail "captured fewer than $REPLAYS frames"
stop_pid "$CAPTURE_PID"

# 2. Frames bob never receives, to corrupt.
nr nft add table ip vtxt_hold
nr nft add chain ip vtxt_hold gate '{ type filter hook forward priority 0; }'
nr nft add rule ip vtxt_hold gate ip daddr "$H2_IP4" udp dport "$VTX_PORT" drop
capture "$NSR" r1 "$CORRUPTS" "$VTX_TMP/held.pcap"
q1 ping -c 20 -i 0.05 -W 1 "$OVL4_PEER" >/dev/null || true
wait_until 10 pid_is_gone "$CAPTURE_PID" || fail "captured fewer than $CORRUPTS frames"
stop_pid "$CAPTURE_PID"
nr nft delete table ip vtxt_hold

before=$(peer_json bob .drops)
say "bob's drops before: $(jq -c . <<<"$before")"
replay0=$(jq -r .replay <<<"$before")
auth0=$(jq -r .auth <<<"$before")

out=$(nr "$INJECT" "$VTX_TMP/delivered.pcap" "$H2_IP4" "$VTX_PORT")
[[ $out == "sent $REPLAYS skipped 0" ]] || fail "replay injection: $out"
# Byte 20: inside the ciphertext (or the tag of a keepalive), past the 16-byte header.
out=$(nr "$INJECT" -x 20 "$VTX_TMP/held.pcap" "$H2_IP4" "$VTX_PORT")
[[ $out == "sent $CORRUPTS skipped 0" ]] || fail "corrupt injection: $out"

drops_reach()
{
	peer_json bob .drops | jq -e --argjson r "$1" --argjson a "$2" \
		'.replay >= $r and .auth >= $a' >/dev/null
}
wait_until 10 drops_reach $((replay0 + REPLAYS)) $((auth0 + CORRUPTS)) ||
	fail "drops never reached +$REPLAYS replay, +$CORRUPTS auth: $(peer_json bob .drops)"

check_ping n1 "$OVL4_PEER"
check_ping n2 "$OVL4_PEER"

after=$(peer_json bob .drops)
say "bob's drops after: $(jq -c . <<<"$after")"
replay1=$(jq -r .replay <<<"$after")
auth1=$(jq -r .auth <<<"$after")
[[ $((replay1 - replay0)) -eq $REPLAYS ]] ||
	fail "drops.replay rose by $((replay1 - replay0)), expected exactly $REPLAYS"
[[ $((auth1 - auth0)) -eq $CORRUPTS ]] ||
	fail "drops.auth rose by $((auth1 - auth0)), expected exactly $CORRUPTS"
pass "exactly $REPLAYS replays and $CORRUPTS forgeries dropped and counted; tunnel still up"

vtx_finish
