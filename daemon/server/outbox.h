/* SPDX-License-Identifier: MIT */
/*
 * Records for another domain's server that must not be lost while the peering to it is down:
 * today the REVOKED answers (docs/rendezvous.md, "Revocations across a peering that is down").
 * In the domain's SQLite store (table outbox; WAL, synchronous=FULL: a revocation the agent was
 * told of survives kill -9), each with the record's type and encoded body, keyed by (domain,
 * key) so the same revocation named twice is kept once (the newer replaces the older, and gets
 * a new id). peering.c sends a domain's entries, oldest first, each time its link comes up, and
 * deletes them once the other server answered a PING sent after them (it handles records in
 * order, so it has handled those).
 *
 * Bounds: OUTBOX_PER_DOMAIN entries per domain and OUTBOX_MAX in all (a further one is refused,
 * -ENOSPC: the caller counts and logs it); an entry older than OUTBOX_TTL_S is dropped (the
 * domain has been unreachable for that long: a week).
 */
#ifndef VERTEX_OUTBOX_H
#define VERTEX_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

enum {
	OUTBOX_MAX = 16384,
	OUTBOX_PER_DOMAIN = 1024,
	OUTBOX_TTL_S = 7 * 86400,
	OUTBOX_KEY_MAX = 3 * 256,
	OUTBOX_BODY_MAX = 4096,
};

struct outbox;

struct outbox_entry {
	int64_t id; /* grows with every entry added */
	uint16_t type;
	const uint8_t *body; /* valid during the callback */
	size_t len;
	int64_t created;
};

int outbox_open(struct outbox **out, const char *path);
void outbox_close(struct outbox *o);
/* Keeps (type, body) for domain under key, at now: its id (> 0), -ENOSPC, -EINVAL or -EIO. */
int64_t outbox_add(struct outbox *o, const char *domain, const char *key, uint16_t type,
		   const uint8_t *body, size_t len, int64_t now);
/*
 * Calls fn for domain's entries, oldest first (dropping those past OUTBOX_TTL_S at now first),
 * until fn returns nonzero. The highest id given to fn, 0 if none, or -EIO.
 */
int64_t outbox_each(struct outbox *o, const char *domain, int64_t now,
		    int (*fn)(const struct outbox_entry *e, void *arg), void *arg);
/* Deletes domain's entries with id <= upto: how many, or -EIO. */
int outbox_done(struct outbox *o, const char *domain, int64_t upto);
/* Entries waiting for domain (NULL: for every domain). */
size_t outbox_count(struct outbox *o, const char *domain);
/* Calls fn for each domain with entries waiting, until it returns nonzero. 0 or -EIO. */
int outbox_domains(struct outbox *o, int (*fn)(const char *domain, void *arg), void *arg);

#endif
