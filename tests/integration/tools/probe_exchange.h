/* SPDX-License-Identifier: MIT */
/*
 * One request to a vertex-server and its answer, printed, for the test probes (enrol_probe,
 * renew_probe, foreign_probe): HELLO naming `name`, then `req` (none if its type is 0); the
 * server's HELLO is skipped and the first CERT or ERROR is the answer, printed as one line,
 * "cert SUBJECT" or "error NAME: MESSAGE" ("closed: WHY" if none came). Bounded: 10 s after the
 * handshake. Header-only: each probe is its own program.
 */
#ifndef VERTEX_PROBE_EXCHANGE_H
#define VERTEX_PROBE_EXCHANGE_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "control/stream.h"
#include "core/ev.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"

struct probe_exchange {
	struct ev_loop *loop;
	struct ctlmsg req;
	struct ctlmsg enrol; /* enrol_probe: the ENROL that follows a SALT_REQ */
	char name[CTL_STR_MAX + 1];
	int ok; /* 1 if the last answer was a certificate */
};

static void
probe_on_established(struct stream *s)
{
	struct probe_exchange *p = stream_arg(s);
	struct ctlmsg hello = { .type = CTL_HELLO };

	hello.u.hello.version = CTL_VERSION;
	hello.u.hello.role = CTL_ROLE_AGENT;
	snprintf(hello.u.hello.name, sizeof(hello.u.hello.name), "%s", p->name);
	stream_send_msg(s, &hello);
	if (p->req.type)
		stream_send_msg(s, &p->req);
	stream_set_deadline(s, 10000); /* bounded: an answer or "idle for too long" */
}

static bool
probe_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct probe_exchange *p = stream_arg(s);
	struct cert_info ci;
	struct ctlmsg m;

	if ((type != CTL_CERT && type != CTL_ERROR) || !ctlmsg_decode(type, body, len, &m))
		return true;
	p->ok = 0;
	if (type == CTL_CERT && !cert_info_from_der(m.u.cert.cert, m.u.cert.cert_len, &ci)) {
		printf("cert %s\n", ci.subject);
		p->ok = 1;
	} else if (type == CTL_ERROR) {
		printf("error %s: %s\n", ctlmsg_error_name(m.u.error.code), m.u.error.message);
	}
	stream_close(s, "answered");
	return false;
}

static void
probe_on_closed(struct stream *s, const char *why)
{
	struct probe_exchange *p = stream_arg(s);

	if (strcmp(why, "answered")) {
		printf("closed: %s\n", why);
		p->ok = 0;
	}
	ev_loop_break(p->loop);
}

static const struct stream_ops probe_ops = { probe_on_established, probe_on_record,
					     probe_on_closed };

/* A trust store holding only DOMAIN's CA (ca), and a context with our key and certificate. */
static inline int
probe_tls(const char *prog, const char *key, const char *cert, const char *domain, const char *ca,
	  struct cert_trust **trust, struct tls_ctx **tls)
{
	if (cert_trust_new(trust) || cert_trust_add(*trust, domain, ca)) {
		fprintf(stderr, "%s: %s: not the CA of %s\n", prog, ca, domain);
		return -1;
	}
	if (tls_ctx_new(tls, key, cert, *trust)) {
		fprintf(stderr, "%s: cannot load %s and %s: %s\n", prog, key, cert,
			cert_strerror());
		return -1;
	}
	return 0;
}

#endif
