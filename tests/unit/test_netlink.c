// SPDX-License-Identifier: MIT
/*
 * Tests of kernel-iface/netlink.c against the real kernel, in a private network namespace the
 * test process makes for itself (unshare). Without root or /dev/net/tun they are skipped.
 *
 * Every effect is read back through a fresh libnl cache rather than trusted from return codes:
 * link flags and MTU, addresses, routes and their protocol tag.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/log.h"
#include "kernel-iface/netlink.h"
#include "kernel-iface/tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

static bool have_netns;

struct fixture {
	struct nl_sock *sk; /* our own socket, to read back independently of the module */
	struct netlink *nl;
	struct tun *tun;
	int ifindex;
};

static int
group_setup(void **state)
{
	log_init("test_netlink");
	if (geteuid() != 0 || access("/dev/net/tun", F_OK) != 0)
		return 0;
	have_netns = unshare(CLONE_NEWNET) == 0;
	return 0;
}

static int
setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	*state = &f;
	if (!have_netns)
		return 0;
	f.sk = nl_socket_alloc();
	if (!f.sk || nl_connect(f.sk, NETLINK_ROUTE) < 0)
		return -1;
	if (netlink_open(&f.nl) || tun_open(&f.tun, "vtxk0", 0))
		return -1;
	f.ifindex = tun_ifindex(f.tun);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tun_close(f->tun);
	netlink_close(f->nl);
	if (f->sk)
		nl_socket_free(f->sk);
	return 0;
}

static struct nl_addr *
prefix(const char *s)
{
	struct nl_addr *a = NULL;

	assert_int_equal(nl_addr_parse(s, AF_UNSPEC, &a), 0);
	return a;
}

/* The protocol of the main-table route to dst (e.g. "100.64.0.0/10"), or -1 if none. */
static int
route_protocol(struct nl_sock *sk, const char *dst)
{
	struct nl_addr *want = prefix(dst);
	struct nl_cache *cache;
	int proto = -1;

	assert_int_equal(rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &cache), 0);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;

		if (rtnl_route_get_table(r) == RT_TABLE_MAIN &&
		    !nl_addr_cmp(rtnl_route_get_dst(r), want))
			proto = rtnl_route_get_protocol(r);
	}
	nl_cache_free(cache);
	nl_addr_put(want);
	return proto;
}

static bool
has_addr(struct nl_sock *sk, int ifindex, const char *local)
{
	struct nl_addr *want = prefix(local);
	struct nl_cache *cache;
	bool found = false;

	assert_int_equal(rtnl_addr_alloc_cache(sk, &cache), 0);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;

		if (rtnl_addr_get_ifindex(a) == ifindex &&
		    !nl_addr_cmp(rtnl_addr_get_local(a), want))
			found = true;
	}
	nl_cache_free(cache);
	nl_addr_put(want);
	return found;
}

/* Adds a route the way another program would: protocol proto, via ifindex. */
static void
add_foreign_route(struct nl_sock *sk, int ifindex, const char *dst, uint8_t proto)
{
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = prefix(dst);

	rtnl_route_set_family(r, (uint8_t)nl_addr_get_family(d));
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_protocol(r, proto);
	assert_int_equal(rtnl_route_set_dst(r, d), 0);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(r, nh);
	assert_int_equal(rtnl_route_add(sk, r, 0), 0);
	rtnl_route_put(r);
	nl_addr_put(d);
}

static void
pton(int family, const char *s, void *out)
{
	assert_int_equal(inet_pton(family, s, out), 1);
}

static void
add_overlay(struct fixture *f)
{
	uint8_t a4[4], p4[4], a6[16], p6[16];

	pton(AF_INET, "100.64.0.1", a4);
	pton(AF_INET, "100.64.0.0", p4);
	pton(AF_INET6, "fd00:5678::1", a6);
	pton(AF_INET6, "fd00:5678::", p6);
	assert_int_equal(netlink_link_up(f->nl, f->ifindex, 1420), 0);
	assert_int_equal(netlink_addr_add(f->nl, f->ifindex, AF_INET, a4, 32), 0);
	assert_int_equal(netlink_addr_add(f->nl, f->ifindex, AF_INET6, a6, 128), 0);
	assert_int_equal(netlink_route_add(f->nl, f->ifindex, AF_INET, p4, 10), 0);
	assert_int_equal(netlink_route_add(f->nl, f->ifindex, AF_INET6, p6, 48), 0);
}

static void
test_netlink_link_up_sets_mtu_and_up(void **state)
{
	struct fixture *f = *state;
	struct rtnl_link *link;

	if (!have_netns)
		skip();
	assert_int_equal(netlink_link_up(f->nl, f->ifindex, 1420), 0);
	assert_int_equal(rtnl_link_get_kernel(f->sk, f->ifindex, NULL, &link), 0);
	assert_int_equal(rtnl_link_get_mtu(link), 1420);
	assert_true(rtnl_link_get_flags(link) & IFF_UP);
	rtnl_link_put(link);
	/* lo too: a fresh namespace starts with it down. */
	assert_int_equal(netlink_link_up(f->nl, (int)if_nametoindex("lo"), 65536), 0);
}

static void
test_netlink_addr_route_add_visible(void **state)
{
	struct fixture *f = *state;

	if (!have_netns)
		skip();
	add_overlay(f);
	assert_true(has_addr(f->sk, f->ifindex, "100.64.0.1/32"));
	assert_true(has_addr(f->sk, f->ifindex, "fd00:5678::1/128"));
	assert_int_equal(route_protocol(f->sk, "100.64.0.0/10"), RTPROT_VERTEX);
	assert_int_equal(route_protocol(f->sk, "fd00:5678::/48"), RTPROT_VERTEX);
}

/* A restart that finds its state still in place must go on, not fail on "File exists". */
static void
test_netlink_add_idempotent(void **state)
{
	struct fixture *f = *state;

	if (!have_netns)
		skip();
	add_overlay(f);
	add_overlay(f);
	assert_int_equal(route_protocol(f->sk, "100.64.0.0/10"), RTPROT_VERTEX);
}

static void
test_netlink_addr_add_ipv6_nodad(void **state)
{
	struct fixture *f = *state;
	struct nl_cache *cache;
	uint8_t a6[16];
	unsigned flags = 0;

	if (!have_netns)
		skip();
	assert_int_equal(netlink_link_up(f->nl, f->ifindex, 1420), 0);
	pton(AF_INET6, "fd00:5678::1", a6);
	assert_int_equal(netlink_addr_add(f->nl, f->ifindex, AF_INET6, a6, 128), 0);
	assert_int_equal(rtnl_addr_alloc_cache(f->sk, &cache), 0);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;

		if (rtnl_addr_get_ifindex(a) == f->ifindex && rtnl_addr_get_prefixlen(a) == 128)
			flags = rtnl_addr_get_flags(a);
	}
	nl_cache_free(cache);
	/* Usable at once: no DAD, hence never tentative. */
	assert_true(flags & IFA_F_NODAD);
	assert_false(flags & IFA_F_TENTATIVE);
}

/*
 * A flush takes exactly the routes tagged 0x56 through our device, in both families: not the
 * untagged ones, and not tagged routes through another device (another agent's interface).
 */
static void
test_netlink_routes_flush_only_our_device(void **state)
{
	struct fixture *f = *state;
	int lo = (int)if_nametoindex("lo");

	if (!have_netns)
		skip();
	add_overlay(f);
	add_foreign_route(f->sk, f->ifindex, "198.18.7.0/24", RTPROT_STATIC);
	add_foreign_route(f->sk, f->ifindex, "fd00:9999::/64", RTPROT_BOOT);
	add_foreign_route(f->sk, lo, "198.18.9.0/24", RTPROT_VERTEX);
	assert_int_equal(netlink_routes_flush(f->nl, f->ifindex), 0);
	assert_int_equal(route_protocol(f->sk, "100.64.0.0/10"), -1);
	assert_int_equal(route_protocol(f->sk, "fd00:5678::/48"), -1);
	assert_int_equal(route_protocol(f->sk, "198.18.7.0/24"), RTPROT_STATIC);
	assert_int_equal(route_protocol(f->sk, "fd00:9999::/64"), RTPROT_BOOT);
	assert_int_equal(route_protocol(f->sk, "198.18.9.0/24"), RTPROT_VERTEX);
	/* Flushing the other device takes its tagged route; a second flush finds nothing. */
	assert_int_equal(netlink_routes_flush(f->nl, lo), 0);
	assert_int_equal(route_protocol(f->sk, "198.18.9.0/24"), -1);
	assert_int_equal(netlink_routes_flush(f->nl, f->ifindex), 0);
}

/* A TUN of our name that a live process holds is another agent's: refused, and left alone. */
static void
test_netlink_cleanup_stale_refuses_held_device(void **state)
{
	struct fixture *f = *state;

	if (!have_netns)
		skip();
	assert_true(tun_is_held(tun_name(f->tun)));
	assert_int_equal(netlink_cleanup_stale(f->nl, tun_name(f->tun)), -EBUSY);
	assert_int_equal((int)if_nametoindex(tun_name(f->tun)), f->ifindex);
	assert_false(tun_is_held("vtxknone"));
}

/* A persistent TUN with our name (what an old crash-prone version could leave) is deleted. */
static void
test_netlink_cleanup_stale_removes_link(void **state)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	struct fixture *f = *state;
	int fd;

	if (!have_netns)
		skip();
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	strcpy(ifr.ifr_name, "vtxkstale");
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
	assert_int_not_equal(if_nametoindex("vtxkstale"), 0);
	assert_int_equal(netlink_cleanup_stale(f->nl, "vtxkstale"), 1);
	assert_int_equal(if_nametoindex("vtxkstale"), 0);
	/* An absent link is not an error. */
	assert_int_equal(netlink_cleanup_stale(f->nl, "vtxkstale"), 0);
}

/* A device of another kind that happens to carry our name is left alone. */
static void
test_netlink_cleanup_stale_keeps_non_tun(void **state)
{
	struct fixture *f = *state;

	if (!have_netns)
		skip();
	assert_int_equal(netlink_cleanup_stale(f->nl, "lo"), 0);
	assert_int_not_equal(if_nametoindex("lo"), 0);
}

static void
test_netlink_routes_flush_removes_ours(void **state)
{
	struct fixture *f = *state;

	if (!have_netns)
		skip();
	add_overlay(f);
	add_foreign_route(f->sk, f->ifindex, "198.18.8.0/24", RTPROT_STATIC);
	assert_int_equal(netlink_routes_flush(f->nl, f->ifindex), 0);
	assert_int_equal(route_protocol(f->sk, "100.64.0.0/10"), -1);
	assert_int_equal(route_protocol(f->sk, "fd00:5678::/48"), -1);
	assert_int_equal(route_protocol(f->sk, "198.18.8.0/24"), RTPROT_STATIC);
}

static void
test_netlink_bad_ifindex_fails(void **state)
{
	struct fixture *f = *state;
	uint8_t a4[4] = { 100, 64, 0, 1 };

	if (!have_netns)
		skip();
	assert_int_equal(netlink_link_up(f->nl, 999999, 1420), -ENODEV);
	assert_true(netlink_addr_add(f->nl, 999999, AF_INET, a4, 32) < 0);
	assert_true(netlink_route_add(f->nl, 999999, AF_INET, a4, 32) < 0);
}

static void
test_netlink_bad_arguments_einval(void **state)
{
	struct fixture *f = *state;
	uint8_t a[16] = { 100, 64 };

	if (!have_netns)
		skip();
	assert_int_equal(netlink_addr_add(f->nl, f->ifindex, AF_INET, a, 33), -EINVAL);
	assert_int_equal(netlink_addr_add(f->nl, f->ifindex, AF_INET6, a, 129), -EINVAL);
	assert_int_equal(netlink_route_add(f->nl, f->ifindex, AF_PACKET, a, 8), -EINVAL);
	assert_int_equal(netlink_route_add(f->nl, f->ifindex, AF_INET, NULL, 8), -EINVAL);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_netlink_link_up_sets_mtu_and_up),
		T(test_netlink_addr_route_add_visible),
		T(test_netlink_add_idempotent),
		T(test_netlink_addr_add_ipv6_nodad),
		T(test_netlink_routes_flush_only_our_device),
		T(test_netlink_cleanup_stale_refuses_held_device),
		T(test_netlink_cleanup_stale_removes_link),
		T(test_netlink_cleanup_stale_keeps_non_tun),
		T(test_netlink_routes_flush_removes_ours),
		T(test_netlink_bad_ifindex_fails),
		T(test_netlink_bad_arguments_einval),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
