// SPDX-License-Identifier: MIT
/* A TCP connect with a deadline (dial.h): EV_WRITE says it finished, SO_ERROR how. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/dial.h"
#include "core/ev.h"

struct dial {
	struct ev_loop *loop;
	int fd;
	struct ev_io io;
	struct ev_timer deadline;
	dial_fn *cb;
	void *arg;
};

static void
dial_free(struct dial *d)
{
	ev_io_stop(d->loop, &d->io);
	ev_timer_stop(d->loop, &d->deadline);
	if (d->fd >= 0)
		close(d->fd);
	free(d);
}

static void
dial_end(struct dial *d, int err)
{
	dial_fn *cb = d->cb;
	void *arg = d->arg;
	int fd = -1;

	if (!err) {
		fd = d->fd;
		d->fd = -1;
	}
	dial_free(d);
	cb(arg, fd, err);
}

static void
dial_on_io(struct ev_io *io, uint32_t revents)
{
	struct dial *d = container_of(io, struct dial, io);
	int err = 0;
	socklen_t len = sizeof(err);

	(void)revents;
	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	dial_end(d, err);
}

static void
dial_on_deadline(struct ev_timer *t)
{
	dial_end(container_of(t, struct dial, deadline), ETIMEDOUT);
}

int
dial_tcp(struct dial **out, struct ev_loop *loop, const struct sockaddr_storage *to,
	 uint64_t timeout_ms, dial_fn *cb, void *arg)
{
	socklen_t len =
	    to->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	struct dial *d;
	int err;

	if (to->ss_family != AF_INET && to->ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (!(d = calloc(1, sizeof(*d))))
		return -ENOMEM;
	d->loop = loop;
	d->cb = cb;
	d->arg = arg;
	d->fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->fd < 0 ||
	    (connect(d->fd, (const struct sockaddr *)to, len) < 0 && errno != EINPROGRESS)) {
		err = -errno;
		dial_free(d);
		return err;
	}
	if ((err = ev_io_start(loop, &d->io, d->fd, EV_WRITE, dial_on_io)) ||
	    (err = ev_timer_start(loop, &d->deadline, timeout_ms, dial_on_deadline))) {
		dial_free(d);
		return err;
	}
	*out = d;
	return 0;
}

int
dial_socket_from(int family, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(struct sockaddr_in);
	int one = 1, zero = 0, fd, err;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		/* Dual-stack like the listener, so IPv4 destinations (mapped) work too. */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

void
dial_cancel(struct dial *d)
{
	if (d)
		dial_free(d);
}
