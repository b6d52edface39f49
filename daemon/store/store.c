// SPDX-License-Identifier: MIT
/*
 * SQLite backend of the state store. Statements are prepared per call: the store is touched at
 * start-up and when a new peer or domain appears, never on the packet path.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "trust/pins.h"

#include "store/store_int.h"

static const char store_schema[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS peer_index ("
    "  identity TEXT PRIMARY KEY,"
    "  idx INTEGER NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL DEFAULT (strftime('%s','now')));"
    "CREATE TABLE IF NOT EXISTS pins ("
    "  domain TEXT PRIMARY KEY,"
    "  fpr BLOB NOT NULL,"
    "  first_seen INTEGER NOT NULL,"
    "  how TEXT NOT NULL);"
    /* store/approvals.c */
    "CREATE TABLE IF NOT EXISTS peer_approvals ("
    "  peer TEXT NOT NULL,"
    "  purpose TEXT NOT NULL,"
    "  dir INTEGER NOT NULL,"
    "  proto INTEGER NOT NULL,"
    "  port INTEGER NOT NULL,"
    "  fpr BLOB,"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY (peer, purpose, dir));";

int
store_fail(struct store *st, const char *what)
{
	log_warnx("store %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	return -EIO;
}

int
store_db_open(const char *path, const char *who, const char *schema, sqlite3 **out)
{
	char *err = NULL;
	sqlite3 *db;
	int fd;

	/*
	 * Create the file ourselves so it is 0600 from the first byte, but only if it does not
	 * exist: closing a descriptor of a file drops every POSIX lock this process holds on it,
	 * including those of another SQLite connection to the same database (the server opens
	 * server.db twice), after which other processes can reset the WAL under it and committed
	 * writes are lost.
	 */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST) {
		int rc = -errno;

		log_warn("%s %s", who, path);
		return rc;
	}
	if (fd >= 0)
		close(fd);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		log_warnx("%s %s: open: %s", who, path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
	if (sqlite3_exec(db, STORE_PRAGMAS, NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("%s %s: schema: %s", who, path, err ? err : "?");
		sqlite3_free(err);
		sqlite3_close(db);
		return -EIO;
	}
	*out = db;
	return 0;
}

int
store_open(struct store **out, const char *path)
{
	struct store *st = calloc(1, sizeof(*st));
	int rc = -ENOMEM;

	if (!st || !(st->path = strdup(path)))
		goto err_free;
	rc = store_db_open(path, "store", store_schema, &st->db);
	if (rc)
		goto err_free;
	*out = st;
	return 0;

err_free:
	if (st)
		free(st->path);
	free(st);
	return rc;
}

void
store_close(struct store *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

int
store_meta_get(struct store *st, const char *key, void *buf, size_t cap, size_t *len)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &s, NULL))
		return store_fail(st, "meta get");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(s, 0);

		if (n > cap) {
			rc = -EOVERFLOW;
		} else {
			memcpy(buf, sqlite3_column_blob(s, 0), n);
			*len = n;
			rc = 0;
		}
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : store_fail(st, "meta get");
	}
	sqlite3_finalize(s);
	return rc;
}

int
store_meta_set(struct store *st, const char *key, const void *buf, size_t len)
{
	sqlite3_stmt *s;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", -1,
			       &s, NULL))
		return store_fail(st, "meta set");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, buf, (int)len, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_fail(st, "meta set");
	sqlite3_finalize(s);
	return rc;
}

static int
store_index_lookup(struct store *st, const char *identity, uint32_t *index)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT idx FROM peer_index WHERE identity = ?", -1, &s,
			       NULL))
		return store_fail(st, "index lookup");
	sqlite3_bind_text(s, 1, identity, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*index = (uint32_t)sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : store_fail(st, "index lookup");
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * The smallest free index >= first: either first itself, or one past an used index whose
 * successor is free. One query, no scan in C.
 */
static const char store_index_insert_sql[] =
    "INSERT INTO peer_index (identity, idx) SELECT ?1, MIN(c) FROM ("
    "  SELECT ?2 AS c WHERE NOT EXISTS (SELECT 1 FROM peer_index WHERE idx = ?2)"
    "  UNION ALL SELECT idx + 1 FROM peer_index p WHERE idx >= ?2"
    "    AND NOT EXISTS (SELECT 1 FROM peer_index q WHERE q.idx = p.idx + 1))";

int
store_peer_index(struct store *st, const char *identity, uint32_t first, uint32_t *index)
{
	sqlite3_stmt *s;
	int rc = store_index_lookup(st, identity, index);

	if (rc != -ENOENT)
		return rc;
	if (sqlite3_prepare_v2(st->db, store_index_insert_sql, -1, &s, NULL))
		return store_fail(st, "index insert");
	sqlite3_bind_text(s, 1, identity, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, first);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_fail(st, "index insert");
	sqlite3_finalize(s);
	return rc ? rc : store_index_lookup(st, identity, index);
}

/* Copies a pins row; a fingerprint of the wrong size means a damaged file, not a pin. */
static int
store_pin_row(struct store *st, sqlite3_stmt *s, struct pin *out)
{
	const unsigned char *domain = sqlite3_column_text(s, 0);
	const unsigned char *how = sqlite3_column_text(s, 3);

	if (!domain || !how || sqlite3_column_bytes(s, 1) != PIN_FPR_LEN) {
		log_warnx("store %s: malformed pin for %s", st->path,
			  domain ? (char *)domain : "?");
		return -EIO;
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->domain, sizeof(out->domain), "%s", (const char *)domain);
	memcpy(out->fpr, sqlite3_column_blob(s, 1), PIN_FPR_LEN);
	out->first_seen = sqlite3_column_int64(s, 2);
	snprintf(out->how, sizeof(out->how), "%s", (const char *)how);
	return 0;
}

int
store_pin_get(struct store *st, const char *domain, struct pin *out)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT domain, fpr, first_seen, how FROM pins WHERE domain = ?", -1,
			       &s, NULL))
		return store_fail(st, "pin get");
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = store_pin_row(st, s, out);
	else
		rc = rc == SQLITE_DONE ? -ENOENT : store_fail(st, "pin get");
	sqlite3_finalize(s);
	return rc;
}

int
store_pin_put(struct store *st, const struct pin *p)
{
	sqlite3_stmt *s;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO pins (domain, fpr, first_seen, how) "
			       "VALUES (?, ?, ?, ?)",
			       -1, &s, NULL))
		return store_fail(st, "pin put");
	sqlite3_bind_text(s, 1, p->domain, (int)strnlen(p->domain, sizeof(p->domain)),
			  SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, p->fpr, PIN_FPR_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, p->first_seen);
	sqlite3_bind_text(s, 4, p->how, (int)strnlen(p->how, sizeof(p->how)), SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_fail(st, "pin put");
	sqlite3_finalize(s);
	return rc;
}

int
store_pin_delete(struct store *st, const char *domain)
{
	sqlite3_stmt *s;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM pins WHERE domain = ?", -1, &s, NULL))
		return store_fail(st, "pin delete");
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_fail(st, "pin delete");
	else if (sqlite3_changes(st->db) == 0)
		rc = -ENOENT;
	sqlite3_finalize(s);
	return rc;
}

int
store_pin_each(struct store *st, int (*fn)(const struct pin *, void *), void *arg)
{
	sqlite3_stmt *s;
	struct pin p;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT domain, fpr, first_seen, how FROM pins ORDER BY domain", -1,
			       &s, NULL))
		return store_fail(st, "pin list");
	for (;;) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			rc = 0;
			break;
		}
		if (rc != SQLITE_ROW) {
			rc = store_fail(st, "pin list");
			break;
		}
		rc = store_pin_row(st, s, &p);
		if (rc == 0)
			rc = fn(&p, arg);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(s);
	return rc;
}
