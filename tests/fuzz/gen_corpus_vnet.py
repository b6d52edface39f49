#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# Writes the seed corpus of fuzz_vnet (tests/fuzz/corpus/vnet/): TUN reads as the kernel makes
# them with offloads on -- a virtio-net header (host byte order, little-endian here) and a
# packet: TCP super-packets over IPv4 and IPv6 (with timestamps, PSH, a short last segment),
# a UDP (USO) one, a plain packet with NEEDS_CSUM, one without any offload. Deterministic.
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "vnet")
SRC4, DST4 = bytes([100, 64, 0, 1]), bytes([100, 64, 0, 2])
SRC6 = bytes.fromhex("fd222222222200000000000000000001")
DST6 = bytes.fromhex("fd222222222200000000000000000002")


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def csum(data):
    if len(data) % 2:
        data += b"\0"
    return fold(sum(struct.unpack("!%dH" % (len(data) // 2), data)))


def pseudo(v6, proto, l4len):
    if v6:
        return csum(SRC6 + DST6 + struct.pack("!IxxxB", l4len, proto))
    return csum(SRC4 + DST4 + struct.pack("!xBH", proto, l4len))


def ip(v6, proto, l4):
    if v6:
        return struct.pack("!IHBB", 0x60012345, len(l4), proto, 64) + SRC6 + DST6 + l4
    h = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), 0x1234, 0x4000, 64, proto, 0)
    h += SRC4 + DST4
    return h[:10] + struct.pack("!H", 0xFFFF ^ csum(h)) + h[12:] + l4


def vnet(flags, gso_type, gso_size, csum_start, csum_offset):
    return struct.pack("<BBHHHH", flags, gso_type, 0, gso_size, csum_start, csum_offset)


def tcp_super(v6, payload, mss, flags=0x18, opts=b""):
    th = struct.pack("!HHIIBBHHH", 40000, 22, 1000, 2000, (20 + len(opts)) // 4 << 4, flags,
                     5000, 0, 0) + opts
    l4 = bytearray(th + payload)
    struct.pack_into("!H", l4, 16, pseudo(v6, 6, len(l4)))
    return vnet(1, 4 if v6 else 1, mss, 40 if v6 else 20, 16) + ip(v6, 6, bytes(l4))


def udp_super(v6, payload, size):
    l4 = bytearray(struct.pack("!HHHH", 5000, 53, 8 + len(payload), 0) + payload)
    struct.pack_into("!H", l4, 6, pseudo(v6, 17, len(l4)))
    return vnet(1, 5, size, 40 if v6 else 20, 6) + ip(v6, 17, bytes(l4))


def main():
    os.makedirs(OUT, exist_ok=True)
    data = bytes(range(256)) * 40
    ts = bytes([1, 1, 8, 10]) + bytes(8)
    seeds = {
        "tcp4_super": tcp_super(False, data[:4000], 1000),
        "tcp4_short_last": tcp_super(False, data[:2900], 1388, 0x19, ts),
        "tcp6_super": tcp_super(True, data[:6000], 1348, 0x10, ts),
        "udp4_uso": udp_super(False, data[:3000], 1200),
        "udp6_uso": udp_super(True, data[:2500], 1000),
        "plain": vnet(0, 0, 0, 0, 0) + ip(False, 17, struct.pack("!HHHH", 1, 2, 12, 0) + b"abcd"),
    }
    # NEEDS_CSUM without GSO: flags 1 with csum_start/offset set, gso_type 0.
    seeds["tcp4_needs_csum"] = vnet(1, 0, 0, 20, 16) + tcp_super(False, data[:500], 1000)[10:]
    for name, blob in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main()
