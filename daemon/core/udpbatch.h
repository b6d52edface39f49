/* SPDX-License-Identifier: MIT */
/*
 * Batched UDP sends with segmentation offload, and the receive side's coalesced datagrams: what
 * the agent's data socket (path/udp.c) and a server's relay (server/relay_udp.c) share.
 *
 * A batch holds up to UDP_BATCH_MAX datagrams in order, each a borrowed buffer and its
 * destination. udp_batch_send groups them into messages and sends them with sendmmsg(): with UDP
 * GSO (Linux 4.18), a run of datagrams to one destination, all of one size but the last (which
 * may be shorter), at most UDP_GSO_MAX_SEGS of them and UDP_GSO_MAX_BYTES in all, is one message
 * that the kernel cuts into datagrams after one trip through its UDP/IP stack; without, a message
 * per datagram. Either way the datagrams on the wire are the same.
 *
 * UDP GRO (Linux 5.0) is the other way round: the kernel hands a socket that asked for it a run
 * of same-size datagrams from one sender as one buffer (at most UDP_GRO_BUF_SIZE), with the size
 * of each in a control message; udp_gro_segment reads it, and the caller cuts the buffer.
 */
#ifndef VERTEX_UDPBATCH_H
#define VERTEX_UDPBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

enum {
	UDP_BATCH_MAX = 64,
	UDP_GSO_MAX_SEGS = 64,     /* datagrams in one GSO send (the kernel's UDP_MAX_SEGMENTS) */
	UDP_GSO_MAX_BYTES = 65000, /* payload of one GSO send: its IP packet is <= 64 KiB */
	UDP_GRO_BUF_SIZE = 65536,  /* a coalesced receive is at most one IP packet's worth */
};

struct udp_batch {
	unsigned n;
	bool gso; /* may ask the kernel to segment; cleared when it refuses (udp_batch_send) */
	struct iovec iov[UDP_BATCH_MAX];
	struct sockaddr_storage addr[UDP_BATCH_MAX];
	socklen_t addrlen[UDP_BATCH_MAX];
	/* scratch for udp_batch_send: a message per run */
	struct mmsghdr msgs[UDP_BATCH_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cmsg[UDP_BATCH_MAX];
};

struct udp_batch_result {
	unsigned sent;    /* datagrams the kernel took */
	unsigned failed;  /* datagrams it refused (their message skipped; the rest still sent) */
	int err;          /* the first errno of a refusal other than EAGAIN/ENOBUFS, 0 if none */
	bool gso_refused; /* the route's device cannot take GSO: b->gso is now off */
};

static inline bool
udp_batch_full(const struct udp_batch *b)
{
	return b->n == UDP_BATCH_MAX;
}

/* Appends a datagram (buf borrowed until the send; to copied). The batch must not be full. */
void udp_batch_add(struct udp_batch *b, const void *buf, size_t len, const struct sockaddr *to,
		   socklen_t tolen);
/*
 * Groups the queued datagrams into b->msgs (what udp_batch_send sends; apart for the tests):
 * returns how many messages; a message of more than one datagram carries its UDP_SEGMENT size.
 */
unsigned udp_batch_build(struct udp_batch *b);
/* Sends every queued datagram on fd (non-blocking) and empties b; res may be NULL. */
void udp_batch_send(struct udp_batch *b, int fd, struct udp_batch_result *res);

/*
 * Probes fd for the offloads: *gso if the kernel segments for us (asked per message), *gro if it
 * now hands us coalesced datagrams (a socket option, turned on here when gro is not NULL).
 */
void udp_offloads_probe(int fd, bool *gso, bool *gro);
/* The size of each datagram in a coalesced receive of len bytes (len if it was not coalesced). */
size_t udp_gro_segment(const struct msghdr *m, size_t len);

#endif
