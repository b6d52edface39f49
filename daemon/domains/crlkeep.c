// SPDX-License-Identifier: MIT
/*
 * The revocation lists vertexd holds, one per domain it trusts a CA for (its own, configured
 * ones, pinned ones): a list that arrives (from the home server, or fetched from another
 * domain's server) is verified against the anchor of its domain, applied to new handshakes and
 * to the sessions up (through on_revoked), and kept in the state store (meta "crl:DOMAIN"), so
 * that after a restart it applies again before any server has answered -- a revoked
 * certificate is not accepted just because its domain's server is unreachable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/crl.h"
#include "domains/domains_int.h"
#include "store/store.h"

enum { CRLKEEP_KEY_MAX = IDENTITY_DOMAIN_MAX + 5 };

static void
crlkeep_key(const char *domain, char key[CRLKEEP_KEY_MAX])
{
	snprintf(key, CRLKEEP_KEY_MAX, "crl:%s", domain);
}

/* Verifies and applies; logs what happened. persist: also store it. */
static int
crlkeep_take(struct domains *d, const char *domain, const uint8_t *buf, size_t len,
	     const char *from, bool persist)
{
	char key[CRLKEEP_KEY_MAX];
	struct crl list;
	const char *why;
	int err = cert_trust_apply_crl(d->trust, domain, buf, len, &list, &why);

	if (err == -EALREADY)
		return err;
	if (err) {
		log_warnx("%s: refusing a revocation list from %s: %s", domain, from, why);
		return err;
	}
	log_info("%s: revocation list #%llu from %s: %zu certificate(s) revoked", domain,
		 (unsigned long long)list.number, from, list.count);
	crlkeep_key(domain, key);
	if (persist && store_meta_set(d->store, key, buf, len))
		log_warnx("%s: cannot keep revocation list #%llu in the state store", domain,
			  (unsigned long long)list.number);
	d->ops.on_revoked(d->arg, &list);
	crl_free(&list);
	return 0;
}

int
domains_apply_crl(struct domains *d, const char *domain, const uint8_t *buf, size_t len,
		  const char *from)
{
	return crlkeep_take(d, domain, buf, len, from, true);
}

void
crlkeep_restore(struct domains *d, const char *domain)
{
	char key[CRLKEEP_KEY_MAX];
	uint8_t *buf = malloc(CRL_WIRE_MAX);
	size_t len;

	crlkeep_key(domain, key);
	if (buf && !store_meta_get(d->store, key, buf, CRL_WIRE_MAX, &len))
		crlkeep_take(d, domain, buf, len, "the state store", false);
	free(buf);
}
