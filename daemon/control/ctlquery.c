// SPDX-License-Identifier: MIT
/*
 * One short exchange with a domain's server. See ctlquery.h.
 */
#include "control/ctlquery.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/resolve.h"
#include "control/stream.h"
#include "core/ev.h"
#include "crypto/tls.h"

struct ctlquery {
	struct ctlquery **owner;
	struct ev_loop *loop;
	struct tls_ctx *tls;            /* the caller's (verified) or own_tls */
	struct tls_ctx *own_tls;        /* unverified queries only */
	char expected[CTL_STR_MAX + 8]; /* server@DOMAIN when verified, else "" */
	struct resolve *resolve;        /* while the server is being looked up */
	struct stream *s;
	void (*done)(void *arg, const struct ctlquery_result *r);
	bool (*follow)(void *arg, const struct ctlmsg *answer, struct ctlmsg *next);
	void *arg;
	unsigned nfollow;
	bool cancelled;
	unsigned timeout_ms;
	char domain[CTL_STR_MAX + 1];
	/* The server's addresses, tried in order while connecting fails (CTLQUERY_ADDRS_MAX). */
	struct discover_result addrs[CTLQUERY_ADDRS_MAX];
	size_t naddrs, next_addr;
	bool established;
	struct ctlmsg reqs[CTLQUERY_MAX + 1]; /* our HELLO, then the caller's requests */
	size_t nreqs;
	/* Answers decode in place from copies of their bodies, which must live as long. */
	struct ctlmsg answers[CTLQUERY_MAX];
	uint8_t *bodies[CTLQUERY_MAX];
	size_t nanswers;
	char error[512];
};

static void
ctlquery_free(struct ctlquery *q)
{
	if (q->owner)
		*q->owner = NULL;
	tls_ctx_free(q->own_tls);
	for (size_t i = 0; i < CTLQUERY_MAX; i++) /* a followed-up slot holds one uncounted */
		free(q->bodies[i]);
	free(q);
}

/* Reports (unless cancelled) and frees. */
static void
ctlquery_finish(struct ctlquery *q)
{
	struct ctlquery_result r = {
		.domain = q->domain,
		.answers = q->answers,
		.nanswers = q->nanswers,
		.error = q->error[0] ? q->error : "no answer",
	};

	if (q->owner)
		*q->owner = NULL;
	q->owner = NULL;
	if (!q->cancelled)
		q->done(q->arg, &r);
	ctlquery_free(q);
}

static void
ctlquery_on_established(struct stream *s)
{
	struct ctlquery *q = stream_arg(s);

	q->established = true;
	/* A failed send closes the stream; on_closed (which frees q) runs after we return. */
	for (size_t i = 0; i < q->nreqs + 1; i++) {
		if (!stream_send_msg(s, &q->reqs[i]))
			return;
	}
	stream_set_deadline(s, q->timeout_ms);
}

/*
 * An answer to the last request, decoded from copy into its slot: the caller may follow it up.
 * Returns false if the stream closed. When a follow-up was sent, the slot keeps copy for now
 * (bodies[nanswers] == copy, freed when the next answer replaces it) and is not counted yet.
 */
static bool
ctlquery_follow(struct ctlquery *q, struct stream *s, uint8_t *copy)
{
	struct ctlmsg next;

	free(q->bodies[q->nanswers]); /* the answer this one follows up, if any */
	q->bodies[q->nanswers] = NULL;
	if (!q->follow(q->arg, &q->answers[q->nanswers], &next))
		return true;
	if (++q->nfollow > CTLQUERY_FOLLOW_MAX) {
		free(copy);
		snprintf(q->error, sizeof(q->error), "more than %d follow-ups",
			 CTLQUERY_FOLLOW_MAX);
		stream_close(s, q->error);
		return false;
	}
	q->bodies[q->nanswers] = copy;
	if (!stream_send_msg(s, &next))
		return false; /* on_closed ran (and freed the slot's copy with q) */
	stream_set_deadline(s, q->timeout_ms);
	return true;
}

static bool
ctlquery_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct ctlquery *q = stream_arg(s);
	uint8_t *copy;

	if (!ctlmsg_is_known(type) || type == CTL_HELLO || type == CTL_OBSERVED)
		return true; /* the server's HELLO and what it saw of us, or something newer */
	copy = malloc(len ? len : 1);
	if (!copy) {
		snprintf(q->error, sizeof(q->error), "out of memory");
		stream_close(s, q->error);
		return false;
	}
	memcpy(copy, body, len);
	if (!ctlmsg_decode(type, copy, len, &q->answers[q->nanswers])) {
		free(copy);
		snprintf(q->error, sizeof(q->error), "the server sent a malformed %s message",
			 ctlmsg_type_name(type));
		stream_close(s, q->error);
		return false;
	}
	if (q->nanswers + 1 == q->nreqs && q->follow && !ctlquery_follow(q, s, copy))
		return false;
	if (q->bodies[q->nanswers] == copy)
		return true; /* followed up: the next answer takes this one's place */
	q->bodies[q->nanswers++] = copy;
	if (q->nanswers == q->nreqs) {
		stream_close(s, "done");
		return false;
	}
	return true;
}

static bool ctlquery_connect_next(struct ctlquery *q);

static void
ctlquery_on_closed(struct stream *s, const char *why)
{
	struct ctlquery *q = stream_arg(s);

	q->s = NULL;
	/* This address did not answer (refused, unreachable, no handshake): try the next one. */
	if (!q->established && !q->cancelled) {
		snprintf(q->error, sizeof(q->error), "%s: %s", q->addrs[q->next_addr - 1].host,
			 why);
		if (ctlquery_connect_next(q))
			return;
	}
	if (q->nanswers < q->nreqs && !q->error[0])
		snprintf(q->error, sizeof(q->error), "%s", why);
	ctlquery_finish(q);
}

static const struct stream_ops ctlquery_ops = {
	.on_established = ctlquery_on_established,
	.on_record = ctlquery_on_record,
	.on_closed = ctlquery_on_closed,
};

/*
 * Connects to the next address not tried yet; false (q->error says why) if none is left. Each
 * attempt has the whole timeout: a dead address costs at most that, CTLQUERY_ADDRS_MAX times.
 */
static bool
ctlquery_connect_next(struct ctlquery *q)
{
	while (q->next_addr < q->naddrs) {
		const struct discover_result *a = &q->addrs[q->next_addr++];
		int err = stream_connect(&q->s, q->loop, q->tls, &a->addr, q->domain,
					 q->expected[0] ? q->expected : NULL, &ctlquery_ops, q);

		if (!err)
			return true;
		snprintf(q->error, sizeof(q->error), "cannot connect to %s: %s", a->host,
			 strerror(-err));
	}
	return false;
}

/* The server's addresses are known (or not): connect, or report why not. */
static void
ctlquery_on_resolved(void *arg, const struct discover_result *found, int n, const char *why)
{
	struct ctlquery *q = arg;

	if (n <= 0) {
		snprintf(q->error, sizeof(q->error), "%s", why);
		ctlquery_finish(q);
		return;
	}
	q->naddrs = (size_t)n < CTLQUERY_ADDRS_MAX ? (size_t)n : CTLQUERY_ADDRS_MAX;
	memcpy(q->addrs, found, q->naddrs * sizeof(*found));
	if (!ctlquery_connect_next(q))
		ctlquery_finish(q);
}

int
ctlquery_start(struct ctlquery **out, struct ev_loop *loop, const struct ctlquery_spec *spec,
	       void (*done)(void *arg, const struct ctlquery_result *r), void *arg)
{
	struct ctlquery *q;
	int err;

	if (spec->nreqs == 0 || spec->nreqs > CTLQUERY_MAX)
		return -EINVAL;
	if (!(q = calloc(1, sizeof(*q))))
		return -ENOMEM;
	q->loop = loop;
	q->done = done;
	q->follow = spec->follow;
	q->arg = arg;
	q->timeout_ms = spec->timeout_ms ? spec->timeout_ms : CTLQUERY_TIMEOUT_MS;
	snprintf(q->domain, sizeof(q->domain), "%s", spec->domain);
	/* reqs[0] is our HELLO, then the caller's requests. */
	q->reqs[0] = (struct ctlmsg){ .type = CTL_HELLO };
	q->reqs[0].u.hello.version = CTL_VERSION;
	q->reqs[0].u.hello.role = spec->role ? spec->role : CTL_ROLE_AGENT;
	snprintf(q->reqs[0].u.hello.name, sizeof(q->reqs[0].u.hello.name), "%s", spec->self);
	memcpy(&q->reqs[1], spec->reqs, spec->nreqs * sizeof(*spec->reqs));
	q->nreqs = spec->nreqs;
	q->owner = out;
	if (out)
		*out = q;
	q->tls = spec->tls;
	if (q->tls) {
		snprintf(q->expected, sizeof(q->expected), "server@%s", spec->domain);
	} else if (tls_ctx_new_flags(&q->own_tls, spec->key, spec->cert, NULL, TLS_CTX_NO_VERIFY)) {
		snprintf(q->error, sizeof(q->error), "cannot set up TLS");
		ctlquery_finish(q);
		return 0;
	} else {
		q->tls = q->own_tls;
	}
	err = resolve_start(&q->resolve, loop, spec->domain, ctlquery_on_resolved, q);
	if (err) {
		snprintf(q->error, sizeof(q->error), "cannot look up the server of %s: %s",
			 spec->domain, strerror(-err));
		ctlquery_finish(q);
	}
	return 0;
}

void
ctlquery_cancel(struct ctlquery *q)
{
	if (!q)
		return;
	q->cancelled = true;
	if (q->resolve || !q->s) { /* no stream: nothing else will finish it */
		resolve_cancel(q->resolve);
		ctlquery_finish(q);
		return;
	}
	stream_close(q->s, "cancelled");
}
