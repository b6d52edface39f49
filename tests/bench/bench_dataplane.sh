#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Data-plane benchmark (not a test: it prints figures, see docs/performance.md). In one run and
# the same namespaces it measures three paths from host1 to host2:
#
#   (a) the plain underlay (veth pairs through the router), the ceiling;
#   (b) wireguard-go (userspace WireGuard, configured with wg + ip), the reference;
#   (c) vertexd.
#
#     host1  eth0 198.18.1.1 ------ r1 [router] r2 ------ eth0 198.18.2.1  host2 (iperf3 -s)
#            wg  100.127.0.1   (b)                        wg  100.127.0.2
#            vtx0 100.64.0.1   (c)                        vtx0 (host1 = 100.64.0.2 here)
#
# For each: iperf3 TCP, one stream for BENCH_SECONDS (default 10), then four streams (-P 4);
# the median ping RTT of 50 echoes; and the CPU seconds both daemons used (utime+stime from
# /proc/PID/stat, before/after) per GB moved. Ratios are against the plain path, and vertexd
# against wireguard-go. A path that cannot run (vertexd not built, wireguard-go missing) is
# shown as n/a rather than failing the others.
#
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"
set +e

SECS=${BENCH_SECONDS:-10}
PATHS=${BENCH_PATHS:-plain wireguard-go vertexd} # which paths to measure
# BENCH_PERF=FILE: a perf profile (perf record -g) of both vertexd during the one-stream run
# (FILE.wN for each worker count of BENCH_WORKERS but the first).
# BENCH_WORKERS="0 1 2": vertexd once per AEAD worker count (VERTEX_WORKERS), as vertexd-wN.
WORKERS_LIST=${BENCH_WORKERS:-}
# BENCH_CIPHER=chacha20-poly1305: the agents (VERTEX_CIPHER) and the AEAD ceiling use it rather
# than AES-256-GCM, which they use where the CPU has it (docs/protocol.md, "Data keys").
BENCH_CIPHER_ARG=${BENCH_CIPHER:-}
[[ -z $BENCH_CIPHER_ARG ]] || export VERTEX_CIPHER=$BENCH_CIPHER_ARG
# BENCH_ENDPOINTS=4: the agents know each other's IPv4 endpoint only (as wireguard-go does),
# not IPv4 and IPv6 (the default, as in the integration tests).
CLK_TCK=$(getconf CLK_TCK)
WG1=wg$$a # wireguard-go's UAPI socket is /var/run/wireguard/NAME.sock, shared by all
WG2=wg$$b # namespaces: names unique per run keep runs and the two ends apart
WG_PORT=51820
declare -A R=() # results: R[path,metric]

[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces)"
for t in ip ping iperf3 jq; do
	command -v "$t" >/dev/null || skip "missing tool: $t"
done
vtx_setup_common
# Print whatever was measured however the run ends, then clean up as usual.
trap 'rc=$?; report; (exit $rc); vtx_cleanup' EXIT
topo_up >"$VTX_TMP/topology.log" 2>&1 || fail "topology: $(cat "$VTX_TMP/topology.log")"

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

# iperf PATH ADDR TAG PIDS...: one iperf3 run (extra args in IPERF_ARGS); records Gbit/s and
# CPU s/GB of the daemons in PIDS.
iperf()
{
	local path=$1 addr=$2 tag=$3 t0 t1 json bytes bps perf_out perf_pid=''
	shift 3
	t0=$(cpu_ticks "$@")
	if [[ -n ${BENCH_PERF:-} && $path == vertexd* && $tag == tcp1 ]]; then
		perf_out=$BENCH_PERF
		[[ $path == "${FIRST_VERTEXD:-vertexd}" ]] || perf_out=$BENCH_PERF.${path#vertexd-}
		perf record -q -F 499 -g -o "$perf_out" -p "$(IFS=,; echo "$*")" \
			-- sleep "$SECS" >"$VTX_TMP/perf.log" 2>&1 &
		perf_pid=$!
	fi
	json=$(q1 iperf3 -c "$addr" -t "$SECS" -J "${IPERF_ARGS[@]}") || {
		R[$path,$tag]=err
		return
	}
	t1=$(cpu_ticks "$@")
	[[ -n $perf_pid ]] && wait "$perf_pid"
	bytes=$(jq -r .end.sum_received.bytes <<<"$json")
	bps=$(jq -r .end.sum_received.bits_per_second <<<"$json")
	R[$path,$tag]=$(awk -v b="$bps" 'BEGIN { printf "%.2f", b / 1e9 }')
	if [[ $# -gt 0 ]]; then
		R[$path,$tag-cpu]=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v b="$bytes" \
			'BEGIN { printf "%.2f", (t / hz) / (b / 1e9) }')
	fi
}

# rtt PATH ADDR: median of 50 echo round trips, in ms.
rtt()
{
	R[$1,rtt]=$(q1 ping -c 50 -i 0.01 -W 1 "$2" |
		sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "err";
			else printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
}

measure() # measure PATH ADDR PIDS...
{
	local path=$1 addr=$2
	shift 2
	say "measuring $path ($addr)"
	IPERF_ARGS=()
	iperf "$path" "$addr" tcp1 "$@"
	IPERF_ARGS=(-P 4)
	iperf "$path" "$addr" tcp4 "$@"
	rtt "$path" "$addr"
}

wg_side() # wg_side NS IFACE KEY LOCAL-ADDR PEER-PUB PEER-ENDPOINT PEER-ADDR: prints the PID
{
	local ns=$1 ifc=$2 pid
	WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 ip netns exec "$ns" wireguard-go -f "$ifc" \
		>>"$VTX_TMP/$ifc.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	wait_until 10 ip -n "$ns" link show dev "$ifc" || return 1
	ip netns exec "$ns" wg set "$ifc" listen-port "$WG_PORT" private-key "$3" \
		peer "$5" allowed-ips "$7/32" endpoint "$6" || return 1
	ip -n "$ns" addr add "$4/24" dev "$ifc"
	ip -n "$ns" link set "$ifc" up
	WG_PID=$pid
}

bench_wireguard_go()
{
	local p1 p2
	command -v wireguard-go >/dev/null && command -v wg >/dev/null || return 1
	(umask 077 && wg genkey >"$VTX_TMP/wg1.key" && wg genkey >"$VTX_TMP/wg2.key") || return 1
	wg pubkey <"$VTX_TMP/wg1.key" >"$VTX_TMP/wg1.pub"
	wg pubkey <"$VTX_TMP/wg2.key" >"$VTX_TMP/wg2.pub"
	wg_side "$NS1" "$WG1" "$VTX_TMP/wg1.key" 100.127.0.1 "$(cat "$VTX_TMP/wg2.pub")" \
		"$H2_IP4:$WG_PORT" 100.127.0.2 || return 1
	p1=$WG_PID
	wg_side "$NS2" "$WG2" "$VTX_TMP/wg2.key" 100.127.0.2 "$(cat "$VTX_TMP/wg1.pub")" \
		"$H1_IP4:$WG_PORT" 100.127.0.1 || return 1
	p2=$WG_PID
	wait_until 10 q1 ping -c 1 -W 1 100.127.0.2 || return 1
	measure wireguard-go 100.127.0.2 "$p1" "$p2"
	stop_pid "$p1"
	stop_pid "$p2"
}

# bench_vertexd_one NAME: start both agents, measure them as path NAME, stop them.
bench_vertexd_one()
{
	local st
	# lib.sh's helpers end the run on failure; the EXIT trap still prints what was measured.
	{
		vtx_start "$NS1" alice
		vtx_start "$NS2" bob
	} >>"$VTX_TMP/vertexd-setup.log" 2>&1
	wait_until 30 q1 ping -c 1 -W 1 "$OVL4_PEER" || return 1
	measure "$1" "$OVL4_PEER" "${VTX_DAEMON_PID[alice]}" "${VTX_DAEMON_PID[bob]}"
	st=$(vtx_ctl alice status --json)
	R[$1,waits]=$(jq -r '.crypto_full_waits // "-"' <<<"$st")
	{
		vtx_stop alice
		vtx_stop bob
	} >>"$VTX_TMP/vertexd-setup.log" 2>&1
}

bench_vertexd()
{
	local w
	[[ -x $VERTEXD && -x $VERTEX ]] || return 1
	if [[ ${BENCH_ENDPOINTS:-} == 4 ]]; then
		H1_ENDPOINTS=("$H2_IP4:$VTX_PORT")
		H2_ENDPOINTS=("$H1_IP4:$VTX_PORT")
	fi
	pair_setup "$BOB" >>"$VTX_TMP/vertexd-setup.log" 2>&1
	FIRST_VERTEXD=$(vertexd_paths | head -n 1)
	if [[ -z $WORKERS_LIST ]]; then
		bench_vertexd_one vertexd
		return
	fi
	for w in $WORKERS_LIST; do
		export VERTEX_WORKERS=$w
		bench_vertexd_one "vertexd-w$w" || return 1
	done
}

ratio() # ratio A B: A/B with two decimals, or n/a
{
	awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b;
		else printf "n/a" }'
}

# The vertexd paths measured: vertexd, or vertexd-wN for each N of BENCH_WORKERS.
vertexd_paths()
{
	local w
	if [[ -z $WORKERS_LIST ]]; then
		echo vertexd
		return
	fi
	for w in $WORKERS_LIST; do
		echo "vertexd-w$w"
	done
}

report()
{
	local p a b vp
	vp=$(vertexd_paths)
	echo
	if [[ -n ${R[aead,tcp1]:-} ]]; then
		echo "AEAD ceiling, one core, 1420-byte frames (aead_bench, ${R[aead,cipher]}):" \
			"seal ${R[aead,tcp1]} Gbit/s, open ${R[aead,open]} Gbit/s; 'aead' below is the seal rate"
	fi
	echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)," \
		"kernel $(uname -r); iperf3 $SECS s per run"
	printf '%-14s %12s %12s %10s %14s %14s\n' path "TCP Gbit/s" "TCP -P4" "RTT ms" \
		"CPU s/GB (1)" "CPU s/GB (P4)"
	for p in plain wireguard-go $vp; do
		printf '%-14s %12s %12s %10s %14s %14s\n' "$p" "${R[$p,tcp1]:-n/a}" \
			"${R[$p,tcp4]:-n/a}" "${R[$p,rtt]:-n/a}" "${R[$p,tcp1-cpu]:--}" \
			"${R[$p,tcp4-cpu]:--}"
	done
	echo
	echo "ratios (throughput: higher is better; RTT and CPU: lower is better)"
	printf '%-26s %12s %12s %10s %14s %14s\n' "" "TCP" "TCP -P4" "RTT" "CPU (1)" "CPU (P4)"
	for p in wireguard-go:plain $(for a in $vp; do
		echo "$a:plain $a:wireguard-go $a:aead"
	done); do
		p=${p/:/ }
		read -r a b <<<"$p"
		printf '%-26s %12s %12s %10s %14s %14s\n' "$a / $b" \
			"$(ratio "${R[$a,tcp1]:-}" "${R[$b,tcp1]:-}")" \
			"$(ratio "${R[$a,tcp4]:-}" "${R[$b,tcp4]:-}")" \
			"$(ratio "${R[$a,rtt]:-}" "${R[$b,rtt]:-}")" \
			"$(ratio "${R[$a,tcp1-cpu]:-}" "${R[$b,tcp1-cpu]:-}")" \
			"$(ratio "${R[$a,tcp4-cpu]:-}" "${R[$b,tcp4-cpu]:-}")"
	done
	if [[ -n $WORKERS_LIST ]]; then
		echo
		echo "times alice's loop waited for a worker (every batch in use):"
		for p in $vp; do
			printf '  %-14s %s\n' "$p" "${R[$p,waits]:--}"
		done
	fi
}

q1 iperf3 -v >/dev/null 2>&1 || fail "iperf3 does not run"
ip netns exec "$NS2" iperf3 -s >"$VTX_TMP/iperf3-server.log" 2>&1 &
track_pid $!
wait_until 10 q1 bash -c "exec 3<>/dev/tcp/$H2_IP4/5201" || fail "iperf3 server did not start"

# The sealing loop's own speed on this CPU: the limit no tunnel using this AEAD can pass.
if [[ -x $VTX_BUILD/aead_bench ]] &&
	read -r _ seal _ open cipher < <("$VTX_BUILD/aead_bench" 1420 $BENCH_CIPHER_ARG); then
	R[aead,tcp1]=$seal R[aead,tcp4]=$seal R[aead,open]=$open R[aead,cipher]=$cipher
fi
[[ " $PATHS " == *" plain "* ]] && measure plain "$H2_IP4"
if [[ " $PATHS " == *" wireguard-go "* ]]; then
	bench_wireguard_go || say "wireguard-go: not measured (missing or failed; see $VTX_TMP)"
fi
if [[ " $PATHS " == *" vertexd "* ]]; then
	bench_vertexd || say "vertexd: not measured (not built or no tunnel)"
fi
