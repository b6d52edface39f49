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
