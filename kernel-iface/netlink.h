/* SPDX-License-Identifier: MIT */
/*
 * Links, addresses and routes through libnl-route (DESIGN §8). Nothing outside kernel-iface/
 * issues netlink calls.
 *
 * Routes we add carry protocol RTPROT_VERTEX in the main table, so cleanup finds exactly ours
 * (STYLE §19); addresses are found through the interface, which is ours by name.
 */
#ifndef VERTEX_NETLINK_H
#define VERTEX_NETLINK_H

#include <stdint.h>

enum { RTPROT_VERTEX = 0x56 }; /* 'V'; unused by the kernel and by common routing daemons */

struct netlink;

int netlink_open(struct netlink **out);
void netlink_close(struct netlink *nl);

/* Sets the MTU and brings the link up. */
int netlink_link_up(struct netlink *nl, int ifindex, unsigned mtu);
/* Adds addr/prefixlen (family AF_INET or AF_INET6, addr 4 or 16 bytes) to the link. */
int netlink_addr_add(struct netlink *nl, int ifindex, int family, const void *addr,
		     unsigned prefixlen);
/* Adds prefix/len via the link, tagged RTPROT_VERTEX. */
int netlink_route_add(struct netlink *nl, int ifindex, int family, const void *prefix,
		      unsigned prefixlen);
/*
 * Clears what a crash could leave: the link called ifname if it exists (a persistent leftover)
 * and every route tagged RTPROT_VERTEX. Returns the number of objects removed, or -errno.
 */
int netlink_cleanup_stale(struct netlink *nl, const char *ifname);
/* Removes our routes (shutdown); the TUN device takes its addresses with it when closed. */
int netlink_routes_flush(struct netlink *nl);

#endif
