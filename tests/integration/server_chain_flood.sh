#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Intermediates from refused handshakes (issue 9 item 5): anyone holding a trusted CA key (here
# the domain's own, as an insider or a pinned foreign domain could) presents chains of fresh
# intermediate CAs. Every handshake is refused, and the server's memory stays flat: wolfSSL
# used to keep each intermediate that verified in the context's certificate manager, for good.
#
#                                 dns  198.18.0.53
#                                          |
#     srva 198.18.0.10  ---------------[ sw: br0 ]
#     vertex-server a.example.com            |
#                                  bob 198.18.0.102 (chain_flood: 1,000 handshakes, 8 fresh
#                                                    intermediates each)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"

FLOOD=$VTX_BUILD/chain_flood
ROUNDS=${VTX_CHAIN_ROUNDS:-1000}
vtx_require
[[ -x $FLOOD ]] || skip "missing $FLOOD (build the test tools)"
domains_up
server_init srva "$DOMAIN_A" >/dev/null
server_start srva

rss_kb()
{
	awk '/^VmRSS:/ { print $2 }' "/proc/${VTX_SERVER_PID[srva]}/status"
}
flood()
{
	in_ns bob "$FLOOD" "$SRVA_IP:$SERVER_PORT" "$VTX_TMP/srva/ca.key" "$VTX_TMP/srva/ca.crt" \
		"$DOMAIN_A" "$1" 8 || fail "a handshake with intermediates was not refused"
}

say "warm-up: 50 handshakes (allocator and TLS caches settle)"
flood 50
before=$(rss_kb)
say "$ROUNDS handshakes, each with 8 fresh intermediates under the CA of $DOMAIN_A"
flood "$ROUNDS"
after=$(rss_kb)
growth=$((after - before))
say "server resident memory: $before KiB before, $after KiB after ($growth KiB)"
# Kept, the intermediates cost ~0.64 KiB each: 8,000 of them are ~5 MiB. Flat is well under 1 MiB.
((growth < 1024)) || fail "the server grew by $growth KiB over $ROUNDS refused handshakes"
pass "server memory flat across $ROUNDS refused handshakes with fresh intermediates (+$growth KiB)"
WHY="peer's chain carries a CA certificate that is not the anchor of its domain"
grep -q "before HELLO: handshake failed: $WHY" "$VTX_TMP/srva.log" ||
	fail "the refusal does not say why: $(tail -3 "$VTX_TMP/srva.log")"
pass "the log says why: $WHY"

server_stop srva
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server exited with $VTX_LAST_RC"
pass "$VTX_SCENARIO"
