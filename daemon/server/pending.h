/* SPDX-License-Identifier: MIT */
/*
 * The contact requests a server has seen and not yet seen answered (docs/rendezvous.md,
 * "Pending requests"): one entry per (from, to, purpose), with the request's id and the time
 * it expires. A plain table with the time passed in, so that rendezvous.c owns the decisions
 * and the tests need no loop: a duplicate while one is pending is merged into it (the caller
 * does not forward it again); an ANSWER is accepted only if it matches one; every entry ends at
 * its expiry (pending_expire hands it back so the caller can answer `timeout`).
 *
 * Bounds: PENDING_MAX entries in all, PENDING_PER_ASKER for one asking identity; more are
 * refused (-ENOSPC, -EDQUOT), never evict older ones.
 */
#ifndef VERTEX_PENDING_H
#define VERTEX_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/ctlmsg.h"
#include "trust/identity.h"

enum {
	PENDING_MAX = 4096,
	PENDING_PER_ASKER = 64,
	/* The asker's server gives the answerer's this long after the ttl before it says timeout.
	 */
	PENDING_ASKER_GRACE_MS = 5000,
};

/* Where a request stands on this server. */
enum pending_flags {
	PENDING_ASKER_HERE = 1 << 0,    /* from is an identity of a domain served here */
	PENDING_ANSWERER_HERE = 1 << 1, /* to is */
	PENDING_HELD = 1 << 2,          /* run --private: an unknown/offline answer held to ttl */
};

struct pending {
	uint64_t id;
	char from[CTL_STR_MAX + 1], to[CTL_STR_MAX + 1];
	char purpose[IDENTITY_PURPOSE_MAX + 1];
	uint64_t expires_ms;
	unsigned flags;
	unsigned merged; /* duplicates merged into it */
};

struct pending_table;

int pending_new(struct pending_table **out);
void pending_free(struct pending_table *t);
size_t pending_count(const struct pending_table *t);
size_t pending_count_asker(const struct pending_table *t, const char *from);

/*
 * Adds the request (from, to, purpose, id) expiring at expires_ms, or merges it into the one
 * pending for the same three (its id and expiry stay: the asker's agent retries with the same
 * id). Returns 1 if it was merged, 0 if added, -ENOSPC (table full) or -EDQUOT (this asker's
 * share full). *out, if not NULL, points at the entry (valid until the table changes).
 */
int pending_add(struct pending_table *t, const char *from, const char *to, const char *purpose,
		uint64_t id, uint64_t expires_ms, unsigned flags, struct pending **out);
/*
 * The pending request an ANSWER answers: one from `asker` to `answerer` for purpose with that
 * id; NULL if none (then the answer is refused).
 */
struct pending *pending_find(struct pending_table *t, const char *asker, const char *answerer,
			     const char *purpose, uint64_t id);
/* Removes an entry found by pending_find or pending_add. */
void pending_remove(struct pending_table *t, struct pending *p);
/*
 * Removes one entry that has expired at now_ms into *out and returns true; false when none is
 * left. Call until false.
 */
bool pending_expire(struct pending_table *t, uint64_t now_ms, struct pending *out);
/* The earliest expiry, or UINT64_MAX when the table is empty (for the caller's timer). */
uint64_t pending_next_expiry(const struct pending_table *t);

#endif
