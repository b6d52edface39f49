#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Every answer a contact request can get, as alice's `vertex connect` prints it, on the flat
# two-domain lab (lib_domains.sh): bob@b offers ssh to anyone and web to carol alone.
#
# 1. Each refusal is distinct and says why: a purpose bob does not offer, one he offers but not
#    to alice, a user b's server does not know, a known user whose agent is offline, a domain
#    that cannot be reached, bob's denial, and no answer in time.
# 2. Privacy: bob's agent with `privacy on` and b's server with `run --private`: the purpose not
#    offered, the purpose not offered to alice, the denial, the unknown and the offline user all
#    end the same way, as no answer, after the request's whole wait.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"

vtx_require
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
command -v jq >/dev/null || skip "missing tool: jq"
domains_up

ALICE=alice@$DOMAIN_A
BOB=bob@$DOMAIN_B
server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva
server_start srvb
enrolled alice alice "$ALICE"
enrolled bob bob "$BOB"
server_admin srvb user add carol >/dev/null # an account whose agent never runs
lab_agent_config alice "$ALICE" fd00:5678:a1::/48
lab_agent_config bob "$BOB" fd00:5678:b1::/48
printf 'purpose ssh tcp/22\npurpose web tcp/80 allow carol@%s\n' "$DOMAIN_B" >>"$VTX_TMP/bob.conf"

home_up()
{
	[[ $(vtx_ctl "$1" status --json | jq -r .server_state) == up ]]
}

start_agent()
{
	lab_agent_start "$1" "$1"
	wait_until 20 home_up "$1" || fail "$1's agent never connects to its server"
}

# ask TARGET WAIT STATE MESSAGE-PATTERN: alice's connect ends in STATE, printing MESSAGE.
ask()
{
	local target=$1 wait=$2 state=$3 pattern=$4 out
	out=$(vtx_ctl alice connect "$target" --wait "$wait" --json) && fail "$target: connect succeeded: $out"
	[[ $(jq -r .state <<<"$out") == "$state" ]] || fail "$target: state $(jq -r .state <<<"$out"), want $state ($out)"
	[[ $(jq -r .message <<<"$out") =~ $pattern ]] || fail "$target: message '$(jq -r .message <<<"$out")'"
	pass "$target: $state, \"$(jq -r .message <<<"$out")\""
}

say "1. distinct answers"
start_agent alice
start_agent bob
grep -q "^purpose ssh tcp/22$" "$VTX_TMP/bob.norm" || fail "vertexd -n does not print the purposes: $(cat "$VTX_TMP/bob.norm")"
grep -q "^purpose web tcp/80 allow carol@$DOMAIN_B$" "$VTX_TMP/bob.norm" || fail "vertexd -n: web"
pass "vertexd -n prints bob's purposes"
# No NAT on this LAN: the server sees alice's own address, one mapping, nothing filtered.
netcheck_done()
{
	[[ $(vtx_ctl alice netcheck --json | jq -r .nat.filtering) != unknown &&
		$(vtx_ctl alice netcheck --json | jq -r .nat.mapping) != unknown ]]
}
wait_until 30 netcheck_done || fail "netcheck never classifies: $(vtx_ctl alice netcheck)"
NC=$(vtx_ctl alice netcheck --json)
[[ $(jq -r .nat.reflexive <<<"$NC") == "$ALICE_IP:4800" &&
	$(jq -r .nat.mapping <<<"$NC") == endpoint-independent &&
	$(jq -r .nat.filtering <<<"$NC") == open ]] || fail "netcheck without a NAT: $NC"
pass "netcheck with no NAT: reflexive $ALICE_IP:4800, endpoint-independent, open"
ask "$BOB/ftp" 10 no_purpose "^$BOB offers no purpose 'ftp' to us$"
ask "$BOB/web" 10 no_purpose "^$BOB offers no purpose 'web' to us$"
ask "nobody@$DOMAIN_B/ssh" 10 unknown_user "^$DOMAIN_B has no user nobody$"
ask "carol@$DOMAIN_B/ssh" 10 offline "^carol@$DOMAIN_B is offline"
ask "zed@z.example.com/ssh" 30 unreachable "^the server of z.example.com cannot be reached$"
vtx_ctl alice connect "$BOB/ssh" --wait 30 --json >"$VTX_TMP/deny.out" 2>&1 &
DENY_PID=$!
track_pid "$DENY_PID"
wait_until 20 bash -c "'$VERTEX' -s '$VTX_TMP/bob.sock' requests --json | jq -e '.incoming[0]'" ||
	fail "bob never sees the request"
vtx_ctl bob deny "$ALICE" ssh >/dev/null || fail "deny failed"
wait "$DENY_PID" && fail "connect succeeded after a denial"
[[ $(jq -r .state "$VTX_TMP/deny.out") == denied ]] || fail "after deny: $(cat "$VTX_TMP/deny.out")"
[[ $(jq -r .message "$VTX_TMP/deny.out") == "$BOB denied the request for ssh" ]] || fail "deny message"
pass "$BOB/ssh: denied, \"$(jq -r .message "$VTX_TMP/deny.out")\""
T0=$SECONDS
ask "$BOB/ssh" 3 timeout "^no answer from $BOB within 3 s$"
((SECONDS - T0 >= 3)) || fail "the timeout came before the request's wait"
[[ -z $(vtx_ctl bob requests --json | jq -r '.incoming[]') ]] || fail "bob still holds the expired request"
pass "bob's side forgot the expired request too"

say "2. privacy: every refusal looks alike"
vtx_stop bob
printf 'privacy on\n' >>"$VTX_TMP/bob.conf"
server_stop srvb
server_start srvb --private
start_agent bob
for target in "$BOB/ftp" "$BOB/web" "nobody@$DOMAIN_B/ssh" "carol@$DOMAIN_B/ssh"; do
	T0=$SECONDS
	ask "$target" 3 timeout "^no answer from ${target%/*} within 3 s$"
	((SECONDS - T0 >= 3)) || fail "$target: answered before the wait ended"
done
vtx_ctl alice connect "$BOB/ssh" --wait 3 --json >"$VTX_TMP/deny.out" 2>&1 &
DENY_PID=$!
track_pid "$DENY_PID"
wait_until 20 bash -c "'$VERTEX' -s '$VTX_TMP/bob.sock' requests --json | jq -e '.incoming[0]'" ||
	fail "bob never sees the request"
vtx_ctl bob deny "$ALICE" ssh >/dev/null || fail "deny failed"
wait "$DENY_PID" && fail "connect succeeded after a denial"
[[ $(jq -r .state "$VTX_TMP/deny.out") == timeout ]] || fail "private deny: $(cat "$VTX_TMP/deny.out")"
pass "with privacy, a denial ends as no answer too"

for n in alice bob; do
	vtx_stop "$n"
	[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
done
server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
