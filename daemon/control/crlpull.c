// SPDX-License-Identifier: MIT
/*
 * Reassembly of a revocation list from CTL_CRL chunks. See crlpull.h.
 */
#include "control/crlpull.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ctlmsg.h"

void
crl_pull_init(struct crl_pull *p, const char *domain)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->domain, sizeof(p->domain), "%s", domain);
}

void
crl_pull_reset(struct crl_pull *p)
{
	free(p->buf);
	p->buf = NULL;
	p->number = 0;
	p->issued = 0;
	p->total = p->have = 0;
}

/* A chunk at offset 0: a list starts, whatever was being assembled. */
static enum crl_pull_result
crl_pull_start(struct crl_pull *p, const struct ctlmsg *m)
{
	crl_pull_reset(p);
	p->buf = malloc(m->u.crl.total);
	if (!p->buf)
		return CRL_PULL_BAD;
	p->number = m->u.crl.number;
	p->issued = m->u.crl.issued;
	p->total = m->u.crl.total;
	return CRL_PULL_MORE;
}

/* Ownership: p->buf stays p's; the chunk is copied. */
enum crl_pull_result
crl_pull_on_chunk(struct crl_pull *p, const struct ctlmsg *m)
{
	enum crl_pull_result r;

	if (strcmp(m->u.crl.domain, p->domain))
		return CRL_PULL_BAD;
	if (m->u.crl.offset == 0) {
		if ((r = crl_pull_start(p, m)) != CRL_PULL_MORE)
			return r;
	} else if (!p->buf || m->u.crl.number != p->number || m->u.crl.issued != p->issued ||
		   m->u.crl.total != p->total || m->u.crl.offset != p->have) {
		crl_pull_reset(p);
		return CRL_PULL_RESTART;
	}
	/* The codec checked offset + chunk_len <= total. */
	memcpy(p->buf + p->have, m->u.crl.chunk, m->u.crl.chunk_len);
	p->have += (uint32_t)m->u.crl.chunk_len;
	return p->have == p->total ? CRL_PULL_DONE : CRL_PULL_MORE;
}
