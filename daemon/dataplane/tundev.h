/* SPDX-License-Identifier: MIT */
/*
 * The TUN device as the data plane's packet device (dataplane.h struct pktdev): packets read
 * from it, up to TUNDEV_BATCH per loop turn, go to dataplane_send; packets the data plane
 * delivers are written to it. The device itself (open, name, addresses) is kernel-iface/'s.
 */
#ifndef VERTEX_TUNDEV_H
#define VERTEX_TUNDEV_H

struct dataplane;
struct ev_loop;
struct path_udp;
struct pkt_pool;
struct pktdev;
struct tun;
struct tundev;

enum { TUNDEV_BATCH = 64 }; /* packets read per loop turn */

/* Borrows everything; starts reading. *out freed with tundev_free. 0 or -errno. */
int tundev_new(struct tundev **out, struct ev_loop *loop, struct tun *tun, struct pkt_pool *pkts,
	       struct dataplane *dp, struct path_udp *udp);
void tundev_free(struct tundev *td);
/* The delivery side, for dataplane_new: writes to the TUN device. */
void tundev_pktdev(struct tun *tun, struct pktdev *out);

#endif
