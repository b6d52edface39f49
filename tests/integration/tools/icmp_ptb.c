// SPDX-License-Identifier: MIT
/*
 * icmp_ptb: a link with a small MTU, for tests/integration/overlay_pmtu.sh. Run on bob's host,
 * it answers every IPv4 echo request that arrives longer than MTU bytes with an ICMP
 * "fragmentation needed" (type 3, code 4, next-hop MTU = MTU) to its sender, quoting the
 * request's IP header and first 8 bytes, as a router before a narrower link would. The quote
 * holds the addresses as bob's side sees them; the error crosses the overlay and the sender's
 * agent must translate the quote too (overlay/xlate.c) for the sender's kernel to take it.
 *
 *   icmp_ptb MTU COUNT     prints "ready" once listening, then answers COUNT requests (and
 *                          exits 0), printing one line each
 *
 * Exit 1 on a system error. The kernel still answers the echo requests itself.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint16_t
csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

int
main(int argc, char **argv)
{
	long mtu = argc == 3 ? strtol(argv[1], NULL, 10) : 0, count = argc == 3 ? atol(argv[2]) : 0;
	uint8_t in[65536], out[8 + 60 + 8];
	int fd;

	if (mtu < 68 || mtu > 65535 || count < 1) {
		fprintf(stderr, "usage: icmp_ptb MTU COUNT\n");
		return 2;
	}
	/* A raw ICMP socket gets a copy of every ICMP packet, its IP header first. */
	if ((fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)) < 0) {
		perror("socket");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (count > 0) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fl);
		const struct iphdr *ip = (const void *)in;
		size_t hl, quote;
		uint16_t mtu16 = htons((uint16_t)mtu), sum;
		char who[INET_ADDRSTRLEN];

		if (n < 0) {
			perror("recvfrom");
			return 1;
		}
		hl = (size_t)ip->ihl * 4;
		if ((size_t)n < sizeof(*ip) || hl < sizeof(*ip) || (size_t)n < hl + 8 ||
		    in[hl] != ICMP_ECHO || ntohs(ip->tot_len) <= mtu)
			continue;
		quote = hl + 8;
		memset(out, 0, sizeof(out));
		out[0] = ICMP_DEST_UNREACH;
		out[1] = ICMP_FRAG_NEEDED;
		memcpy(out + 6, &mtu16, 2);
		memcpy(out + 8, in, quote);
		sum = htons(csum(out, 8 + quote));
		memcpy(out + 2, &sum, 2);
		if (sendto(fd, out, 8 + quote, 0, (struct sockaddr *)&from, fl) < 0) {
			perror("sendto");
			return 1;
		}
		inet_ntop(AF_INET, &from.sin_addr, who, sizeof(who));
		printf("fragmentation needed (mtu %ld) to %s for a %u-byte echo request\n", mtu,
		       who, ntohs(ip->tot_len));
		fflush(stdout);
		count--;
	}
	return 0;
}
