// SPDX-License-Identifier: MIT
/*
 * A domain's CA and revocation list, fetched from its server: an unverified ctlquery with two
 * requests. See cafetch.h.
 */
#include "control/cafetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/ctlquery.h"

struct cafetch {
	struct ctlquery *q;
	struct cafetch **owner;
	void (*done)(void *arg, const struct cafetch_result *r);
	void *arg;
};

static void
cafetch_on_done(void *arg, const struct ctlquery_result *q)
{
	struct cafetch *f = arg;
	struct cafetch_result r = { .domain = q->domain, .error = q->error };
	const struct ctlmsg *ca = q->nanswers > 0 ? &q->answers[0] : NULL;
	const struct ctlmsg *crl = q->nanswers > 1 ? &q->answers[1] : NULL;
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
	if (crl && crl->type == CTL_CRL) { /* a server without a list answers with an error */
		r.crl = crl->u.crl.crl;
		r.crl_len = crl->u.crl.crl_len;
	}
	if (f->owner)
		*f->owner = NULL;
	f->done(f->arg, &r);
	free(f);
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
	};
	struct cafetch *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return -1;
	f->done = done;
	f->arg = arg;
	snprintf(reqs[0].u.req.domain, sizeof(reqs[0].u.req.domain), "%s", domain);
	snprintf(reqs[1].u.req.domain, sizeof(reqs[1].u.req.domain), "%s", domain);
	/* Set before starting: done may run (and free f) before ctlquery_start returns. */
	f->owner = out;
	if (out)
		*out = f;
	err = ctlquery_start(&f->q, loop, &spec, cafetch_on_done, f);
	if (err) {
		if (out)
			*out = NULL;
		free(f);
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
	free(f);
}
