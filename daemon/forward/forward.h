/* SPDX-License-Identifier: MIT */
/*
 * Port forwards (docs/userspace.md): a loopback address and port on this host that leads to a
 * peer's approved purpose, e.g. `127.0.0.1:2222 -> bob@b.example.com/ssh`, from the config's
 * `forward` lines or `vertex forward` at run time. This module is the table, pure: what a forward
 * is, parsing one, and the set of them (no two on one address, at most FORWARDS_MAX). The agent
 * (agent/wiring_proxy.c) listens for each and connects each client over the overlay.
 *
 * Only loopback addresses (127.0.0.0/8, ::1) may be listened on: whoever reaches a forward uses
 * our approvals, so it must not be reachable from another host. The target names a purpose,
 * which picks the port when the connection is made (the approval says which).
 */
#ifndef VERTEX_FORWARD_H
#define VERTEX_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "trust/identity.h"

enum { FORWARDS_MAX = 32 };

struct forward {
	struct sockaddr_storage listen; /* loopback, port != 0 */
	struct identity target;         /* user@domain/purpose, normalised */
};

struct forward_table {
	struct forward f[FORWARDS_MAX];
	size_t n;
};

/* A loopback address and port to listen on ("127.0.0.1:1080"). 0, or -EINVAL with *why. */
int forward_parse_listen(const char *listen, struct sockaddr_storage *out, const char **why);
/*
 * listen ("127.0.0.1:2222", "[::1]:2222") and target ("bob@b.example.com/ssh") into *out.
 * 0, or -EINVAL with a static reason in *why.
 */
int forward_parse(const char *listen, const char *target, struct forward *out, const char **why);
/* "127.0.0.1:2222 bob@b.example.com/ssh": what forward_parse takes back (its two words). */
void forward_print(const struct forward *f, FILE *out);

/* Adds a copy of f. 0, -EEXIST (a forward listens there already), -ENOSPC (FORWARDS_MAX). */
int forward_table_add(struct forward_table *t, const struct forward *f);
/* Removes the forward on listen. 0 or -ENOENT. */
int forward_table_remove(struct forward_table *t, const struct sockaddr_storage *listen);
/* The forward on listen, or NULL. */
const struct forward *forward_table_find(const struct forward_table *t,
					 const struct sockaddr_storage *listen);
bool forward_equal(const struct forward *a, const struct forward *b);

#endif
