#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The server's side of reflection (proto/reflect.h, server/reflect.c), spoken to with raw
# datagrams from alice's namespace on the flat two-domain lab (lib_domains.sh), where srva has a
# second address (--alt-address 198.18.0.11) and srvb is started without one:
#
# 1. A plain request to the server's address: answered from that address and port, naming the
#    address and port it came from and the second address; the same to the second address:
#    answered from the second address; asking for the other port: answered from 4802; asking
#    for the other address: answered from 198.18.0.11, 4801.
# 2. What cannot be answered as asked is not answered, and counted: the other address asked of
#    the second address itself, or of srvb, which has none. Malformed requests (a flag that
#    means nothing, both flags, a short datagram) get nothing and are counted.
# 3. The exit log's counters say exactly that.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"

vtx_require python3
[[ -x $VERTEX_SERVER ]] || fail "missing $VERTEX_SERVER"
domains_up
unset 'VTX_SERVER_ALT[srvb]' # srvb: one address (domain_server_alt gave it one: not used)
server_init srva "$DOMAIN_A" >/dev/null
server_init srvb "$DOMAIN_B" >/dev/null
server_start srva
server_start srvb

# ask TO-ADDR TO-PORT FLAGS [RAW-HEX]: one request from alice's port 4800 (a new socket each
# time), the answer awaited 1 s: prints "FROM-ADDR FROM-PORT SEEN-ADDR SEEN-PORT OTHER" or
# "none". RAW-HEX, if given, is sent instead of a well-formed request.
ask()
{
	qn alice python3 - "$@" <<'PY'
import os, socket, struct, sys
to, port, flags = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
nonce = struct.unpack(">Q", os.urandom(8))[0] | 1
req = bytes([0x10, flags, 0, 0]) + struct.pack(">Q", nonce) + bytes(36)
if len(sys.argv) > 4:
    req = bytes.fromhex(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 4800))
s.settimeout(1.0)
s.sendto(req, (to, port))
try:
    b, src = s.recvfrom(2048)
except socket.timeout:
    print("none")
    sys.exit(0)
if len(b) != 48 or b[0] != 0x11 or b[1] != 4 or struct.unpack(">Q", b[4:12])[0] != nonce:
    print("bad", b.hex())
    sys.exit(0)
seen = socket.inet_ntop(socket.AF_INET, b[12:16])
other = socket.inet_ntop(socket.AF_INET, b[32:36]) if b[28] == 4 else "-"
print(src[0], src[1], seen, struct.unpack(">H", b[2:4])[0], other)
PY
}

expect_answer() # expect_answer WANT TO PORT FLAGS [RAW]
{
	local want=$1 got
	shift
	got=$(ask "$@")
	[[ $got == "$want" ]] || fail "request to $1:$2 flags $3: '$got', want '$want'"
}

say "1. answers from where they were asked, or from where the request asked for"
expect_answer "$SRVA_IP 4801 $ALICE_IP 4800 $SRVA_ALT_IP" "$SRVA_IP" 4801 0
expect_answer "$SRVA_ALT_IP 4801 $ALICE_IP 4800 $SRVA_ALT_IP" "$SRVA_ALT_IP" 4801 0
expect_answer "$SRVA_IP 4802 $ALICE_IP 4800 $SRVA_ALT_IP" "$SRVA_IP" 4801 1
expect_answer "$SRVA_ALT_IP 4801 $ALICE_IP 4800 $SRVA_ALT_IP" "$SRVA_IP" 4801 2
expect_answer "$SRVB_IP 4801 $ALICE_IP 4800 -" "$SRVB_IP" 4801 0
pass "srva answers from its address, its other port and its second address; srvb names none"

say "2. what cannot be answered as asked, and malformed requests: no answer"
expect_answer none "$SRVA_ALT_IP" 4801 2 # the other address, asked of it
expect_answer none "$SRVB_IP" 4801 2     # srvb has no other address
expect_answer none "$SRVA_IP" 4801 4     # a flag that means nothing
expect_answer none "$SRVA_IP" 4801 3     # both changes at once
expect_answer none "$SRVA_IP" 4801 0 "1000000000000000000000000000000000" # short
pass "nothing answered that the server cannot answer as asked, nor anything malformed"

say "3. the counters at exit"
server_stop srva
server_stop srvb
grep -q "reflection at exit: 4 answered, 0 over the rate, 3 malformed, 1 for a port or address it does not have" "$VTX_TMP/srva.log" ||
	fail "srva: $(grep 'reflection at exit' "$VTX_TMP/srva.log")"
grep -q "reflection at exit: 1 answered, 0 over the rate, 0 malformed, 1 for a port or address it does not have" "$VTX_TMP/srvb.log" ||
	fail "srvb: $(grep 'reflection at exit' "$VTX_TMP/srvb.log")"
grep -q "reflection: answering from $SRVA_ALT_IP:4801 too" "$VTX_TMP/srva.log" || fail "srva does not say its second address"
pass "srva: 4 answered, 3 malformed, 1 unanswerable; srvb: 1 answered, 1 unanswerable"
pass "$VTX_SCENARIO"
