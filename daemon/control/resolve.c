// SPDX-License-Identifier: MIT
/*
 * discover_server() on a thread. See resolve.h.
 *
 * A lookup has two owners, the thread and the loop, and is freed by whichever lets go last
 * (an atomic count of 2): the thread after it has written the results and signalled the
 * eventfd; the loop after it has passed the results on, or when the owner cancels. So a
 * cancelled lookup needs no waiting, and a thread never touches freed memory.
 */
#include "control/resolve.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/log.h"

enum { RESOLVE_STACK = 512 * 1024 };

struct resolve {
	struct resolve **owner;
	struct ev_loop *loop;
	struct ev_io io;
	int efd;
	atomic_uint refs;
	bool cancelled;
	void (*done)(void *arg, const struct discover_result *res, int n, const char *why);
	void *arg;
	char domain[DISCOVER_HOST_MAX];
	/* Written by the thread before it signals, read by the loop after. */
	struct discover_result res[DISCOVER_MAX];
	int n;
	char why[256];
};

static atomic_uint resolve_threads;

unsigned
resolve_running(void)
{
	return atomic_load(&resolve_threads);
}

static void
resolve_release(struct resolve *r)
{
	if (atomic_fetch_sub(&r->refs, 1) == 1) {
		close(r->efd);
		free(r);
	}
}

static void *
resolve_thread(void *arg)
{
	struct resolve *r = arg;
	uint64_t one = 1;

	r->n = discover_server(r->domain, r->res, DISCOVER_MAX, r->why, sizeof(r->why));
	/* The eventfd write publishes the results (a syscall: a full barrier). */
	if (write(r->efd, &one, sizeof(one)) != sizeof(one))
		log_warn("resolve: cannot signal the end of the lookup of %s", r->domain);
	atomic_fetch_sub(&resolve_threads, 1);
	resolve_release(r);
	return NULL;
}

static void
resolve_on_done(struct ev_io *io, uint32_t revents)
{
	struct resolve *r = container_of(io, struct resolve, io);
	uint64_t v;

	(void)revents;
	if (read(r->efd, &v, sizeof(v)) != sizeof(v))
		return; /* spurious: the thread has not signalled yet */
	ev_io_stop(r->loop, &r->io);
	if (r->owner)
		*r->owner = NULL;
	r->owner = NULL;
	if (!r->cancelled)
		r->done(r->arg, r->n > 0 ? r->res : NULL, r->n, r->why);
	resolve_release(r);
}

int
resolve_start(struct resolve **out, struct ev_loop *loop, const char *domain,
	      void (*done)(void *arg, const struct discover_result *res, int n, const char *why),
	      void *arg)
{
	struct resolve *r;
	pthread_attr_t attr;
	pthread_t t;
	int err;

	if (strlen(domain) >= sizeof(r->domain))
		return -EINVAL;
	if (atomic_fetch_add(&resolve_threads, 1) >= RESOLVE_MAX_THREADS) {
		atomic_fetch_sub(&resolve_threads, 1);
		return -EAGAIN;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		atomic_fetch_sub(&resolve_threads, 1);
		return -ENOMEM;
	}
	r->loop = loop;
	r->done = done;
	r->arg = arg;
	snprintf(r->domain, sizeof(r->domain), "%s", domain);
	atomic_init(&r->refs, 2);
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0 || ev_io_start(loop, &r->io, r->efd, EV_READ, resolve_on_done)) {
		err = r->efd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, RESOLVE_STACK);
	err = -pthread_create(&t, &attr, resolve_thread, r);
	pthread_attr_destroy(&attr);
	if (err) {
		ev_io_stop(loop, &r->io);
		goto fail;
	}
	r->owner = out;
	if (out)
		*out = r;
	return 0;

fail:
	atomic_fetch_sub(&resolve_threads, 1);
	if (r->efd >= 0)
		close(r->efd);
	free(r);
	return err;
}

void
resolve_cancel(struct resolve *r)
{
	if (!r)
		return;
	if (r->owner)
		*r->owner = NULL;
	r->owner = NULL;
	r->cancelled = true;
	ev_io_stop(r->loop, &r->io);
	resolve_release(r);
}
