/* SPDX-License-Identifier: MIT */
/*
 * The host's addresses and links, watched (rtnetlink multicast: IPv4 and IPv6 addresses, links):
 * a change anywhere but on the interfaces we ignore (our own overlay device) is told once the
 * burst it came in is over, ADDRWATCH_SETTLE_MS after its last message, so that a DHCP renewal,
 * a link flap or IPv6 duplicate address detection (an address seen tentative, then valid) is one
 * call, not five. What changed is not said: whoever listens gathers afresh (direct/'s host
 * candidates), which is simpler and never wrong. A lost notification (the socket's buffer
 * overran) counts as a change.
 */
#ifndef VERTEX_ADDRWATCH_H
#define VERTEX_ADDRWATCH_H

#include <stdint.h>

struct addrwatch;
struct ev_loop;

enum { ADDRWATCH_SETTLE_MS = 300 };

struct addrwatch_stats {
	uint64_t messages, ignored, changes, overruns;
};

/*
 * Starts watching on loop; on_change(arg) runs on the loop. ignore_ifindex (0: none) is an
 * interface whose addresses and state are never news (the overlay's). 0 or -errno.
 */
int addrwatch_open(struct addrwatch **out, struct ev_loop *loop, int ignore_ifindex,
		   void (*on_change)(void *arg), void *arg);
void addrwatch_close(struct addrwatch *w);
const struct addrwatch_stats *addrwatch_stats(const struct addrwatch *w);

#endif
