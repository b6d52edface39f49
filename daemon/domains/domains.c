// SPDX-License-Identifier: MIT
/*
 * The domains module's life: made with what it needs, freed with everything it runs. See
 * domains.h; the work is in foreign.c, notaries.c and crlkeep.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "domains/domains_int.h"

/* Ownership: *out is the caller's (domains_free); strings copied, the rest borrowed. */
int
domains_new(struct domains **out, const struct domains_params *params,
	    const struct domains_ops *ops, void *arg)
{
	struct domains *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	if (params->nconfigured > DOMAINS_CONFIGURED_MAX) {
		free(d);
		return -EINVAL;
	}
	d->loop = params->loop;
	d->store = params->store;
	d->trust = params->trust;
	d->tls = params->tls;
	snprintf(d->identity, sizeof(d->identity), "%s", params->identity);
	snprintf(d->key_path, sizeof(d->key_path), "%s", params->key_path);
	snprintf(d->cert_path, sizeof(d->cert_path), "%s", params->cert_path);
	d->has_home = params->has_home;
	d->ops = *ops;
	d->arg = arg;
	for (size_t i = 0; i < params->nconfigured; i++)
		snprintf(d->configured[i], sizeof(d->configured[i]), "%s", params->configured[i]);
	d->nconfigured = params->nconfigured;
	/* The lists kept from the last run apply before any server answers (crlkeep.c). */
	for (size_t i = 0; i < d->nconfigured; i++)
		crlkeep_restore(d, d->configured[i]);
	*out = d;
	return 0;
}

void
domains_free(struct domains *d)
{
	if (!d)
		return;
	foreign_free_all(d);
	notaries_cancel_all(d);
	free(d);
}
