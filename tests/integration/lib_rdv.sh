#!/bin/bash
# SPDX-License-Identifier: MIT
#
# What the scenarios of agents that meet by rendezvous share (sourced after lib.sh and
# lib_servers.sh):
#
#   home_up NAME                       NAME's agent is connected to its home server
#   peer_field NAME IDENTITY FIELD     a field of NAME's `vertex peers --json` for IDENTITY
#   path_is NAME IDENTITY PATH         NAME reaches IDENTITY over PATH (udp, tcp, relay)
#   rdv_ask_approve ASKER ASKER-ID OWNER OWNER-ID PURPOSE
#                                      ASKER asks for OWNER-ID/PURPOSE, OWNER approves, and
#                                      the connect returns; fails the scenario otherwise
#   rdv_alice_bob                      on the NAT lab (lib_nat.sh, up already): both domains'
#                                      servers, alice@a and bob@b enrolled and at home, bob
#                                      offering ssh (tcp/22); sets ALICE and BOB
#   rdv_alice_bob_direct               and then: alice asks, bob approves, both go direct
#                                      (UDP); sets BOB4, HS_A and HS_B (their handshakes)
#
# shellcheck disable=SC2034 # ALICE, BOB, BOB4, HS_A, HS_B are for the scenarios

home_up()
{
	[[ $(vtx_ctl "$1" status --json | jq -r .server_state) == up ]]
}

peer_field()
{
	vtx_ctl "$1" peers --json | jq -er --arg id "$2" ".peers[] | select(.identity == \$id) | .$3"
}

path_is()
{
	[[ $(peer_field "$1" "$2" path 2>/dev/null) == "$3" ]]
}

rdv_ask_approve()
{
	local asker=$1 asker_id=$2 owner=$3 owner_id=$4 purpose=$5 pid
	vtx_ctl "$asker" connect "$owner_id/$purpose" --wait 60 >"$VTX_TMP/connect.out" 2>&1 &
	pid=$!
	track_pid "$pid"
	wait_until 20 bash -c "'$VERTEX' -s '$VTX_TMP/$owner.sock' requests --json |
		jq -e '.incoming[] | select(.identity == \"$asker_id\")'" ||
		fail "$owner never sees the request of $asker_id"
	vtx_ctl "$owner" approve "$asker_id" "$purpose" >/dev/null || fail "approve failed"
	wait "$pid" || fail "connect: $(cat "$VTX_TMP/connect.out")"
}

rdv_alice_bob()
{
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
	printf 'purpose ssh tcp/22\n' >>"$VTX_TMP/bob.conf"
	lab_agent_start alice alice
	lab_agent_start bob bob
	wait_until 20 home_up alice || fail "alice's agent never connects to its server"
	wait_until 20 home_up bob || fail "bob's agent never connects to its server"
}

rdv_alice_bob_direct()
{
	rdv_alice_bob
	rdv_ask_approve alice "$ALICE" bob "$BOB" ssh
	BOB4=$(vtx_ctl alice resolve --address "$BOB/ssh")
	wait_until 20 path_is alice "$BOB" udp || fail "alice never goes direct: $(vtx_ctl alice peers)"
	wait_until 20 path_is bob "$ALICE" udp || fail "bob never goes direct: $(vtx_ctl bob peers)"
	HS_A=$(peer_field alice "$BOB" handshakes)
	HS_B=$(peer_field bob "$ALICE" handshakes)
}
