// SPDX-License-Identifier: MIT
/*
 * Approvals in the store (store.h): who may reach which of our purposes, and which purposes of
 * others we may reach. Every write is a commit on disk before it returns (STORE_PRAGMAS), so an
 * approval survives kill -9 the moment `vertex approve` has answered.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

int
store_approval_put(struct store *st, const struct store_approval *a)
{
	sqlite3_stmt *s;
	int rc = 0;

	if (sqlite3_prepare_v2(
		st->db,
		"INSERT OR REPLACE INTO peer_approvals (peer, purpose, dir, proto, port, "
		"fpr, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
		-1, &s, NULL))
		return store_fail(st, "approval put");
	sqlite3_bind_text(s, 1, a->peer, (int)strnlen(a->peer, sizeof(a->peer)), SQLITE_STATIC);
	sqlite3_bind_text(s, 2, a->purpose, (int)strnlen(a->purpose, sizeof(a->purpose)),
			  SQLITE_STATIC);
	sqlite3_bind_int(s, 3, a->dir);
	sqlite3_bind_int(s, 4, a->proto);
	sqlite3_bind_int(s, 5, a->port);
	sqlite3_bind_blob(s, 6, a->fpr, sizeof(a->fpr), SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, a->created);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_fail(st, "approval put");
	sqlite3_finalize(s);
	return rc;
}

static void
store_approval_row(sqlite3_stmt *s, struct store_approval *a)
{
	const void *fpr = sqlite3_column_blob(s, 5);

	memset(a, 0, sizeof(*a));
	snprintf(a->peer, sizeof(a->peer), "%s", (const char *)sqlite3_column_text(s, 0));
	snprintf(a->purpose, sizeof(a->purpose), "%s", (const char *)sqlite3_column_text(s, 1));
	a->dir = sqlite3_column_int(s, 2);
	a->proto = (uint8_t)sqlite3_column_int(s, 3);
	a->port = (uint16_t)sqlite3_column_int(s, 4);
	if (fpr && sqlite3_column_bytes(s, 5) == (int)sizeof(a->fpr))
		memcpy(a->fpr, fpr, sizeof(a->fpr));
	a->created = sqlite3_column_int64(s, 6);
}

#define STORE_APPROVAL_COLUMNS "peer, purpose, dir, proto, port, fpr, created"

int
store_approval_get(struct store *st, const char *peer, const char *purpose, int dir,
		   struct store_approval *out)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT " STORE_APPROVAL_COLUMNS " FROM peer_approvals "
			       "WHERE peer = ? AND purpose = ? AND dir = ?",
			       -1, &s, NULL))
		return store_fail(st, "approval get");
	sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, purpose, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, dir);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (out)
			store_approval_row(s, out);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : store_fail(st, "approval get");
	}
	sqlite3_finalize(s);
	return rc;
}

int
store_approval_delete(struct store *st, const char *peer, const char *purpose, int *deleted)
{
	sqlite3_stmt *s;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db,
			       purpose ? "DELETE FROM peer_approvals WHERE peer = ? AND purpose = ?"
				       : "DELETE FROM peer_approvals WHERE peer = ?",
			       -1, &s, NULL))
		return store_fail(st, "approval delete");
	sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
	if (purpose)
		sqlite3_bind_text(s, 2, purpose, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_fail(st, "approval delete");
	else if (deleted)
		*deleted = sqlite3_changes(st->db);
	sqlite3_finalize(s);
	return rc;
}

int
store_approval_count(struct store *st, const char *peer, int *count)
{
	sqlite3_stmt *s;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db,
			       peer ? "SELECT count(*) FROM peer_approvals WHERE peer = ?"
				    : "SELECT count(*) FROM peer_approvals",
			       -1, &s, NULL))
		return store_fail(st, "approval count");
	if (peer)
		sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		*count = sqlite3_column_int(s, 0);
	else
		rc = store_fail(st, "approval count");
	sqlite3_finalize(s);
	return rc;
}

int
store_approval_each(struct store *st, const char *peer,
		    int (*fn)(const struct store_approval *, void *), void *arg)
{
	sqlite3_stmt *s;
	struct store_approval a;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       peer ? "SELECT " STORE_APPROVAL_COLUMNS " FROM peer_approvals "
				      "WHERE peer = ? ORDER BY peer, purpose, dir"
				    : "SELECT " STORE_APPROVAL_COLUMNS " FROM peer_approvals "
				      "ORDER BY peer, purpose, dir",
			       -1, &s, NULL))
		return store_fail(st, "approval list");
	if (peer)
		sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
	for (;;) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			rc = 0;
			break;
		}
		if (rc != SQLITE_ROW) {
			rc = store_fail(st, "approval list");
			break;
		}
		store_approval_row(s, &a);
		if ((rc = fn(&a, arg)) != 0)
			break;
	}
	sqlite3_finalize(s);
	return rc;
}
