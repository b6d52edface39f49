// SPDX-License-Identifier: MIT
/*
 * Blocking work on a thread, its end back on the loop. See offload.h.
 *
 * A job has two holders, the thread and the loop (an atomic count of 2). The thread runs work,
 * signals the eventfd (the write publishes what work wrote: a syscall is a full barrier) and
 * lets go; the loop lets go after done, or when the job is cancelled. The last one frees.
 */
#include "core/offload.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/log.h"

enum { OFFLOAD_STACK = 512 * 1024 };

struct offload {
	struct offload **owner;
	struct ev_loop *loop;
	struct ev_io io;
	int efd;
	atomic_uint refs;
	void (*work)(void *arg);
	void (*done)(void *arg);
	void (*free_arg)(void *arg);
	void *arg;
	enum offload_class cls;
};

static atomic_uint offload_threads;
static atomic_uint offload_class_threads[OFFLOAD_NCLASSES];
static const unsigned offload_class_max[OFFLOAD_NCLASSES] = {
	[OFFLOAD_DEFAULT] = OFFLOAD_MAX_THREADS,
	[OFFLOAD_LOOKUP] = OFFLOAD_LOOKUP_MAX,
};

unsigned
offload_running(void)
{
	return atomic_load(&offload_threads);
}

unsigned
offload_running_in(enum offload_class cls)
{
	return atomic_load(&offload_class_threads[cls]);
}

/* Takes a thread of the pool and of cls's share; false if either is used up. */
static bool
offload_take(enum offload_class cls)
{
	if (atomic_fetch_add(&offload_class_threads[cls], 1) >= offload_class_max[cls]) {
		atomic_fetch_sub(&offload_class_threads[cls], 1);
		return false;
	}
	if (atomic_fetch_add(&offload_threads, 1) >= OFFLOAD_MAX_THREADS) {
		atomic_fetch_sub(&offload_threads, 1);
		atomic_fetch_sub(&offload_class_threads[cls], 1);
		return false;
	}
	return true;
}

static void
offload_give_back(enum offload_class cls)
{
	atomic_fetch_sub(&offload_threads, 1);
	atomic_fetch_sub(&offload_class_threads[cls], 1);
}

static void
offload_release(struct offload *o)
{
	if (atomic_fetch_sub(&o->refs, 1) != 1)
		return;
	if (o->free_arg)
		o->free_arg(o->arg);
	close(o->efd);
	free(o);
}

static void *
offload_thread(void *p)
{
	struct offload *o = p;
	uint64_t one = 1;

	o->work(o->arg);
	if (write(o->efd, &one, sizeof(one)) != sizeof(one))
		log_warn("offload: cannot signal the end of a job");
	offload_give_back(o->cls);
	offload_release(o);
	return NULL;
}

static void
offload_on_done(struct ev_io *io, uint32_t revents)
{
	struct offload *o = container_of(io, struct offload, io);
	uint64_t v;

	(void)revents;
	if (read(o->efd, &v, sizeof(v)) != sizeof(v))
		return; /* not signalled yet */
	ev_io_stop(o->loop, &o->io);
	if (o->owner)
		*o->owner = NULL;
	o->owner = NULL;
	o->done(o->arg);
	offload_release(o);
}

int
offload_start(struct offload **out, struct ev_loop *loop, void (*work)(void *arg),
	      void (*done)(void *arg), void (*free_arg)(void *arg), void *arg)
{
	return offload_start_in(OFFLOAD_DEFAULT, out, loop, work, done, free_arg, arg);
}

int
offload_start_in(enum offload_class cls, struct offload **out, struct ev_loop *loop,
		 void (*work)(void *arg), void (*done)(void *arg), void (*free_arg)(void *arg),
		 void *arg)
{
	struct offload *o;
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int err;

	if (cls >= OFFLOAD_NCLASSES)
		return -EINVAL;
	if (!offload_take(cls))
		return -EAGAIN;
	if (!(o = calloc(1, sizeof(*o)))) {
		offload_give_back(cls);
		return -ENOMEM;
	}
	*o = (struct offload){ .loop = loop,
			       .work = work,
			       .done = done,
			       .free_arg = free_arg,
			       .arg = arg,
			       .cls = cls };
	atomic_init(&o->refs, 2);
	o->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (o->efd < 0) {
		err = -errno;
		goto fail;
	}
	if ((err = ev_io_start(loop, &o->io, o->efd, EV_READ, offload_on_done)))
		goto fail;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, OFFLOAD_STACK);
	/*
	 * The thread takes no signal: it inherits the mask it is created with, and one started
	 * before the loop blocks its signals (ev_signal_add) would get a process-directed SIGTERM
	 * and die of it, taking the process along, instead of the loop's signalfd reading it.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&t, &attr, offload_thread, o);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		ev_io_stop(loop, &o->io);
		goto fail;
	}
	o->owner = out;
	if (out)
		*out = o;
	return 0;

fail:
	offload_give_back(cls);
	if (o->efd >= 0)
		close(o->efd);
	free(o);
	return err;
}

void
offload_cancel(struct offload *o)
{
	if (!o)
		return;
	if (o->owner)
		*o->owner = NULL;
	o->owner = NULL;
	ev_io_stop(o->loop, &o->io);
	offload_release(o);
}
