#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Helpers for the network-namespace integration scenarios (STYLE §25), in the shape of
# WireGuard's netns.sh: every scenario builds its own namespaces with names unique to the run,
# echoes each command with the namespace it runs in, polls with a bounded wait_until instead of
# sleeping blindly, and always tears down what it made -- the PIDs it started (by PID, nothing
# else) and its namespaces -- from an EXIT trap, whatever happened.
#
# The standard topology (topo_up):
#
#     host1 (h1)                     router (r)                     host2 (h2)
#     eth0 198.18.1.1/24   ---   r1 198.18.1.254   r2 198.18.2.254   ---   eth0 198.18.2.1/24
#          fd00:198:18:1::1/64      fd00:198:18:1::254                fd00:198:18:2::1/64
#                                   fd00:198:18:2::254 (forwarding on)
#
# The hosts route only the underlay (198.18.0.0/15, fd00:198:18::/48) via the router, so a packet
# to an overlay address goes nowhere unless vertexd has put its routes on vtx0.
#
# A scenario sources this file, calls vtx_require (which exits 77 = skipped when it cannot run
# here), topo_up, and then uses n1/n2/nr to run commands in host1/host2/router.
#
# Environment: VERTEX_BUILD_DIR (default <repo>/build) locates vertexd, vertex and the test
# tools; VTX_NS_PREFIX (default "vtxt") starts every namespace name; VTX_KEEP=1 keeps the
# temporary directory (logs, keys) after the run.

# The constants below are used by the scenarios that source this file (file-wide directive):
# shellcheck disable=SC2034

set -e -o pipefail

VTX_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VTX_BUILD=${VERTEX_BUILD_DIR:-build}
[[ $VTX_BUILD == /* ]] || VTX_BUILD=$VTX_REPO/$VTX_BUILD
VERTEXD=$VTX_BUILD/vertexd
VERTEX=$VTX_BUILD/vertex

VTX_RUN=${VTX_NS_PREFIX:-vtxt}-$$-$RANDOM
NS1=$VTX_RUN-h1
NS2=$VTX_RUN-h2
NSR=$VTX_RUN-r
VTX_NAMESPACES=()
VTX_PIDS=()
declare -A VTX_DAEMON_PID=() VTX_DAEMON_NS=() VTX_DAEMON_STOPPED=()
VTX_TMP=
VTX_SCENARIO=$(basename "${0%.sh}")

# Addresses of the standard topology.
H1_IP4=198.18.1.1
H2_IP4=198.18.2.1
R1_IP4=198.18.1.254
R2_IP4=198.18.2.254
H1_IP6=fd00:198:18:1::1
H2_IP6=fd00:198:18:2::1
R1_IP6=fd00:198:18:1::254
R2_IP6=fd00:198:18:2::254
VTX_PORT=4800
# Overlay pools: both agents use the default IPv4 pool; each has its own IPv6 ULA /48, which also
# exercises the address translation at the edge (each side sees the other under its own pool).
POOL4=100.64.0.0/10
H1_POOL6=fd00:5678:1::/48
H2_POOL6=fd00:5678:2::/48
# As seen from each side: itself is the first host of its pools, its one peer the second.
OVL4_SELF=100.64.0.1
OVL4_PEER=100.64.0.2
H1_OVL6_SELF=fd00:5678:1::1
H1_OVL6_PEER=fd00:5678:1::2
H2_OVL6_SELF=fd00:5678:2::1
H2_OVL6_PEER=fd00:5678:2::2
DOMAIN=a.example.com
ALICE=alice@$DOMAIN
BOB=bob@$DOMAIN
CAROL=carol@$DOMAIN

# --- reporting --------------------------------------------------------------------------------

pretty() # pretty NS-LABEL TEXT: print a command (or a note) with where it runs
{
	if [[ -t 2 ]]; then
		printf '\033[1;32m[%s]\033[0m %s\n' "$1" "$2" >&2
	else
		printf '[%s] %s\n' "$1" "$2" >&2
	fi
}

say()
{
	pretty "$VTX_SCENARIO" "$*"
}

pass()
{
	pretty PASS "$*"
}

# fail MESSAGE: report and end the scenario (the trap cleans up and dumps daemon logs).
fail()
{
	pretty FAIL "$*"
	exit 1
}

skip()
{
	pretty SKIP "$*"
	exit 77
}

# --- running commands ---------------------------------------------------------------------------

# expect_rc RC CMD...: run CMD, which must exit with RC; its standard error ends up in $ERR,
# its standard output in $OUT.
expect_rc()
{
	local want=$1 rc=0 errf
	shift
	pretty host "$* (expect exit $want)"
	errf=$(mktemp)
	OUT=$("$@" 2>"$errf") || rc=$?
	ERR=$(<"$errf")
	rm -f "$errf"
	[[ $rc -eq $want ]] || fail "$*: exit $rc, want $want ($ERR)"
	say "  -> exit $rc: $ERR"
}

# expect_err PATTERN: the last expect_rc printed a message containing PATTERN.
expect_err()
{
	[[ $ERR == *"$1"* ]] || fail "message '$ERR' lacks '$1'"
}

pp()
{
	pretty host "$*"
	"$@"
}
n1()
{
	pretty h1 "$*"
	ip netns exec "$NS1" "$@"
}
n2()
{
	pretty h2 "$*"
	ip netns exec "$NS2" "$@"
}
nr()
{
	pretty r "$*"
	ip netns exec "$NSR" "$@"
}
# Quiet variants for polling and for reading values.
q1()
{
	ip netns exec "$NS1" "$@"
}
q2()
{
	ip netns exec "$NS2" "$@"
}

# wait_until SECONDS CMD...: run CMD every 0.1 s until it succeeds; false after SECONDS.
wait_until()
{
	local deadline=$((SECONDS + $1))
	shift
	while true; do
		"$@" >/dev/null 2>&1 && return 0
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# pid_is_running PID: alive and not a zombie waiting to be reaped.
pid_is_running()
{
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ ${st%% *} != Z ]]
}

pid_is_gone()
{
	! pid_is_running "$1"
}

# track_pid PID: remember a process we started, so the trap stops it.
track_pid()
{
	VTX_PIDS+=("$1")
}

# stop_pid PID [SIGNAL]: signal one process we started, wait (bounded) and reap it; sets
# VTX_LAST_RC to its exit status (128+signal when killed).
stop_pid()
{
	local pid=$1 sig=${2:-TERM} i
	VTX_LAST_RC=0
	kill -s "$sig" "$pid" 2>/dev/null || true
	if ! wait_until 10 pid_is_gone "$pid"; then
		pretty host "PID $pid ignored SIG$sig for 10 s; sending SIGKILL"
		kill -s KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || VTX_LAST_RC=$?
	for i in "${!VTX_PIDS[@]}"; do
		[[ ${VTX_PIDS[$i]} == "$pid" ]] && unset "VTX_PIDS[$i]"
	done
	return 0
}

# --- setup and teardown ------------------------------------------------------------------------

vtx_cleanup()
{
	local rc=$? pid ns name
	set +e
	# A failing scenario shows what the daemons said; a passing one stays short.
	if [[ $rc -ne 0 && $rc -ne 77 && -n $VTX_TMP ]]; then
		for name in "${!VTX_DAEMON_PID[@]}"; do
			[[ -s $VTX_TMP/$name.log ]] || continue
			echo "----- last lines of vertexd log $name -----" >&2
			tail -n 40 "$VTX_TMP/$name.log" >&2
		done
	fi
	for pid in "${VTX_PIDS[@]}"; do
		kill -s TERM "$pid" 2>/dev/null
	done
	for pid in "${VTX_PIDS[@]}"; do
		wait_until 5 pid_is_gone "$pid" || kill -s KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${VTX_NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ -n $VTX_TMP && -d $VTX_TMP ]]; then
		if [[ -n ${VTX_KEEP:-} ]]; then
			echo "kept $VTX_TMP" >&2
		else
			rm -rf "$VTX_TMP"
		fi
	fi
	exit "$rc"
}

# vtx_require [TOOL...]: skip (exit 77) unless we are root with a TUN device, the built programs
# and the listed tools. Also installs the cleanup trap and makes the temporary directory.
vtx_require()
{
	local t
	[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, TUN)"
	[[ -c /dev/net/tun ]] || skip "no /dev/net/tun"
	for t in ip ping jq "$@"; do
		command -v "$t" >/dev/null || skip "missing tool: $t"
	done
	[[ -x $VERTEXD && -x $VERTEX ]] || skip "vertexd/vertex not built in $VTX_BUILD"
	vtx_setup_common
}

# The part of vtx_require that does not need the daemon (the benchmark and lib self-test).
vtx_setup_common()
{
	trap vtx_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	VTX_TMP=$(mktemp -d "/tmp/$VTX_RUN.XXXXXX")
	chmod 700 "$VTX_TMP"
}

ns_add() # ns_add NAME: a namespace with loopback up, deleted by the trap
{
	pp ip netns add "$1"
	VTX_NAMESPACES+=("$1")
	ip -n "$1" link set lo up
}

# topo_up: host1 -- router -- host2 as drawn at the top of this file.
topo_up()
{
	ns_add "$NS1"
	ns_add "$NS2"
	ns_add "$NSR"
	# veth pairs are created inside the router namespace and moved at once, so their names
	# never touch (or collide in) the namespace we were started in.
	nr ip link add r1 type veth peer name eth0 netns "$NS1"
	nr ip link add r2 type veth peer name eth0 netns "$NS2"
	nr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	nr ip addr add "$R1_IP4/24" dev r1
	nr ip addr add "$R2_IP4/24" dev r2
	nr ip addr add "$R1_IP6/64" dev r1 nodad
	nr ip addr add "$R2_IP6/64" dev r2 nodad
	nr ip link set r1 up
	nr ip link set r2 up
	n1 ip addr add "$H1_IP4/24" dev eth0
	n1 ip addr add "$H1_IP6/64" dev eth0 nodad
	n1 ip link set eth0 up
	n1 ip route add 198.18.0.0/15 via "$R1_IP4"
	n1 ip -6 route add fd00:198:18::/48 via "$R1_IP6"
	n2 ip addr add "$H2_IP4/24" dev eth0
	n2 ip addr add "$H2_IP6/64" dev eth0 nodad
	n2 ip link set eth0 up
	n2 ip route add 198.18.0.0/15 via "$R2_IP4"
	n2 ip -6 route add fd00:198:18::/48 via "$R2_IP6"
	wait_until 10 q1 ping -c 1 -W 1 "$H2_IP4" || fail "underlay IPv4 host1 -> host2 does not work"
	wait_until 10 q1 ping -6 -c 1 -W 1 "$H2_IP6" || fail "underlay IPv6 host1 -> host2 does not work"
	pass "topology up: $NS1 -- $NSR -- $NS2"
}

# --- keys, CA, certificates ---------------------------------------------------------------------

# ca_new NAME DOMAIN: a CA key and self-signed certificate in $VTX_TMP/NAME.{key,crt}.
ca_new()
{
	pp "$VERTEX" ca init "$2" --key "$VTX_TMP/$1.key" --cert "$VTX_TMP/$1.crt"
}

# agent_cert NAME IDENTITY CA [SIGN-ARGS...]: a key for agent NAME and a certificate for IDENTITY
# signed by CA, in $VTX_TMP/NAME.{key,pub,crt}. SIGN-ARGS (e.g. --not-before ... --not-after ...)
# go to `vertex ca sign`.
agent_cert()
{
	local name=$1 identity=$2 ca=$3
	shift 3
	[[ -e $VTX_TMP/$name.key ]] ||
		pp "$VERTEX" key new --key "$VTX_TMP/$name.key" --pub "$VTX_TMP/$name.pub"
	pp "$VERTEX" ca sign --ca-key "$VTX_TMP/$ca.key" --ca-cert "$VTX_TMP/$ca.crt" \
		--pub "$VTX_TMP/$name.pub" --identity "$identity" --out "$VTX_TMP/$name.crt" "$@"
}

# agent_config NAME IDENTITY POOL6 PEER-IDENTITY ENDPOINT...: write $VTX_TMP/NAME.conf for an agent
# that trusts the CA "ca" (for $DOMAIN) and has one static peer. VTX_EXTRA_CONFIG (lines) is
# added before the peer block.
agent_config()
{
	local name=$1 identity=$2 pool6=$3 peer=$4 ep
	shift 4
	{
		printf 'identity   %s\n' "$identity"
		printf 'key        %s\n' "$VTX_TMP/$name.key"
		printf 'cert       %s\n' "$VTX_TMP/$name.crt"
		printf 'ca         %s %s\n' "$DOMAIN" "$VTX_TMP/ca.crt"
		printf 'interface  vtx0\n'
		printf 'port       %s\n' "$VTX_PORT"
		printf 'pool4      %s\n' "$POOL4"
		printf 'pool6      %s\n' "$pool6"
		printf 'state      %s\n' "$VTX_TMP/$name.db"
		printf 'control    %s\n' "$VTX_TMP/$name.sock"
		printf 'rekey-after-seconds %s\n' "${VTX_REKEY_SEC:-120}"
		printf 'keepalive-seconds %s\n' "${VTX_KEEPALIVE_SEC:-10}"
		[[ -z ${VTX_EXTRA_CONFIG:-} ]] || printf '%s\n' "$VTX_EXTRA_CONFIG"
		printf 'peer %s {\n' "$peer"
		for ep in "$@"; do
			printf '    endpoint %s\n' "$ep"
		done
		printf '}\n'
	} >"$VTX_TMP/$name.conf"
	pretty host "wrote $VTX_TMP/$name.conf"
}

# pair_setup [H2-IDENTITY [CA-FOR-H2 [SIGN-ARGS...]]]: the usual pair: a CA "ca", alice on host1
# (peer bob at host2's IPv4 and IPv6 underlay), bob on host2 (peer alice). The optional arguments
# give host2's agent another identity, another signing CA or other validity (for the refusal
# cases). Endpoints can be overridden with H1_ENDPOINTS / H2_ENDPOINTS (arrays).
pair_setup()
{
	local id2=${1:-$BOB} ca2=${2:-ca}
	shift $(($# > 2 ? 2 : $#))
	[[ -e $VTX_TMP/ca.key ]] || ca_new ca "$DOMAIN"
	agent_cert alice "$ALICE" ca
	agent_cert bob "$id2" "$ca2" "$@"
	if [[ -z ${H1_ENDPOINTS+x} ]]; then
		H1_ENDPOINTS=("$H2_IP4:$VTX_PORT" "[$H2_IP6]:$VTX_PORT")
	fi
	if [[ -z ${H2_ENDPOINTS+x} ]]; then
		H2_ENDPOINTS=("$H1_IP4:$VTX_PORT" "[$H1_IP6]:$VTX_PORT")
	fi
	agent_config alice "$ALICE" "$H1_POOL6" "$BOB" "${H1_ENDPOINTS[@]}"
	agent_config bob "$id2" "$H2_POOL6" "$ALICE" "${H2_ENDPOINTS[@]}"
}

# --- vertexd ------------------------------------------------------------------------------------

# vtx_ctl NAME VERB [ARGS...]: the CLI against agent NAME's control socket.
vtx_ctl()
{
	local name=$1
	shift
	"$VERTEX" -s "$VTX_TMP/$name.sock" "$@"
}

# vtx_start NS NAME: check NAME's config with -n, then run vertexd in namespace NS, logging
# to $VTX_TMP/NAME.log, and wait until its control socket answers.
vtx_start()
{
	local ns=$1 name=$2 pid
	ip netns exec "$ns" "$VERTEXD" -n -c "$VTX_TMP/$name.conf" >"$VTX_TMP/$name.norm" 2>&1 ||
		fail "vertexd -n rejects $name.conf: $(cat "$VTX_TMP/$name.norm")"
	pretty "${ns##*-}" "$VERTEXD -c $VTX_TMP/$name.conf -d peer,handshake 2>>$name.log &"
	ip netns exec "$ns" "$VERTEXD" -c "$VTX_TMP/$name.conf" -d "${VTX_DEBUG:-peer,handshake}" \
		>>"$VTX_TMP/$name.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	VTX_DAEMON_PID[$name]=$pid
	VTX_DAEMON_NS[$name]=$ns
	unset "VTX_DAEMON_STOPPED[$name]"
	if ! wait_until 10 vtx_ctl "$name" status; then
		pid_is_running "$pid" || fail "vertexd $name exited at start-up"
		fail "vertexd $name does not answer on its control socket"
	fi
	pass "vertexd $name running (PID $pid)"
}

# vtx_stop NAME [SIGNAL]: stop agent NAME (default SIGTERM); VTX_LAST_RC is its exit status.
vtx_stop()
{
	local name=$1 sig=${2:-TERM}
	pretty "${VTX_DAEMON_NS[$name]##*-}" "kill -$sig ${VTX_DAEMON_PID[$name]}  # vertexd $name"
	stop_pid "${VTX_DAEMON_PID[$name]}" "$sig"
	VTX_DAEMON_STOPPED[$name]=1
}

# peer_json NAME [FIELD-FILTER]: agent NAME's view of its (first and only) peer, through jq.
peer_json()
{
	vtx_ctl "$1" peers --json | jq -er ".peers[0]${2:-}"
}

peer_is_up()
{
	[[ $(peer_json "$1" .state) == up ]]
}

# wait_tunnel_up: both agents report the peer up and host1 reaches host2 over the overlay.
wait_tunnel_up()
{
	wait_until 30 peer_is_up alice || fail "alice never sees bob up: $(vtx_ctl alice peers)"
	wait_until 30 peer_is_up bob || fail "bob never sees alice up: $(vtx_ctl bob peers)"
	wait_until 10 q1 ping -c 1 -W 1 "$OVL4_PEER" || fail "no overlay ping host1 -> host2"
	pass "tunnel up"
}

# --- checks shared by the scenarios -------------------------------------------------------------

# check_ping NS-FN ADDR: exactly 5 echo requests, exactly 5 replies.
check_ping()
{
	local fn=$1 addr=$2 out
	out=$("$fn" ping -c 5 -i 0.2 -w 10 "$addr") || fail "ping $addr: $out"
	grep -q '5 packets transmitted, 5 received' <<<"$out" || fail "ping $addr: $out"
	pass "ping $addr: 5/5 replies"
}

# sshd_start NS: a real sshd on port 22 in namespace NS, on all its addresses, with a throwaway host
# key and a throwaway client key authorized for root (all in $VTX_TMP).
sshd_start()
{
	local ns=$1 pid
	[[ -e $VTX_TMP/ssh_host_key ]] ||
		ssh-keygen -q -t ed25519 -N '' -f "$VTX_TMP/ssh_host_key" -C vtxt-host
	[[ -e $VTX_TMP/ssh_client_key ]] ||
		ssh-keygen -q -t ed25519 -N '' -f "$VTX_TMP/ssh_client_key" -C vtxt-client
	cp "$VTX_TMP/ssh_client_key.pub" "$VTX_TMP/authorized_keys"
	mkdir -p /run/sshd # privilege-separation directory sshd insists on
	pretty "${ns##*-}" "sshd -D -e -f /dev/null -h ssh_host_key ... &"
	ip netns exec "$ns" /usr/sbin/sshd -D -e -f /dev/null \
		-h "$VTX_TMP/ssh_host_key" \
		-o ListenAddress=0.0.0.0 -o ListenAddress=:: -o Port=22 \
		-o AuthorizedKeysFile="$VTX_TMP/authorized_keys" -o StrictModes=no \
		-o PermitRootLogin=prohibit-password -o PasswordAuthentication=no \
		-o KbdInteractiveAuthentication=no -o UsePAM=no -o PidFile=none \
		-o LogLevel=ERROR >>"$VTX_TMP/sshd.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	wait_until 10 ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/127.0.0.1/22' ||
		fail "sshd did not start: $(cat "$VTX_TMP/sshd.log")"
	pass "sshd running in ${ns##*-} (PID $pid)"
}

# ssh_opts: client options for the throwaway setup (no config, no known_hosts, no prompts).
ssh_opts()
{
	SSH_OPTS=(-F /dev/null -i "$VTX_TMP/ssh_client_key" -o StrictHostKeyChecking=no
		-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=10
		-o LogLevel=ERROR)
}

# check_ssh NS-FN ADDR: ssh to root@ADDR runs a command whose output we can predict.
check_ssh()
{
	local fn=$1 addr=$2 token out
	ssh_opts
	token=vertex-ok-$RANDOM$RANDOM
	out=$("$fn" ssh "${SSH_OPTS[@]}" "root@$addr" "echo $token") || fail "ssh $addr failed"
	[[ $out == "$token" ]] || fail "ssh $addr printed '$out', expected '$token'"
	pass "ssh root@$addr ran a command ($token)"
}

# check_bulk NS-FN ADDR MIB: send MIB MiB of random data to ADDR over ssh and back; the
# sha256 the far side computes must equal ours, and so must the one of what comes back.
check_bulk()
{
	local fn=$1 addr=$2 mib=$3 want got
	ssh_opts
	head -c "${mib}M" /dev/urandom >"$VTX_TMP/blob"
	want=$(sha256sum <"$VTX_TMP/blob" | cut -d' ' -f1)
	got=$("$fn" ssh "${SSH_OPTS[@]}" "root@$addr" sha256sum <"$VTX_TMP/blob" | cut -d' ' -f1)
	[[ $got == "$want" ]] || fail "upload of $mib MiB: far side sha256 $got, sent $want"
	pass "$mib MiB up to $addr, sha256 $want on both ends"
	# The far end shares our file system: it sends the same file back.
	got=$("$fn" ssh "${SSH_OPTS[@]}" "root@$addr" "cat $VTX_TMP/blob" | sha256sum | cut -d' ' -f1)
	[[ $got == "$want" ]] || fail "download of $mib MiB: got sha256 $got, want $want"
	pass "$mib MiB down from $addr, sha256 equal"
}

# assert_clean NS...: nothing vertexd made is left in the namespaces: no vtx interface, no
# address from our overlay pools, no route tagged with vertexd's protocol number 0x56.
assert_clean()
{
	local ns left
	for ns in "$@"; do
		left=$(ip -n "$ns" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
			grep '^vtx' || true)
		[[ -z $left ]] || fail "${ns##*-}: interface left behind: $left"
		left=$(ip -n "$ns" -o addr show to "$POOL4"
			ip -n "$ns" -o -6 addr show to fd00:5678::/32)
		[[ -z $left ]] || fail "${ns##*-}: overlay address left behind: $left"
		left=$(ip -n "$ns" route show proto 0x56 table all
			ip -n "$ns" -6 route show proto 0x56 table all)
		[[ -z $left ]] || fail "${ns##*-}: route with proto 0x56 left behind: $left"
		if command -v nft >/dev/null; then
			left=$(ip netns exec "$ns" nft list tables 2>/dev/null | grep -i vertex || true)
			[[ -z $left ]] || fail "${ns##*-}: nftables table left behind: $left"
		fi
	done
	pass "nothing left behind in: ${*##*-}"
}

# vtx_finish: stop any daemon still running and check the hosts are clean; the scenario's last word.
vtx_finish()
{
	local name
	for name in "${!VTX_DAEMON_PID[@]}"; do
		[[ -z ${VTX_DAEMON_STOPPED[$name]:-} ]] || continue
		pid_is_running "${VTX_DAEMON_PID[$name]}" ||
			fail "vertexd $name exited on its own before the end"
		vtx_stop "$name"
		[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $name exited with status $VTX_LAST_RC on SIGTERM"
	done
	assert_clean "$NS1" "$NS2"
	pass "$VTX_SCENARIO"
}
