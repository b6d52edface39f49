// SPDX-License-Identifier: MIT
/*
 * vertex ping: ICMP echo to a peer's overlay address, and for each reply the path the peer's
 * frames came over (the agent's `rx_path`: direct UDP from an endpoint, the TCP link, or the
 * relay through the servers) and the round-trip time. The echo is an ordinary one through vtx0,
 * so it measures what programs get; the path is asked of the agent after each reply. In
 * userspace mode there is no vtx0: the agent sends the echo from its own stack (`echo`) and is
 * asked for the reply (`echo-reply`) every few milliseconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctlclient.h"
#include "rdv.h"
#include "trust/identity.h"

static double
ping_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint16_t
ping_csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* The facts of peer among `peers`: [*from, *to); false if it is not a peer. */
static bool
ping_peer_facts(const struct ctlclient_facts *f, const char *peer, size_t *from, size_t *to)
{
	for (size_t i = 0; i < f->n; i = ctlclient_group_end(f, i, "peer"))
		if (!strcmp(f->v[i].key, "peer") && !strcmp(f->v[i].value, peer)) {
			*from = i;
			*to = ctlclient_group_end(f, i, "peer");
			return true;
		}
	return false;
}

/* "direct udp 198.18.0.202:4800", "relay via a.example.com b.example.com", "tcp link". */
static void
ping_path(const char *peer, char *buf, size_t len)
{
	struct ctlclient_facts f;
	size_t a, b;

	snprintf(buf, len, "?");
	if (ctlclient_ask("peers", &f))
		return;
	if (ping_peer_facts(&f, peer, &a, &b)) {
		const char *rx = ctlclient_fact(&f, a, b, "rx_path");

		if (!strcmp(rx, "udp"))
			snprintf(buf, len, "direct udp %s", ctlclient_fact(&f, a, b, "endpoint"));
		else if (!strcmp(rx, "relay"))
			snprintf(buf, len, "relay via %s", ctlclient_fact(&f, a, b, "via"));
		else if (!strcmp(rx, "tcp"))
			snprintf(buf, len, "direct tcp %s",
				 ctlclient_fact(&f, a, b, "tcp_endpoint"));
		else
			snprintf(buf, len, "%s", rx);
	}
	ctlclient_facts_free(&f);
}

/* An ICMP socket: datagram (no privilege where allowed), else raw (root). */
static int
ping_socket(bool *raw)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);

	*raw = false;
	if (fd >= 0)
		return fd;
	*raw = true;
	return socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
}

/* Waits up to timeout_ms for the echo reply with id and seq; its RTT, or a negative number. */
static double
ping_wait(int fd, bool raw, uint16_t id, uint16_t seq, double sent, int timeout_ms)
{
	double deadline = sent + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint8_t buf[1500];
		const struct icmphdr *h;
		double now = ping_now_ms();
		ssize_t n;
		size_t off = 0;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now) + 1) <= 0)
			return -1;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			continue;
		if (raw)
			off =
			    (size_t)(buf[0] & 0x0f) * 4; /* the IP header comes with a raw socket */
		if ((size_t)n < off + sizeof(*h))
			continue;
		h = (const struct icmphdr *)(buf + off);
		/* A datagram socket's id is the kernel's (the socket's port): only seq to match. */
		if (h->type == ICMP_ECHOREPLY && ntohs(h->un.echo.sequence) == seq &&
		    (!raw || ntohs(h->un.echo.id) == id))
			return ping_now_ms() - sent;
	}
}

static void
ping_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Is the agent in userspace mode? */
static bool
ping_agent_is_userspace(void)
{
	struct ctlclient_facts f;
	bool us;

	if (ctlclient_ask("status", &f))
		return false;
	us = !strcmp(ctlclient_fact(&f, 0, f.n, "mode"), "userspace");
	ctlclient_facts_free(&f);
	return us;
}

/* One echo through the agent's stack: its RTT in ms, or a negative number (said why). */
static double
ping_by_agent(const char *peer, unsigned long seq, unsigned long wait_s)
{
	struct ctlclient_facts f;
	char req[IDENTITY_STR_MAX + 16];
	double deadline = ping_now_ms() + (double)wait_s * 1000;
	unsigned long aseq;

	snprintf(req, sizeof(req), "echo %s", peer);
	if (ctlclient_ask(req, &f)) {
		printf("seq %lu: cannot send\n", seq);
		return -1;
	}
	aseq = strtoul(ctlclient_fact(&f, 0, f.n, "seq"), NULL, 10);
	ctlclient_facts_free(&f);
	snprintf(req, sizeof(req), "echo-reply %lu", aseq);
	while (ping_now_ms() < deadline) {
		const char *v;
		double rtt = -1;

		ping_sleep_ms(2);
		if (ctlclient_ask(req, &f))
			return -1;
		v = ctlclient_fact(&f, 0, f.n, "rtt_us");
		if (strcmp(v, "pending"))
			rtt = strtod(v, NULL) / 1000;
		ctlclient_facts_free(&f);
		if (rtt >= 0)
			return rtt;
	}
	printf("seq %lu: no reply within %lu s\n", seq, wait_s);
	return -1;
}

int
cmd_ping(int argc, char **argv)
{
	static const char help[] =
	    "Usage: vertex [-s SOCKET] ping USER@DOMAIN [-c COUNT] [-W SECONDS]\n"
	    "\n"
	    "Sends ICMP echo requests to the peer's IPv4 overlay address (through vtx0, as any\n"
	    "program would) and, for each reply, prints its round-trip time and the path the\n"
	    "peer's frames came over: `direct udp ADDRESS:PORT` (the peer's endpoint, its NAT's\n"
	    "public address), `direct tcp` (frames inside the TLS link), or `relay via` the\n"
	    "servers. Needs an ICMP socket: root, or a group in net.ipv4.ping_group_range.\n"
	    "With an agent in userspace mode (no vtx0), the agent's own stack sends the echo\n"
	    "and no privilege is needed.\n"
	    "\n"
	    "  -c COUNT     echo requests to send, one a second (default 3, at most 1000)\n"
	    "  -W SECONDS   how long to wait for each reply (default 2)\n"
	    "\n"
	    "Exit status: 0 if any reply came, 1 if none, 2 on a usage error.\n";
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "wait", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char peer[IDENTITY_STR_MAX], path[320], *end;
	struct ctlclient_facts f;
	struct sockaddr_in to = { .sin_family = AF_INET };
	unsigned long count = 3, wait_s = 2;
	unsigned replies = 0;
	struct identity id;
	const char *why = "?";
	uint16_t ident = (uint16_t)getpid();
	size_t a, b;
	bool raw;
	int c, fd;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:W:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			count = strtoul(optarg, &end, 10);
			if (*end || !*optarg || count < 1 || count > 1000) {
				fprintf(stderr, "vertex: -c %s: 1 to 1000\n\n%s", optarg, help);
				return 2;
			}
			break;
		case 'W':
			wait_s = strtoul(optarg, &end, 10);
			if (*end || !*optarg || wait_s < 1 || wait_s > 60) {
				fprintf(stderr, "vertex: -W %s: 1 to 60 seconds\n\n%s", optarg,
					help);
				return 2;
			}
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			fputs(help, stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "vertex: ping takes one USER@DOMAIN\n\n%s", help);
		return 2;
	}
	if (identity_parse(argv[optind], IDENTITY_PURPOSE_FORBIDDEN, &id, &why) ||
	    identity_format(&id, peer, sizeof(peer))) {
		fprintf(stderr, "vertex: %s: %s\n\n%s", argv[optind], why, help);
		return 2;
	}
	if (ctlclient_ask("peers", &f))
		return 1;
	if (!ping_peer_facts(&f, peer, &a, &b) ||
	    inet_pton(AF_INET, ctlclient_fact(&f, a, b, "overlay4"), &to.sin_addr) != 1) {
		fprintf(stderr, "vertex: %s is not a peer of this agent\n", peer);
		ctlclient_facts_free(&f);
		return 1;
	}
	ctlclient_facts_free(&f);
	if (ping_agent_is_userspace()) {
		printf("PING %s (%s, from the agent's userspace stack)\n", peer,
		       inet_ntoa(to.sin_addr));
		for (unsigned long seq = 1; seq <= count; seq++) {
			double rtt = ping_by_agent(peer, seq, wait_s);

			if (rtt >= 0) {
				replies++;
				ping_path(peer, path, sizeof(path));
				printf("seq %lu: reply in %.2f ms via %s\n", seq, rtt, path);
			}
			if (seq < count)
				ping_sleep_ms(1000);
		}
		printf("%u of %lu replied\n", replies, count);
		return replies ? 0 : 1;
	}
	if ((fd = ping_socket(&raw)) < 0) {
		fprintf(stderr, "vertex: cannot open an ICMP socket: %s\n", strerror(errno));
		return 1;
	}
	printf("PING %s (%s)\n", peer, inet_ntoa(to.sin_addr));
	for (unsigned long seq = 1; seq <= count; seq++) {
		struct {
			struct icmphdr h;
			uint8_t payload[24];
		} req;
		double sent, rtt;

		memset(&req, 0, sizeof(req));
		req.h.type = ICMP_ECHO;
		req.h.un.echo.id = htons(ident);
		req.h.un.echo.sequence = htons((uint16_t)seq);
		memcpy(req.payload, "vertex ping payload.....", sizeof(req.payload));
		req.h.checksum = ping_csum(&req, sizeof(req));
		sent = ping_now_ms();
		if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
			printf("seq %lu: cannot send: %s\n", seq, strerror(errno));
		} else if ((rtt = ping_wait(fd, raw, ident, (uint16_t)seq, sent,
					    (int)wait_s * 1000)) < 0) {
			printf("seq %lu: no reply within %lu s\n", seq, wait_s);
		} else {
			replies++;
			ping_path(peer, path, sizeof(path));
			printf("seq %lu: reply in %.2f ms via %s\n", seq, rtt, path);
		}
		if (seq < count) {
			struct timespec ts = { .tv_sec = 1 };

			nanosleep(&ts, NULL);
		}
	}
	close(fd);
	printf("%u of %lu replied\n", replies, count);
	return replies ? 0 : 1;
}
