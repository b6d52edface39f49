// SPDX-License-Identifier: MIT
/*
 * Revocation lists: verified, applied, kept. See crlkeep.h.
 */
#include "agent/crlkeep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/agent.h"
#include "peer/peer.h"
#include "crypto/cert.h"
#include "crypto/crl.h"
#include "store/store.h"

enum { CRLKEEP_KEY_MAX = IDENTITY_DOMAIN_MAX + 5 };

static void
crlkeep_key(const char *domain, char key[CRLKEEP_KEY_MAX])
{
	snprintf(key, CRLKEEP_KEY_MAX, "crl:%s", domain);
}

/* Verifies and applies; logs what happened. persist: also store it. */
static int
crlkeep_take(struct agent *a, const char *domain, const uint8_t *buf, size_t len, const char *from,
	     bool persist)
{
	char key[CRLKEEP_KEY_MAX];
	struct crl list;
	const char *why;
	int err = cert_trust_apply_crl(a->trust, domain, buf, len, &list, &why);

	if (err == -EALREADY)
		return err;
	if (err) {
		log_warnx("%s: refusing a revocation list from %s: %s", domain, from, why);
		return err;
	}
	log_info("%s: revocation list #%llu from %s: %zu certificate(s) revoked", domain,
		 (unsigned long long)list.number, from, list.count);
	crlkeep_key(domain, key);
	if (persist && store_meta_set(a->store, key, buf, len))
		log_warnx("%s: cannot keep revocation list #%llu in the state store", domain,
			  (unsigned long long)list.number);
	if (a->peers) /* none yet while lists are restored at start */
		peer_on_revocation(a->peers, &list);
	crl_free(&list);
	return 0;
}

int
crlkeep_apply(struct agent *a, const char *domain, const uint8_t *buf, size_t len, const char *from)
{
	return crlkeep_take(a, domain, buf, len, from, true);
}

void
crlkeep_restore(struct agent *a, const char *domain)
{
	char key[CRLKEEP_KEY_MAX];
	uint8_t *buf = malloc(CRL_WIRE_MAX);
	size_t len;

	crlkeep_key(domain, key);
	if (buf && !store_meta_get(a->store, key, buf, CRL_WIRE_MAX, &len))
		crlkeep_take(a, domain, buf, len, "the state store", false);
	free(buf);
}
