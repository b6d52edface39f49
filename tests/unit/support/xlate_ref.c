// SPDX-License-Identifier: MIT
/*
 * The naive reference for the edge-translation tests (xlate_ref.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xlate_ref.h"

/* ---- naive reference checksum ---- */

uint64_t
ref_add(uint64_t acc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acc += (i % 2 == 0) ? (uint64_t)p[i] << 8 : p[i];
	return acc;
}

uint16_t
ref_fold(uint64_t acc)
{
	while (acc > 0xffff)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

uint64_t
ref_pseudo(int fam, const uint8_t *src, const uint8_t *dst, uint8_t proto, size_t len)
{
	size_t alen = fam == 4 ? 4 : 16;
	uint64_t acc = ref_add(ref_add(0, src, alen), dst, alen);

	return acc + proto + (len & 0xffff) + (len >> 16);
}

static bool
has_pseudo(uint8_t proto)
{
	return proto != P_ICMP;
}

void
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

unsigned
get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* ---- packet builder ---- */

uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

void
fill(uint8_t *p, size_t n, uint32_t *s)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd(s);
}

static size_t build(const struct spec *s, const struct addrs *a, uint8_t *out);

static size_t
build_error(const struct spec *s, const struct addrs *a, uint8_t *l4)
{
	struct spec in = {
		.fam = s->fam,
		.kind = s->inner_kind,
		.payload_len = s->inner_payload_len,
		.n_ext = s->inner_ext,
		.udp_no_csum = s->udp_no_csum,
		.seed = s->seed + 1,
	};
	struct addrs ia = { .src = a->qsrc, .dst = a->qdst };
	size_t n = build(&in, &ia, l4 + 8);

	if (s->quote_len < n)
		n = s->quote_len;
	memset(l4, 0, 8);
	l4[0] = s->err_type ? s->err_type : s->fam == 4 ? 3 : 2;
	l4[1] = s->fam == 4 && !s->err_type ? 4 : 0;
	put16(l4 + 6, 1280);
	return 8 + n;
}

/* The upper-layer bytes with a zero checksum; *csum_off is -1 when there is none to compute. */
static size_t
build_l4(const struct spec *s, const struct addrs *a, uint8_t *l4, uint8_t *proto, int *csum_off)
{
	uint32_t r = s->seed;
	size_t hl;

	switch (s->kind) {
	case K_TCP:
		hl = 20;
		fill(l4, hl, &r);
		l4[12] = 5 << 4;
		put16(l4 + 16, 0);
		*proto = P_TCP;
		*csum_off = 16;
		break;
	case K_UDP:
		hl = 8;
		fill(l4, 4, &r);
		put16(l4 + 4, (unsigned)(hl + s->payload_len));
		put16(l4 + 6, 0);
		*proto = P_UDP;
		*csum_off = s->fam == 4 && s->udp_no_csum ? -1 : 6;
		break;
	case K_ECHO:
		hl = 8;
		fill(l4, hl, &r);
		l4[0] = s->fam == 4 ? 8 : 128;
		l4[1] = 0;
		put16(l4 + 2, 0);
		*proto = s->fam == 4 ? P_ICMP : P_ICMP6;
		*csum_off = 2;
		break;
	case K_ERROR:
		*proto = s->fam == 4 ? P_ICMP : P_ICMP6;
		*csum_off = 2;
		return build_error(s, a, l4);
	default: /* K_LATER_FRAG: opaque bytes of the middle of a datagram */
		fill(l4, s->payload_len, &r);
		*proto = P_TCP;
		*csum_off = -1;
		return s->payload_len;
	}
	fill(l4 + hl, s->payload_len, &r);
	return hl + s->payload_len;
}

static void
set_l4_csum(const struct spec *s, const struct addrs *a, uint8_t proto, uint8_t *l4, size_t len,
	    int off)
{
	uint64_t acc = has_pseudo(proto) ? ref_pseudo(s->fam, a->src, a->dst, proto, len) : 0;
	uint16_t c = (uint16_t)~ref_fold(ref_add(acc, l4, len));

	if (proto == P_UDP && c == 0)
		c = 0xffff;
	put16(l4 + off, c);
}

static size_t
build_ip4_hdr(const struct spec *s, const struct addrs *a, uint8_t proto, size_t l4_len,
	      uint8_t *out)
{
	size_t ihl = 20 + 4 * (size_t)s->n_ext;
	unsigned frag = s->kind == K_LATER_FRAG ? 185 : s->first_frag_len ? 0x2000 : 0;

	memset(out, 0, ihl);
	out[0] = (uint8_t)(0x40 | ihl / 4);
	put16(out + 2, (unsigned)(ihl + l4_len));
	put16(out + 4, s->seed & 0xffff);
	put16(out + 6, frag);
	out[8] = 64;
	out[9] = proto;
	memcpy(out + 12, a->src, 4);
	memcpy(out + 16, a->dst, 4);
	memset(out + 20, 1, ihl - 20); /* NOP options */
	put16(out + 10, (uint16_t)~ref_fold(ref_add(0, out, ihl)));
	return ihl;
}

static size_t
build_ip6_hdr(const struct spec *s, const struct addrs *a, uint8_t proto, size_t l4_len,
	      uint8_t *out)
{
	bool frag = s->kind == K_LATER_FRAG || s->first_frag_len;
	size_t off = 40;
	uint8_t *nh = out + 6;

	memset(out, 0, 40);
	out[0] = 0x60;
	out[7] = 64;
	memcpy(out + 8, a->src, 16);
	memcpy(out + 24, a->dst, 16);
	for (int i = 0; i < s->n_ext; i++, off += 8) {
		*nh = P_DSTOPTS;
		nh = out + off;
		memset(out + off, 0, 8);
		out[off + 2] = 1; /* PadN */
		out[off + 3] = 4;
	}
	if (frag) {
		*nh = P_FRAG;
		nh = out + off;
		memset(out + off, 0, 8);
		put16(out + off + 2, s->kind == K_LATER_FRAG ? 185 << 3 : 1);
		put16(out + off + 6, s->seed & 0xffff);
		off += 8;
	}
	*nh = proto;
	put16(out + 4, (unsigned)(off - 40 + l4_len));
	return off;
}

static size_t
build(const struct spec *s, const struct addrs *a, uint8_t *out)
{
	uint8_t l4[BUF];
	uint8_t proto;
	int csum_off;
	size_t l4_len = build_l4(s, a, l4, &proto, &csum_off);
	size_t hl;

	if (csum_off >= 0)
		set_l4_csum(s, a, proto, l4, l4_len, csum_off);
	if (s->first_frag_len && s->first_frag_len < l4_len)
		l4_len = s->first_frag_len;
	hl = s->fam == 4 ? build_ip4_hdr(s, a, proto, l4_len, out)
			 : build_ip6_hdr(s, a, proto, l4_len, out);
	memcpy(out + hl, l4, l4_len);
	return hl + l4_len;
}

/*
 * A quote that ends inside a checksum field holds only its high byte, which cannot be adjusted
 * without the low one (carries): xlate leaves it, so the expectation keeps the input's byte and
 * its outer ICMP checksum is recomputed from scratch.
 */
static void
keep_half_csum(const struct spec *s, const uint8_t *in, uint8_t *want, size_t len)
{
	static const int csum_off[] = { [K_TCP] = 16, [K_UDP] = 6, [K_ECHO] = 2 };
	size_t outer_hl, quote_at, pos;
	uint64_t acc = 0;

	if (s->kind != K_ERROR || s->inner_kind > K_ECHO)
		return;
	outer_hl = s->fam == 4 ? 20 + 4 * (size_t)s->n_ext
			       : 40 + 8 * (size_t)s->n_ext + (s->first_frag_len ? 8 : 0);
	quote_at = outer_hl + 8;
	pos = quote_at +
	      (s->fam == 4 ? 20 + 4 * (size_t)s->inner_ext : 40 + 8 * (size_t)s->inner_ext) +
	      (size_t)csum_off[s->inner_kind];
	if (pos + 1 != len)
		return;
	want[pos] = in[pos];
	put16(want + outer_hl + 2, 0);
	if (s->fam == 6)
		acc = ref_pseudo(6, want + 8, want + 24, P_ICMP6, len - outer_hl);
	put16(want + outer_hl + 2,
	      (uint16_t)~ref_fold(ref_add(acc, want + outer_hl, len - outer_hl)));
}

/* Input as bob's kernel sent it and the expected result on alice's side. */
void
build_pair(const struct spec *s, const struct xlate_map *m, const uint8_t *peer_view_of_us,
	   uint8_t *in, size_t *in_len, uint8_t *want, size_t *want_len)
{
	bool v4 = s->fam == 4;
	struct addrs ain = {
		.src = v4 ? m->peer_self4 : m->peer_self6,
		.dst = peer_view_of_us,
		.qsrc = peer_view_of_us,
		.qdst = v4 ? m->peer_self4 : m->peer_self6,
	};
	struct addrs aout = {
		.src = v4 ? m->peer_view4 : m->peer_view6,
		.dst = v4 ? m->own4 : m->own6,
		.qsrc = v4 ? m->own4 : m->own6,
		.qdst = v4 ? m->peer_view4 : m->peer_view6,
	};

	*in_len = build(s, &ain, in);
	*want_len = build(s, &aout, want);
	keep_half_csum(s, in, want, *want_len);
}

/* ---- independent checker: recompute every checksum visible in a packet ---- */

static void
check_l4(int fam, const uint8_t *ip, uint8_t proto, const uint8_t *l4, size_t len, bool is_quote)
{
	size_t alen = fam == 4 ? 4 : 16;
	const uint8_t *src = ip + (fam == 4 ? 12 : 8), *dst = src + alen;
	uint64_t acc;

	if (proto != P_TCP && proto != P_UDP && proto != P_ICMP && proto != P_ICMP6)
		return;
	if (proto == P_UDP && get16(l4 + 6) == 0) {
		assert_int_equal(fam, 4);
		return;
	}
	acc = has_pseudo(proto) ? ref_pseudo(fam, src, dst, proto, len) : 0;
	assert_int_equal(ref_fold(ref_add(acc, l4, len)), 0xffff);
	if (!is_quote && (proto == P_ICMP || proto == P_ICMP6) &&
	    ((fam == 4 && (l4[0] == 3 || l4[0] == 4 || l4[0] == 5 || l4[0] == 11 || l4[0] == 12)) ||
	     (fam == 6 && l4[0] >= 1 && l4[0] <= 4)))
		check_packet(l4 + 8, len - 8, true);
}

/* A quote may be truncated: only what is complete can be checked from scratch. */
void
check_packet(const uint8_t *p, size_t len, bool is_quote)
{
	size_t hl, tot;
	uint8_t proto;

	if (p[0] >> 4 == 4) {
		hl = (p[0] & 0xfu) * 4;
		tot = get16(p + 2);
		proto = p[9];
		assert_int_equal(ref_fold(ref_add(0, p, hl)), 0xffff);
		if (get16(p + 6) & 0x3fff)
			return; /* a fragment: the upper-layer checksum spans several */
	} else {
		tot = 40 + get16(p + 4);
		proto = p[6];
		for (hl = 40; proto == P_DSTOPTS || proto == P_FRAG || proto == P_ROUTING ||
			      proto == P_HOPOPTS;) {
			if (hl + 8 > len || (proto == P_FRAG && get16(p + hl + 2) != 0))
				return;
			size_t step = proto == P_FRAG ? 8 : (p[hl + 1] + 1u) * 8;

			proto = p[hl];
			hl += step;
		}
	}
	if (!is_quote)
		assert_true(tot <= len);
	if (tot <= len)
		check_l4(p[0] >> 4, p, proto, p + hl, tot - hl, is_quote);
}
