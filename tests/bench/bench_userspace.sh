#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Userspace mode against TUN mode (issue 14; a benchmark: it prints figures and asserts nothing,
# see docs/performance.md). Two agents, static peers, on the same path in the same namespaces as
# bench_dataplane.sh:
#
#     host1 (alice)  eth0 198.18.1.1 ------ r1 [router] r2 ------ eth0 198.18.2.1  host2 (bob)
#
# One TCP stream of BENCH_MB MiB (default 1024) of zeros from alice to bob's port 5201, where a
# kernel `nc -l` on bob's host drops it, timed from the first byte sent to the sink's exit, each
# way of running the two agents:
#
#   tun/tun        both TUN mode: nc on alice connects to bob's overlay address through vtx0
#   us/us          both userspace: nc through alice's SOCKS5 server (127.0.0.1:1080), lwIP on
#                  both sides, bob's purpose `bench tcp/5201` proxied to 127.0.0.1:5201
#   us/tun         alice userspace, bob TUN (bob's kernel takes the connection)
#   tun/us         alice TUN, bob userspace
#
# BENCH_ROUNDS (3) runs each; the median Mbit/s, and the CPU seconds both vertexd used per GB
# (utime+stime from /proc/PID/stat). The same nc on both ends in every mode, so what differs is
# the agents. BENCH_PERF=DIR: a perf profile (perf record -g) of each vertexd during the first
# counted round of each mode, DIR/MODE-NAME.data (perf report -i ... --no-children).
#
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"
set +e

MB=${BENCH_MB:-1024}
ROUNDS=${BENCH_ROUNDS:-3}
MODES=${BENCH_MODES:-tun/tun us/us us/tun tun/us}
CLK_TCK=$(getconf CLK_TCK)
declare -A R=()

[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces)"
nc -h 2>&1 | grep -q -- '-X proxy_protocol' || skip "missing tool: netcat-openbsd"
[[ -z ${BENCH_PERF:-} ]] || { mkdir -p "$BENCH_PERF" && command -v perf >/dev/null; } ||
	skip "BENCH_PERF: needs perf and a directory"
vtx_setup_common
trap 'rc=$?; report; (exit $rc); vtx_cleanup' EXIT
topo_up >"$VTX_TMP/topology.log" 2>&1 || fail "topology: $(cat "$VTX_TMP/topology.log")"
pair_setup >"$VTX_TMP/setup.log" 2>&1 || fail "setup: $(cat "$VTX_TMP/setup.log")"
printf 'socks 127.0.0.1:1080\n' >>"$VTX_TMP/alice.conf"
printf 'purpose bench tcp/5201\n' >>"$VTX_TMP/bob.conf"

cpu_ticks()
{
	local pid sum=0 f
	for pid in "$@"; do
		read -ra f <<<"$(sed 's/^.*) //' "/proc/$pid/stat")"
		sum=$((sum + f[11] + f[12]))
	done
	echo "$sum"
}

# start NAME NS MODE: vertexd NAME in tun or us(erspace) mode.
start()
{
	local name=$1 ns=$2 mode=$3
	sed -i '/^userspace /d' "$VTX_TMP/$name.conf"
	[[ $mode == tun ]] || printf 'userspace on\n' >>"$VTX_TMP/$name.conf"
	vtx_start "$ns" "$name" >/dev/null
}

# one MODE: one transfer; prints "SECONDS CPU-TICKS".
one()
{
	local amode=$1 perf=${2:-} t0 t1 c0 c1 sink pids=()
	qn2 nc -l 5201 >/dev/null &
	sink=$!
	wait_until 5 q2 bash -c 'ss -ltn | grep -q ":5201 "' || return 1
	if [[ -n $perf ]]; then
		for n in alice bob; do
			perf record -q -F 999 -g -o "$perf-$n.data" -p "${VTX_DAEMON_PID[$n]}" \
				>/dev/null 2>&1 &
			pids+=($!)
		done
	fi
	c0=$(cpu_ticks "${VTX_DAEMON_PID[alice]}" "${VTX_DAEMON_PID[bob]}")
	t0=$(date +%s.%N)
	if [[ $amode == tun ]]; then
		head -c "${MB}M" /dev/zero | q1 nc -N "$OVL4_PEER" 5201
	else
		head -c "${MB}M" /dev/zero | q1 nc -N -X 5 -x 127.0.0.1:1080 "$OVL4_PEER" 5201
	fi
	wait "$sink"
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "${VTX_DAEMON_PID[alice]}" "${VTX_DAEMON_PID[bob]}")
	if ((${#pids[@]})); then
		kill -INT "${pids[@]}" 2>/dev/null
		wait "${pids[@]}" 2>/dev/null
	fi
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') $((c1 - c0))"
}

qn2() { ip netns exec "$NS2" "$@"; }

median()
{
	sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

measure()
{
	local mode=$1 amode=${1%/*} bmode=${1#*/} secs ticks mbits=() cpus=()
	start alice "$NS1" "$amode"
	start bob "$NS2" "$bmode"
	if ! wait_until 20 bash -c "[[ \$('$VERTEX' -s '$VTX_TMP/alice.sock' peers --json |
		jq -r '.peers[0].state') == up ]]"; then
		echo "$mode: no session" >&2
		vtx_stop alice
		vtx_stop bob
		return
	fi
	one "$amode" >/dev/null # warm-up (the first SYN may wait for the path)
	for ((i = 0; i < ROUNDS; i++)); do
		perf=
		[[ -n ${BENCH_PERF:-} && $i -eq $((ROUNDS - 1)) ]] && perf=$BENCH_PERF/${mode/\//-}
		read -r secs ticks <<<"$(one "$amode" "$perf")"
		[[ -n $secs ]] || continue
		mbits+=("$(awk -v mb="$MB" -v s="$secs" 'BEGIN { print mb * 8 * 1.048576 / s }')")
		cpus+=("$(awk -v t="$ticks" -v hz="$CLK_TCK" -v mb="$MB" \
			'BEGIN { print t / hz / (mb * 1.048576 / 1000) }')")
		printf '%-8s round %d: %.0f Mbit/s, %.2f CPU s/GB\n' "$mode" "$i" "${mbits[-1]}" \
			"${cpus[-1]}"
	done
	for n in alice bob; do # what the agents still hold after the rounds
		echo "$mode $n: $(vtx_ctl "$n" status --json | jq -c '{netstack_conns, proxied, netstack_no_buffer, drops,
			proxy_spliced, socks_clients, policy: ."policy_drop.port-not-allowed"}')"
	done
	R[$mode,mbit]=$(printf '%s\n' "${mbits[@]}" | median)
	R[$mode,cpu]=$(printf '%s\n' "${cpus[@]}" | median)
	vtx_stop alice
	vtx_stop bob
	wait_until 10 bash -c "! kill -0 ${VTX_DAEMON_PID[alice]} 2>/dev/null &&
		! kill -0 ${VTX_DAEMON_PID[bob]} 2>/dev/null"
}

report()
{
	local m
	echo
	echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)," \
		"kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $MB MiB per run," \
		"median of $ROUNDS"
	printf '%-8s %12s %14s %14s\n' "alice/bob" "Mbit/s" "CPU s/GB" "vs tun/tun"
	for m in $MODES; do
		printf '%-8s %12.0f %14.2f %14s\n' "$m" "${R[$m,mbit]:-0}" "${R[$m,cpu]:-0}" \
			"$([[ -n ${R[$m,mbit]:-} && -n ${R[tun/tun,mbit]:-} ]] &&
				awk -v a="${R[$m,mbit]}" -v b="${R[tun/tun,mbit]}" \
					'BEGIN { printf "%.2f", a / b }')"
	done
}

for m in $MODES; do
	measure "$m"
done
