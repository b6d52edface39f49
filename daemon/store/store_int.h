/* SPDX-License-Identifier: MIT */
/* What the store's own files share (store.c, approvals.c). */
#ifndef VERTEX_STORE_INT_H
#define VERTEX_STORE_INT_H

#include <sqlite3.h>

struct store {
	sqlite3 *db;
	char *path;
};

/* Logs what failed with SQLite's reason; returns -EIO. */
int store_fail(struct store *st, const char *what);

#endif
