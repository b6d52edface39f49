// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the userspace stack's input (netstack/netstack.c, and lwIP behind it):
 * a sequence of packets, each [flags u8][len u16 big-endian][packet], fed to a fresh stack
 * that listens on port 22, the loop stepped after each. Flags: bit 0 sets the addresses to a
 * peer's (source) and ours (destination), bit 1 fixes the IPv4 header checksum and the TCP,
 * UDP or ICMPv6 checksum, so the fuzzer gets past lwIP's checks into TCP's states. Every packet
 * lwIP sends must fit the MTU.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ev.h"
#include "netstack/netstack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MTU = 1420, F_ADDRS = 1, F_CSUM = 2 };

static const uint8_t A4[4] = { 100, 64, 0, 1 }, B4[4] = { 100, 64, 0, 2 };
static const uint8_t A6[16] = { 0xfd, 0, 0x12, 0x34, 0x56, 0x78, [15] = 1 };
static const uint8_t B6[16] = { 0xfd, 0, 0x12, 0x34, 0x56, 0x78, [15] = 2 };

static void
on_output(void *arg, const uint8_t *pkt, size_t len)
{
	if (len > MTU || len < 20)
		abort();
}

static void
on_accept(void *arg, int fd, const struct sockaddr_storage *from, const struct sockaddr_storage *to)
{
	close(fd);
}

static uint32_t
sum16(const uint8_t *b, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void
fix_l4(uint8_t *p, size_t len, size_t off, uint8_t proto, uint32_t s)
{
	size_t at;
	uint8_t ph[4] = { 0, proto, (uint8_t)((len - off) >> 8), (uint8_t)(len - off) };
	uint16_t c;

	if (proto == 6)
		at = off + 16;
	else if (proto == 17 || proto == 58)
		at = off + (proto == 17 ? 6 : 2);
	else
		return;
	if (at + 2 > len)
		return;
	p[at] = p[at + 1] = 0;
	c = fold(sum16(p + off, len - off, sum16(ph, 4, s)));
	p[at] = (uint8_t)(c >> 8);
	p[at + 1] = (uint8_t)c;
}

static void
fixup(uint8_t *p, size_t len, uint8_t flags)
{
	if (len >= 20 && p[0] >> 4 == 4) {
		size_t ih = (size_t)(p[0] & 0x0f) * 4;
		uint16_t c;

		if (flags & F_ADDRS) {
			memcpy(p + 12, B4, 4);
			memcpy(p + 16, A4, 4);
		}
		if (!(flags & F_CSUM) || ih < 20 || ih > len)
			return;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
		p[10] = p[11] = 0;
		c = fold(sum16(p, ih, 0));
		p[10] = (uint8_t)(c >> 8);
		p[11] = (uint8_t)c;
		fix_l4(p, len, ih, p[9], sum16(p + 12, 8, 0));
	} else if (len >= 40 && p[0] >> 4 == 6) {
		if (flags & F_ADDRS) {
			memcpy(p + 8, B6, 16);
			memcpy(p + 24, A6, 16);
		}
		if (!(flags & F_CSUM))
			return;
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
		fix_l4(p, len, 40, p[6], sum16(p + 8, 32, 0));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop *loop;
	struct netstack_config cfg = { .prefix4 = 10, .prefix6 = 48, .mtu = MTU };
	struct netstack_ops ops = { .output = on_output };
	struct netstack *ns;
	uint8_t pkt[2048];

	if (loop == NULL && ev_loop_new(&loop) < 0)
		abort();
	memcpy(&cfg.addr4, A4, 4);
	memcpy(&cfg.addr6, A6, 16);
	if (netstack_new(&ns, loop, &cfg, &ops, NULL) < 0 ||
	    netstack_listen(ns, 22, on_accept, NULL) < 0)
		abort();
	while (size >= 3) {
		uint8_t flags = data[0];
		size_t len = (size_t)data[1] << 8 | data[2];

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > sizeof(pkt))
			len = sizeof(pkt);
		memcpy(pkt, data, len);
		fixup(pkt, len, flags);
		netstack_input(ns, pkt, len);
		ev_run_once(loop, 0);
		data += len;
		size -= len;
	}
	netstack_free(ns);
	return 0;
}
