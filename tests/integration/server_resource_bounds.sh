#!/bin/bash
# SPDX-License-Identifier: MIT
#
# What one source can take from a domain's server (serve.c's bounds, docs/server.md): the
# descriptor limit it really has is the one it reports; one network holds at most its share of
# connections, after HELLO as well as before; anonymous connections get a smaller share and a
# bounded life; a client that pipelines requests and never reads costs a bounded amount of
# memory; a NOTARY_REQ flood is cut to the rate. Meanwhile another client is served.
#
#                                 dns  198.18.0.53
#                                          |
#     srva 198.18.0.10  ---------------[ sw: br0 ]
#     vertex-server a.example.com       /    |    \
#     (hard limit 800, soft 256)   alice     |     bob 198.18.0.102
#                         198.18.0.101       |     (anonymous, the attacker here)
#                     (enrolled: idle,    carol 198.18.0.103
#                      hostile, notary)   (fetches the CA meanwhile)
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_domains.sh
source "$(dirname "$0")/lib_domains.sh"
# shellcheck source-path=SCRIPTDIR source=lib_servers.sh
source "$(dirname "$0")/lib_servers.sh"

HOLD=$VTX_BUILD/conn_hold
PROBE=$VTX_BUILD/discover_probe
vtx_require
[[ -x $HOLD && -x $PROBE ]] || skip "conn_hold or discover_probe not built in $VTX_BUILD"
domains_up
domain_node_add carol 198.18.0.103
server_init srva "$DOMAIN_A" >/dev/null

# The server starts with the usual soft limit far below its hard one; it must raise it.
HARD=800
ulimit -Sn 256 && ulimit -Hn "$HARD" || fail "cannot set this shell's descriptor limits"
server_start srva
SRV_PID=${VTX_SERVER_PID[srva]}
soft=$(awk '/^Max open files/ { print $4 }' "/proc/$SRV_PID/limits")
[[ $soft == "$HARD" ]] || fail "the server's soft descriptor limit is $soft, want $HARD"
# capacity = 800 - SERVER_FD_RESERVE (160) = 640; per network 640 / 16 = 40 (below the 64 that
# may be in the handshake at once, so the count after HELLO is what bites), of them 8
# anonymous; anonymous in all 640 / 4 = 160.
LIMITS="descriptor limit $HARD: up to 640 connections, 40 per network (8 of them anonymous), 160 anonymous in all"
grep -q "$LIMITS" "$VTX_TMP/srva.log" || fail "the server reports: $(grep -m1 'descriptor limit' "$VTX_TMP/srva.log")"
pass "soft limit raised to $soft; $LIMITS"
enrolled alice alice "alice@$DOMAIN_A"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SRV_PID/status"; }
# hold NODE OUT MODE COUNT SECONDS [KEY CERT]: conn_hold in the background, its lines in OUT.
hold()
{
	local node=$1 out=$2
	shift 2
	pretty "$node" "conn_hold $SRVA_IP:$SERVER_PORT $DOMAIN_A $* > $out &"
	ip netns exec "$(ns_for "$node")" "$HOLD" "$SRVA_IP:$SERVER_PORT" "$DOMAIN_A" "$@" \
		>"$out" 2>&1 &
	HOLD_PID=$!
	track_pid "$HOLD_PID"
}
# last_field OUT NAME: the number after NAME in OUT's last line.
last_field() { tail -n 1 "$1" | awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }

say "alice: 30 connections pipelining CA_REQs and never reading"
before=$(rss_kb)
hold alice "$VTX_TMP/hostile.out" hostile 30 8 "$VTX_TMP/alice.key" "$VTX_TMP/alice.crt"
sleep 6 # the clients keep writing until the kernel's buffers are full: no event to wait for
during=$(rss_kb)
queued=$(qn srva ss -Htn state established "( sport = :$SERVER_PORT )" | awk '{ s += $2 } END { print s }')
per=$(((during - before) / 30))
wait "$HOLD_PID"
up=$(last_field "$VTX_TMP/hostile.out" up)
[[ $up -eq 30 ]] || fail "only $up hostile connections stayed up: $(tail -n 1 "$VTX_TMP/hostile.out")"
# Old code: ~330 KiB each (STREAM_WBUF_SIZE of answers). Now: output stops at 16 KiB.
((per <= 160)) || fail "a hostile connection costs $per KiB (VmRSS $before -> $during KiB)"
pass "30 non-reading clients: VmRSS $before -> $during KiB, $per KiB each ($queued bytes of requests unread in the kernel)"

say "bob: 40 anonymous connections that say HELLO and ping every second"
hold bob "$VTX_TMP/anon.out" idle 40 36
anon_pid=$HOLD_PID
wait_until 10 bash -c "[[ \$(tail -n 1 $VTX_TMP/anon.out | awk '{ print \$8 }') -ge 32 ]]" ||
	fail "bob's extra anonymous connections were not closed: $(tail -n 1 "$VTX_TMP/anon.out")"
sleep 2 # they ping: nothing else may close now
up=$(last_field "$VTX_TMP/anon.out" up)
[[ $up -eq 8 ]] || fail "bob holds $up anonymous connections after HELLO, want 8: $(tail -n 1 "$VTX_TMP/anon.out")"
pass "bob holds $up anonymous connections, the rest refused: $(grep -m1 'anonymous connections from its network' "$VTX_TMP/srva.log" | cut -d' ' -f3-)"
out=$(qn carol timeout 20 "$PROBE" --fetch-ca "$DOMAIN_A" 2>&1) || fail "carol's CA fetch failed: $out"
pass "carol fetched the CA meanwhile: $out"

say "alice (enrolled): 100 idle connections from one address"
hold alice "$VTX_TMP/idle.out" idle 100 6 "$VTX_TMP/alice.key" "$VTX_TMP/alice.crt"
wait "$HOLD_PID"
up=$(last_field "$VTX_TMP/idle.out" up)
[[ $up -eq 40 ]] || fail "alice's address holds $up connections after HELLO, want 40: $(tail -n 1 "$VTX_TMP/idle.out")"
pass "one address holds $up connections past HELLO; $(last_field "$VTX_TMP/idle.out" closed) refused"

say "bob's anonymous connections end with their lifetime (30 s), pings or not"
wait "$anon_pid"
open=$(last_field "$VTX_TMP/anon.out" open)
[[ $open -eq 0 ]] || fail "$open anonymous connections outlived 30 s: $(tail -n 1 "$VTX_TMP/anon.out")"
pass "none of bob's anonymous connections is left after 36 s: $(tail -n 1 "$VTX_TMP/anon.out")"

say "alice: 200 NOTARY_REQs at once on one connection"
hold alice "$VTX_TMP/notary.out" notary 200 4 "$VTX_TMP/alice.key" "$VTX_TMP/alice.crt"
wait "$HOLD_PID"
read -r answered refused < <(awk '/^notary/ { print $3, $5 }' "$VTX_TMP/notary.out")
# Burst 64, then 8/s: within 4 s at most 64 + 32 (+ 8 for rounding).
((answered >= 64 && answered <= 104 && answered + refused == 200)) ||
	fail "notary flood: $(tail -n 1 "$VTX_TMP/notary.out")"
pass "notary flood: $answered answered, $refused refused with CTL_ERR_RATE"

server_stop srva
pass "$VTX_SCENARIO"
