/* SPDX-License-Identifier: MIT */
/*
 * Tests for edge translation (daemon/overlay/xlate.c).
 *
 * The reference is deliberately naive (support/xlate_ref.c): packets are built with every
 * checksum computed from scratch, byte by byte. A translated packet must then equal, byte for byte,
 * the same packet built from scratch with the translated addresses (outer src -> peer_view, dst ->
 * own; quoted src -> own, quoted dst -> peer_view), and an independent checker recomputes every
 * checksum it can see. Refused packets must come back untouched. Truncation tests hand
 * xlate_inbound heap buffers of the exact length so that ASan catches any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "overlay/xlate.h"
#include "xlate_ref.h"

/*
 * The worked example of docs/overlay-addressing.md, seen from alice receiving from bob: bob's own
 * address is 100.64.0.1 (fd22:2222:2222::1), alice views bob as 100.64.0.2 (fd11:1111:1111::2),
 * alice's own is 100.64.0.1 (fd11:1111:1111::1), and bob views alice as 100.64.0.7
 * (fd22:2222:2222::7).
 */
static const struct xlate_map alice_map = {
	.peer_self4 = { 100, 64, 0, 1 },
	.peer_view4 = { 100, 64, 0, 2 },
	.own4 = { 100, 64, 0, 1 },
	.peer_self6 = { 0xfd, 0x22, 0x22, 0x22, 0x22, 0x22, [15] = 1 },
	.peer_view6 = { 0xfd, 0x11, 0x11, 0x11, 0x11, 0x11, [15] = 2 },
	.own6 = { 0xfd, 0x11, 0x11, 0x11, 0x11, 0x11, [15] = 1 },
};
static const uint8_t bob_view_of_alice4[4] = { 100, 64, 0, 7 };
static const uint8_t bob_view_of_alice6[16] = { 0xfd, 0x22, 0x22, 0x22, 0x22, 0x22, [15] = 7 };

/* ---- helpers ---- */

/* The shortest quote that still holds the quoted IP header. */
static size_t
quote_min(const struct spec *s)
{
	return s->fam == 4 ? 20 + 4 * (size_t)s->inner_ext : 40;
}

/* Translate in a heap copy of the exact length, so ASan sees any access past the end. */
static enum xlate_result
xlate_exact(uint8_t *pkt, size_t len, const struct xlate_map *m)
{
	uint8_t *exact = malloc(len ? len : 1);
	enum xlate_result res;

	memcpy(exact, pkt, len);
	res = xlate_inbound(exact, len, m);
	memcpy(pkt, exact, len);
	free(exact);
	return res;
}

static void
expect_ok(const struct spec *s, const uint8_t *peer_view_of_us)
{
	uint8_t in[BUF], want[BUF];
	size_t in_len, want_len;

	build_pair(s, &alice_map, peer_view_of_us, in, &in_len, want, &want_len);
	assert_int_equal(in_len, want_len);
	if (s->kind != K_LATER_FRAG && !s->first_frag_len)
		check_packet(in, in_len, false);
	assert_int_equal(xlate_inbound(in, in_len, &alice_map), XLATE_OK);
	assert_memory_equal(in, want, want_len);
	if (s->kind != K_LATER_FRAG && !s->first_frag_len)
		check_packet(in, in_len, false);
}

static void
expect_refused(uint8_t *pkt, size_t len, enum xlate_result want)
{
	uint8_t *copy = malloc(len ? len : 1);
	uint8_t *exact = malloc(len ? len : 1);

	memcpy(copy, pkt, len);
	memcpy(exact, pkt, len);
	assert_int_equal(xlate_inbound(exact, len, &alice_map), want);
	if (len)
		assert_memory_equal(exact, copy, len);
	free(exact);
	free(copy);
}

static void
assert_addrs4(const uint8_t *ip, const uint8_t *src, const uint8_t *dst)
{
	assert_memory_equal(ip + 12, src, 4);
	assert_memory_equal(ip + 16, dst, 4);
}

static void
assert_addrs6(const uint8_t *ip, const uint8_t *src, const uint8_t *dst)
{
	assert_memory_equal(ip + 8, src, 16);
	assert_memory_equal(ip + 24, dst, 16);
}

/* Translate one packet of the worked example and check addresses and checksums. */
static size_t
run_example(const struct spec *s, uint8_t *out)
{
	uint8_t want[BUF];
	size_t len, want_len;

	build_pair(s, &alice_map, s->fam == 4 ? bob_view_of_alice4 : bob_view_of_alice6, out, &len,
		   want, &want_len);
	check_packet(out, len, false);
	assert_int_equal(xlate_inbound(out, len, &alice_map), XLATE_OK);
	check_packet(out, len, false);
	assert_memory_equal(out, want, len);
	if (s->fam == 4)
		assert_addrs4(out, alice_map.peer_view4, alice_map.own4);
	else
		assert_addrs6(out, alice_map.peer_view6, alice_map.own6);
	return len;
}

/* ---- fixed cases ---- */

static void
test_xlate_inbound_ip4_tcp(void **state)
{
	struct spec s = { .fam = 4, .kind = K_TCP, .payload_len = 100, .seed = 1 };
	uint8_t p[BUF];

	run_example(&s, p);
}

static void
test_xlate_inbound_ip4_udp(void **state)
{
	struct spec s = { .fam = 4, .kind = K_UDP, .payload_len = 33, .seed = 2 };
	uint8_t p[BUF];

	run_example(&s, p);
}

static void
test_xlate_inbound_ip4_udp_zero_csum(void **state)
{
	struct spec s = { .fam = 4, .kind = K_UDP, .payload_len = 12, .udp_no_csum = true };
	uint8_t p[BUF];

	run_example(&s, p);
	assert_int_equal(get16(p + 20 + 6), 0);
}

static void
test_xlate_inbound_ip4_echo(void **state)
{
	struct spec s = { .fam = 4, .kind = K_ECHO, .payload_len = 56, .seed = 3 };
	uint8_t p[BUF];

	run_example(&s, p);
}

static void
test_xlate_inbound_ip4_options(void **state)
{
	struct spec s = { .fam = 4, .kind = K_TCP, .payload_len = 9, .n_ext = 3, .seed = 4 };
	uint8_t p[BUF];

	run_example(&s, p);
}

static void
test_xlate_inbound_ip4_frag_needed_tcp(void **state)
{
	/* Linux quotes as much as fits in 576 bytes: the whole segment here. */
	struct spec s = { .fam = 4,
			  .kind = K_ERROR,
			  .inner_kind = K_TCP,
			  .inner_payload_len = 200,
			  .quote_len = SIZE_MAX,
			  .seed = 5 };
	uint8_t p[BUF];

	run_example(&s, p);
	assert_addrs4(p + 28, alice_map.own4, alice_map.peer_view4);
	assert_int_equal(p[20], 3);
	assert_int_equal(p[21], 4);
}

static void
test_xlate_inbound_ip4_frag_needed_tcp_short_quote(void **state)
{
	/* RFC 792's minimum, IP header + 8 bytes: the TCP checksum is not in the quote. */
	struct spec s = { .fam = 4,
			  .kind = K_ERROR,
			  .inner_kind = K_TCP,
			  .inner_payload_len = 200,
			  .quote_len = 28,
			  .seed = 6 };
	uint8_t p[BUF];

	assert_int_equal(run_example(&s, p), 20 + 8 + 28);
	assert_addrs4(p + 28, alice_map.own4, alice_map.peer_view4);
}

static void
test_xlate_inbound_ip4_frag_needed_udp(void **state)
{
	/* IP header + 8 bytes holds the whole UDP header, checksum included. */
	struct spec s = { .fam = 4,
			  .kind = K_ERROR,
			  .inner_kind = K_UDP,
			  .inner_payload_len = 1000,
			  .quote_len = 28,
			  .seed = 7 };
	uint8_t p[BUF];

	run_example(&s, p);
	assert_addrs4(p + 28, alice_map.own4, alice_map.peer_view4);
	s.quote_len = SIZE_MAX;
	run_example(&s, p);
}

static void
test_xlate_inbound_ip4_first_fragment(void **state)
{
	struct spec s = {
		.fam = 4, .kind = K_UDP, .payload_len = 3000, .first_frag_len = 1480, .seed = 8
	};

	expect_ok(&s, bob_view_of_alice4);
	s.kind = K_TCP;
	expect_ok(&s, bob_view_of_alice4);
}

static void
test_xlate_inbound_ip4_later_fragment(void **state)
{
	struct spec s = { .fam = 4, .kind = K_LATER_FRAG, .payload_len = 777, .seed = 9 };

	/* Only the IP header may change: expect_ok compares every other byte too. */
	expect_ok(&s, bob_view_of_alice4);
	s.payload_len = 0;
	expect_ok(&s, bob_view_of_alice4);
}

static void
test_xlate_inbound_ip6_tcp(void **state)
{
	struct spec s = { .fam = 6, .kind = K_TCP, .payload_len = 1200, .seed = 10 };
	uint8_t p[BUF];

	run_example(&s, p);
}

static void
test_xlate_inbound_ip6_udp(void **state)
{
	struct spec s = { .fam = 6, .kind = K_UDP, .payload_len = 7, .seed = 11 };
	uint8_t p[BUF];

	run_example(&s, p);
}

static void
test_xlate_inbound_ip6_udp_zero_csum_kept(void **state)
{
	struct spec s = { .fam = 6, .kind = K_UDP, .payload_len = 7, .seed = 11 };
	uint8_t p[BUF], want[BUF];
	size_t len, want_len;

	/* Invalid on IPv6; we leave it for the kernel to drop. */
	build_pair(&s, &alice_map, bob_view_of_alice6, p, &len, want, &want_len);
	put16(p + 46, 0);
	assert_int_equal(xlate_inbound(p, len, &alice_map), XLATE_OK);
	assert_int_equal(get16(p + 46), 0);
	assert_addrs6(p, alice_map.peer_view6, alice_map.own6);
}

static void
test_xlate_inbound_ip6_echo(void **state)
{
	struct spec s = { .fam = 6, .kind = K_ECHO, .payload_len = 56, .seed = 12 };
	uint8_t p[BUF];

	run_example(&s, p);
}

static void
test_xlate_inbound_ip6_ext_headers(void **state)
{
	struct spec s = { .fam = 6, .kind = K_TCP, .payload_len = 40, .n_ext = 3, .seed = 13 };
	uint8_t p[BUF];

	run_example(&s, p);
	s.first_frag_len = 24;
	expect_ok(&s, bob_view_of_alice6);
	s.kind = K_LATER_FRAG;
	expect_ok(&s, bob_view_of_alice6);
}

static void
test_xlate_inbound_ip6_packet_too_big_tcp(void **state)
{
	struct spec s = { .fam = 6,
			  .kind = K_ERROR,
			  .inner_kind = K_TCP,
			  .inner_payload_len = 1400,
			  .quote_len = 1232, /* minimum MTU minus outer headers */
			  .inner_ext = 1,
			  .seed = 14 };
	uint8_t p[BUF];

	run_example(&s, p);
	assert_int_equal(p[40], 2);
	assert_addrs6(p + 48, alice_map.own6, alice_map.peer_view6);
	s.inner_payload_len = 100;
	s.quote_len = SIZE_MAX;
	run_example(&s, p);
	assert_addrs6(p + 48, alice_map.own6, alice_map.peer_view6);
}

static void
test_xlate_inbound_ip6_error_quoting_echo(void **state)
{
	struct spec s = { .fam = 6,
			  .kind = K_ERROR,
			  .inner_kind = K_ECHO,
			  .inner_payload_len = 64,
			  .quote_len = SIZE_MAX,
			  .seed = 15 };
	uint8_t p[BUF];

	run_example(&s, p);
	s.fam = 4;
	run_example(&s, p);
}

/* Quotes cut at every length, above all across the quoted checksum fields. */
static void
test_xlate_inbound_quote_every_length(void **state)
{
	static const enum kind inner[] = { K_TCP, K_UDP, K_ECHO, K_LATER_FRAG };
	uint8_t in[BUF], want[BUF];
	size_t in_len, want_len;

	for (int fam = 4; fam <= 6; fam += 2) {
		for (size_t k = 0; k < sizeof(inner) / sizeof(inner[0]); k++) {
			struct spec s = { .fam = fam,
					  .kind = K_ERROR,
					  .inner_kind = inner[k],
					  .inner_payload_len = 24,
					  .inner_ext = 1,
					  .seed = 40 + (uint32_t)k };

			for (s.quote_len = quote_min(&s); s.quote_len < 120; s.quote_len++) {
				build_pair(&s, &alice_map,
					   fam == 4 ? bob_view_of_alice4 : bob_view_of_alice6, in,
					   &in_len, want, &want_len);
				assert_int_equal(xlate_exact(in, in_len, &alice_map), XLATE_OK);
				assert_memory_equal(in, want, want_len);
				check_packet(in, in_len, false);
			}
		}
	}
}

/* Recompute the UDP checksum of a packet without extension headers from scratch. */
static void
reset_udp_csum(uint8_t *p)
{
	int fam = p[0] >> 4;
	size_t hl = fam == 4 ? 20 : 40, len = fam == 4 ? get16(p + 2) - hl : get16(p + 4);
	const uint8_t *src = p + (fam == 4 ? 12 : 8);
	uint64_t acc = ref_pseudo(fam, src, src + (fam == 4 ? 4 : 16), P_UDP, len);
	uint16_t c;

	put16(p + hl + 6, 0);
	c = (uint16_t)~ref_fold(ref_add(acc, p + hl, len));
	put16(p + hl + 6, c ? c : 0xffff);
}

/* A UDP checksum that comes out as zero must be sent as 0xffff (RFC 768, RFC 8200 §8.1). */
static void
test_xlate_inbound_udp_csum_becomes_zero(void **state)
{
	uint8_t in[BUF], want[BUF];
	size_t in_len, want_len, hl;

	for (int fam = 4; fam <= 6; fam += 2) {
		struct spec s = { .fam = fam, .kind = K_UDP, .payload_len = 16, .seed = 50 };
		uint8_t *w;
		uint16_t c;

		build_pair(&s, &alice_map, fam == 4 ? bob_view_of_alice4 : bob_view_of_alice6, in,
			   &in_len, want, &want_len);
		hl = fam == 4 ? 20 : 40;
		/* Tune the last payload word so the translated data sums to 0xffff. */
		w = want + want_len - 2;
		c = (uint16_t)get16(want + hl + 6); /* ~sum of the rest */
		put16(w, (unsigned)ref_fold((uint64_t)get16(w) + c));
		reset_udp_csum(want);
		assert_int_equal(get16(want + hl + 6), 0xffff);
		memcpy(in + in_len - 2, w, 2);
		reset_udp_csum(in);
		assert_int_equal(xlate_exact(in, in_len, &alice_map), XLATE_OK);
		assert_memory_equal(in, want, want_len);
	}
}

/* ---- seeded random cases against the from-scratch reference ---- */

static void
random_spec(struct spec *s, uint32_t *r)
{
	memset(s, 0, sizeof(*s));
	s->fam = rnd(r) % 2 ? 4 : 6;
	s->kind = (enum kind)(rnd(r) % K_COUNT);
	s->inner_kind = (enum kind)(rnd(r) % 4);
	if (s->inner_kind == K_ERROR) /* no errors about errors: a quoted later fragment instead */
		s->inner_kind = K_LATER_FRAG;
	s->payload_len = rnd(r) % 1400;
	s->inner_payload_len = rnd(r) % 600;
	s->quote_len = rnd(r) % 2 ? SIZE_MAX : rnd(r) % 700;
	s->n_ext = (int)(rnd(r) % 3);
	s->inner_ext = (int)(rnd(r) % 3);
	s->udp_no_csum = s->fam == 4 && rnd(r) % 8 == 0;
	s->seed = rnd(r) | 1;
	if (s->fam == 4) {
		static const uint8_t types4[] = { 3, 4, 5, 11, 12 };

		s->err_type = types4[rnd(r) % sizeof(types4)];
	} else {
		s->err_type = (uint8_t)(1 + rnd(r) % 4);
	}
	/* First fragments carry a multiple of 8 bytes, at least the upper-layer header. */
	if (s->kind <= K_ECHO && rnd(r) % 5 == 0 && s->payload_len > 64)
		s->first_frag_len = 24 + 8 * (rnd(r) % ((s->payload_len - 24) / 8));
}

static void
test_xlate_inbound_random(void **state)
{
	uint32_t r = 0x5eed1234;
	uint8_t in[BUF], want[BUF], map_bytes[sizeof(struct xlate_map)];
	struct xlate_map m;
	uint8_t view[16];
	size_t in_len, want_len;
	struct spec s;

	for (int i = 0; i < 5000; i++) {
		fill(map_bytes, sizeof(map_bytes), &r);
		memcpy(&m, map_bytes, sizeof(m));
		fill(view, sizeof(view), &r);
		random_spec(&s, &r);
		build_pair(&s, &m, view, in, &in_len, want, &want_len);
		if (s.kind == K_ERROR && s.quote_len < quote_min(&s)) {
			memcpy(want, in, in_len);
			assert_int_equal(xlate_exact(in, in_len, &m), XLATE_MALFORMED);
			assert_memory_equal(in, want, in_len);
			continue;
		}
		assert_int_equal(xlate_exact(in, in_len, &m), XLATE_OK);
		assert_memory_equal(in, want, want_len);
		if (s.kind != K_LATER_FRAG && !s.first_frag_len)
			check_packet(in, in_len, false);
	}
}

/* ---- refusals ---- */

static void
test_xlate_inbound_bad_source(void **state)
{
	struct spec s = { .fam = 4, .kind = K_TCP, .payload_len = 10, .seed = 20 };
	uint8_t p[BUF], want[BUF];
	size_t len, want_len;

	build_pair(&s, &alice_map, bob_view_of_alice4, p, &len, want, &want_len);
	p[15] ^= 1;
	expect_refused(p, len, XLATE_BAD_SOURCE);
	s.fam = 6;
	build_pair(&s, &alice_map, bob_view_of_alice6, p, &len, want, &want_len);
	p[8] ^= 0x80;
	expect_refused(p, len, XLATE_BAD_SOURCE);
}

/* Every prefix of a packet: length fields then promise more than there is. */
static void
test_xlate_inbound_truncated(void **state)
{
	static const struct spec specs[] = {
		{ .fam = 4, .kind = K_TCP, .payload_len = 5, .n_ext = 1, .seed = 30 },
		{ .fam = 4,
		  .kind = K_ERROR,
		  .inner_kind = K_UDP,
		  .quote_len = SIZE_MAX,
		  .seed = 31 },
		{ .fam = 6, .kind = K_UDP, .payload_len = 3, .n_ext = 2, .seed = 32 },
		{ .fam = 6,
		  .kind = K_ERROR,
		  .inner_kind = K_TCP,
		  .quote_len = SIZE_MAX,
		  .seed = 33 },
	};
	uint8_t p[BUF], want[BUF];
	size_t len, want_len;

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		const uint8_t *view = specs[i].fam == 4 ? bob_view_of_alice4 : bob_view_of_alice6;

		build_pair(&specs[i], &alice_map, view, p, &len, want, &want_len);
		for (size_t n = 0; n < len; n++)
			expect_refused(p, n, XLATE_MALFORMED);
	}
}

/* Consistent length fields, but the upper layer is cut short. */
static void
test_xlate_inbound_short_l4(void **state)
{
	static const struct {
		int fam;
		enum kind kind;
		size_t min;
	} cases[] = {
		{ 4, K_TCP, 20 }, { 4, K_UDP, 8 }, { 4, K_ECHO, 8 },
		{ 6, K_TCP, 20 }, { 6, K_UDP, 8 }, { 6, K_ECHO, 8 },
	};
	uint8_t p[BUF], want[BUF];
	size_t len, want_len, hl;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spec s = { .fam = cases[i].fam, .kind = cases[i].kind, .payload_len = 30 };

		build_pair(&s, &alice_map, s.fam == 4 ? bob_view_of_alice4 : bob_view_of_alice6, p,
			   &len, want, &want_len);
		hl = s.fam == 4 ? 20 : 40;
		for (size_t l4 = 0; l4 < cases[i].min; l4++) {
			if (s.fam == 4) {
				put16(p + 2, (unsigned)(hl + l4));
				put16(p + 10, 0);
				put16(p + 10, (uint16_t)~ref_fold(ref_add(0, p, 20)));
			} else {
				put16(p + 4, (unsigned)l4);
			}
			expect_refused(p, hl + l4, XLATE_MALFORMED);
		}
	}
}

static void
test_xlate_inbound_short_quote(void **state)
{
	struct spec s = { .fam = 4, .kind = K_ERROR, .inner_kind = K_TCP, .seed = 21 };
	uint8_t p[BUF], want[BUF];
	size_t len, want_len;

	for (s.quote_len = 0; s.quote_len < 20; s.quote_len++) {
		build_pair(&s, &alice_map, bob_view_of_alice4, p, &len, want, &want_len);
		expect_refused(p, len, XLATE_MALFORMED);
	}
	s.fam = 6;
	for (s.quote_len = 0; s.quote_len < 40; s.quote_len++) {
		build_pair(&s, &alice_map, bob_view_of_alice6, p, &len, want, &want_len);
		expect_refused(p, len, XLATE_MALFORMED);
	}
	/* Long enough, but not IPv6. */
	s.quote_len = SIZE_MAX;
	build_pair(&s, &alice_map, bob_view_of_alice6, p, &len, want, &want_len);
	p[48] = 0x45;
	expect_refused(p, len, XLATE_MALFORMED);
}

static void
test_xlate_inbound_bad_header(void **state)
{
	struct spec s4 = { .fam = 4, .kind = K_UDP, .payload_len = 20, .seed = 22 };
	struct spec s6 = { .fam = 6, .kind = K_UDP, .payload_len = 20, .seed = 22 };
	uint8_t p[BUF], want[BUF];
	size_t len, want_len;
	uint8_t bad_version[] = { 0x00, 0x50, 0x70, 0xf0 };

	build_pair(&s4, &alice_map, bob_view_of_alice4, p, &len, want, &want_len);
	for (size_t i = 0; i < sizeof(bad_version); i++) {
		memcpy(want, p, len);
		want[0] = (uint8_t)(bad_version[i] | 5);
		expect_refused(want, len, XLATE_MALFORMED);
	}
	for (unsigned ihl = 0; ihl < 5; ihl++) {
		memcpy(want, p, len);
		want[0] = (uint8_t)(0x40 | ihl);
		expect_refused(want, len, XLATE_MALFORMED);
	}
	memcpy(want, p, len);
	put16(want + 2, (unsigned)len + 1); /* total length > buffer */
	expect_refused(want, len, XLATE_MALFORMED);
	memcpy(want, p, len);
	want[0] = 0x46; /* IHL 24 > total length 20 */
	put16(want + 2, 20);
	expect_refused(want, len, XLATE_MALFORMED);

	build_pair(&s6, &alice_map, bob_view_of_alice6, p, &len, want, &want_len);
	put16(p + 4, (unsigned)(len - 40 + 1)); /* payload length > buffer */
	expect_refused(p, len, XLATE_MALFORMED);
}

static void
test_xlate_inbound_trailing_bytes(void **state)
{
	struct spec s = { .fam = 4, .kind = K_TCP, .payload_len = 10, .seed = 23 };
	uint8_t p[BUF], want[BUF];
	size_t len, want_len;

	/* Padding after the total length is neither read nor written. */
	build_pair(&s, &alice_map, bob_view_of_alice4, p, &len, want, &want_len);
	memset(p + len, 0xaa, 16);
	memset(want + len, 0xaa, 16);
	assert_int_equal(xlate_inbound(p, len + 16, &alice_map), XLATE_OK);
	assert_memory_equal(p, want, len + 16);
}

static void
test_xlate_inbound_error_fragment_unsupported(void **state)
{
	struct spec s = {
		.fam = 4, .kind = K_ERROR, .inner_kind = K_UDP, .quote_len = SIZE_MAX, .seed = 24
	};
	uint8_t p[BUF], want[BUF];
	size_t len, want_len;

	build_pair(&s, &alice_map, bob_view_of_alice4, p, &len, want, &want_len);
	put16(p + 6, 0x2000);
	put16(p + 10, 0);
	put16(p + 10, (uint16_t)~ref_fold(ref_add(0, p, 20)));
	expect_refused(p, len, XLATE_UNSUPPORTED);

	s.fam = 6;
	s.first_frag_len = 56; /* ICMPv6 header + quoted IPv6 header + 8 */
	build_pair(&s, &alice_map, bob_view_of_alice6, p, &len, want, &want_len);
	expect_refused(p, len, XLATE_UNSUPPORTED);
}

static void
test_xlate_inbound_ip6_routing_unsupported(void **state)
{
	struct spec s = { .fam = 6, .kind = K_UDP, .payload_len = 8, .n_ext = 1, .seed = 25 };
	uint8_t p[BUF], want[BUF];
	size_t len, want_len;

	build_pair(&s, &alice_map, bob_view_of_alice6, p, &len, want, &want_len);
	p[6] = P_ROUTING;
	p[43] = 1; /* segments left: the pseudo-header holds the final destination */
	expect_refused(p, len, XLATE_UNSUPPORTED);
	p[43] = 0; /* all segments done: an ordinary header */
	assert_int_equal(xlate_inbound(p, len, &alice_map), XLATE_OK);
	check_packet(p, len, false);
}

static void
test_xlate_inbound_ip6_too_many_ext(void **state)
{
	struct spec s = { .fam = 6, .kind = K_UDP, .payload_len = 8, .n_ext = 8, .seed = 26 };
	uint8_t p[BUF], want[BUF];
	size_t len, want_len;

	expect_ok(&s, bob_view_of_alice6);
	s.n_ext = 9;
	build_pair(&s, &alice_map, bob_view_of_alice6, p, &len, want, &want_len);
	expect_refused(p, len, XLATE_UNSUPPORTED);
	/* An extension header running past the payload length. */
	s.n_ext = 1;
	build_pair(&s, &alice_map, bob_view_of_alice6, p, &len, want, &want_len);
	p[41] = 200;
	expect_refused(p, len, XLATE_MALFORMED);
}

static void
test_xlate_result_name_all(void **state)
{
	assert_string_equal(xlate_result_name(XLATE_OK), "ok");
	assert_string_equal(xlate_result_name(XLATE_MALFORMED), "malformed");
	assert_string_equal(xlate_result_name(XLATE_BAD_SOURCE), "bad_source");
	assert_string_equal(xlate_result_name(XLATE_UNSUPPORTED), "unsupported");
	assert_string_equal(xlate_result_name(XLATE_RESULT_COUNT), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xlate_inbound_ip4_tcp),
		cmocka_unit_test(test_xlate_inbound_ip4_udp),
		cmocka_unit_test(test_xlate_inbound_ip4_udp_zero_csum),
		cmocka_unit_test(test_xlate_inbound_ip4_echo),
		cmocka_unit_test(test_xlate_inbound_ip4_options),
		cmocka_unit_test(test_xlate_inbound_ip4_frag_needed_tcp),
		cmocka_unit_test(test_xlate_inbound_ip4_frag_needed_tcp_short_quote),
		cmocka_unit_test(test_xlate_inbound_ip4_frag_needed_udp),
		cmocka_unit_test(test_xlate_inbound_ip4_first_fragment),
		cmocka_unit_test(test_xlate_inbound_ip4_later_fragment),
		cmocka_unit_test(test_xlate_inbound_ip6_tcp),
		cmocka_unit_test(test_xlate_inbound_ip6_udp),
		cmocka_unit_test(test_xlate_inbound_ip6_udp_zero_csum_kept),
		cmocka_unit_test(test_xlate_inbound_ip6_echo),
		cmocka_unit_test(test_xlate_inbound_ip6_ext_headers),
		cmocka_unit_test(test_xlate_inbound_ip6_packet_too_big_tcp),
		cmocka_unit_test(test_xlate_inbound_ip6_error_quoting_echo),
		cmocka_unit_test(test_xlate_inbound_quote_every_length),
		cmocka_unit_test(test_xlate_inbound_udp_csum_becomes_zero),
		cmocka_unit_test(test_xlate_inbound_random),
		cmocka_unit_test(test_xlate_inbound_bad_source),
		cmocka_unit_test(test_xlate_inbound_truncated),
		cmocka_unit_test(test_xlate_inbound_short_l4),
		cmocka_unit_test(test_xlate_inbound_short_quote),
		cmocka_unit_test(test_xlate_inbound_bad_header),
		cmocka_unit_test(test_xlate_inbound_trailing_bytes),
		cmocka_unit_test(test_xlate_inbound_error_fragment_unsupported),
		cmocka_unit_test(test_xlate_inbound_ip6_routing_unsupported),
		cmocka_unit_test(test_xlate_inbound_ip6_too_many_ext),
		cmocka_unit_test(test_xlate_result_name_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
