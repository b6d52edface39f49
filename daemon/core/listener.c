// SPDX-License-Identifier: MIT
/*
 * A listening socket with a bounded accept loop and a pause when descriptors run out. See
 * listener.h.
 *
 * Timer: pause, armed when accept4() fails for lack of descriptors or memory; fires after
 * pause_ms and watches the socket again.
 */
#include "core/listener.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/log.h"

struct listener {
	struct ev_loop *loop;
	int fd;
	unsigned per_turn, pause_ms;
	struct listener_ops ops;
	void *arg;
	struct ev_io io;
	struct ev_timer pause;
};

static void
listener_on_resume(struct ev_timer *t)
{
	struct listener *l = container_of(t, struct listener, pause);

	ev_io_set_events(l->loop, &l->io, EV_READ);
}

static void
listener_on_readable(struct ev_io *io, uint32_t revents)
{
	struct listener *l = container_of(io, struct listener, io);

	(void)revents;
	for (unsigned i = 0; i < l->per_turn; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		int fd =
		    accept4(l->fd, (struct sockaddr *)&from, &fl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The listening socket stays readable: stop watching it a moment.
				 */
				log_warn("accept (pausing new connections for %u ms)", l->pause_ms);
				ev_io_set_events(l->loop, &l->io, 0);
				ev_timer_start(l->loop, &l->pause, l->pause_ms, listener_on_resume);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				log_warn("accept");
			}
			return;
		}
		l->ops.on_accept(l->arg, fd, &from);
	}
}

/* Ownership: *out is the caller's (listener_free); fd is taken, also on failure. */
int
listener_new(struct listener **out, struct ev_loop *loop, int fd, int backlog, unsigned per_turn,
	     unsigned pause_ms, const struct listener_ops *ops, void *arg)
{
	struct listener *l = calloc(1, sizeof(*l));
	int err;

	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->loop = loop;
	l->fd = fd;
	l->per_turn = per_turn;
	l->pause_ms = pause_ms;
	l->ops = *ops;
	l->arg = arg;
	if (listen(fd, backlog) < 0) {
		err = -errno;
		goto err_free;
	}
	err = ev_io_start(loop, &l->io, fd, EV_READ, listener_on_readable);
	if (err)
		goto err_free;
	*out = l;
	return 0;

err_free:
	close(fd);
	free(l);
	return err;
}

void
listener_free(struct listener *l)
{
	if (!l)
		return;
	ev_timer_stop(l->loop, &l->pause);
	ev_io_stop(l->loop, &l->io);
	close(l->fd);
	free(l);
}
