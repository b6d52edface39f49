// SPDX-License-Identifier: MIT
/*
 * The host's addresses, watched (addrwatch.h). A plain rtnetlink socket bound to the address and
 * link multicast groups, not libnl: all we read is each message's type and interface index, and
 * the socket then needs no allocation per message and no callbacks. Only the kernel's messages
 * count (a sender port id other than 0 is another process: ignored).
 */
#include "kernel-iface/addrwatch.h"
#include "kernel-iface/addrwatch_parse.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/log.h"

struct addrwatch {
	struct ev_loop *loop;
	int fd, ignore_ifindex;
	struct ev_io io;
	struct ev_timer settle;
	void (*on_change)(void *arg);
	void *arg;
	struct addrwatch_stats stats;
};

enum { ADDRWATCH_READS_PER_TURN = 32 };

static void
addrwatch_on_settled(struct ev_timer *t)
{
	struct addrwatch *w = container_of(t, struct addrwatch, settle);

	w->stats.changes++;
	log_debug(LOG_NETLINK, "addrwatch: the host's addresses or links changed");
	w->on_change(w->arg);
}

static void
addrwatch_news(struct addrwatch *w)
{
	/* From the last message of a burst: a timer restarted is the simplest debounce. */
	ev_timer_stop(w->loop, &w->settle);
	ev_timer_start(w->loop, &w->settle, ADDRWATCH_SETTLE_MS, addrwatch_on_settled);
}

static void
addrwatch_on_ready(struct ev_io *io, uint32_t revents)
{
	struct addrwatch *w = container_of(io, struct addrwatch, io);
	uint8_t buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool news = false;

	(void)revents;
	for (int i = 0; i < ADDRWATCH_READS_PER_TURN; i++) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		struct addrwatch_count c;
		ssize_t n =
		    recvfrom(w->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);

		if (n < 0) {
			if (errno == ENOBUFS) { /* the kernel dropped some: assume the worst */
				w->stats.overruns++;
				news = true;
				continue;
			}
			if (errno != EAGAIN && errno != EINTR)
				log_warnx("addrwatch: %s", strerror(errno));
			break;
		}
		if (fromlen != sizeof(from) || from.nl_pid != 0) {
			w->stats.ignored++;
			continue;
		}
		addrwatch_parse(buf, (size_t)n, w->ignore_ifindex, &c);
		w->stats.messages += c.news + c.ignored;
		w->stats.ignored += c.ignored;
		news |= c.news > 0;
	}
	if (news)
		addrwatch_news(w);
}

int
addrwatch_open(struct addrwatch **out, struct ev_loop *loop, int ignore_ifindex,
	       void (*on_change)(void *arg), void *arg)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
	};
	struct addrwatch *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->ignore_ifindex = ignore_ifindex;
	w->on_change = on_change;
	w->arg = arg;
	w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (w->fd < 0 || bind(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		log_warnx("addrwatch: cannot watch the host's addresses: %s", strerror(-err));
		goto fail;
	}
	if ((err = ev_io_start(loop, &w->io, w->fd, EV_READ, addrwatch_on_ready)))
		goto fail;
	*out = w;
	return 0;
fail:
	if (w->fd >= 0)
		close(w->fd);
	free(w);
	return err;
}

void
addrwatch_close(struct addrwatch *w)
{
	if (!w)
		return;
	ev_timer_stop(w->loop, &w->settle);
	ev_io_stop(w->loop, &w->io);
	close(w->fd);
	free(w);
}

const struct addrwatch_stats *
addrwatch_stats(const struct addrwatch *w)
{
	return &w->stats;
}
