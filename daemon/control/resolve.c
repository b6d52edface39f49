// SPDX-License-Identifier: MIT
/*
 * discover_server() off the event loop, as an offload job (core/offload.h). See resolve.h.
 */
#include "control/resolve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/offload.h"

struct resolve {
	struct offload *job;
	struct resolve **owner;
	void (*done)(void *arg, const struct discover_result *res, int n, const char *why);
	void *arg;
	char domain[DISCOVER_HOST_MAX];
	/* Written on the thread, read on the loop after it. */
	struct discover_result res[DISCOVER_MAX];
	int n;
	char why[256];
};

static void
resolve_work(void *arg)
{
	struct resolve *r = arg;

	r->n = discover_server(r->domain, r->res, DISCOVER_MAX, r->why, sizeof(r->why));
}

static void
resolve_done(void *arg)
{
	struct resolve *r = arg;

	if (r->owner)
		*r->owner = NULL;
	r->owner = NULL;
	r->done(r->arg, r->n > 0 ? r->res : NULL, r->n, r->why);
}

int
resolve_start(struct resolve **out, struct ev_loop *loop, const char *domain,
	      void (*done)(void *arg, const struct discover_result *res, int n, const char *why),
	      void *arg)
{
	struct resolve *r;
	int err;

	if (strlen(domain) >= sizeof(r->domain))
		return -EINVAL;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->done = done;
	r->arg = arg;
	snprintf(r->domain, sizeof(r->domain), "%s", domain);
	err = offload_start_in(OFFLOAD_LOOKUP, &r->job, loop, resolve_work, resolve_done, free, r);
	if (err) {
		free(r);
		return err;
	}
	r->owner = out;
	if (out)
		*out = r;
	return 0;
}

void
resolve_cancel(struct resolve *r)
{
	if (!r)
		return;
	if (r->owner)
		*r->owner = NULL;
	r->owner = NULL;
	offload_cancel(r->job); /* r is freed once the thread is done with it */
}
