// SPDX-License-Identifier: MIT
/*
 * The underlay sockets: one UDP socket for data frames and one TCP listener for handshakes, both
 * on the configured port. Both are dual-stack IPv6 sockets when the host has IPv6, so one
 * descriptor serves IPv4 and IPv6 peers; IPv4 addresses then appear v4-mapped, and this file is
 * where they are mapped and unmapped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/addrcount.h"

enum { UNDERLAY_SOCKBUF = 4 << 20, UNDERLAY_BACKLOG = 64 };

static int
underlay_socket(struct agent *a, int type)
{
	int one = 1, zero = 0, fd;
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;

	fd = socket(a->underlay_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->underlay_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->cfg.port);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->cfg.port);
		sl = sizeof(*s4);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * UDP segmentation and receive offloads (Linux 4.18 / 5.0): GSO is probed with getsockopt, since
 * it is then asked for per message; GRO is a socket option. Either may be missing: the data path
 * works without them, one datagram per frame.
 */
static void
underlay_offloads(struct agent *a)
{
	int one = 1, gso = 0;
	socklen_t gl = sizeof(gso);

	a->udp_gso = getsockopt(a->udp_fd, SOL_UDP, UDP_SEGMENT, &gso, &gl) == 0;
	a->udp_gro = setsockopt(a->udp_fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	log_debug(LOG_DATA, "udp offloads: segmentation %s, receive coalescing %s",
		  a->udp_gso ? "on" : "off", a->udp_gro ? "on" : "off");
}

static void
underlay_on_tcp(struct ev_io *io, uint32_t revents)
{
	struct agent *a = container_of(io, struct agent, tcp_io);

	(void)revents;
	link_accept(a);
}

int
underlay_open(struct agent *a)
{
	int buf = UNDERLAY_SOCKBUF;
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	/* Probe for IPv6: without it, fall back to IPv4-only sockets. */
	a->underlay_family = fd >= 0 ? AF_INET6 : AF_INET;
	if (fd >= 0)
		close(fd);

	a->udp_fd = underlay_socket(a, SOCK_DGRAM);
	if (a->udp_fd < 0) {
		errno = -a->udp_fd;
		log_warn("udp port %u", a->cfg.port);
		return a->udp_fd;
	}
	/* Bursts from the TUN side are batched; give the kernel room to hold them. */
	setsockopt(a->udp_fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(a->udp_fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	underlay_offloads(a);

	if (addrcount_new(&a->inbound, AGENT_MAX_LINKS))
		return -ENOMEM;
	a->tcp_fd = underlay_socket(a, SOCK_STREAM);
	if (a->tcp_fd < 0) {
		errno = -a->tcp_fd;
		log_warn("tcp port %u", a->cfg.port);
		return a->tcp_fd;
	}
	if (listen(a->tcp_fd, UNDERLAY_BACKLOG) < 0) {
		log_warn("listen on tcp port %u", a->cfg.port);
		return -errno;
	}
	return ev_io_start(a->loop, &a->tcp_io, a->tcp_fd, EV_READ, underlay_on_tcp);
}

void
underlay_close(struct agent *a)
{
	if (a->tcp_fd >= 0) {
		ev_io_stop(a->loop, &a->tcp_io);
		close(a->tcp_fd);
		a->tcp_fd = -1;
	}
	addrcount_free(a->inbound);
	a->inbound = NULL;
	if (a->udp_fd >= 0) {
		ev_io_stop(a->loop, &a->udp_io);
		close(a->udp_fd);
		a->udp_fd = -1;
	}
}

socklen_t
underlay_sockaddr(const struct agent *a, const struct sockaddr_storage *in,
		  struct sockaddr_storage *out)
{
	if (in->ss_family == AF_INET && a->underlay_family == AF_INET6) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)in;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		memset(s6, 0, sizeof(*s6));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = s4->sin_port;
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		return sizeof(*s6);
	}
	memcpy(out, in, sizeof(*out));
	return in->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* Turns a v4-mapped IPv6 address back into a plain IPv4 one. */
static void
underlay_unmap(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)in;

	memcpy(out, in, sizeof(*out));
	if (in->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;
		in_port_t port = s6->sin6_port;
		struct in_addr v4;

		memcpy(&v4, &s6->sin6_addr.s6_addr[12], 4);
		memset(out, 0, sizeof(*out));
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		s4->sin_addr = v4;
	}
}

void
underlay_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	struct sockaddr_storage u;

	if (!ss->ss_family) {
		snprintf(buf, len, "(none)");
		return;
	}
	underlay_unmap(ss, &u);
	config_endpoint_format(&u, buf, len);
}

bool
underlay_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct sockaddr_storage ua, ub;

	underlay_unmap(a, &ua);
	underlay_unmap(b, &ub);
	if (ua.ss_family != ub.ss_family)
		return false;
	if (ua.ss_family == AF_INET) {
		const struct sockaddr_in *x = (void *)&ua, *y = (void *)&ub;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (ua.ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (void *)&ua, *y = (void *)&ub;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}
