/* SPDX-License-Identifier: MIT */
/*
 * Counts per source network, for limits such as "connections from one address that have not
 * said who they are": an IPv4 address, or an IPv6 /64 (what one subscriber usually holds, so
 * stepping through one's own prefix earns nothing). IPv4-mapped IPv6 addresses count as IPv4.
 *
 * The table is allocated once for max_keys networks with a non-zero count; a network whose
 * count drops to zero leaves it. Nothing is allocated afterwards, so a flood of sources costs
 * time, never memory.
 */
#ifndef VERTEX_ADDRCOUNT_H
#define VERTEX_ADDRCOUNT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct addrcount;

int addrcount_new(struct addrcount **out, size_t max_keys);
void addrcount_free(struct addrcount *t);
/* Adds one to addr's network; its new count, or 0 if the table is full or addr is neither
 * IPv4 nor IPv6 (nothing counted: the caller refuses). */
uint32_t addrcount_inc(struct addrcount *t, const struct sockaddr_storage *addr);
/* Takes one away (a network with no count is ignored). */
void addrcount_dec(struct addrcount *t, const struct sockaddr_storage *addr);
uint32_t addrcount_get(const struct addrcount *t, const struct sockaddr_storage *addr);
/*
 * The network addr counts in, as text: "198.18.0.5" for IPv4 (and IPv4-mapped IPv6),
 * "2001:db8:1:2::/64" for IPv6, "?" for anything else. The one key for every per-source limit
 * (rate limits too), so that a limit and a count never disagree about what "one source" is.
 * ADDRCOUNT_NET_MAX bytes are always enough.
 */
enum { ADDRCOUNT_NET_MAX = 48 };
void addrcount_net(const struct sockaddr_storage *addr, char *buf, size_t len);
/* Networks with a non-zero count. */
size_t addrcount_size(const struct addrcount *t);

#endif
