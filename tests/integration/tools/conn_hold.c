// SPDX-License-Identifier: MIT
/*
 * conn_hold ADDR:PORT DOMAIN MODE COUNT SECONDS [KEY CERT]
 *
 * Opens COUNT control connections to vertex-server from this host, for the resource-bound
 * scenario and the server benchmark; a load tool, it asserts nothing. At most HOLD_IN_FLIGHT
 * (32) are in their handshake at once (below the server's 64 per network before HELLO), so
 * what limits the count is the server's bound on connections after HELLO. Anonymous unless KEY and
 * CERT are given; the server is not verified (TLS_CTX_NO_VERIFY: only its behaviour matters).
 * MODE:
 *   idle     HELLO, then a PING every second, reading every answer: an honest quiet client.
 *   hostile  HELLO, then CA_REQ after CA_REQ whenever the socket takes more, never reading a
 *            byte: a client that makes the server buffer answers.
 *   notary   HELLO, then COUNT NOTARY_REQs about DOMAIN at once on ONE connection, reading.
 * Every second it prints "t S open O up U closed C" (O: connections the server has not closed,
 * U: of them, those past the handshake (idle: whose HELLO the server answered), C: closed by
 * the server), and at the end, after SECONDS, one line "held O up U closed C" (notary mode:
 * "notary answered N refused R of COUNT"). RLIMIT_NOFILE is raised to what COUNT needs.
 * Exit 0, or 2 on a usage or set-up error.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/sockaddr.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"
#include "proto/record.h"

enum { HOLD_MAX = 8192, HOLD_RBUF = 65536, HOLD_OBUF = 512, HOLD_IN_FLIGHT = 32 };
enum hold_mode { HOLD_IDLE, HOLD_HOSTILE, HOLD_NOTARY };
enum hold_state { H_CONNECTING, H_HANDSHAKE, H_OPEN, H_CLOSED };

struct hconn {
	int fd;
	struct tls_conn *tls;
	enum hold_state state;
	bool up;
	uint8_t out[HOLD_OBUF];
	size_t olen, ooff;
	uint64_t next_ping;
	unsigned queued; /* notary mode: requests still to send */
	uint8_t *rbuf;
	size_t rlen;
};

static struct {
	enum hold_mode mode;
	struct sockaddr_storage to;
	struct tls_ctx *tls;
	const char *domain;
	unsigned count, dialed, closed, answered, refused;
	struct hconn *c;
	char hello_name[IDENTITY_STR_MAX];
} h;

/* Queues one message (the previous one must be gone). */
static void
hold_queue(struct hconn *c, const struct ctlmsg *m)
{
	struct record_hdr hdr = { .type = m->type };
	int n = ctlmsg_encode(m, c->out + RECORD_HDR_LEN, sizeof(c->out) - RECORD_HDR_LEN);

	if (n < 0)
		abort();
	hdr.len = (uint32_t)n;
	record_hdr_encode(c->out, &hdr);
	c->olen = RECORD_HDR_LEN + (size_t)n;
	c->ooff = 0;
}

static void
hold_close(struct hconn *c)
{
	if (c->state == H_CLOSED)
		return;
	tls_conn_free(c->tls);
	close(c->fd);
	free(c->rbuf);
	c->tls = NULL;
	c->rbuf = NULL;
	c->state = H_CLOSED;
	h.closed++;
}

/* What comes next once the previous message went out. */
static void
hold_refill(struct hconn *c, uint64_t now)
{
	struct ctlmsg m = { 0 };

	if (c->olen)
		return;
	if (h.mode == HOLD_HOSTILE || (h.mode == HOLD_NOTARY && c->queued)) {
		m.type = h.mode == HOLD_HOSTILE ? CTL_CA_REQ : CTL_NOTARY_REQ;
		snprintf(m.u.req.domain, sizeof(m.u.req.domain), "%s", h.domain);
		if (h.mode == HOLD_NOTARY)
			c->queued--;
		hold_queue(c, &m);
	} else if (h.mode == HOLD_IDLE && c->up && now >= c->next_ping) {
		m.type = CTL_PING;
		c->next_ping = now + 1000;
		hold_queue(c, &m);
	}
}

static void
hold_write(struct hconn *c, uint64_t now)
{
	for (int i = 0; i < 64 && c->state == H_OPEN; i++) {
		uint32_t want = 0;
		ssize_t n;

		hold_refill(c, now);
		if (!c->olen)
			return;
		n = tls_conn_write(c->tls, c->out + c->ooff, c->olen - c->ooff, &want);
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			hold_close(c);
			return;
		}
		c->ooff += (size_t)n;
		if (c->ooff == c->olen)
			c->olen = 0;
	}
}

static void
hold_on_record(struct hconn *c, uint16_t type, const uint8_t *body, size_t len)
{
	struct ctlmsg m;

	if (type == CTL_HELLO)
		c->up = true;
	if (h.mode != HOLD_NOTARY || !ctlmsg_decode(type, body, len, &m))
		return;
	if (type == CTL_NOTARY)
		h.answered++;
	else if (type == CTL_ERROR && m.u.error.code == CTL_ERR_RATE)
		h.refused++;
}

static void
hold_read(struct hconn *c)
{
	for (;;) {
		uint32_t want = 0;
		ssize_t n = tls_conn_read(c->tls, c->rbuf + c->rlen, HOLD_RBUF - c->rlen, &want);
		size_t off = 0;
		struct record_hdr hdr;

		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			hold_close(c);
			return;
		}
		c->rlen += (size_t)n;
		while (record_hdr_decode(c->rbuf + off, c->rlen - off, &hdr) &&
		       c->rlen - off >= RECORD_HDR_LEN + hdr.len) {
			hold_on_record(c, hdr.type, c->rbuf + off + RECORD_HDR_LEN, hdr.len);
			off += RECORD_HDR_LEN + hdr.len;
		}
		if (off == 0 && c->rlen == HOLD_RBUF) {
			hold_close(c);
			return;
		}
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

static void
hold_handshake(struct hconn *c)
{
	uint32_t want = 0;
	int rc;
	struct ctlmsg hello = { .type = CTL_HELLO };

	if (c->state == H_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err || tls_conn_new(&c->tls, h.tls, c->fd, true, NULL) ||
		    tls_conn_set_server_name(c->tls, h.domain)) {
			hold_close(c);
			return;
		}
		c->state = H_HANDSHAKE;
	}
	rc = tls_conn_handshake(c->tls, &want);
	if (rc == -EAGAIN)
		return;
	if (rc) {
		hold_close(c);
		return;
	}
	c->state = H_OPEN;
	if (h.mode == HOLD_HOSTILE)
		c->up = true;
	hello.u.hello.version = CTL_VERSION;
	hello.u.hello.role = CTL_ROLE_AGENT;
	snprintf(hello.u.hello.name, sizeof(hello.u.hello.name), "%.*s",
		 (int)sizeof(hello.u.hello.name) - 1, h.hello_name);
	hold_queue(c, &hello);
	if (h.mode == HOLD_NOTARY)
		c->queued = h.count;
}

static int
hold_dial(struct hconn *c)
{
	socklen_t sl =
	    h.to.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);

	c->fd = socket(h.to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&h.to, sl) < 0 && errno != EINPROGRESS) {
		close(c->fd);
		return -errno;
	}
	c->rbuf = malloc(HOLD_RBUF);
	c->state = H_CONNECTING;
	return c->rbuf ? 0 : -ENOMEM;
}

static void
hold_step(struct pollfd *pfd, unsigned n, uint64_t now)
{
	for (unsigned i = 0; i < n; i++) {
		struct hconn *c = &h.c[i];

		if (c->state == H_CLOSED)
			continue;
		if (c->state != H_OPEN) {
			if (pfd[i].revents)
				hold_handshake(c);
		} else {
			/* The hostile client reads nothing: the server's close shows as an error.
			 */
			if (h.mode == HOLD_HOSTILE && (pfd[i].revents & (POLLERR | POLLHUP)))
				hold_close(c);
			else if (h.mode != HOLD_HOSTILE && (pfd[i].revents & (POLLIN | POLLHUP)))
				hold_read(c);
			if (c->state == H_OPEN)
				hold_write(c, now);
		}
		if (c->state == H_CLOSED) {
			pfd[i].fd = -1;
			continue;
		}
		if (c->state == H_CONNECTING || (c->state == H_OPEN && h.mode == HOLD_HOSTILE))
			pfd[i].events =
			    POLLOUT; /* hostile: more requests as soon as it takes them */
		else
			pfd[i].events = POLLIN | (c->olen ? POLLOUT : 0);
	}
}

/* Dials more while fewer than HOLD_IN_FLIGHT are on their way up; false on a local error. */
static bool
hold_dial_more(struct pollfd *pfd, unsigned n)
{
	unsigned inflight = 0;

	for (unsigned i = 0; i < h.dialed; i++)
		inflight += h.c[i].state == H_CONNECTING || h.c[i].state == H_HANDSHAKE ||
			    (h.c[i].state == H_OPEN && !h.c[i].up);
	while (h.dialed < n && inflight < HOLD_IN_FLIGHT) {
		unsigned i = h.dialed++;

		if (hold_dial(&h.c[i])) {
			fprintf(stderr, "conn_hold: connection %u: %s\n", i, strerror(errno));
			return false;
		}
		pfd[i] = (struct pollfd){ .fd = h.c[i].fd, .events = POLLOUT };
		inflight++;
	}
	return true;
}

static void
hold_report(const char *prefix, uint64_t t)
{
	unsigned open = 0, up = 0;

	for (unsigned i = 0; i < h.dialed; i++) {
		open += h.c[i].state != H_CLOSED;
		up += h.c[i].state == H_OPEN && h.c[i].up;
	}
	if (prefix)
		printf("%s open %u up %u closed %u\n", prefix, open, up, h.closed);
	else
		printf("t %llu open %u up %u closed %u\n", (unsigned long long)t, open, up,
		       h.closed);
	fflush(stdout);
}

static int
hold_setup(int argc, char **argv, unsigned *seconds)
{
	struct rlimit rl;
	struct cert_info ci;

	if (argc != 6 && argc != 8)
		return -EINVAL;
	if (sockaddr_parse(argv[1], &h.to) || (h.count = (unsigned)atoi(argv[4])) < 1 ||
	    h.count > HOLD_MAX || (*seconds = (unsigned)atoi(argv[5])) < 1)
		return -EINVAL;
	h.domain = argv[2];
	if (!strcmp(argv[3], "idle"))
		h.mode = HOLD_IDLE;
	else if (!strcmp(argv[3], "hostile"))
		h.mode = HOLD_HOSTILE;
	else if (!strcmp(argv[3], "notary"))
		h.mode = HOLD_NOTARY;
	else
		return -EINVAL;
	snprintf(h.hello_name, sizeof(h.hello_name), "anonymous");
	if (argc == 8) {
		if (cert_info_from_file(argv[7], &ci))
			return -EINVAL;
		snprintf(h.hello_name, sizeof(h.hello_name), "%s", ci.subject);
	}
	if (tls_ctx_new_flags(&h.tls, argc == 8 ? argv[6] : NULL, argc == 8 ? argv[7] : NULL, NULL,
			      TLS_CTX_NO_VERIFY))
		return -EINVAL;
	rl.rlim_cur = rl.rlim_max = h.count + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < h.count + 64) {
		rl.rlim_cur = h.count + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	h.c = calloc(h.count, sizeof(*h.c));
	return h.c ? 0 : -ENOMEM;
}

int
main(int argc, char **argv)
{
	static struct pollfd pfd[HOLD_MAX];
	unsigned seconds = 0, n;
	uint64_t t0, last = 0;

	log_init("conn_hold");
	log_set_quiet(true);
	if (hold_setup(argc, argv, &seconds)) {
		fprintf(stderr,
			"usage: conn_hold ADDR:PORT DOMAIN idle|hostile|notary COUNT SECONDS "
			"[KEY CERT]\n");
		return 2;
	}
	n = h.mode == HOLD_NOTARY ? 1 : h.count;
	for (unsigned i = 0; i < n; i++)
		pfd[i].fd = -1;
	t0 = ev_clock_ms();
	for (uint64_t now = t0; now - t0 < seconds * 1000ull; now = ev_clock_ms()) {
		if (!hold_dial_more(pfd, n))
			return 2;
		poll(pfd, h.dialed, 100);
		hold_step(pfd, h.dialed, ev_clock_ms());
		if ((now - t0) / 1000 != last) {
			last = (now - t0) / 1000;
			hold_report(NULL, last);
		}
	}
	if (h.mode == HOLD_NOTARY)
		printf("notary answered %u refused %u of %u\n", h.answered, h.refused, h.count);
	else
		hold_report("held", 0);
	return 0;
}
