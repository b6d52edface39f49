// SPDX-License-Identifier: MIT
/*
 * Receive coalescing. See gro.h.
 *
 * A pending flow keeps the first segment's headers and the payloads after them in its buffer;
 * the facts a later segment is checked against (next sequence number and identification,
 * segment size) are kept beside it. Only gro_flow_write changes the headers: lengths, the IPv4
 * header checksum, and the TCP checksum field, which for NEEDS_CSUM holds the pseudo-header's
 * sum (not complemented), as the kernel's own TCP leaves it for a device to finish.
 */
#include "dataplane/gro.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/gso.h"
#include "overlay/csum.h"

enum {
	IP4_OFF_TOT_LEN = 2,
	IP4_OFF_ID = 4,
	IP4_OFF_CSUM = 10,
	IP4_OFF_ADDRS = 12,
	IP4_ADDRS_LEN = 8,
	IP6_OFF_PLEN = 4,
	IP6_OFF_HOP = 7,
	IP6_OFF_ADDRS = 8,
	IP6_ADDRS_LEN = 32,
	TCP_OFF_ACK = 8,
	TCP_OFF_WINDOW = 14,
	TCP_PORTS_LEN = 4,
	GRO_BUF_SIZE = GSO_MAX_PACKET,
};

struct gro_flow {
	bool used;
	struct gso_ip ip;  /* of the first segment */
	uint16_t gso_size; /* the first segment's payload */
	uint16_t last_seg; /* the latest segment's payload */
	uint16_t next_id;  /* IPv4 identification the next segment must carry */
	uint32_t next_seq;
	unsigned nseg;
	size_t len; /* bytes in buf */
	uint8_t *buf;
};

struct gro {
	struct gro_sink sink;
	struct gro_flow flows[GRO_FLOWS];
	unsigned evict; /* next flow to flush when all are in use */
	uint64_t counts[GRO_COUNT];
};

static uint16_t
load16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t
load32(const uint8_t *p)
{
	return (uint32_t)load16(p) << 16 | load16(p + 2);
}

static void
store16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ownership: *out is the caller's (gro_free); nothing is left allocated on failure. */
int
gro_new(struct gro **out, const struct gro_sink *sink)
{
	struct gro *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->sink = *sink;
	for (unsigned i = 0; i < GRO_FLOWS; i++) {
		g->flows[i].buf = malloc(GRO_BUF_SIZE);
		if (!g->flows[i].buf) {
			gro_free(g);
			return -ENOMEM;
		}
	}
	*out = g;
	return 0;
}

/* Pending super-packets are lost: flush first. */
void
gro_free(struct gro *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < GRO_FLOWS; i++)
		free(g->flows[i].buf);
	free(g);
}

uint64_t
gro_count(const struct gro *g, enum gro_count c)
{
	return g->counts[c];
}

static void
gro_write(struct gro *g, const uint8_t *vnet, const uint8_t *pkt, size_t len)
{
	if (g->sink.write(g->sink.arg, vnet, pkt, len) < 0)
		g->counts[GRO_WRITE_ERRORS]++;
}

static void
gro_write_single(struct gro *g, const uint8_t *pkt, size_t len)
{
	static const uint8_t plain[VNET_HDR_LEN];

	g->counts[GRO_SINGLE_WRITTEN]++;
	gro_write(g, plain, pkt, len);
}

static uint8_t
gro_tcp_flags(const uint8_t *pkt, const struct gso_ip *ip)
{
	return pkt[ip->ip_hlen + GSO_TCP_OFF_FLAGS];
}

static size_t
gro_payload(const struct gso_ip *ip)
{
	return ip->ip_len - ip->ip_hlen - ip->l4_hlen;
}

static void
gro_flow_write(struct gro *g, struct gro_flow *f)
{
	struct vnet_hdr h = { 0 };
	uint8_t vnet[VNET_HDR_LEN];
	uint8_t *b = f->buf;
	size_t l4_len = f->len - f->ip.ip_hlen;

	f->used = false;
	if (f->nseg == 1) {
		gro_write_single(g, b, f->len);
		return;
	}
	if (f->ip.family == 4) {
		store16(b + IP4_OFF_TOT_LEN, (uint16_t)f->len);
		b[IP4_OFF_CSUM] = b[IP4_OFF_CSUM + 1] = 0;
		store16(b + IP4_OFF_CSUM, csum_fold(csum_partial(b, f->ip.ip_hlen, 0)));
	} else {
		store16(b + IP6_OFF_PLEN, (uint16_t)l4_len);
	}
	/* The pseudo-header's sum, uncomplemented: the kernel adds the rest (CHECKSUM_PARTIAL). */
	store16(b + f->ip.ip_hlen + GSO_TCP_OFF_CSUM,
		(uint16_t)~csum_fold(gso_pseudo_sum(b, &f->ip, l4_len)));
	h.flags = VNET_F_NEEDS_CSUM;
	h.gso_type = f->ip.family == 4 ? VNET_GSO_TCPV4 : VNET_GSO_TCPV6;
	h.hdr_len = (uint16_t)(f->ip.ip_hlen + f->ip.l4_hlen);
	h.gso_size = f->gso_size;
	h.csum_start = f->ip.ip_hlen;
	h.csum_offset = GSO_TCP_OFF_CSUM;
	vnet_hdr_encode(&h, vnet);
	g->counts[GRO_SUPER_WRITTEN]++;
	g->counts[GRO_SEGMENTS_MERGED] += f->nseg;
	gro_write(g, vnet, b, f->len);
}

void
gro_flush(struct gro *g)
{
	for (unsigned i = 0; i < GRO_FLOWS; i++)
		if (g->flows[i].used)
			gro_flow_write(g, &g->flows[i]);
}

/* Same addresses and ports: a and b are TCP packets of one family. */
static bool
gro_same_flow(const uint8_t *a, const struct gso_ip *ia, const uint8_t *b, const struct gso_ip *ib)
{
	size_t off = ia->family == 4 ? IP4_OFF_ADDRS : IP6_OFF_ADDRS;
	size_t n = ia->family == 4 ? IP4_ADDRS_LEN : IP6_ADDRS_LEN;

	return ia->family == ib->family && !memcmp(a + off, b + off, n) &&
	       !memcmp(a + ia->ip_hlen, b + ib->ip_hlen, TCP_PORTS_LEN);
}

static struct gro_flow *
gro_find(struct gro *g, const uint8_t *pkt, const struct gso_ip *ip)
{
	for (unsigned i = 0; i < GRO_FLOWS; i++) {
		struct gro_flow *f = &g->flows[i];

		if (f->used && gro_same_flow(f->buf, &f->ip, pkt, ip))
			return f;
	}
	return NULL;
}

/* A TCP segment with payload and only ACK (+PSH), a plain IP header, valid checksums. */
static bool
gro_is_candidate(struct gro *g, const uint8_t *pkt, size_t len, struct gso_ip *ip)
{
	size_t l4_len;
	uint8_t flags;

	if (!gso_ip_parse(pkt, len, ip) || ip->proto != IPPROTO_TCP || ip->ip_len != len)
		return false;
	flags = gro_tcp_flags(pkt, ip);
	if ((ip->family == 4 && ip->ip_hlen != 20) || !gro_payload(ip) ||
	    (flags & (uint8_t)~GSO_TCP_PSH) != GSO_TCP_ACK)
		return false;
	l4_len = ip->ip_len - ip->ip_hlen;
	/* The merged header's checksum is made anew, so a bad one must not get that far. */
	if ((ip->family == 4 && csum_fold(csum_partial(pkt, ip->ip_hlen, 0))) ||
	    csum_fold(csum_partial(pkt + ip->ip_hlen, l4_len, gso_pseudo_sum(pkt, ip, l4_len)))) {
		g->counts[GRO_BAD_CSUM]++;
		return false;
	}
	return true;
}

/* Header fields of the IP and TCP headers that must match the first segment's. */
static bool
gro_headers_match(const struct gro_flow *f, const uint8_t *pkt, const struct gso_ip *ip)
{
	const uint8_t *a = f->buf, *ta = a + f->ip.ip_hlen, *tb = pkt + ip->ip_hlen;

	if (ip->l4_hlen != f->ip.l4_hlen)
		return false;
	if (f->ip.family == 4) {
		/* TOS, flags/fragment field and TTL; the identification must follow on. */
		if (a[1] != pkt[1] || memcmp(a + 6, pkt + 6, 3) ||
		    load16(pkt + IP4_OFF_ID) != f->next_id)
			return false;
	} else if (memcmp(a, pkt, 4) || a[IP6_OFF_HOP] != pkt[IP6_OFF_HOP]) {
		return false;
	}
	/* Ack, data offset, flags but PSH, window, urgent pointer and options. */
	return !memcmp(ta + TCP_OFF_ACK, tb + TCP_OFF_ACK, 5) &&
	       ((ta[GSO_TCP_OFF_FLAGS] ^ tb[GSO_TCP_OFF_FLAGS]) & (uint8_t)~GSO_TCP_PSH) == 0 &&
	       !memcmp(ta + TCP_OFF_WINDOW, tb + TCP_OFF_WINDOW, 2) &&
	       !memcmp(ta + 18, tb + 18, (size_t)ip->l4_hlen - 18);
}

static bool
gro_can_merge(const struct gro_flow *f, const uint8_t *pkt, const struct gso_ip *ip)
{
	size_t plen = gro_payload(ip);

	return f->nseg < GRO_MAX_SEGS && f->last_seg == f->gso_size && plen <= f->gso_size &&
	       f->len + plen <= GRO_BUF_SIZE &&
	       load32(pkt + ip->ip_hlen + GSO_TCP_OFF_SEQ) == f->next_seq &&
	       gro_headers_match(f, pkt, ip);
}

static void
gro_flow_start(struct gro_flow *f, const uint8_t *pkt, const struct gso_ip *ip)
{
	size_t plen = gro_payload(ip);

	memcpy(f->buf, pkt, ip->ip_len);
	f->used = true;
	f->ip = *ip;
	f->len = ip->ip_len;
	f->nseg = 1;
	f->gso_size = f->last_seg = (uint16_t)plen;
	f->next_seq = load32(pkt + ip->ip_hlen + GSO_TCP_OFF_SEQ) + (uint32_t)plen;
	f->next_id = ip->family == 4 ? (uint16_t)(load16(pkt + IP4_OFF_ID) + 1) : 0;
}

static void
gro_flow_append(struct gro_flow *f, const uint8_t *pkt, const struct gso_ip *ip)
{
	size_t plen = gro_payload(ip);

	memcpy(f->buf + f->len, pkt + ip->ip_hlen + ip->l4_hlen, plen);
	f->len += plen;
	f->nseg++;
	f->last_seg = (uint16_t)plen;
	f->next_seq += (uint32_t)plen;
	f->next_id++;
	f->buf[f->ip.ip_hlen + GSO_TCP_OFF_FLAGS] |= gro_tcp_flags(pkt, ip) & GSO_TCP_PSH;
}

/* A free flow slot, flushing the oldest pending one if there is none. */
static struct gro_flow *
gro_slot(struct gro *g)
{
	struct gro_flow *f;

	for (unsigned i = 0; i < GRO_FLOWS; i++)
		if (!g->flows[i].used)
			return &g->flows[i];
	f = &g->flows[g->evict];
	g->evict = (g->evict + 1) % GRO_FLOWS;
	gro_flow_write(g, f);
	return f;
}

void
gro_add(struct gro *g, const uint8_t *pkt, size_t len)
{
	struct gso_ip ip;
	struct gro_flow *f;
	bool psh;

	if (!gro_is_candidate(g, pkt, len, &ip)) {
		/* Whatever is pending for its flow goes first, so the flow keeps its order. */
		if (gso_ip_parse(pkt, len, &ip) && ip.proto == IPPROTO_TCP &&
		    (f = gro_find(g, pkt, &ip)))
			gro_flow_write(g, f);
		gro_write_single(g, pkt, len);
		return;
	}
	psh = gro_tcp_flags(pkt, &ip) & GSO_TCP_PSH;
	f = gro_find(g, pkt, &ip);
	if (f && gro_can_merge(f, pkt, &ip)) {
		gro_flow_append(f, pkt, &ip);
		/* PSH, or a short segment: nothing more can join, so nothing waits. */
		if (psh || f->last_seg < f->gso_size)
			gro_flow_write(g, f);
		return;
	}
	if (f)
		gro_flow_write(g, f);
	if (psh) {
		gro_write_single(g, pkt, len);
		return;
	}
	gro_flow_start(f ? f : gro_slot(g), pkt, &ip);
}
