// SPDX-License-Identifier: MIT
/*
 * notary_flood ADDR:PORT KEY CERT PEER-IDENTITY CA-CERT DOMAIN COUNT
 *
 * Dials the agent PEER-IDENTITY at ADDR:PORT as one of its peers (KEY and CERT; the agent's
 * certificate must chain to CA-CERT, the CA of PEER-IDENTITY's domain), completes the session
 * (HELLO), then asks COUNT notary questions about DOMAIN in one burst, as no honest agent does.
 * Counts the answers until none has come for 2 s (10 s at most) and prints one line:
 * "answered N of COUNT". A test tool for the agent's per-peer notary rate limit.
 * Exit 0 if the session came up, 1 if not, 2 on a usage or set-up error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "core/sockaddr.h"
#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"
#include "proto/record.h"

enum { FLOOD_MAX = 1000, FLOOD_QUIET_MS = 2000, FLOOD_TOTAL_MS = 10000 };

struct flood {
	struct ev_loop *loop;
	struct ev_timer total;
	struct stream *s; /* NULL once closed */
	const char *domain;
	long count;
	long answered;
	bool up;
};

static void
flood_on_established(struct stream *s)
{
	struct flood *f = stream_arg(s);
	struct hello h = { .version = HELLO_VERSION, .receiver = 1 };
	struct ctlmsg req = { .type = CTL_NOTARY_REQ };
	uint8_t body[HELLO_LEN];

	hello_encode(body, &h);
	f->up = stream_send(s, RECORD_HELLO, body, sizeof(body));
	snprintf(req.u.req.domain, sizeof(req.u.req.domain), "%s", f->domain);
	for (long i = 0; f->up && i < f->count; i++)
		f->up = stream_send_msg(s, &req);
	stream_set_deadline(s, FLOOD_QUIET_MS);
}

static bool
flood_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct flood *f = stream_arg(s);
	struct ctlmsg m;

	if (type == CTL_NOTARY && ctlmsg_decode(type, body, len, &m)) {
		f->answered++;
		stream_set_deadline(s, FLOOD_QUIET_MS); /* re-armed by each answer */
	}
	return true;
}

static void
flood_on_closed(struct stream *s, const char *why)
{
	struct flood *f = stream_arg(s);

	if (!f->up)
		fprintf(stderr, "notary_flood: no session: %s\n", why);
	f->s = NULL;
	ev_loop_break(f->loop);
}

static const struct stream_ops flood_ops = { flood_on_established, flood_on_record,
					     flood_on_closed };

static void
flood_on_total(struct ev_timer *t)
{
	struct flood *f = container_of(t, struct flood, total);

	if (f->s)
		stream_close(f->s, "time is up");
}

int
main(int argc, char **argv)
{
	static struct flood f;
	struct sockaddr_storage to;
	struct cert_trust *trust = NULL;
	struct tls_ctx *tls = NULL;
	char *end;
	const char *at;
	int rc = 2;

	if (argc != 8 || sockaddr_parse(argv[1], &to) || !(at = strchr(argv[4], '@'))) {
		fprintf(stderr, "usage: notary_flood ADDR:PORT KEY CERT PEER-IDENTITY CA-CERT "
				"DOMAIN COUNT\n");
		return 2;
	}
	f.count = strtol(argv[7], &end, 10);
	if (*end || f.count < 1 || f.count > FLOOD_MAX) {
		fprintf(stderr, "notary_flood: COUNT must be 1..%d\n", FLOOD_MAX);
		return 2;
	}
	f.domain = argv[6];
	log_init("notary_flood");
	log_set_quiet(true);
	if (ev_loop_new(&f.loop) || cert_trust_new(&trust) ||
	    cert_trust_add(trust, at + 1, argv[5])) {
		fprintf(stderr, "notary_flood: %s: not the CA of %s\n", argv[5], at + 1);
		goto out;
	}
	if (tls_ctx_new(&tls, argv[2], argv[3], trust)) {
		fprintf(stderr, "notary_flood: cannot load %s and %s: %s\n", argv[2], argv[3],
			cert_strerror());
		goto out;
	}
	rc = 1;
	if (stream_connect(&f.s, f.loop, tls, &to, NULL, argv[4], &flood_ops, &f)) {
		fprintf(stderr, "notary_flood: cannot connect to %s\n", argv[1]);
		goto out;
	}
	ev_timer_start(f.loop, &f.total, FLOOD_TOTAL_MS, flood_on_total);
	ev_run(f.loop);
	ev_timer_stop(f.loop, &f.total);
	printf("answered %ld of %ld\n", f.answered, f.count);
	rc = f.up ? 0 : 1;
out:
	tls_ctx_free(tls);
	cert_trust_free(trust);
	ev_loop_free(f.loop);
	return rc;
}
