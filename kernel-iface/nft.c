// SPDX-License-Identifier: MIT
/*
 * The firewall's table, through libnftnl and libmnl (nft.h). Every change is one batch: the
 * kernel applies all of it or nothing. The table is ours alone (STYLE §19): created in the same
 * batch that deletes what a crash left, deleted on close.
 *
 * A batch is sent without per-message acknowledgements (thousands of acks would overflow the
 * socket's buffer at start) but with one on its last message; the kernel handles a batch
 * synchronously inside sendmsg, so its answers are all queued when sendto returns, and are read
 * without blocking.
 */
#include "kernel-iface/nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "policy/policy.h"
#include "rendezvous/purpose.h"

enum {
	NFT_BATCH_LIMIT = 256 * 1024, /* the buffer is twice this: the last message may overrun */
	NFT_FILTER_PRIORITY = -150,   /* after conntrack (-200), before DNAT (-100) */
	NFT_DNAT_PRIORITY = -100,
	NFT_SET_ID4 = 1,
	NFT_SET_ID6 = 2,
	NFT_TYPE_IPADDR = 7, /* nft's datatype numbers, for `nft list` to print the keys */
	NFT_TYPE_IP6ADDR = 8,
	NFT_PEERS_MAX = 65536,
};

struct nft {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char ifname[IFNAMSIZ];
	uint32_t *installed; /* the peer chains in the table, by overlay index (unordered) */
	size_t ninstalled, capinstalled;
	unsigned long batches, failures;
};

struct nft_batch {
	struct nft *n;
	char *buf;
	struct mnl_nlmsg_batch *b;
	struct nlmsghdr *last;
	bool bad; /* out of memory or room: not sent */
};

/* --- batches --- */

static int
nft_batch_start(struct nft *n, struct nft_batch *bt)
{
	memset(bt, 0, sizeof(*bt));
	bt->n = n;
	if (!(bt->buf = malloc(2 * NFT_BATCH_LIMIT)))
		return -ENOMEM;
	bt->b = mnl_nlmsg_batch_start(bt->buf, NFT_BATCH_LIMIT);
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), n->seq++);
	mnl_nlmsg_batch_next(bt->b);
	return 0;
}

static struct nlmsghdr *
nft_batch_msg(struct nft_batch *bt, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type,
						   NFPROTO_INET, flags, bt->n->seq++);

	bt->last = h;
	return h;
}

static void
nft_batch_next(struct nft_batch *bt)
{
	if (!mnl_nlmsg_batch_next(bt->b))
		bt->bad = true;
}

/* The first error among the kernel's answers, read without blocking; 0 if none. */
static int
nft_read_answers(struct nft *n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int err = 0;
	ssize_t len;

	while ((len = recv(mnl_socket_get_fd(n->nl), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		size_t left = (size_t)len;

		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, (int)left);
		     h = mnl_nlmsg_next(h, (int *)&left)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);

			if (h->nlmsg_type == NLMSG_ERROR && e->error && !err)
				err = e->error;
		}
	}
	if (len < 0 && errno != EAGAIN && errno != EWOULDBLOCK && !err)
		err = -errno;
	return err;
}

/* Sends the batch and frees it. 0 or -errno (the kernel's first). */
static int
nft_batch_send(struct nft_batch *bt)
{
	struct nft *n = bt->n;
	int err = 0;

	if (bt->bad) {
		err = -ENOBUFS;
		goto out;
	}
	if (bt->last)
		bt->last->nlmsg_flags |= NLM_F_ACK;
	nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), n->seq++);
	mnl_nlmsg_batch_next(bt->b);
	if (mnl_socket_sendto(n->nl, mnl_nlmsg_batch_head(bt->b), mnl_nlmsg_batch_size(bt->b)) < 0)
		err = -errno;
	else
		err = nft_read_answers(n);
out:
	n->batches++;
	if (err)
		n->failures++;
	mnl_nlmsg_batch_stop(bt->b);
	free(bt->buf);
	return err;
}

/* --- objects --- */

static void
nft_batch_table(struct nft_batch *bt, uint16_t type, uint16_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t) {
		bt->bad = true;
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE_NAME);
	nftnl_table_nlmsg_build_payload(nft_batch_msg(bt, type, flags), t);
	nft_batch_next(bt);
	nftnl_table_free(t);
}

/* A chain: a base chain when hook >= 0. */
static void
nft_batch_chain(struct nft_batch *bt, uint16_t type, const char *name, int hook, int prio,
		const char *kind)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c) {
		bt->bad = true;
		return;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE_NAME);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (hook >= 0) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, kind);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	nftnl_chain_nlmsg_build_payload(
	    nft_batch_msg(bt, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0), c);
	nft_batch_next(bt);
	nftnl_chain_free(c);
}

static void
nft_batch_map(struct nft_batch *bt, const char *name, uint32_t id, uint32_t keytype,
	      uint32_t keylen)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s) {
		bt->bad = true;
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE_NAME);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, keytype);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, keylen);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
	nftnl_set_nlmsg_build_payload(nft_batch_msg(bt, NFT_MSG_NEWSET, NLM_F_CREATE), s);
	nft_batch_next(bt);
	nftnl_set_free(s);
}

/* One element of a map: key -> jump chain (add), or its removal (chain NULL). */
static void
nft_batch_elem(struct nft_batch *bt, const char *map, const void *key, size_t keylen,
	       const char *chain)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!s || !e) {
		nftnl_set_free(s);
		nftnl_set_elem_free(e);
		bt->bad = true;
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE_NAME);
	nftnl_set_set_str(s, NFTNL_SET_NAME, map);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)keylen);
	if (chain) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)NFT_JUMP);
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain);
	}
	nftnl_set_elem_add(s, e);
	nftnl_set_elems_nlmsg_build_payload(
	    nft_batch_msg(bt, chain ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
			  chain ? NLM_F_CREATE : 0),
	    s);
	nft_batch_next(bt);
	nftnl_set_free(s);
}

/* --- rules, built expression by expression --- */

struct nft_rule {
	struct nftnl_rule *r;
	bool bad;
};

static struct nftnl_expr *
nft_expr(struct nft_rule *nr, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (!e)
		nr->bad = true;
	else
		nftnl_rule_add_expr(nr->r, e);
	return e;
}

static void
nft_meta(struct nft_rule *nr, uint32_t key)
{
	struct nftnl_expr *e = nft_expr(nr, "meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
}

static void
nft_cmp(struct nft_rule *nr, uint32_t op, const void *data, size_t len)
{
	struct nftnl_expr *e = nft_expr(nr, "cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, (uint32_t)len);
	}
}

static void
nft_meta_is(struct nft_rule *nr, uint32_t key, uint8_t v)
{
	nft_meta(nr, key);
	nft_cmp(nr, NFT_CMP_EQ, &v, 1);
}

static void
nft_payload(struct nft_rule *nr, uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = nft_expr(nr, "payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
}

static void
nft_verdict(struct nft_rule *nr, int verdict)
{
	struct nftnl_expr *e = nft_expr(nr, "immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	}
}

static void
nft_imm(struct nft_rule *nr, uint32_t reg, const void *data, size_t len)
{
	struct nftnl_expr *e = nft_expr(nr, "immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, (uint32_t)len);
	}
}

static void
nft_ct(struct nft_rule *nr, uint32_t key)
{
	struct nftnl_expr *e = nft_expr(nr, "ct");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
}

/* ct state & bits != 0 */
static void
nft_ct_state(struct nft_rule *nr, uint32_t bits)
{
	struct nftnl_expr *e;
	uint32_t zero = 0;

	nft_ct(nr, NFT_CT_STATE);
	if ((e = nft_expr(nr, "bitwise"))) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &bits, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	}
	nft_cmp(nr, NFT_CMP_NEQ, &zero, 4);
}

static void
nft_counter(struct nft_rule *nr)
{
	(void)nft_expr(nr, "counter");
}

static int
nft_rule_start(struct nft_rule *nr, const char *chain)
{
	nr->bad = false;
	if (!(nr->r = nftnl_rule_alloc()))
		return -ENOMEM;
	nftnl_rule_set_str(nr->r, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
	nftnl_rule_set_str(nr->r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(nr->r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	return 0;
}

/* Appends the rule to the batch and frees it. */
static void
nft_rule_end(struct nft_batch *bt, struct nft_rule *nr)
{
	if (nr->bad) {
		bt->bad = true;
	} else {
		nftnl_rule_nlmsg_build_payload(
		    nft_batch_msg(bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND), nr->r);
		nft_batch_next(bt);
	}
	nftnl_rule_free(nr->r);
}

/* --- the table --- */

static void
nft_filter_rules(struct nft_batch *bt, const char *ifname)
{
	char name[IFNAMSIZ] = { 0 };
	struct nft_rule nr;
	uint8_t reply = IP_CT_DIR_REPLY;

	snprintf(name, sizeof(name), "%s", ifname);
	if (nft_rule_start(&nr, "filter") == 0) { /* iifname != IF accept */
		nft_meta(&nr, NFT_META_IIFNAME);
		nft_cmp(&nr, NFT_CMP_NEQ, name, strlen(name) + 1);
		nft_verdict(&nr, NF_ACCEPT);
		nft_rule_end(bt, &nr);
	}
	if (nft_rule_start(&nr, "filter") == 0) { /* ct direction reply accept */
		nft_ct(&nr, NFT_CT_DIRECTION);
		nft_cmp(&nr, NFT_CMP_EQ, &reply, 1);
		nft_verdict(&nr, NF_ACCEPT);
		nft_rule_end(bt, &nr);
	}
	for (int v6 = 0; v6 < 2; v6++) { /* ip saddr vmap @peers4, ip6 saddr vmap @peers6 */
		struct nftnl_expr *e;

		if (nft_rule_start(&nr, "filter"))
			continue;
		nft_meta_is(&nr, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
		nft_payload(&nr, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 8 : 12, v6 ? 16 : 4);
		if ((e = nft_expr(&nr, "lookup"))) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
			nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, v6 ? "peers6" : "peers4");
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID,
					   v6 ? NFT_SET_ID6 : NFT_SET_ID4);
		}
		nft_rule_end(bt, &nr);
	}
	if (nft_rule_start(&nr, "filter") == 0) { /* counter drop */
		nft_counter(&nr);
		nft_verdict(&nr, NF_DROP);
		nft_rule_end(bt, &nr);
	}
}

/* iifname IF ip|ip6 l4proto P th dport PORT dnat to TARGET */
static void
nft_dnat_rule(struct nft_batch *bt, const char *ifname, const struct purpose *p)
{
	char name[IFNAMSIZ] = { 0 };
	bool v6 = p->target.ss_family == AF_INET6;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&p->target;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&p->target;
	uint16_t port = htons(p->port), to = v6 ? sin6->sin6_port : sin->sin_port;
	struct nftnl_expr *e;
	struct nft_rule nr;

	if (nft_rule_start(&nr, "dnat")) {
		bt->bad = true;
		return;
	}
	snprintf(name, sizeof(name), "%s", ifname);
	nft_meta(&nr, NFT_META_IIFNAME);
	nft_cmp(&nr, NFT_CMP_EQ, name, strlen(name) + 1);
	nft_meta_is(&nr, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	nft_meta_is(&nr, NFT_META_L4PROTO, p->proto);
	nft_payload(&nr, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	nft_cmp(&nr, NFT_CMP_EQ, &port, 2);
	if (v6)
		nft_imm(&nr, NFT_REG_1, &sin6->sin6_addr, 16);
	else
		nft_imm(&nr, NFT_REG_1, &sin->sin_addr, 4);
	nft_imm(&nr, NFT_REG_2, &to, 2);
	if ((e = nft_expr(&nr, "nat"))) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS,
				   NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
	}
	nft_rule_end(bt, &nr);
}

/*
 * DNAT to 127.0.0.1 from another interface needs route_localnet on it (the kernel drops such
 * packets as martians otherwise). Only for IPv4: IPv6 has no such switch (docs/firewall.md).
 */
static int
nft_route_localnet(const char *ifname)
{
	char path[128];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", ifname);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (write(fd, "1", 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

static bool
nft_is_loopback_target(const struct purpose *p)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&p->target;

	return p->target.ss_family == AF_INET && (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
}

/* The whole table, replacing any: add (so that the delete finds one), delete, create. */
static int
nft_install(struct nft *n, const struct purpose *purposes, size_t np)
{
	struct nft_batch bt;
	bool dnat = false;
	int err;

	for (size_t i = 0; i < np; i++) /* first: a failure leaves no table behind */
		if (nft_is_loopback_target(&purposes[i]) && (err = nft_route_localnet(n->ifname)))
			return err;
	if ((err = nft_batch_start(n, &bt)))
		return err;
	nft_batch_table(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	nft_batch_table(&bt, NFT_MSG_DELTABLE, 0);
	nft_batch_table(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL);
	nft_batch_map(&bt, "peers4", NFT_SET_ID4, NFT_TYPE_IPADDR, 4);
	nft_batch_map(&bt, "peers6", NFT_SET_ID6, NFT_TYPE_IP6ADDR, 16);
	nft_batch_chain(&bt, NFT_MSG_NEWCHAIN, "filter", NF_INET_PRE_ROUTING, NFT_FILTER_PRIORITY,
			"filter");
	nft_filter_rules(&bt, n->ifname);
	for (size_t i = 0; i < np; i++)
		dnat |= purpose_has_target(&purposes[i]);
	if (dnat) {
		nft_batch_chain(&bt, NFT_MSG_NEWCHAIN, "dnat", NF_INET_PRE_ROUTING,
				NFT_DNAT_PRIORITY, "nat");
		for (size_t i = 0; i < np; i++)
			if (purpose_has_target(&purposes[i]))
				nft_dnat_rule(&bt, n->ifname, &purposes[i]);
	}
	return nft_batch_send(&bt);
}

int
nft_open(struct nft **out, const char *ifname, const struct purpose *purposes, size_t n)
{
	struct nft *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return -ENOMEM;
	snprintf(f->ifname, sizeof(f->ifname), "%s", ifname);
	f->seq = 1;
	if (!(f->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC))) {
		err = -errno;
		goto err_free;
	}
	if (mnl_socket_bind(f->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto err_close;
	}
	f->portid = mnl_socket_get_portid(f->nl);
	if ((err = nft_install(f, purposes, n)))
		goto err_close;
	*out = f;
	return 0;
err_close:
	mnl_socket_close(f->nl);
err_free:
	free(f);
	return err;
}

void
nft_close(struct nft *n)
{
	struct nft_batch bt;

	if (!n)
		return;
	if (nft_batch_start(n, &bt) == 0) {
		nft_batch_table(&bt, NFT_MSG_DELTABLE, 0);
		(void)nft_batch_send(&bt); /* gone already is fine */
	}
	mnl_socket_close(n->nl);
	free(n->installed);
	free(n);
}

/* --- peers --- */

static ssize_t
nft_installed_find(const struct nft *n, uint32_t index)
{
	for (size_t i = 0; i < n->ninstalled; i++)
		if (n->installed[i] == index)
			return (ssize_t)i;
	return -1;
}

static int
nft_installed_add(struct nft *n, uint32_t index)
{
	if (n->ninstalled == n->capinstalled) {
		size_t cap = n->capinstalled ? 2 * n->capinstalled : 16;
		uint32_t *v = realloc(n->installed, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		n->installed = v;
		n->capinstalled = cap;
	}
	n->installed[n->ninstalled++] = index;
	return 0;
}

static bool
nft_is_zero(const uint8_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i])
			return false;
	return true;
}

static void
nft_peer_port_rule(struct nft_batch *bt, const char *chain, const struct policy_port *pt)
{
	uint16_t lo = htons(pt->lo), hi = htons(pt->hi);
	struct nft_rule nr;

	if (nft_rule_start(&nr, chain)) {
		bt->bad = true;
		return;
	}
	nft_meta_is(&nr, NFT_META_L4PROTO, pt->proto);
	nft_payload(&nr, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	if (pt->lo == pt->hi) {
		nft_cmp(&nr, NFT_CMP_EQ, &lo, 2);
	} else {
		nft_cmp(&nr, NFT_CMP_GTE, &lo, 2);
		nft_cmp(&nr, NFT_CMP_LTE, &hi, 2);
	}
	nft_verdict(&nr, NF_ACCEPT);
	nft_rule_end(bt, &nr);
}

/* The rules of a peer's chain, as policy_peer_print lists them. */
static void
nft_peer_rules(struct nft_batch *bt, const char *chain, const struct policy_peer *pp)
{
	struct nft_rule nr;

	if (pp->outbound_only)
		return;
	if (pp->all) {
		if (nft_rule_start(&nr, chain) == 0) {
			nft_verdict(&nr, NF_ACCEPT);
			nft_rule_end(bt, &nr);
		}
		return;
	}
	if (nft_rule_start(&nr, chain) == 0) {
		nft_ct_state(&nr, NF_CT_STATE_BIT(IP_CT_RELATED));
		nft_verdict(&nr, NF_ACCEPT);
		nft_rule_end(bt, &nr);
	}
	for (size_t i = 0; i < pp->nports; i++)
		nft_peer_port_rule(bt, chain, &pp->ports[i]);
	for (int v6 = 0; pp->icmp_echo && v6 < 2; v6++) {
		if (nft_rule_start(&nr, chain))
			continue;
		nft_meta_is(&nr, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
		nft_meta_is(&nr, NFT_META_L4PROTO, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
		nft_payload(&nr, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
		nft_cmp(&nr, NFT_CMP_EQ, &(uint8_t){ v6 ? 128 : 8 }, 1);
		nft_verdict(&nr, NF_ACCEPT);
		nft_rule_end(bt, &nr);
	}
}

int
nft_peer_set(struct nft *n, const struct policy_peer *pp)
{
	bool known = nft_installed_find(n, pp->index) >= 0;
	struct nft_batch bt;
	char chain[32];
	int err;

	if (!known && n->ninstalled >= NFT_PEERS_MAX)
		return -ENOSPC;
	snprintf(chain, sizeof(chain), "peer-%u", pp->index);
	if ((err = nft_batch_start(n, &bt)))
		return err;
	if (known) { /* flush the chain: its rules go, the chain and map entries stay */
		struct nftnl_rule *r = nftnl_rule_alloc();

		if (!r) {
			bt.bad = true;
		} else {
			nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
			nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
			nftnl_rule_nlmsg_build_payload(nft_batch_msg(&bt, NFT_MSG_DELRULE, 0), r);
			nft_batch_next(&bt);
			nftnl_rule_free(r);
		}
	} else {
		nft_batch_chain(&bt, NFT_MSG_NEWCHAIN, chain, -1, 0, NULL);
	}
	nft_peer_rules(&bt, chain, pp);
	if (!known) {
		if (!nft_is_zero(pp->addr4, 4))
			nft_batch_elem(&bt, "peers4", pp->addr4, 4, chain);
		if (!nft_is_zero(pp->addr6, 16))
			nft_batch_elem(&bt, "peers6", pp->addr6, 16, chain);
	}
	if ((err = nft_batch_send(&bt)))
		return err;
	return known ? 0 : nft_installed_add(n, pp->index);
}

int
nft_peer_del(struct nft *n, const struct policy_peer *pp)
{
	ssize_t at = nft_installed_find(n, pp->index);
	struct nft_batch bt;
	char chain[32];
	int err;

	if (at < 0)
		return 0;
	snprintf(chain, sizeof(chain), "peer-%u", pp->index);
	if ((err = nft_batch_start(n, &bt)))
		return err;
	if (!nft_is_zero(pp->addr4, 4))
		nft_batch_elem(&bt, "peers4", pp->addr4, 4, NULL);
	if (!nft_is_zero(pp->addr6, 16))
		nft_batch_elem(&bt, "peers6", pp->addr6, 16, NULL);
	nft_batch_chain(&bt, NFT_MSG_DELCHAIN, chain, -1, 0, NULL);
	if ((err = nft_batch_send(&bt)))
		return err;
	n->installed[at] = n->installed[--n->ninstalled];
	return 0;
}

void
nft_counts(const struct nft *n, unsigned long *batches, unsigned long *failures)
{
	*batches = n->batches;
	*failures = n->failures;
}
