// SPDX-License-Identifier: MIT
/*
 * udp_inject: a test tool for the integration suite. It reads a capture file written by tcpdump
 * (classic pcap, either byte order, micro- or nanosecond timestamps) and sends the payload of
 * every UDP datagram in it, in order, to one address and port -- so a test can replay captured
 * data frames at an agent, or, with -x, copies with one payload byte flipped.
 *
 *   udp_inject [-x OFFSET] [-n MAX] FILE.pcap ADDRESS PORT
 *
 * The capture is untrusted input like any other: every header is read through the bounded
 * reader, and records that are truncated, fragmented or not UDP are skipped and counted. On
 * success it prints "sent N skipped M" on stdout and exits 0; it exits 1 on any error, and also
 * when no datagram at all was sent (an empty capture is a broken test, not a pass).
 */
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/rbuf.h"

enum {
	PCAP_GLOBAL_HDR_LEN = 24,
	PCAP_RECORD_HDR_LEN = 16,
	PCAP_MAX_RECORD_LEN = 262144, /* tcpdump's largest snapshot length */
	/* Link-layer header types (the "network" field). */
	LINKTYPE_ETHERNET = 1,
	LINKTYPE_RAW = 101,
	LINKTYPE_LINUX_SLL = 113,
	LINKTYPE_LINUX_SLL2 = 276,
	ETHERTYPE_IPV4 = 0x0800,
	ETHERTYPE_IPV6 = 0x86dd,
	ETHERTYPE_VLAN = 0x8100,
	IPPROTO_UDP_NUM = 17,
	UDP_HDR_LEN = 8,
};

struct pcap_reader {
	FILE *f;
	bool swap; /* file written in the other byte order than we read it */
	uint32_t linktype;
};

struct inject_opts {
	long flip_offset; /* -1: send unchanged */
	long max;         /* -1: no limit */
};

static uint32_t
swap32(uint32_t v)
{
	return __builtin_bswap32(v);
}

/* A 32-bit field of a pcap header, in the file's byte order. */
static bool
pcap_get_u32(struct pcap_reader *pr, struct rbuf *r, uint32_t *v)
{
	if (!rbuf_get_u32(r, v))
		return false;
	if (pr->swap)
		*v = swap32(*v);
	return true;
}

static int
pcap_open(struct pcap_reader *pr, const char *path)
{
	uint8_t hdr[PCAP_GLOBAL_HDR_LEN];
	uint32_t magic;
	struct rbuf r;

	pr->f = fopen(path, "rb");
	if (!pr->f)
		return -errno;
	if (fread(hdr, 1, sizeof(hdr), pr->f) != sizeof(hdr))
		return -EINVAL;
	rbuf_init(&r, hdr, sizeof(hdr));
	rbuf_get_u32(&r, &magic);
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
		pr->swap = false;
	else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
		pr->swap = true;
	else
		return -EINVAL;
	/* version (2+2), thiszone (4), sigfigs (4), snaplen (4), then the link type */
	rbuf_skip(&r, 16);
	if (!pcap_get_u32(pr, &r, &pr->linktype))
		return -EINVAL;
	return 0;
}

/*
 * Reads the next record into buf (capacity cap). Returns its captured length, 0 at the end of
 * the file, -EINVAL for a malformed file. *truncated is set when the capture cut the packet.
 */
static long
pcap_next(struct pcap_reader *pr, uint8_t *buf, size_t cap, bool *truncated)
{
	uint8_t hdr[PCAP_RECORD_HDR_LEN];
	uint32_t incl, orig;
	struct rbuf r;
	size_t n;

	n = fread(hdr, 1, sizeof(hdr), pr->f);
	if (n == 0)
		return 0;
	if (n != sizeof(hdr))
		return -EINVAL;
	rbuf_init(&r, hdr, sizeof(hdr));
	rbuf_skip(&r, 8); /* timestamp */
	if (!pcap_get_u32(pr, &r, &incl) || !pcap_get_u32(pr, &r, &orig))
		return -EINVAL;
	if (incl > cap || incl > PCAP_MAX_RECORD_LEN)
		return -EINVAL;
	if (fread(buf, 1, incl, pr->f) != incl)
		return -EINVAL;
	*truncated = incl < orig;
	return incl;
}

/* Skips the link-layer header; *ethertype tells what follows (0 for raw IP: look at the version).
 */
static bool
link_skip(struct rbuf *r, uint32_t linktype, uint16_t *ethertype)
{
	switch (linktype) {
	case LINKTYPE_ETHERNET:
		if (!rbuf_skip(r, 12) || !rbuf_get_u16(r, ethertype))
			return false;
		if (*ethertype == ETHERTYPE_VLAN)
			return rbuf_skip(r, 2) && rbuf_get_u16(r, ethertype);
		return true;
	case LINKTYPE_RAW:
		*ethertype = 0;
		return true;
	case LINKTYPE_LINUX_SLL:
		return rbuf_skip(r, 14) && rbuf_get_u16(r, ethertype);
	case LINKTYPE_LINUX_SLL2:
		return rbuf_get_u16(r, ethertype) && rbuf_skip(r, 18);
	default:
		return false;
	}
}

/* Skips an IPv4 header; false unless it carries a whole (unfragmented) UDP datagram. */
static bool
ipv4_skip(struct rbuf *r)
{
	uint8_t vihl, proto;
	uint16_t frag;
	size_t ihl;

	if (!rbuf_get_u8(r, &vihl) || vihl >> 4 != 4)
		return false;
	ihl = (size_t)(vihl & 0x0f) * 4;
	if (ihl < 20 || !rbuf_skip(r, 5) || !rbuf_get_u16(r, &frag))
		return false;
	if (frag & 0x3fff) /* more-fragments flag or a fragment offset */
		return false;
	if (!rbuf_skip(r, 1) || !rbuf_get_u8(r, &proto) || proto != IPPROTO_UDP_NUM)
		return false;
	return rbuf_skip(r, ihl - 10);
}

/* Skips an IPv6 header; false unless UDP follows directly (no extension headers). */
static bool
ipv6_skip(struct rbuf *r)
{
	uint8_t v, next;

	if (!rbuf_get_u8(r, &v) || v >> 4 != 6)
		return false;
	if (!rbuf_skip(r, 5) || !rbuf_get_u8(r, &next) || next != IPPROTO_UDP_NUM)
		return false;
	return rbuf_skip(r, 1 + 32);
}

/* Finds the UDP payload of one captured packet. */
static bool
udp_payload(const uint8_t *pkt, size_t len, uint32_t linktype, const uint8_t **payload,
	    size_t *plen)
{
	uint16_t ethertype, ulen;
	struct rbuf r;
	bool ok;

	rbuf_init(&r, pkt, len);
	if (!link_skip(&r, linktype, &ethertype))
		return false;
	if (ethertype == 0 && rbuf_remaining(&r) > 0)
		ethertype = (pkt[r.off] >> 4) == 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
	if (ethertype == ETHERTYPE_IPV4)
		ok = ipv4_skip(&r);
	else if (ethertype == ETHERTYPE_IPV6)
		ok = ipv6_skip(&r);
	else
		ok = false;
	if (!ok || !rbuf_skip(&r, 4) || !rbuf_get_u16(&r, &ulen) || !rbuf_skip(&r, 2))
		return false;
	if (ulen < UDP_HDR_LEN)
		return false;
	*plen = ulen - UDP_HDR_LEN;
	return rbuf_get_ptr(&r, *plen, payload);
}

static int
dest_open(const char *addr, const char *port, struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai;
	int fd;

	if (getaddrinfo(addr, port, &hints, &ai) != 0)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd >= 0) {
		memcpy(ss, ai->ai_addr, ai->ai_addrlen);
		*sslen = ai->ai_addrlen;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Sends every UDP payload of the capture; returns 0 or -errno, counts in *sent and *skipped. */
static int
inject_all(struct pcap_reader *pr, int fd, const struct sockaddr_storage *ss, socklen_t sslen,
	   const struct inject_opts *o, long *sent, long *skipped)
{
	static uint8_t pkt[PCAP_MAX_RECORD_LEN], out[PCAP_MAX_RECORD_LEN];
	const uint8_t *payload;
	bool truncated;
	size_t plen;
	long n;

	while ((o->max < 0 || *sent < o->max) &&
	       (n = pcap_next(pr, pkt, sizeof(pkt), &truncated)) > 0) {
		if (truncated || !udp_payload(pkt, (size_t)n, pr->linktype, &payload, &plen) ||
		    (o->flip_offset >= 0 && (size_t)o->flip_offset >= plen)) {
			(*skipped)++;
			continue;
		}
		memcpy(out, payload, plen);
		if (o->flip_offset >= 0)
			out[o->flip_offset] ^= 0xff;
		if (sendto(fd, out, plen, 0, (const struct sockaddr *)ss, sslen) != (ssize_t)plen)
			return -errno;
		(*sent)++;
	}
	return n < 0 ? (int)n : 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: udp_inject [-x OFFSET] [-n MAX] FILE.pcap ADDRESS PORT\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	struct inject_opts o = { .flip_offset = -1, .max = -1 };
	struct pcap_reader pr = { 0 };
	struct sockaddr_storage ss;
	long sent = 0, skipped = 0;
	socklen_t sslen;
	int c, fd, err;

	while ((c = getopt(argc, argv, "x:n:")) != -1) {
		if (c == 'x')
			o.flip_offset = strtol(optarg, NULL, 10);
		else if (c == 'n')
			o.max = strtol(optarg, NULL, 10);
		else
			usage();
	}
	if (argc - optind != 3)
		usage();
	err = pcap_open(&pr, argv[optind]);
	if (err < 0) {
		fprintf(stderr, "udp_inject: %s: %s\n", argv[optind], strerror(-err));
		return 1;
	}
	fd = dest_open(argv[optind + 1], argv[optind + 2], &ss, &sslen);
	if (fd < 0) {
		fprintf(stderr, "udp_inject: bad destination %s %s\n", argv[optind + 1],
			argv[optind + 2]);
		return 1;
	}
	err = inject_all(&pr, fd, &ss, sslen, &o, &sent, &skipped);
	close(fd);
	fclose(pr.f);
	if (err < 0)
		fprintf(stderr, "udp_inject: %s\n", strerror(-err));
	printf("sent %ld skipped %ld\n", sent, skipped);
	return err < 0 || sent == 0;
}
