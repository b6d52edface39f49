// SPDX-License-Identifier: MIT
/*
 * Record streams over TLS. States: CONNECTING (client, waiting for TCP), HANDSHAKE, OPEN.
 * Timer: the deadline, armed at creation (STREAM_HANDSHAKE_MS) and disarmed when established;
 * owners re-arm it for their own idle limits. See stream.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"
#include "proto/record.h"

enum stream_state { STREAM_CONNECTING, STREAM_HANDSHAKE, STREAM_OPEN };
enum {
	STREAM_RBUF_MAX = RECORD_HDR_LEN + STREAM_RECORD_MAX,
	STREAM_RBUF_MIN = 1024, /* enough for every message but certificates and lists */
	STREAM_READS_PER_TURN = 64,
	STREAM_COALESCE_BYTES = 16384, /* one full TLS record: written at once */
};

struct stream {
	struct ev_loop *loop;
	struct tls_ctx *ctx;
	struct tls_conn *tls;
	const struct stream_ops *ops;
	void *arg;
	char *expected;
	char *server_name; /* client: sent as SNI */
	int fd;
	bool is_client;
	bool tls_server; /* connected by us, TLS as the server (stream_new_simopen) */
	bool closed;
	bool bulk;            /* stream_set_bulk: buffers stay allocated */
	bool coalesce;        /* stream_set_coalesce: records written at the end of the turn */
	bool bp_paused;       /* back-pressure: not reading until output drains to bp_limit */
	size_t bp_limit;      /* stream_set_backpressure; 0: off */
	unsigned in_callback; /* > 0 while an owner's callback runs: freeing waits for it */
	enum stream_state state;
	struct ev_io io;
	struct ev_timer deadline;
	struct ev_timer flush_timer; /* coalesced output goes at the end of the turn */
	struct sockaddr_storage remote;
	/*
	 * Buffers are sized to what is in flight, not to the largest record: a server holds
	 * thousands of idle streams, each of which needs a few hundred bytes most of the time.
	 * rbuf grows (up to STREAM_RBUF_MAX) when a record's header announces a large body and
	 * shrinks back once it is consumed; wbuf exists only while output is pending.
	 */
	size_t rlen, rcap, wlen, wcap;
	uint8_t *rbuf;
	uint8_t *wbuf;
};

static void stream_on_io(struct ev_io *io, uint32_t revents);

static void
stream_on_deadline(struct ev_timer *t)
{
	struct stream *s = container_of(t, struct stream, deadline);

	stream_close(s, s->state == STREAM_OPEN ? "idle for too long" : "timed out");
}

static void
stream_free(struct stream *s)
{
	tls_conn_free(s->tls);
	if (s->fd >= 0)
		close(s->fd);
	free(s->expected);
	free(s->server_name);
	free(s->rbuf);
	free(s->wbuf);
	free(s);
}

int
stream_new(struct stream **out, struct ev_loop *loop, struct tls_ctx *ctx, int fd, bool is_client,
	   const char *expected, const struct sockaddr_storage *remote,
	   const struct stream_ops *ops, void *arg)
{
	struct stream *s = calloc(1, sizeof(*s));
	int one = 1;

	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->fd = fd;
	s->loop = loop;
	s->ctx = ctx;
	s->ops = ops;
	s->arg = arg;
	s->is_client = is_client;
	if (remote)
		s->remote = *remote;
	s->rbuf = malloc(STREAM_RBUF_MIN);
	s->rcap = STREAM_RBUF_MIN;
	if (!s->rbuf || (expected && !(s->expected = strdup(expected)))) {
		stream_free(s);
		return -ENOMEM;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->state = is_client ? STREAM_CONNECTING : STREAM_HANDSHAKE;
	if (!is_client && tls_conn_new(&s->tls, ctx, fd, false, NULL)) {
		stream_free(s);
		return -ENOMEM;
	}
	if (ev_io_start(loop, &s->io, fd, is_client ? EV_WRITE : EV_READ, stream_on_io) ||
	    ev_timer_start(loop, &s->deadline, STREAM_HANDSHAKE_MS, stream_on_deadline)) {
		ev_io_stop(loop, &s->io);
		stream_free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

int
stream_connect_fd(struct stream **out, struct ev_loop *loop, struct tls_ctx *ctx, int fd,
		  const struct sockaddr_storage *to, const char *server_name, const char *expected,
		  const struct stream_ops *ops, void *arg)
{
	socklen_t sl =
	    to->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	struct stream *s;
	int err;

	if (connect(fd, (const struct sockaddr *)to, sl) < 0 && errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	err = stream_new(&s, loop, ctx, fd, true, expected, to, ops, arg);
	if (err)
		return err;
	/* Nothing has run yet (TLS starts once connected), so a failure here undoes quietly. */
	if (server_name && !(s->server_name = strdup(server_name))) {
		ev_io_stop(loop, &s->io);
		ev_timer_stop(loop, &s->deadline);
		stream_free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

int
stream_connect(struct stream **out, struct ev_loop *loop, struct tls_ctx *ctx,
	       const struct sockaddr_storage *to, const char *server_name, const char *expected,
	       const struct stream_ops *ops, void *arg)
{
	int fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	return stream_connect_fd(out, loop, ctx, fd, to, server_name, expected, ops, arg);
}

int
stream_new_simopen(struct stream **out, struct ev_loop *loop, struct tls_ctx *ctx, int fd,
		   bool tls_client, const char *expected, const struct sockaddr_storage *remote,
		   const struct stream_ops *ops, void *arg)
{
	/* Waits for the connection like a client; stream_on_connected picks the TLS role. */
	int err =
	    stream_new(out, loop, ctx, fd, true, tls_client ? expected : NULL, remote, ops, arg);

	if (!err)
		(*out)->tls_server = !tls_client;
	return err;
}

/*
 * Closing from inside one of the owner's callbacks (a failed send in on_established, say) must
 * not free the stream under the code that called back: the free then waits until the callback
 * has returned (stream_callback_done). on_closed still runs at once, exactly once.
 */
/* What waits to be coalesced goes now, as far as the socket takes it (a CLOSE record, say). */
static void
stream_flush_last(struct stream *s)
{
	while (s->coalesce && s->state == STREAM_OPEN && s->wlen) {
		uint32_t want = 0;
		size_t chunk = s->wlen < 16384 ? s->wlen : 16384;
		ssize_t n = tls_conn_write(s->tls, s->wbuf, chunk, &want);

		if (n <= 0)
			return;
		memmove(s->wbuf, s->wbuf + n, s->wlen - (size_t)n);
		s->wlen -= (size_t)n;
	}
}

void
stream_close(struct stream *s, const char *why)
{
	if (s->closed)
		return;
	stream_flush_last(s);
	s->closed = true;
	ev_io_stop(s->loop, &s->io);
	ev_timer_stop(s->loop, &s->deadline);
	ev_timer_stop(s->loop, &s->flush_timer);
	if (s->ops->on_closed)
		s->ops->on_closed(s, why);
	if (!s->in_callback)
		stream_free(s);
}

static void
stream_callback_begin(struct stream *s)
{
	s->in_callback++;
}

/* True if the stream is still open; if it was closed during the callback, frees it. */
static bool
stream_callback_done(struct stream *s)
{
	if (--s->in_callback || !s->closed)
		return !s->closed;
	stream_free(s);
	return false;
}

/* More output waits than the back-pressure limit allows: no more requests for now. */
static bool
stream_is_backed_up(const struct stream *s)
{
	return s->bp_limit && s->wlen > s->bp_limit;
}

/*
 * Reading is off while paused by back-pressure. A paused stream whose output has drained (by a
 * send from a callback, say) keeps EV_WRITE so that stream_on_io comes back and resumes it.
 */
static void
stream_set_events(struct stream *s, uint32_t want)
{
	bool resume = s->bp_paused && !stream_is_backed_up(s);

	ev_io_set_events(s->loop, &s->io,
			 (s->bp_paused ? 0 : EV_READ) | want | (s->wlen || resume ? EV_WRITE : 0));
}

/* Writes what is buffered; false if the stream closed. */
static bool
stream_flush(struct stream *s)
{
	while (s->wlen) {
		uint32_t want = 0;
		size_t chunk = s->wlen < 16384 ? s->wlen : 16384;
		ssize_t n = tls_conn_write(s->tls, s->wbuf, chunk, &want);

		if (n == -EAGAIN) {
			stream_set_events(s, want);
			return true;
		}
		if (n <= 0) {
			stream_close(s, n ? tls_conn_error(s->tls) : "connection closed");
			return false;
		}
		memmove(s->wbuf, s->wbuf + n, s->wlen - (size_t)n);
		s->wlen -= (size_t)n;
	}
	if (!s->bulk) {
		free(s->wbuf);
		s->wbuf = NULL;
		s->wcap = 0;
	}
	stream_set_events(s, 0);
	return true;
}

/* Makes room for len more bytes of output; false if the stream would exceed its bound. */
static bool
stream_wbuf_reserve(struct stream *s, size_t len)
{
	size_t need = s->wlen + len, cap = s->wcap ? s->wcap : 4096;
	uint8_t *p;

	if (need > STREAM_WBUF_SIZE)
		return false;
	while (cap < need)
		cap *= 2;
	if (cap == s->wcap)
		return true;
	p = realloc(s->wbuf, cap < STREAM_WBUF_SIZE ? cap : STREAM_WBUF_SIZE);
	if (!p)
		return false;
	s->wbuf = p;
	s->wcap = cap < STREAM_WBUF_SIZE ? cap : STREAM_WBUF_SIZE;
	return true;
}

/* Sets rbuf's capacity (to hold a large record, or back to the minimum). */
static bool
stream_rbuf_resize(struct stream *s, size_t cap)
{
	uint8_t *p;

	if (cap == s->rcap || cap < s->rlen)
		return true;
	p = realloc(s->rbuf, cap);
	if (!p)
		return false;
	s->rbuf = p;
	s->rcap = cap;
	return true;
}

static void
stream_on_flush_timer(struct ev_timer *t)
{
	struct stream *s = container_of(t, struct stream, flush_timer);

	if (!s->closed)
		stream_flush(s);
}

bool
stream_send(struct stream *s, uint16_t type, const void *body, size_t len)
{
	struct record_hdr h = { .type = type, .len = (uint32_t)len };

	if (s->closed || s->state != STREAM_OPEN || len > STREAM_RECORD_MAX ||
	    !stream_wbuf_reserve(s, RECORD_HDR_LEN + len))
		return false;
	record_hdr_encode(s->wbuf + s->wlen, &h);
	if (len)
		memcpy(s->wbuf + s->wlen + RECORD_HDR_LEN, body, len);
	s->wlen += RECORD_HDR_LEN + len;
	/*
	 * Coalescing: the records of one turn share TLS records and system calls (a relay's frames
	 * arrive in bursts), written once there is a full TLS record's worth, or at the end of
	 * the turn (a timer due now runs before the loop sleeps).
	 */
	if (s->coalesce && s->wlen < STREAM_COALESCE_BYTES) {
		if (!ev_timer_is_armed(&s->flush_timer))
			ev_timer_start(s->loop, &s->flush_timer, 0, stream_on_flush_timer);
		return true;
	}
	return stream_flush(s);
}

void
stream_set_coalesce(struct stream *s)
{
	s->coalesce = true;
}

bool
stream_send_msg(struct stream *s, const struct ctlmsg *m)
{
	static uint8_t body[STREAM_RECORD_MAX];
	int n = ctlmsg_encode(m, body, sizeof(body));

	if (n < 0) {
		log_warnx("control: cannot encode %s: %s", ctlmsg_type_name(m->type), strerror(-n));
		return false;
	}
	return stream_send(s, m->type, body, (size_t)n);
}

/* The room the bytes left in rbuf need: the whole record they start, once its header is in. */
static size_t
stream_pending_need(const struct stream *s)
{
	struct record_hdr h;

	if (s->rlen >= RECORD_HDR_LEN && record_hdr_decode(s->rbuf, s->rlen, &h))
		return RECORD_HDR_LEN + h.len;
	return s->rlen;
}

/* Hands complete records to the owner; false if the stream closed. */
static bool
stream_parse(struct stream *s)
{
	size_t off = 0;

	while (s->rlen - off >= RECORD_HDR_LEN) {
		struct record_hdr h;

		if (stream_is_backed_up(s)) {
			s->bp_paused = true; /* the rest waits in rbuf (stream_resume) */
			break;
		}
		if (!record_hdr_decode(s->rbuf + off, s->rlen - off, &h) ||
		    h.len > STREAM_RECORD_MAX) {
			stream_close(s, "malformed or oversized record");
			return false;
		}
		if (s->rlen - off < RECORD_HDR_LEN + h.len) {
			/* Incomplete: make sure the whole record will fit once it arrives. */
			if (RECORD_HDR_LEN + h.len > s->rcap) {
				memmove(s->rbuf, s->rbuf + off, s->rlen - off);
				s->rlen -= off;
				off = 0;
				if (!stream_rbuf_resize(s, RECORD_HDR_LEN + h.len)) {
					stream_close(s, "out of memory");
					return false;
				}
			}
			break;
		}
		stream_callback_begin(s);
		s->ops->on_record(s, h.type, s->rbuf + off + RECORD_HDR_LEN, h.len);
		if (!stream_callback_done(s))
			return false;
		off += RECORD_HDR_LEN + h.len;
	}
	memmove(s->rbuf, s->rbuf + off, s->rlen - off);
	s->rlen -= off;
	/* Back to the minimum, unless what is left is the start of a record that needs more
	 * (shrinking under it left no room to read the rest: a read of zero bytes). */
	if (!s->bulk && s->rcap > STREAM_RBUF_MIN && stream_pending_need(s) <= STREAM_RBUF_MIN)
		stream_rbuf_resize(s, STREAM_RBUF_MIN);
	return true;
}

static void
stream_read(struct stream *s)
{
	for (int i = 0; i < STREAM_READS_PER_TURN; i++) {
		uint32_t want = 0;
		ssize_t n = tls_conn_read(s->tls, s->rbuf + s->rlen, s->rcap - s->rlen, &want);

		if (n == -EAGAIN) {
			stream_set_events(s, want);
			return;
		}
		if (n <= 0) {
			stream_close(s, n ? tls_conn_error(s->tls) : "closed by the other side");
			return;
		}
		s->rlen += (size_t)n;
		if (!stream_parse(s))
			return;
		if (s->bp_paused) {
			stream_set_events(s, 0);
			return;
		}
	}
}

/* Output drained below the back-pressure limit: the records waiting in rbuf, then reading. */
static void
stream_resume(struct stream *s)
{
	s->bp_paused = false;
	if (!stream_parse(s))
		return;
	if (s->bp_paused) {
		stream_set_events(s, 0);
		return;
	}
	stream_set_events(s, 0);
	stream_read(s); /* TLS may hold decrypted bytes no epoll event will announce */
}

static void
stream_handshake(struct stream *s)
{
	uint32_t want = 0;
	int rc = tls_conn_handshake(s->tls, &want);

	if (rc == -EAGAIN) {
		stream_set_events(s, want);
		return;
	}
	if (rc) {
		char why[300];

		const char *err = tls_conn_error(s->tls);

		/* Some of TLS's reasons already say so. */
		snprintf(why, sizeof(why), "%s%s",
			 strncmp(err, "handshake failed", 16) ? "handshake failed: " : "", err);
		stream_close(s, why);
		return;
	}
	s->state = STREAM_OPEN;
	ev_timer_stop(s->loop, &s->deadline);
	stream_set_events(s, 0);
	if (s->ops->on_established) {
		stream_callback_begin(s);
		s->ops->on_established(s);
		if (!stream_callback_done(s))
			return;
	}
	/* Records may have arrived with the handshake's last flight. */
	if (tls_conn_has_pending(s->tls))
		stream_read(s);
}

static void
stream_on_connected(struct stream *s)
{
	int err = 0;
	socklen_t el = sizeof(err);

	getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		stream_close(s, strerror(err));
		return;
	}
	if (tls_conn_new(&s->tls, s->ctx, s->fd, !s->tls_server, s->expected) ||
	    (s->server_name && tls_conn_set_server_name(s->tls, s->server_name))) {
		stream_close(s, "cannot create TLS state");
		return;
	}
	s->state = STREAM_HANDSHAKE;
	stream_handshake(s);
}

static void
stream_on_io(struct ev_io *io, uint32_t revents)
{
	struct stream *s = container_of(io, struct stream, io);

	switch (s->state) {
	case STREAM_CONNECTING:
		stream_on_connected(s);
		return;
	case STREAM_HANDSHAKE:
		stream_handshake(s);
		return;
	case STREAM_OPEN:
		if ((revents & EV_WRITE) && !stream_flush(s))
			return;
		if (s->bp_paused) {
			if (!stream_is_backed_up(s))
				stream_resume(s);
			return;
		}
		if (revents & EV_READ)
			stream_read(s);
		return;
	}
}

void *
stream_arg(const struct stream *s)
{
	return s->arg;
}

void
stream_set_arg(struct stream *s, void *arg)
{
	s->arg = arg;
}

struct tls_conn *
stream_tls(const struct stream *s)
{
	return s->tls;
}

const struct sockaddr_storage *
stream_remote(const struct stream *s)
{
	return &s->remote;
}

void
stream_set_backpressure(struct stream *s, size_t limit)
{
	s->bp_limit = limit;
}

size_t
stream_pending_output(const struct stream *s)
{
	return s->wlen;
}

void
stream_set_bulk(struct stream *s)
{
	s->bulk = true;
}

const char *
stream_phase(const struct stream *s)
{
	static const char *const names[] = { "connect", "handshake", "session" };

	return names[s->state];
}

void
stream_set_deadline(struct stream *s, uint64_t ms)
{
	if (ms)
		ev_timer_start(s->loop, &s->deadline, ms, stream_on_deadline);
	else
		ev_timer_stop(s->loop, &s->deadline);
}
