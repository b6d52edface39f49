#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Rendezvous probes (tests/integration/tools/rdv_probe.c: an enrolled identity that speaks the
# control records itself, one command a line on its stdin, one line per record on its stdout),
# for the server scenarios on lib_domains.sh's lab. Sourced after lib.sh, lib_domains.sh and
# lib_servers.sh; needs RDV_PROBE (the tool's path).
#
#   probe_start NAME NODE DOMAIN   NAME's probe (NAME.key/.crt/.ca, from `enrolled`) in NODE,
#                                  to its home server; returns once the server said HELLO
#   probe_stop NAME                closes its stdin, stops it
#   probe_send NAME LINE           one command
#   probe_sync NAME                a PING through its connection, waited for: the server has
#                                  handled everything NAME sent before
#   probe_has NAME REGEX / probe_count NAME REGEX
#   expect_line SECONDS NAME REGEX WHAT   waits for a line, else fails the scenario
#   hexof BYTES / fpr_of NAME      random hex; the probe's own certificate fingerprint
#
# shellcheck disable=SC2034

declare -A PROBE_FD=() PROBE_PID=() PROBE_OUT=()
PROBE_SEQ=0

# probe_start NAME NODE DOMAIN: NAME's probe in NODE's namespace, to NAME's home server; its output
# in $VTX_TMP/NAME.N.out (N counts the runs); returns once the server said HELLO.
probe_start()
{
	local name=$1 node=$2 domain=$3 srv ip fd
	srv=${SERVER_OF[$domain]}
	ip=$([[ $srv == srva ]] && echo "$SRVA_IP" || echo "$SRVB_IP")
	PROBE_SEQ=$((PROBE_SEQ + 1))
	PROBE_OUT[$name]=$VTX_TMP/$name.$PROBE_SEQ.out
	rm -f "$VTX_TMP/$name.in"
	mkfifo "$VTX_TMP/$name.in"
	pretty "$node" "rdv_probe $ip:$SERVER_PORT $name.key $name.crt $domain $name.ca &"
	ip netns exec "$(ns_for "$node")" "$RDV_PROBE" "$ip:$SERVER_PORT" "$VTX_TMP/$name.key" \
		"$VTX_TMP/$name.crt" "$domain" "$VTX_TMP/$name.ca" <"$VTX_TMP/$name.in" \
		>"${PROBE_OUT[$name]}" 2>"${PROBE_OUT[$name]}.err" &
	PROBE_PID[$name]=$!
	track_pid "${PROBE_PID[$name]}"
	exec {fd}>"$VTX_TMP/$name.in"
	PROBE_FD[$name]=$fd
	wait_until 20 grep -q '^hello ' "${PROBE_OUT[$name]}" ||
		fail "$name's probe got no HELLO: $(cat "${PROBE_OUT[$name]}" "${PROBE_OUT[$name]}.err")"
}

probe_stop()
{
	local name=$1 fd=${PROBE_FD[$1]}
	exec {fd}>&-
	stop_pid "${PROBE_PID[$name]}"
}

# probe_send NAME LINE: one command to NAME's probe.
probe_send()
{
	local shown=$2
	((${#shown} <= 120)) || shown="${shown:0:100}... (${#2} characters)"
	pretty "$1" "probe: $shown"
	printf '%s\n' "$2" >&"${PROBE_FD[$1]}"
}

# probe_sync NAME: a PING through NAME's connection; once the PONG is back, the server has
# handled everything NAME sent before it.
probe_sync()
{
	local n=$((PROBE_SEQ * 1000 + RANDOM))
	printf 'ping %s\n' "$n" >&"${PROBE_FD[$1]}"
	wait_until 10 grep -q "^pong $n\$" "${PROBE_OUT[$1]}" || fail "$1's probe: no PONG"
}

probe_has() # probe_has NAME REGEX
{
	grep -Eq -- "$2" "${PROBE_OUT[$1]}"
}

probe_count() # probe_count NAME REGEX: how many lines match
{
	grep -Ec -- "$2" "${PROBE_OUT[$1]}" || true
}

expect_line() # expect_line SECONDS NAME REGEX WHAT
{
	wait_until "$1" probe_has "$2" "$3" ||
		fail "$2 never received $4: $(tail -5 "${PROBE_OUT[$2]}"; tail -3 "$VTX_TMP/srva.log" "$VTX_TMP/srvb.log")"
	pass "$2 received $4"
}

hexof() # hexof BYTES: that many random bytes, in hex
{
	head -c "$1" /dev/urandom | od -An -tx1 -v | tr -d ' \n'
}

fpr_of() # fpr_of NAME: the fingerprint the probe printed for its own certificate
{
	awk '/^self / { print $3; exit }' "${PROBE_OUT[$1]}"
}

