// SPDX-License-Identifier: MIT
/*
 * Links, addresses and routes through libnl-route, over one NETLINK_ROUTE socket.
 *
 * Every operation is synchronous (libnl waits for the kernel's ack), which keeps start-up and
 * shutdown ordering obvious; none of this is on the packet path. libnl reports its own error
 * codes (NLE_*), which we translate back to errno so callers see the house convention, and each
 * failure is logged here, naming the object, because only here do we know what was attempted.
 *
 * Adds are idempotent: "already exists" counts as success, so a restart that finds an address or
 * route still in place (the device was attached, not created) proceeds. Routes we add carry
 * RTPROT_VERTEX; cleanup deletes by that tag alone, so it never touches anyone else's routes.
 */
#include "kernel-iface/netlink.h"
#include "kernel-iface/tun.h"

#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

struct netlink {
	struct nl_sock *sk;
};

/* How a log line names an object: "100.64.0.0/10 dev vtx0", or "dev vtx0" for a link. */
struct netlink_desc {
	char s[INET6_ADDRSTRLEN + IFNAMSIZ + 16];
};

/*
 * The inverse of libnl's nl_syserr2nlerr(). It is lossy where libnl merged codes (ESRCH and
 * ENOENT both became NLE_OBJ_NOTFOUND); callers only need the class of failure.
 */
static int
netlink_errno(int nlerr)
{
	static const struct {
		int nle, err;
	} map[] = {
		{ NLE_BAD_SOCK, EBADF },
		{ NLE_EXIST, EEXIST },
		{ NLE_NOADDR, EADDRNOTAVAIL },
		{ NLE_OBJ_NOTFOUND, ENOENT },
		{ NLE_INTR, EINTR },
		{ NLE_AGAIN, EAGAIN },
		{ NLE_INVAL, EINVAL },
		{ NLE_NOACCESS, EACCES },
		{ NLE_NOMEM, ENOMEM },
		{ NLE_AF_NOSUPPORT, EAFNOSUPPORT },
		{ NLE_PROTO_MISMATCH, EPROTONOSUPPORT },
		{ NLE_OPNOTSUPP, EOPNOTSUPP },
		{ NLE_PERM, EPERM },
		{ NLE_BUSY, EBUSY },
		{ NLE_RANGE, ERANGE },
		{ NLE_NODEV, ENODEV },
		{ NLE_MSGSIZE, EMSGSIZE },
		{ NLE_MSG_TRUNC, EMSGSIZE },
		{ NLE_DUMP_INTR, EINTR },
		{ NLE_IMMUTABLE, EPERM },
	};
	int nle = nlerr < 0 ? -nlerr : nlerr;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].nle == nle)
			return -map[i].err;
	return -EIO;
}

static const char *
netlink_desc(struct netlink_desc *d, int ifindex, int family, const void *addr, unsigned plen)
{
	char a[INET6_ADDRSTRLEN] = "(bad family or address)", ifname[IF_NAMESIZE];

	if (addr && (family == AF_INET || family == AF_INET6))
		inet_ntop(family, addr, a, sizeof(a));
	if (!if_indextoname((unsigned)ifindex, ifname))
		snprintf(ifname, sizeof(ifname), "#%d", ifindex);
	if (family)
		snprintf(d->s, sizeof(d->s), "%s/%u dev %s", a, plen, ifname);
	else
		snprintf(d->s, sizeof(d->s), "dev %s", ifname);
	return d->s;
}

/* Validates family, prefix length and builds the libnl address. NULL on bad input or ENOMEM. */
static struct nl_addr *
netlink_prefix(int family, const void *addr, unsigned prefixlen)
{
	struct nl_addr *a;
	unsigned len = family == AF_INET ? 4 : 16;

	if ((family != AF_INET && family != AF_INET6) || !addr || prefixlen > len * 8)
		return NULL;
	a = nl_addr_build(family, addr, len);
	if (a)
		nl_addr_set_prefixlen(a, (int)prefixlen);
	return a;
}

/* Ownership: on success *out is owned by the caller, freed with netlink_close(). */
int
netlink_open(struct netlink **out)
{
	struct netlink *nl = calloc(1, sizeof(*nl));
	int err;

	if (!nl)
		return -ENOMEM;
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		err = -ENOMEM;
		goto err_free;
	}
	err = nl_connect(nl->sk, NETLINK_ROUTE);
	if (err < 0) {
		err = netlink_errno(err);
		log_warnx("netlink: cannot open a routing socket: %s", strerror(-err));
		goto err_sock;
	}
	*out = nl;
	return 0;

err_sock:
	nl_socket_free(nl->sk);
err_free:
	free(nl);
	return err;
}

void
netlink_close(struct netlink *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk); /* also closes the socket */
	free(nl);
}

int
netlink_link_up(struct netlink *nl, int ifindex, unsigned mtu)
{
	struct rtnl_link *link = NULL, *change;
	struct netlink_desc d;
	int err;

	/* rtnl_link_change() wants the current object; fetching it also checks the index. */
	err = rtnl_link_get_kernel(nl->sk, ifindex, NULL, &link);
	if (err < 0)
		goto out;
	change = rtnl_link_alloc();
	if (!change) {
		err = -NLE_NOMEM;
		goto out;
	}
	rtnl_link_set_mtu(change, mtu);
	rtnl_link_set_flags(change, IFF_UP);
	err = rtnl_link_change(nl->sk, link, change, 0);
	rtnl_link_put(change);
out:
	rtnl_link_put(link);
	if (err >= 0)
		return 0;
	err = netlink_errno(err);
	log_warnx("netlink: setting mtu %u and up on %s: %s", mtu,
		  netlink_desc(&d, ifindex, 0, NULL, 0), strerror(-err));
	return err;
}

int
netlink_addr_add(struct netlink *nl, int ifindex, int family, const void *addr, unsigned prefixlen)
{
	struct nl_addr *local = netlink_prefix(family, addr, prefixlen);
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct netlink_desc d;
	int err = -NLE_INVAL;

	if (!local || !a)
		goto out;
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, family);
	err = rtnl_addr_set_local(a, local);
	if (err < 0)
		goto out;
	rtnl_addr_set_prefixlen(a, (int)prefixlen);
	/* The overlay has no duplicates to detect; DAD would hold the address back for a second. */
	if (family == AF_INET6)
		rtnl_addr_set_flags(a, IFA_F_NODAD);
	err = rtnl_addr_add(nl->sk, a, 0);
out:
	rtnl_addr_put(a);
	nl_addr_put(local);
	if (err >= 0 || err == -NLE_EXIST)
		return 0;
	err = netlink_errno(err);
	log_warnx("netlink: adding address %s: %s",
		  netlink_desc(&d, ifindex, family, addr, prefixlen), strerror(-err));
	return err;
}

int
netlink_route_add(struct netlink *nl, int ifindex, int family, const void *prefix,
		  unsigned prefixlen)
{
	struct nl_addr *dst = netlink_prefix(family, prefix, prefixlen);
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct netlink_desc d;
	int err = -NLE_INVAL;

	if (!dst || !r || !nh)
		goto out;
	rtnl_route_set_family(r, (uint8_t)family);
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_protocol(r, RTPROT_VERTEX);
	rtnl_route_set_type(r, RTN_UNICAST);
	rtnl_route_set_scope(r, RT_SCOPE_LINK); /* on-link: the TUN has no gateways */
	err = rtnl_route_set_dst(r, dst);
	if (err < 0)
		goto out;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(r, nh); /* the route owns nh from here */
	nh = NULL;
	err = rtnl_route_add(nl->sk, r, 0);
out:
	if (nh)
		rtnl_route_nh_free(nh);
	rtnl_route_put(r);
	nl_addr_put(dst);
	if (err >= 0 || err == -NLE_EXIST)
		return 0;
	err = netlink_errno(err);
	log_warnx("netlink: adding route %s: %s",
		  netlink_desc(&d, ifindex, family, prefix, prefixlen), strerror(-err));
	return err;
}

/* The device a route's (first) next hop goes through, 0 if none. */
static int
netlink_route_ifindex(struct rtnl_route *r)
{
	struct rtnl_nexthop *nh =
	    rtnl_route_get_nnexthops(r) > 0 ? rtnl_route_nexthop_n(r, 0) : NULL;

	return nh ? rtnl_route_nh_get_ifindex(nh) : 0;
}

/*
 * Deletes the routes tagged RTPROT_VERTEX through ifindex, in any table and family. A route that
 * vanished meanwhile (its link went away) is not an error. Returns the number deleted, or -errno.
 */
static int
netlink_routes_delete_tagged(struct netlink *nl, int ifindex)
{
	struct nl_cache *cache;
	struct nl_object *o;
	int err, n = 0, first_err = 0;

	err = rtnl_route_alloc_cache(nl->sk, AF_UNSPEC, 0, &cache);
	if (err < 0) {
		err = netlink_errno(err);
		log_warnx("netlink: listing routes: %s", strerror(-err));
		return err;
	}
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		char dst[INET6_ADDRSTRLEN + 8];

		if (rtnl_route_get_protocol(r) != RTPROT_VERTEX ||
		    netlink_route_ifindex(r) != ifindex)
			continue;
		err = rtnl_route_delete(nl->sk, r, 0);
		if (err >= 0) {
			n++;
			continue;
		}
		if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
			continue;
		err = netlink_errno(err);
		nl_addr2str(rtnl_route_get_dst(r), dst, sizeof(dst));
		log_warnx("netlink: deleting route %s: %s", dst, strerror(-err));
		if (!first_err)
			first_err = err;
	}
	nl_cache_free(cache);
	return first_err ? first_err : n;
}

/*
 * Deletes the TUN called ifname if one is left over. Only a TUN: a device of another kind with
 * our name is not ours to remove, and tun_open() will report the clash. Returns 0/1 or -errno.
 */
static int
netlink_link_delete_stale(struct netlink *nl, const char *ifname)
{
	struct rtnl_link *link = NULL;
	const char *kind;
	int err;

	err = rtnl_link_get_kernel(nl->sk, 0, ifname, &link);
	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
		return 0;
	if (err < 0)
		goto fail;
	kind = rtnl_link_get_type(link);
	if (!kind || strcmp(kind, "tun") != 0) {
		log_warnx("netlink: %s exists and is not a TUN device (%s); leaving it", ifname,
			  kind ? kind : "no kind");
		rtnl_link_put(link);
		return 0;
	}
	if (tun_is_held(ifname)) {
		log_warnx("netlink: %s is in use by another process (another vertexd?); "
			  "choose another interface name",
			  ifname);
		rtnl_link_put(link);
		return -EBUSY;
	}
	err = rtnl_link_delete(nl->sk, link);
	rtnl_link_put(link);
	if (err >= 0) {
		log_info("netlink: removed leftover device %s", ifname);
		return 1;
	}
fail:
	err = netlink_errno(err);
	log_warnx("netlink: removing leftover device %s: %s", ifname, strerror(-err));
	return err;
}

int
netlink_cleanup_stale(struct netlink *nl, const char *ifname)
{
	if (!ifname || !*ifname)
		return -EINVAL;
	return netlink_link_delete_stale(nl, ifname);
}

int
netlink_routes_flush(struct netlink *nl, int ifindex)
{
	int n = netlink_routes_delete_tagged(nl, ifindex);

	if (n > 0)
		log_debug(LOG_NETLINK, "netlink: flushed %d route(s)", n);
	return n < 0 ? n : 0;
}
