/* SPDX-License-Identifier: MIT */
/*
 * Crash-safe machine state (DESIGN §10) in SQLite: WAL journal, synchronous=FULL, so a write
 * that returned 0 survives kill -9 and power loss. The agent keeps here its overlay address
 * assignments (one index per peer identity, stable across restarts) and small metadata such as
 * the random ULA prefix chosen at first start, and the pinned CA fingerprint of every domain met.
 *
 * The database file is created mode 0600; its directory must exist.
 */
#ifndef VERTEX_STORE_H
#define VERTEX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trust/identity.h"

struct pin;
struct store;
struct sqlite3;

/* Every database of ours: WAL journal, and a commit is on disk before it returns. */
#define STORE_PRAGMAS "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
enum { STORE_BUSY_TIMEOUT_MS = 2000 };

/*
 * Opens (creating, mode 0600) the SQLite database at path with our pragmas and the given schema;
 * shared by the agent's store and the server's accounts so both get the same durability and the
 * same care with file locks. who names the caller in log lines. 0 or -errno.
 */
int store_db_open(const char *path, const char *who, const char *schema, struct sqlite3 **out);

/* *out freed with store_close(). 0, or -errno with a log line naming the file and the reason. */
int store_open(struct store **out, const char *path);
void store_close(struct store *st);

/* Small binary values by key. get: 0, -ENOENT, or -EOVERFLOW if cap is too small. */
int store_meta_get(struct store *st, const char *key, void *buf, size_t cap, size_t *len);
int store_meta_set(struct store *st, const char *key, const void *buf, size_t len);

/*
 * The overlay address index of identity: the stored one, or a new one (the smallest unused index
 * >= first) stored before returning, so an index once handed out never changes. 0 or -errno.
 */
int store_peer_index(struct store *st, const char *identity, uint32_t first, uint32_t *index);

/*
 * Pinned domain CAs (trust/pins.h), one per domain. get: 0 or -ENOENT; put inserts or replaces;
 * delete: 0 or -ENOENT. each calls fn in domain order and stops at, and returns, the first
 * non-zero value fn returns; the pin passed to fn is valid only during the call.
 */
int store_pin_get(struct store *st, const char *domain, struct pin *out);
int store_pin_put(struct store *st, const struct pin *p);
int store_pin_delete(struct store *st, const char *domain);
int store_pin_each(struct store *st, int (*fn)(const struct pin *, void *), void *arg);

/*
 * Approvals (docs/rendezvous.md), kept by store/approvals.c: one row per (peer, purpose,
 * direction). STORE_APPROVAL_IN: the peer may reach our purpose; STORE_APPROVAL_OUT: we may reach
 * the peer's. put inserts or replaces. delete removes the rows of peer for purpose (NULL: every
 * purpose) in both directions, and says how many went in *deleted (may be NULL). count: the rows
 * of peer (NULL: all). each: as store_pin_each, in (peer, purpose, dir) order, peer NULL for all.
 */
enum store_approval_dir { STORE_APPROVAL_IN = 1, STORE_APPROVAL_OUT = 2 };

struct store_approval {
	char peer[IDENTITY_STR_MAX];
	char purpose[IDENTITY_PURPOSE_MAX + 1];
	int dir; /* enum store_approval_dir */
	uint8_t proto;
	uint16_t port;
	uint8_t fpr[32]; /* the peer's certificate as its server vouched for it (IN), or zero */
	int64_t created; /* unix seconds */
};

int store_approval_put(struct store *st, const struct store_approval *a);
int store_approval_get(struct store *st, const char *peer, const char *purpose, int dir,
		       struct store_approval *out);
int store_approval_delete(struct store *st, const char *peer, const char *purpose, int *deleted);
int store_approval_count(struct store *st, const char *peer, int *count);
int store_approval_each(struct store *st, const char *peer,
			int (*fn)(const struct store_approval *, void *), void *arg);

#endif
