// SPDX-License-Identifier: MIT
/*
 * PCP and NAT-PMP messages, and the default gateway from /proc/net/route (portmap_wire.h).
 */
#include "direct/portmap_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rbuf.h"
#include "core/wbuf.h"

enum {
	PCP_RESPONSE_BIT = 0x80,
	NATPMP_RESPONSE_BASE = 128,
	PCP_OPTION_HEADER_LEN = 4,
	ROUTE_LINE_MAX = 256,
	RTF_UP_FLAG = 0x1,
	RTF_GATEWAY_FLAG = 0x2,
};

/* ::ffff:a.b.c.d */
static void
put_v4_mapped(struct wbuf *w, const struct in_addr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	wbuf_put_bytes(w, prefix, sizeof(prefix));
	wbuf_put_bytes(w, a ? (const void *)a : (const void *)"\0\0\0\0", 4);
}

uint8_t
portmap_natpmp_map_opcode(uint8_t protocol)
{
	return protocol == PORTMAP_IPPROTO_UDP   ? NATPMP_OP_MAP_UDP
	       : protocol == PORTMAP_IPPROTO_TCP ? NATPMP_OP_MAP_TCP
						 : 0;
}

size_t
portmap_pcp_map_encode(uint8_t *out, size_t cap, const struct in_addr *client,
		       const uint8_t nonce[PCP_NONCE_LEN], uint8_t protocol, uint16_t internal_port,
		       uint16_t suggested_port, uint32_t lifetime)
{
	struct wbuf w;

	if (!portmap_natpmp_map_opcode(protocol))
		return 0;
	wbuf_init(&w, out, cap);
	wbuf_put_u8(&w, PCP_VERSION);
	wbuf_put_u8(&w, PCP_OP_MAP);
	wbuf_put_u16(&w, 0);
	wbuf_put_u32(&w, lifetime);
	put_v4_mapped(&w, client);
	wbuf_put_bytes(&w, nonce, PCP_NONCE_LEN);
	wbuf_put_u8(&w, protocol);
	wbuf_put_bytes(&w, "\0\0\0", 3);
	wbuf_put_u16(&w, internal_port);
	wbuf_put_u16(&w, suggested_port);
	put_v4_mapped(&w, NULL); /* any external address */
	return wbuf_ok(&w) ? w.off : 0;
}

size_t
portmap_natpmp_address_encode(uint8_t *out, size_t cap)
{
	if (cap < NATPMP_ADDRESS_REQUEST_LEN)
		return 0;
	out[0] = NATPMP_VERSION;
	out[1] = NATPMP_OP_ADDRESS;
	return NATPMP_ADDRESS_REQUEST_LEN;
}

size_t
portmap_natpmp_map_encode(uint8_t *out, size_t cap, uint8_t protocol, uint16_t internal_port,
			  uint16_t suggested_port, uint32_t lifetime)
{
	uint8_t op = portmap_natpmp_map_opcode(protocol);
	struct wbuf w;

	if (!op)
		return 0;
	wbuf_init(&w, out, cap);
	wbuf_put_u8(&w, NATPMP_VERSION);
	wbuf_put_u8(&w, op);
	wbuf_put_u16(&w, 0);
	wbuf_put_u16(&w, internal_port);
	wbuf_put_u16(&w, suggested_port);
	wbuf_put_u32(&w, lifetime);
	return wbuf_ok(&w) ? w.off : 0;
}

/* A 16-byte address: IPv4 only if it is ::ffff:a.b.c.d. */
static bool
get_addr16(struct rbuf *r, struct in_addr *v4, bool *is_v4)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t a[16];

	if (!rbuf_get_bytes(r, a, sizeof(a)))
		return false;
	*is_v4 = !memcmp(a, prefix, sizeof(prefix));
	if (*is_v4)
		memcpy(v4, a + 12, 4);
	return true;
}

/* Options after the opcode's payload: each must fit exactly; their content is not used. */
static bool
pcp_options_ok(struct rbuf *r)
{
	while (rbuf_remaining(r)) {
		uint8_t code, reserved;
		uint16_t len;

		if (!rbuf_get_u8(r, &code) || !rbuf_get_u8(r, &reserved) ||
		    !rbuf_get_u16(r, &len) || !rbuf_skip(r, ((size_t)len + 3) & ~(size_t)3))
			return false;
	}
	return true;
}

static bool
pcp_decode(struct rbuf *r, size_t len, struct portmap_reply *out)
{
	uint8_t op, reserved, result;
	bool v4 = false;

	if (len < PCP_HEADER_LEN || len > PCP_MAX_LEN || len % 4 || !rbuf_skip(r, 1) ||
	    !rbuf_get_u8(r, &op) || !rbuf_get_u8(r, &reserved) || !rbuf_get_u8(r, &result) ||
	    !rbuf_get_u32(r, &out->lifetime) || !rbuf_get_u32(r, &out->epoch) || !rbuf_skip(r, 12))
		return false;
	if (!(op & PCP_RESPONSE_BIT))
		return false; /* a request: not for us */
	out->opcode = op & ~PCP_RESPONSE_BIT;
	out->result = result;
	if (out->opcode == PCP_OP_MAP) {
		if (!rbuf_get_bytes(r, out->nonce, PCP_NONCE_LEN) ||
		    !rbuf_get_u8(r, &out->protocol) || !rbuf_skip(r, 3) ||
		    !rbuf_get_u16(r, &out->internal_port) ||
		    !rbuf_get_u16(r, &out->external_port) || !get_addr16(r, &out->external, &v4))
			return false;
		out->has_external = v4 && result == PORTMAP_RESULT_SUCCESS;
	} else if (out->opcode != PCP_OP_ANNOUNCE && result == PORTMAP_RESULT_SUCCESS) {
		return false; /* success for an opcode we never send */
	}
	return pcp_options_ok(r);
}

static bool
natpmp_decode(struct rbuf *r, size_t len, struct portmap_reply *out)
{
	uint8_t op;

	if (len < NATPMP_ERROR_MIN_LEN || !rbuf_skip(r, 1) || !rbuf_get_u8(r, &op) ||
	    op < NATPMP_RESPONSE_BASE || !rbuf_get_u16(r, &out->result) ||
	    !rbuf_get_u32(r, &out->epoch))
		return false;
	out->opcode = (uint8_t)(op - NATPMP_RESPONSE_BASE);
	if (out->result != PORTMAP_RESULT_SUCCESS)
		return len <= NATPMP_MAP_RESPONSE_LEN; /* an error: what follows does not matter */
	if (out->opcode == NATPMP_OP_ADDRESS) {
		if (len != NATPMP_ADDRESS_RESPONSE_LEN || !rbuf_get_bytes(r, &out->external, 4))
			return false;
		out->has_external = true;
		return true;
	}
	if ((out->opcode != NATPMP_OP_MAP_UDP && out->opcode != NATPMP_OP_MAP_TCP) ||
	    len != NATPMP_MAP_RESPONSE_LEN)
		return false;
	out->protocol =
	    out->opcode == NATPMP_OP_MAP_UDP ? PORTMAP_IPPROTO_UDP : PORTMAP_IPPROTO_TCP;
	return rbuf_get_u16(r, &out->internal_port) && rbuf_get_u16(r, &out->external_port) &&
	       rbuf_get_u32(r, &out->lifetime);
}

bool
portmap_reply_decode(const uint8_t *buf, size_t len, struct portmap_reply *out)
{
	struct rbuf r;

	memset(out, 0, sizeof(*out));
	if (!len)
		return false;
	rbuf_init(&r, buf, len);
	out->version = buf[0];
	if (buf[0] == PCP_VERSION)
		return pcp_decode(&r, len, out);
	if (buf[0] == NATPMP_VERSION)
		return natpmp_decode(&r, len, out);
	return false;
}

/* One line of /proc/net/route: Iface Destination Gateway Flags RefCnt Use Metric Mask ... */
static bool
route_line(const char *line, uint32_t *gw, unsigned long *metric)
{
	char iface[32];
	unsigned long dst, gateway, flags, refcnt, use, mask;

	if (sscanf(line, "%31s %lx %lx %lx %lu %lu %lu %lx", iface, &dst, &gateway, &flags, &refcnt,
		   &use, metric, &mask) != 8)
		return false;
	if (dst || mask || !gateway || gateway > UINT32_MAX ||
	    (flags & (RTF_UP_FLAG | RTF_GATEWAY_FLAG)) != (RTF_UP_FLAG | RTF_GATEWAY_FLAG))
		return false;
	*gw = (uint32_t)gateway; /* the kernel prints s_addr as a host-order number */
	return true;
}

bool
portmap_gateway_parse(const char *text, size_t len, struct in_addr *gw)
{
	unsigned long best = (unsigned long)-1;
	bool found = false;
	size_t i = 0;

	while (i < len) {
		char line[ROUTE_LINE_MAX];
		size_t n = 0;
		unsigned long metric;
		uint32_t g;

		while (i < len && text[i] != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = text[i] ? text[i] : ' ';
			i++;
		}
		i++; /* the newline */
		line[n] = '\0';
		if (route_line(line, &g, &metric) && (!found || metric < best)) {
			gw->s_addr = g;
			best = metric;
			found = true;
		}
	}
	return found;
}

const char *
portmap_result_name(uint8_t version, uint16_t result)
{
	static const char *const pcp[] = {
		"success",
		"unsupported version",
		"not authorized",
		"malformed request",
		"unsupported opcode",
		"unsupported option",
		"malformed option",
		"network failure",
		"no resources",
		"unsupported protocol",
		"user exceeded quota",
		"cannot provide external",
		"address mismatch",
		"excessive remote peers",
	};
	static const char *const natpmp[] = {
		"success",         "unsupported version", "not authorized",
		"network failure", "out of resources",    "unsupported opcode",
	};

	if (version == PCP_VERSION && result < sizeof(pcp) / sizeof(pcp[0]))
		return pcp[result];
	if (version == NATPMP_VERSION && result < sizeof(natpmp) / sizeof(natpmp[0]))
		return natpmp[result];
	return "unknown result";
}
