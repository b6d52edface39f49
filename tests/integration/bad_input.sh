#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Bad input on every door vertexd has: each gets a clear error or an exactly counted drop, the
# daemon keeps serving its peer, and a failed start-up leaves no half-configured interface.
#
#     host1 (alice) 198.18.1.1 --- router (the attacker) --- 198.18.2.1 host2 (bob)
#
# 1. configs with an unknown keyword and an out-of-range value: vertexd -n names file, line, key
# 2. a start-up that fails after the TUN device exists (port taken): nothing is left behind
# 3. garbage on the control socket: an error line each, the socket keeps answering
# 4. garbage UDP datagrams to bob's port: counted exactly as malformed / unknown_receiver
# 5. garbage on bob's TCP port, and 30 connections that never speak (slowloris): refused with a
#    log line; 16 held (one network's limit) and closed after the handshake deadline, the
#    other 14 refused at once and counted, while the tunnel keeps working
source "$(dirname "$0")/lib.sh"

vtx_require
topo_up
pair_setup
CTL_SEND=$VTX_BUILD/ctl_send
[[ -x $CTL_SEND ]] || fail "missing $CTL_SEND (build the test tools)"

say "1. configuration errors name file, line and keyword"
# check_config_error LINE-TEXT EXPECTED: a copy of alice's config with LINE-TEXT as line 3.
check_config_error()
{
	local f=$VTX_TMP/bad.conf out
	{
		sed -n 1,2p "$VTX_TMP/alice.conf"
		printf '%s\n' "$1"
		sed -n '3,$p' "$VTX_TMP/alice.conf"
	} >"$f"
	if out=$("$VERTEXD" -n -c "$f" 2>&1); then
		fail "vertexd -n accepted '$1'"
	fi
	grep -qF "$2" <<<"$out" || fail "vertexd -n on '$1' said '$out', expected '$2'"
	pass "vertexd -n refuses '$1': $out"
}
check_config_error "frobnicate yes" "bad.conf:3: frobnicate: unknown keyword"
check_config_error "mtu 99999" "bad.conf:3: mtu:"
check_config_error "port 0" "bad.conf:3: port:"

say "2. a start-up failing half-way leaves nothing behind"
vtx_start "$NS2" bob
sed -e 's/^interface .*/interface  vtx9/' -e "s|^control .*|control    $VTX_TMP/second.sock|" \
	-e "s|^state .*|state      $VTX_TMP/second.db|" "$VTX_TMP/bob.conf" >"$VTX_TMP/second.conf"
if out=$(ip netns exec "$NS2" timeout 10 "$VERTEXD" -c "$VTX_TMP/second.conf" 2>&1); then
	fail "a second vertexd on a taken port started"
fi
grep -q "port $VTX_PORT" <<<"$out" || fail "second vertexd did not say which port: $out"
left=$(ip -n "$NS2" -o link show vtx9 2>/dev/null || true)
[[ -z $left ]] || fail "failed start-up left vtx9 behind: $left"
[[ $(ip -n "$NS2" -o link show vtx0 | wc -l) -eq 1 ]] || fail "the running agent lost vtx0"
pass "port taken: exit 1 with '$(tail -1 <<<"$out")', no vtx9 left, vtx0 of the running agent intact"
vtx_start "$NS1" alice
wait_tunnel_up

say "3. garbage on the control socket"
# ctl_answer INPUT EXPECTED: what bob's control socket answers to INPUT (printf format).
ctl_answer()
{
	local out
	out=$(printf "$1" | ip netns exec "$NS2" "$CTL_SEND" "$VTX_TMP/bob.sock") || true
	grep -qF "$2" <<<"$out" || fail "control socket answered '$out' to '$1', expected '$2'"
	pass "control socket: '${1:0:20}' -> '$out'"
}
ctl_answer "bogus\n" "error unknown request"
ctl_answer "$(head -c 2000 /dev/zero | tr '\0' A)" "error request line too long"
ctl_answer 'sta\0tus\n' "error request contains a NUL byte"
vtx_ctl bob status >/dev/null || fail "control socket stopped answering"
pass "control socket still answers"

say "4. garbage datagrams are counted exactly"
drops()
{
	vtx_ctl bob status --json | jq -er ".drops.$1"
}
# drops_reach REASON N: bob's drop counter REASON is at least N (a predicate for wait_until).
drops_reach()
{
	[[ $(drops "$1") -ge $2 ]]
}
# log_count PATTERN: lines of bob's log matching PATTERN.
log_count()
{
	grep -c "$1" "$VTX_TMP/bob.log" || true
}
# log_reaches PATTERN N: at least N lines of bob's log match PATTERN.
log_reaches()
{
	[[ $(log_count "$1") -ge $2 ]]
}
m0=$(drops malformed)
u0=$(drops unknown_receiver)
pretty r "50 x 10-byte datagrams and 50 x 100-byte frames for no session to $H2_IP4:$VTX_PORT"
ip netns exec "$NSR" bash -c "for i in \$(seq 50); do printf 0123456789 >/dev/udp/$H2_IP4/$VTX_PORT; done"
# A well-formed data frame header (type 1, receiver index deadbeef) and 84 bytes: one write each.
{ printf '\x01\x00\x00\x00\xde\xad\xbe\xef'; head -c 92 /dev/zero; } >"$VTX_TMP/frame.bin"
ip netns exec "$NSR" bash -c "for i in \$(seq 50); do cat $VTX_TMP/frame.bin >/dev/udp/$H2_IP4/$VTX_PORT; done"
wait_until 5 drops_reach malformed $((m0 + 50)) || fail "malformed drops: $(drops malformed), want $((m0 + 50))"
wait_until 5 drops_reach unknown_receiver $((u0 + 50)) ||
	fail "unknown_receiver drops: $(drops unknown_receiver), want $((u0 + 50))"
[[ $(drops malformed) -eq $((m0 + 50)) && $(drops unknown_receiver) -eq $((u0 + 50)) ]] ||
	fail "drops not exact: malformed $(drops malformed) (want $((m0 + 50))), unknown_receiver $(drops unknown_receiver) (want $((u0 + 50)))"
pass "exactly 50 malformed and 50 unknown_receiver drops counted"
check_ping q1 "$OVL4_PEER"

say "5. garbage and silence on the handshake port"
refusals0=$(log_count 'handshake with unknown peer')
pretty r "2000 random bytes to $H2_IP4:$VTX_PORT/tcp"
ip netns exec "$NSR" bash -c "exec 3<>/dev/tcp/$H2_IP4/$VTX_PORT; head -c 2000 /dev/urandom >&3; sleep 1" || true
wait_until 5 log_reaches 'handshake with unknown peer' $((refusals0 + 1)) ||
	fail "bob did not log the refused garbage handshake"
pass "garbage handshake refused: $(grep 'handshake with unknown peer' "$VTX_TMP/bob.log" | tail -1)"

timeouts0=$(log_count 'timed out')
refused0=$(drops link_refused)
# One network may hold AGENT_INBOUND_PER_SOURCE (16) links that are not up yet; the rest are
# closed at once and counted (link_refused).
pretty r "30 TCP connections to $H2_IP4:$VTX_PORT that never speak, held 13 s"
ip netns exec "$NSR" bash -c "for i in \$(seq 30); do
	( exec 3<>/dev/tcp/$H2_IP4/$VTX_PORT; sleep 13 ) &
done; wait" &
slow=$!
track_pid "$slow"
wait_until 5 drops_reach link_refused $((refused0 + 14)) ||
	fail "bob refused $(($(drops link_refused) - refused0)) of 30 silent connections, expected 14"
check_ping q1 "$OVL4_PEER"
pass "tunnel works while 16 silent connections are held; 14 more were refused at once (link_refused)"
wait_until 15 log_reaches 'timed out' $((timeouts0 + 16)) ||
	fail "bob closed $(($(log_count 'timed out') - timeouts0)) of 16 silent connections"
sleep 1
[[ $(($(log_count 'timed out') - timeouts0)) -eq 16 && $(($(drops link_refused) - refused0)) -eq 14 ]] ||
	fail "silent connections: $(($(log_count 'timed out') - timeouts0)) timed out, $(($(drops link_refused) - refused0)) refused; expected 16 and 14"
pass "the 16 silent connections held were closed at the handshake deadline"
wait "$slow" || true
check_ping q2 "$OVL4_PEER"

vtx_finish
