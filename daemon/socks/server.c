// SPDX-License-Identifier: MIT
/*
 * The SOCKS5 server's clients (server.h, which lists their states and the timer). The method
 * choice and the reply are written through the target-to-client buffer like any other bytes,
 * so they always precede what the target sends; bytes a client sent behind its request start
 * the client-to-target buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ev.h"
#include "socks/server.h"

enum socks_state { ST_GREETING, ST_REQUEST, ST_CONNECTING, ST_SPLICING, ST_CLOSING };

struct socks_pipe {
	size_t len, off;
	bool eof;  /* the source's EOF was read */
	bool shut; /* ... and passed on: the destination's writing half is shut */
	uint8_t buf[SOCKS_SPLICE_BUF];
};

struct socks_client {
	struct socks_server *srv;
	struct socks_client *prev, *next;
	enum socks_state st;
	int cfd, tfd; /* the client; the target (-1 until connected) */
	struct ev_io cio, tio;
	struct ev_timer deadline;
	size_t inlen;
	uint8_t in[SOCKS_GREETING_MAX + SOCKS_REQUEST_MAX];
	struct socks_pipe up, down; /* client -> target, target -> client */
};

struct socks_server {
	struct ev_loop *loop;
	struct socks_server_ops ops;
	void *arg;
	struct socks_client *clients;
	size_t n;
};

static void client_on_cio(struct ev_io *io, uint32_t revents);
static void client_on_tio(struct ev_io *io, uint32_t revents);

static void
client_free(struct socks_client *c)
{
	struct socks_server *srv = c->srv;

	if (c->st == ST_CONNECTING && srv->ops.cancel != NULL)
		srv->ops.cancel(srv->arg, c);
	if (c->cio.active)
		ev_io_stop(srv->loop, &c->cio);
	if (c->tio.active)
		ev_io_stop(srv->loop, &c->tio);
	ev_timer_stop(srv->loop, &c->deadline);
	close(c->cfd);
	if (c->tfd >= 0)
		close(c->tfd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->n--;
	free(c);
}

/* Stopped when nothing is wanted: epoll reports a hang-up even for no events. */
static void
watch(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t ev,
      void (*cb)(struct ev_io *, uint32_t))
{
	if (ev == 0) {
		if (io->active)
			ev_io_stop(loop, io);
	} else if (!io->active) {
		ev_io_start(loop, io, fd, ev, cb);
	} else if (io->events != ev) {
		ev_io_set_events(loop, io, ev);
	}
}

static bool
pipe_has_data(const struct socks_pipe *p)
{
	return p->off < p->len;
}

static bool
pipe_wants_read(const struct socks_pipe *p)
{
	return !pipe_has_data(p) && !p->eof;
}

static void
client_watch(struct socks_client *c)
{
	struct ev_loop *loop = c->srv->loop;
	uint32_t cev = 0, tev = 0;

	if (c->st == ST_GREETING || c->st == ST_REQUEST ||
	    (c->st == ST_SPLICING && pipe_wants_read(&c->up)))
		cev |= EV_READ;
	if (pipe_has_data(&c->down))
		cev |= EV_WRITE;
	watch(loop, &c->cio, c->cfd, cev, client_on_cio);
	if (c->tfd < 0)
		return;
	if (c->st == ST_SPLICING && pipe_wants_read(&c->down))
		tev |= EV_READ;
	if (pipe_has_data(&c->up))
		tev |= EV_WRITE;
	watch(loop, &c->tio, c->tfd, tev, client_on_tio);
}

/* Queues bytes for the client (the method choice, a reply): before anything else it gets. */
static void
client_say(struct socks_client *c, const uint8_t *b, size_t n)
{
	memcpy(c->down.buf + c->down.len, b, n); /* handshake bytes: far below the buffer size */
	c->down.len += n;
}

static void
client_refuse(struct socks_client *c, enum socks_reply rep)
{
	uint8_t out[SOCKS_REPLY_MAX];

	client_say(c, out, socks_encode_reply(out, rep, NULL));
	c->st = ST_CLOSING;
}

/* Reads src into p; false on an error (the client ends). */
static bool
pipe_fill(struct socks_pipe *p, int src)
{
	ssize_t n = read(src, p->buf, sizeof(p->buf));

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		p->eof = true;
	p->len = (size_t)n;
	p->off = 0;
	return true;
}

/* Writes p to dst, then passes its EOF on; false on an error. */
static bool
pipe_drain(struct socks_pipe *p, int dst)
{
	if (pipe_has_data(p)) {
		ssize_t n = send(dst, p->buf + p->off, p->len - p->off, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		p->off += (size_t)n;
		if (p->off < p->len)
			return true;
		p->off = p->len = 0;
	}
	if (p->eof && !p->shut) {
		shutdown(dst, SHUT_WR);
		p->shut = true;
	}
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
	memcpy(c->up.buf, c->in + *used, c->inlen - *used);
	c->up.len = c->inlen - *used;
	c->up.off = 0;
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
	client_handshake(c);
	return true;
}

/* After any event: ends the client when it is finished, else watches what it now needs. */
static void
client_settle(struct socks_client *c, bool ok)
{
	if (!ok || (c->st == ST_CLOSING && !pipe_has_data(&c->down)) ||
	    (c->st == ST_SPLICING && c->up.shut && c->down.shut)) {
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
		ok = pipe_drain(&c->down, c->cfd);
	if (ok && (revents & EV_READ)) {
		if (c->st == ST_GREETING || c->st == ST_REQUEST)
			ok = client_read_handshake(c);
		else if (c->st == ST_SPLICING && pipe_wants_read(&c->up))
			ok = pipe_fill(&c->up, c->cfd) && pipe_drain(&c->up, c->tfd);
	}
	client_settle(c, ok);
}

static void
client_on_tio(struct ev_io *io, uint32_t revents)
{
	struct socks_client *c = container_of(io, struct socks_client, tio);
	bool ok = true;

	if (revents & EV_WRITE)
		ok = pipe_drain(&c->up, c->tfd);
	if (ok && (revents & EV_READ) && pipe_wants_read(&c->down))
		ok = pipe_fill(&c->down, c->tfd) && pipe_drain(&c->down, c->cfd);
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
	free(srv);
}

int
socks_server_accept(struct socks_server *srv, int fd)
{
	struct socks_client *c;

	if (srv->n >= SOCKS_CLIENTS_MAX) {
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
	c->tfd = -1;
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

	if (fd < 0) {
		client_refuse(c, rep == SOCKS_REP_SUCCEEDED ? SOCKS_REP_GENERAL_FAILURE : rep);
		client_watch(c);
		return;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	c->tfd = fd;
	client_say(c, out, socks_encode_reply(out, SOCKS_REP_SUCCEEDED, bound));
	c->st = ST_SPLICING;
	ev_timer_stop(srv->loop, &c->deadline);
	client_watch(c);
}

size_t
socks_server_clients(const struct socks_server *srv)
{
	return srv->n;
}
