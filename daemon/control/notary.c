// SPDX-License-Identifier: MIT
/*
 * Notary queries to servers. See notary.h.
 */
#include "control/notary.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/ctlquery.h"
#include "proto/ctlmsg.h"

struct notary_query {
	struct ctlquery *q;
	struct notary_query **owner;
	void (*done)(void *arg, const struct pin_notary_answer *a);
	void *arg;
	char server[CTL_STR_MAX + 1];
	char domain[CTL_STR_MAX + 1];
};

void
notary_answer_from_msg(const struct ctlmsg *m, const char *who, const char *domain,
		       struct pin_notary_answer *out)
{
	*out = (struct pin_notary_answer){ .status = PIN_NOTARY_UNREACHABLE };
	snprintf(out->notary, sizeof(out->notary), "%s", who);
	if (!m || m->type != CTL_NOTARY || strcmp(m->u.notary.domain, domain))
		return;
	switch (m->u.notary.status) {
	case CTL_NOTARY_KNOWN:
		out->status = PIN_NOTARY_KNOWN;
		break;
	case CTL_NOTARY_UNKNOWN:
		out->status = PIN_NOTARY_UNKNOWN;
		break;
	case CTL_NOTARY_DISPUTED:
		out->status = PIN_NOTARY_DISPUTED;
		break;
	default:
		return;
	}
	memcpy(out->fpr, m->u.notary.fpr, PIN_FPR_LEN);
}

static void
notary_on_done(void *arg, const struct ctlquery_result *r)
{
	struct notary_query *nq = arg;
	struct pin_notary_answer a;

	notary_answer_from_msg(r->nanswers ? &r->answers[0] : NULL, nq->server, nq->domain, &a);
	if (nq->owner)
		*nq->owner = NULL;
	nq->done(nq->arg, &a);
	free(nq);
}

int
notary_ask(struct notary_query **out, struct ev_loop *loop, const struct notary_ask_spec *spec,
	   void (*done)(void *arg, const struct pin_notary_answer *a), void *arg)
{
	struct ctlmsg req = { .type = CTL_NOTARY_REQ };
	struct ctlquery_spec qs = {
		.domain = spec->server,
		.self = spec->self,
		.role = spec->role,
		.tls = spec->tls,
		.reqs = &req,
		.nreqs = 1,
		.timeout_ms = NOTARY_TIMEOUT_MS,
	};
	struct notary_query *nq = calloc(1, sizeof(*nq));
	int err;

	if (!nq)
		return -ENOMEM;
	nq->done = done;
	nq->arg = arg;
	snprintf(nq->server, sizeof(nq->server), "%s", spec->server);
	snprintf(nq->domain, sizeof(nq->domain), "%s", spec->domain);
	snprintf(req.u.req.domain, sizeof(req.u.req.domain), "%s", spec->domain);
	/* Set before starting: done may run (and free nq) before ctlquery_start returns. */
	nq->owner = out;
	if (out)
		*out = nq;
	err = ctlquery_start(&nq->q, loop, &qs, notary_on_done, nq);
	if (err) {
		if (out)
			*out = NULL;
		free(nq);
	}
	return err;
}

void
notary_cancel(struct notary_query *nq)
{
	if (!nq)
		return;
	if (nq->owner)
		*nq->owner = NULL;
	ctlquery_cancel(nq->q); /* done does not run, so nq is ours to free */
	free(nq);
}
