// SPDX-License-Identifier: MIT
/*
 * Reflection on the server (proto/reflect.h): UDP sockets on the server's port (4801, the same
 * number as TCP) and the next one (4802), dual-stack, answering each request with the address
 * and port it came from, so an agent learns the public mapping of its data socket (its
 * server-reflexive candidate) and, by asking both ports and asking for an answer from the other
 * one, how its NAT maps and filters. Without the second port (taken), requests to it find
 * nobody and requests for an answer from it are dropped: the agent then says "unknown".
 *
 * With --alt-address (a second address of the host, per family), each answer names it, a
 * request asking for the answer from the other address gets it from there (IPV6_PKTINFO's
 * source, v4-mapped for IPv4: the sockets stay bound to every address), and every other answer
 * leaves from the address the request came to (IPV6_RECVPKTINFO), so a request to the second
 * address is answered from it, as a NAT that filters by address wants. Without it, answers
 * leave from what routing picks, and the agent classifies with the two ports alone.
 *
 * Anyone may ask (an agent asks before any session exists, and the answer tells the asker only
 * its own address). Bounds: requests and answers are the same size (no amplification toward a
 * forged source); at most SERVER_REFLECT_RATE answers a second per source network (burst
 * SERVER_REFLECT_BURST), the rest dropped and counted; at most REFLECT_READS_PER_TURN datagrams
 * a loop turn (of reflection and the relay together), so a flood cannot starve the TCP side.
 *
 * The same sockets carry the relay's datagrams (proto/relayudp.h): their first byte tells
 * them apart, and relay_udp.c takes them, with bounds of its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/addrcount.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "core/sockaddr.h"
#include "core/udpbatch.h"
#include "proto/reflect.h"
#include "proto/relayudp.h"
#include "server/server.h"

/*
 * Datagrams read a loop turn: reflection's are rare, the relay's come in runs (one per relayed
 * packet); the socket's buffers (REFLECT_SOCKBUF) take a run of them between two turns. With UDP
 * GRO a receive may be a run of one sender's same-size datagrams coalesced by the kernel (an
 * agent's or a server's GSO send arrives whole: one trip through the stack, not one a datagram),
 * cut here; the bound counts datagrams, not receives. Each buffer holds a coalesced receive.
 */
enum {
	REFLECT_READS_PER_TURN = 256,
	REFLECT_BATCH = 16,
	REFLECT_BUF = UDP_GRO_BUF_SIZE,
	REFLECT_SOCKBUF = 4 << 20,
};

struct reflect_sock {
	struct reflect *r;
	int fd; /* -1: not open */
	struct ev_io io;
};

struct reflect {
	struct server *srv;
	struct ev_loop *loop;
	struct reflect_sock sock[2]; /* the port, and the next one */
	struct ratelimit *rl;
	uint64_t answered, refused, malformed;
	uint64_t unanswerable; /* asked for an answer from a port or address we do not have */
	/* recvmmsg's: a datagram, or a coalesced run of them, a buffer */
	struct mmsghdr msg[REFLECT_BATCH];
	struct iovec iov[REFLECT_BATCH];
	struct sockaddr_storage from[REFLECT_BATCH];
	union { /* UDP_GRO's segment size, and the address the datagram came to */
		char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cmsg[REFLECT_BATCH];
	uint8_t buf[REFLECT_BATCH][REFLECT_BUF];
};

/* The address a datagram came to (IPV6_PKTINFO; v4-mapped for IPv4), or false if not said. */
static bool
reflect_dst(const struct msghdr *m, struct in6_addr *out)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
		struct in6_pktinfo pi;

		if (c->cmsg_level != IPPROTO_IPV6 || c->cmsg_type != IPV6_PKTINFO ||
		    c->cmsg_len < CMSG_LEN(sizeof(pi)))
			continue;
		memcpy(&pi, CMSG_DATA(c), sizeof(pi));
		*out = pi.ipi6_addr;
		return true;
	}
	return false;
}

/* alt (an --alt-address) as the sockets spell addresses: IPv6, v4-mapped for IPv4. */
static void
reflect_alt6(const struct sockaddr_storage *alt, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (alt->ss_family == AF_INET) {
		out->s6_addr[10] = out->s6_addr[11] = 0xff;
		memcpy(&out->s6_addr[12], &((const struct sockaddr_in *)alt)->sin_addr, 4);
	} else {
		*out = ((const struct sockaddr_in6 *)alt)->sin6_addr;
	}
}

/* out from fd to `to`, from the local address src (NULL: what routing picks). */
static bool
reflect_send(int fd, const uint8_t *out, const struct sockaddr_storage *to, socklen_t tl,
	     const struct in6_addr *src)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cmsg = { 0 };
	struct iovec iov = { (void *)out, REFLECT_LEN };
	struct msghdr m = {
		.msg_name = (void *)to, .msg_namelen = tl, .msg_iov = &iov, .msg_iovlen = 1
	};

	if (src) {
		struct in6_pktinfo pi = { .ipi6_addr = *src };
		struct cmsghdr *c;

		m.msg_control = cmsg.buf;
		m.msg_controllen = sizeof(cmsg.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	return sendmsg(fd, &m, 0) == REFLECT_LEN;
}

/*
 * One datagram, which came to the local address dst (NULL: not said): the relay's go to
 * relay_udp.c, reflection requests are answered.
 */
static void
reflect_on_datagram(struct reflect_sock *rs, const uint8_t *buf, size_t n,
		    const struct sockaddr_storage *from, socklen_t fl, const struct in6_addr *dst)
{
	struct reflect *r = rs->r;
	struct reflect_sock *other = &r->sock[rs == &r->sock[0] ? 1 : 0];
	const struct sockaddr_storage *alt;
	struct sockaddr_storage ufrom;
	struct in6_addr alt6;
	uint8_t out[REFLECT_LEN];
	int out_fd = rs->fd;
	char net[64];
	uint64_t nonce;
	uint8_t flags;

	if (rudp_is_rudp(buf, n)) {
		relay_udp_on_datagram(r->srv, rs->fd, buf, n, from, fl);
		return;
	}
	if (!reflect_request_decode(buf, n, &nonce, &flags)) {
		r->malformed++;
		return;
	}
	sockaddr_unmap(from, &ufrom);
	alt = &r->srv->opts.alt[ufrom.ss_family == AF_INET6 ? 1 : 0];
	if (alt->ss_family)
		reflect_alt6(alt, &alt6);
	if (flags & REFLECT_OTHER_PORT) {
		if (other->fd < 0) {
			r->unanswerable++;
			return;
		}
		out_fd = other->fd;
	}
	if (flags & REFLECT_OTHER_ADDRESS) {
		/* Nothing to answer from: no other address, or the request came to it. */
		if (!alt->ss_family || !dst || !memcmp(dst, &alt6, sizeof(alt6))) {
			r->unanswerable++;
			return;
		}
		dst = &alt6;
	}
	addrcount_net(from, net, sizeof(net));
	if (!ratelimit_allow(r->rl, net, ev_now_ms(r->loop))) {
		r->refused++;
		return;
	}
	if (!reflect_response_encode(out, nonce, from, alt->ss_family ? alt : NULL))
		return;
	if (reflect_send(out_fd, out, from, fl, dst))
		r->answered++;
}

static void
reflect_on_io(struct ev_io *io, uint32_t revents)
{
	struct reflect_sock *rs = container_of(io, struct reflect_sock, io);
	struct reflect *r = rs->r;

	(void)revents;
	for (int done = 0; done < REFLECT_READS_PER_TURN;) {
		int n;

		for (int i = 0; i < REFLECT_BATCH; i++) {
			r->iov[i] = (struct iovec){ r->buf[i], sizeof(r->buf[i]) };
			r->msg[i].msg_hdr =
			    (struct msghdr){ .msg_name = &r->from[i],
					     .msg_namelen = sizeof(r->from[i]),
					     .msg_iov = &r->iov[i],
					     .msg_iovlen = 1,
					     .msg_control = r->cmsg[i].buf,
					     .msg_controllen = sizeof(r->cmsg[i].buf) };
		}
		/* EAGAIN, or an ICMP error reported on the socket: the next readiness. */
		if ((n = recvmmsg(rs->fd, r->msg, REFLECT_BATCH, MSG_DONTWAIT, NULL)) <= 0)
			break;
		for (int i = 0; i < n; i++) {
			struct msghdr *m = &r->msg[i].msg_hdr;
			size_t len = r->msg[i].msg_len, seg = udp_gro_segment(m, len);
			struct in6_addr dst;
			bool has_dst = reflect_dst(m, &dst);

			if (m->msg_flags & MSG_TRUNC) { /* larger than any we take */
				r->malformed++;
				continue;
			}
			for (size_t off = 0; off < len; off += seg, done++)
				reflect_on_datagram(rs, r->buf[i] + off,
						    len - off < seg ? len - off : seg, &r->from[i],
						    m->msg_namelen, has_dst ? &dst : NULL);
		}
		if (n < REFLECT_BATCH)
			break;
	}
	relay_udp_flush(r->srv); /* what those datagrams relay goes now, in one sendmmsg */
}

/* One socket on port; 0 or -errno (logged). */
static int
reflect_sock_open(struct reflect *r, struct reflect_sock *rs, uint16_t port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int zero = 0, one = 1, buf = REFLECT_SOCKBUF, err;
	bool gso, gro;

	rs->r = r;
	rs->fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (rs->fd < 0)
		return -errno;
	setsockopt(rs->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(rs->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	setsockopt(rs->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(rs->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	udp_offloads_probe(rs->fd, &gso, &gro); /* GRO on where the kernel has it */
	if (bind(rs->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		log_warn("reflection: udp port %u", port);
	} else if (!(err = ev_io_start(r->loop, &rs->io, rs->fd, EV_READ, reflect_on_io))) {
		return 0;
	}
	close(rs->fd);
	rs->fd = -1;
	return err;
}

static void
reflect_free(struct reflect *r)
{
	for (int i = 0; i < 2; i++)
		if (r->sock[i].fd >= 0) {
			ev_io_stop(r->loop, &r->sock[i].io);
			close(r->sock[i].fd);
		}
	ratelimit_free(r->rl);
	free(r);
}

/* Is each --alt-address an address of this host (can a socket be bound to it)? 0 or -errno. */
static int
reflect_alt_check(const struct server *srv)
{
	for (int i = 0; i < 2; i++) {
		const struct sockaddr_storage *alt = &srv->opts.alt[i];
		char show[SOCKADDR_STR_MAX];
		int fd, err = 0;

		struct sockaddr_storage at;

		if (!alt->ss_family)
			continue;
		at = *alt; /* shown with the port it answers on */
		if (at.ss_family == AF_INET)
			((struct sockaddr_in *)&at)->sin_port = htons(srv->opts.port);
		else
			((struct sockaddr_in6 *)&at)->sin6_port = htons(srv->opts.port);
		sockaddr_show(&at, show, sizeof(show));
		if ((fd = socket(alt->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			return -errno;
		if (bind(fd, (const struct sockaddr *)alt,
			 alt->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						   : sizeof(struct sockaddr_in6)) < 0)
			err = -errno;
		close(fd);
		if (err) {
			errno = -err;
			inet_ntop(
			    alt->ss_family,
			    alt->ss_family == AF_INET
				? (const void *)&((const struct sockaddr_in *)alt)->sin_addr
				: (const void *)&((const struct sockaddr_in6 *)alt)->sin6_addr,
			    show, sizeof(show));
			log_warn("--alt-address %s is not an address of this host", show);
			return err;
		}
		log_info("reflection: answering from %s too (NAT tests by address)", show);
	}
	return 0;
}

int
reflect_open(struct server *srv)
{
	struct reflect *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	if ((err = reflect_alt_check(srv))) {
		free(r);
		return err;
	}
	r->srv = srv;
	r->loop = srv->loop;
	r->sock[0].fd = r->sock[1].fd = -1;
	if ((err = ratelimit_new(&r->rl, SERVER_RATELIMIT_KEYS, SERVER_REFLECT_RATE,
				 SERVER_REFLECT_BURST)) ||
	    (err = reflect_sock_open(r, &r->sock[0], srv->opts.port))) {
		reflect_free(r);
		return err;
	}
	/* The second port only classifies NATs: the server runs without it. */
	if (srv->opts.port < 65535 && reflect_sock_open(r, &r->sock[1], srv->opts.port + 1))
		log_warnx("reflection: no second udp port (%u): agents cannot tell how their NAT "
			  "maps and filters",
			  srv->opts.port + 1);
	srv->reflect = r;
	return 0;
}

int
reflect_fd(const struct server *srv)
{
	return srv->reflect ? srv->reflect->sock[0].fd : -1;
}

void
reflect_close(struct server *srv)
{
	struct reflect *r = srv->reflect;

	if (!r)
		return;
	log_info("reflection at exit: %llu answered, %llu over the rate, %llu malformed, %llu "
		 "for a port or address it does not have",
		 (unsigned long long)r->answered, (unsigned long long)r->refused,
		 (unsigned long long)r->malformed, (unsigned long long)r->unanswerable);
	reflect_free(r);
	srv->reflect = NULL;
}
