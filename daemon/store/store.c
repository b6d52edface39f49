// SPDX-License-Identifier: MIT
/*
 * SQLite backend of the state store. Statements are prepared per call: the store is touched at
 * start-up and when a new peer appears, never on the packet path.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

struct store {
	sqlite3 *db;
	char *path;
};

static const char store_schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS peer_index ("
    "  identity TEXT PRIMARY KEY,"
    "  idx INTEGER NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL DEFAULT (strftime('%s','now')));";

static int
store_fail(struct store *st, const char *what)
{
	log_warnx("store %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	return -EIO;
}

int
store_open(struct store **out, const char *path)
{
	struct store *st = calloc(1, sizeof(*st));
	char *err = NULL;
	int fd, rc = -ENOMEM;

	if (!st || !(st->path = strdup(path)))
		goto err_free;
	/* Create the file ourselves so it is 0600 from the first byte. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		log_warn("store %s", path);
		goto err_free;
	}
	close(fd);
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		rc = store_fail(st, "open");
		goto err_close;
	}
	sqlite3_busy_timeout(st->db, 2000);
	if (sqlite3_exec(st->db, store_schema, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("store %s: schema: %s", path, err ? err : "?");
		sqlite3_free(err);
		rc = -EIO;
		goto err_close;
	}
	*out = st;
	return 0;

err_close:
	sqlite3_close(st->db);
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
