#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vertex-server benchmark (not a test: it prints figures, see docs/performance.md, "Server").
#
#     srv  eth0 198.18.0.10/24  ----------  eth0 198.18.0.2/24, 198.18.0.3/24     cli
#     vertex-server a.example.com            + 198.18.0.100 .. .227 (128 source addresses)
#     (ulimit -n 65536)                      enrol_load, idle_agents, vertex register
#
# 1. Enrolments per second: BENCH_USERS users (default 300) get an invite each (admin verbs, one
#    process per verb, timed apart); enrol_load pre-makes a key and CSR per user and then enrols
#    them all with BENCH_CONC connections in flight (default 32), each from the next of the 128
#    source addresses, so the per-source limit (burst 20, then 1 per 5 s) is not reached. Then
#    BENCH_LIMITED more users (default 60) from ONE source address: what the limit lets through.
# 2. Time of a first contact with a server: `vertex register` end to end (CA fetch + enrolment,
#    two TLS connections) BENCH_REGISTERS times (default 5), and BENCH_CA_RTT (default 100)
#    sequential HELLO + CA_REQ round trips on fresh connections. The cross-domain first contact
#    with a notary query is measured by bench_first_contact.sh.
# 3. Idle control connections: one agent is enrolled; idle_agents opens BENCH_AGENTS connections
#    with its certificate (default 1000; BENCH_AGENTS=10000 is the target), HELLO, then one
#    CTL_PING per 30 s each, held BENCH_HOLD seconds (default 35: every agent pings once). The
#    server's VmRSS (/proc/PID/status) is read before, at 1, 100, 1000 and all connections, and
#    after the hold; per-connection cost and whether 10,000 agents fit in 1 GiB are printed.
#    The connections come from all 128 source addresses (at most 256 per network: docs/server.md,
#    "Resource bounds").
# 4. What one address can take (conn_hold from CLI_IP, idle0's certificate unless anonymous,
#    each step against a freshly restarted server):
#    memory per hostile connection (BENCH_HOSTILE, default 100, pipelining CA_REQs and never
#    reading, held 10 s), how many connections one address holds past HELLO (asking for
#    BENCH_ONE_ADDR, default 400) and how many anonymous ones (asking for 50), with the
#    server's VmRSS around each; the server's own line about its limits.
#
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"
set +e

USERS=${BENCH_USERS:-300}
CONC=${BENCH_CONC:-32}
LIMITED=${BENCH_LIMITED:-60}
REGISTERS=${BENCH_REGISTERS:-5}
CA_RTT=${BENCH_CA_RTT:-100}
AGENTS=${BENCH_AGENTS:-1000}
HOLD=${BENCH_HOLD:-35}
HOSTILE=${BENCH_HOSTILE:-100}
ONE_ADDR=${BENCH_ONE_ADDR:-400}
DOMAIN=a.example.com
SRV_IP=198.18.0.10
CLI_IP=198.18.0.2 # vertex register and the idle agents' enrolment
ONE_IP=198.18.0.3 # the rate-limited enrolment run, so that CLI_IP keeps its attempts
SRC_BASE=198.18.0.100 # .100 .. .227: not .255, the /24's broadcast address (see lab_up)
NSRC=128
PORT=4801
SERVER=$VTX_BUILD/vertex-server
LOAD=$VTX_BUILD/enrol_load
IDLE=$VTX_BUILD/idle_agents
CONNS=$VTX_BUILD/conn_hold
GIB_KB=$((1024 * 1024))
declare -A R=() # results, printed by report()

[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces)"
for t in "$SERVER" "$VERTEX" "$LOAD" "$IDLE" "$CONNS"; do
	[[ -x $t ]] || skip "not built: $t (cmake --build $VTX_BUILD)"
done
vtx_setup_common
trap 'rc=$?; report; (exit $rc); vtx_cleanup' EXIT
NSS=$VTX_RUN-srv
NSC=$VTX_RUN-cli
SA=$VTX_TMP/srv

rss_kb() # rss_kb PID: VmRSS in KiB
{
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

ms_since() # ms_since NANOSECONDS: milliseconds elapsed
{
	echo $((($(date +%s%N) - $1) / 1000000))
}

median() # median: of the numbers on stdin
{
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a";
		else print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# tcp_counters: the kernel's counters that explain a stalled connection (server side listen
# queue overflows and drops, client side retransmitted segments and SYNs).
tcp_counters()
{
	local srv cli
	srv=$(ip netns exec "$NSS" nstat -asz TcpExtListenOverflows TcpExtListenDrops |
		awk 'NR > 1 { printf "%s %s ", $1, $2 }')
	cli=$(ip netns exec "$NSC" nstat -asz TcpRetransSegs TcpExtTCPSynRetrans |
		awk 'NR > 1 { printf "%s %s ", $1, $2 }')
	echo "server: ${srv:-n/a}; client: ${cli:-n/a}"
}

lab_up()
{
	local i
	ns_add "$NSS"
	ns_add "$NSC"
	pp ip -n "$NSS" link add eth0 type veth peer name eth0 netns "$NSC"
	ip -n "$NSS" addr add "$SRV_IP/24" dev eth0
	ip -n "$NSC" addr add "$CLI_IP/24" dev eth0
	ip -n "$NSC" addr add "$ONE_IP/24" dev eth0
	# The sources stop short of .255: a reply to the subnet's broadcast address goes out as a
	# link-layer broadcast, which TCP ignores, so a connection from it never completes.
	for ((i = 0; i < NSRC; i++)); do
		echo "addr add 198.18.0.$((100 + i))/24 dev eth0"
	done | ip -n "$NSC" -b -
	ip -n "$NSS" link set eth0 up
	ip -n "$NSC" link set eth0 up
	wait_until 10 ip netns exec "$NSC" ping -c 1 -W 1 "$SRV_IP" || return 1
	# The server learns every source address's neighbour entry now, so that address resolution
	# is not part of the timing.
	for ((i = 0; i < NSRC; i++)); do
		ip netns exec "$NSC" ping -c 1 -W 1 -I "198.18.0.$((100 + i))" "$SRV_IP" >/dev/null &
	done
	wait
}

# invites FILE PREFIX COUNT: COUNT users PREFIX0.. with one invite each, "user code" lines.
invites()
{
	local i
	for ((i = 0; i < $3; i++)); do
		"$SERVER" -D "$SA" user add "$2$i" >/dev/null || return 1
		echo "$2$i $("$SERVER" -D "$SA" invite new "$2$i")"
	done >"$1"
}

server_start()
{
	# As many descriptors as allowed, up to 65536 (a sandbox may cap the hard limit lower).
	pretty srv "ulimit -n 65536 || ulimit -n \$(ulimit -Hn); vertex-server -D $SA run --port $PORT &"
	# shellcheck disable=SC2016 # expanded by the inner shell, on purpose
	ip netns exec "$NSS" bash -c 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
		exec "$@"' sh \
		"$SERVER" -D "$SA" run --port "$PORT" >>"$VTX_TMP/server.log" 2>&1 &
	SRV_PID=$!
	track_pid "$SRV_PID"
	wait_until 10 ip netns exec "$NSC" bash -c "exec 3<>/dev/tcp/$SRV_IP/$PORT" || return 1
	R[nofile]=$(awk '/^Max open files/ { print $4 }' "/proc/$SRV_PID/limits")
}

bench_enrol()
{
	local t0 out
	say "preparing $USERS + $LIMITED users with invites (admin verbs)"
	t0=$(date +%s%N)
	invites "$VTX_TMP/invites" u "$USERS" || return 1
	R[prep_ms]=$(ms_since "$t0")
	invites "$VTX_TMP/invites-limited" l "$LIMITED" || return 1
	mkdir -p "$VTX_TMP/keys"
	say "enrolling $USERS users, $CONC in flight, from $NSRC source addresses"
	out=$(ip netns exec "$NSC" "$LOAD" "$SRV_IP:$PORT" "$DOMAIN" "$VTX_TMP/invites" \
		"$VTX_TMP/keys" "$CONC" "$SRC_BASE" "$NSRC")
	echo "$out"
	R[enrol]=$out
	R[enrol_tcp]=$(tcp_counters)
	say "enrolling $LIMITED users, $CONC in flight, from ONE source address ($ONE_IP)"
	out=$(ip netns exec "$NSC" "$LOAD" "$SRV_IP:$PORT" "$DOMAIN" "$VTX_TMP/invites-limited" \
		"$VTX_TMP/keys" "$CONC" "$ONE_IP" 1)
	echo "$out"
	R[enrol_limited]=$out
}

bench_first_contact()
{
	local i t0 code times=()
	say "vertex register end to end, $REGISTERS times (CA fetch + enrolment)"
	for ((i = 0; i < REGISTERS; i++)); do
		"$SERVER" -D "$SA" user add "reg$i" >/dev/null
		code=$("$SERVER" -D "$SA" invite new "reg$i")
		t0=$(date +%s%N)
		ip netns exec "$NSC" "$VERTEX" register "reg$i@$DOMAIN" --invite "$code" \
			--key "$VTX_TMP/reg$i.key" --cert "$VTX_TMP/reg$i.crt" --ca "$VTX_TMP/reg$i.ca" \
			--server "$SRV_IP:$PORT" >>"$VTX_TMP/register.log" 2>&1 || {
			times+=(fail)
			continue
		}
		times+=("$(ms_since "$t0")")
	done
	R[register]="${times[*]}"
	R[register_med]=$(printf '%s\n' "${times[@]}" | grep -v fail | median)
	say "HELLO + CA_REQ on a fresh connection, $CA_RTT times in a row"
	R[ca]=$(ip netns exec "$NSC" "$LOAD" "$SRV_IP:$PORT" "$DOMAIN" --ca "$CA_RTT")
	echo "${R[ca]}"
}

# step_rss LABEL: the server's VmRSS now, recorded under LABEL.
step_rss()
{
	R[rss_$1]=$(rss_kb "$SRV_PID")
	say "server VmRSS at $1: ${R[rss_$1]} KiB"
}

bench_idle()
{
	local code pid line n steps=() i
	"$SERVER" -D "$SA" user add idle0 >/dev/null
	code=$("$SERVER" -D "$SA" invite new idle0)
	ip netns exec "$NSC" "$VERTEX" register "idle0@$DOMAIN" --invite "$code" \
		--key "$VTX_TMP/idle0.key" --cert "$VTX_TMP/idle0.crt" --ca "$VTX_TMP/idle0.ca" \
		--server "$SRV_IP:$PORT" >>"$VTX_TMP/register.log" 2>&1 || return 1
	for n in 1 100 1000; do
		((n < AGENTS)) && steps+=("$n")
	done
	steps+=("$AGENTS")
	sleep 1 # let the enrolment connections above close before the baseline
	step_rss 0
	say "idle_agents: $AGENTS connections with idle0's certificate, steps ${steps[*]}"
	ip netns exec "$NSC" "$IDLE" "$SRV_IP:$PORT" "$DOMAIN" "$VTX_TMP/idle0.ca" \
		"$VTX_TMP/idle0.key" "$VTX_TMP/idle0.crt" "$AGENTS" "$SRC_BASE" "$NSRC" "${steps[@]}" \
		>"$VTX_TMP/idle.out" 2>"$VTX_TMP/idle.err" &
	pid=$!
	track_pid "$pid"
	for ((i = 1; i <= ${#steps[@]}; i++)); do
		# ~1 ms per connection on this machine; generous, bounded.
		if ! wait_until $((60 + AGENTS / 50)) grep -q "^up ${steps[i - 1]} " "$VTX_TMP/idle.out"; then
			say "idle_agents did not reach ${steps[i - 1]}: $(tail -n 3 "$VTX_TMP/idle.err")"
			break
		fi
		line=$(grep "^up ${steps[i - 1]} " "$VTX_TMP/idle.out")
		R[up_${steps[i - 1]}]=$(awk '{ print $4 }' <<<"$line")
		step_rss "${steps[i - 1]}"
		((i < ${#steps[@]})) && kill -USR1 "$pid"
	done
	R[client_rss]=$(rss_kb "$pid")
	R[idle_steps]="${steps[*]}"
	say "holding $AGENTS idle connections for $HOLD s (each pings once per 30 s)"
	sleep "$HOLD"
	step_rss held
	stop_pid "$pid" TERM
	R[idle_held]=$(grep '^held' "$VTX_TMP/idle.out")
	say "${R[idle_held]}"
}

# one_addr LABEL SECONDS MODE COUNT [KEY CERT]: conn_hold (from CLI_IP) against a freshly
# started server; its VmRSS before and after SECONDS - 2 s, and conn_hold's last line, recorded
# under LABEL.
one_addr()
{
	local label=$1 secs=$2 pid
	shift 2
	# A fresh server for each step: memory an earlier step freed would be reused and hide
	# this step's cost.
	stop_pid "$SRV_PID" TERM
	server_start || return 1
	sleep 1
	R[rss_${label}_0]=$(rss_kb "$SRV_PID")
	ip netns exec "$NSC" "$CONNS" "$SRV_IP:$PORT" "$DOMAIN" "$@" >"$VTX_TMP/$label.out" 2>&1 &
	pid=$!
	track_pid "$pid"
	sleep $((secs - 2)) # a hold of fixed length: the figure is what it holds by then
	R[rss_${label}_1]=$(rss_kb "$SRV_PID")
	wait "$pid"
	R[$label]=$(tail -n 1 "$VTX_TMP/$label.out")
	say "$label: ${R[$label]}; server VmRSS ${R[rss_${label}_0]} -> ${R[rss_${label}_1]} KiB"
}

bench_one_address()
{
	local cert=("$VTX_TMP/idle0.key" "$VTX_TMP/idle0.crt")
	[[ -f ${cert[1]} ]] || return 1
	R[limits]=$(grep -m1 -o 'descriptor limit .*' "$VTX_TMP/server.log")
	say "one address: $HOSTILE connections pipelining CA_REQs, never reading"
	one_addr hostile 10 hostile "$HOSTILE" 10 "${cert[@]}"
	say "one address: $ONE_ADDR idle connections with a certificate"
	one_addr one_idle 12 idle "$ONE_ADDR" 12 "${cert[@]}"
	say "one address: 50 anonymous idle connections"
	one_addr one_anon 6 idle 50 6
}

per_conn() # per_conn KB0 KB1 N: bytes per connection
{
	awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (a > 0 && b > 0 && n > 0)
		printf "%.0f", (b - a) * 1024 / n; else printf "n/a" }'
}

report()
{
	local n s b
	echo
	echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)," \
		"kernel $(uname -r); state directory on $(df -T "$VTX_TMP" 2>/dev/null |
			awk 'NR == 2 { print $2 }') (SQLite WAL, synchronous=FULL)"
	echo "server: RLIMIT_NOFILE ${R[nofile]:-n/a}, SERVER_MAX_CONNS 20000"
	echo
	echo "1. enrolments (invite, fresh Ed25519 key and CSR per user made before timing)"
	echo "   preparation: $USERS users + invites by admin verbs in ${R[prep_ms]:-n/a} ms" \
		"($((2 * USERS)) processes)"
	echo "   $NSRC source addresses: ${R[enrol]:-n/a}"
	echo "   TCP counters after it: ${R[enrol_tcp]:-n/a}"
	echo "   1 source address:      ${R[enrol_limited]:-n/a}"
	echo
	echo "2. first contact with a server (same domain; the cross-domain first contact with a"
	echo "   notary query: see tests/bench/bench_first_contact.sh)"
	echo "   vertex register end to end (2 TLS connections): median ${R[register_med]:-n/a} ms" \
		"(runs: ${R[register]:-n/a} ms)"
	echo "   HELLO + CA_REQ on a fresh TLS connection: ${R[ca]:-n/a}"
	echo
	echo "3. idle control connections (one agent certificate, HELLO, CTL_PING every 30 s)"
	echo "   server VmRSS before: ${R[rss_0]:-n/a} KiB"
	for n in ${R[idle_steps]:-}; do
		echo "   $n up in ${R[up_$n]:-n/a} s: VmRSS ${R[rss_$n]:-n/a} KiB," \
			"$(per_conn "${R[rss_0]:-}" "${R[rss_$n]:-}" "$n") B per connection"
	done
	echo "   after ${HOLD} s held: VmRSS ${R[rss_held]:-n/a} KiB; ${R[idle_held]:-n/a}"
	echo "   client (idle_agents) VmRSS with all up: ${R[client_rss]:-n/a} KiB"
	s=${R[idle_steps]:-}
	n=${s##* }
	b=$(per_conn "${R[rss_0]:-}" "${R[rss_held]:-${R[rss_$n]:-}}" "$n")
	if [[ $b != n/a ]]; then
		awk -v b="$b" -v base="${R[rss_0]}" -v gib="$GIB_KB" 'BEGIN {
			t = base + b * 10000 / 1024;
			printf "   10,000 agents: %.0f MiB projected (%.0f B each + %.0f MiB base): %s 1 GiB\n",
				t / 1024, b, base / 1024, t <= gib ? "fits under" : "does NOT fit under" }'
	fi
	echo "   memory per idle connection: $b B"
	echo
	echo "4. what one address can take (${R[limits]:-limits: n/a})"
	report_one hostile "$HOSTILE" "hostile (pipelining, never reading)"
	report_one one_idle "$ONE_ADDR" "idle, with a certificate"
	report_one one_anon 50 "idle, anonymous"
}

# report_one LABEL ASKED WHAT: one line of section 4.
report_one()
{
	local up
	up=$(awk '{ for (i = 1; i < NF; i++) if ($i == "up") print $(i + 1) }' <<<"${R[$1]:-}")
	echo "   $3: asked for $2, held ${up:-n/a}; VmRSS ${R[rss_$1_0]:-n/a} -> ${R[rss_$1_1]:-n/a}" \
		"KiB, $(per_conn "${R[rss_$1_0]:-}" "${R[rss_$1_1]:-}" "${up:-0}") B per connection held"
}

lab_up >"$VTX_TMP/lab.log" 2>&1 || fail "lab: $(cat "$VTX_TMP/lab.log")"
pp "$SERVER" -D "$SA" init --domain "$DOMAIN" >"$VTX_TMP/init.out" || fail "init failed"
server_start || fail "vertex-server does not listen: $(tail "$VTX_TMP/server.log")"
bench_enrol || say "enrolment: not measured"
bench_first_contact
bench_idle || say "idle connections: not measured"
bench_one_address || say "one address: not measured"
