#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Finding a domain's server (control/discover.c) against a real DNS server: from alice's
# namespace, a.example.com is found through its SRV record, b.example.com through the fallback
# to its own A record on port 4801, d.example.com (no record at all) is a clear error; and with
# the DNS server stopped, or silently dropping queries, discovery fails within 5 s instead of
# hanging. The daemons look up on a thread (control/resolve.c): the same answers come back on
# the event loop, which keeps running while a slow lookup waits (discover_probe --async counts
# the ticks of a 20 ms timer during the lookup).
#
#                        dns 198.18.0.53 (dnsmasq)
#                                 |
#     srva 198.18.0.10 ------[ sw: br0 ]------ srvb 198.18.0.20
#                            /        \
#             alice 198.18.0.101    bob 198.18.0.102
#
# Needs no vertexd: only the discover_probe tool from the build directory.
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_domains.sh
source "$(dirname "$0")/lib_domains.sh"

PROBE=$VTX_BUILD/discover_probe
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces)"
for t in ip ping getent dnsmasq nft; do
	command -v "$t" >/dev/null || skip "missing tool: $t"
done
[[ -x $PROBE ]] || skip "discover_probe not built in $VTX_BUILD"
vtx_setup_common
domains_up

# probe_expect NAME DOMAIN WANT: discover DOMAIN from NAME's namespace; the output must be WANT.
probe_expect()
{
	local name=$1 domain=$2 want=$3 out
	out=$(in_ns "$name" "$PROBE" "$domain") || fail "discover $domain from $name failed: $out"
	[[ $out == "$want" ]] || fail "discover $domain from $name: got '$out', want '$want'"
	pass "$name: $domain -> $out"
}

# probe_fails NAME DOMAIN SECONDS WHY: discovery must exit 1 within SECONDS, the reason
# containing WHY.
probe_fails()
{
	local name=$1 domain=$2 limit=$3 why=$4 start rc=0 out took
	start=$(date +%s%N)
	pretty "$name" "$PROBE $domain  # must fail within $limit s"
	out=$(qn "$name" timeout 30 "$PROBE" "$domain" 2>&1) || rc=$?
	took=$((($(date +%s%N) - start) / 1000000))
	[[ $rc -eq 1 ]] || fail "discover $domain from $name: exit $rc (want 1): $out"
	[[ $out == *"$why"* ]] || fail "discover $domain from $name: reason '$out' lacks '$why'"
	((took <= limit * 1000)) || fail "discover $domain from $name took $took ms (limit ${limit} s)"
	pass "$name: $domain fails in $took ms: $out"
}

# probe_async_expect NAME DOMAIN WANT: the same through resolve.c, on the event loop.
probe_async_expect()
{
	local name=$1 domain=$2 want=$3 out
	out=$(qn "$name" "$PROBE" --async "$domain" 2>/dev/null) ||
		fail "async discover $domain from $name failed"
	[[ $out == "$want" ]] || fail "async discover $domain from $name: got '$out', want '$want'"
	pass "$name: $domain -> $out (looked up on a thread)"
}

# probe_async_slow NAME DOMAIN WHY: a lookup that fails slowly (the DNS drops queries) must not
# stop the event loop: its 20 ms timer ticks at least half as often as it would if idle.
probe_async_slow()
{
	local name=$1 domain=$2 why=$3 out rc=0 ticks ms
	out=$(qn "$name" timeout 30 "$PROBE" --async "$domain" 2>&1) || rc=$?
	[[ $rc -eq 1 && $out == *"$why"* ]] || fail "async discover $domain: exit $rc: $out"
	read -r ticks ms < <(sed -n 's/^loop: \([0-9]*\) ticks in \([0-9]*\) ms$/\1 \2/p' <<<"$out")
	[[ -n $ticks && -n $ms ]] || fail "async discover $domain: no tick count in '$out'"
	((ms >= 1000)) || fail "async discover $domain took only $ms ms: the DNS was not slow?"
	((ticks * 20 * 2 >= ms)) ||
		fail "the event loop stalled during the lookup: $ticks ticks of 20 ms in $ms ms"
	pass "$name: a $ms ms failed lookup of $domain; the loop ticked $ticks times meanwhile"
}

# SRV: the target's name, address, the SRV port, priority and weight.
probe_expect alice "$DOMAIN_A" "$SRVA_HOST $SRVA_IP $SERVER_PORT 0 0"
# No SRV for b: the domain's own A record on the default port.
probe_expect alice "$DOMAIN_B" "$DOMAIN_B $SRVB_IP $SERVER_PORT 0 0"
probe_expect bob "$DOMAIN_A" "$SRVA_HOST $SRVA_IP $SERVER_PORT 0 0"
probe_async_expect alice "$DOMAIN_A" "$SRVA_HOST $SRVA_IP $SERVER_PORT 0 0"
probe_async_expect alice "$DOMAIN_B" "$DOMAIN_B $SRVB_IP $SERVER_PORT 0 0"
# The lookups really went to the lab's DNS server, the SRV query first.
grep -q "query\[SRV\] _vertex._tcp.$DOMAIN_A from $ALICE_IP" "$VTX_TMP/dnsmasq.log" ||
	fail "dnsmasq never saw alice's SRV query for $DOMAIN_A"
grep -q "query\[SRV\] _vertex._tcp.$DOMAIN_B from $ALICE_IP" "$VTX_TMP/dnsmasq.log" ||
	fail "dnsmasq never saw alice's SRV query for $DOMAIN_B"
pass "dnsmasq saw the SRV queries from alice"

# Negative: a domain with neither SRV nor address.
probe_fails alice d.example.com 5 "no SRV record and no address for d.example.com"

# No hang when the DNS server drops queries silently (no ICMP answer either).
in_ns dns nft add table inet vtxd_drop
in_ns dns nft add chain inet vtxd_drop input '{ type filter hook input priority 0; }'
in_ns dns nft add rule inet vtxd_drop input udp dport 53 drop
in_ns dns nft add rule inet vtxd_drop input tcp dport 53 drop
probe_fails alice "$DOMAIN_A" 5 "no answer from DNS for _vertex._tcp.$DOMAIN_A"
probe_async_slow alice "$DOMAIN_A" "no answer from DNS for _vertex._tcp.$DOMAIN_A"
in_ns dns nft delete table inet vtxd_drop
probe_expect alice "$DOMAIN_A" "$SRVA_HOST $SRVA_IP $SERVER_PORT 0 0"

# No hang when the DNS server is gone (its port answers with ICMP port unreachable).
dns_stop
probe_fails alice "$DOMAIN_A" 5 "no answer from DNS for _vertex._tcp.$DOMAIN_A"
probe_fails alice "$DOMAIN_B" 5 "no answer from DNS for _vertex._tcp.$DOMAIN_B"

pass "$VTX_SCENARIO"
