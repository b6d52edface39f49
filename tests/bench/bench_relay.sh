#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Relay benchmark (issue 11; not a test: it prints figures, see docs/performance.md#relay). One
# run, one lab: the flat two-domain LAN of lib_domains.sh with both servers and the lab's DNS,
# and on it:
#
#   alice@a 198.18.0.101  bob@b 198.18.0.102   the relayed pair: no endpoint in any config, and an
#                                              nftables filter on each host's eth0 passes only
#                                              DNS, TCP and UDP to the two servers' port 4801
#                                              (and 4802), so the relay (alice -> srva -> srvb ->
#                                              bob) is the only path, its frames as datagrams
#                                              between agent and server
#   carol@a .103          dave@b .104          the direct pair: static peers with each other's
#                                              LAN endpoint, UDP between them, the same servers
#                                              present (each agent connected to its own)
#   uN@a .110+N           wN@b .150+N          N = 1..BENCH_PAIRS' largest: relayed pairs like
#                                              alice and bob, for the server's load
#
# 1. The time from `vertex approve` (bob) to the first ping reply through the relay (alice), over
#    BENCH_ROUNDS rounds (default 5): alice asks, bob approves, alice's `vertex connect` returns,
#    `vertex resolve` names bob's overlay address, and a ping every 10 ms until one is answered.
#    Between rounds bob revokes alice (the session ends) and she asks again.
# 2. iperf3 TCP, one stream and four (-P 4), BENCH_SECONDS each (default 10), and the median RTT
#    of 50 pings, alice -> bob (relay) and carol -> dave (direct UDP); CPU seconds per GB
#    (utime+stime from /proc/PID/stat) of both agents together and of each server apart.
#    Then one more relayed single-stream run, not counted, with `perf record` on a's server
#    (if perf works here) for where the relay's time goes. Then UDP to the servers is blocked
#    on alice's and bob's hosts, the relay falls back to its TLS connections, and the same
#    measures again ("relay-tls": the relay as it was before its frames went as datagrams).
# 3. For each N in BENCH_PAIRS (default "1 4 16"): N relayed pairs at once, each an iperf3 TCP
#    stream paced at BENCH_PAIR_RATE (default 5M bit/s); the aggregate received throughput, and
#    each server's and all those agents' CPU as a percentage of one CPU.
#
# BENCH_RELAY_RATE is given to both servers as --relay-rate (bytes/s per pair and per sending
# agent): by default the largest the servers take (4000000000), so that the bench measures what
# the relay can carry, not the servers' own default bound (256 MiB/s, 2.1 Gbit/s, which a
# relayed pair reaches on this machine); "default" runs them with that bound. Everything measured is printed at exit, however the
# run ends; the lab's chatter goes to $VTX_TMP/setup.log (VTX_KEEP=1 keeps it).
#
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=../integration/lib_domains.sh
source "$(dirname "$0")/../integration/lib_domains.sh"
# shellcheck source=../integration/lib_servers.sh
source "$(dirname "$0")/../integration/lib_servers.sh"
set +e

SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-5}
read -ra PAIRS <<<"${BENCH_PAIRS:-1 4 16}"
PAIR_RATE=${BENCH_PAIR_RATE:-5M}
RELAY_RATE=${BENCH_RELAY_RATE:-4000000000}
[[ $RELAY_RATE != default ]] || RELAY_RATE=
PURPOSE=bench
CLK_TCK=$(getconf CLK_TCK)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
MAXPAIRS=0
for n in "${PAIRS[@]}"; do
	((n > MAXPAIRS)) && MAXPAIRS=$n
done
((MAXPAIRS <= 40)) || { echo "BENCH_PAIRS: at most 40 pairs" >&2 && exit 2; }
declare -A R=()   # results: R[path,metric]
declare -A OVL=() # overlay address of the answerer of each asker, as the asker resolves it
LAT=()            # approve -> first ping, ms, one per round
PERF_TOP=

ALICE=alice@$DOMAIN_A
BOB=bob@$DOMAIN_B
CAROL=carol@$DOMAIN_A
DAVE=dave@$DOMAIN_B

vtx_require iperf3 nft
[[ -x $VERTEX_SERVER ]] || skip "missing $VERTEX_SERVER"
SETUP_LOG=$VTX_TMP/setup.log

# --- measuring ----------------------------------------------------------------------------------

# cpu_ticks PID...: utime+stime of the processes, in clock ticks (0 for none).
cpu_ticks()
{
	local pid sum=0 f
	for pid in "$@"; do
		read -ra f <<<"$(sed 's/^.*) //' "/proc/$pid/stat")"
		sum=$((sum + f[11] + f[12]))
	done
	echo "$sum"
}

now_ns()
{
	date +%s%N
}

# s_per_gb TICKS BYTES
s_per_gb()
{
	awk -v t="$1" -v hz="$CLK_TCK" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", (t / hz) / (b / 1e9);
		else printf "n/a" }'
}

# pct TICKS NANOSECONDS: CPU time as a percentage of one CPU over that wall time.
pct()
{
	awk -v t="$1" -v hz="$CLK_TCK" -v ns="$2" 'BEGIN { printf "%.0f", 100 * (t / hz) / (ns / 1e9) }'
}

ratio() # ratio A B: A/B with two decimals, or n/a
{
	awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b;
		else printf "n/a" }'
}

# iperf PATH TAG NODE ADDR AGENT-PIDS [IPERF-ARGS...]: one iperf3 client run from NODE; records
# Gbit/s and CPU s/GB of the agents (AGENT-PIDS, one word) and of each server.
iperf()
{
	local path=$1 tag=$2 node=$3 addr=$4 agents=$5 a0 a1 sa0 sa1 sb0 sb1 json bytes
	shift 5
	# shellcheck disable=SC2086 # the agents' PIDs, split on purpose
	a0=$(cpu_ticks $agents)
	sa0=$(cpu_ticks "$SRVA_PID")
	sb0=$(cpu_ticks "$SRVB_PID")
	json=$(qn "$node" iperf3 -c "$addr" -t "$SECS" -J "$@") || {
		R[$path,$tag]=err
		echo "$json" >"$VTX_TMP/iperf-$path-$tag.json"
		return 1
	}
	# shellcheck disable=SC2086
	a1=$(cpu_ticks $agents)
	sa1=$(cpu_ticks "$SRVA_PID")
	sb1=$(cpu_ticks "$SRVB_PID")
	bytes=$(jq -r .end.sum_received.bytes <<<"$json")
	R[$path,$tag]=$(jq -r .end.sum_received.bits_per_second <<<"$json" |
		awk '{ printf "%.2f", $1 / 1e9 }')
	R[$path,$tag-retr]=$(jq -r '.end.sum_sent.retransmits // "n/a"' <<<"$json")
	R[$path,$tag-agents]=$(s_per_gb $((a1 - a0)) "$bytes")
	R[$path,$tag-srva]=$(s_per_gb $((sa1 - sa0)) "$bytes")
	R[$path,$tag-srvb]=$(s_per_gb $((sb1 - sb0)) "$bytes")
}

# rtt PATH NODE ADDR: median of 50 echo round trips, in ms.
rtt()
{
	R[$1,rtt]=$(qn "$2" ping -c 50 -i 0.01 -W 1 "$3" |
		sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "err";
			else printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
}

measure() # measure PATH NODE ADDR AGENT-PIDS
{
	say "measuring $1 ($2 -> $3)"
	iperf "$1" tcp1 "$2" "$3" "$4"
	iperf "$1" tcp4 "$2" "$3" "$4" -P 4
	rtt "$1" "$2" "$3"
}

median() # median N...: of integers
{
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a";
		else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- the lab ------------------------------------------------------------------------------------

# relay_only NODE [udp]: NODE's eth0 passes only DNS and TCP to the servers' port, and with udp
# UDP to their ports too (the relay's datagrams, reflection); a counter `direct` counts what it
# drops (the direct module's probes toward the peer's candidates, once reflection told them).
relay_only()
{
	local udp=drop
	[[ ${2:-} == udp ]] && udp=accept
	qn "$1" nft delete table ip vtxbench 2>/dev/null
	qn "$1" nft -f - <<EOF
table ip vtxbench {
	counter direct { }
	chain out {
		type filter hook output priority 0; policy accept;
		oifname "eth0" ip daddr $DNS_IP accept
		oifname "eth0" ip daddr { $SRVA_IP, $SRVB_IP } tcp dport $SERVER_PORT accept
		oifname "eth0" ip daddr { $SRVA_IP, $SRVB_IP } udp dport { $SERVER_PORT, $((SERVER_PORT + 1)) } $udp
		oifname "eth0" counter name direct drop
	}
}
EOF
}

relay_transport() # relay_transport NODE PEER: udp or tls
{
	peer_field "$1" "$2" relay_transport 2>/dev/null
}

relay_is() # relay_is TRANSPORT: both relayed agents send their frames so
{
	[[ $(relay_transport alice "$BOB") == "$1" && $(relay_transport bob "$ALICE") == "$1" ]]
}

home_up()
{
	[[ $(vtx_ctl "$1" status --json | jq -r .server_state) == up ]]
}

peer_field() # peer_field NAME IDENTITY FIELD
{
	vtx_ctl "$1" peers --json | jq -er --arg id "$2" ".peers[] | select(.identity == \$id) | .$3"
}

peer_up() # peer_up NAME IDENTITY
{
	[[ $(peer_field "$1" "$2" state 2>/dev/null) == up ]]
}

has_request() # has_request NAME: someone asks NAME
{
	vtx_ctl "$1" requests --json | jq -e '.incoming[0]'
}

# agent NODE IDENTITY POOL6 [PEER-IDENTITY PEER-ADDR]: enrol and configure agent NODE (its files
# are named after the node); an answerer (domain b) offers the purpose "bench" on iperf3's port.
agent()
{
	local node=$1 id=$2 pool6=$3
	shift 3
	enrolled "$node" "$node" "$id"
	lab_agent_config "$node" "$id" "$pool6" "$@"
	[[ ${id#*@} == "$DOMAIN_B" ]] && printf 'purpose %s tcp/5201\n' "$PURPOSE" >>"$VTX_TMP/$node.conf"
	return 0
}

# ask ASKER ASKER-ID ANSWERER ANSWERER-ID: ASKER asks for ANSWERER-ID/bench and ANSWERER
# approves; the overlay address ASKER resolves goes to OVL[ASKER]. With PING=1, also the
# milliseconds from the approval to the first ping reply through the relay, appended to LAT.
ask()
{
	local asker=$1 me=$2 answerer=$3 target=$4/$PURPOSE cpid t0 t1
	vtx_ctl "$asker" connect "$target" --wait 60 >"$VTX_TMP/$asker.connect" 2>&1 &
	cpid=$!
	track_pid "$cpid"
	wait_until 20 has_request "$answerer" || {
		stop_pid "$cpid"
		echo "$answerer never sees $me's request: $(cat "$VTX_TMP/$asker.connect")" >&2
		return 1
	}
	t0=$(now_ns)
	vtx_ctl "$answerer" approve "$me" "$PURPOSE" >/dev/null || return 1
	wait "$cpid" || {
		echo "$asker's connect: $(cat "$VTX_TMP/$asker.connect")" >&2
		return 1
	}
	OVL[$asker]=$(vtx_ctl "$asker" resolve --address "$target") || return 1
	[[ ${PING:-} == 1 ]] || return 0
	# A ping every 10 ms until one is answered; retried at once if the route is not there yet.
	qn "$asker" timeout 20 bash -c \
		'until ping -q -c 1 -w 10 -i 0.01 "$1" >/dev/null 2>&1; do sleep 0.01; done' _ \
		"${OVL[$asker]}" || return 1
	t1=$(now_ns)
	LAT+=($(((t1 - t0) / 1000000)))
}

cut_off() # cut_off A B A-ID B-ID: neither sees the other up
{
	! peer_up "$1" "$4" && ! peer_up "$2" "$3"
}

iperf_server() # iperf_server NODE: iperf3 -s there, listening
{
	ip netns exec "$(ns_for "$1")" iperf3 -s >"$VTX_TMP/iperf3-$1.log" 2>&1 &
	track_pid $!
	wait_until 10 qn "$1" bash -c 'exec 3<>/dev/tcp/127.0.0.1/5201'
}

lab()
{
	local i srv_args=()
	[[ -z $RELAY_RATE ]] || srv_args=(--relay-rate "$RELAY_RATE")
	domains_up
	trap bench_exit EXIT # domains_up took the trap over: print what was measured at exit
	domain_node_add carol 198.18.0.103
	domain_node_add dave 198.18.0.104
	for ((i = 1; i <= MAXPAIRS; i++)); do
		domain_node_add "u$i" "198.18.0.$((110 + i))"
		domain_node_add "w$i" "198.18.0.$((150 + i))"
	done
	server_init srva "$DOMAIN_A" >/dev/null
	server_init srvb "$DOMAIN_B" >/dev/null
	server_start srva "${srv_args[@]}"
	server_start srvb "${srv_args[@]}"
	SRVA_PID=${VTX_SERVER_PID[srva]}
	SRVB_PID=${VTX_SERVER_PID[srvb]}
	agent alice "$ALICE" fd00:5678:a1::/48
	agent bob "$BOB" fd00:5678:b1::/48
	agent carol "$CAROL" fd00:5678:a1::/48 "$DAVE" 198.18.0.104
	agent dave "$DAVE" fd00:5678:b1::/48 "$CAROL" 198.18.0.103
	RELAYED=(alice bob)
	for ((i = 1; i <= MAXPAIRS; i++)); do
		agent "u$i" "u$i@$DOMAIN_A" fd00:5678:a1::/48
		agent "w$i" "w$i@$DOMAIN_B" fd00:5678:b1::/48
		RELAYED+=("u$i" "w$i")
	done
	for i in "${RELAYED[@]}"; do
		relay_only "$i" udp || fail "nft filter on $i"
	done
	for i in "${RELAYED[@]}" carol dave; do
		lab_agent_start "$i" "$i"
	done
	for i in "${RELAYED[@]}" carol dave; do
		wait_until 20 home_up "$i" || fail "$i's agent never connects to its server"
	done
	for i in bob dave $(seq -f 'w%g' 1 "$MAXPAIRS"); do
		iperf_server "$i" || fail "iperf3 -s on $i"
	done
	pass "lab up: $((${#RELAYED[@]} + 2)) agents, both servers, iperf3 servers"
}

# --- the three measures -------------------------------------------------------------------------

approve_rounds()
{
	local r
	for ((r = 1; r <= ROUNDS; r++)); do
		if ((r > 1)); then
			vtx_ctl bob revoke "$ALICE" >/dev/null || fail "round $r: revoke failed"
			wait_until 10 cut_off alice bob "$ALICE" "$BOB" ||
				fail "round $r: the session outlived the revocation: $(vtx_ctl alice peers)"
		fi
		PING=1 ask alice "$ALICE" bob "$BOB" ||
			fail "round $r: no ping through the relay after the approval: $(vtx_ctl alice peers)"
		pass "round $r: first ping reply ${LAT[-1]} ms after 'vertex approve'"
	done
}

relay_vs_direct()
{
	wait_until 10 relay_is udp || echo "the relay is not over udp: $(vtx_ctl alice peers)" >&2
	R[relay,path]=$(peer_field alice "$BOB" path)-$(relay_transport alice "$BOB")
	wait_until 30 peer_up carol "$DAVE" || fail "carol never sees dave up: $(vtx_ctl carol peers)"
	OVL[carol]=$(peer_field carol "$DAVE" overlay4)
	wait_until 10 qn carol ping -c 1 -W 1 "${OVL[carol]}" || fail "no ping carol -> dave"
	R[direct,path]=$(peer_field carol "$DAVE" path)
	measure relay alice "${OVL[alice]}" \
		"${VTX_DAEMON_PID[alice]} ${VTX_DAEMON_PID[bob]}"
	measure direct carol "${OVL[carol]}" \
		"${VTX_DAEMON_PID[carol]} ${VTX_DAEMON_PID[dave]}"
}

# The same relayed measures with UDP to the servers blocked: the relay over TLS alone.
relay_tls()
{
	relay_only alice || return 1
	relay_only bob || return 1
	wait_until 10 relay_is tls || { echo "no fallback to tls: $(vtx_ctl alice peers)" >&2 && return 1; }
	R[relay-tls,path]=$(peer_field alice "$BOB" path)-$(relay_transport alice "$BOB")
	measure relay-tls alice "${OVL[alice]}" \
		"${VTX_DAEMON_PID[alice]} ${VTX_DAEMON_PID[bob]}"
	relay_only alice udp
	relay_only bob udp
}

perf_profile()
{
	local data=$VTX_TMP/perf.data
	command -v perf >/dev/null || return 0
	say "perf record on a's server during one more relayed stream"
	qn alice iperf3 -c "${OVL[alice]}" -t "$SECS" >/dev/null 2>&1 &
	local ip=$!
	sleep 1 # past iperf3's start, into the stream
	perf record -F 1999 -p "$SRVA_PID" -o "$data" -- sleep $((SECS > 4 ? SECS - 3 : 2)) \
		>"$VTX_TMP/perf.log" 2>&1
	wait "$ip"
	[[ -s $data ]] || return 0
	# By library, then the named functions (Debian's wolfSSL has no symbols for most of its own).
	PERF_TOP=$(
		perf report -i "$data" --stdio --no-children --sort dso 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -n 8
		echo
		perf report -i "$data" --stdio --no-children --sort dso,symbol 2>/dev/null |
			grep -v '^#' | grep -v '^$' | grep -v '\] 0x0' | head -n 25
	)
}

pairs_load() # pairs_load N: N relayed pairs at once
{
	local n=$1 i sa0 sa1 sb0 sb1 ag0 ag1 w0 w1 pids=() agents=() bytes f ok=0
	for ((i = 1; i <= n; i++)); do
		agents+=("${VTX_DAEMON_PID[u$i]}" "${VTX_DAEMON_PID[w$i]}")
	done
	say "$n relayed pairs, $PAIR_RATE bit/s each"
	sa0=$(cpu_ticks "$SRVA_PID")
	sb0=$(cpu_ticks "$SRVB_PID")
	ag0=$(cpu_ticks "${agents[@]}")
	w0=$(now_ns)
	for ((i = 1; i <= n; i++)); do
		qn "u$i" iperf3 -c "${OVL[u$i]}" -t "$SECS" -b "$PAIR_RATE" -J \
			>"$VTX_TMP/pairs-$n-$i.json" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" && ok=$((ok + 1))
	done
	w1=$(now_ns)
	sa1=$(cpu_ticks "$SRVA_PID")
	sb1=$(cpu_ticks "$SRVB_PID")
	ag1=$(cpu_ticks "${agents[@]}")
	bytes=0
	for ((i = 1; i <= n; i++)); do
		f=$VTX_TMP/pairs-$n-$i.json
		jq -r '"\(.end.sum_received.bits_per_second // 0) \(.end.sum_received.bytes // 0)"' \
			"$f" 2>/dev/null || echo "0 0"
	done >"$VTX_TMP/pairs-$n.sum"
	R[pairs$n,mbps]=$(awk '{ s += $1 } END { printf "%.1f", s / 1e6 }' "$VTX_TMP/pairs-$n.sum")
	R[pairs$n,min]=$(awk 'NR == 1 || $1 < m { m = $1 } END { printf "%.1f", m / 1e6 }' \
		"$VTX_TMP/pairs-$n.sum")
	bytes=$(awk '{ s += $2 } END { printf "%.0f", s }' "$VTX_TMP/pairs-$n.sum")
	R[pairs$n,ok]=$ok
	R[pairs$n,srva]=$(pct $((sa1 - sa0)) $((w1 - w0)))
	R[pairs$n,srvb]=$(pct $((sb1 - sb0)) $((w1 - w0)))
	R[pairs$n,agents]=$(pct $((ag1 - ag0)) $((w1 - w0)))
	R[pairs$n,srva-gb]=$(s_per_gb $((sa1 - sa0)) "$bytes")
	R[pairs$n,srvb-gb]=$(s_per_gb $((sb1 - sb0)) "$bytes")
}

# --- the report ---------------------------------------------------------------------------------

report()
{
	local p n drops=0 node
	echo
	echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)," \
		"kernel $(uname -r); load average at start $LOAD_START, at the end" \
		"$(cut -d' ' -f1-3 /proc/loadavg); iperf3 $SECS s per run;" \
		"relay rate ${RELAY_RATE:-default of the servers (256 MiB/s)}"
	echo
	echo "1. vertex approve -> first ping reply through the relay, $ROUNDS rounds (target < 300 ms)"
	if ((${#LAT[@]})); then
		printf '   min %s ms, median %s ms, max %s ms   (rounds: %s)\n' \
			"$(printf '%s\n' "${LAT[@]}" | sort -n | head -n 1)" "$(median "${LAT[@]}")" \
			"$(printf '%s\n' "${LAT[@]}" | sort -n | tail -n 1)" "${LAT[*]}"
	else
		echo "   not measured"
	fi
	echo
	echo "2. relay (alice -> srva -> srvb -> bob) against direct UDP (carol -> dave), same servers"
	printf '   %-9s %-9s %9s %9s %8s %9s %9s %9s %9s %9s %9s %7s %7s\n' path is "Gbit/s" \
		"-P4" "RTT ms" "agents/GB" "(-P4)" "srva/GB" "(-P4)" "srvb/GB" "(-P4)" retr "(-P4)"
	for p in relay relay-tls direct; do
		printf '   %-9s %-9s %9s %9s %8s %9s %9s %9s %9s %9s %9s %7s %7s\n' "$p" \
			"${R[$p,path]:-?}" "${R[$p,tcp1]:-n/a}" "${R[$p,tcp4]:-n/a}" "${R[$p,rtt]:-n/a}" \
			"${R[$p,tcp1-agents]:--}" "${R[$p,tcp4-agents]:--}" "${R[$p,tcp1-srva]:--}" \
			"${R[$p,tcp4-srva]:--}" "${R[$p,tcp1-srvb]:--}" "${R[$p,tcp4-srvb]:--}" \
			"${R[$p,tcp1-retr]:--}" "${R[$p,tcp4-retr]:--}"
	done
	echo "   (CPU s/GB: CPU seconds, user + system, per 10^9 bytes received)"
	printf '   relay / direct: throughput %s (1 stream), %s (-P4) (target >= 0.5); RTT %s;' \
		"$(ratio "${R[relay,tcp1]:-}" "${R[direct,tcp1]:-}")" \
		"$(ratio "${R[relay,tcp4]:-}" "${R[direct,tcp4]:-}")" \
		"$(ratio "${R[relay,rtt]:-}" "${R[direct,rtt]:-}")"
	printf ' agents CPU/GB %s (1 stream), %s (-P4)\n' \
		"$(ratio "${R[relay,tcp1-agents]:-}" "${R[direct,tcp1-agents]:-}")" \
		"$(ratio "${R[relay,tcp4-agents]:-}" "${R[direct,tcp4-agents]:-}")"
	printf '   relay-tls / direct: throughput %s (1 stream), %s (-P4); relay / relay-tls: %s, %s\n' \
		"$(ratio "${R[relay-tls,tcp1]:-}" "${R[direct,tcp1]:-}")" \
		"$(ratio "${R[relay-tls,tcp4]:-}" "${R[direct,tcp4]:-}")" \
		"$(ratio "${R[relay,tcp1]:-}" "${R[relay-tls,tcp1]:-}")" \
		"$(ratio "${R[relay,tcp4]:-}" "${R[relay-tls,tcp4]:-}")"
	echo
	echo "3. N relayed pairs at once, each an iperf3 TCP stream paced at $PAIR_RATE bit/s"
	printf '   %5s %6s %14s %13s %10s %10s %12s %10s %10s\n' pairs "done" "aggregate Mb/s" \
		"slowest Mb/s" "srva CPU%" "srvb CPU%" "agents CPU%" "srva s/GB" "srvb s/GB"
	for n in "${PAIRS[@]}"; do
		[[ -n ${R[pairs$n,ok]:-} ]] || continue
		printf '   %5s %6s %14s %13s %10s %10s %12s %10s %10s\n' "$n" "${R[pairs$n,ok]}/$n" \
			"${R[pairs$n,mbps]}" "${R[pairs$n,min]}" "${R[pairs$n,srva]}" "${R[pairs$n,srvb]}" \
			"${R[pairs$n,agents]}" "${R[pairs$n,srva-gb]}" "${R[pairs$n,srvb-gb]}"
	done
	echo "   (CPU%: of one CPU, over the wall time of the N iperf3 runs)"
	for node in "${RELAYED[@]}"; do
		n=$(qn "$node" nft list counter ip vtxbench direct 2>/dev/null | awk '/packets/ { print $2; exit }')
		drops=$((drops + ${n:-0}))
	done
	echo
	echo "relayed agents' packets dropped by the relay-only filter (direct attempts): $drops"
	for node in srva srvb; do
		n=$(grep -h 'relay of .* at exit' "$VTX_TMP/$node.log" 2>/dev/null | tail -n 1)
		[[ -z $n ]] || echo "$node: ${n#* vertex-server: }"
		n=$(grep -h 'relay udp at exit' "$VTX_TMP/$node.log" 2>/dev/null | tail -n 1)
		[[ -z $n ]] || echo "$node: ${n#* vertex-server: }"
	done
	if [[ -n $PERF_TOP ]]; then
		echo
		echo "perf record -F 1999 on a's server (vertex-server) during one relayed stream:"
		printf '%s\n' "$PERF_TOP"
	fi
}

bench_exit()
{
	local rc=$?
	report
	if [[ $rc -ne 0 && -s ${SETUP_LOG:-} ]]; then
		echo "----- last lines of the setup log -----"
		tail -n 15 "$SETUP_LOG"
	fi
	(exit "$rc")
	domains_cleanup
}

say "building the lab (log: $SETUP_LOG)"
lab 2>>"$SETUP_LOG"
say "1. approve -> first ping, $ROUNDS rounds"
approve_rounds 2>>"$SETUP_LOG"
say "2. relay against direct"
relay_vs_direct 2>>"$SETUP_LOG"
perf_profile 2>>"$SETUP_LOG"
relay_tls 2>>"$SETUP_LOG" || say "relay-tls not measured (see the setup log)"
say "3. relayed pairs at once: ${PAIRS[*]}"
for i in $(seq 1 "$MAXPAIRS"); do
	ask "u$i" "u$i@$DOMAIN_A" "w$i" "w$i@$DOMAIN_B" 2>>"$SETUP_LOG" || fail "pair $i: no approval"
done
for i in $(seq 1 "$MAXPAIRS"); do
	wait_until 20 qn "u$i" ping -c 1 -W 1 "${OVL[u$i]}" || fail "pair $i: no ping through the relay"
done
pass "$MAXPAIRS relayed pairs up"
for n in "${PAIRS[@]}"; do
	pairs_load "$n"
done
# The servers' own counts of what they relayed and dropped, logged at exit, for the report.
server_stop srva 2>>"$SETUP_LOG"
server_stop srvb 2>>"$SETUP_LOG"
