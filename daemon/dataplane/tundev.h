/* SPDX-License-Identifier: MIT */
/*
 * The TUN device as the data plane's packet device (dataplane.h struct pktdev): packets read
 * from it, up to TUNDEV_BATCH reads per loop turn, go to dataplane_send; packets the data plane
 * delivers are written to it. The device itself (open, name, addresses) is kernel-iface/'s.
 *
 * With offloads (a TUN opened with TUN_OFFLOAD), a read may be a super-packet, cut into frames
 * here (dataplane/gso.h), and delivered TCP segments are coalesced into super-packets
 * (dataplane/gro.h), written by tundev_flush at the end of each loop turn.
 */
#ifndef VERTEX_TUNDEV_H
#define VERTEX_TUNDEV_H

#include <stdio.h>

struct dataplane;
struct ev_loop;
struct path_udp;
struct pkt_pool;
struct pktdev;
struct tun;
struct tundev;

enum { TUNDEV_BATCH = 64 }; /* reads per loop turn */

/* Borrows everything. *out freed with tundev_free. 0 or -errno. */
int tundev_new(struct tundev **out, struct ev_loop *loop, struct tun *tun, struct pkt_pool *pkts,
	       struct path_udp *udp);
/* The delivery side, for dataplane_new: writes to the TUN device (through td's coalescing). */
void tundev_pktdev(struct tundev *td, struct pktdev *out);
/* Starts reading into dp (borrowed). 0 or -errno. */
int tundev_start(struct tundev *td, struct dataplane *dp);
/* Writes the coalesced packets still pending (the loop's before-sleep hook). NULL is ignored. */
void tundev_flush(struct tundev *td);
/*
 * For `vertex status`: tun_offload on/off; with offloads, super-packets read and the frames cut
 * from them, super-packets written and the segments merged into them, and segments not merged
 * because a checksum failed.
 */
void tundev_status(const struct tundev *td, FILE *f);
/* Flushes, stops and frees. NULL is ignored. */
void tundev_free(struct tundev *td);

#endif
