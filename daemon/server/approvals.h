/* SPDX-License-Identifier: MIT */
/*
 * The approvals a server knows (docs/rendezvous.md, "Approvals"): (asker, answerer, purpose,
 * proto, port), recorded when an APPROVED answer passes through the server and deleted by a
 * REVOKED one. In the domain's SQLite store (table approvals; WAL, synchronous=FULL, so an
 * approval that was acknowledged survives kill -9), and indexed in memory by pair, because the
 * relay asks "is there an approval between these two, either way?" for every record it carries.
 *
 * Bound: APPROVALS_MAX rows per server; a further approval is refused (-ENOSPC, logged by the
 * caller) and not recorded, so the relay refuses that pair until one is revoked.
 */
#ifndef VERTEX_APPROVALS_H
#define VERTEX_APPROVALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trust/identity.h"

/* Identities as the control records carry them (CTL_STR_MAX). */
enum {
	APPROVALS_MAX = 1 << 20,
	APPROVAL_ID_MAX = 255,
	APPROVALS_KEY_MAX = 2 * APPROVAL_ID_MAX + 2,
};

struct approval {
	char asker[APPROVAL_ID_MAX + 1], answerer[APPROVAL_ID_MAX + 1];
	char purpose[IDENTITY_PURPOSE_MAX + 1];
	uint8_t proto;
	uint16_t port;
	int64_t created; /* unix seconds */
};

struct approvals;

/* Opens (creating the table in) the store at path and loads the index. 0 or -errno. */
int approvals_open(struct approvals **out, const char *path);
void approvals_close(struct approvals *a);
/* Records (or replaces: same asker, answerer, purpose) an approval. 0, -ENOSPC or -EIO. */
int approvals_add(struct approvals *a, const struct approval *ap);
/*
 * Deletes the approvals between x and y, both directions, for purpose ("" : every purpose).
 * Returns how many rows went, or -EIO.
 */
int approvals_revoke(struct approvals *a, const char *x, const char *y, const char *purpose);
/* Is there at least one approval between x and y, either direction? (in memory, no I/O) */
bool approvals_has_pair(const struct approvals *a, const char *x, const char *y);
/*
 * A number that changes whenever an answer of approvals_has_pair may have: a caller that
 * remembers one answer with it may reuse the answer while the number is the same.
 */
uint64_t approvals_generation(const struct approvals *a);
/* The approval (asker, answerer, purpose), read from the store: 0, -ENOENT or -EIO. */
int approvals_get(struct approvals *a, const char *asker, const char *answerer, const char *purpose,
		  struct approval *out);
size_t approvals_count(const struct approvals *a);
/*
 * Reloads the index if the store's rows were changed by another process (`vertex-server user
 * del` purges a deleted user's approvals and bumps meta's approvals_epoch): 1 if it reloaded,
 * 0 if nothing changed, -EIO/-ENOMEM (the index is then empty until the next call that works:
 * no pair is relayed rather than a purged one). The server calls it on its store poll.
 */
int approvals_sync(struct approvals *a);
/*
 * The key of the unordered pair {x, y}: "x\ny" with x < y, NUL-terminated; returns its length.
 * Identities of at most APPROVAL_ID_MAX bytes (longer ones are cut). On the relay's path: no
 * formatting, two copies.
 */
size_t approvals_pair_key(const char *x, const char *y, char key[APPROVALS_KEY_MAX]);

#endif
