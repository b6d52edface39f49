/* SPDX-License-Identifier: MIT */
/*
 * The firewall in the kernel (docs/firewall.md), through libnftnl and libmnl: one table of our
 * own, `inet vertex`, changed only by atomic batches. Nothing outside kernel-iface/ talks
 * nftables.
 *
 *   table inet vertex
 *     map peers4 { ipv4_addr : verdict }     a peer's address as we see it : jump peer-INDEX
 *     map peers6 { ipv6_addr : verdict }
 *     chain filter   hook prerouting, priority -150 (after conntrack, before DNAT)
 *       iifname != IF accept; ct direction reply accept;
 *       ip saddr vmap @peers4; ip6 saddr vmap @peers6; counter drop
 *     chain peer-N   what peer N may reach (policy/policy.h: policy_peer_print)
 *     chain dnat     hook prerouting, priority -100: purposes with a local target
 *
 * Every packet a peer sends first (conntrack's original direction) goes through its chain, not
 * only the first of a connection: a revoked port stops at once, established or not.
 */
#ifndef VERTEX_NFT_H
#define VERTEX_NFT_H

#include <stddef.h>

#define NFT_TABLE_NAME "vertex"

struct nft;
struct policy_peer;
struct purpose;

/*
 * Opens the netlink socket and installs the table for interface ifname, with a DNAT rule per
 * purpose that has a local target, in one batch that also deletes a table left by a crash (so
 * there is exactly one). *out freed with nft_close. 0 or -errno.
 */
int nft_open(struct nft **out, const char *ifname, const struct purpose *purposes, size_t n);
/* Deletes the table and closes. NULL is ignored. */
void nft_close(struct nft *n);
/* Installs or replaces the chain and map entries of one peer: one batch. 0 or -errno. */
int nft_peer_set(struct nft *n, const struct policy_peer *pp);
/* Removes them (nothing if it was not installed): one batch. 0 or -errno. */
int nft_peer_del(struct nft *n, const struct policy_peer *pp);
/* Batches sent and failed since nft_open (for `vertex firewall`). */
void nft_counts(const struct nft *n, unsigned long *batches, unsigned long *failures);

#endif
