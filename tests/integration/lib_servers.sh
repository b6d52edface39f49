#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Servers and enrolled agents in the two-domain lab (sourced after lib.sh and lib_domains.sh).
#
#   server_init NODE DOMAIN          vertex-server init in $VTX_TMP/NODE (prints the CA print)
#   server_start NODE [RUN-ARGS...]  run it in NODE's namespace, log $VTX_TMP/NODE.log
#                                    (with --alt-address IP when domain_server_alt gave NODE one)
#   server_stop NODE                 SIGTERM; VTX_LAST_RC is its exit status
#   server_admin NODE VERB...        an administrative verb on NODE's state directory
#   enrolled NODE NAME IDENTITY      user add + invite + vertex register from NODE's namespace:
#                                    $VTX_TMP/NAME.{key,crt,ca}
#   lab_agent_config NAME IDENTITY POOL6 PEER-IDENTITY PEER-ADDR [PEER-IDENTITY PEER-ADDR]...
#                                    $VTX_TMP/NAME.conf: its own domain's CA, `server auto`,
#                                    static peers at PEER-ADDR:4800
#   lab_agent_start NODE NAME        vertexd in NODE's namespace (through lib.sh's vtx_start)
#
# shellcheck disable=SC2034

VERTEX_SERVER=$VTX_BUILD/vertex-server
declare -A VTX_SERVER_PID=()
declare -A VTX_SERVER_ALT=() # a node's second address (domain_server_alt): --alt-address

server_init()
{
	local node=$1 domain=$2
	in_ns "$node" "$VERTEX_SERVER" -D "$VTX_TMP/$node" init --domain "$domain" |
		tee "$VTX_TMP/$node.init" >/dev/null
	awk '/ CA / { print $NF }' "$VTX_TMP/$node.init"
}

server_admin()
{
	local node=$1
	shift
	"$VERTEX_SERVER" -D "$VTX_TMP/$node" "$@"
}

server_start()
{
	local node=$1 ip pid
	shift
	[[ -z ${VTX_SERVER_ALT[$node]:-} ]] || set -- --alt-address "${VTX_SERVER_ALT[$node]}" "$@"
	pretty "$node" "vertex-server -D $node run $* &"
	ip netns exec "$(ns_for "$node")" "$VERTEX_SERVER" -D "$VTX_TMP/$node" run "$@" \
		>>"$VTX_TMP/$node.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	VTX_SERVER_PID[$node]=$pid
	# The first address only (a node may have more, e.g. a server hosting a second domain).
	ip=$(qn "$node" ip -4 -o addr show dev eth0 | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
	wait_until 10 qn "$node" bash -c "exec 3<>/dev/tcp/$ip/$SERVER_PORT" ||
		fail "vertex-server in $node does not listen: $(tail -3 "$VTX_TMP/$node.log")"
	pass "vertex-server $node running (PID $pid)"
}

server_stop()
{
	pretty "$1" "kill -TERM ${VTX_SERVER_PID[$1]}  # vertex-server"
	stop_pid "${VTX_SERVER_PID[$1]}" TERM
}

enrolled()
{
	local node=$1 name=$2 id=$3 code srv
	srv=${SERVER_OF[${id#*@}]}
	server_admin "$srv" user add "${id%@*}" >/dev/null
	code=$(server_admin "$srv" invite new "${id%@*}")
	qn "$node" "$VERTEX" register "$id" --invite "$code" --key "$VTX_TMP/$name.key" \
		--cert "$VTX_TMP/$name.crt" --ca "$VTX_TMP/$name.ca" >"$VTX_TMP/$name.reg" 2>&1 ||
		fail "$id could not register: $(cat "$VTX_TMP/$name.reg")"
	pass "$id enrolled from $node"
}

lab_agent_config()
{
	local name=$1 id=$2 pool6=$3
	shift 3
	{
		printf 'identity   %s\n' "$id"
		printf 'key        %s\n' "$VTX_TMP/$name.key"
		printf 'cert       %s\n' "$VTX_TMP/$name.crt"
		printf 'ca         %s %s\n' "${id#*@}" "$VTX_TMP/$name.ca"
		printf 'interface  vtx0\nport       4800\n'
		printf 'pool6      %s\n' "$pool6"
		printf 'state      %s\n' "$VTX_TMP/$name.db"
		printf 'control    %s\n' "$VTX_TMP/$name.sock"
		printf 'rekey-after-seconds %s\n' "${VTX_REKEY_SEC:-120}"
		printf 'keepalive-seconds 5\n'
		printf 'server     auto\n'
		while (($# >= 2)); do
			printf 'peer %s {\n    endpoint %s:4800\n}\n' "$1" "$2"
			shift 2
		done
	} >"$VTX_TMP/$name.conf"
}

lab_agent_start()
{
	vtx_start "$(ns_for "$1")" "$2"
}

# Which lab node serves which domain.
declare -A SERVER_OF=([$DOMAIN_A]=srva [$DOMAIN_B]=srvb [$DOMAIN_C]=srvc)
