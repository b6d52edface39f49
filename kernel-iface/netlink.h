/* SPDX-License-Identifier: MIT */
/*
 * Links, addresses and routes through libnl-route (DESIGN §8). Nothing outside kernel-iface/
 * issues netlink calls.
 *
 * Routes we add carry protocol RTPROT_VERTEX in the main table and go through our own device, so
 * cleanup finds exactly ours (STYLE §19) and never another agent's on the same host; addresses
 * are found through the interface, which is ours by name.
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
 * Clears what an earlier run could leave: a TUN device called ifname that no process holds (a
 * persistent leftover), which takes its addresses and routes with it. Routes need no sweep of
 * their own: the kernel deletes a route with its device. A device of that name held by a live
 * process is another agent's: -EBUSY, and it is left alone. Returns 0/1 removed, or -errno.
 */
int netlink_cleanup_stale(struct netlink *nl, const char *ifname);
/*
 * Removes the routes tagged RTPROT_VERTEX that go through ifindex (shutdown). Only ours: another
 * agent on the same host has its own interface and its routes are not touched. 0 or -errno.
 */
int netlink_routes_flush(struct netlink *nl, int ifindex);

#endif
