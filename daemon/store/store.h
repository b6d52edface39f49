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

#include <stddef.h>
#include <stdint.h>

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

#endif
