#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The application interface (docs/app-api.md) in TUN mode, in the two-domain NAT lab of
# lib_nat.sh (bob's router drops UDP: the relay carries the session).
#
# 1. Before any approval, alice's example client asking for bob@b.example.com/chat by name gets
#    the clear refusal (not-approved, with the command to ask), and so does vertex nc.
# 2. alice asks for chat (tcp/7000) and ssh (tcp/22), bob approves both. bob's example program
#    listens on chat; alice's connects by name and 1 MiB of random data comes back
#    byte-identical (sha256); bob's program printed alice's verified identity and the address
#    bob's agent gives her. A second program on chat is refused (in-use), so is an unknown
#    purpose; when bob's program is gone, a connect is refused by bob's side (refused).
# 3. ssh runs through `vertex nc` as its ProxyCommand, by name, to bob's real sshd.
# 4. Garbage on alice's app socket (an HTTP request, random bytes, an over-long line, a
#    request left unfinished) gets `error bad-request ...` lines, and the agent serves on:
#    status answers and counts them, a good connect works after.
# 5. bob's agent stops: a connect says the session is not up (not-up).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"

APP_ECHO=$VTX_BUILD/app-echo
CTL_SEND=$VTX_BUILD/ctl_send

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
[[ -x $APP_ECHO && -x $CTL_SEND ]] || fail "missing $APP_ECHO or $CTL_SEND (build first)"
command -v jq >/dev/null || skip "missing tool: jq"
nat_lab_up drop

ALICE=alice@$DOMAIN_A
BOB=bob@$DOMAIN_B
A_APP=$VTX_TMP/alice-app.sock
B_APP=$VTX_TMP/bob-app.sock
server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva
server_start srvb
enrolled alice alice "$ALICE"
enrolled bob bob "$BOB"
lab_agent_config alice "$ALICE" fd00:5678:a1::/48
lab_agent_config bob "$BOB" fd00:5678:b1::/48
printf 'purpose chat tcp/7000\npurpose ssh tcp/22\npurpose voice udp/7001\n' >>"$VTX_TMP/bob.conf"

home_up()
{
	[[ $(vtx_ctl "$1" status --json | jq -r .server_state) == up ]]
}

peer_up() # peer_up NAME IDENTITY
{
	[[ $(vtx_ctl "$1" peers --json |
		jq -r --arg id "$2" '.peers[] | select(.identity == $id) | .state') == up ]]
}

# ask_and_approve PURPOSE: alice asks bob for PURPOSE, bob approves it.
ask_and_approve()
{
	qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" connect "$BOB/$1" --wait 60 \
		>"$VTX_TMP/connect-$1.out" 2>&1 &
	local pid=$!
	track_pid "$pid"
	wait_until 20 bash -c "'$VERTEX' -s '$VTX_TMP/bob.sock' requests --json |
		jq -e '.incoming[] | select(.purpose == \"$1\")'" >/dev/null ||
		fail "bob never sees the request for $1"
	vtx_ctl bob approve "$ALICE" "$1" >/dev/null || fail "approve $1 failed"
	wait "$pid" || fail "connect $1: $(cat "$VTX_TMP/connect-$1.out")"
	pass "bob approved $1 for alice"
}

# app_answer SOCKET LINE: what the agent answers to LINE on its app socket (first line).
app_answer()
{
	printf '%s\n' "$2" | "$CTL_SEND" "$1" | head -1
}

lab_agent_start alice alice
lab_agent_start bob bob
grep -q "^app-socket *$B_APP\$" "$VTX_TMP/bob.norm" ||
	fail "vertexd -n does not show the app socket beside the control socket: $(cat "$VTX_TMP/bob.norm")"
[[ -S $A_APP && -S $B_APP ]] || fail "no app sockets at $A_APP, $B_APP"
pass "both agents serve an app socket beside their control socket ($B_APP)"
wait_until 20 home_up alice || fail "alice's agent never connects to its server"
wait_until 20 home_up bob || fail "bob's agent never connects to its server"

say "1. before approval: a clear refusal"
OUT=$(qn alice "$APP_ECHO" connect "$A_APP" "$BOB/chat" </dev/null 2>&1) &&
	fail "app-echo connected without an approval: $OUT"
WANT="error not-approved $BOB has not approved chat for us (ask with: vertex connect $BOB/chat)"
[[ $OUT == *"$WANT"* ]] || fail "refusal: '$OUT', expected '$WANT'"
pass "example client refused: $WANT"
RC=0
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" nc "$BOB/chat" </dev/null 2>&1) || RC=$?
[[ $RC -eq 1 && $OUT == *"not-approved: $BOB has not approved chat"* ]] ||
	fail "vertex nc without approval: rc $RC: $OUT"
pass "vertex nc refused the same way (exit 1): $OUT"
[[ $(app_answer "$B_APP" "listen nosuch") == "error unknown-purpose nosuch is not one of our purposes"* ]] ||
	fail "listen on an unknown purpose: $(app_answer "$B_APP" "listen nosuch")"
[[ $(app_answer "$B_APP" "listen voice") == "error unknown-purpose voice is udp/7001"* ]] ||
	fail "listen on a udp purpose: $(app_answer "$B_APP" "listen voice")"
pass "listen refuses purposes we do not offer, and udp ones"

say "2. approved: bob's program listens on chat, alice's connects by name"
ask_and_approve chat
ask_and_approve ssh
wait_until 30 peer_up alice "$BOB" || fail "no session: $(vtx_ctl alice peers)"
ALICE4=$(vtx_ctl bob peers --json | jq -r --arg id "$ALICE" '.peers[] | select(.identity == $id) | .overlay4')
qn bob "$APP_ECHO" listen "$B_APP" chat 1 >"$VTX_TMP/bob-echo.out" 2>"$VTX_TMP/bob-echo.err" &
ECHO_PID=$!
track_pid "$ECHO_PID"
wait_until 10 grep -q '^listening chat$' "$VTX_TMP/bob-echo.out" ||
	fail "bob's program does not listen: $(cat "$VTX_TMP/bob-echo.err")"
[[ $(app_answer "$B_APP" "listen chat") == "error in-use another program listens on chat" ]] ||
	fail "a second listener on chat: $(app_answer "$B_APP" "listen chat")"
pass "bob's program listens on chat; a second one is refused (in-use)"
# A connection from an address that is no peer's (bob's own, from his host) is closed by the
# agent, counted, and never reaches the program.
BOB_SELF4=$(vtx_ctl bob status --json | jq -r .overlay4)
OUT=$(qn bob timeout 10 bash -c "exec 3<>/dev/tcp/$BOB_SELF4/7000 && cat <&3" 2>&1) ||
	fail "a local connection to chat: $OUT"
[[ $(vtx_ctl bob status --json | jq -r .app_refused_unknown) == 1 ]] ||
	fail "not counted: $(vtx_ctl bob status --json | jq -c '.')"
grep -q '^caller' "$VTX_TMP/bob-echo.out" && fail "a connection from no peer reached the program"
pass "a connection from an address no peer has: closed by the agent and counted"
head -c 1M /dev/urandom >"$VTX_TMP/blob"
WANT=$(sha256sum <"$VTX_TMP/blob" | cut -d' ' -f1)
qn alice timeout 60 "$APP_ECHO" connect "$A_APP" "$BOB/chat" <"$VTX_TMP/blob" >"$VTX_TMP/back" \
	2>"$VTX_TMP/alice-echo.err" || fail "alice's connect failed: $(cat "$VTX_TMP/alice-echo.err")"
GOT=$(sha256sum <"$VTX_TMP/back" | cut -d' ' -f1)
[[ $GOT == "$WANT" ]] || fail "1 MiB echoed: sha256 $GOT ($(stat -c %s "$VTX_TMP/back") bytes), sent $WANT"
pass "1 MiB to $BOB/chat and back by name, sha256 $WANT on both ends"
grep -q "^app-echo: connected to $BOB/chat (.* 7000)" "$VTX_TMP/alice-echo.err" ||
	fail "alice's client: $(cat "$VTX_TMP/alice-echo.err")"
wait_until 10 pid_is_gone "$ECHO_PID" || fail "bob's program did not end after its connection"
grep -q "^caller $ALICE $ALICE4 [0-9]*\$" "$VTX_TMP/bob-echo.out" ||
	fail "bob's program saw: $(cat "$VTX_TMP/bob-echo.out"), expected $ALICE at $ALICE4"
pass "bob's program was told the caller: $(grep caller "$VTX_TMP/bob-echo.out")"
wait_until 5 grep -q "the program on chat went away" "$VTX_TMP/bob.log" ||
	fail "bob's agent did not notice its program leave"
OUT=$(qn alice "$APP_ECHO" connect "$A_APP" "$BOB/chat" </dev/null 2>&1) && fail "connected to nothing"
[[ $OUT == *"error refused $BOB at "*" port 7000: Connection refused"* ]] ||
	fail "connect with no program on chat: $OUT"
pass "with bob's program gone, nothing listens: $OUT"

say "3. ssh through vertex nc, by name"
sshd_start "$(ns_for bob)"
ssh_opts
TOKEN=vertex-nc-$RANDOM$RANDOM
OUT=$(qn alice timeout 60 ssh "${SSH_OPTS[@]}" \
	-o ProxyCommand="$VERTEX -s $VTX_TMP/alice.sock nc $BOB/ssh" root@bob "echo $TOKEN") ||
	fail "ssh through vertex nc failed: $OUT"
[[ $OUT == "$TOKEN" ]] || fail "ssh printed '$OUT', expected $TOKEN"
pass "ssh -o ProxyCommand='vertex nc $BOB/ssh' ran a command on bob ($TOKEN)"
GOT=$(qn alice timeout 60 ssh "${SSH_OPTS[@]}" -o ProxyCommand="$VERTEX -s $VTX_TMP/alice.sock nc $BOB/ssh" \
	root@bob sha256sum <"$VTX_TMP/blob" | cut -d' ' -f1)
[[ $GOT == "$WANT" ]] || fail "1 MiB over ssh through vertex nc: far side sha256 $GOT"
pass "1 MiB up over ssh through vertex nc, sha256 equal"

say "4. garbage on the app socket: an error line, and the agent serves on"
OUT=$(printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | "$CTL_SEND" "$A_APP")
[[ $OUT == "error bad-request line contains a byte that is not printable ASCII" ]] ||
	fail "HTTP request answered: $OUT"
OUT=$(head -c 4096 /dev/urandom | "$CTL_SEND" "$A_APP" | head -c 200 | tr -d '\0')
[[ $OUT == "error bad-request "* ]] || fail "random bytes answered: $OUT"
OUT=$(head -c 3000 /dev/zero | tr '\0' x | "$CTL_SEND" "$A_APP")
[[ $OUT == "error bad-request line longer than 511 bytes" ]] || fail "long line answered: $OUT"
OUT=$(printf 'connect %s/chat\nlisten chat\n' "$BOB" | "$CTL_SEND" "$A_APP")
[[ $OUT == "error bad-request one request per connection" ]] || fail "two requests: $OUT"
OUT=$(printf 'connect nobody/chat\n' | "$CTL_SEND" "$A_APP")
[[ $OUT == "error bad-request "* ]] || fail "a bad name: $OUT"
pass "garbage answered with error lines: $(printf 'connect nobody/chat\n' | "$CTL_SEND" "$A_APP")"
BAD=$(vtx_ctl alice status --json | jq -r .app_bad_requests)
((BAD >= 5)) || fail "status counts $BAD bad requests"
qn bob "$APP_ECHO" listen "$B_APP" chat 1 >"$VTX_TMP/bob-echo2.out" 2>&1 &
track_pid $!
wait_until 10 grep -q '^listening chat$' "$VTX_TMP/bob-echo2.out" || fail "bob's second program"
OUT=$(echo still-serving | qn alice timeout 20 "$APP_ECHO" connect "$A_APP" "$BOB/chat" 2>/dev/null)
[[ $OUT == still-serving ]] || fail "after the garbage, a connect echoed '$OUT'"
pass "the agent serves on: status counts $BAD bad requests, a connect by name still works"

say "5. bob's agent stops: alice's connect says the session is not up"
vtx_stop bob
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd bob exited with status $VTX_LAST_RC (it crashed?)"
wait_until 30 bash -c "! '$VERTEX' -s '$VTX_TMP/alice.sock' peers --json |
	jq -e '.peers[] | select(.state == \"up\")'" >/dev/null || fail "alice still sees bob up"
OUT=$(qn alice "$APP_ECHO" connect "$A_APP" "$BOB/chat" </dev/null 2>&1) && fail "connected to a stopped agent"
[[ $OUT == *"error not-up no session with $BOB right now"* ]] || fail "connect to a stopped agent: $OUT"
pass "with bob's agent stopped: $OUT"
vtx_stop alice
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd alice exited with status $VTX_LAST_RC (it crashed?)"
[[ ! -e $A_APP && ! -e $B_APP ]] || fail "an app socket file is left after shutdown"
assert_clean "$(ns_for alice)" "$(ns_for bob)"
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
