/* SPDX-License-Identifier: MIT */
/*
 * The revocation lists vertexd holds, one per domain it trusts a CA for (its own, configured
 * ones, pinned ones): a list that arrives (from the home server, or fetched from another
 * domain's server) is verified against the anchor of its domain, applied to new handshakes and
 * to the sessions up, and kept in the state store (meta "crl:DOMAIN"), so that after a restart
 * it applies again before any server has answered -- a revoked certificate is not accepted
 * just because its domain's server is unreachable.
 */
#ifndef VERTEX_CRLKEEP_H
#define VERTEX_CRLKEEP_H

#include <stddef.h>
#include <stdint.h>

struct agent;

/*
 * A signed list for domain from `from` (for logs): verified, applied (sessions it revokes are
 * closed), stored. 0; -EALREADY if it is not newer than the one held (nothing happens); another
 * -errno if it was refused (said in the log).
 */
int crlkeep_apply(struct agent *a, const char *domain, const uint8_t *buf, size_t len,
		  const char *from);
/* The list stored for domain, if any and if it still verifies against domain's anchor. */
void crlkeep_restore(struct agent *a, const char *domain);

#endif
