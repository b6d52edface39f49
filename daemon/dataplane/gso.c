// SPDX-License-Identifier: MIT
/*
 * Segmentation of TUN super-packets. See gso.h.
 *
 * Every check is made before the first segment is written, so a refused input emits nothing.
 * Each segment is built from the super-packet's headers, not from the previous segment, so an
 * error in one cannot carry into the next. The TCP/UDP checksum of each segment is computed
 * from scratch: the super-packet's field only holds the pseudo-header's partial sum (the
 * kernel leaves the rest to "hardware"), and the receiving peer may deliver the segment to a
 * kernel that verifies it.
 */
#include "dataplane/gso.h"

#include <netinet/in.h>
#include <string.h>

#include "overlay/csum.h"

enum {
	IP4_HDR_MIN = 20,
	IP4_OFF_TOT_LEN = 2,
	IP4_OFF_ID = 4,
	IP4_OFF_FRAG = 6,
	IP4_OFF_PROTO = 9,
	IP4_OFF_CSUM = 10,
	IP4_OFF_ADDRS = 12,
	IP4_FRAG_MASK = 0x3fff, /* MF and the fragment offset */
	IP6_HDR_LEN = 40,
	IP6_OFF_PLEN = 4,
	IP6_OFF_NH = 6,
	IP6_OFF_ADDRS = 8,
	TCP_HDR_MIN = 20,
	TCP_OFF_DOFF = 12,
	UDP_HDR_LEN = 8,
};

static const char *const gso_result_names[GSO_RESULT_COUNT] = {
	"ok",
	"bad virtio-net header",
	"packet disagrees with its lengths",
	"impossible segmentation",
	"no buffer",
};

const char *
gso_result_name(enum gso_result r)
{
	return (unsigned)r < GSO_RESULT_COUNT ? gso_result_names[r] : "?";
}

static uint16_t
load16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t
load32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
store16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
store32(uint8_t *p, uint32_t v)
{
	store16(p, (uint16_t)(v >> 16));
	store16(p + 2, (uint16_t)v);
}

/* The virtio-net header is in the host's byte order (we never ask for TUNSETVNETBE/LE). */
static uint16_t
host16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

bool
vnet_hdr_decode(const uint8_t *b, size_t len, struct vnet_hdr *h)
{
	if (len < VNET_HDR_LEN)
		return false;
	h->flags = b[VNET_OFF_FLAGS];
	h->gso_type = b[VNET_OFF_GSO_TYPE];
	h->hdr_len = host16(b + VNET_OFF_HDR_LEN);
	h->gso_size = host16(b + VNET_OFF_GSO_SIZE);
	h->csum_start = host16(b + VNET_OFF_CSUM_START);
	h->csum_offset = host16(b + VNET_OFF_CSUM_OFFSET);
	return true;
}

void
vnet_hdr_encode(const struct vnet_hdr *h, uint8_t out[VNET_HDR_LEN])
{
	out[VNET_OFF_FLAGS] = h->flags;
	out[VNET_OFF_GSO_TYPE] = h->gso_type;
	memcpy(out + VNET_OFF_HDR_LEN, &h->hdr_len, 2);
	memcpy(out + VNET_OFF_GSO_SIZE, &h->gso_size, 2);
	memcpy(out + VNET_OFF_CSUM_START, &h->csum_start, 2);
	memcpy(out + VNET_OFF_CSUM_OFFSET, &h->csum_offset, 2);
}

/* The IP header: family, header length, claimed length, protocol. */
static bool
gso_ip_hdr(const uint8_t *p, size_t len, struct gso_ip *ip)
{
	if (len >= IP4_HDR_MIN && p[0] >> 4 == 4) {
		ip->family = 4;
		ip->ip_hlen = (uint16_t)((p[0] & 0xfu) * 4);
		ip->ip_len = load16(p + IP4_OFF_TOT_LEN);
		ip->proto = p[IP4_OFF_PROTO];
		/* A fragment's transport header is in the first fragment only. */
		if (load16(p + IP4_OFF_FRAG) & IP4_FRAG_MASK)
			return false;
		return ip->ip_hlen >= IP4_HDR_MIN && ip->ip_len >= ip->ip_hlen && ip->ip_len <= len;
	}
	if (len >= IP6_HDR_LEN && p[0] >> 4 == 6) {
		ip->family = 6;
		ip->ip_hlen = IP6_HDR_LEN;
		ip->ip_len = IP6_HDR_LEN + (uint32_t)load16(p + IP6_OFF_PLEN);
		ip->proto = p[IP6_OFF_NH]; /* extension headers are refused below */
		return ip->ip_len <= len;
	}
	return false;
}

bool
gso_ip_parse(const uint8_t *p, size_t len, struct gso_ip *ip)
{
	size_t l4;

	if (!gso_ip_hdr(p, len, ip))
		return false;
	l4 = ip->ip_len - ip->ip_hlen;
	if (ip->proto == IPPROTO_TCP) {
		if (l4 < TCP_HDR_MIN)
			return false;
		ip->l4_hlen = (uint16_t)((p[ip->ip_hlen + TCP_OFF_DOFF] >> 4) * 4);
		return ip->l4_hlen >= TCP_HDR_MIN && ip->l4_hlen <= l4;
	}
	if (ip->proto == IPPROTO_UDP) {
		ip->l4_hlen = UDP_HDR_LEN;
		return l4 >= UDP_HDR_LEN;
	}
	return false;
}

uint32_t
gso_pseudo_sum(const uint8_t *pkt, const struct gso_ip *ip, size_t l4_len)
{
	uint32_t sum;

	if (ip->family == 4)
		sum = csum_partial(pkt + IP4_OFF_ADDRS, 8, 0);
	else
		sum = csum_partial(pkt + IP6_OFF_ADDRS, 32, 0);
	return sum + ip->proto + (uint32_t)(l4_len >> 16) + (uint32_t)(l4_len & 0xffff);
}

/* Stores the checksum of the L4 segment at l4 (field zeroed first); UDP never sends zero. */
static void
gso_l4_csum(uint8_t *pkt, const struct gso_ip *ip, size_t l4_len)
{
	uint8_t *l4 = pkt + ip->ip_hlen;
	size_t at = ip->proto == IPPROTO_TCP ? GSO_TCP_OFF_CSUM : GSO_UDP_OFF_CSUM;
	uint16_t c;

	l4[at] = l4[at + 1] = 0;
	c = csum_fold(csum_partial(l4, l4_len, gso_pseudo_sum(pkt, ip, l4_len)));
	if (!c && ip->proto == IPPROTO_UDP)
		c = 0xffff;
	store16(l4 + at, c);
}

static void
gso_ip4_csum(uint8_t *pkt, size_t hlen)
{
	pkt[IP4_OFF_CSUM] = pkt[IP4_OFF_CSUM + 1] = 0;
	store16(pkt + IP4_OFF_CSUM, csum_fold(csum_partial(pkt, hlen, 0)));
}

/* A packet without GSO: copied whole; NEEDS_CSUM completes the checksum the kernel left. */
static enum gso_result
gso_single(const uint8_t *pkt, size_t len, const struct vnet_hdr *h, const struct gso_sink *s,
	   unsigned *nseg)
{
	bool csum = h->flags & VNET_F_NEEDS_CSUM;
	uint8_t *out;
	uint16_t c;

	if (!len || len > s->cap)
		return GSO_BAD_PACKET;
	if (csum && ((size_t)h->csum_start + h->csum_offset + 2 > len))
		return GSO_BAD_HEADER;
	out = s->get(s->arg);
	if (!out)
		return GSO_NO_BUFFER;
	memcpy(out, pkt, len);
	if (csum) {
		c = csum_fold(csum_partial(out + h->csum_start, len - h->csum_start, 0));
		/* As the kernel does (skb_checksum_help): a UDP checksum of zero means "none". */
		if (!c && h->csum_offset == GSO_UDP_OFF_CSUM)
			c = 0xffff;
		store16(out + h->csum_start + h->csum_offset, c);
	}
	s->put(s->arg, len);
	*nseg = 1;
	return GSO_OK;
}

/* Writes segment i of n into out; returns its length. */
static size_t
gso_build(uint8_t *out, const uint8_t *pkt, const struct gso_ip *ip, size_t gso_size, unsigned i,
	  unsigned n)
{
	size_t hlen = (size_t)ip->ip_hlen + ip->l4_hlen, off = (size_t)i * gso_size;
	size_t payload = ip->ip_len - hlen;
	size_t seg = payload - off < gso_size ? payload - off : gso_size;
	uint8_t *l4 = out + ip->ip_hlen;

	memcpy(out, pkt, hlen);
	memcpy(out + hlen, pkt + hlen + off, seg);
	if (ip->family == 4) {
		store16(out + IP4_OFF_TOT_LEN, (uint16_t)(hlen + seg));
		/* As the kernel's TSO: each segment takes the next identification. */
		store16(out + IP4_OFF_ID, (uint16_t)(load16(pkt + IP4_OFF_ID) + i));
		gso_ip4_csum(out, ip->ip_hlen);
	} else {
		store16(out + IP6_OFF_PLEN, (uint16_t)(ip->l4_hlen + seg));
	}
	if (ip->proto == IPPROTO_TCP) {
		store32(l4 + GSO_TCP_OFF_SEQ, load32(l4 + GSO_TCP_OFF_SEQ) + (uint32_t)off);
		/* FIN and PSH end the super-packet; CWR is for its first segment only. */
		if (i + 1 < n)
			l4[GSO_TCP_OFF_FLAGS] &= (uint8_t) ~(GSO_TCP_FIN | GSO_TCP_PSH);
		if (i > 0)
			l4[GSO_TCP_OFF_FLAGS] &= (uint8_t)~GSO_TCP_CWR;
	} else {
		store16(l4 + GSO_UDP_OFF_LEN, (uint16_t)(UDP_HDR_LEN + seg));
	}
	gso_l4_csum(out, ip, ip->l4_hlen + seg);
	return hlen + seg;
}

/* The checks of a GSO header against the packet it describes. */
static enum gso_result
gso_check(const uint8_t *pkt, size_t len, const struct vnet_hdr *h, const struct gso_sink *s,
	  struct gso_ip *ip)
{
	uint8_t type = h->gso_type & (uint8_t)~VNET_GSO_ECN;
	bool tcp = type == VNET_GSO_TCPV4 || type == VNET_GSO_TCPV6;
	size_t hlen;

	if (!tcp && type != VNET_GSO_UDP_L4)
		return GSO_BAD_HEADER;
	if (!gso_ip_parse(pkt, len, ip) || ip->proto != (tcp ? IPPROTO_TCP : IPPROTO_UDP) ||
	    (type == VNET_GSO_TCPV4 && ip->family != 4) ||
	    (type == VNET_GSO_TCPV6 && ip->family != 6))
		return GSO_BAD_PACKET;
	if (!(h->flags & VNET_F_NEEDS_CSUM) || h->csum_start != ip->ip_hlen ||
	    h->csum_offset != (tcp ? GSO_TCP_OFF_CSUM : GSO_UDP_OFF_CSUM))
		return GSO_BAD_HEADER;
	hlen = (size_t)ip->ip_hlen + ip->l4_hlen;
	if (!h->gso_size || hlen + h->gso_size > s->cap || ip->ip_len == hlen ||
	    (ip->ip_len - hlen + h->gso_size - 1) / h->gso_size > GSO_MAX_SEGS)
		return GSO_BAD_GSO;
	return GSO_OK;
}

enum gso_result
gso_split(const uint8_t *in, size_t len, const struct gso_sink *s, unsigned *nseg)
{
	struct vnet_hdr h;
	struct gso_ip ip;
	enum gso_result r;
	size_t payload;
	unsigned n;

	*nseg = 0;
	if (!vnet_hdr_decode(in, len, &h))
		return GSO_BAD_HEADER;
	in += VNET_HDR_LEN;
	len -= VNET_HDR_LEN;
	if (h.gso_type == VNET_GSO_NONE)
		return gso_single(in, len, &h, s, nseg);
	r = gso_check(in, len, &h, s, &ip);
	if (r != GSO_OK)
		return r;
	payload = ip.ip_len - ip.ip_hlen - ip.l4_hlen;
	n = (unsigned)((payload + h.gso_size - 1) / h.gso_size);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *out = s->get(s->arg);

		if (!out)
			return GSO_NO_BUFFER;
		s->put(s->arg, gso_build(out, in, &ip, h.gso_size, i, n));
		(*nseg)++;
	}
	return GSO_OK;
}
