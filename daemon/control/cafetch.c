// SPDX-License-Identifier: MIT
/*
 * A domain's CA and revocation list, fetched from its server. See cafetch.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/cafetch.h"
#include "control/discover.h"
#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"

struct cafetch {
	struct cafetch **owner;
	struct ev_loop *loop;
	struct tls_ctx *tls;
	struct stream *s;
	void (*done)(void *arg, const struct cafetch_result *r);
	void *arg;
	char domain[CTL_STR_MAX + 1];
	char self[CTL_STR_MAX + 1];
	bool cancelled;
	uint8_t *ca, *crl;
	size_t ca_len, crl_len;
	bool ca_answered, crl_answered;
	char error[512];
};

static void
cafetch_free(struct cafetch *f)
{
	if (f->owner)
		*f->owner = NULL;
	tls_ctx_free(f->tls);
	free(f->ca);
	free(f->crl);
	free(f);
}

static void
cafetch_finish(struct cafetch *f)
{
	struct cafetch_result r = {
		.domain = f->domain,
		.ca = f->ca,
		.ca_len = f->ca_len,
		.crl = f->crl,
		.crl_len = f->crl_len,
		.error = f->error[0] ? f->error : "no answer",
	};

	if (f->owner)
		*f->owner = NULL;
	f->owner = NULL;
	if (!f->cancelled)
		f->done(f->arg, &r);
}

static void
cafetch_on_established(struct stream *s)
{
	struct cafetch *f = stream_arg(s);
	struct ctlmsg hello = { .type = CTL_HELLO }, ca = { .type = CTL_CA_REQ }, crl;

	/*
	 * Everything is built before the first send: a failed send closes the stream, and
	 * cafetch_on_closed frees f, so nothing may touch f after one.
	 */
	hello.u.hello.version = CTL_VERSION;
	hello.u.hello.role = CTL_ROLE_AGENT;
	snprintf(hello.u.hello.name, sizeof(hello.u.hello.name), "%s", f->self);
	snprintf(ca.u.req.domain, sizeof(ca.u.req.domain), "%s", f->domain);
	crl = ca;
	crl.type = CTL_CRL_REQ;
	if (stream_send_msg(s, &hello) && stream_send_msg(s, &ca) && stream_send_msg(s, &crl))
		stream_set_deadline(s, CAFETCH_TIMEOUT_MS);
}

static uint8_t *
cafetch_copy(const uint8_t *p, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);

	if (c)
		memcpy(c, p, len);
	return c;
}

static bool
cafetch_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct cafetch *f = stream_arg(s);
	struct ctlmsg m;

	if (!ctlmsg_is_known(type) || !ctlmsg_decode(type, body, len, &m))
		return true;
	if (type == CTL_CA && !f->ca_answered) {
		f->ca_answered = true;
		if (strcmp(m.u.ca.domain, f->domain))
			snprintf(f->error, sizeof(f->error), "the server answered for %s",
				 m.u.ca.domain);
		else if (!(f->ca = cafetch_copy(m.u.ca.ca, m.u.ca.ca_len)))
			snprintf(f->error, sizeof(f->error), "out of memory");
		else
			f->ca_len = m.u.ca.ca_len;
	} else if (type == CTL_CRL && !f->crl_answered) {
		f->crl_answered = true;
		if ((f->crl = cafetch_copy(m.u.crl.crl, m.u.crl.crl_len)))
			f->crl_len = m.u.crl.crl_len;
	} else if (type == CTL_ERROR) {
		/* Errors answer the requests in order: the CA first, then the list. */
		if (!f->ca_answered) {
			f->ca_answered = true;
			snprintf(f->error, sizeof(f->error), "the server says: %s",
				 m.u.error.message);
		} else {
			f->crl_answered = true;
		}
	}
	if (f->ca_answered && f->crl_answered) {
		stream_close(s, "done");
		return false;
	}
	return true;
}

static void
cafetch_on_closed(struct stream *s, const char *why)
{
	struct cafetch *f = stream_arg(s);

	if (!f->ca && !f->error[0])
		snprintf(f->error, sizeof(f->error), "%s", why);
	cafetch_finish(f);
	cafetch_free(f);
}

static const struct stream_ops cafetch_ops = {
	.on_established = cafetch_on_established,
	.on_record = cafetch_on_record,
	.on_closed = cafetch_on_closed,
};

int
cafetch_start(struct cafetch **out, struct ev_loop *loop, const char *domain, const char *self,
	      const char *key, const char *cert,
	      void (*done)(void *arg, const struct cafetch_result *r), void *arg)
{
	struct discover_result found[DISCOVER_MAX];
	struct cafetch *f = calloc(1, sizeof(*f));
	int n, err;

	if (!f)
		return -ENOMEM;
	f->loop = loop;
	f->done = done;
	f->arg = arg;
	snprintf(f->domain, sizeof(f->domain), "%s", domain);
	snprintf(f->self, sizeof(f->self), "%s", self);
	n = discover_server(domain, found, DISCOVER_MAX, f->error, sizeof(f->error));
	if (n <= 0 || tls_ctx_new_flags(&f->tls, key, cert, NULL, TLS_CTX_NO_VERIFY)) {
		if (n > 0)
			snprintf(f->error, sizeof(f->error), "cannot set up TLS");
		cafetch_finish(f);
		cafetch_free(f);
		return 0;
	}
	err = stream_connect(&f->s, loop, f->tls, &found[0].addr, NULL, &cafetch_ops, f);
	if (err) {
		snprintf(f->error, sizeof(f->error), "cannot connect to %s: %s", found[0].host,
			 strerror(-err));
		cafetch_finish(f);
		cafetch_free(f);
		return 0;
	}
	f->owner = out;
	if (out)
		*out = f;
	return 0;
}

void
cafetch_cancel(struct cafetch *f)
{
	if (!f)
		return;
	f->cancelled = true;
	stream_close(f->s, "cancelled");
}
