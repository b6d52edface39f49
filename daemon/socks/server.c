// SPDX-License-Identifier: MIT
/*
 * The SOCKS5 server's clients (server.h, which lists their states and the timer). The method
 * choice and the reply go through `out`, written while the handshake goes on; whatever of them
 * is unwritten when the target is connected goes first to the client through the splicer, so
 * it always precedes what the target sends. Bytes a client sent behind its request are kept in
 * `early` and go to the target first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/splice.h"
#include "socks/server.h"

/* ST_SPLICED: handed to the splicer, freed as soon as no caller of ours is still using it. */
enum socks_state { ST_GREETING, ST_REQUEST, ST_CONNECTING, ST_CLOSING, ST_SPLICED };

enum { SOCKS_OUT_MAX = SOCKS_METHOD_LEN + SOCKS_REPLY_MAX };

struct socks_client {
	struct socks_server *srv;
	struct socks_client *prev, *next;
	enum socks_state st;
	int cfd; /* the client; -1 once handed to the splicer */
	struct ev_io cio;
	struct ev_timer deadline;
	size_t inlen, earlylen, outlen, outoff;
	bool busy; /* within client_handshake: ops->connect may answer from inside it */
	uint8_t in[SOCKS_GREETING_MAX + SOCKS_REQUEST_MAX];
	uint8_t early[SOCKS_GREETING_MAX + SOCKS_REQUEST_MAX]; /* sent behind the request */
	uint8_t out[SOCKS_OUT_MAX];                            /* to the client: choice, reply */
};

struct socks_server {
	struct ev_loop *loop;
	struct socks_server_ops ops;
	void *arg;
	struct socks_client *clients;
	size_t n;
	struct splicer *splice; /* the connected clients */
};

static void client_on_cio(struct ev_io *io, uint32_t revents);

static void
client_free(struct socks_client *c)
{
	struct socks_server *srv = c->srv;

	if (c->st == ST_CONNECTING && srv->ops.cancel != NULL)
		srv->ops.cancel(srv->arg, c);
	if (c->cio.active)
		ev_io_stop(srv->loop, &c->cio);
	ev_timer_stop(srv->loop, &c->deadline);
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->n--;
	free(c);
}

static bool
client_has_out(const struct socks_client *c)
{
	return c->outoff < c->outlen;
}

/* The client is read while handshaking, written while `out` has bytes. */
static void
client_watch(struct socks_client *c)
{
	struct ev_loop *loop = c->srv->loop;
	uint32_t ev = 0;

	if (c->st == ST_GREETING || c->st == ST_REQUEST)
		ev |= EV_READ;
	if (client_has_out(c))
		ev |= EV_WRITE;
	/* Stopped when nothing is wanted: epoll reports a hang-up even for no events. */
	if (ev == 0) {
		if (c->cio.active)
			ev_io_stop(loop, &c->cio);
	} else if (!c->cio.active) {
		ev_io_start(loop, &c->cio, c->cfd, ev, client_on_cio);
	} else if (c->cio.events != ev) {
		ev_io_set_events(loop, &c->cio, ev);
	}
}

/* Queues bytes for the client (the method choice, a reply). */
static void
client_say(struct socks_client *c, const uint8_t *b, size_t n)
{
	memcpy(c->out + c->outlen, b, n); /* at most SOCKS_OUT_MAX in all */
	c->outlen += n;
}

static void
client_refuse(struct socks_client *c, enum socks_reply rep)
{
	uint8_t out[SOCKS_REPLY_MAX];

	client_say(c, out, socks_encode_reply(out, rep, NULL));
	c->st = ST_CLOSING;
}

/* Writes what `out` holds; false on an error (the client ends). */
static bool
client_drain(struct socks_client *c)
{
	ssize_t n;

	if (!client_has_out(c))
		return true;
	n = send(c->cfd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	c->outoff += (size_t)n;
	return true;
}

static bool
client_on_greeting(struct socks_client *c, size_t *used)
{
	struct socks_greeting g;
	uint8_t out[SOCKS_METHOD_LEN];

	switch (socks_parse_greeting(c->in, c->inlen, &g, used)) {
	case SOCKS_NEED_MORE:
		return false;
	case SOCKS_BAD:
		c->st = ST_CLOSING; /* not SOCKS5: nothing to say */
		return false;
	case SOCKS_DONE:
		break;
	}
	socks_encode_method(out, g.noauth ? SOCKS_METHOD_NOAUTH : SOCKS_METHOD_NONE);
	client_say(c, out, sizeof(out));
	c->st = g.noauth ? ST_REQUEST : ST_CLOSING;
	return g.noauth;
}

static bool
client_on_request(struct socks_client *c, size_t *used)
{
	struct socks_request r;
	enum socks_reply rep;

	switch (socks_parse_request(c->in, c->inlen, &r, used, &rep)) {
	case SOCKS_NEED_MORE:
		return false;
	case SOCKS_BAD:
		client_refuse(c, rep);
		return false;
	case SOCKS_DONE:
		break;
	}
	/* What follows the request is the client's first data for the target. */
	memcpy(c->early, c->in + *used, c->inlen - *used);
	c->earlylen = c->inlen - *used;
	*used = c->inlen;
	c->st = ST_CONNECTING;
	c->srv->ops.connect(c->srv->arg, c, &r);
	return false;
}

/* Parses what came in; each message consumed moves the rest to the front. */
static void
client_handshake(struct socks_client *c)
{
	bool more = true;

	while (more) {
		size_t used = 0;

		more = c->st == ST_GREETING ? client_on_greeting(c, &used)
					    : client_on_request(c, &used);
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
	}
}

static bool
client_read_handshake(struct socks_client *c)
{
	ssize_t n = read(c->cfd, c->in + c->inlen, sizeof(c->in) - c->inlen);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false; /* gone before it asked */
	c->inlen += (size_t)n;
	c->busy = true;
	client_handshake(c);
	c->busy = false;
	return true;
}

/* After any event: ends the client when it is finished, else watches what it now needs. */
static void
client_settle(struct socks_client *c, bool ok)
{
	if (!ok || c->st == ST_SPLICED || (c->st == ST_CLOSING && !client_has_out(c))) {
		client_free(c);
		return;
	}
	client_watch(c);
}

static void
client_on_cio(struct ev_io *io, uint32_t revents)
{
	struct socks_client *c = container_of(io, struct socks_client, cio);
	bool ok = true;

	if (revents & EV_WRITE)
		ok = client_drain(c);
	if (ok && (revents & EV_READ) && (c->st == ST_GREETING || c->st == ST_REQUEST))
		ok = client_read_handshake(c);
	client_settle(c, ok);
}

static void
client_on_deadline(struct ev_timer *t)
{
	client_free(container_of(t, struct socks_client, deadline));
}

int
socks_server_new(struct socks_server **out, struct ev_loop *loop,
		 const struct socks_server_ops *ops, void *arg)
{
	struct socks_server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL)
		return -ENOMEM;
	if (splicer_new(&srv->splice, loop, SOCKS_CLIENTS_MAX)) {
		free(srv);
		return -ENOMEM;
	}
	srv->loop = loop;
	srv->ops = *ops;
	srv->arg = arg;
	*out = srv;
	return 0;
}

void
socks_server_free(struct socks_server *srv)
{
	if (srv == NULL)
		return;
	while (srv->clients != NULL)
		client_free(srv->clients);
	splicer_free(srv->splice);
	free(srv);
}

int
socks_server_accept(struct socks_server *srv, int fd)
{
	struct socks_client *c;

	if (srv->n + splicer_pairs(srv->splice) >= SOCKS_CLIENTS_MAX) {
		close(fd);
		return -EMFILE;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    ev_timer_start(srv->loop, &c->deadline, SOCKS_HANDSHAKE_MS, client_on_deadline) < 0) {
		free(c);
		close(fd);
		return -ENOMEM;
	}
	c->srv = srv;
	c->cfd = fd;
	c->st = ST_GREETING;
	c->next = srv->clients;
	if (srv->clients != NULL)
		srv->clients->prev = c;
	srv->clients = c;
	srv->n++;
	client_watch(c);
	return 0;
}

void
socks_server_connected(struct socks_server *srv, struct socks_client *c, int fd,
		       enum socks_reply rep, const struct sockaddr_storage *bound)
{
	uint8_t out[SOCKS_REPLY_MAX];
	int cfd = c->cfd;

	if (fd < 0) {
		client_refuse(c, rep == SOCKS_REP_SUCCEEDED ? SOCKS_REP_GENERAL_FAILURE : rep);
		client_watch(c);
		return;
	}
	client_say(c, out, socks_encode_reply(out, SOCKS_REP_SUCCEEDED, bound));
	/* The splicer takes both descriptors and what is still to be written each way. */
	if (c->cio.active)
		ev_io_stop(srv->loop, &c->cio); /* one watcher per descriptor */
	c->st = ST_SPLICED;
	c->cfd = -1;
	splicer_add_with(srv->splice, cfd, fd, c->early, c->earlylen, c->out + c->outoff,
			 c->outlen - c->outoff);
	if (!c->busy)
		client_free(c);
}

size_t
socks_server_clients(const struct socks_server *srv)
{
	return srv->n + splicer_pairs(srv->splice);
}
