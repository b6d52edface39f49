// SPDX-License-Identifier: MIT
/*
 * The application interface's socket (appapi.h): clients, their bounds, and the answers with
 * their descriptors.
 *
 * A client's states:
 *   READING   until its request line (APPAPI_REQUEST_TIMEOUT_MS, then closed and counted)
 *   PENDING   a connect under way in the wiring; ends with appapi_connected/_failed
 *   LISTENING a listen registered; appapi_deliver queues accept lines; any byte it sends is a
 *             protocol error (answered, closed), its EOF ends the listen
 *   CLOSING   the last answer is queued: closed once it is written
 * The ops' gone is called when a PENDING or LISTENING client goes, for any reason.
 *
 * Answers are queued (at most APPAPI_QUEUE_MAX per client, each a line and at most one
 * descriptor) and written with sendmsg, the descriptor as SCM_RIGHTS on the line's bytes; a
 * client that does not read fills its queue and further connections for it are closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "appapi/appapi.h"
#include "core/ev.h"
#include "core/log.h"

enum appapi_state { APPAPI_READING, APPAPI_PENDING, APPAPI_LISTENING, APPAPI_CLOSING };

struct appapi_out {
	char line[APPAPI_LINE_MAX];
	size_t len, off; /* off > 0: the descriptor went with the first bytes */
	int fd;          /* -1: none */
};

struct appapi_client {
	struct appapi *api;
	int fd;
	int state; /* enum appapi_state */
	struct ev_io io;
	struct ev_timer deadline;
	char line[APPAPI_LINE_MAX];
	size_t llen;
	struct appapi_out out[APPAPI_QUEUE_MAX];
	unsigned ohead, ocount;
	void *data;
	struct appapi_client *next;
};

struct appapi {
	struct ev_loop *loop;
	const struct appapi_ops *ops;
	void *arg;
	int fd;
	struct ev_io io;
	struct appapi_client *clients;
	unsigned nclients;
	struct appapi_stats stats;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void
appapi_client_free(struct appapi_client *c)
{
	struct appapi *api = c->api;
	struct appapi_client **pp;

	if (c->state == APPAPI_PENDING || c->state == APPAPI_LISTENING) {
		c->state = APPAPI_CLOSING;
		api->ops->gone(api->arg, c);
	}
	for (pp = &api->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	api->nclients--;
	ev_io_stop(api->loop, &c->io);
	ev_timer_stop(api->loop, &c->deadline);
	for (unsigned i = 0; i < c->ocount; i++) {
		struct appapi_out *o = &c->out[(c->ohead + i) % APPAPI_QUEUE_MAX];

		if (o->fd >= 0)
			close(o->fd);
	}
	close(c->fd);
	free(c);
}

/* One queued answer, or what is left of it. 1 written, 0 try later, -1 the client is gone. */
static int
appapi_send_one(struct appapi_client *c, struct appapi_out *o)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { o->line + o->off, o->len - o->off };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (o->fd >= 0 && o->off == 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &o->fd, sizeof(int));
	}
	n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	if (o->off == 0 && o->fd >= 0) {
		close(o->fd); /* the client holds its own copy now */
		o->fd = -1;
	}
	o->off += (size_t)n;
	return o->off == o->len ? 1 : 0;
}

/* Writes what is queued; closes a CLOSING client once all is out. false if c was freed. */
static bool
appapi_flush(struct appapi_client *c)
{
	struct appapi *api = c->api;
	int r = 1;

	while (c->ocount) {
		r = appapi_send_one(c, &c->out[c->ohead]);
		if (r <= 0)
			break;
		c->ohead = (c->ohead + 1) % APPAPI_QUEUE_MAX;
		c->ocount--;
	}
	if (r < 0 || (c->ocount == 0 && c->state == APPAPI_CLOSING)) {
		appapi_client_free(c);
		return false;
	}
	ev_io_set_events(api->loop, &c->io, c->ocount ? EV_READ | EV_WRITE : EV_READ);
	return true;
}

/* Queues a line (and fd, taken). false if the queue is full (fd closed). */
static bool
appapi_queue(struct appapi_client *c, const char *line, size_t len, int fd)
{
	struct appapi_out *o;

	if (c->ocount == APPAPI_QUEUE_MAX) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	o = &c->out[(c->ohead + c->ocount) % APPAPI_QUEUE_MAX];
	memcpy(o->line, line, len);
	o->len = len;
	o->off = 0;
	o->fd = fd;
	c->ocount++;
	return true;
}

/* The final answer: queued, c closes once it is out. */
static void
appapi_finish(struct appapi_client *c, const char *line, size_t len, int fd)
{
	c->state = APPAPI_CLOSING;
	ev_timer_stop(c->api->loop, &c->deadline);
	if (!appapi_queue(c, line, len, fd)) {
		appapi_client_free(c);
		return;
	}
	appapi_flush(c);
}

static void
appapi_error(struct appapi_client *c, int code, const char *msg)
{
	char line[APPAPI_LINE_MAX];
	size_t n = appapi_format_error(line, sizeof(line), code, msg);

	if (c->state == APPAPI_PENDING || c->state == APPAPI_LISTENING)
		c->api->ops->gone(c->api->arg, c);
	appapi_finish(c, line, n, -1);
}

/* A request line; more bytes after it (more) are an error too, once the line is good. */
static void
appapi_dispatch(struct appapi_client *c, const char *line, size_t len, bool more)
{
	struct appapi *api = c->api;
	struct appapi_request req;
	char why[APPAPI_MESSAGE_MAX] = "";
	char out[APPAPI_LINE_MAX];
	const char *bad = "?";
	int code;

	if (!appapi_parse_request(line, len, &req, &bad)) {
		api->stats.bad_requests++;
		log_debug(LOG_CTL, "app socket: bad request: %s", bad);
		appapi_error(c, APPAPI_E_BAD_REQUEST, bad);
		return;
	}
	if (more) {
		api->stats.bad_requests++;
		appapi_error(c, APPAPI_E_BAD_REQUEST, "one request per connection");
		return;
	}
	ev_timer_stop(api->loop, &c->deadline);
	if (req.verb == APPAPI_CONNECT) {
		api->stats.connects++;
		code = api->ops->connect(api->arg, c, req.peer, req.purpose, why, sizeof(why));
		if (code == 0) {
			c->state = APPAPI_PENDING;
			return;
		}
		appapi_error(c, code, why);
		return;
	}
	api->stats.listens++;
	code = api->ops->listen(api->arg, c, req.purpose, why, sizeof(why));
	if (code) {
		appapi_error(c, code, why);
		return;
	}
	c->state = APPAPI_LISTENING;
	len = appapi_format_listening(out, sizeof(out), req.purpose);
	if (appapi_queue(c, out, len, -1))
		appapi_flush(c);
}

/* Bytes from a client: its request line, or (listening) EOF or a protocol error. */
static void
appapi_client_read(struct appapi_client *c)
{
	char *nl, extra[64];
	ssize_t n;

	if (c->state == APPAPI_READING)
		n = read(c->fd, c->line + c->llen, sizeof(c->line) - c->llen);
	else
		n = read(c->fd, extra, sizeof(extra));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		appapi_client_free(c);
		return;
	}
	if (c->state != APPAPI_READING) {
		if (c->state == APPAPI_LISTENING)
			appapi_error(c, APPAPI_E_BAD_REQUEST,
				     "one request per connection: nothing may follow listen");
		else if (c->state == APPAPI_PENDING)
			appapi_error(c, APPAPI_E_BAD_REQUEST,
				     "one request per connection: wait for the answer");
		return;
	}
	c->llen += (size_t)n;
	nl = memchr(c->line, '\n', c->llen);
	if (!nl) {
		if (c->llen == sizeof(c->line)) {
			c->api->stats.bad_requests++;
			appapi_error(c, APPAPI_E_BAD_REQUEST, "line longer than 511 bytes");
		}
		return;
	}
	appapi_dispatch(c, c->line, (size_t)(nl - c->line), (size_t)(nl - c->line) + 1 != c->llen);
}

static void
appapi_client_on_io(struct ev_io *io, uint32_t revents)
{
	struct appapi_client *c = container_of(io, struct appapi_client, io);

	if ((revents & EV_WRITE) && !appapi_flush(c))
		return;
	if (revents & EV_READ)
		appapi_client_read(c);
}

static void
appapi_client_on_deadline(struct ev_timer *t)
{
	struct appapi_client *c = container_of(t, struct appapi_client, deadline);

	c->api->stats.timeouts++;
	appapi_error(c, APPAPI_E_BAD_REQUEST, "no request line within 5 seconds");
}

static void
appapi_refuse(int fd, int code, const char *msg)
{
	char line[APPAPI_LINE_MAX];
	size_t n = appapi_format_error(line, sizeof(line), code, msg);

	/* Best effort on a fresh socket (its buffer is empty): the caller learns why. */
	if (send(fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug(LOG_CTL, "app socket: refusal not sent: %s", strerror(errno));
	close(fd);
}

static void
appapi_on_accept(struct ev_io *io, uint32_t revents)
{
	struct appapi *api = container_of(io, struct appapi, io);
	struct appapi_client *c;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int fd;

	(void)revents;
	fd = accept4(api->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		api->stats.refused_cred++;
		log_warnx("app socket: refused a caller that is neither root nor our user");
		appapi_refuse(fd, APPAPI_E_PERMISSION,
			      "only root and vertexd's user may use the app socket");
		return;
	}
	if (api->nclients >= APPAPI_MAX_CLIENTS || !(c = calloc(1, sizeof(*c)))) {
		api->stats.refused_full++;
		appapi_refuse(fd, APPAPI_E_UNAVAILABLE, "too many clients on the app socket");
		return;
	}
	api->stats.accepted++;
	c->api = api;
	c->fd = fd;
	c->state = APPAPI_READING;
	c->next = api->clients;
	api->clients = c;
	api->nclients++;
	ev_io_start(api->loop, &c->io, fd, EV_READ, appapi_client_on_io);
	ev_timer_start(api->loop, &c->deadline, APPAPI_REQUEST_TIMEOUT_MS,
		       appapi_client_on_deadline);
}

int
appapi_new(struct appapi **out, struct ev_loop *loop, const char *path,
	   const struct appapi_ops *ops, void *arg)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct appapi *api;
	mode_t old;
	int err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->loop = loop;
	api->ops = ops;
	api->arg = arg;
	strcpy(sun.sun_path, path);
	strcpy(api->path, path);
	api->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (api->fd < 0)
		goto err_free;
	/* A socket file left by a crash would make bind fail: it is ours to replace. */
	unlink(sun.sun_path);
	old = umask(0117);
	err = bind(api->fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (err < 0 || listen(api->fd, APPAPI_MAX_CLIENTS) < 0)
		goto err_close;
	if ((err = ev_io_start(loop, &api->io, api->fd, EV_READ, appapi_on_accept))) {
		errno = -err;
		goto err_close;
	}
	*out = api;
	return 0;

err_close:
	err = -errno;
	close(api->fd);
	free(api);
	return err;
err_free:
	err = -errno;
	free(api);
	return err;
}

void
appapi_free(struct appapi *api)
{
	if (!api)
		return;
	while (api->clients)
		appapi_client_free(api->clients);
	ev_io_stop(api->loop, &api->io);
	close(api->fd);
	unlink(api->path);
	free(api);
}

const struct appapi_stats *
appapi_stats(const struct appapi *api)
{
	return &api->stats;
}

void
appapi_client_set_data(struct appapi_client *c, void *data)
{
	c->data = data;
}

void *
appapi_client_data(const struct appapi_client *c)
{
	return c->data;
}

void
appapi_connected(struct appapi_client *c, int fd, const char *addr, uint16_t port)
{
	char line[APPAPI_LINE_MAX];
	size_t n = appapi_format_connected(line, sizeof(line), addr, port);

	appapi_finish(c, line, n, fd);
}

void
appapi_failed(struct appapi_client *c, int code, const char *message)
{
	char line[APPAPI_LINE_MAX];
	size_t n = appapi_format_error(line, sizeof(line), code, message);

	appapi_finish(c, line, n, -1);
}

bool
appapi_deliver(struct appapi_client *c, int fd, const char *peer, const char *addr, uint16_t port)
{
	char line[APPAPI_LINE_MAX];
	size_t n = appapi_format_accept(line, sizeof(line), peer, addr, port);

	if (!appapi_queue(c, line, n, fd)) {
		c->api->stats.dropped_queue++;
		return false;
	}
	c->api->stats.delivered++;
	/* Written from the loop, not here: a failed write frees c, and the caller holds it. */
	ev_io_set_events(c->api->loop, &c->io, EV_READ | EV_WRITE);
	return true;
}
