// SPDX-License-Identifier: MIT
/*
 * A domain's CA and revocation list, fetched from its server: an unverified ctlquery with two
 * requests. See cafetch.h.
 */
#include "control/cafetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/crlpull.h"
#include "control/ctlquery.h"

struct cafetch {
	struct ctlquery *q;
	struct cafetch **owner;
	void (*done)(void *arg, const struct cafetch_result *r);
	void *arg;
	struct crl_pull pull; /* the list, chunk by chunk (ctlquery's follow-ups) */
	bool crl_done;        /* pull.buf holds the whole list */
};

/* The list arrives in chunks: ask for the next one until it is whole. */
static bool
cafetch_follow(void *arg, const struct ctlmsg *answer, struct ctlmsg *next)
{
	struct cafetch *f = arg;

	if (answer->type != CTL_CRL)
		return false; /* an error: no list */
	switch (crl_pull_on_chunk(&f->pull, answer)) {
	case CRL_PULL_DONE:
		f->crl_done = true;
		return false;
	case CRL_PULL_BAD:
		return false;
	case CRL_PULL_MORE:
	case CRL_PULL_RESTART:
		break;
	}
	*next = (struct ctlmsg){ .type = CTL_CRL_REQ };
	snprintf(next->u.crl_req.domain, sizeof(next->u.crl_req.domain), "%s", f->pull.domain);
	next->u.crl_req.offset = f->pull.have;
	return true;
}

static void
cafetch_free(struct cafetch *f)
{
	crl_pull_reset(&f->pull);
	free(f);
}

static void
cafetch_on_done(void *arg, const struct ctlquery_result *q)
{
	struct cafetch *f = arg;
	struct cafetch_result r = { .domain = q->domain, .error = q->error };
	const struct ctlmsg *ca = q->nanswers > 0 ? &q->answers[0] : NULL;
	char why[512];

	if (ca && ca->type == CTL_CA && !strcmp(ca->u.ca.domain, q->domain)) {
		r.ca = ca->u.ca.ca;
		r.ca_len = ca->u.ca.ca_len;
	} else if (ca) {
		if (ca->type == CTL_ERROR)
			snprintf(why, sizeof(why), "the server says: %s", ca->u.error.message);
		else if (ca->type == CTL_CA)
			snprintf(why, sizeof(why), "the server answered for %s", ca->u.ca.domain);
		else
			snprintf(why, sizeof(why), "the server answered with %s",
				 ctlmsg_type_name(ca->type));
		r.error = why;
	}
	if (f->crl_done) { /* a server without a list answers with an error */
		r.crl = f->pull.buf;
		r.crl_len = f->pull.total;
	}
	if (f->owner)
		*f->owner = NULL;
	f->done(f->arg, &r);
	cafetch_free(f);
}

int
cafetch_start(struct cafetch **out, struct ev_loop *loop, const char *domain, const char *self,
	      const char *key, const char *cert,
	      void (*done)(void *arg, const struct cafetch_result *r), void *arg)
{
	struct ctlmsg reqs[2] = { { .type = CTL_CA_REQ }, { .type = CTL_CRL_REQ } };
	struct ctlquery_spec spec = {
		.domain = domain,
		.self = self,
		.key = key,
		.cert = cert,
		.reqs = reqs,
		.nreqs = 2,
		.timeout_ms = CAFETCH_TIMEOUT_MS,
		.follow = cafetch_follow,
	};
	struct cafetch *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return -1;
	f->done = done;
	f->arg = arg;
	snprintf(reqs[0].u.req.domain, sizeof(reqs[0].u.req.domain), "%s", domain);
	snprintf(reqs[1].u.crl_req.domain, sizeof(reqs[1].u.crl_req.domain), "%s", domain);
	crl_pull_init(&f->pull, domain);
	/* Set before starting: done may run (and free f) before ctlquery_start returns. */
	f->owner = out;
	if (out)
		*out = f;
	err = ctlquery_start(&f->q, loop, &spec, cafetch_on_done, f);
	if (err) {
		if (out)
			*out = NULL;
		cafetch_free(f);
	}
	return err;
}

void
cafetch_cancel(struct cafetch *f)
{
	if (!f)
		return;
	if (f->owner)
		*f->owner = NULL;
	ctlquery_cancel(f->q); /* done does not run, so f is ours to free */
	cafetch_free(f);
}
