#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Userspace mode (issue 14, docs/userspace.md): vertexd without root and without a TUN device,
# lwIP inside it, in the two-domain NAT lab of lib_nat.sh (both routers masquerade; the agents
# meet by rendezvous).
#
# 1. Both agents in userspace mode, started as nobody in a mount namespace where /dev/net is
#    empty (no TUN device to open): uid nobody, no capabilities, no vtx0, no nftables table,
#    `vertex status` says the mode. alice asks bob for ssh, web and chat; bob approves them;
#    `vertex ping` (the echo sent by alice's lwIP) is answered by bob's lwIP.
#    - ssh through alice's SOCKS5 server (nc -X 5, the name bob.at.b.example.com) runs a
#      command on bob's real sshd (bob's purpose ssh, no local target: 127.0.0.1:22), and
#      64 MiB go up and back, sha256 equal on both ends;
#    - ssh through a port forward (`forward 127.0.0.1:2222 bob@.../ssh` in alice's config):
#      64 MiB up and back, sha256 equal on both ends;
#    - curl --socks5-hostname reaches bob's web purpose (tcp/80 -> 127.0.0.1:8080);
#    - the application socket: bob's example program listens on chat, alice's connects by name,
#      1 MiB comes back byte-identical and bob's program sees alice's verified identity;
#    - `vertex forward` at run time: add, list, use, remove;
#    - refusals: a purpose bob never approved (admin) is refused by alice's SOCKS server (not
#      allowed), her forward and her app socket.
# 2. Mixed: alice in TUN mode (as nobody with CAP_NET_ADMIN), bob in userspace mode, the same
#    state databases: the approvals and addresses survive the change. ping (lwIP answers), ssh
#    to bob's overlay address and 16 MiB each way, ssh through alice's SOCKS5 server in TUN mode
#    (its connection is a kernel socket over vtx0); a SYN to bob's unapproved admin port, which
#    alice's kernel sends, is dropped by bob's userspace policy and counted.
# 3. The reverse: alice userspace, bob TUN: `vertex ping` from alice's lwIP, answered by bob's
#    kernel; ssh through alice's SOCKS server to bob's kernel sshd, 16 MiB each way. (bob may
#    not ping alice, who approved nothing for him.)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"

APP_ECHO=$VTX_BUILD/app-echo

vtx_require getent setpriv unshare
[[ -x $VERTEX_SERVER && -x $APP_ECHO ]] || fail "missing $VERTEX_SERVER or $APP_ECHO (build first)"
command -v jq >/dev/null || skip "missing tool: jq"
command -v curl >/dev/null || skip "missing tool: curl (scripts/install-deps.sh)"
nc -h 2>&1 | grep -q -- '-X proxy_protocol' || skip "missing tool: netcat-openbsd (scripts/install-deps.sh)"
getent passwd nobody >/dev/null || skip "no user nobody"
NOBODY=$(id -u nobody)
NOGROUP=$(id -g nobody)
nat_lab_up open

ALICE=alice@$DOMAIN_A
BOB=bob@$DOMAIN_B
server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva
server_start srvb
enrolled alice alice "$ALICE"
enrolled bob bob "$BOB"
lab_agent_config alice "$ALICE" fd00:5678:a1::/48
lab_agent_config bob "$BOB" fd00:5678:b1::/48
printf 'socks 127.0.0.1:1080\nforward 127.0.0.1:2222 %s/ssh\n' "$BOB" >>"$VTX_TMP/alice.conf"
printf 'purpose ssh tcp/22\npurpose web tcp/80 -> 127.0.0.1:8080\npurpose chat tcp/7000\n' \
	>>"$VTX_TMP/bob.conf"
printf 'purpose admin tcp/8022\nuserspace on\n' >>"$VTX_TMP/bob.conf"

# Each agent's files in a directory of nobody's; the control socket is reached through a link
# where vtx_ctl looks for it.
pp chmod 0711 "$VTX_TMP"
for n in alice bob; do
	D=$VTX_TMP/$n.d
	mkdir -m 0700 "$D"
	mv "$VTX_TMP/$n.key" "$VTX_TMP/$n.crt" "$VTX_TMP/$n.ca" "$D/"
	sed -i -e "s|$VTX_TMP/$n\.|$D/$n.|g" "$VTX_TMP/$n.conf"
	chown -R nobody "$D"
	ln -s "$D/$n.sock" "$VTX_TMP/$n.sock"
	ln -s "$D/$n-app.sock" "$VTX_TMP/$n-app.sock"
done

# us_start NAME [ARGS...]: vertexd NAME as nobody, in a mount namespace without /dev/net/tun.
us_start()
{
	local name=$1 ns pid
	shift
	ns=$(ns_for "$name")
	ip netns exec "$ns" "$VERTEXD" -n "$@" -c "$VTX_TMP/$name.conf" >"$VTX_TMP/$name.norm" 2>&1 ||
		fail "vertexd -n rejects $name.conf: $(cat "$VTX_TMP/$name.norm")"
	pretty "$name" "unshare -m (empty /dev/net) setpriv --reuid=nobody vertexd $* -c $name.conf &"
	# shellcheck disable=SC2016 # $0 and $@ are the inner shell's
	ip netns exec "$ns" unshare -m bash -c 'mount -t tmpfs none /dev/net &&
		exec setpriv --reuid="$0" --regid="$1" --clear-groups "${@:2}"' \
		"$NOBODY" "$NOGROUP" "$VERTEXD" "$@" -c "$VTX_TMP/$name.conf" \
		-d "${VTX_DEBUG:-peer,handshake}" >>"$VTX_TMP/$name.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	VTX_DAEMON_PID[$name]=$pid
	VTX_DAEMON_NS[$name]=$ns
	unset "VTX_DAEMON_STOPPED[$name]"
	wait_until 10 vtx_ctl "$name" status >/dev/null ||
		fail "vertexd $name (userspace) does not answer: $(tail -5 "$VTX_TMP/$name.log")"
	pass "vertexd $name running in userspace mode (PID $pid)"
}

# tun_start NAME: vertexd NAME in TUN mode, as root dropping to nobody (`user nobody`).
tun_start()
{
	sed -i '/^userspace /d' "$VTX_TMP/$1.conf"
	grep -q '^user ' "$VTX_TMP/$1.conf" || printf 'user nobody\n' >>"$VTX_TMP/$1.conf"
	lab_agent_start "$1" "$1"
}

status_of() # status_of NAME FIELD
{
	vtx_ctl "$1" status --json | jq -r ".$2"
}

ssh_opts
SSH_OPTS+=(-o ConnectTimeout=20)
SOCKS_PROXY=(-o "ProxyCommand=nc -X 5 -x 127.0.0.1:1080 %h %p")

# bulk NODE MIB SSH-ARGS...: MIB MiB up over ssh and back, sha256 equal on both ends.
bulk()
{
	local node=$1 mib=$2 want got
	shift 2
	head -c "${mib}M" /dev/urandom >"$VTX_TMP/blob"
	want=$(sha256sum <"$VTX_TMP/blob" | cut -d' ' -f1)
	got=$(qn "$node" ssh "${SSH_OPTS[@]}" "$@" sha256sum <"$VTX_TMP/blob" | cut -d' ' -f1)
	[[ $got == "$want" ]] || fail "$mib MiB up: far side sha256 '$got', sent $want"
	got=$(qn "$node" ssh "${SSH_OPTS[@]}" "$@" "cat $VTX_TMP/blob" | sha256sum | cut -d' ' -f1)
	[[ $got == "$want" ]] || fail "$mib MiB back: sha256 '$got', sent $want"
	pass "$mib MiB up and back, sha256 $want on both ends"
}

say "1. both agents in userspace mode, as nobody, without a TUN device"
sshd_start "$(ns_for bob)"
us_start alice -u
us_start bob
for n in alice bob; do
	pid=${VTX_DAEMON_PID[$n]}
	uid=$(awk '/^Uid:/ { print $2 "/" $3 "/" $4 }' "/proc/$pid/status")
	caps=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
	[[ $uid == "$NOBODY/$NOBODY/$NOBODY" && $caps == 0000000000000000 ]] ||
		fail "vertexd $n: uid $uid, capabilities $caps"
	[[ $(status_of "$n" mode) == userspace ]] || fail "$n's status does not say userspace"
	qn "$n" ip link show vtx0 >/dev/null 2>&1 && fail "$n has a vtx0 in userspace mode"
	qn "$n" nft list table inet vertex >/dev/null 2>&1 && fail "$n installed a firewall table"
	grep -q "userspace mode: running as uid $NOBODY, without privileges" "$VTX_TMP/$n.log" ||
		fail "$n does not say how it runs"
done
pass "uid nobody, no capabilities, no vtx0, no nftables table; status says userspace"
vtx_ctl alice status | grep -q '^mode  *userspace' || fail "vertex status text: $(vtx_ctl alice status)"
wait_until 20 home_up alice || fail "alice's agent never connects to its server"
wait_until 20 home_up bob || fail "bob's agent never connects to its server"
rdv_ask_approve alice "$ALICE" bob "$BOB" ssh
rdv_ask_approve alice "$ALICE" bob "$BOB" web
rdv_ask_approve alice "$ALICE" bob "$BOB" chat
wait_until 30 bash -c "[[ \$('$VERTEX' -s '$VTX_TMP/alice.sock' peers --json |
	jq -r '.peers[0].state') == up ]]" || fail "no session: $(vtx_ctl alice peers)"
pass "approved ssh, web and chat; the session is up ($(peer_field alice "$BOB" path))"
OUT=$(vtx_ctl alice ping -c 2 -W 5 "$BOB") || fail "vertex ping in userspace mode: $OUT"
[[ $OUT == *"from the agent's userspace stack"* && $OUT == *"seq 2: reply in "*" ms via direct udp "* ]] ||
	fail "vertex ping in userspace mode printed: $OUT"
pass "vertex ping from lwIP, answered by bob's lwIP: $(grep '^seq 2' <<<"$OUT")"

say "1a. ssh through alice's SOCKS5 server, by name"
TOKEN=userspace-$RANDOM$RANDOM
OUT=$(qn alice ssh "${SSH_OPTS[@]}" "${SOCKS_PROXY[@]}" "root@bob.at.$DOMAIN_B" "echo $TOKEN") ||
	fail "ssh through SOCKS failed: $(tail -5 "$VTX_TMP/alice.log")"
[[ $OUT == "$TOKEN" ]] || fail "ssh through SOCKS printed '$OUT'"
pass "ssh -o ProxyCommand='nc -X 5 -x 127.0.0.1:1080 %h %p' root@bob.at.$DOMAIN_B ran a command"
bulk alice 64 "${SOCKS_PROXY[@]}" "root@bob.at.$DOMAIN_B"

say "1b. ssh through the port forward 127.0.0.1:2222: 64 MiB up and back"
bulk alice 64 -p 2222 root@127.0.0.1
[[ $(status_of alice forward_connects) -ge 2 ]] || fail "alice counts no forwarded connections"
[[ $(status_of bob proxied) -ge 5 ]] || fail "bob counts too few proxied connections"

say "1c. curl --socks5-hostname reaches bob's web purpose (tcp/80 -> 127.0.0.1:8080)"
BODY="hello from bob's web purpose $RANDOM"
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %s\r\n\r\n%s' \
	"${#BODY}" "$BODY" >"$VTX_TMP/http.reply"
qn bob bash -c "nc -l -N 127.0.0.1 8080 <'$VTX_TMP/http.reply' >'$VTX_TMP/http.request'" &
track_pid $!
wait_until 5 qn bob bash -c 'ss -ltn | grep -q "127.0.0.1:8080"' || fail "the web server does not listen"
OUT=$(qn alice curl -sS --max-time 20 --socks5-hostname 127.0.0.1:1080 \
	"http://bob.at.$DOMAIN_B/index.txt") || fail "curl through SOCKS failed"
[[ $OUT == "$BODY" ]] || fail "curl got '$OUT'"
# nc sends its reply as soon as the connection is up, so curl may finish before nc has written
# the request it read: wait for it.
wait_until 5 grep -q '^GET /index.txt' "$VTX_TMP/http.request" ||
	fail "the web server saw: $(cat "$VTX_TMP/http.request")"
pass "curl --socks5-hostname http://bob.at.$DOMAIN_B/ got bob's page"

say "1d. the application socket in userspace mode"
qn bob setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups \
	"$APP_ECHO" listen "$VTX_TMP/bob.d/bob-app.sock" chat 1 >"$VTX_TMP/bob-echo.out" 2>&1 &
track_pid $!
wait_until 10 grep -q '^listening chat$' "$VTX_TMP/bob-echo.out" ||
	fail "bob's program does not listen: $(cat "$VTX_TMP/bob-echo.out")"
head -c 1M /dev/urandom >"$VTX_TMP/chat.in"
qn alice setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups \
	"$APP_ECHO" connect "$VTX_TMP/alice.d/alice-app.sock" "$BOB/chat" \
	<"$VTX_TMP/chat.in" >"$VTX_TMP/chat.out" 2>"$VTX_TMP/chat.err" ||
	fail "app-echo connect: $(cat "$VTX_TMP/chat.err")"
cmp -s "$VTX_TMP/chat.in" "$VTX_TMP/chat.out" || fail "1 MiB through the app socket came back different"
ALICE4=$(peer_field bob "$ALICE" overlay4)
wait_until 5 grep -q "^caller $ALICE $ALICE4 " "$VTX_TMP/bob-echo.out" ||
	fail "bob's program did not see alice's identity: $(cat "$VTX_TMP/bob-echo.out")"
pass "1 MiB byte-identical by name; bob's program saw $ALICE at $ALICE4"

say "1e. vertex forward at run time"
vtx_ctl alice forward 127.0.0.1:2223 "$BOB/ssh" >/dev/null || fail "vertex forward failed"
vtx_ctl alice forward --list | grep -q "^forward 127.0.0.1:2223 $BOB/ssh$" ||
	fail "vertex forward --list: $(vtx_ctl alice forward --list)"
OUT=$(qn alice ssh "${SSH_OPTS[@]}" -p 2223 root@127.0.0.1 "echo $TOKEN") || fail "ssh via 2223"
[[ $OUT == "$TOKEN" ]] || fail "ssh via the added forward printed '$OUT'"
vtx_ctl alice forward --remove 127.0.0.1:2223 >/dev/null || fail "vertex forward --remove"
qn alice bash -c 'exec 3<>/dev/tcp/127.0.0.1/2223' 2>/dev/null && fail "2223 still listens"
OUT=$(vtx_ctl alice forward 0.0.0.0:2224 "$BOB/ssh" 2>&1) && fail "a forward on 0.0.0.0 was taken"
[[ $OUT == *"loopback"* ]] || fail "refusal of 0.0.0.0: $OUT"
pass "added, listed, used, removed; a non-loopback address refused: $OUT"

say "1f. what bob never approved is refused"
vtx_ctl alice forward 127.0.0.1:2225 "$BOB/admin" >/dev/null || fail "vertex forward admin"
OUT=$(qn alice bash -c 'exec 3<>/dev/tcp/127.0.0.1/2225; cat <&3' 2>&1)
[[ -z $OUT ]] || fail "the forward to an unapproved purpose gave: $OUT"
wait_until 5 grep -q "forward to $BOB/admin: a client closed: $BOB has not approved admin" \
	"$VTX_TMP/alice.log" || fail "alice's log does not say why"
OUT=$(qn alice curl -sS --max-time 10 --socks5-hostname 127.0.0.1:1080 \
	"http://bob.at.$DOMAIN_B:8022/" 2>&1) && fail "SOCKS reached the unapproved port: $OUT"
[[ $(status_of alice socks_refused) -ge 1 ]] || fail "alice's SOCKS server counts no refusal ($OUT)"
OUT=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" nc "$BOB/admin" </dev/null 2>&1) &&
	fail "vertex nc reached admin"
[[ $OUT == *"not-approved"* ]] || fail "vertex nc admin: $OUT"
pass "forward closed, SOCKS refused (not allowed), app socket not-approved"

say "2. mixed: alice in TUN mode, bob in userspace mode"
vtx_stop alice
wait_until 10 bash -c "! kill -0 ${VTX_DAEMON_PID[alice]} 2>/dev/null" || fail "alice does not stop"
tun_start alice
wait_until 20 home_up alice || fail "alice (TUN) never connects to its server"
BOB4=$(vtx_ctl alice resolve --address "$BOB/ssh")
wait_until 30 qn alice ping -c 1 -W 1 "$BOB4" >/dev/null ||
	fail "alice (TUN) cannot ping bob (userspace) at $BOB4: $(vtx_ctl alice peers)"
pass "ping $BOB4: bob's lwIP answers alice's kernel"
[[ $(peer_field bob "$ALICE" overlay4) == "$ALICE4" ]] || fail "alice's address changed for bob"
OUT=$(qn alice ssh "${SSH_OPTS[@]}" "root@$BOB4" "echo $TOKEN") || fail "ssh $BOB4 failed"
[[ $OUT == "$TOKEN" ]] || fail "ssh printed '$OUT'"
bulk alice 16 "root@$BOB4"
OUT=$(qn alice ssh "${SSH_OPTS[@]}" "${SOCKS_PROXY[@]}" "root@bob.at.$DOMAIN_B" "echo $TOKEN") ||
	fail "ssh through SOCKS in TUN mode failed"
[[ $OUT == "$TOKEN" ]] || fail "ssh through SOCKS in TUN mode printed '$OUT'"
pass "alice's SOCKS5 server in TUN mode (a kernel connection over vtx0) reaches bob too"
DROPS=$(status_of bob '"policy_drop.port-not-allowed"')
qn alice timeout 5 bash -c "exec 3<>/dev/tcp/$BOB4/8022" 2>/dev/null && fail "alice reached bob's admin port"
wait_until 5 bash -c "(( \$('$VERTEX' -s '$VTX_TMP/bob.sock' status --json |
	jq -r '.\"policy_drop.port-not-allowed\"') > $DROPS ))" ||
	fail "bob's userspace policy counted no drop for the SYN to 8022"
pass "a SYN to bob's unapproved port 8022 dropped by his userspace policy, counted"

say "3. the reverse: alice in userspace mode, bob in TUN mode"
vtx_stop alice
vtx_stop bob
wait_until 10 bash -c "! kill -0 ${VTX_DAEMON_PID[alice]} 2>/dev/null &&
	! kill -0 ${VTX_DAEMON_PID[bob]} 2>/dev/null" || fail "the agents do not stop"
sed -i '/^user /d' "$VTX_TMP/alice.conf"
us_start alice -u
tun_start bob
wait_until 20 home_up alice || fail "alice never connects to its server"
wait_until 20 home_up bob || fail "bob (TUN) never connects to its server"
wait_until 30 bash -c "[[ \$('$VERTEX' -s '$VTX_TMP/alice.sock' peers --json |
	jq -r '.peers[0].state') == up ]]" || fail "no session: $(vtx_ctl alice peers)"
pass "the session is up again ($(peer_field alice "$BOB" path)), the same approvals"
OUT=$(vtx_ctl alice ping -c 1 -W 5 "$BOB") || fail "vertex ping alice (userspace) -> bob (TUN): $OUT"
pass "vertex ping from alice's lwIP, answered by bob's kernel: $(grep '^seq 1' <<<"$OUT")"
OUT=$(qn alice ssh "${SSH_OPTS[@]}" "${SOCKS_PROXY[@]}" "root@bob.at.$DOMAIN_B" "echo $TOKEN") ||
	fail "ssh through SOCKS to bob (TUN) failed"
[[ $OUT == "$TOKEN" ]] || fail "ssh printed '$OUT'"
bulk alice 16 "${SOCKS_PROXY[@]}" "root@bob.at.$DOMAIN_B"
pass "alice (userspace) reaches bob's kernel sshd through her SOCKS server"
