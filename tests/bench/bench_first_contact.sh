#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Benchmark (prints figures, asserts nothing): the time of a first cross-domain contact.
# Two domains with their servers (the lab of tests/integration/lib_domains.sh); alice@a and
# bob@b enrol, then their agents start with each other as peers and no CA of the other domain.
# For each of BENCH_ROUNDS rounds (fresh state each time: nothing pinned), from alice's start:
#
#   pinned    b's CA fetched from b's server, the notary (a's server) asked, CA pinned
#   session   the TLS handshake with bob done and keys installed
#   ping      the first overlay ping answered
#
# Usage: as root, on a built tree: bash tests/bench/bench_first_contact.sh [BENCH_ROUNDS=5]
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/lib_domains.sh"
source "$(dirname "$0")/../integration/lib_servers.sh"
VTX_SCENARIO=bench_first_contact
ROUNDS=${BENCH_ROUNDS:-5}

vtx_require
domains_up
server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva
server_start srvb
enrolled alice alice "alice@$DOMAIN_A"
enrolled bob bob "bob@$DOMAIN_B"

ms() # ms LOGFILE PATTERN: the time of the first matching line, in ms since midnight
{
	grep -m1 "$2" "$1" | awk '{ split($1, t, /[:.]/); print ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4] }'
}
pinged()
{
	qn alice ping -c 1 -W 1 "$OVL4_PEER" >/dev/null
}

printf '%-6s %10s %10s %10s\n' round "pinned ms" "session ms" "ping ms"
for r in $(seq "$ROUNDS"); do
	rm -f "$VTX_TMP"/alice.db* "$VTX_TMP"/bob.db* "$VTX_TMP"/alice.log "$VTX_TMP"/bob.log
	# The servers must also meet each other anew: forget what they pinned.
	for s in srva srvb; do
		server_stop "$s" >/dev/null
		python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('delete from pins'); c.execute(\"delete from meta where key like 'ca:%'\"); c.commit()" "$VTX_TMP/$s/server.db" 2>/dev/null || true
		server_start "$s" >/dev/null
	done
	lab_agent_config alice "alice@$DOMAIN_A" fd00:5678:a1::/48 "bob@$DOMAIN_B" "$BOB_IP"
	lab_agent_config bob "bob@$DOMAIN_B" fd00:5678:b1::/48 "alice@$DOMAIN_A" "$ALICE_IP"
	vtx_start "$(ns_for bob)" bob >/dev/null
	t0=$(date +%s%3N)
	vtx_start "$(ns_for alice)" alice >/dev/null
	wait_until 60 pinged || fail "round $r: no overlay ping"
	t_ping=$(($(date +%s%3N) - t0))
	start=$(ms "$VTX_TMP/alice.log" "up on vtx0")
	pinned=$(ms "$VTX_TMP/alice.log" "pinned CA")
	session=$(ms "$VTX_TMP/alice.log" "session up")
	printf '%-6s %10s %10s %10s\n' "$r" "$((pinned - start))" "$((session - start))" "$t_ping"
	vtx_stop alice >/dev/null
	vtx_stop bob >/dev/null
done
echo "(ping ms is measured from the command that starts vertexd, so it includes its start-up)"
server_stop srva >/dev/null
server_stop srvb >/dev/null
