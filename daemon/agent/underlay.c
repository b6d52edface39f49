// SPDX-License-Identifier: MIT
/*
 * The underlay sockets: one UDP socket for data frames and one TCP listener for handshakes, both
 * on the configured port. Both are dual-stack IPv6 sockets when the host has IPv6, so one
 * descriptor serves IPv4 and IPv6 peers; IPv4 addresses then appear v4-mapped (core/sockaddr.h
 * maps and unmaps them).
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
