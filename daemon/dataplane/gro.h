/* SPDX-License-Identifier: MIT */
/*
 * Receive coalescing for a TUN device with offloads: consecutive in-order TCP segments of one
 * flow, delivered during one loop turn, become one super-packet with a virtio-net header
 * (GSO_TCPV4/6, NEEDS_CSUM) and go to the kernel in one write, as a NIC's GRO would hand them
 * up. Everything else is written alone, unchanged, after whatever was pending for its flow, so
 * no flow's packets are reordered.
 *
 * A segment joins a pending super-packet only if it is the next in sequence, carries payload,
 * has only ACK (and PSH, which closes the super-packet) set, and matches the first segment in
 * every header field the merged packet would otherwise misstate: addresses, ports, ack,
 * window, options, TOS/TTL/DF (IPv4, with the next identification) or traffic class, flow
 * label and hop limit (IPv6); it is no longer than the first, and every one before it was as
 * long. Its TCP checksum (and IPv4 header checksum) must verify, because the merged packet's
 * are made anew or left for the kernel to trust (CHECKSUM_PARTIAL); a segment with a bad
 * checksum is written alone for the kernel to drop as it would without offloads.
 *
 * Allocates GRO_FLOWS buffers of 64 KiB at gro_new, nothing after.
 */
#ifndef VERTEX_GRO_H
#define VERTEX_GRO_H

#include <stddef.h>
#include <stdint.h>

struct gro;

enum {
	GRO_FLOWS = 8,     /* flows coalesced at once; a ninth flushes the oldest */
	GRO_MAX_SEGS = 64, /* segments in one super-packet */
};

struct gro_sink {
	/* Writes vnet (VNET_HDR_LEN bytes) + pkt[0..len) as one TUN write; 0 or -errno. */
	int (*write)(void *arg, const uint8_t *vnet, const uint8_t *pkt, size_t len);
	void *arg;
};

enum gro_count {
	GRO_SEGMENTS_MERGED, /* segments that went out inside a super-packet */
	GRO_SUPER_WRITTEN,   /* super-packets of two or more segments written */
	GRO_SINGLE_WRITTEN,  /* packets written alone */
	GRO_BAD_CSUM,        /* TCP segments whose checksum failed (written alone) */
	GRO_WRITE_ERRORS,    /* writes the sink refused */
	GRO_COUNT,
};

/* *out freed with gro_free; sink copied. 0 or -ENOMEM. */
int gro_new(struct gro **out, const struct gro_sink *sink);
void gro_free(struct gro *g);
/* One inner IP packet, pkt[0..len) (borrowed, untrusted): merged, kept, or written. */
void gro_add(struct gro *g, const uint8_t *pkt, size_t len);
/* Writes every pending super-packet (the end of a loop turn). */
void gro_flush(struct gro *g);
uint64_t gro_count(const struct gro *g, enum gro_count c);

#endif
