// SPDX-License-Identifier: MIT
/* Batched UDP sends and coalesced receives. See udpbatch.h. */
#include "core/udpbatch.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

void
udp_batch_add(struct udp_batch *b, const void *buf, size_t len, const struct sockaddr *to,
	      socklen_t tolen)
{
	unsigned i = b->n++;

	b->iov[i] = (struct iovec){ (void *)buf, len };
	if (tolen > sizeof(b->addr[i]))
		tolen = sizeof(b->addr[i]);
	memcpy(&b->addr[i], to, tolen);
	b->addrlen[i] = tolen;
}

/* True if queued datagrams i and j go to the same address. */
static bool
udp_batch_same_dest(const struct udp_batch *b, unsigned i, unsigned j)
{
	return b->addrlen[i] == b->addrlen[j] && !memcmp(&b->addr[i], &b->addr[j], b->addrlen[i]);
}

unsigned
udp_batch_build(struct udp_batch *b)
{
	unsigned nmsg = 0;

	for (unsigned i = 0; i < b->n;) {
		unsigned start = i;
		size_t seg = b->iov[i].iov_len, total = seg;
		struct msghdr *m = &b->msgs[nmsg].msg_hdr;

		for (i++; b->gso && i < b->n && i - start < UDP_GSO_MAX_SEGS; i++) {
			size_t len = b->iov[i].iov_len;

			/* Equal sizes, but the last may be shorter: nothing after a short one. */
			if (len > seg || total + len > UDP_GSO_MAX_BYTES ||
			    !udp_batch_same_dest(b, start, i) || b->iov[i - 1].iov_len < seg)
				break;
			total += len;
		}
		*m = (struct msghdr){ .msg_name = &b->addr[start],
				      .msg_namelen = b->addrlen[start],
				      .msg_iov = &b->iov[start],
				      .msg_iovlen = i - start };
		if (i - start > 1) {
			struct cmsghdr *c = &b->cmsg[nmsg].align;
			uint16_t gso = (uint16_t)seg;

			m->msg_control = b->cmsg[nmsg].buf;
			m->msg_controllen = sizeof(b->cmsg[nmsg].buf);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(gso));
			memcpy(CMSG_DATA(c), &gso, sizeof(gso));
		}
		nmsg++;
	}
	return nmsg;
}

void
udp_batch_send(struct udp_batch *b, int fd, struct udp_batch_result *res)
{
	struct udp_batch_result r = { 0 };
	unsigned nmsg = udp_batch_build(b), done = 0;

	while (done < nmsg) {
		int n = sendmmsg(fd, b->msgs + done, nmsg - done, MSG_DONTWAIT);

		if (n <= 0) {
			int e = n < 0 ? errno : EAGAIN;

			if (e == EIO && b->gso) {
				/* The route's device cannot take GSO after all: stop asking for it.
				 */
				b->gso = false;
				r.gso_refused = true;
			} else if (e != EAGAIN && e != ENOBUFS && !r.err) {
				r.err = e;
			}
			/* Skip the message that failed (e.g. unreachable), go on with the rest. */
			r.failed += (unsigned)b->msgs[done].msg_hdr.msg_iovlen;
			done++;
			continue;
		}
		for (int k = 0; k < n; k++)
			r.sent += (unsigned)b->msgs[done + (unsigned)k].msg_hdr.msg_iovlen;
		done += (unsigned)n;
	}
	b->n = 0;
	if (res)
		*res = r;
}

void
udp_offloads_probe(int fd, bool *gso, bool *gro)
{
	int one = 1, val = 0;
	socklen_t vl = sizeof(val);

	*gso = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &val, &vl) == 0;
	if (gro)
		*gro = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
}

size_t
udp_gro_segment(const struct msghdr *m, size_t len)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
		int gso;

		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO ||
		    c->cmsg_len < CMSG_LEN(sizeof(gso)))
			continue;
		memcpy(&gso, CMSG_DATA(c), sizeof(gso));
		if (gso > 0 && (size_t)gso < len)
			return (size_t)gso;
	}
	return len;
}
