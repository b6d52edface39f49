// SPDX-License-Identifier: MIT
/*
 * Blocking work off the loop (core/offload.h): done runs on the loop's thread after work, with
 * what work wrote; a cancelled job never calls done and frees its argument exactly once, after
 * the thread is done with it; jobs beyond OFFLOAD_MAX_THREADS are refused, not queued, and
 * lookups beyond their share (OFFLOAD_LOOKUP_MAX) too, while other jobs still start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/offload.h"

struct job {
	struct ev_loop *loop;
	atomic_bool release; /* work waits for this */
	pthread_t worker, finisher;
	int value;
	int done_calls;
	atomic_int *freed;
};

static void
job_work(void *arg)
{
	struct job *j = arg;

	/* Bounded: at most 5 s, so a broken test cannot hang. */
	for (int i = 0; i < 5000 && !atomic_load(&j->release); i++)
		usleep(1000);
	j->worker = pthread_self();
	j->value = 42;
}

static void
job_done(void *arg)
{
	struct job *j = arg;

	j->finisher = pthread_self();
	j->done_calls++;
	ev_loop_break(j->loop);
}

static void
job_free(void *arg)
{
	struct job *j = arg;

	atomic_fetch_add(j->freed, 1);
}

static void
on_timeout(struct ev_timer *t)
{
	(void)t;
	fail_msg("the job never finished");
}

static void
test_offload_runs_then_done_on_loop(void **state)
{
	struct ev_loop *loop;
	struct ev_timer guard = { 0 };
	atomic_int freed = 0;
	struct job j = { .freed = &freed };
	struct offload *o = NULL;

	(void)state;
	assert_int_equal(ev_loop_new(&loop), 0);
	j.loop = loop;
	atomic_store(&j.release, true);
	assert_int_equal(offload_start(&o, loop, job_work, job_done, job_free, &j), 0);
	assert_non_null(o);
	assert_int_equal(j.done_calls, 0); /* never before offload_start returns */
	ev_timer_start(loop, &guard, 5000, on_timeout);
	assert_int_equal(ev_run(loop), 0);
	ev_timer_stop(loop, &guard);
	assert_null(o); /* cleared before done */
	assert_int_equal(j.done_calls, 1);
	assert_int_equal(j.value, 42);
	assert_true(pthread_equal(j.finisher, pthread_self()));
	assert_false(pthread_equal(j.worker, pthread_self()));
	/* Both holders let go: the argument was freed exactly once. */
	for (int i = 0; i < 1000 && atomic_load(&freed) == 0; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&freed), 1);
	ev_loop_free(loop);
}

/* Whether SIGTERM is blocked on the thread that runs the job. */
static void
mask_work(void *arg)
{
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	*(int *)arg = sigismember(&cur, SIGTERM);
}

static void
mask_done(void *arg)
{
	(void)arg;
}

static void
mask_free(void *arg)
{
	(void)arg;
}

/* Started while the caller takes SIGTERM (before a loop blocks it): the thread does not. */
static void
test_offload_thread_blocks_signals(void **state)
{
	struct ev_loop *loop;
	struct offload *o = NULL;
	int blocked = -1;
	sigset_t none, old;

	(void)state;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, &old);
	assert_int_equal(ev_loop_new(&loop), 0);
	assert_int_equal(offload_start(&o, loop, mask_work, mask_done, mask_free, &blocked), 0);
	for (int i = 0; i < 5000 && offload_running(); i++)
		usleep(1000);
	assert_int_equal(blocked, 1);
	assert_int_equal(ev_run_once(loop, 100), 0);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	ev_loop_free(loop);
}

static void
test_offload_cancel(void **state)
{
	struct ev_loop *loop;
	atomic_int freed = 0;
	struct job *j = calloc(1, sizeof(*j));
	struct offload *o = NULL;

	(void)state;
	assert_non_null(j);
	assert_int_equal(ev_loop_new(&loop), 0);
	j->loop = loop;
	j->freed = &freed;
	assert_int_equal(offload_start(&o, loop, job_work, job_done, job_free, j), 0);
	offload_cancel(o);
	assert_null(o);
	assert_int_equal(atomic_load(&freed), 0); /* the thread still holds it */
	atomic_store(&j->release, true);
	for (int i = 0; i < 5000 && atomic_load(&freed) == 0; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&freed), 1);
	assert_int_equal(j->done_calls, 0);
	assert_int_equal(j->value, 42); /* the work itself ran to its end */
	free(j);
	ev_loop_free(loop);
}

static void
test_offload_bounded(void **state)
{
	struct ev_loop *loop;
	atomic_int freed = 0;
	static struct job jobs[OFFLOAD_MAX_THREADS + 1];
	struct offload *o[OFFLOAD_MAX_THREADS + 1] = { 0 };

	(void)state;
	assert_int_equal(ev_loop_new(&loop), 0);
	for (int i = 0; i < OFFLOAD_MAX_THREADS; i++) {
		jobs[i] = (struct job){ .loop = loop, .freed = &freed };
		assert_int_equal(offload_start(&o[i], loop, job_work, job_done, job_free, &jobs[i]),
				 0);
	}
	assert_int_equal(offload_running(), OFFLOAD_MAX_THREADS);
	jobs[OFFLOAD_MAX_THREADS] = (struct job){ .loop = loop, .freed = &freed };
	assert_int_equal(offload_start(&o[OFFLOAD_MAX_THREADS], loop, job_work, job_done, job_free,
				       &jobs[OFFLOAD_MAX_THREADS]),
			 -EAGAIN);
	assert_null(o[OFFLOAD_MAX_THREADS]);
	for (int i = 0; i < OFFLOAD_MAX_THREADS; i++) {
		offload_cancel(o[i]);
		atomic_store(&jobs[i].release, true);
	}
	for (int i = 0; i < 5000 && atomic_load(&freed) < OFFLOAD_MAX_THREADS; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&freed), OFFLOAD_MAX_THREADS);
	for (int i = 0; i < 1000 && offload_running(); i++)
		usleep(1000);
	assert_int_equal(offload_running(), 0);
	ev_loop_free(loop);
}

/* Lookups take at most their share: the other jobs (password checks) still find threads. */
static void
test_offload_start_in_share(void **state)
{
	struct ev_loop *loop;
	atomic_int freed = 0;
	static struct job jobs[OFFLOAD_LOOKUP_MAX + 2];
	struct offload *o[OFFLOAD_LOOKUP_MAX + 2] = { 0 };
	int n = OFFLOAD_LOOKUP_MAX;

	(void)state;
	assert_int_equal(ev_loop_new(&loop), 0);
	for (int i = 0; i < n + 2; i++)
		jobs[i] = (struct job){ .loop = loop, .freed = &freed };
	for (int i = 0; i < n; i++)
		assert_int_equal(offload_start_in(OFFLOAD_LOOKUP, &o[i], loop, job_work, job_done,
						  job_free, &jobs[i]),
				 0);
	assert_int_equal(offload_running_in(OFFLOAD_LOOKUP), n);
	assert_int_equal(
	    offload_start_in(OFFLOAD_LOOKUP, &o[n], loop, job_work, job_done, job_free, &jobs[n]),
	    -EAGAIN);
	assert_null(o[n]);
	assert_int_equal(offload_start(&o[n + 1], loop, job_work, job_done, job_free, &jobs[n + 1]),
			 0);
	assert_int_equal(offload_running(), n + 1);
	assert_int_equal(
	    offload_start_in(OFFLOAD_NCLASSES, &o[n], loop, job_work, job_done, job_free, &jobs[n]),
	    -EINVAL);
	for (int i = 0; i < n + 2; i++) {
		offload_cancel(o[i]);
		atomic_store(&jobs[i].release, true);
	}
	for (int i = 0; i < 5000 && atomic_load(&freed) < n + 1; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&freed), n + 1);
	for (int i = 0; i < 1000 && offload_running(); i++)
		usleep(1000);
	assert_int_equal(offload_running(), 0);
	assert_int_equal(offload_running_in(OFFLOAD_LOOKUP), 0);
	ev_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offload_runs_then_done_on_loop),
		cmocka_unit_test(test_offload_thread_blocks_signals),
		cmocka_unit_test(test_offload_cancel),
		cmocka_unit_test(test_offload_bounded),
		cmocka_unit_test(test_offload_start_in_share),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
