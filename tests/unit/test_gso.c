// SPDX-License-Identifier: MIT
/*
 * Tests of TUN segmentation (dataplane/gso.c) and coalescing (dataplane/gro.c) against a naive
 * reference: every packet here is built from scratch by build(), byte by byte, with its
 * checksums summed by a loop of its own (not overlay/csum.c).
 *
 * Segmentation: a super-packet as the kernel hands it over (virtio-net header, partial
 * checksum, a hdr_len that means nothing) must come out as exactly the packets the reference
 * builds one by one (lengths, IPv4 ids, sequence numbers, FIN/PSH on the last, CWR on the
 * first, full checksums). Coalescing is checked by its defining property: whatever sequence
 * of packets goes in (in order, reordered, duplicated, several flows, PSH/FIN/SYN, bad
 * checksums), cutting each write back with gso_split gives, per flow, the input sequence
 * unchanged; and in-order runs do become one write. The inbound translation sits in between
 * (peer's addresses in, our view out), as in the daemon: xlate per segment, then coalescing.
 * Refused inputs are given to gso_split in heap buffers of their exact length, so ASan sees
 * any read past the end, and must emit nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <netinet/in.h>

#include "dataplane/gro.h"
#include "dataplane/gso.h"
#include "overlay/xlate.h"

enum { CAP = 1920, MAX_OUT = 4096, SUPER_MAX = 65535 + VNET_HDR_LEN };

static const struct xlate_map map = {
	.peer_self4 = { 100, 64, 0, 1 },
	.peer_view4 = { 100, 64, 0, 2 },
	.own4 = { 100, 64, 0, 1 },
	.peer_self6 = { 0xfd, 0x22, 0x22, 0x22, 0x22, 0x22, [15] = 1 },
	.peer_view6 = { 0xfd, 0x11, 0x11, 0x11, 0x11, 0x11, [15] = 2 },
	.own6 = { 0xfd, 0x11, 0x11, 0x11, 0x11, 0x11, [15] = 1 },
};

struct flow {
	int fam;
	bool udp;
	uint8_t src[16], dst[16];
	uint16_t sport, dport, win;
	uint32_t ack;
	uint8_t tos, ttl;
	uint8_t opts[40];
	size_t optlen;
};

/* ---- the naive reference ---- */

static uint32_t
ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i < len; i++)
		sum += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t
ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void
put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static size_t
ip_hlen(const struct flow *f)
{
	return f->fam == 4 ? 20 : 40;
}

static size_t
l4_hlen(const struct flow *f)
{
	return f->udp ? 8 : 20 + f->optlen;
}

static uint32_t
ref_pseudo(const struct flow *f, size_t l4_len)
{
	uint8_t ph[40] = { 0 };
	size_t alen = f->fam == 4 ? 4 : 16;

	memcpy(ph, f->src, alen);
	memcpy(ph + alen, f->dst, alen);
	put32(ph + 2 * alen, (uint32_t)l4_len);
	ph[2 * alen + 7] = f->udp ? IPPROTO_UDP : IPPROTO_TCP;
	return ref_sum(ph, 2 * alen + 8, 0);
}

/*
 * One packet of flow f. partial: the L4 checksum field holds the pseudo-header's sum (as in a
 * super-packet from the kernel) instead of the full checksum.
 */
static size_t
build(const struct flow *f, uint32_t seq, uint8_t flags, uint16_t id, const uint8_t *payload,
      size_t plen, bool partial, uint8_t *out)
{
	size_t ih = ip_hlen(f), lh = l4_hlen(f), l4_len = lh + plen;
	uint8_t *l4 = out + ih;
	uint16_t c;

	memset(out, 0, ih + lh);
	if (f->fam == 4) {
		out[0] = 0x45;
		out[1] = f->tos;
		put16(out + 2, (uint32_t)(ih + l4_len));
		put16(out + 4, id);
		out[6] = 0x40; /* DF */
		out[8] = f->ttl;
		out[9] = f->udp ? IPPROTO_UDP : IPPROTO_TCP;
		memcpy(out + 12, f->src, 4);
		memcpy(out + 16, f->dst, 4);
		put16(out + 10, (uint16_t)~ref_fold(ref_sum(out, 20, 0)));
	} else {
		out[0] = (uint8_t)(0x60 | f->tos >> 4);
		out[1] = (uint8_t)(f->tos << 4 | 0x5);
		out[2] = 0x12;
		out[3] = 0x34;
		put16(out + 4, (uint32_t)l4_len);
		out[6] = f->udp ? IPPROTO_UDP : IPPROTO_TCP;
		out[7] = f->ttl;
		memcpy(out + 8, f->src, 16);
		memcpy(out + 24, f->dst, 16);
	}
	put16(l4, f->sport);
	put16(l4 + 2, f->dport);
	if (f->udp) {
		put16(l4 + 4, (uint32_t)l4_len);
	} else {
		put32(l4 + 4, seq);
		put32(l4 + 8, f->ack);
		l4[12] = (uint8_t)(lh / 4 << 4);
		l4[13] = flags;
		put16(l4 + 14, f->win);
		memcpy(l4 + 20, f->opts, f->optlen);
	}
	memcpy(l4 + lh, payload, plen);
	if (partial) {
		c = ref_fold(ref_pseudo(f, l4_len));
	} else {
		c = (uint16_t)~ref_fold(ref_sum(l4, l4_len, ref_pseudo(f, l4_len)));
		if (f->udp && !c)
			c = 0xffff;
	}
	put16(l4 + (f->udp ? 6 : 16), c);
	return ih + l4_len;
}

/* The super-packet as TUN reads it: virtio-net header, then the packet with a partial sum. */
static size_t
build_super(const struct flow *f, uint32_t seq, uint8_t flags, uint16_t id, const uint8_t *pl,
	    size_t plen, uint16_t gso_size, uint8_t *out)
{
	struct vnet_hdr h = {
		.flags = VNET_F_NEEDS_CSUM,
		.gso_type = f->udp        ? VNET_GSO_UDP_L4
			    : f->fam == 4 ? VNET_GSO_TCPV4
					  : VNET_GSO_TCPV6,
		.hdr_len = 1234, /* tun reports the linear length; it must not matter */
		.gso_size = gso_size,
		.csum_start = (uint16_t)ip_hlen(f),
		.csum_offset = f->udp ? 6 : 16,
	};

	vnet_hdr_encode(&h, out);
	return VNET_HDR_LEN + build(f, seq, flags, id, pl, plen, true, out + VNET_HDR_LEN);
}

/* What the kernel would have sent without offloads: the reference segmentation. */
static unsigned
ref_segments(const struct flow *f, uint32_t seq, uint8_t flags, uint16_t id, const uint8_t *pl,
	     size_t plen, size_t gso_size, uint8_t **out, size_t *lens)
{
	unsigned n = 0;

	for (size_t off = 0; off < plen; off += gso_size, n++) {
		size_t seg = plen - off < gso_size ? plen - off : gso_size;
		uint8_t fl = flags;

		if (off + seg < plen)
			fl &= (uint8_t) ~(GSO_TCP_FIN | GSO_TCP_PSH);
		if (off)
			fl &= (uint8_t)~GSO_TCP_CWR;
		out[n] = malloc(CAP);
		lens[n] = build(f, seq + (uint32_t)off, fl, (uint16_t)(id + n), pl + off, seg,
				false, out[n]);
	}
	return n;
}

/* ---- a sink that keeps what gso_split emits ---- */

struct capture {
	uint8_t *bufs[MAX_OUT];
	size_t lens[MAX_OUT];
	unsigned n, limit;
};

static uint8_t *
cap_get(void *arg)
{
	struct capture *c = arg;

	if (c->n >= c->limit)
		return NULL;
	c->bufs[c->n] = malloc(CAP);
	return c->bufs[c->n];
}

static void
cap_put(void *arg, size_t len)
{
	struct capture *c = arg;

	c->lens[c->n++] = len;
}

static void
cap_free(struct capture *c)
{
	for (unsigned i = 0; i < c->n; i++)
		free(c->bufs[i]);
	if (c->n < c->limit)
		free(c->bufs[c->n]); /* a buffer taken but not put */
	memset(c, 0, sizeof(*c));
}

static enum gso_result
split(const uint8_t *in, size_t len, struct capture *c)
{
	const struct gso_sink s = { .get = cap_get, .put = cap_put, .cap = CAP, .arg = c };
	uint8_t *exact = malloc(len ? len : 1);
	enum gso_result r;
	unsigned nseg;

	memset(c, 0, sizeof(*c));
	c->limit = MAX_OUT;
	memcpy(exact, in, len);
	r = gso_split(exact, len, &s, &nseg);
	free(exact);
	assert_int_equal(nseg, c->n);
	return r;
}

/* ---- random flows ---- */

static uint32_t rng = 12345;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void
random_flow(struct flow *f, int fam, bool udp, bool translated)
{
	memset(f, 0, sizeof(*f));
	f->fam = fam;
	f->udp = udp;
	if (fam == 4) {
		memcpy(f->src, translated ? map.peer_view4 : map.peer_self4, 4);
		memcpy(f->dst, translated ? map.own4 : (const uint8_t[]){ 100, 64, 0, 9 }, 4);
	} else {
		memcpy(f->src, translated ? map.peer_view6 : map.peer_self6, 16);
		memcpy(f->dst, translated ? map.own6 : map.peer_view6, 16);
		if (!translated)
			f->dst[15] = 9;
	}
	f->sport = (uint16_t)rnd();
	f->dport = (uint16_t)rnd();
	f->win = (uint16_t)rnd();
	f->ack = rnd();
	f->tos = (uint8_t)(rnd() & 0xfc);
	f->ttl = (uint8_t)(1 + rnd() % 255);
	f->optlen = udp ? 0 : 4 * (rnd() % 11);
	for (size_t i = 0; i < f->optlen; i++)
		f->opts[i] = (uint8_t)rnd();
}

static void
random_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* ---- segmentation ---- */

static void
check_split(const struct flow *f, size_t plen, uint16_t gso_size, uint8_t flags)
{
	static uint8_t pl[65536], super[SUPER_MAX];
	uint8_t *want[MAX_OUT];
	size_t want_len[MAX_OUT], len;
	uint32_t seq = rnd();
	uint16_t id = (uint16_t)rnd();
	struct capture c;
	unsigned n;

	random_bytes(pl, plen);
	len = build_super(f, seq, flags, id, pl, plen, gso_size, super);
	n = ref_segments(f, seq, flags, id, pl, plen, gso_size, want, want_len);
	assert_int_equal(split(super, len, &c), GSO_OK);
	assert_int_equal(c.n, n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(c.lens[i], want_len[i]);
		assert_memory_equal(c.bufs[i], want[i], want_len[i]);
		free(want[i]);
	}
	cap_free(&c);
}

static void
test_gso_split_random_tcp(void **state)
{
	(void)state;
	for (int i = 0; i < 600; i++) {
		struct flow f;
		size_t hl, plen;
		uint16_t gso;
		uint8_t flags = GSO_TCP_ACK;

		random_flow(&f, i % 2 ? 6 : 4, false, false);
		hl = ip_hlen(&f) + l4_hlen(&f);
		gso = (uint16_t)(1 + rnd() % (CAP - hl));
		if (i % 3)
			gso = (uint16_t)(1420 - hl); /* the usual MSS */
		plen = 1 + rnd() % (65535 - hl);
		if ((plen + gso - 1) / gso > GSO_MAX_SEGS)
			plen = gso * (1 + rnd() % 40);
		if (plen > 65535 - hl)
			plen = 65535 - hl;
		if (rnd() % 2)
			flags |= GSO_TCP_PSH;
		if (rnd() % 4 == 0)
			flags |= GSO_TCP_FIN;
		if (rnd() % 4 == 0)
			flags |= GSO_TCP_CWR;
		check_split(&f, plen, gso, flags);
	}
}

static void
test_gso_split_random_udp(void **state)
{
	(void)state;
	for (int i = 0; i < 200; i++) {
		struct flow f;
		uint16_t gso = (uint16_t)(1 + rnd() % 1400);

		random_flow(&f, i % 2 ? 6 : 4, true, false);
		check_split(&f, 1 + rnd() % (gso * 40u), gso, 0);
	}
}

/* An exact multiple of gso_size, and a short last segment. */
static void
test_gso_split_last_segment(void **state)
{
	struct flow f;
	static uint8_t pl[8000], super[SUPER_MAX];
	struct capture c;
	size_t len;

	(void)state;
	random_flow(&f, 4, false, false);
	check_split(&f, 1380 * 4, 1380, GSO_TCP_ACK | GSO_TCP_PSH);
	check_split(&f, 1380 * 4 + 1, 1380, GSO_TCP_ACK | GSO_TCP_PSH | GSO_TCP_FIN);
	/* One segment's worth: one packet, identical to the reference one. */
	check_split(&f, 100, 1380, GSO_TCP_ACK);
	len = build_super(&f, 7, GSO_TCP_ACK, 1, pl, 1380 * 3 + 5, 1380, super);
	assert_int_equal(split(super, len, &c), GSO_OK);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.lens[3], 20 + 20 + f.optlen + 5);
	cap_free(&c);
}

/* Without GSO: passed whole, and NEEDS_CSUM gets its checksum completed. */
static void
test_gso_split_single(void **state)
{
	static uint8_t in[2000], want[2000], pl[1000];
	struct vnet_hdr h = { 0 };
	struct capture c;
	struct flow f;
	size_t len;

	(void)state;
	random_flow(&f, 6, true, false);
	random_bytes(pl, sizeof(pl));
	len = build(&f, 0, 0, 0, pl, 999, false, want);
	vnet_hdr_encode(&h, in);
	memcpy(in + VNET_HDR_LEN, want, len);
	assert_int_equal(split(in, VNET_HDR_LEN + len, &c), GSO_OK);
	assert_int_equal(c.n, 1);
	assert_memory_equal(c.bufs[0], want, len);
	cap_free(&c);

	h.flags = VNET_F_NEEDS_CSUM;
	h.csum_start = 40;
	h.csum_offset = 6;
	vnet_hdr_encode(&h, in);
	build(&f, 0, 0, 0, pl, 999, true, in + VNET_HDR_LEN);
	assert_int_equal(split(in, VNET_HDR_LEN + len, &c), GSO_OK);
	assert_int_equal(c.n, 1);
	assert_memory_equal(c.bufs[0], want, len);
	cap_free(&c);
}

static void
expect_refused(const uint8_t *in, size_t len, enum gso_result want)
{
	struct capture c;

	assert_int_equal(split(in, len, &c), want);
	assert_int_equal(c.n, 0);
	cap_free(&c);
}

/* Lying lengths and offsets, impossible sizes: refused whole, nothing emitted. */
static void
test_gso_split_bad_input(void **state)
{
	static uint8_t pl[20000], super[SUPER_MAX], bad[SUPER_MAX];
	struct flow f;
	struct vnet_hdr h;
	size_t len;

	(void)state;
	random_flow(&f, 4, false, false);
	len = build_super(&f, 1, GSO_TCP_ACK, 1, pl, 14000, 1000, super);
	expect_refused(super, 5, GSO_BAD_HEADER);
	expect_refused(super, VNET_HDR_LEN + 30, GSO_BAD_PACKET); /* truncated */
	/* IP total length above and below what is there. */
	memcpy(bad, super, len);
	put16(bad + VNET_HDR_LEN + 2, (uint32_t)(len - VNET_HDR_LEN + 1));
	expect_refused(bad, len, GSO_BAD_PACKET);
	put16(bad + VNET_HDR_LEN + 2, 30);
	expect_refused(bad, len, GSO_BAD_PACKET);
	/* TCP data offset below 5, and beyond the packet. */
	memcpy(bad, super, len);
	bad[VNET_HDR_LEN + 20 + 12] = 0x20;
	expect_refused(bad, len, GSO_BAD_PACKET);
	bad[VNET_HDR_LEN + 20 + 12] = 0xf0;
	put16(bad + VNET_HDR_LEN + 2, 70);
	expect_refused(bad, len, GSO_BAD_PACKET);
	/* A fragment. */
	memcpy(bad, super, len);
	bad[VNET_HDR_LEN + 6] |= 0x20;
	expect_refused(bad, len, GSO_BAD_PACKET);
	/* Header fields that lie. */
	vnet_hdr_decode(super, len, &h);
	h.csum_start = 24;
	memcpy(bad, super, len);
	vnet_hdr_encode(&h, bad);
	expect_refused(bad, len, GSO_BAD_HEADER);
	vnet_hdr_decode(super, len, &h);
	h.flags = 0;
	vnet_hdr_encode(&h, bad);
	expect_refused(bad, len, GSO_BAD_HEADER);
	vnet_hdr_decode(super, len, &h);
	h.gso_type = VNET_GSO_TCPV6; /* an IPv4 packet */
	vnet_hdr_encode(&h, bad);
	expect_refused(bad, len, GSO_BAD_PACKET);
	h.gso_type = 3; /* UFO: never enabled */
	vnet_hdr_encode(&h, bad);
	expect_refused(bad, len, GSO_BAD_HEADER);
	/* Impossible segment sizes: zero, larger than a buffer, too many segments. */
	vnet_hdr_decode(super, len, &h);
	h.gso_size = 0;
	vnet_hdr_encode(&h, bad);
	expect_refused(bad, len, GSO_BAD_GSO);
	h.gso_size = CAP;
	vnet_hdr_encode(&h, bad);
	expect_refused(bad, len, GSO_BAD_GSO);
	h.gso_size = 13;
	vnet_hdr_encode(&h, bad);
	expect_refused(bad, len, GSO_BAD_GSO);
	/* A GSO packet without payload; a single packet larger than a buffer. */
	len = build_super(&f, 1, GSO_TCP_ACK, 1, pl, 0, 1000, super);
	expect_refused(super, len, GSO_BAD_GSO);
	memset(&h, 0, sizeof(h));
	vnet_hdr_encode(&h, bad);
	expect_refused(bad, VNET_HDR_LEN + CAP + 1, GSO_BAD_PACKET);
	h.flags = VNET_F_NEEDS_CSUM;
	h.csum_start = 100;
	h.csum_offset = 6;
	vnet_hdr_encode(&h, bad);
	expect_refused(bad, VNET_HDR_LEN + 107, GSO_BAD_HEADER);
}

/* The sink running dry stops the cut; what was emitted is right. */
static void
test_gso_split_no_buffer(void **state)
{
	const struct gso_sink s = { .get = cap_get, .put = cap_put, .cap = CAP };
	static uint8_t pl[10000], super[SUPER_MAX];
	struct gso_sink sink = s;
	struct capture c = { .limit = 3 };
	struct flow f;
	unsigned nseg;
	size_t len;

	(void)state;
	sink.arg = &c;
	random_flow(&f, 6, false, false);
	len = build_super(&f, 1, GSO_TCP_ACK, 1, pl, 10000, 1000, super);
	assert_int_equal(gso_split(super, len, &sink, &nseg), GSO_NO_BUFFER);
	assert_int_equal(nseg, 3);
	cap_free(&c);
}

/* ---- coalescing ---- */

struct written {
	uint8_t *bufs[MAX_OUT];
	size_t lens[MAX_OUT];
	unsigned n;
};

static int
gro_write(void *arg, const uint8_t *vnet, const uint8_t *pkt, size_t len)
{
	struct written *w = arg;

	assert_true(w->n < MAX_OUT);
	w->bufs[w->n] = malloc(VNET_HDR_LEN + len);
	memcpy(w->bufs[w->n], vnet, VNET_HDR_LEN);
	memcpy(w->bufs[w->n] + VNET_HDR_LEN, pkt, len);
	w->lens[w->n++] = VNET_HDR_LEN + len;
	return 0;
}

/*
 * A super-packet's header and checksum field as the kernel expects them: NEEDS_CSUM from the
 * TCP header, and a field holding the pseudo-header's sum, so that finishing the checksum as a
 * device would (sum from csum_start, complement, store) gives a valid one. Local delivery
 * trusts CHECKSUM_PARTIAL without looking, so only this check catches a wrong field; it would
 * show when the kernel forwards the packet and segments it.
 */
static void
check_super(const uint8_t *w, size_t len)
{
	struct vnet_hdr h;
	size_t ih = w[VNET_HDR_LEN] >> 4 == 4 ? 20 : 40, l4_len = len - VNET_HDR_LEN - ih;
	uint8_t *p = malloc(len);
	uint8_t *l4 = p + VNET_HDR_LEN + ih;
	struct flow f = { .fam = ih == 20 ? 4 : 6 };

	memcpy(p, w, len);
	assert_true(vnet_hdr_decode(p, len, &h));
	assert_int_equal(h.flags, VNET_F_NEEDS_CSUM);
	assert_int_equal(h.gso_type, f.fam == 4 ? VNET_GSO_TCPV4 : VNET_GSO_TCPV6);
	assert_int_equal(h.csum_start, ih);
	assert_int_equal(h.csum_offset, 16);
	assert_int_equal(h.hdr_len, ih + (l4[12] >> 4) * 4);
	memcpy(f.src, p + VNET_HDR_LEN + (ih == 20 ? 12 : 8), f.fam == 4 ? 4 : 16);
	memcpy(f.dst, p + VNET_HDR_LEN + (ih == 20 ? 16 : 24), f.fam == 4 ? 4 : 16);
	assert_int_equal((l4[16] << 8 | l4[17]), ref_fold(ref_pseudo(&f, l4_len)));
	put16(l4 + 16, (uint16_t)~ref_fold(ref_sum(l4, l4_len, 0)));
	assert_int_equal(ref_fold(ref_sum(l4, l4_len, ref_pseudo(&f, l4_len))), 0xffff);
	if (f.fam == 4)
		assert_int_equal(ref_fold(ref_sum(p + VNET_HDR_LEN, 20, 0)), 0xffff);
	free(p);
}

/* What the kernel sees: each write cut back into the packets it stands for. */
static unsigned
reseg(struct written *w, uint8_t **out, size_t *lens)
{
	unsigned n = 0;

	for (unsigned i = 0; i < w->n; i++) {
		struct capture c;

		if (w->bufs[i][1] != VNET_GSO_NONE)
			check_super(w->bufs[i], w->lens[i]);

		assert_int_equal(split(w->bufs[i], w->lens[i], &c), GSO_OK);
		for (unsigned j = 0; j < c.n; j++) {
			out[n] = c.bufs[j];
			lens[n++] = c.lens[j];
		}
		free(w->bufs[i]);
	}
	w->n = 0;
	return n;
}

static uint32_t
flow_key(const uint8_t *p)
{
	size_t off = p[0] >> 4 == 4 ? 20 : 40;

	return (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 | p[off + 2] << 8 | p[off + 3];
}

/*
 * Feeds pkts (translated one by one first, as the data plane does) through the coalescer and
 * checks that, per flow, the kernel receives exactly want, in order. Returns the writes made.
 */
static unsigned
check_gro(uint8_t **pkts, size_t *lens, unsigned n, uint8_t **want, size_t *want_len,
	  unsigned *super)
{
	static uint8_t *got[MAX_OUT];
	static size_t got_len[MAX_OUT];
	struct written w = { 0 };
	const struct gro_sink sink = { .write = gro_write, .arg = &w };
	struct gro *g;
	unsigned ngot, writes;

	assert_int_equal(gro_new(&g, &sink), 0);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *exact = malloc(lens[i]);

		memcpy(exact, pkts[i], lens[i]);
		assert_int_equal(xlate_inbound(exact, lens[i], &map), XLATE_OK);
		gro_add(g, exact, lens[i]);
		free(exact);
	}
	gro_flush(g);
	writes = w.n;
	*super = (unsigned)gro_count(g, GRO_SUPER_WRITTEN);
	assert_int_equal(gro_count(g, GRO_SUPER_WRITTEN) + gro_count(g, GRO_SINGLE_WRITTEN),
			 writes);
	ngot = reseg(&w, got, got_len);
	assert_int_equal(ngot, n);
	/* Per flow (the source port tells them apart here), the same packets in the same order. */
	for (unsigned i = 0, j; i < n; i++) {
		for (j = 0; j < ngot && !(got[j] && flow_key(got[j]) == flow_key(want[i])); j++)
			;
		assert_true(j < ngot);
		assert_int_equal(got_len[j], want_len[i]);
		assert_memory_equal(got[j], want[i], want_len[i]);
		free(got[j]);
		got[j] = NULL;
	}
	gro_free(g);
	return writes;
}

struct run {
	struct flow f, ft; /* as sent, and as translated */
	uint32_t seq;
	uint16_t id;
	uint8_t pl[65536];
};

static void
run_new(struct run *r, int fam)
{
	random_flow(&r->f, fam, false, false);
	r->ft = r->f;
	random_flow(&r->ft, fam, false, true);
	r->ft.sport = r->f.sport;
	r->ft.dport = r->f.dport;
	r->ft.win = r->f.win;
	r->ft.ack = r->f.ack;
	r->ft.tos = r->f.tos;
	r->ft.ttl = r->f.ttl;
	r->ft.optlen = r->f.optlen;
	memcpy(r->ft.opts, r->f.opts, sizeof(r->f.opts));
	r->seq = rnd();
	r->id = (uint16_t)rnd();
	random_bytes(r->pl, sizeof(r->pl));
}

/* Segment k of a run, sent (a) and as our kernel must see it (b). */
static void
run_seg(struct run *r, unsigned k, size_t mss, size_t plen, uint8_t flags, uint8_t **a,
	size_t *alen, uint8_t **b, size_t *blen)
{
	*a = malloc(CAP);
	*b = malloc(CAP);
	*alen = build(&r->f, r->seq + (uint32_t)(k * mss), flags, (uint16_t)(r->id + k),
		      r->pl + k * mss % 60000, plen, false, *a);
	*blen = build(&r->ft, r->seq + (uint32_t)(k * mss), flags, (uint16_t)(r->id + k),
		      r->pl + k * mss % 60000, plen, false, *b);
}

static void
free_all(uint8_t **p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(p[i]);
}

/* In order, one flow: one write per 64 segments, the last one short. */
static void
test_gro_in_order(void **state)
{
	static struct run r;
	uint8_t *a[80], *b[80];
	size_t alen[80], blen[80];
	unsigned super;

	(void)state;
	for (int fam = 4; fam <= 6; fam += 2) {
		size_t mss = 1420 - (fam == 4 ? 20 : 40) - 20 - 12;

		run_new(&r, fam);
		r.f.optlen = r.ft.optlen = 12;
		for (unsigned k = 0; k < 40; k++)
			run_seg(&r, k, mss, k == 39 ? 100 : mss,
				GSO_TCP_ACK | (k == 39 ? GSO_TCP_PSH : 0), &a[k], &alen[k], &b[k],
				&blen[k]);
		assert_int_equal(check_gro(a, alen, 40, b, blen, &super), 1);
		assert_int_equal(super, 1);
		free_all(a, 40);
		free_all(b, 40);
	}
}

/* Out of order, duplicated, or after a gap: never merged across. */
static void
test_gro_out_of_order(void **state)
{
	static struct run r;
	static const unsigned order[] = { 0, 2, 1, 3, 3, 4, 6 };
	uint8_t *a[8], *b[8];
	size_t alen[8], blen[8];
	unsigned super, writes;

	(void)state;
	run_new(&r, 4);
	for (unsigned i = 0; i < 7; i++)
		run_seg(&r, order[i], 1000, 1000, GSO_TCP_ACK, &a[i], &alen[i], &b[i], &blen[i]);
	/* 0 | 2 | 1 | 3 | 3,4 | 6: the duplicate 3 starts anew and 4 follows it. */
	writes = check_gro(a, alen, 7, b, blen, &super);
	assert_int_equal(writes, 6);
	assert_int_equal(super, 1);
	free_all(a, 7);
	free_all(b, 7);
}

/* Flags, a changed ack or window, a longer segment, a bad checksum: not merged. */
static void
test_gro_mismatch(void **state)
{
	static struct run r;
	uint8_t *a[16], *b[16];
	size_t alen[16], blen[16];
	unsigned super, n = 0;

	(void)state;
	run_new(&r, 6);
	run_seg(&r, 0, 1000, 1000, GSO_TCP_ACK, &a[n], &alen[n], &b[n], &blen[n]), n++;
	run_seg(&r, 1, 1000, 1000, GSO_TCP_ACK | GSO_TCP_ECE, &a[n], &alen[n], &b[n], &blen[n]),
	    n++;
	run_seg(&r, 2, 1000, 1000, GSO_TCP_ACK, &a[n], &alen[n], &b[n], &blen[n]), n++;
	r.f.ack++, r.ft.ack++;
	run_seg(&r, 3, 1000, 1000, GSO_TCP_ACK, &a[n], &alen[n], &b[n], &blen[n]), n++;
	r.f.win++, r.ft.win++;
	run_seg(&r, 4, 1000, 1000, GSO_TCP_ACK, &a[n], &alen[n], &b[n], &blen[n]), n++;
	run_seg(&r, 5, 1000, 500, GSO_TCP_ACK, &a[n], &alen[n], &b[n], &blen[n]), n++;
	run_seg(&r, 6, 1000, 1000, GSO_TCP_ACK, &a[n], &alen[n], &b[n], &blen[n]), n++;
	/* A bad checksum, the data changed after the checksum was made. */
	run_seg(&r, 7, 1000, 1000, GSO_TCP_ACK, &a[n], &alen[n], &b[n], &blen[n]);
	a[n][alen[n] - 1] ^= 1;
	b[n][blen[n] - 1] ^= 1;
	n++;
	run_seg(&r, 8, 1000, 1000, GSO_TCP_ACK | GSO_TCP_FIN, &a[n], &alen[n], &b[n], &blen[n]),
	    n++;
	/* 0 | 1 | 2 | 3 | 4,5 | 6 | 7 | 8. */
	assert_int_equal(check_gro(a, alen, n, b, blen, &super), 8);
	assert_int_equal(super, 1);
	free_all(a, n);
	free_all(b, n);
}

/* Random mixes of flows, orders, sizes and flags: always transparent. */
static void
test_gro_random(void **state)
{
	static struct run runs[4];
	static uint8_t *a[600], *b[600];
	static size_t alen[600], blen[600];
	unsigned super, next[4] = { 0 };

	(void)state;
	for (int iter = 0; iter < 40; iter++) {
		unsigned n = 0, nr = 1 + rnd() % 4;

		for (unsigned i = 0; i < nr; i++) {
			run_new(&runs[i], rnd() % 2 ? 4 : 6);
			next[i] = 0;
		}
		while (n < 200 + rnd() % 300) {
			unsigned i = rnd() % nr, k = next[i]++, x = rnd() % 100;
			uint8_t flags = GSO_TCP_ACK;
			size_t plen = 1200;

			if (x < 5)
				k = k ? k - 1 : 0; /* a duplicate */
			else if (x < 10)
				k += 2, next[i] += 2; /* a gap */
			else if (x < 15)
				flags |= GSO_TCP_PSH;
			else if (x < 17)
				flags |= GSO_TCP_FIN;
			else if (x < 20)
				plen = 1 + rnd() % 1200;
			else if (x < 21)
				plen = 0;
			run_seg(&runs[i], k, 1200, plen, flags, &a[n], &alen[n], &b[n], &blen[n]);
			n++;
		}
		check_gro(a, alen, n, b, blen, &super);
		assert_true(super > 0);
		free_all(a, n);
		free_all(b, n);
	}
}

/* More flows than slots: the oldest is written, nothing lost or merged wrongly. */
static void
test_gro_many_flows(void **state)
{
	static struct run runs[GRO_FLOWS + 3];
	static uint8_t *a[200], *b[200];
	static size_t alen[200], blen[200];
	unsigned n = 0, super;

	(void)state;
	for (unsigned i = 0; i < GRO_FLOWS + 3; i++)
		run_new(&runs[i], 4);
	for (unsigned k = 0; k < 6; k++)
		for (unsigned i = 0; i < GRO_FLOWS + 3; i++, n++)
			run_seg(&runs[i], k, 1000, 1000, GSO_TCP_ACK, &a[n], &alen[n], &b[n],
				&blen[n]);
	check_gro(a, alen, n, b, blen, &super);
	free_all(a, n);
	free_all(b, n);
}

/* Not TCP, or not even IP: written alone, untouched. */
static void
test_gro_other(void **state)
{
	uint8_t junk[3] = { 0x45, 1, 2 }, udp[200];
	struct written w = { 0 };
	const struct gro_sink sink = { .write = gro_write, .arg = &w };
	struct gro *g;
	struct flow f;
	size_t len;

	(void)state;
	random_flow(&f, 4, true, true);
	len = build(&f, 0, 0, 0, junk, 3, false, udp);
	assert_int_equal(gro_new(&g, &sink), 0);
	gro_add(g, junk, sizeof(junk));
	gro_add(g, udp, len);
	assert_int_equal(w.n, 2);
	assert_memory_equal(w.bufs[0] + VNET_HDR_LEN, junk, 3);
	assert_memory_equal(w.bufs[1] + VNET_HDR_LEN, udp, len);
	for (unsigned i = 0; i < w.n; i++) {
		for (unsigned j = 0; j < VNET_HDR_LEN; j++)
			assert_int_equal(w.bufs[i][j], 0);
		free(w.bufs[i]);
	}
	gro_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gso_split_random_tcp),
		cmocka_unit_test(test_gso_split_random_udp),
		cmocka_unit_test(test_gso_split_last_segment),
		cmocka_unit_test(test_gso_split_single),
		cmocka_unit_test(test_gso_split_bad_input),
		cmocka_unit_test(test_gso_split_no_buffer),
		cmocka_unit_test(test_gro_in_order),
		cmocka_unit_test(test_gro_out_of_order),
		cmocka_unit_test(test_gro_mismatch),
		cmocka_unit_test(test_gro_random),
		cmocka_unit_test(test_gro_many_flows),
		cmocka_unit_test(test_gro_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
