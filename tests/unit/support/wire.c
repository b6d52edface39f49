// SPDX-License-Identifier: MIT
/* The test wire (wire.h): length-prefixed packets over a stream socketpair. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "wire.h"

int
wire_pair(int fds[2])
{
	int sz = 4 << 20;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	return 0;
}

void
wire_init(struct wire *w, int fd)
{
	w->fd = fd;
	w->drops = 0;
	w->rxlen = 0;
}

/*
 * Blocking: both ends' buffers (4 MiB) dwarf what TCP keeps in flight (a 64 KiB window each
 * way), so it never waits in practice, and a frame always goes whole.
 */
void
wire_send(struct wire *w, const uint8_t *pkt, size_t len)
{
	uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	struct iovec iov[2] = { { hdr, 2 }, { (void *)pkt, len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	if (len > 0xffff)
		w->drops++;
	else if (sendmsg(w->fd, &msg, MSG_NOSIGNAL) != (ssize_t)(len + 2) && errno != EPIPE)
		w->drops++; /* EPIPE: the other process is done (a last ACK after its exit) */
}

bool
wire_recv(struct wire *w, void (*on_packet)(void *arg, const uint8_t *pkt, size_t len), void *arg)
{
	size_t off = 0;
	ssize_t n = recv(w->fd, w->rx + w->rxlen, sizeof(w->rx) - w->rxlen, MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return false;
	if (n > 0)
		w->rxlen += (size_t)n;
	while (w->rxlen - off >= 2) {
		size_t len = (size_t)w->rx[off] << 8 | w->rx[off + 1];

		if (w->rxlen - off - 2 < len)
			break;
		on_packet(arg, w->rx + off + 2, len);
		off += 2 + len;
	}
	memmove(w->rx, w->rx + off, w->rxlen - off);
	w->rxlen -= off;
	return true;
}
