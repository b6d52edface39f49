#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vertexd owns its kernel state completely: after SIGTERM nothing of it is left; after kill -9
# the (non-persistent) TUN device is gone with the process, a new start clears whatever else is
# stale and the tunnel works again; and the peer keeps its overlay address across restarts
# (the assignment lives in the state database).
#
#   host1: alice (restarted)                                      host2: bob (keeps running)
#   vtx0 100.64.0.1, fd00:5678:1::1 + routes (proto 0x56)
#   eth0 198.18.1.1 ------ r1 [router] r2 ------ eth0 198.18.2.1
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

vtx_require grep
topo_up
pair_setup "$BOB"
vtx_start "$NS1" alice
vtx_start "$NS2" bob
wait_tunnel_up

# has_kernel_state: vtx0 with both own addresses, and tagged routes for both families.
# (Output is read whole, not piped into grep -q: with pipefail, grep quitting early can make
# ip die of SIGPIPE and the pipeline fail.)
has_kernel_state()
{
	local addrs
	addrs=$(q1 ip -o addr show dev vtx0) || return 1
	[[ $addrs == *" $OVL4_SELF/"* && $addrs == *" $H1_OVL6_SELF/"* ]] &&
		[[ -n $(q1 ip route show proto 0x56) ]] &&
		[[ -n $(q1 ip -6 route show proto 0x56) ]]
}
n1 ip addr show dev vtx0
n1 ip route show proto 0x56
n1 ip -6 route show proto 0x56
has_kernel_state || fail "vtx0, its addresses or its proto 0x56 routes are missing"
pass "vtx0, addresses and routes present"
peer4=$(peer_json alice .overlay4)
peer6=$(peer_json alice .overlay6)
say "alice sees bob at $peer4 and $peer6"

# 1. SIGTERM: a clean shutdown removes everything.
vtx_stop alice TERM
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd exited with $VTX_LAST_RC on SIGTERM"
assert_clean "$NS1"

# 2. Start again: same addresses, tunnel works.
vtx_start "$NS1" alice
wait_tunnel_up
check_ping n1 "$OVL4_PEER"
[[ $(peer_json alice .overlay4) == "$peer4" ]] || fail "bob's overlay4 changed after SIGTERM restart"
[[ $(peer_json alice .overlay6) == "$peer6" ]] || fail "bob's overlay6 changed after SIGTERM restart"
pass "bob keeps $peer4 / $peer6 across a clean restart"

# 3. kill -9: no chance to clean up; the TUN device goes with the file descriptor.
vtx_stop alice KILL
wait_until 5 bash -c "! ip -n '$NS1' link show dev vtx0" || fail "vtx0 survived kill -9"
pass "vtx0 gone after kill -9"
n1 ip route show proto 0x56 table all || true

# 4. Start over the remains: works again, same assignment.
vtx_start "$NS1" alice
wait_tunnel_up
has_kernel_state || fail "kernel state incomplete after restart from kill -9"
check_ping n1 "$OVL4_PEER"
check_ping n1 "$H1_OVL6_PEER"
check_ping n2 "$OVL4_PEER"
[[ $(peer_json alice .overlay4) == "$peer4" ]] || fail "bob's overlay4 changed after kill -9"
[[ $(peer_json alice .overlay6) == "$peer6" ]] || fail "bob's overlay6 changed after kill -9"
pass "after kill -9 and restart the tunnel works and bob keeps $peer4 / $peer6"

# 5. Stop both; nothing left anywhere.
vtx_finish
