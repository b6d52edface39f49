// SPDX-License-Identifier: MIT
/*
 * rtnetlink notifications, counted (addrwatch_parse.h). Each header is copied out before it is
 * read, so a buffer of any alignment and any content is safe.
 */
#include "kernel-iface/addrwatch_parse.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>

/* The interface index a message is about, or -1 if it is too short to say. */
static int
addrwatch_ifindex(uint16_t type, const uint8_t *body, size_t len)
{
	if (type == RTM_NEWADDR || type == RTM_DELADDR) {
		struct ifaddrmsg ifa;

		if (len < sizeof(ifa))
			return -1;
		memcpy(&ifa, body, sizeof(ifa));
		return (int)ifa.ifa_index;
	}
	{
		struct ifinfomsg ifi;

		if (len < sizeof(ifi))
			return -1;
		memcpy(&ifi, body, sizeof(ifi));
		return ifi.ifi_index;
	}
}

void
addrwatch_parse(const uint8_t *buf, size_t len, int ignore_ifindex, struct addrwatch_count *c)
{
	size_t off = 0;

	memset(c, 0, sizeof(*c));
	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		size_t mlen, step;
		int ifindex;

		memcpy(&h, buf + off, sizeof(h));
		mlen = h.nlmsg_len;
		if (mlen < sizeof(h) || mlen > len - off)
			break; /* cut short or lying: the rest is not read */
		step = NLMSG_ALIGN(mlen);
		switch (h.nlmsg_type) {
		case RTM_NEWADDR:
		case RTM_DELADDR:
		case RTM_NEWLINK:
		case RTM_DELLINK:
			ifindex = addrwatch_ifindex(h.nlmsg_type, buf + off + sizeof(h),
						    mlen - sizeof(h));
			if (ifindex < 0 || (ignore_ifindex > 0 && ifindex == ignore_ifindex))
				c->ignored++;
			else
				c->news++;
			break;
		default:
			c->ignored++;
		}
		if (step >= len - off)
			break;
		off += step;
	}
}
