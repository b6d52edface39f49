/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the TUN read path with offloads (daemon/dataplane/gso.c) and the
 * coalescing of what a peer sends (daemon/dataplane/gro.c). The input is what a TUN read
 * returns: a virtio-net header and a packet, copied to a heap buffer of its exact length so
 * ASan sees any access past the end. Beyond "no crash":
 *
 *  - a refused input emits nothing, an accepted one emits packets that each fit the buffer,
 *    parse, and carry valid checksums (IPv4 header and TCP/UDP) whenever it was a GSO packet;
 *    their payloads, in order, are the super-packet's payload (nothing lost, nothing invented);
 *  - those packets, then (after a flush, since it may be of another flow) the raw packet, go
 *    through the coalescer; cutting what it writes back with gso_split gives exactly them
 *    again, in order.
 *
 * Seeds: tests/fuzz/corpus/vnet, made by gen_corpus_vnet.py.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/gro.h"
#include "dataplane/gso.h"
#include "overlay/csum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { CAP = 1920, MAX_SEGS = GSO_MAX_SEGS + 2 };

struct segs {
	uint8_t *buf[MAX_SEGS];
	size_t len[MAX_SEGS];
	unsigned n;
};

static uint8_t *
seg_get(void *arg)
{
	struct segs *s = arg;

	if (s->n >= MAX_SEGS)
		return NULL;
	if (!s->buf[s->n])
		s->buf[s->n] = malloc(CAP);
	return s->buf[s->n];
}

static void
seg_put(void *arg, size_t len)
{
	struct segs *s = arg;

	if (len > CAP)
		abort();
	s->len[s->n++] = len;
}

static void
segs_free(struct segs *s)
{
	for (unsigned i = 0; i < MAX_SEGS; i++)
		free(s->buf[i]);
}

static enum gso_result
split(const uint8_t *in, size_t len, struct segs *s)
{
	const struct gso_sink sink = { .get = seg_get, .put = seg_put, .cap = CAP, .arg = s };
	unsigned nseg;
	enum gso_result r = gso_split(in, len, &sink, &nseg);

	if (nseg != s->n || (unsigned)r >= GSO_RESULT_COUNT || !gso_result_name(r))
		abort();
	return r;
}

/* Each GSO segment is a well-formed packet whose payloads add up to the super-packet's. */
static void
check_segments(const uint8_t *in, size_t len, const struct segs *s)
{
	struct gso_ip sup, ip;
	size_t off = 0, l4;

	if (in[1] == VNET_GSO_NONE)
		return;
	if (!gso_ip_parse(in + VNET_HDR_LEN, len - VNET_HDR_LEN, &sup))
		abort();
	for (unsigned i = 0; i < s->n; i++) {
		const uint8_t *p = s->buf[i];

		if (!gso_ip_parse(p, s->len[i], &ip) || ip.ip_len != s->len[i] ||
		    ip.proto != sup.proto || ip.l4_hlen != sup.l4_hlen)
			abort();
		l4 = ip.ip_len - ip.ip_hlen;
		if (ip.family == 4 && csum_fold(csum_partial(p, ip.ip_hlen, 0)))
			abort();
		if (csum_fold(csum_partial(p + ip.ip_hlen, l4, gso_pseudo_sum(p, &ip, l4))))
			abort();
		if (memcmp(p + ip.ip_hlen + ip.l4_hlen,
			   in + VNET_HDR_LEN + sup.ip_hlen + sup.l4_hlen + off, l4 - ip.l4_hlen))
			abort();
		off += l4 - ip.l4_hlen;
	}
	if (off != sup.ip_len - sup.ip_hlen - sup.l4_hlen)
		abort();
}

struct replay {
	const struct segs *want;
	unsigned next;
};

static int
gro_write(void *arg, const uint8_t *vnet, const uint8_t *pkt, size_t len)
{
	struct replay *r = arg;
	uint8_t *buf = malloc(VNET_HDR_LEN + len);
	struct segs got = { 0 };

	memcpy(buf, vnet, VNET_HDR_LEN);
	memcpy(buf + VNET_HDR_LEN, pkt, len);
	if (split(buf, VNET_HDR_LEN + len, &got) != GSO_OK)
		abort();
	for (unsigned i = 0; i < got.n; i++, r->next++) {
		if (r->next >= r->want->n || got.len[i] != r->want->len[r->next] ||
		    memcmp(got.buf[i], r->want->buf[r->next], got.len[i]))
			abort();
	}
	segs_free(&got);
	free(buf);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = malloc(size ? size : 1);
	struct segs s = { 0 }, want = { 0 };
	struct replay rep = { .want = &want };
	const struct gro_sink sink = { .write = gro_write, .arg = &rep };
	struct gro *g;

	if (!in)
		return 0;
	memcpy(in, data, size);
	if (split(in, size, &s) == GSO_OK)
		check_segments(in, size, &s);
	else if (s.n)
		abort(); /* refused, yet something was emitted */
	/* The coalescer gets the segments, then the raw packet; the kernel must see the same. */
	want = s;
	if (size > VNET_HDR_LEN && size - VNET_HDR_LEN <= CAP && want.n < MAX_SEGS) {
		want.buf[want.n] = in + VNET_HDR_LEN;
		want.len[want.n++] = size - VNET_HDR_LEN;
	}
	if (gro_new(&g, &sink) == 0) {
		for (unsigned i = 0; i < want.n; i++) {
			/* Before the raw packet, which may be of another flow and overtake. */
			if (i == s.n)
				gro_flush(g);
			gro_add(g, want.buf[i], want.len[i]);
		}
		gro_flush(g);
		if (rep.next != want.n)
			abort();
		gro_free(g);
	}
	segs_free(&s);
	free(in);
	return 0;
}
