// SPDX-License-Identifier: MIT
/*
 * Reflection on the server (proto/reflect.h): a UDP socket on the server's port (4801, the same
 * number as TCP, dual-stack) answering each request with the address and port it came from, so
 * an agent learns the public mapping of its data socket: its server-reflexive candidate.
 *
 * Anyone may ask (an agent asks before any session exists, and the answer tells the asker only
 * its own address). Bounds: requests and answers are the same size (no amplification toward a
 * forged source); at most SERVER_REFLECT_RATE answers a second per source network (burst
 * SERVER_REFLECT_BURST), the rest dropped and counted; at most REFLECT_READS_PER_TURN datagrams
 * a loop turn, so a flood cannot starve the TCP side.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/addrcount.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "core/sockaddr.h"
#include "proto/reflect.h"
#include "server/server.h"

enum { REFLECT_READS_PER_TURN = 64 };

struct reflect {
	struct ev_loop *loop;
	int fd;
	struct ev_io io;
	struct ratelimit *rl;
	uint64_t answered, refused, malformed;
};

static void
reflect_on_io(struct ev_io *io, uint32_t revents)
{
	struct reflect *r = container_of(io, struct reflect, io);

	(void)revents;
	for (int i = 0; i < REFLECT_READS_PER_TURN; i++) {
		uint8_t buf[REFLECT_LEN + 1], out[REFLECT_LEN];
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		char net[64];
		uint64_t nonce;
		ssize_t n = recvfrom(r->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n < 0)
			return; /* EAGAIN, or an ICMP error reported on the socket */
		if (!reflect_request_decode(buf, (size_t)n, &nonce)) {
			r->malformed++;
			continue;
		}
		addrcount_net(&from, net, sizeof(net));
		if (!ratelimit_allow(r->rl, net, ev_now_ms(r->loop))) {
			r->refused++;
			continue;
		}
		if (!reflect_response_encode(out, nonce, &from))
			continue;
		if (sendto(r->fd, out, sizeof(out), 0, (struct sockaddr *)&from, fl) == REFLECT_LEN)
			r->answered++;
	}
}

int
reflect_open(struct server *srv)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(srv->opts.port) };
	struct reflect *r = calloc(1, sizeof(*r));
	int zero = 0, err;

	if (!r)
		return -ENOMEM;
	r->loop = srv->loop;
	r->fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		err = -errno;
		free(r);
		return err;
	}
	setsockopt(r->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		log_warn("reflection: bind udp port %u", srv->opts.port);
		close(r->fd);
		free(r);
		return err;
	}
	if ((err = ratelimit_new(&r->rl, SERVER_RATELIMIT_KEYS, SERVER_REFLECT_RATE,
				 SERVER_REFLECT_BURST)) ||
	    (err = ev_io_start(srv->loop, &r->io, r->fd, EV_READ, reflect_on_io))) {
		ratelimit_free(r->rl);
		close(r->fd);
		free(r);
		return err;
	}
	srv->reflect = r;
	return 0;
}

void
reflect_close(struct server *srv)
{
	struct reflect *r = srv->reflect;

	if (!r)
		return;
	log_info("reflection at exit: %llu answered, %llu over the rate, %llu malformed",
		 (unsigned long long)r->answered, (unsigned long long)r->refused,
		 (unsigned long long)r->malformed);
	ev_io_stop(r->loop, &r->io);
	close(r->fd);
	ratelimit_free(r->rl);
	free(r);
	srv->reflect = NULL;
}
