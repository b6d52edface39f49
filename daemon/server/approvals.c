// SPDX-License-Identifier: MIT
/*
 * Approvals in the server's store, and their index by pair: see approvals.h.
 *
 * The table (docs/server.md, "State"):
 *   approvals  asker, answerer, purpose (primary key together), proto, port, created
 *
 * The index maps an unordered pair {x, y} (the key "x\ny" with x < y) to how many rows join
 * them, in a hash table of chains keyed by SipHash with a random key (identities come from the
 * network). It is rebuilt from the table at open; every add and revoke updates both, the store
 * first: a write that failed changes nothing in memory.
 */
#include "server/approvals.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/siphash.h"
#include "store/store.h"

enum { APPROVALS_BUCKETS = 1 << 14 };

struct approvals_pair {
	struct approvals_pair *next;
	unsigned rows;
	char key[APPROVALS_KEY_MAX];
};

struct approvals {
	sqlite3 *db;
	char *path;
	struct siphash_key hash_key;
	struct approvals_pair *heads[APPROVALS_BUCKETS];
	size_t rows;
	uint64_t generation; /* bumped by every change of the pair table (approvals_has_pair) */
	int64_t epoch;       /* meta's approvals_epoch when the index was loaded (approvals_sync) */
};

static const char approvals_schema[] = "CREATE TABLE IF NOT EXISTS approvals ("
				       "  asker TEXT NOT NULL,"
				       "  answerer TEXT NOT NULL,"
				       "  purpose TEXT NOT NULL,"
				       "  proto INTEGER NOT NULL,"
				       "  port INTEGER NOT NULL,"
				       "  created INTEGER NOT NULL,"
				       "  PRIMARY KEY (asker, answerer, purpose));";

static int
approvals_fail(struct approvals *a, const char *what)
{
	log_warnx("approvals %s: %s: %s", a->path, what, sqlite3_errmsg(a->db));
	return -EIO;
}

size_t
approvals_pair_key(const char *x, const char *y, char key[APPROVALS_KEY_MAX])
{
	size_t nx, ny;

	if (strcmp(x, y) > 0) {
		const char *t = x;

		x = y;
		y = t;
	}
	nx = strnlen(x, APPROVAL_ID_MAX);
	ny = strnlen(y, APPROVAL_ID_MAX);
	memcpy(key, x, nx);
	key[nx] = '\n';
	memcpy(key + nx + 1, y, ny);
	key[nx + 1 + ny] = '\0';
	return nx + 1 + ny;
}

static struct approvals_pair **
approvals_slot(const struct approvals *a, const char *key, size_t len)
{
	size_t b = (size_t)siphash24(&a->hash_key, key, len) & (APPROVALS_BUCKETS - 1);
	struct approvals_pair *const *pp = &a->heads[b];

	while (*pp && strcmp((*pp)->key, key))
		pp = &(*pp)->next;
	return (struct approvals_pair **)pp;
}

/* The pair's row count changes by delta (a new pair at +1; one at 0 goes). */
static int
approvals_index(struct approvals *a, const char *x, const char *y, int delta)
{
	char key[APPROVALS_KEY_MAX];
	struct approvals_pair **pp, *p;

	a->generation++;
	pp = approvals_slot(a, key, approvals_pair_key(x, y, key));
	if (!*pp) {
		if (delta <= 0)
			return 0;
		if (!(p = calloc(1, sizeof(*p))))
			return -ENOMEM;
		snprintf(p->key, sizeof(p->key), "%s", key);
		*pp = p;
	}
	p = *pp;
	if (delta < 0 && (unsigned)-delta >= p->rows) {
		*pp = p->next;
		free(p);
		return 0;
	}
	p->rows = (unsigned)((int)p->rows + delta);
	return 0;
}

/*
 * meta's approvals_epoch: bumped by `user del` (accounts.c) when it deletes rows behind a running
 * server's back. 0 when there is none (or no meta table: a store accounts.c never opened).
 */
static int64_t
approvals_epoch(struct approvals *a)
{
	sqlite3_stmt *s;
	int64_t v = 0;

	if (sqlite3_prepare_v2(a->db, "SELECT value FROM meta WHERE key = 'approvals_epoch'", -1,
			       &s, NULL))
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void
approvals_index_clear(struct approvals *a)
{
	for (size_t i = 0; i < APPROVALS_BUCKETS; i++) {
		while (a->heads[i]) {
			struct approvals_pair *p = a->heads[i];

			a->heads[i] = p->next;
			free(p);
		}
	}
	a->rows = 0;
	a->generation++;
}

static int
approvals_load(struct approvals *a)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(a->db, "SELECT asker, answerer FROM approvals", -1, &s, NULL))
		return approvals_fail(a, "load");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (approvals_index(a, (const char *)sqlite3_column_text(s, 0),
				    (const char *)sqlite3_column_text(s, 1), 1)) {
			sqlite3_finalize(s);
			return -ENOMEM;
		}
		a->rows++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : approvals_fail(a, "load");
}

int
approvals_open(struct approvals **out, const char *path)
{
	struct approvals *a = calloc(1, sizeof(*a));
	int rc = -ENOMEM;

	if (!a || !(a->path = strdup(path)))
		goto err_free;
	a->hash_key = siphash_key_random();
	a->generation = 1; /* 0 is what a memo that knows nothing holds */
	if ((rc = store_db_open(path, "approvals", approvals_schema, &a->db)))
		goto err_free;
	a->epoch = approvals_epoch(a);
	if ((rc = approvals_load(a))) {
		approvals_close(a);
		return rc;
	}
	*out = a;
	return 0;

err_free:
	if (a)
		free(a->path);
	free(a);
	return rc;
}

void
approvals_close(struct approvals *a)
{
	if (!a)
		return;
	approvals_index_clear(a);
	sqlite3_close(a->db);
	free(a->path);
	free(a);
}

static int
approvals_bind_three(struct approvals *a, sqlite3_stmt *s, const char *x, const char *y,
		     const char *purpose)
{
	if (sqlite3_bind_text(s, 1, x, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 2, y, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 3, purpose, -1, SQLITE_STATIC))
		return approvals_fail(a, "bind");
	return 0;
}

/* Does the row (asker, answerer, purpose) exist? 1, 0 or -EIO. */
static int
approvals_exists(struct approvals *a, const char *asker, const char *answerer, const char *purpose)
{
	struct approval ap;
	int rc = approvals_get(a, asker, answerer, purpose, &ap);

	return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

int
approvals_add(struct approvals *a, const struct approval *ap)
{
	sqlite3_stmt *s;
	int had, rc;

	if ((had = approvals_exists(a, ap->asker, ap->answerer, ap->purpose)) < 0)
		return had;
	if (!had && a->rows >= APPROVALS_MAX)
		return -ENOSPC;
	if (sqlite3_prepare_v2(a->db,
			       "INSERT OR REPLACE INTO approvals (asker, answerer, purpose, proto, "
			       "port, created) VALUES (?, ?, ?, ?, ?, ?)",
			       -1, &s, NULL))
		return approvals_fail(a, "add");
	rc = approvals_bind_three(a, s, ap->asker, ap->answerer, ap->purpose);
	if (!rc && (sqlite3_bind_int(s, 4, ap->proto) || sqlite3_bind_int(s, 5, ap->port) ||
		    sqlite3_bind_int64(s, 6, ap->created ? ap->created : (int64_t)time(NULL))))
		rc = approvals_fail(a, "bind");
	if (!rc && sqlite3_step(s) != SQLITE_DONE)
		rc = approvals_fail(a, "add");
	sqlite3_finalize(s);
	if (rc || had)
		return rc;
	a->rows++;
	return approvals_index(a, ap->asker, ap->answerer, 1);
}

/* Deletes the rows asker -> answerer (for purpose, or all with ""): how many, or -EIO. */
static int
approvals_delete_one_way(struct approvals *a, const char *asker, const char *answerer,
			 const char *purpose)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(a->db,
			       "DELETE FROM approvals WHERE asker = ? AND answerer = ? AND "
			       "(?3 = '' OR purpose = ?3)",
			       -1, &s, NULL))
		return approvals_fail(a, "revoke");
	rc = approvals_bind_three(a, s, asker, answerer, purpose);
	if (!rc)
		rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(a->db)
						    : approvals_fail(a, "revoke");
	sqlite3_finalize(s);
	return rc;
}

int
approvals_revoke(struct approvals *a, const char *x, const char *y, const char *purpose)
{
	int n1 = approvals_delete_one_way(a, x, y, purpose), n2;

	if (n1 < 0)
		return n1;
	n2 = approvals_delete_one_way(a, y, x, purpose);
	if (n2 < 0)
		n2 = 0; /* the first direction is gone already: keep the index true to it */
	a->rows -= (size_t)(n1 + n2);
	approvals_index(a, x, y, -(n1 + n2));
	return n1 + n2;
}

bool
approvals_has_pair(const struct approvals *a, const char *x, const char *y)
{
	char key[APPROVALS_KEY_MAX];

	return *approvals_slot(a, key, approvals_pair_key(x, y, key)) != NULL;
}

int
approvals_get(struct approvals *a, const char *asker, const char *answerer, const char *purpose,
	      struct approval *out)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(a->db,
			       "SELECT proto, port, created FROM approvals WHERE asker = ? AND "
			       "answerer = ? AND purpose = ?",
			       -1, &s, NULL))
		return approvals_fail(a, "get");
	if ((rc = approvals_bind_three(a, s, asker, answerer, purpose))) {
		sqlite3_finalize(s);
		return rc;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		snprintf(out->asker, sizeof(out->asker), "%s", asker);
		snprintf(out->answerer, sizeof(out->answerer), "%s", answerer);
		snprintf(out->purpose, sizeof(out->purpose), "%s", purpose);
		out->proto = (uint8_t)sqlite3_column_int(s, 0);
		out->port = (uint16_t)sqlite3_column_int(s, 1);
		out->created = sqlite3_column_int64(s, 2);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : approvals_fail(a, "get");
	}
	sqlite3_finalize(s);
	return rc;
}

size_t
approvals_count(const struct approvals *a)
{
	return a->rows;
}

uint64_t
approvals_generation(const struct approvals *a)
{
	return a->generation;
}

int
approvals_sync(struct approvals *a)
{
	int64_t epoch = approvals_epoch(a);
	int rc;

	if (epoch == a->epoch)
		return 0;
	approvals_index_clear(a);
	rc = approvals_load(a);
	if (rc) {
		/* Half an index would let pairs through that the store no longer holds: none. */
		approvals_index_clear(a);
		return rc;
	}
	a->epoch = epoch;
	log_info("approvals %s: reloaded, %zu approval(s): an account was deleted", a->path,
		 a->rows);
	return 1;
}
