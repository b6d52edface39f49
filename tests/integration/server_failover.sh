#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A domain's server found at several addresses, the first of which refuses: the fetch of its CA
# (control/cafetch.c through ctlquery.c, the way the daemons ask another domain's server) tries
# the next address instead of giving up on the first. b.example.com resolves, in alice's hosts
# file, to bob's address first (nothing listens on 4801 there: the connection is refused) and
# to srvb second; with bob's address alone the fetch fails, naming the refusal.
#
#                                 dns  198.18.0.53
#                                          |
#     srva 198.18.0.10  ---------------[ sw: br0 ]---------------  srvb 198.18.0.20
#                                       /         \                 vertex-server b.example.com
#                   alice 198.18.0.101             bob 198.18.0.102 (refuses port 4801)
#                   (discover_probe --fetch-ca)
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_domains.sh
source "$(dirname "$0")/lib_domains.sh"
# shellcheck source-path=SCRIPTDIR source=lib_servers.sh
source "$(dirname "$0")/lib_servers.sh"

PROBE=$VTX_BUILD/discover_probe
vtx_require
[[ -x $PROBE ]] || skip "discover_probe not built in $VTX_BUILD"
domains_up
ca_b=$(server_init srvb "$DOMAIN_B")
server_start srvb

# The order getaddrinfo gives (RFC 6724: the longer common prefix with alice first) is what
# makes the refusing address the first one tried: check it, or the test proves nothing.
domain_hosts alice "$BOB_IP" "$DOMAIN_B" "$SRVB_IP" "$DOMAIN_B"
out=$(qn alice "$PROBE" "$DOMAIN_B") || fail "discover $DOMAIN_B: $out"
first=$(awk 'NR == 1 { print $2 }' <<<"$out")
[[ $first == "$BOB_IP" && $(wc -l <<<"$out") -eq 2 ]] ||
	fail "want $BOB_IP first of two addresses, got: $out"
pass "alice: $DOMAIN_B -> $BOB_IP (refuses), then $SRVB_IP"

out=$(qn alice timeout 30 "$PROBE" --fetch-ca "$DOMAIN_B" 2>&1) ||
	fail "the CA fetch did not go on to the second address: $out"
[[ $out == "ca $ca_b" ]] || fail "fetched '$out', want 'ca $ca_b'"
pass "the CA of $DOMAIN_B came from its second address: $out"

# Negative: the refusing address alone is a clear failure.
domain_hosts alice "$BOB_IP" "$DOMAIN_B"
rc=0
out=$(qn alice timeout 30 "$PROBE" --fetch-ca "$DOMAIN_B" 2>&1) || rc=$?
[[ $rc -eq 1 && $out == *"refused"* ]] || fail "want a refusal with one address: exit $rc: $out"
pass "one refusing address: $out"

server_stop srvb
pass "$VTX_SCENARIO"
