#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# Writes the seed corpus of fuzz_xlate (tests/fuzz/corpus/xlate/): one small valid packet per
# shape xlate.c handles, from bob (100.64.0.1 / fd22:2222:2222::1, the fuzz target's peer) to
# bob's view of alice (100.64.0.7 / fd22:2222:2222::7). Run from anywhere; output is deterministic.
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "xlate")
BOB4, ALICE4 = bytes([100, 64, 0, 1]), bytes([100, 64, 0, 7])
BOB6 = bytes.fromhex("fd222222222200000000000000000001")
ALICE6 = bytes.fromhex("fd222222222200000000000000000007")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def put_csum(seg, off, pseudo=b"", udp=False):
    c = csum(pseudo + seg[:off] + b"\0\0" + seg[off + 2:])
    if udp and c == 0:
        c = 0xFFFF
    return seg[:off] + struct.pack("!H", c) + seg[off + 2:]


def ip4(src, dst, proto, l4, frag=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, frag, 64, proto, 0, src, dst)
    return put_csum(h, 10) + l4


def ip6(src, dst, nh, l4, ext=b""):
    return struct.pack("!IHBB16s16s", 6 << 28, len(ext) + len(l4), nh, 64, src, dst) + ext + l4


def l4(fam, src, dst, proto, seg, off, full_len=None):
    n = full_len or len(seg)
    if fam == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, n) if proto != 1 else b""
    else:
        pseudo = src + dst + struct.pack("!IxxxB", n, proto)
    return put_csum(seg, off, pseudo, udp=proto == 17)


def tcp(fam, src, dst, payload=b"hello"):
    seg = struct.pack("!HHIIBBHHH", 40000, 22, 1, 0, 5 << 4, 0x18, 512, 0, 0) + payload
    return l4(fam, src, dst, 6, seg, 16)


def udp(fam, src, dst, payload=b"ping"):
    seg = struct.pack("!HHHH", 5353, 53, 8 + len(payload), 0) + payload
    return l4(fam, src, dst, 17, seg, 6)


def echo(fam, src, dst):
    seg = struct.pack("!BBHHH", 8 if fam == 4 else 128, 0, 0, 7, 1) + b"abcdefgh"
    return l4(fam, src, dst, 1 if fam == 4 else 58, seg, 2)


def main():
    os.makedirs(OUT, exist_ok=True)
    inner4 = ip4(ALICE4, BOB4, 6, tcp(4, ALICE4, BOB4, b"x" * 40))
    inner6 = ip6(ALICE6, BOB6, 6, tcp(6, ALICE6, BOB6, b"x" * 40))
    dstopts = bytes([6, 0, 1, 4, 0, 0, 0, 0])
    seeds = {
        "ip4-tcp": ip4(BOB4, ALICE4, 6, tcp(4, BOB4, ALICE4)),
        "ip4-udp": ip4(BOB4, ALICE4, 17, udp(4, BOB4, ALICE4)),
        "ip4-echo": ip4(BOB4, ALICE4, 1, echo(4, BOB4, ALICE4)),
        "ip4-frag-needed": ip4(BOB4, ALICE4, 1, l4(4, BOB4, ALICE4, 1,
                                struct.pack("!BBHHH", 3, 4, 0, 0, 1280) + inner4[:48], 2)),
        "ip4-later-fragment": ip4(BOB4, ALICE4, 6, b"\1" * 16, frag=185),
        "ip6-udp": ip6(BOB6, ALICE6, 17, udp(6, BOB6, ALICE6)),
        "ip6-echo": ip6(BOB6, ALICE6, 58, echo(6, BOB6, ALICE6)),
        "ip6-too-big": ip6(BOB6, ALICE6, 58, l4(6, BOB6, ALICE6, 58,
                           struct.pack("!BBHI", 2, 0, 0, 1280) + inner6[:80], 2)),
        "ip6-dstopts-tcp": ip6(BOB6, ALICE6, 60, tcp(6, BOB6, ALICE6), ext=dstopts),
    }
    for name, pkt in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(pkt)


if __name__ == "__main__":
    main()
