// SPDX-License-Identifier: MIT
/*
 * A TCP connection over the overlay to a peer's port, in whichever mode runs (wiring.h): a
 * kernel socket to the peer's address on vtx0 (TUN mode, core/dial.h), or a connection in lwIP
 * (userspace mode, netstack_connect). The application socket, the SOCKS5 server and port
 * forwards connect through here and never ask which mode it is.
 *
 * Both answer within WIRING_CONNECT_MS. lwIP's connect has no cancel: a dial withdrawn while lwIP
 * still works on it stays here, answered to nobody, until lwIP reports (its descriptor is then
 * closed) or the stack is freed (wiring_connect_close, after netstack_free).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/wiring.h"
#include "core/dial.h"
#include "core/ev.h"
#include "netstack/netstack.h"
#include "peer/peer.h"

struct wiring_connect {
	struct agent *a;
	struct wiring_connect *prev, *next; /* userspace dials, on a->connects */
	dial_fn *cb;
	void *arg;
	struct dial *kernel;     /* TUN mode */
	int fd;                  /* userspace mode: ours until connected */
	struct ev_timer timeout; /* userspace mode */
	bool withdrawn;
};

static void
wiring_connect_unlink(struct wiring_connect *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		d->a->connects = d->next;
	if (d->next)
		d->next->prev = d->prev;
}

static void
wiring_connect_free(struct wiring_connect *d)
{
	ev_timer_stop(d->a->loop, &d->timeout);
	if (d->fd >= 0)
		close(d->fd);
	wiring_connect_unlink(d);
	free(d);
}

/* lwIP's answer. */
static void
wiring_connect_on_lwip(void *arg, int err)
{
	struct wiring_connect *d = arg;
	dial_fn *cb = d->cb;
	void *cb_arg = d->arg;
	int fd = -1;

	if (d->withdrawn) {
		wiring_connect_free(d);
		return;
	}
	if (!err) {
		fd = d->fd;
		d->fd = -1;
	}
	wiring_connect_free(d);
	cb(cb_arg, fd, -err);
}

static void
wiring_connect_on_timeout(struct ev_timer *t)
{
	struct wiring_connect *d = container_of(t, struct wiring_connect, timeout);
	dial_fn *cb = d->cb;
	void *arg = d->arg;

	/* lwIP goes on until it gives up; its answer then finds the dial withdrawn. */
	d->withdrawn = true;
	close(d->fd); /* the bridge sees its end closed and resets the connection */
	d->fd = -1;
	cb(arg, -1, ETIMEDOUT);
}

static void
wiring_connect_on_kernel(void *arg, int fd, int err)
{
	struct wiring_connect *d = arg;
	dial_fn *cb = d->cb;
	void *cb_arg = d->arg;

	free(d);
	cb(cb_arg, fd, err);
}

int
wiring_connect(struct agent *a, const struct peer *p, uint16_t port, dial_fn *cb, void *arg,
	       struct wiring_connect **out)
{
	struct sockaddr_storage to = { .ss_family = AF_INET };
	struct sockaddr_in *s4 = (void *)&to;
	struct netstack *ns = wiring_userspace_netstack(a);
	struct wiring_connect *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	memcpy(&s4->sin_addr, p->map.peer_view4, 4);
	s4->sin_port = htons(port);
	d->a = a;
	d->cb = cb;
	d->arg = arg;
	d->fd = -1;
	if (!ns) {
		if ((err = dial_tcp(&d->kernel, a->loop, &to, WIRING_CONNECT_MS,
				    wiring_connect_on_kernel, d))) {
			free(d);
			return err;
		}
		*out = d;
		return 0;
	}
	if ((err = netstack_connect(ns, &to, wiring_connect_on_lwip, d, &d->fd))) {
		free(d);
		return err;
	}
	d->next = a->connects;
	if (a->connects)
		a->connects->prev = d;
	a->connects = d;
	if ((err = ev_timer_start(a->loop, &d->timeout, WIRING_CONNECT_MS,
				  wiring_connect_on_timeout))) {
		d->withdrawn = true; /* lwIP's answer frees it */
		return err;
	}
	*out = d;
	return 0;
}

void
wiring_connect_cancel(struct wiring_connect *d)
{
	if (!d)
		return;
	if (d->kernel) {
		dial_cancel(d->kernel);
		free(d);
		return;
	}
	ev_timer_stop(d->a->loop, &d->timeout);
	d->withdrawn = true;
	close(d->fd);
	d->fd = -1;
}

void
wiring_connect_close(struct agent *a)
{
	while (a->connects)
		wiring_connect_free(a->connects);
}
