/* SPDX-License-Identifier: MIT */
/*
 * Edge translation of inbound overlay packets (see xlate.h and docs/overlay-addressing.md).
 *
 * Every packet goes through two phases. The plan phase reads the untrusted bytes, bounded by the
 * IPv4 total length / IPv6 payload length (never the buffer size alone), checks the source and
 * records which checksum fields must follow the address change. Only if the packet is accepted
 * does the rewrite phase touch it, so a refused packet leaves as it came (the drop path may log
 * it). Writes go to offsets whose bounds the plan phase proved.
 *
 * Checksums are adjusted by RFC 1624 deltas, never recomputed: the cost is a few additions per
 * rewritten address whatever the packet size, and a checksum that was wrong stays wrong, so the
 * kernel still drops what the underlay damaged. All rewritten fields sit at even offsets of the
 * data their checksums cover (IP headers, 8-byte ICMP headers, 8-byte IPv6 extension units), as
 * csum_delta requires.
 */
#include <assert.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "core/rbuf.h"
#include "overlay/csum.h"
#include "overlay/xlate.h"

/* Wire layouts (RFC 791, 8200, 793, 768, 792, 4443). */
enum {
	IP4_HDR_MIN = 20,
	IP4_OFF_TOT_LEN = 2,
	IP4_OFF_FRAG = 6,
	IP4_OFF_PROTO = 9,
	IP4_OFF_CSUM = 10,
	IP4_OFF_SRC = 12,
	IP4_OFF_DST = 16,
	IP4_ADDR_LEN = 4,
	IP4_FRAG_MF = 0x2000,
	IP4_FRAG_OFFSET = 0x1fff,

	IP6_HDR_LEN = 40,
	IP6_OFF_PLEN = 4,
	IP6_OFF_NH = 6,
	IP6_OFF_SRC = 8,
	IP6_OFF_DST = 24,
	IP6_ADDR_LEN = 16,
	IP6_EXT_UNIT = 8, /* extension headers come in 8-byte units */
	IP6_EXT_OFF_LEN = 1,
	IP6_RH_OFF_SEGS_LEFT = 3,
	IP6_FH_OFF_FRAG = 2,
	IP6_FH_OFFSET = 0xfff8,
	IP6_FH_MF = 0x0001,
	/* Real stacks send at most a few; the bound keeps a hostile chain from costing more. */
	IP6_MAX_EXT_HDRS = 8,

	TCP_HDR_MIN = 20,
	TCP_OFF_CSUM = 16,
	UDP_HDR_LEN = 8,
	UDP_OFF_CSUM = 6,
	ICMP_HDR_LEN = 8, /* type, code, checksum, 4 bytes that depend on the type */
	ICMP_OFF_CSUM = 2,
	ICMP6_TYPE_ERROR_MIN = 1, /* destination unreachable */
	ICMP6_TYPE_ERROR_MAX = 4, /* parameter problem */
};

static_assert(IP4_OFF_DST + IP4_ADDR_LEN == IP4_HDR_MIN, "IPv4 addresses end the fixed header");
static_assert(IP6_OFF_DST + IP6_ADDR_LEN == IP6_HDR_LEN, "IPv6 addresses end the header");
static_assert(TCP_OFF_CSUM + 2 <= TCP_HDR_MIN && UDP_OFF_CSUM + 2 <= UDP_HDR_LEN,
	      "L4 checksums lie inside the minimal headers");
static_assert(IP4_OFF_CSUM % 2 == 0 && TCP_OFF_CSUM % 2 == 0 && UDP_OFF_CSUM % 2 == 0 &&
		  ICMP_OFF_CSUM % 2 == 0 && ICMP_HDR_LEN % 2 == 0,
	      "checksummed fields are 16-bit aligned");

/*
 * What the rewrite must touch besides the addresses, decided before any byte changes. For ICMPv6
 * errors l4_csum and icmp_csum are the same field: it covers both the pseudo-header and the quote.
 */
struct xlate_plan {
	uint8_t *l4_csum;  /* checksum covering the pseudo-header, or NULL */
	bool zero_is_none; /* UDP: zero means "no checksum" and stays zero */
	uint8_t *quote;    /* packet quoted by an ICMP error, or NULL */
	size_t quote_len;
	uint8_t *icmp_csum; /* the error's checksum, which covers the quote */
};

enum ip6_walk_result {
	IP6_WALK_L4,     /* found the upper-layer header */
	IP6_WALK_MORE,   /* one extension header skipped, carry on */
	IP6_WALK_LATER,  /* a non-first fragment: the upper-layer header is in another one */
	IP6_WALK_SHORT,  /* an extension header runs past the end */
	IP6_WALK_DEEP,   /* more than IP6_MAX_EXT_HDRS extension headers */
	IP6_WALK_ROUTED, /* routing header with segments left: the pseudo-header uses another
			    destination than the one we rewrite */
};

struct ip6_l4 {
	uint8_t proto;
	size_t off;      /* of the upper-layer header from the start of the IPv6 header */
	bool fragmented; /* a first fragment with more to come */
};

static uint16_t
load16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

/* Where the checksum covering the pseudo-header sits in an upper-layer header, or -1. */
static int
l4_csum_offset(uint8_t proto, bool v6)
{
	switch (proto) {
	case IPPROTO_TCP:
		return TCP_OFF_CSUM;
	case IPPROTO_UDP:
		return UDP_OFF_CSUM;
	case IPPROTO_ICMPV6:
		return v6 ? ICMP_OFF_CSUM : -1; /* ICMP for IPv4 has no pseudo-header */
	default:
		return -1;
	}
}

/* Rewrite a source/destination pair in place and return the checksum delta of the change. */
static uint32_t
addr_rewrite(uint8_t *src, uint8_t *dst, const uint8_t *new_src, const uint8_t *new_dst,
	     size_t alen)
{
	uint32_t delta = csum_delta(src, new_src, alen, 0);

	delta = csum_delta(dst, new_dst, alen, delta);
	memcpy(src, new_src, alen);
	memcpy(dst, new_dst, alen);
	return delta;
}

/*
 * Apply delta to a checksum field and return the delta of the field's own change, for an
 * enclosing checksum (an ICMP error's) that covers the field too. RFC 768 and RFC 8200 reserve a
 * zero UDP checksum for "none", so a computed zero is sent as 0xffff.
 */
static uint32_t
csum_field_fix(uint8_t *field, uint32_t delta, bool zero_is_none)
{
	uint8_t old[2] = { field[0], field[1] };

	if (zero_is_none && load16(old) == 0)
		return 0;
	csum_adjust(field, delta);
	if (zero_is_none && load16(field) == 0)
		field[0] = field[1] = 0xff;
	return csum_delta(old, field, 2, 0);
}

/* Plan the checksum of a TCP or UDP header; a header too short to hold it is malformed. */
static enum xlate_result
l4_plan(uint8_t proto, uint8_t *l4, size_t len, struct xlate_plan *plan)
{
	size_t need = proto == IPPROTO_TCP ? TCP_HDR_MIN : UDP_HDR_LEN;

	if (len < need)
		return XLATE_MALFORMED;
	plan->l4_csum = l4 + l4_csum_offset(proto, false);
	plan->zero_is_none = proto == IPPROTO_UDP;
	return XLATE_OK;
}

static bool
icmp4_is_error(uint8_t type)
{
	/* unreachable, source quench, redirect, time exceeded, parameter problem */
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static bool
quote4_is_valid(const uint8_t *q, size_t len)
{
	struct rbuf r;
	const uint8_t *h;
	size_t ihl;

	rbuf_init(&r, q, len);
	if (!rbuf_get_ptr(&r, IP4_HDR_MIN, &h))
		return false;
	ihl = (h[0] & 0xfu) * 4;
	return h[0] >> 4 == 4 && ihl >= IP4_HDR_MIN && rbuf_skip(&r, ihl - IP4_HDR_MIN);
}

/*
 * Rewrite the IPv4 packet quoted by an ICMP error: it is what our kernel sent, as the peer's
 * kernel saw it after the peer's own translation. Returns the delta for the ICMP checksum. The
 * quote may be truncated anywhere after its IP header; a checksum only partly present is left.
 */
static uint32_t
quote4_rewrite(uint8_t *q, size_t len, const struct xlate_map *m)
{
	size_t ihl = (q[0] & 0xfu) * 4;
	uint8_t proto = q[IP4_OFF_PROTO];
	int off = l4_csum_offset(proto, false);
	uint32_t delta, outer;

	delta =
	    addr_rewrite(q + IP4_OFF_SRC, q + IP4_OFF_DST, m->own4, m->peer_view4, IP4_ADDR_LEN);
	outer = delta + csum_field_fix(q + IP4_OFF_CSUM, delta, false);
	if (off >= 0 && !(load16(q + IP4_OFF_FRAG) & IP4_FRAG_OFFSET) && ihl + off + 2 <= len)
		outer += csum_field_fix(q + ihl + off, delta, proto == IPPROTO_UDP);
	return outer;
}

static enum xlate_result
icmp4_plan(uint8_t *icmp, size_t len, bool more_frags, struct xlate_plan *plan)
{
	if (len < ICMP_HDR_LEN)
		return XLATE_MALFORMED;
	if (!icmp4_is_error(icmp[0]))
		return XLATE_OK; /* no pseudo-header, no embedded addresses */
	if (more_frags)
		return XLATE_UNSUPPORTED; /* the quote may run into a fragment we cannot see */
	if (!quote4_is_valid(icmp + ICMP_HDR_LEN, len - ICMP_HDR_LEN))
		return XLATE_MALFORMED;
	plan->quote = icmp + ICMP_HDR_LEN;
	plan->quote_len = len - ICMP_HDR_LEN;
	plan->icmp_csum = icmp + ICMP_OFF_CSUM;
	return XLATE_OK;
}

static enum xlate_result
ip4_plan(uint8_t *pkt, size_t ihl, size_t tot, struct xlate_plan *plan)
{
	uint16_t frag = load16(pkt + IP4_OFF_FRAG);
	uint8_t proto = pkt[IP4_OFF_PROTO];

	/* The upper-layer checksum lives in the first fragment and covers the pseudo-header once.
	 */
	if (frag & IP4_FRAG_OFFSET)
		return XLATE_OK;
	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		return l4_plan(proto, pkt + ihl, tot - ihl, plan);
	case IPPROTO_ICMP:
		return icmp4_plan(pkt + ihl, tot - ihl, frag & IP4_FRAG_MF, plan);
	default:
		return XLATE_OK; /* nothing of ours to fix; the firewall decides */
	}
}

/* The common tail of both families: upper-layer checksum, then the quote of an ICMP error. */
static void
plan_apply(const struct xlate_plan *plan, uint32_t delta,
	   uint32_t (*quote_rewrite)(uint8_t *, size_t, const struct xlate_map *),
	   const struct xlate_map *m)
{
	if (plan->l4_csum)
		csum_field_fix(plan->l4_csum, delta, plan->zero_is_none);
	if (plan->quote)
		csum_adjust(plan->icmp_csum, quote_rewrite(plan->quote, plan->quote_len, m));
}

static enum xlate_result
ip4_inbound(uint8_t *pkt, size_t len, const struct xlate_map *m)
{
	struct xlate_plan plan = { 0 };
	struct rbuf r;
	const uint8_t *h;
	size_t ihl, tot;
	enum xlate_result res;
	uint32_t delta;

	rbuf_init(&r, pkt, len);
	if (!rbuf_get_ptr(&r, IP4_HDR_MIN, &h))
		return XLATE_MALFORMED;
	ihl = (h[0] & 0xfu) * 4;
	tot = load16(h + IP4_OFF_TOT_LEN);
	if (ihl < IP4_HDR_MIN || tot < ihl || tot > len)
		return XLATE_MALFORMED;
	if (memcmp(h + IP4_OFF_SRC, m->peer_self4, IP4_ADDR_LEN) != 0)
		return XLATE_BAD_SOURCE;
	res = ip4_plan(pkt, ihl, tot, &plan);
	if (res != XLATE_OK)
		return res;

	delta = addr_rewrite(pkt + IP4_OFF_SRC, pkt + IP4_OFF_DST, m->peer_view4, m->own4,
			     IP4_ADDR_LEN);
	csum_adjust(pkt + IP4_OFF_CSUM, delta);
	plan_apply(&plan, delta, quote4_rewrite, m);
	return XLATE_OK;
}

static bool
ip6_is_ext(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	       nh == IPPROTO_FRAGMENT;
}

/* Skip one extension header of type nh at the cursor; *next gets its next-header field. */
static enum ip6_walk_result
ip6_walk_one(struct rbuf *r, uint8_t nh, uint8_t *next, bool *fragmented)
{
	const uint8_t *h;
	uint16_t frag;

	if (!rbuf_get_ptr(r, IP6_EXT_UNIT, &h))
		return IP6_WALK_SHORT;
	*next = h[0];
	if (nh == IPPROTO_FRAGMENT) {
		frag = load16(h + IP6_FH_OFF_FRAG);
		if (frag & IP6_FH_OFFSET)
			return IP6_WALK_LATER;
		*fragmented = *fragmented || (frag & IP6_FH_MF);
		return IP6_WALK_MORE;
	}
	if (nh == IPPROTO_ROUTING && h[IP6_RH_OFF_SEGS_LEFT] != 0)
		return IP6_WALK_ROUTED;
	if (!rbuf_skip(r, (size_t)h[IP6_EXT_OFF_LEN] * IP6_EXT_UNIT))
		return IP6_WALK_SHORT;
	return IP6_WALK_MORE;
}

/* Walk the extension headers of the IPv6 packet p (len >= IP6_HDR_LEN, bounds every read). */
static enum ip6_walk_result
ip6_walk(const uint8_t *p, size_t len, struct ip6_l4 *out)
{
	enum ip6_walk_result res;
	struct rbuf r;
	uint8_t nh = p[IP6_OFF_NH];
	int i;

	rbuf_init(&r, p, len);
	rbuf_skip(&r, IP6_HDR_LEN);
	out->fragmented = false;
	for (i = 0; i <= IP6_MAX_EXT_HDRS; i++) {
		if (!ip6_is_ext(nh)) {
			out->proto = nh;
			out->off = r.off;
			return IP6_WALK_L4;
		}
		if (i == IP6_MAX_EXT_HDRS)
			break;
		res = ip6_walk_one(&r, nh, &nh, &out->fragmented);
		if (res != IP6_WALK_MORE)
			return res;
	}
	return IP6_WALK_DEEP;
}

static bool
quote6_is_valid(const uint8_t *q, size_t len)
{
	return len >= IP6_HDR_LEN && q[0] >> 4 == 6;
}

/* The IPv6 twin of quote4_rewrite; no header checksum, but ICMPv6 has a pseudo-header. */
static uint32_t
quote6_rewrite(uint8_t *q, size_t len, const struct xlate_map *m)
{
	struct ip6_l4 l4;
	uint32_t delta, outer;
	int off;

	delta =
	    addr_rewrite(q + IP6_OFF_SRC, q + IP6_OFF_DST, m->own6, m->peer_view6, IP6_ADDR_LEN);
	outer = delta;
	if (ip6_walk(q, len, &l4) != IP6_WALK_L4)
		return outer; /* truncated, a later fragment, or not ours to fix */
	off = l4_csum_offset(l4.proto, true);
	if (off >= 0 && l4.off + off + 2 <= len)
		outer += csum_field_fix(q + l4.off + off, delta, l4.proto == IPPROTO_UDP);
	return outer;
}

static enum xlate_result
icmp6_plan(uint8_t *icmp, size_t len, bool fragmented, struct xlate_plan *plan)
{
	if (len < ICMP_HDR_LEN)
		return XLATE_MALFORMED;
	plan->l4_csum = icmp + ICMP_OFF_CSUM;
	if (icmp[0] < ICMP6_TYPE_ERROR_MIN || icmp[0] > ICMP6_TYPE_ERROR_MAX)
		return XLATE_OK;
	if (fragmented)
		return XLATE_UNSUPPORTED;
	if (!quote6_is_valid(icmp + ICMP_HDR_LEN, len - ICMP_HDR_LEN))
		return XLATE_MALFORMED;
	plan->quote = icmp + ICMP_HDR_LEN;
	plan->quote_len = len - ICMP_HDR_LEN;
	plan->icmp_csum = icmp + ICMP_OFF_CSUM;
	return XLATE_OK;
}

static enum xlate_result
ip6_plan(uint8_t *pkt, size_t tot, struct xlate_plan *plan)
{
	struct ip6_l4 l4;

	switch (ip6_walk(pkt, tot, &l4)) {
	case IP6_WALK_L4:
		break;
	case IP6_WALK_LATER:
		return XLATE_OK;
	case IP6_WALK_SHORT:
		return XLATE_MALFORMED;
	case IP6_WALK_MORE: /* not returned by ip6_walk */
	case IP6_WALK_DEEP:
	case IP6_WALK_ROUTED:
	default:
		return XLATE_UNSUPPORTED;
	}
	switch (l4.proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		return l4_plan(l4.proto, pkt + l4.off, tot - l4.off, plan);
	case IPPROTO_ICMPV6:
		return icmp6_plan(pkt + l4.off, tot - l4.off, l4.fragmented, plan);
	default:
		return XLATE_OK;
	}
}

static enum xlate_result
ip6_inbound(uint8_t *pkt, size_t len, const struct xlate_map *m)
{
	struct xlate_plan plan = { 0 };
	struct rbuf r;
	const uint8_t *h;
	size_t tot;
	enum xlate_result res;
	uint32_t delta;

	rbuf_init(&r, pkt, len);
	if (!rbuf_get_ptr(&r, IP6_HDR_LEN, &h))
		return XLATE_MALFORMED;
	/* A zero payload length with a jumbo option would need 64 KiB+ buffers we never have. */
	tot = IP6_HDR_LEN + (size_t)load16(h + IP6_OFF_PLEN);
	if (tot > len)
		return XLATE_MALFORMED;
	if (memcmp(h + IP6_OFF_SRC, m->peer_self6, IP6_ADDR_LEN) != 0)
		return XLATE_BAD_SOURCE;
	res = ip6_plan(pkt, tot, &plan);
	if (res != XLATE_OK)
		return res;

	delta = addr_rewrite(pkt + IP6_OFF_SRC, pkt + IP6_OFF_DST, m->peer_view6, m->own6,
			     IP6_ADDR_LEN);
	plan_apply(&plan, delta, quote6_rewrite, m);
	return XLATE_OK;
}

enum xlate_result
xlate_inbound(uint8_t *pkt, size_t len, const struct xlate_map *m)
{
	if (len < 1)
		return XLATE_MALFORMED;
	switch (pkt[0] >> 4) {
	case 4:
		return ip4_inbound(pkt, len, m);
	case 6:
		return ip6_inbound(pkt, len, m);
	default:
		return XLATE_MALFORMED;
	}
}

const char *
xlate_result_name(enum xlate_result r)
{
	/* These strings are drop-counter keys in the CLI's JSON: keep them stable. */
	static const char *const names[] = {
		[XLATE_OK] = "ok",
		[XLATE_MALFORMED] = "malformed",
		[XLATE_BAD_SOURCE] = "bad_source",
		[XLATE_UNSUPPORTED] = "unsupported",
	};
	static_assert(sizeof(names) / sizeof(names[0]) == XLATE_RESULT_COUNT, "a name per result");

	if ((unsigned)r >= XLATE_RESULT_COUNT)
		return "unknown";
	return names[r];
}
