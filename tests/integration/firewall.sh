#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The per-peer firewall (docs/firewall.md) in the NAT lab (lib_nat.sh draws it), with a third
# site for carol:
#
#        srva (a.example.com)      srvb (b.example.com)
#              \                        /
#   nata -- alice 198.19.1.2     natb -- bob 198.19.2.2      natc -- carol 198.19.3.2
#
# bob offers `ssh tcp/22` and `web tcp/80 -> 127.0.0.1:8080` (a local target, by DNAT) and has a
# web server on 0.0.0.0:8080; carol offers `echo tcp/7 auto-approve`.
#
# 1. At start bob's table `inet vertex` is there (exactly one) with its filter and dnat chains.
# 2. alice is approved for ssh only: ssh works; TCP to bob's 8080 (listening) and to 80 fails.
# 3. bob asks carol for echo (auto-approved): carol is bob's peer, approved for nothing here:
#    no ping, no ssh, no 8080 from her; bob's ping to her works (her firewall lets him).
# 4. alice is approved for web too: curl http://BOB:80/ reaches bob's 127.0.0.1:8080; 8080
#    itself still fails. `vertex firewall --json` and `nft list table` show both rules.
# 5. bob revokes ssh alone: alice's established ssh session is cut (the firewall, not the end
#    of the session: web still works) and a new ssh fails.
# 6. alice asks for ssh again, bob approves: ssh works again.
# 7. kill -9 bob and start him again: exactly one table, alice's chain as before, ssh works.
# 8. SIGTERM: the table is gone (assert_clean).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
for tool in jq curl python3 sshd; do
	command -v "$tool" >/dev/null || skip "missing tool: $tool"
done
nat_lab_up pass
nat_site_add natc 198.18.0.203 carol 198.19.3 "$NATB_IP" "$BOB_LAN_IP"

ALICE=alice@$DOMAIN_A
BOB=bob@$DOMAIN_B
CAROL=carol@$DOMAIN_A
server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva
server_start srvb
enrolled alice alice "$ALICE"
enrolled bob bob "$BOB"
enrolled carol carol "$CAROL"
lab_agent_config alice "$ALICE" fd00:5678:a1::/48
lab_agent_config bob "$BOB" fd00:5678:b1::/48
lab_agent_config carol "$CAROL" fd00:5678:c1::/48
printf 'purpose ssh tcp/22\npurpose web tcp/80 -> 127.0.0.1:8080\n' >>"$VTX_TMP/bob.conf"
printf 'purpose echo tcp/7 auto-approve\n' >>"$VTX_TMP/carol.conf"

home_up()
{
	[[ $(vtx_ctl "$1" status --json | jq -r .server_state) == up ]]
}

peer_field() # peer_field NAME IDENTITY FIELD
{
	vtx_ctl "$1" peers --json | jq -er --arg id "$2" ".peers[] | select(.identity == \$id) | .$3"
}

peer_up()
{
	[[ $(peer_field "$1" "$2" state 2>/dev/null) == up ]]
}

tables() # tables NAME: how many 'inet vertex' tables NAME's namespace has
{
	qn "$1" nft list tables | grep -c '^table inet vertex$' || true
}

tcp_open() # tcp_open NAME ADDR PORT: a TCP connect from NAME succeeds within 3 s
{
	qn "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}

approve() # approve PURPOSE: alice asks bob for PURPOSE, bob approves
{
	qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" connect "$BOB/$1" --wait 60 \
		>"$VTX_TMP/connect-$1.out" 2>&1 &
	local pid=$!
	track_pid "$pid"
	wait_until 20 bash -c "'$VERTEX' -s '$VTX_TMP/bob.sock' requests --json |
		jq -e '.incoming[] | select(.purpose == \"$1\")'" ||
		fail "bob never sees alice's request for $1"
	vtx_ctl bob approve "$ALICE" "$1" >/dev/null || fail "bob cannot approve $1"
	wait_until 20 pid_is_gone "$pid" || fail "alice's connect never returns"
	grep -q "$BOB approved $1" "$VTX_TMP/connect-$1.out" ||
		fail "connect said: $(cat "$VTX_TMP/connect-$1.out")"
}

say "1. bob's table at start"
mkdir -p "$VTX_TMP/www"
TOKEN=web-ok-$RANDOM$RANDOM
echo "$TOKEN" >"$VTX_TMP/www/token.txt"
pretty bob "python3 -m http.server 8080 --bind 0.0.0.0 &"
ip netns exec "$(ns_for bob)" python3 -m http.server 8080 --bind 0.0.0.0 \
	--directory "$VTX_TMP/www" >/dev/null 2>&1 &
track_pid $!
wait_until 10 tcp_open bob 127.0.0.1 8080 || fail "bob's web server does not listen"
sshd_start "$(ns_for bob)"
for n in alice bob carol; do
	lab_agent_start "$n" "$n"
done
for n in alice bob carol; do
	wait_until 20 home_up "$n" || fail "$n's agent never connects to its server"
done
[[ $(tables bob) == 1 ]] || fail "bob has $(tables bob) inet vertex tables"
TABLE=$(qn bob nft list table inet vertex)
grep -q 'ct direction reply accept' <<<"$TABLE" || fail "no reply rule: $TABLE"
grep -q 'dnat ip to 127.0.0.1:8080' <<<"$TABLE" || fail "no dnat rule: $TABLE"
pass "bob's agent made one table inet vertex with its filter and dnat chains"

say "2. alice approved for ssh only"
approve ssh
wait_until 30 peer_up alice "$BOB" || fail "no session alice -> bob: $(vtx_ctl alice peers)"
BOB4=$(vtx_ctl alice resolve --address "$BOB/ssh")
check_ssh on_alice "$BOB4"
! tcp_open alice "$BOB4" 8080 || fail "alice reaches bob's port 8080, approved for ssh only"
! tcp_open alice "$BOB4" 80 || fail "alice reaches bob's port 80, approved for ssh only"
pass "alice: ssh to bob works, 8080 (listening) and 80 do not"

say "3. carol, a peer approved for nothing here"
vtx_ctl bob connect "$CAROL/echo" --wait 60 >"$VTX_TMP/connect-echo.out" 2>&1 ||
	fail "bob's connect to carol: $(cat "$VTX_TMP/connect-echo.out")"
wait_until 30 peer_up carol "$BOB" || fail "no session carol -> bob: $(vtx_ctl carol peers)"
BOB4_C=$(peer_field carol "$BOB" overlay4)
CAROL4=$(peer_field bob "$CAROL" overlay4)
wait_until 10 qn bob ping -c 1 -W 1 "$CAROL4" || fail "bob cannot ping carol"
! qn carol ping -c 2 -W 1 "$BOB4_C" >/dev/null || fail "carol pings bob"
! tcp_open carol "$BOB4_C" 22 || fail "carol reaches bob's ssh"
! tcp_open carol "$BOB4_C" 8080 || fail "carol reaches bob's 8080"
! tcp_open carol "$BOB4_C" 80 || fail "carol reaches bob's web"
pass "carol (session up, bob pings her) reaches nothing of bob's: ping, 22, 80, 8080"

say "4. alice approved for web too: the local target by DNAT"
approve web
GOT=$(qn alice curl -sf --max-time 5 "http://$BOB4/token.txt") || fail "curl http://$BOB4/ failed"
[[ $GOT == "$TOKEN" ]] || fail "curl got '$GOT', expected '$TOKEN'"
! tcp_open alice "$BOB4" 8080 || fail "alice reaches 8080 directly"
FW=$(vtx_ctl bob firewall --json)
RULES=$(jq -c --arg id "$ALICE" '.peers[] | select(.identity == $id) | .rules' <<<"$FW")
[[ $RULES == '["ct state related accept","tcp dport 22 accept # ssh","tcp dport 80 accept # web","icmp type echo-request accept","icmpv6 type echo-request accept"]' ]] ||
	fail "vertex firewall shows alice's rules as $RULES"
[[ $(jq -r --arg id "$CAROL" '.peers[] | select(.identity == $id) | .rules | length' <<<"$FW") == 1 ]] ||
	fail "vertex firewall shows carol as: $FW"
CHAIN=$(jq -r --arg id "$ALICE" '.peers[] | select(.identity == $id) | .chain' <<<"$FW")
TABLE=$(qn bob nft list chain inet vertex "$CHAIN")
grep -q 'tcp dport 22 accept' <<<"$TABLE" && grep -q 'tcp dport 80 accept' <<<"$TABLE" ||
	fail "nft shows $CHAIN as: $TABLE"
pass "curl http://$BOB4/ reached bob's 127.0.0.1:8080 ($TOKEN); vertex firewall and nft agree"

say "5. bob revokes ssh: alice's open session is cut, a new one fails"
# The session sends nothing after "started": alice's keepalives (every second, three missed
# and ssh gives up) are what must stop getting through.
ssh_opts
SSH_OPTS+=(-o ConnectTimeout=4 -o ServerAliveInterval=1 -o ServerAliveCountMax=3)
qn alice ssh "${SSH_OPTS[@]}" "root@$BOB4" 'echo started; exec sleep 300' \
	>"$VTX_TMP/long-ssh.out" 2>&1 &
SSH_PID=$!
track_pid "$SSH_PID"
wait_until 10 grep -q started "$VTX_TMP/long-ssh.out" || fail "the long ssh session never starts"
pid_is_running "$SSH_PID" || fail "the long ssh session ended by itself: $(cat "$VTX_TMP/long-ssh.out")"
vtx_ctl bob revoke "$ALICE" ssh >/dev/null || fail "revoke ssh failed"
T0=$SECONDS
wait_until 15 pid_is_gone "$SSH_PID" ||
	fail "alice's ssh session survives the revocation: $(vtx_ctl bob firewall)
$(qn bob nft list table inet vertex)"
pass "alice's open ssh session cut $((SECONDS - T0)) s after the revocation"
! qn alice ssh "${SSH_OPTS[@]}" "root@$BOB4" true 2>/dev/null || fail "a new ssh works after the revocation"
peer_up alice "$BOB" || fail "the session ended: the firewall was not what cut ssh"
GOT=$(qn alice curl -sf --max-time 5 "http://$BOB4/token.txt") || fail "web stopped too"
pass "new ssh refused, the overlay session still up and web still works"

say "6. approved again: ssh works again"
approve ssh
check_ssh on_alice "$BOB4"

say "7. kill -9 bob and start again: exactly one table, the same rules"
vtx_stop bob KILL
[[ $(tables bob) == 1 ]] || fail "after kill -9: $(tables bob) tables"
lab_agent_start bob bob
wait_until 20 home_up bob || fail "bob's agent never comes back"
[[ $(tables bob) == 1 ]] || fail "after the restart bob has $(tables bob) tables"
wait_until 30 peer_up alice "$BOB" || fail "no session after the restart"
TABLE=$(qn bob nft list chain inet vertex "$CHAIN")
grep -q 'tcp dport 22 accept' <<<"$TABLE" && grep -q 'tcp dport 80 accept' <<<"$TABLE" ||
	fail "after the restart nft shows $CHAIN as: $TABLE"
check_ssh on_alice "$BOB4"
! tcp_open alice "$BOB4" 8080 || fail "alice reaches 8080 after the restart"
pass "after kill -9 + restart: one table, alice's chain restored from the store"

say "8. SIGTERM: nothing left"
for n in alice bob carol; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC"
done
[[ $(tables bob) == 0 ]] || fail "bob's table is still there after SIGTERM"
assert_clean "$(ns_for alice)" "$(ns_for bob)" "$(ns_for carol)"
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
