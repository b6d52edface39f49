#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Lifecycle hooks (docs/hooks.md) on the NAT lab of lib_nat.sh with both routers passing UDP,
# so that a session starts on the relay and moves to a direct path by itself (as in
# direct_upgrade.sh):
#
#     alice (hooks-alice/, limit 10 s) -- nata --+-- srva, srvb, dns --+-- natb -- bob (hooks-bob/, limit 5 s)
#
# Every hook of the test writes its whole environment to hookenv-NODE/HOOK.N.env.
#
# 1. vertex-up on both: interface, identity, own overlay addresses as `vertex status` says.
# 2. contact-request answers with no person: bob's hook prints "deny" for web and alice's
#    connect ends denied; it prints something else for ftp, which then waits for bob (who
#    denies it by hand); it prints "approve" for ssh and alice's connect succeeds. Its
#    environment names the asker, the purpose and her certificate's fingerprint.
# 3. peer-up on both sides: peer identity, its overlay addresses as `vertex peers` says, the
#    approved purposes in both directions, path relay via both domains.
# 4. path-change on both when the direct path takes over: relay -> udp and the endpoint
#    `vertex peers` shows. bob's path-change hook then hangs (and leaves a child): while it
#    hangs bob's agent answers and ping works; at its 5 s limit it is killed with its child.
# 5. alice stops: her vertex-down runs; bob's peer-down names her. bob's vertex-down hangs
#    forever: his agent still exits, cleanly, within the limit and a little.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
command -v jq >/dev/null || skip "missing tool: jq"
nat_lab_up pass

ALICE=alice@$DOMAIN_A
BOB=bob@$DOMAIN_B
server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva
server_start srvb
enrolled alice alice "$ALICE"
enrolled bob bob "$BOB"
lab_agent_config alice "$ALICE" fd00:5678:a1::/48
lab_agent_config bob "$BOB" fd00:5678:b1::/48
printf 'purpose ssh tcp/22\npurpose web tcp/80\npurpose ftp tcp/21\n' >>"$VTX_TMP/bob.conf"
printf 'hooks %s\n' "$VTX_TMP/hooks-alice" >>"$VTX_TMP/alice.conf"
printf 'hooks %s\nhook-timeout-seconds 5\n' "$VTX_TMP/hooks-bob" >>"$VTX_TMP/bob.conf"

# hook_script NODE HOOK [EXTRA-SH]: a hook that records its environment, then runs EXTRA-SH.
hook_script()
{
	local node=$1 hook=$2 extra=${3:-} dir=$VTX_TMP/hooks-$1 out=$VTX_TMP/hookenv-$1
	mkdir -p "$dir" "$out"
	cat >"$dir/$hook" <<-EOF
		#!/bin/sh
		# Written by tests/integration/hooks.sh: the environment, atomically, then the rest.
		f=$out/$hook.\$(date +%s%N)
		env | sort >"\$f.tmp" && mv "\$f.tmp" "\$f.env"
		$extra
	EOF
	chmod 755 "$dir/$hook"
}

# hook_ran NODE HOOK: a run of HOOK on NODE recorded its environment.
hook_ran()
{
	compgen -G "$VTX_TMP/hookenv-$1/$2.*.env" >/dev/null
}

# hook_var NODE HOOK VAR: VAR as the latest run of HOOK on NODE saw it (fails if unset).
hook_var()
{
	local f
	f=$(find "$VTX_TMP/hookenv-$1" -name "$2.*.env" | sort | tail -1)
	[[ -n $f ]] || fail "$1: $2 never ran"
	grep -q "^$3=" "$f" || fail "$1: $2 ran without $3: $(cat "$f")"
	sed -n "s/^$3=//p" "$f"
}

# expect_var NODE HOOK VAR VALUE
expect_var()
{
	local got
	got=$(hook_var "$1" "$2" "$3")
	[[ $got == "$4" ]] || fail "$1: $2 saw $3='$got', want '$4'"
}

home_up()
{
	[[ $(vtx_ctl "$1" status --json | jq -r .server_state) == up ]]
}

peer_field() # peer_field NAME IDENTITY FIELD
{
	vtx_ctl "$1" peers --json | jq -er --arg id "$2" ".peers[] | select(.identity == \$id) | .$3"
}

for node in alice bob; do
	for hook in vertex-up vertex-down peer-up peer-down path-change; do
		hook_script "$node" "$hook"
	done
done
# bob answers requests: ssh approved, web denied, anything else left to him.
hook_script bob contact-request 'case $VERTEX_REQUEST_PURPOSE in
ssh) echo approve ;;
web) echo deny ;;
*) echo "not sure" ;;
esac'
# bob's path-change hangs with a child of its own; his vertex-down hangs too.
hook_script bob path-change "sleep 1000 & echo \$! >$VTX_TMP/hang.pid; sleep 1000"
hook_script bob vertex-down "sleep 1000"
# A file that is not executable is skipped quietly.
printf '#!/bin/sh\nexit 1\n' >"$VTX_TMP/hooks-alice/contact-request"

say "1. vertex-up"
lab_agent_start alice alice
lab_agent_start bob bob
for node in alice bob; do
	wait_until 10 hook_ran "$node" vertex-up || fail "$node: vertex-up never ran"
	expect_var "$node" vertex-up VERTEX_HOOK vertex-up
	expect_var "$node" vertex-up VERTEX_INTERFACE vtx0
	expect_var "$node" vertex-up VERTEX_OWN_ADDR4 "$(vtx_ctl "$node" status --json | jq -r .overlay4)"
	expect_var "$node" vertex-up VERTEX_OWN_ADDR6 "$(vtx_ctl "$node" status --json | jq -r .overlay6)"
	wait_until 10 grep -q "hook vertex-up: exit status 0" "$VTX_TMP/$node.log" ||
		fail "$node: vertex-up's exit not logged"
done
expect_var alice vertex-up VERTEX_IDENTITY "$ALICE"
expect_var bob vertex-up VERTEX_IDENTITY "$BOB"
grep -q "hooks in $VTX_TMP/hooks-alice: vertex-up vertex-down peer-up peer-down path-change (" \
	"$VTX_TMP/alice.log" || fail "alice's start-up does not list her hooks: $(grep 'hooks in' "$VTX_TMP/alice.log")"
pass "vertex-up on both, with interface, identity and own addresses; the hooks listed once"
wait_until 20 home_up alice || fail "alice's agent never connects to its server"
wait_until 20 home_up bob || fail "bob's agent never connects to its server"

say "2. contact-request: the hook answers"
OUT=$(vtx_ctl alice connect "$BOB/web" --wait 30 --json) && fail "web: connect succeeded: $OUT"
[[ $(jq -r .state <<<"$OUT") == denied ]] || fail "web: $OUT"
expect_var bob contact-request VERTEX_REQUEST_FROM "$ALICE"
expect_var bob contact-request VERTEX_REQUEST_PURPOSE web
FPR=$(hook_var bob contact-request VERTEX_REQUEST_FPR)
[[ $FPR =~ ^[0-9a-f]{64}$ ]] || fail "VERTEX_REQUEST_FPR '$FPR'"
grep -q "$ALICE (certificate ${FPR:0:16}...) asks for web" "$VTX_TMP/bob.log" ||
	fail "the fingerprint is not the one bob's agent logged: $FPR"
grep -q "hook contact-request: denied $ALICE for web" "$VTX_TMP/bob.log" || fail "denial not logged"
pass "web: the hook printed deny, alice's connect ended denied"
# Any other answer leaves the request to the person: ftp waits until bob denies it himself.
vtx_ctl alice connect "$BOB/ftp" --wait 30 --json >"$VTX_TMP/ftp.out" 2>&1 &
FTP_PID=$!
track_pid "$FTP_PID"
wait_until 20 grep -q "hook contact-request: no answer; the request of $ALICE for ftp waits for a person" \
	"$VTX_TMP/bob.log" || fail "the hook's non-answer was not logged"
expect_var bob contact-request VERTEX_REQUEST_PURPOSE ftp
[[ $(vtx_ctl bob requests --json | jq -r '.incoming[] | select(.purpose == "ftp") | .fpr') == "$FPR" ]] ||
	fail "ftp does not wait for bob, or with another fingerprint: $(vtx_ctl bob requests --json)"
vtx_ctl bob deny "$ALICE" ftp >/dev/null || fail "bob's own deny failed"
wait "$FTP_PID" && fail "ftp: connect succeeded"
[[ $(jq -r .state "$VTX_TMP/ftp.out") == denied ]] || fail "ftp: $(cat "$VTX_TMP/ftp.out")"
pass "ftp: the hook said something else, the request waited for bob (same fingerprint), he denied it"
vtx_ctl alice connect "$BOB/ssh" --wait 30 >"$VTX_TMP/connect.out" 2>&1 ||
	fail "ssh: connect: $(cat "$VTX_TMP/connect.out")"
expect_var bob contact-request VERTEX_REQUEST_PURPOSE ssh
grep -q "hook contact-request: approved $ALICE for ssh" "$VTX_TMP/bob.log" || fail "approval not logged"
[[ -z $(vtx_ctl bob requests --json | jq -r '.incoming[]') ]] || fail "a request still waits"
pass "ssh: the hook printed approve, alice's connect succeeded with no one asked"

say "3. peer-up"
wait_until 20 hook_ran alice peer-up || fail "alice: peer-up never ran"
wait_until 20 hook_ran bob peer-up || fail "bob: peer-up never ran"
BOB4=$(peer_field alice "$BOB" overlay4)
ALICE4=$(peer_field bob "$ALICE" overlay4)
expect_var alice peer-up VERTEX_PEER "$BOB"
expect_var alice peer-up VERTEX_PEER_ADDR4 "$BOB4"
expect_var alice peer-up VERTEX_PEER_ADDR6 "$(peer_field alice "$BOB" overlay6)"
expect_var alice peer-up VERTEX_PURPOSES "out:ssh/tcp/22"
expect_var alice peer-up VERTEX_PATH relay
expect_var alice peer-up VERTEX_ENDPOINT "$DOMAIN_A $DOMAIN_B"
expect_var alice peer-up VERTEX_INTERFACE vtx0
expect_var alice peer-up VERTEX_OWN_ADDR4 "$(vtx_ctl alice status --json | jq -r .overlay4)"
expect_var bob peer-up VERTEX_PEER "$ALICE"
expect_var bob peer-up VERTEX_PEER_ADDR4 "$ALICE4"
expect_var bob peer-up VERTEX_PEER_ADDR6 "$(peer_field bob "$ALICE" overlay6)"
expect_var bob peer-up VERTEX_PURPOSES "in:ssh/tcp/22"
expect_var bob peer-up VERTEX_PATH relay
expect_var bob peer-up VERTEX_ENDPOINT "$DOMAIN_B $DOMAIN_A"
expect_var bob peer-up VERTEX_OWN_ADDR6 "$(vtx_ctl bob status --json | jq -r .overlay6)"
pass "peer-up on both: the peer, its addresses, the purposes each way, path relay"

say "4. path-change, and a hook that hangs"
# bob's hook hangs from its start: the checks while it hangs come first, within its 5 s
# (ample for them even on a loaded machine under ASan).
wait_until 40 hook_ran bob path-change || fail "bob: path-change never ran: $(vtx_ctl bob peers)"
T_HANG=$SECONDS
wait_until 2 test -s "$VTX_TMP/hang.pid" || fail "the hanging hook's child never started"
HANG_CHILD=$(cat "$VTX_TMP/hang.pid")
pid_is_running "$HANG_CHILD" || fail "the hanging hook's child is not running"
vtx_ctl bob status >/dev/null || fail "bob's agent does not answer while a hook hangs"
check_ping on_alice "$BOB4" # alice may reach bob (ssh approved); bob nothing of hers: the firewall
grep -q "hook path-change: killed" "$VTX_TMP/bob.log" && fail "killed before the checks ran: too slow"
pass "while bob's path-change hangs: status answers, ping works"
wait_until 30 hook_ran alice path-change || fail "alice: path-change never ran: $(vtx_ctl alice peers)"
for pair in "alice $BOB $DOMAIN_A $DOMAIN_B" "bob $ALICE $DOMAIN_B $DOMAIN_A"; do
	read -r node peer d1 d2 <<<"$pair"
	expect_var "$node" path-change VERTEX_PEER "$peer"
	expect_var "$node" path-change VERTEX_OLD_PATH relay
	expect_var "$node" path-change VERTEX_OLD_ENDPOINT "$d1 $d2"
	expect_var "$node" path-change VERTEX_PATH udp
	expect_var "$node" path-change VERTEX_ENDPOINT "$(peer_field "$node" "$peer" endpoint)"
done
pass "path-change on both: relay -> udp, with the endpoint vertex peers shows"
wait_until 10 grep -q "hook path-change: killed after" "$VTX_TMP/bob.log" ||
	fail "the hanging hook was never killed"
MS=$(sed -n 's/.*hook path-change: killed after \([0-9]*\) ms.*/\1/p' "$VTX_TMP/bob.log" | head -1)
((MS >= 5000 && MS < 6500)) || fail "killed after $MS ms, limit 5000"
wait_until 5 pid_is_gone "$HANG_CHILD" || fail "the hook's child survived: the group was not killed"
vtx_ctl bob status >/dev/null || fail "bob's agent does not answer after the kill"
check_ping on_alice "$BOB4"
pass "killed at its limit ($MS ms) with its child; bob's agent serves on ($((SECONDS - T_HANG)) s)"

say "5. peer-down, vertex-down"
vtx_stop alice
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd alice exited with $VTX_LAST_RC"
hook_ran alice vertex-down || fail "alice: vertex-down never ran"
expect_var alice vertex-down VERTEX_INTERFACE vtx0
expect_var alice vertex-down VERTEX_IDENTITY "$ALICE"
expect_var alice vertex-down VERTEX_OWN_ADDR4 "$(hook_var alice vertex-up VERTEX_OWN_ADDR4)"
expect_var alice vertex-down VERTEX_OWN_ADDR6 "$(hook_var alice vertex-up VERTEX_OWN_ADDR6)"
grep -q "hook vertex-down: exit status 0" "$VTX_TMP/alice.log" || fail "alice's vertex-down exit not logged"
pass "alice's vertex-down ran before her agent exited"
wait_until 20 hook_ran bob peer-down || fail "bob: peer-down never ran: $(vtx_ctl bob peers)"
expect_var bob peer-down VERTEX_PEER "$ALICE"
expect_var bob peer-down VERTEX_PEER_ADDR4 "$ALICE4"
expect_var bob peer-down VERTEX_PEER_ADDR6 "$(hook_var bob peer-up VERTEX_PEER_ADDR6)"
expect_var bob peer-down VERTEX_PURPOSES "in:ssh/tcp/22"
[[ $(hook_var bob peer-down VERTEX_PATH) =~ ^(udp|relay)$ ]] || fail "peer-down's path"
hook_var bob peer-down VERTEX_ENDPOINT >/dev/null
pass "bob's peer-down names alice, her addresses and purposes"
T0=$SECONDS
vtx_stop bob
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd bob exited with $VTX_LAST_RC"
((SECONDS - T0 >= 4 && SECONDS - T0 <= 9)) || fail "bob's stop took $((SECONDS - T0)) s (limit 5 s)"
hook_ran bob vertex-down || fail "bob: vertex-down never ran"
grep -q "hook vertex-down: killed after" "$VTX_TMP/bob.log" || fail "bob's vertex-down was not killed"
pass "bob's vertex-down hung: killed at its limit, the agent exited cleanly in $((SECONDS - T0)) s"
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
