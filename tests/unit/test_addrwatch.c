// SPDX-License-Identifier: MIT
/*
 * kernel-iface/addrwatch.c: the reader of rtnetlink notifications on crafted datagrams (news,
 * our own interface, other types, messages cut short or lying about their length), then the
 * watcher against the real kernel in a private network namespace the test makes for itself
 * (unshare; skipped without root): addresses added to a TUN device are one change per burst,
 * and the ignored interface is never news.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ev.h"
#include "core/log.h"
#include "kernel-iface/addrwatch.h"
#include "kernel-iface/addrwatch_parse.h"
#include "kernel-iface/netlink.h"
#include "kernel-iface/tun.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool have_netns;

/* Appends a message of type with an interface index to buf at *off; returns its start. */
static size_t
put_msg(uint8_t *buf, size_t *off, uint16_t type, int ifindex)
{
	struct nlmsghdr h = { .nlmsg_type = type };
	size_t start = *off, body;

	if (type == RTM_NEWADDR || type == RTM_DELADDR) {
		struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_index = (unsigned)ifindex };

		body = sizeof(ifa);
		memcpy(buf + start + sizeof(h), &ifa, body);
	} else {
		struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };

		body = sizeof(ifi);
		memcpy(buf + start + sizeof(h), &ifi, body);
	}
	h.nlmsg_len = (uint32_t)(sizeof(h) + body);
	memcpy(buf + start, &h, sizeof(h));
	*off += NLMSG_ALIGN(h.nlmsg_len);
	return start;
}

static void
test_addrwatch_parse_counts_news_and_the_rest(void **state)
{
	uint8_t buf[512] = { 0 };
	size_t off = 0, last;
	struct addrwatch_count c;

	(void)state;
	put_msg(buf, &off, RTM_NEWADDR, 2);
	put_msg(buf, &off, RTM_DELADDR, 3);
	put_msg(buf, &off, RTM_NEWLINK, 4);
	put_msg(buf, &off, RTM_NEWADDR, 9); /* the ignored interface */
	put_msg(buf, &off, RTM_NEWROUTE, 2);
	addrwatch_parse(buf, off, 9, &c);
	assert_int_equal(c.news, 3);
	assert_int_equal(c.ignored, 2);
	/* Nothing ignored: the overlay's message is news too. */
	addrwatch_parse(buf, off, 0, &c);
	assert_int_equal(c.news, 4);

	/* A body too short to name its interface is not news; the walk goes on. */
	off = 0;
	last = put_msg(buf, &off, RTM_NEWADDR, 2);
	{
		struct nlmsghdr h;

		memcpy(&h, buf + last, sizeof(h));
		h.nlmsg_len = sizeof(h) + 2;
		memcpy(buf + last, &h, sizeof(h));
		off = last + NLMSG_ALIGN(h.nlmsg_len);
	}
	put_msg(buf, &off, RTM_NEWLINK, 5);
	addrwatch_parse(buf, off, 0, &c);
	assert_int_equal(c.news, 1);
	assert_int_equal(c.ignored, 1);

	/* A length past the end, or shorter than a header: the walk stops there. */
	off = 0;
	put_msg(buf, &off, RTM_NEWADDR, 2);
	last = put_msg(buf, &off, RTM_NEWADDR, 3);
	{
		struct nlmsghdr h;

		memcpy(&h, buf + last, sizeof(h));
		h.nlmsg_len = 4096;
		memcpy(buf + last, &h, sizeof(h));
	}
	addrwatch_parse(buf, off, 0, &c);
	assert_int_equal(c.news, 1);
	addrwatch_parse(buf, 7, 0, &c);
	assert_int_equal(c.news + c.ignored, 0);
	{
		struct nlmsghdr h = { .nlmsg_len = 3, .nlmsg_type = RTM_NEWADDR };

		memcpy(buf, &h, sizeof(h));
		addrwatch_parse(buf, 64, 0, &c);
		assert_int_equal(c.news + c.ignored, 0);
	}
}

struct watched {
	struct ev_loop *loop;
	unsigned changes;
};

static void
on_change(void *arg)
{
	((struct watched *)arg)->changes++;
}

/* Runs the loop for about ms on the real clock. */
static void
run_for(struct ev_loop *loop, uint64_t ms)
{
	uint64_t until = ev_clock_ms() + ms;

	while (ev_clock_ms() < until)
		assert_int_equal(ev_run_once(loop, (int)(until - ev_clock_ms()) + 1), 0);
}

static void
test_addrwatch_one_change_per_burst_and_ours_ignored(void **state)
{
	struct watched w = { 0 };
	struct addrwatch *aw = NULL, *blind = NULL;
	struct watched wb = { 0 };
	struct netlink *nl = NULL;
	struct tun *host = NULL, *ours = NULL;
	const uint8_t a1[4] = { 198, 18, 99, 1 }, a2[4] = { 198, 18, 99, 2 },
		      a3[4] = { 198, 18, 99, 3 };

	(void)state;
	if (!have_netns)
		skip();
	assert_int_equal(ev_loop_new(&w.loop), 0);
	assert_int_equal(netlink_open(&nl), 0);
	assert_int_equal(tun_open(&host, "vtxw0", 0), 0);
	assert_int_equal(tun_open(&ours, "vtxw1", 0), 0);
	assert_int_equal(addrwatch_open(&aw, w.loop, tun_ifindex(ours), on_change, &w), 0);

	/* Two addresses and the link up at once: one burst, one change. */
	assert_int_equal(netlink_addr_add(nl, tun_ifindex(host), AF_INET, a1, 32), 0);
	assert_int_equal(netlink_addr_add(nl, tun_ifindex(host), AF_INET, a2, 32), 0);
	assert_int_equal(netlink_link_up(nl, tun_ifindex(host), 1400), 0);
	run_for(w.loop, ADDRWATCH_SETTLE_MS + 400);
	assert_int_equal(w.changes, 1);
	assert_true(addrwatch_stats(aw)->messages >= 2);
	assert_int_equal(addrwatch_stats(aw)->changes, 1);

	/* Our own interface's addresses and state are never news. */
	assert_int_equal(netlink_addr_add(nl, tun_ifindex(ours), AF_INET, a3, 32), 0);
	assert_int_equal(netlink_link_up(nl, tun_ifindex(ours), 1400), 0);
	run_for(w.loop, ADDRWATCH_SETTLE_MS + 400);
	assert_int_equal(w.changes, 1);
	assert_true(addrwatch_stats(aw)->ignored >= 1);

	/* A second watcher that ignores nothing sees the device go. */
	wb.loop = w.loop;
	assert_int_equal(addrwatch_open(&blind, w.loop, 0, on_change, &wb), 0);
	tun_close(host);
	host = NULL;
	run_for(w.loop, ADDRWATCH_SETTLE_MS + 400);
	assert_int_equal(wb.changes, 1);
	assert_int_equal(w.changes, 2);

	addrwatch_close(blind);
	addrwatch_close(aw);
	tun_close(ours);
	netlink_close(nl);
	ev_loop_free(w.loop);
}

static int
group_setup(void **state)
{
	(void)state;
	log_init("test_addrwatch");
	log_set_quiet(true);
	if (geteuid() == 0 && access("/dev/net/tun", F_OK) == 0)
		have_netns = unshare(CLONE_NEWNET) == 0;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addrwatch_parse_counts_news_and_the_rest),
		cmocka_unit_test(test_addrwatch_one_change_per_burst_and_ours_ignored),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
