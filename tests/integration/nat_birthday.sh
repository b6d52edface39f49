#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The birthday technique (direct/birthday.h), measured on the NAT lab of lib_nat.sh:
#
#   [alice] -- nata (KIND-A) --+-- LAN 198.18.0.0/24 (servers, DNS) --+-- natb (KIND-B) -- [bob]
#
# symmetric: `masquerade random`, a random public port per destination, and only answers let
# in; apdf: plain masquerade, port kept, only answers let in. Hole punching alone cannot get
# through either pair below.
#
# 1. Approval to direct: both agents running and their NATs classified (netcheck), alice
#    (symmetric) asks bob (apdf), bob approves: the session comes up through the relay, the
#    offers say what each NAT does, alice opens 256 sockets toward bob's endpoint, bob sprays
#    probes at alice's router: direct UDP, `vertex ping` says so, pings cross the routers.
#    Bad input on the socket that won: frames bob sent to it, captured at alice's router and
#    sent again from the LAN with bob's address and port (so her router lets them in), as they
#    were (replays), with a ciphertext byte flipped, and garbage: every one dropped and
#    counted exactly (the extra socket's datagrams take the data socket's checks), the path
#    unmoved.
# 2. VTX_BIRTHDAY_TRIALS (default 3) trials of one symmetric side, the sides in turn: agents
#    restarted (conntrack flushed), each trial must go direct (asserted: the technique's
#    numbers make a miss about 3 in 10,000); printed: the time from both at home to direct
#    (which includes the ~6 s reflection needs to classify the NATs) and from the symmetric
#    side's first socket to the hit (its log).
# 3. As many trials with both sides symmetric: each plays both parts; a probe must then hit a
#    mapping made toward the very port it came from, which random ports almost never allow.
#    Asserted only what is robust: the ping works on whatever path `vertex ping` reports, and
#    the extra sockets are all closed 15 s later unless one carries the path; printed: the
#    success rate.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"
source "$(dirname "$0")/lib_nat.sh"
source "$(dirname "$0")/lib_rdv.sh"
source "$(dirname "$0")/lib_natpairs.sh"

vtx_require python3 tcpdump
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
TRIALS=${VTX_BIRTHDAY_TRIALS:-3}
BD_RUN=0
nat_lab_up pass
nat_pairs_up

# bd_restart KIND-A KIND-B: the agents stopped (their logs kept aside), the routers given
# their kinds (conntrack flushed), bob started, then alice; both at home.
bd_restart()
{
	local n
	for n in alice bob; do
		[[ -n ${VTX_DAEMON_PID[$n]:-} && -z ${VTX_DAEMON_STOPPED[$n]:-} ]] || continue
		vtx_stop "$n"
		[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
		mv "$VTX_TMP/$n.log" "$VTX_TMP/$n.$BD_RUN.log"
	done
	BD_RUN=$((BD_RUN + 1))
	nat_site_kind nata "$1"
	nat_site_kind natb "$2"
	lab_agent_start bob bob
	wait_until 20 home_up bob || fail "bob's agent never connects to its server"
	lab_agent_start alice alice
	wait_until 20 home_up alice || fail "alice's agent never connects to its server"
}

bd_classified()
{
	local n
	for n in alice bob; do
		[[ $(vtx_ctl "$n" netcheck --json | jq -r '.nat.mapping + "/" + .nat.filtering') != *unknown* ]] || return 1
	done
}

# bd_hit_ms NAME: how long NAME's sockets took to be hit (its log), or "-".
bd_hit_ms()
{
	sed -n 's/.*got through to one of our sockets after \([0-9]*\) ms.*/\1/p' "$VTX_TMP/$1.log" | head -1 | grep . || echo -
}

# bd_ping_path: `vertex ping` once; prints the path it reports.
bd_ping_path()
{
	local out
	out=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $out"
	sed -n 's/.*reply in .* ms via //p' <<<"$out"
}

# bd_direct_checked LABEL: both on path udp, `vertex ping` says direct, pings cross bob's router.
bd_direct_checked()
{
	local via before got
	via=$(bd_ping_path)
	[[ $via == "direct udp $NATB_IP:"* ]] || fail "$1: vertex ping says via $via"
	before=$(nat_counter natb)
	check_ping on_alice "$NAT_BOB4"
	got=$(($(nat_counter natb) - before))
	((got >= 10)) || fail "$1: only $got packets crossed bob's router for 5 pings"
}

say "1. approval to direct: alice behind symmetric, bob behind apdf"
bd_restart symmetric apdf
wait_until 30 bd_classified || fail "the NATs are never classified: $(vtx_ctl alice netcheck); $(vtx_ctl bob netcheck)"
t0=$EPOCHREALTIME
rdv_ask_approve alice "$ALICE" bob "$BOB" ssh
NAT_BOB4=$(vtx_ctl alice resolve --address "$BOB/ssh")
wait_until 20 nat_pair_direct || fail "never direct: alice: $(vtx_ctl alice peers); bob: $(vtx_ctl bob peers)"
t1=$EPOCHREALTIME
APPROVAL_MS=$(nat_ms "$t0" "$t1")
grep -q "opening 256 sockets toward" "$VTX_TMP/alice.log" || fail "alice never opened her sockets: $(grep direct: "$VTX_TMP/alice.log")"
grep -q "probes to ports of $NATA_IP" "$VTX_TMP/bob.log" || fail "bob never sprayed: $(grep direct: "$VTX_TMP/bob.log")"
bd_direct_checked "approval"
[[ $(peer_field bob "$ALICE" endpoint) == "$NATA_IP:"* ]] || fail "bob's endpoint for alice: $(peer_field bob "$ALICE" endpoint)"
[[ $(vtx_ctl alice peers --json | jq -r --arg id "$BOB" '.peers[] | select(.identity == $id) | .birthday') == kept ]] ||
	fail "alice's peers does not say the socket is kept: $(vtx_ctl alice peers)"
# All but the socket that carries the path closed (255 of 256): the hit counted once.
[[ $(vtx_ctl alice netcheck --json | jq -r .nat.birthday_hits) == 1 ]] || fail "netcheck: $(vtx_ctl alice netcheck)"
pass "approval to direct in $APPROVAL_MS ms (sockets hit after $(bd_hit_ms alice) ms): $(vtx_ctl alice peers | grep -i birthday | tr -s ' ')"

# bd_inject MODE PCAP PORT: from the LAN (srva's namespace), each UDP payload of PCAP (MODE
# as-is: replay; flip: byte 20 flipped; garbage: 40 bytes of 0xff instead), as a datagram from
# bob's public endpoint to alice's router at PORT. Prints how many went.
bd_inject()
{
	pretty srva "inject $1 $(basename "$2") -> $NATA_IP:$3 (from $NATB_IP:4800)"
	qn srva python3 - "$1" "$2" "$NATB_IP" "$NATA_IP" "$3" <<'PY'
import socket, struct, sys
mode, path, src, dst, port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
data = open(path, 'rb').read()
endian = '<' if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
off, sent = 24, 0
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
while off + 16 <= len(data):
    incl = struct.unpack(endian + 'I', data[off + 8:off + 12])[0]
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    ip = pkt[14:]  # Ethernet (tcpdump -i eth0)
    ihl = (ip[0] & 15) * 4
    payload = bytearray(ip[ihl + 8:])
    if mode == 'flip':
        payload[20] ^= 0x80
    elif mode == 'garbage':
        payload = bytearray(b'\xff' * 40)
    udp = struct.pack('>HHHH', 4800, port, 8 + len(payload), 0) + payload
    hdr = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    raw.sendto(hdr + udp, (dst, 0))
    sent += 1
print(sent)
PY
}

say "1b. replayed, forged and garbage datagrams on the socket that won"
APORT=$(peer_field bob "$ALICE" endpoint)
APORT=${APORT##*:}
CAP_FILTER="udp and src host $NATB_IP and src port 4800 and dst host $NATA_IP and dst port $APORT and (udp[8] = 1 or udp[8] = 2)"
pretty nata "tcpdump -i eth0 -c 4 '$CAP_FILTER' &"
qn nata tcpdump -Z root -U -n -i eth0 -c 4 -w "$VTX_TMP/won.pcap" "$CAP_FILTER" 2>"$VTX_TMP/won.pcap.log" &
CAP_PID=$!
track_pid "$CAP_PID"
wait_until 10 grep -q 'listening on' "$VTX_TMP/won.pcap.log" || fail "tcpdump did not start"
qn alice ping -c 10 -i 0.05 "$NAT_BOB4" >/dev/null
wait_until 10 pid_is_gone "$CAP_PID" || fail "fewer than 4 frames from bob to alice's socket captured"
bd_drops()
{
	local p s
	p=$(peer_field alice "$BOB" drops | jq -r '.replay + .auth')
	s=$(vtx_ctl alice status --json | jq -r '.drops.malformed + .drops.unknown_receiver')
	echo "$p $s"
}
read -r P0 S0 <<<"$(bd_drops)"
[[ $(bd_inject replay "$VTX_TMP/won.pcap" "$APORT") == 4 ]] || fail "replay injection"
[[ $(bd_inject flip "$VTX_TMP/won.pcap" "$APORT") == 4 ]] || fail "forgery injection"
[[ $(bd_inject garbage "$VTX_TMP/won.pcap" "$APORT") == 4 ]] || fail "garbage injection"
bd_drops_reach()
{
	local p s
	read -r p s <<<"$(bd_drops)"
	((p >= P0 + 8 && s >= S0 + 4))
}
wait_until 10 bd_drops_reach || fail "drops never rose by 8 and 4: $(bd_drops) (were $P0 $S0)"
check_ping on_alice "$NAT_BOB4"
read -r P1 S1 <<<"$(bd_drops)"
((P1 - P0 == 8 && S1 - S0 == 4)) || fail "drops rose by $((P1 - P0)) and $((S1 - S0)), want exactly 8 and 4"
[[ $(peer_field bob "$ALICE" endpoint) == "$NATA_IP:$APORT" ]] && path_is alice "$BOB" udp ||
	fail "the path moved: $(vtx_ctl alice peers)"
pass "4 replays and 4 forgeries counted as the peer's replay/auth drops, 4 garbage datagrams as malformed; the path stays"

say "2. $TRIALS trials with one symmetric side"
ONE_LINES=()
for ((i = 1; i <= TRIALS; i++)); do
	if ((i % 2)); then ka=symmetric kb=apdf s=alice; else ka=apdf kb=symmetric s=bob; fi
	bd_restart "$ka" "$kb"
	t0=$EPOCHREALTIME
	wait_until 25 nat_pair_direct || fail "trial $i ($ka/$kb): never direct: alice: $(vtx_ctl alice peers); bob: $(vtx_ctl bob peers)"
	t1=$EPOCHREALTIME
	via=$(bd_ping_path)
	[[ $via == "direct udp "* ]] || fail "trial $i: vertex ping says via $via"
	check_ping on_alice "$NAT_BOB4"
	ONE_LINES+=("$(printf 'trial %2d %-15s direct: %5s ms from home, sockets hit after %s ms' "$i" "$ka/$kb" "$(nat_ms "$t0" "$t1")" "$(bd_hit_ms "$s")")")
	pass "${ONE_LINES[-1]}"
done

say "3. $TRIALS trials with both sides symmetric"
BOTH_LINES=()
WON=0
for ((i = 1; i <= TRIALS; i++)); do
	bd_restart symmetric symmetric
	t0=$EPOCHREALTIME
	wait_until 30 grep -q "opening 256 sockets toward" "$VTX_TMP/alice.log" || fail "trial $i: alice never opened her sockets"
	wait_until 30 grep -q "opening 256 sockets toward" "$VTX_TMP/bob.log" || fail "trial $i: bob never opened his sockets"
	if wait_until 20 nat_pair_direct; then
		WON=$((WON + 1))
		result="direct: $(nat_ms "$t0" "$EPOCHREALTIME") ms from home"
	else
		result="relay"
		# Nothing got through: every extra socket closed after the hold time.
		for n in alice bob; do
			wait_until 10 grep -q "birthday technique: nothing from .* sockets; closed" "$VTX_TMP/$n.log" ||
				fail "trial $i: $n's sockets never closed: $(grep direct: "$VTX_TMP/$n.log")"
		done
	fi
	via=$(bd_ping_path)
	check_ping on_alice "$NAT_BOB4"
	BOTH_LINES+=("$(printf 'trial %2d symmetric/symmetric %s (vertex ping: via %s)' "$i" "$result" "$via")")
	pass "${BOTH_LINES[-1]}"
done

say "results"
say "  approval to direct (symmetric/apdf, NATs classified before): $APPROVAL_MS ms"
for l in "${ONE_LINES[@]}" "${BOTH_LINES[@]}"; do
	say "  $l"
done
say "  one symmetric side: $TRIALS/$TRIALS direct; both symmetric: $WON/$TRIALS direct"
nat_pairs_report
pass "$VTX_SCENARIO"
