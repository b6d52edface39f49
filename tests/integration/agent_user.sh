#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vertexd without root after start-up (issue 9 item 10): with `user nobody` it sets up the TUN
# device, routes and sockets as root, then runs as nobody with CAP_NET_ADMIN alone. A key the
# user cannot read stops the start-up with a clear error (a renewal reloads the key); with the
# files the user's, the tunnel works, the state database is handed to the user, and shutdown
# still removes the routes (CAP_NET_ADMIN) and everything else.
#
#   host1: alice as nobody ($VTX_TMP/alice.d, owned by nobody)   host2: bob (root, as usual)
#   eth0 198.18.1.1 ------ r1 [router] r2 ------ eth0 198.18.2.1
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

vtx_require getent
getent passwd nobody >/dev/null || skip "no user nobody"
topo_up
pair_setup "$BOB"

# alice's files in a directory of nobody's; the temporary directory is only traversable.
D=$VTX_TMP/alice.d
pp mkdir -m 0700 "$D"
pp mv "$VTX_TMP/alice.key" "$VTX_TMP/alice.crt" "$D/"
sed -i -e "s|$VTX_TMP/alice.key|$D/alice.key|" -e "s|$VTX_TMP/alice.crt|$D/alice.crt|" \
	-e "s|$VTX_TMP/alice.db|$D/alice.db|" "$VTX_TMP/alice.conf"
printf 'user       nobody\n' >>"$VTX_TMP/alice.conf"
pp chmod 0711 "$VTX_TMP"

say "the key is root's: nobody could not reload it at a renewal, so vertexd refuses to start"
pp chown nobody "$D"
expect_rc 1 timeout 20 ip netns exec "$NS1" "$VERTEXD" -c "$VTX_TMP/alice.conf"
expect_err "user nobody cannot read its key $D/alice.key"
q1 ip link show vtx0 >/dev/null 2>&1 && fail "the failed start left vtx0 behind"
pass "refused with the reason, and nothing left behind"

say "the files are nobody's: it runs as nobody"
pp chown nobody "$D/alice.key" "$D/alice.crt"
vtx_start "$NS1" alice
vtx_start "$NS2" bob
pid=${VTX_DAEMON_PID[alice]}
uid=$(awk '/^Uid:/ { print $2 "/" $3 "/" $4 }' "/proc/$pid/status")
caps=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
say "vertexd alice: uid (real/effective/saved) $uid, effective capabilities $caps"
nobody=$(id -u nobody)
[[ $uid == "$nobody/$nobody/$nobody" ]] || fail "vertexd runs as uid $uid, not nobody ($nobody)"
[[ $caps == 0000000000001000 ]] || fail "effective capabilities $caps, want CAP_NET_ADMIN (1 << 12) alone"
grep -q "running as user nobody (uid $nobody) with CAP_NET_ADMIN only" "$VTX_TMP/alice.log" ||
	fail "vertexd does not say whom it runs as"
[[ $(stat -c %u "$D/alice.db") == "$nobody" ]] || fail "the state database is not nobody's"
[[ $(stat -c %u "$VTX_TMP/alice.sock") == "$nobody" ]] || fail "the control socket is not nobody's"
# The user the agent runs as may use its control socket (SO_PEERCRED and the file's mode).
setpriv --reuid="$nobody" --regid="$(id -g nobody)" --clear-groups \
	"$VERTEX" -s "$VTX_TMP/alice.sock" status >/dev/null ||
	fail "nobody cannot use the control socket of the agent that runs as nobody"
pass "uid $nobody, CAP_NET_ADMIN alone, the state database and the sockets handed over"
wait_tunnel_up
check_ping n1 "$OVL4_PEER"
pass "the tunnel works with alice unprivileged"

vtx_stop alice
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd alice exited with $VTX_LAST_RC"
[[ -z $(q1 ip route show proto 0x56) ]] || fail "alice's routes are left after SIGTERM"
pass "shutdown as nobody removed the routes (CAP_NET_ADMIN kept)"
pp chmod 0700 "$VTX_TMP"
vtx_finish
