// SPDX-License-Identifier: MIT
/*
 * mq_probe: how the kernel spreads traffic over a multi-queue TUN device and over SO_REUSEPORT
 * sockets, the two things a thread per queue would rely on (docs/performance.md, "More than one
 * core"). tests/bench/bench_multiqueue.sh runs it in a network namespace of its own.
 *
 *   mq_probe tun IFNAME QUEUES FLOWS PACKETS
 *       makes IFNAME with IFF_MULTI_QUEUE and QUEUES queues, gives it 100.64.0.1/24, sends
 *       PACKETS UDP datagrams over FLOWS flows (a socket each: its own source port) to
 *       100.64.0.2:9000 through it, reads every queue, and prints how many of each flow's
 *       datagrams each queue got
 *   mq_probe reuseport SOCKETS FLOWS PACKETS
 *       binds SOCKETS UDP sockets to 100.64.0.1:9001 with SO_REUSEPORT (after `tun` made the
 *       address, or any interface that has it), sends PACKETS datagrams over FLOWS sender
 *       sockets to it, and prints how many of each flow's datagrams each socket got
 *
 * Output, one line per flow: "flow N: Q0 Q1 ..." then "flows on more than one queue: K" and
 * "queues used: U of Q". Exit 1 on any system error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_Q = 16, MAX_FLOWS = 64, PORT_TUN = 9000, PORT_RP = 9001 };

static unsigned count[MAX_FLOWS][MAX_Q];
static uint16_t flow_port[MAX_FLOWS];

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static long
arg(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v < lo || v > hi) {
		fprintf(stderr, "mq_probe: %s is not in %ld..%ld\n", s, lo, hi);
		exit(2);
	}
	return v;
}

/* One UDP socket per flow, bound to a port the kernel picks; its port in flow_port. */
static void
open_flows(int *fd, int flows)
{
	for (int f = 0; f < flows; f++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t sl = sizeof(sa);

		if ((fd[f] = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
		    bind(fd[f], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(fd[f], (struct sockaddr *)&sa, &sl) < 0)
			die("flow socket");
		flow_port[f] = ntohs(sa.sin_port);
	}
}

static int
flow_of(uint16_t port, int flows)
{
	for (int f = 0; f < flows; f++)
		if (flow_port[f] == port)
			return f;
	return -1;
}

static void
report(int flows, int queues)
{
	int spread = 0, used = 0;

	for (int f = 0; f < flows; f++) {
		int on = 0;

		printf("flow %d:", f);
		for (int q = 0; q < queues; q++) {
			printf(" %u", count[f][q]);
			on += count[f][q] > 0;
		}
		printf("\n");
		spread += on > 1;
	}
	for (int q = 0; q < queues; q++) {
		unsigned n = 0;

		for (int f = 0; f < flows; f++)
			n += count[f][q];
		used += n > 0;
	}
	printf("flows on more than one queue: %d\nqueues used: %d of %d\n", spread, used, queues);
}

/* Reads what is waiting on every fd for up to ms; fn attributes each read to a flow. */
static void
drain(int *fd, int n, int ms, int (*fn)(const uint8_t *, ssize_t, int), int flows)
{
	struct pollfd p[MAX_Q];
	uint8_t buf[2048];

	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fd[i], .events = POLLIN };
	while (poll(p, (nfds_t)n, ms) > 0)
		for (int i = 0; i < n; i++) {
			ssize_t len;
			int f;

			if (!(p[i].revents & POLLIN))
				continue;
			while ((len = read(fd[i], buf, sizeof(buf))) > 0)
				if ((f = fn(buf, len, flows)) >= 0)
					count[f][i]++;
		}
}

/* A packet read from the TUN device: an IPv4 UDP datagram to PORT_TUN, from which flow? */
static int
tun_flow(const uint8_t *pkt, ssize_t len, int flows)
{
	const struct iphdr *ip = (const void *)pkt;
	const struct udphdr *udp;

	if (len < (ssize_t)(sizeof(*ip) + sizeof(*udp)) || ip->version != 4 ||
	    ip->protocol != IPPROTO_UDP || len < ip->ihl * 4 + (ssize_t)sizeof(*udp))
		return -1;
	udp = (const void *)(pkt + ip->ihl * 4);
	if (ntohs(udp->dest) != PORT_TUN)
		return -1;
	return flow_of(ntohs(udp->source), flows);
}

static void
if_up(const char *name)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sa = (struct sockaddr_in *)&ifr.ifr_addr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	sa->sin_family = AF_INET;
	inet_pton(AF_INET, "100.64.0.1", &sa->sin_addr);
	if (s < 0 || ioctl(s, SIOCSIFADDR, &ifr) < 0)
		die("SIOCSIFADDR");
	inet_pton(AF_INET, "255.255.255.0", &sa->sin_addr);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		die("SIOCSIFNETMASK");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("SIOCSIFFLAGS");
	close(s);
}

static int
cmd_tun(const char *name, int queues, int flows, long packets)
{
	int q[MAX_Q], f[MAX_FLOWS];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(PORT_TUN) };

	for (int i = 0; i < queues; i++) {
		struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE };

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		if ((q[i] = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0 ||
		    ioctl(q[i], TUNSETIFF, &ifr) < 0)
			die("TUNSETIFF (multi-queue)");
	}
	if_up(name);
	inet_pton(AF_INET, "100.64.0.2", &to.sin_addr);
	open_flows(f, flows);
	for (long i = 0; i < packets; i++) {
		if (sendto(f[i % flows], "x", 1, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			die("sendto");
		if (i % 64 == 63)
			drain(q, queues, 0, tun_flow, flows);
	}
	drain(q, queues, 200, tun_flow, flows);
	report(flows, queues);
	return 0;
}

static int rp_flows;

/* A datagram read from a reuseport socket: its payload is the flow's number. */
static int
rp_flow(const uint8_t *buf, ssize_t len, int flows)
{
	(void)flows;
	return len == 1 && buf[0] < rp_flows ? buf[0] : -1;
}

static int
cmd_reuseport(int sockets, int flows, long packets)
{
	int r[MAX_Q], f[MAX_FLOWS], one = 1;
	struct sockaddr_in at = { .sin_family = AF_INET, .sin_port = htons(PORT_RP) };

	inet_pton(AF_INET, "100.64.0.1", &at.sin_addr);
	for (int i = 0; i < sockets; i++)
		if ((r[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) < 0 ||
		    setsockopt(r[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
		    bind(r[i], (struct sockaddr *)&at, sizeof(at)) < 0)
			die("reuseport socket");
	rp_flows = flows;
	open_flows(f, flows);
	for (long i = 0; i < packets; i++) {
		uint8_t which = (uint8_t)(i % flows);

		if (sendto(f[which], &which, 1, 0, (struct sockaddr *)&at, sizeof(at)) < 0)
			die("sendto");
		if (i % 64 == 63)
			drain(r, sockets, 0, rp_flow, flows);
	}
	drain(r, sockets, 200, rp_flow, flows);
	report(flows, sockets);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "tun"))
		return cmd_tun(argv[2], (int)arg(argv[3], 1, MAX_Q),
			       (int)arg(argv[4], 1, MAX_FLOWS), arg(argv[5], 1, 10000000));
	if (argc == 5 && !strcmp(argv[1], "reuseport"))
		return cmd_reuseport((int)arg(argv[2], 1, MAX_Q), (int)arg(argv[3], 1, MAX_FLOWS),
				     arg(argv[4], 1, 10000000));
	fprintf(stderr, "usage: mq_probe tun IFNAME QUEUES FLOWS PACKETS\n"
			"       mq_probe reuseport SOCKETS FLOWS PACKETS\n");
	return 2;
}
