// SPDX-License-Identifier: MIT
/*
 * stun_answer ADDRESS PORT: the smallest STUN server the lab needs (RFC 5389 Binding only).
 * miniupnpd refuses to map ports on a router whose WAN address is reserved (the lab's
 * 198.18.0.0/15) unless a STUN check says the address is public and unfiltered; this answers
 * every Binding Request with the address and port it came from (MAPPED-ADDRESS, the attribute
 * miniupnpd reads), from the socket it came to. CHANGE-REQUEST is not honoured: the router is
 * public (no NAT above it), so miniupnpd's four answers are what a full STUN server would send.
 * Anything that is not a well-formed Binding Request is ignored. Runs until killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
	STUN_HEADER_LEN = 20,
	STUN_BINDING_REQUEST = 0x0001,
	STUN_BINDING_RESPONSE = 0x0101,
	STUN_MAPPED_ADDRESS = 0x0001,
	STUN_MAGIC = 0x2112A442,
	STUN_MAX_LEN = 548,
};

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A Binding Request: type, a length that matches (attributes are skipped), the cookie. */
static int
is_request(const uint8_t *b, ssize_t n)
{
	return n >= STUN_HEADER_LEN && get16(b) == STUN_BINDING_REQUEST &&
	       get16(b + 2) == n - STUN_HEADER_LEN && get16(b + 2) % 4 == 0 &&
	       (uint32_t)(b[4] << 24 | b[5] << 16 | b[6] << 8 | b[7]) == STUN_MAGIC;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in self = { .sin_family = AF_INET };
	int fd;

	if (argc != 3 || inet_pton(AF_INET, argv[1], &self.sin_addr) != 1) {
		fprintf(stderr, "usage: stun_answer IPV4-ADDRESS PORT\n");
		return 2;
	}
	self.sin_port = htons((uint16_t)atoi(argv[2]));
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&self, sizeof(self)) < 0) {
		perror("stun_answer: bind");
		return 1;
	}
	printf("stun_answer: listening on %s:%s\n", argv[1], argv[2]);
	fflush(stdout);
	for (;;) {
		uint8_t in[STUN_MAX_LEN], out[STUN_HEADER_LEN + 12];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &flen);

		if (n < 0 || flen != sizeof(from) || !is_request(in, n))
			continue;
		put16(out, STUN_BINDING_RESPONSE);
		put16(out + 2, 12);
		memcpy(out + 4, in + 4, 16); /* the cookie and the transaction id */
		put16(out + 20, STUN_MAPPED_ADDRESS);
		put16(out + 22, 8);
		out[24] = 0;
		out[25] = 1; /* IPv4 */
		memcpy(out + 26, &from.sin_port, 2);
		memcpy(out + 28, &from.sin_addr, 4);
		sendto(fd, out, sizeof(out), 0, (struct sockaddr *)&from, sizeof(from));
	}
}
