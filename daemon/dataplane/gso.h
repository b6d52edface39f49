/* SPDX-License-Identifier: MIT */
/*
 * Segmentation of what a TUN device with offloads (IFF_VNET_HDR, TUNSETOFFLOAD) hands us: each
 * read is a virtio-net header followed by one IP packet, which may be a TCP (TSO) or UDP (USO)
 * "super-packet" of up to 64 KiB with a partial checksum. gso_split() checks the header against
 * the packet it describes and cuts it into packets of at most gso_size payload bytes each, with
 * their IP lengths, IPv4 identification and header checksum, TCP sequence numbers and flags,
 * and a complete TCP/UDP checksum: what a kernel without offloads would have sent, so a peer
 * with offloads off receives exactly that.
 *
 * The header and the IP/TCP/UDP headers are all read through bounds checks of our own: the
 * kernel's hdr_len is not trusted (tun reports the linear length there, not the header length),
 * csum_start must be where the transport header really is, and a packet whose lengths or
 * offsets disagree is refused whole (nothing emitted), never cut on a guess.
 *
 * Pure functions on borrowed bytes: no allocation, no kernel. See docs/performance.md.
 */
#ifndef VERTEX_GSO_H
#define VERTEX_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The legacy virtio-net header (struct virtio_net_hdr), in the host's byte order. */
enum {
	VNET_HDR_LEN = 10,
	VNET_OFF_FLAGS = 0,
	VNET_OFF_GSO_TYPE = 1,
	VNET_OFF_HDR_LEN = 2,
	VNET_OFF_GSO_SIZE = 4,
	VNET_OFF_CSUM_START = 6,
	VNET_OFF_CSUM_OFFSET = 8,

	VNET_F_NEEDS_CSUM = 1, /* checksum from csum_start, stored at csum_start + csum_offset */
	VNET_F_DATA_VALID = 2,
	VNET_GSO_NONE = 0,
	VNET_GSO_TCPV4 = 1,
	VNET_GSO_TCPV6 = 4,
	VNET_GSO_UDP_L4 = 5, /* USO (Linux 6.2) */
	VNET_GSO_ECN = 0x80,

	GSO_MAX_PACKET = 65535, /* the largest IP packet a header can describe */
	GSO_MAX_SEGS = 1024,    /* a super-packet cut into more pieces is refused */
	GSO_TCP_OFF_SEQ = 4,
	GSO_TCP_OFF_FLAGS = 13,
	GSO_TCP_OFF_CSUM = 16,
	GSO_UDP_OFF_LEN = 4,
	GSO_UDP_OFF_CSUM = 6,
	GSO_TCP_FIN = 0x01,
	GSO_TCP_SYN = 0x02,
	GSO_TCP_RST = 0x04,
	GSO_TCP_PSH = 0x08,
	GSO_TCP_ACK = 0x10,
	GSO_TCP_URG = 0x20,
	GSO_TCP_ECE = 0x40,
	GSO_TCP_CWR = 0x80,
};

struct vnet_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

/* False if fewer than VNET_HDR_LEN bytes. */
bool vnet_hdr_decode(const uint8_t *b, size_t len, struct vnet_hdr *h);
void vnet_hdr_encode(const struct vnet_hdr *h, uint8_t out[VNET_HDR_LEN]);

/* An IPv4 (without fragments) or IPv6 (without extension headers) packet with TCP or UDP. */
struct gso_ip {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t ip_hlen;
	uint16_t l4_hlen; /* TCP data offset, or 8 for UDP */
	uint32_t ip_len;  /* the length the IP header claims (<= the bytes there) */
};

/* Parses pkt[0..len) (untrusted); false unless every header fits inside the claimed length. */
bool gso_ip_parse(const uint8_t *pkt, size_t len, struct gso_ip *ip);
/* The pseudo-header's sum (csum_partial form) for an L4 segment of l4_len bytes. */
uint32_t gso_pseudo_sum(const uint8_t *pkt, const struct gso_ip *ip, size_t l4_len);

enum gso_result {
	GSO_OK,
	GSO_BAD_HEADER, /* virtio-net header shorter than its size, or flags we did not enable */
	GSO_BAD_PACKET, /* the IP packet's lengths/offsets disagree with each other or the header */
	GSO_BAD_GSO,    /* an impossible segmentation: gso_size 0, too small or too large */
	GSO_NO_BUFFER,  /* the sink ran out of buffers; the rest of the segments were lost */
	GSO_RESULT_COUNT,
};

/* Where segments go: buffers of cap bytes each, borrowed from the caller. */
struct gso_sink {
	/* A buffer of at least cap bytes for the next packet, or NULL if there is none. */
	uint8_t *(*get)(void *arg);
	/* The packet written into the buffer get returned last is len bytes long. */
	void (*put)(void *arg, size_t len);
	size_t cap;
	void *arg;
};

/*
 * Cuts the TUN read in[0..len) (virtio-net header + packet; borrowed, untrusted) into packets
 * for sink. A packet without GSO is passed on whole (its checksum completed if NEEDS_CSUM).
 * Nothing is emitted unless the whole input checked out (GSO_BAD_*); *nseg counts what was.
 */
enum gso_result gso_split(const uint8_t *in, size_t len, const struct gso_sink *sink,
			  unsigned *nseg);
const char *gso_result_name(enum gso_result r);

#endif
