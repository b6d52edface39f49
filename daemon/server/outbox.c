// SPDX-License-Identifier: MIT
/*
 * The records waiting for other domains' servers: see outbox.h.
 *
 * The table (docs/server.md, "State"):
 *   outbox  id (integer key, grows), domain, key (unique together), type, body, created
 */
#include "server/outbox.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/store.h"

struct outbox {
	sqlite3 *db;
	char *path;
};

static const char outbox_schema[] = "CREATE TABLE IF NOT EXISTS outbox ("
				    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
				    "  domain TEXT NOT NULL,"
				    "  key TEXT NOT NULL,"
				    "  type INTEGER NOT NULL,"
				    "  body BLOB NOT NULL,"
				    "  created INTEGER NOT NULL,"
				    "  UNIQUE (domain, key));";

static int
outbox_fail(struct outbox *o, const char *what)
{
	log_warnx("outbox %s: %s: %s", o->path, what, sqlite3_errmsg(o->db));
	return -EIO;
}

int
outbox_open(struct outbox **out, const char *path)
{
	struct outbox *o = calloc(1, sizeof(*o));
	int rc = -ENOMEM;

	if (!o || !(o->path = strdup(path)))
		goto err;
	if ((rc = store_db_open(path, "outbox", outbox_schema, &o->db)))
		goto err;
	*out = o;
	return 0;
err:
	if (o)
		free(o->path);
	free(o);
	return rc;
}

void
outbox_close(struct outbox *o)
{
	if (!o)
		return;
	sqlite3_close(o->db);
	free(o->path);
	free(o);
}

/* One integer from sql with text parameter p1 (NULL: none); -1 on an error. */
static int64_t
outbox_int(struct outbox *o, const char *sql, const char *p1)
{
	sqlite3_stmt *s;
	int64_t v = -1;

	if (sqlite3_prepare_v2(o->db, sql, -1, &s, NULL)) {
		outbox_fail(o, "count");
		return -1;
	}
	if ((!p1 || !sqlite3_bind_text(s, 1, p1, -1, SQLITE_STATIC)) &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

size_t
outbox_count(struct outbox *o, const char *domain)
{
	int64_t n = domain ? outbox_int(o, "SELECT COUNT(*) FROM outbox WHERE domain = ?", domain)
			   : outbox_int(o, "SELECT COUNT(*) FROM outbox", NULL);

	return n > 0 ? (size_t)n : 0;
}

/* Is (domain, key) kept already? 1, 0 or -1. */
static int
outbox_has(struct outbox *o, const char *domain, const char *key)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(o->db, "SELECT 1 FROM outbox WHERE domain = ? AND key = ?", -1, &s,
			       NULL)) {
		outbox_fail(o, "find");
		return -1;
	}
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int64_t
outbox_add(struct outbox *o, const char *domain, const char *key, uint16_t type,
	   const uint8_t *body, size_t len, int64_t now)
{
	sqlite3_stmt *s;
	int had;
	int64_t id;

	if (!domain[0] || strlen(key) > OUTBOX_KEY_MAX || len > OUTBOX_BODY_MAX)
		return -EINVAL;
	if ((had = outbox_has(o, domain, key)) < 0)
		return -EIO;
	if (!had && ((int64_t)outbox_count(o, NULL) >= OUTBOX_MAX ||
		     (int64_t)outbox_count(o, domain) >= OUTBOX_PER_DOMAIN))
		return -ENOSPC;
	if (sqlite3_prepare_v2(o->db,
			       "INSERT OR REPLACE INTO outbox (domain, key, type, body, created) "
			       "VALUES (?, ?, ?, ?, ?)",
			       -1, &s, NULL))
		return outbox_fail(o, "add");
	if (sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC) || sqlite3_bind_int(s, 3, type) ||
	    sqlite3_bind_blob(s, 4, len ? body : (const void *)"", (int)len, SQLITE_STATIC) ||
	    sqlite3_bind_int64(s, 5, now) || sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_finalize(s);
		return outbox_fail(o, "add");
	}
	sqlite3_finalize(s);
	id = sqlite3_last_insert_rowid(o->db);
	return id > 0 ? id : -EIO;
}

int64_t
outbox_each(struct outbox *o, const char *domain, int64_t now,
	    int (*fn)(const struct outbox_entry *e, void *arg), void *arg)
{
	sqlite3_stmt *s;
	struct outbox_entry e;
	int64_t top = 0;
	int rc;

	if (sqlite3_prepare_v2(o->db, "DELETE FROM outbox WHERE domain = ? AND created < ?", -1, &s,
			       NULL))
		return outbox_fail(o, "expire");
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now - OUTBOX_TTL_S);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return outbox_fail(o, "expire");
	if (sqlite3_changes(o->db))
		log_warnx("outbox: dropped %d record(s) for %s kept over %d days",
			  sqlite3_changes(o->db), domain, OUTBOX_TTL_S / 86400);
	if (sqlite3_prepare_v2(o->db,
			       "SELECT id, type, body, created FROM outbox WHERE domain = ? "
			       "ORDER BY id",
			       -1, &s, NULL))
		return outbox_fail(o, "list");
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		e.id = sqlite3_column_int64(s, 0);
		e.type = (uint16_t)sqlite3_column_int(s, 1);
		e.body = sqlite3_column_blob(s, 2);
		e.len = (size_t)sqlite3_column_bytes(s, 2);
		e.created = sqlite3_column_int64(s, 3);
		top = e.id;
		if (fn(&e, arg))
			break;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? top : outbox_fail(o, "list");
}

int
outbox_done(struct outbox *o, const char *domain, int64_t upto)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(o->db, "DELETE FROM outbox WHERE domain = ? AND id <= ?", -1, &s,
			       NULL))
		return outbox_fail(o, "done");
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, upto);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? sqlite3_changes(o->db) : outbox_fail(o, "done");
}

int
outbox_domains(struct outbox *o, int (*fn)(const char *domain, void *arg), void *arg)
{
	sqlite3_stmt *s;
	char **names = NULL, **more;
	size_t n = 0;
	int rc;

	/* Listed first, called after: fn may use the store (and start links that do). */
	if (sqlite3_prepare_v2(o->db, "SELECT DISTINCT domain FROM outbox ORDER BY domain", -1, &s,
			       NULL))
		return outbox_fail(o, "domains");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!(more = realloc(names, (n + 1) * sizeof(*names))))
			break;
		names = more;
		if (!(names[n] = strdup((const char *)sqlite3_column_text(s, 0))))
			break;
		n++;
	}
	sqlite3_finalize(s);
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : outbox_fail(o, "domains");
	for (size_t i = 0; i < n; i++) {
		if (!rc && fn(names[i], arg))
			rc = 1;
		free(names[i]);
	}
	free(names);
	return rc < 0 ? rc : 0;
}
