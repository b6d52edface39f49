/* SPDX-License-Identifier: MIT */
/*
 * The pairs one peering link names by handle over UDP (relay_udp.c's PEER_OUT; docs/
 * rendezvous.md, "The relay over UDP"): (from, to) -> handle 1..nhandles, found by a hash
 * table, each handle with the time it last carried a frame. A handle idle for idle_ms is freed
 * (link_pairs_expire) and given to the next new pair, so a link that has named nhandles pairs
 * over its life keeps taking new ones; only nhandles pairs *in use at once* fill it (then new
 * pairs go over TLS). The other server takes a handle named anew because its PAIR's seq is
 * higher (seqs only grow on a link), and a DATA goes on a handle only once its PAIR is answered,
 * so a frame of the old pair is never taken for the new one.
 *
 * No clock of its own: every call that needs the time gets it (the loop's, or a test's).
 */
#ifndef VERTEX_LINKPAIRS_H
#define VERTEX_LINKPAIRS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/siphash.h"
#include "proto/ctlmsg.h"

struct link_pairs;

/* 0 or -ENOMEM; nhandles at most 65535. */
int link_pairs_new(struct link_pairs **out, unsigned nhandles, struct siphash_key key);
void link_pairs_free(struct link_pairs *p);
/* The handle of (from, to), its use time set to now; 0 if it has none. */
unsigned link_pairs_find(struct link_pairs *p, const char *from, const char *to, uint64_t now);
/* A new handle for (from, to), which must have none, used at now; 0 if every handle is in use. */
unsigned link_pairs_add(struct link_pairs *p, const char *from, const char *to, uint64_t now);
/* Handle h's pair, or false if h names none now. */
bool link_pairs_get(const struct link_pairs *p, unsigned h, const char **from, const char **to);
/*
 * Frees the handles not used since now - idle_ms; gone(h, arg), if set, is told of each before
 * it goes. How many went.
 */
unsigned link_pairs_expire(struct link_pairs *p, uint64_t now, uint64_t idle_ms,
			   void (*gone)(unsigned h, void *arg), void *arg);
/* Handles naming a pair now; the highest handle ever given (handles 1..that may be in use). */
unsigned link_pairs_count(const struct link_pairs *p);
unsigned link_pairs_top(const struct link_pairs *p);

#endif
