/* SPDX-License-Identifier: MIT */
/*
 * Finding a domain's server (discover.h) off the event loop. A DNS lookup can take seconds (a
 * slow or dead resolver: 2 s per query, and discovery makes several), and an agent's event loop
 * also moves its data packets, so the lookup runs on a thread of its own (core/offload.h) and
 * the callback always runs on the loop.
 *
 * Bounds: OFFLOAD_LOOKUP_MAX lookups at once per process, the lookups' share of the offload
 * threads (one more fails at once with -EAGAIN);
 * each lookup is as bounded as discover_server() itself.
 */
#ifndef VERTEX_RESOLVE_H
#define VERTEX_RESOLVE_H

#include <stddef.h>

#include "control/discover.h"

struct ev_loop;
struct resolve;

/*
 * Looks up domain's server. done runs exactly once, on the loop, never before resolve_start
 * returns: with n >= 1 results, or n < 0 and why. *out is set while the lookup runs and cleared
 * before done runs.
 */
int resolve_start(struct resolve **out, struct ev_loop *loop, const char *domain,
		  void (*done)(void *arg, const struct discover_result *res, int n,
			       const char *why),
		  void *arg);
/* Cancels: done does not run. The thread finishes its lookup on its own. NULL is ignored. */
void resolve_cancel(struct resolve *r);

#endif
