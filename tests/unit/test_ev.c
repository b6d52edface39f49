// SPDX-License-Identifier: MIT
/*
 * The event loop: the timer heap against a naive reference on seeded random operations, I/O
 * readiness, stopping a watcher whose event is pending in the same turn, and signals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/ev.h"

enum { N_TIMERS = 200, N_OPS = 5000 };

struct ttimer {
	struct ev_timer t;
	int fired;
	bool armed_ref;
	uint64_t when_ref;
};

static struct ev_loop *fire_loop;
static int fire_order_ok;
static uint64_t last_when;

static void
on_fire(struct ev_timer *t)
{
	struct ttimer *tt = container_of(t, struct ttimer, t);

	tt->fired++;
	tt->armed_ref = false;
	if (t->when_ms < last_when)
		fire_order_ok = 0;
	last_when = t->when_ms;
	assert_false(ev_timer_is_armed(t));
}

static void
on_break(struct ev_timer *t)
{
	(void)t;
	ev_loop_break(fire_loop);
}

/* Random starts/stops, then every armed timer must fire exactly once, in order. */
static void
test_ev_timer_heap_matches_reference(void **state)
{
	static struct ttimer timers[N_TIMERS];
	bool expect[N_TIMERS];
	struct ev_timer stop = { 0 };
	struct ev_loop *loop;

	(void)state;
	srandom(12345);
	assert_int_equal(ev_loop_new(&loop), 0);
	fire_loop = loop;
	for (int op = 0; op < N_OPS; op++) {
		struct ttimer *tt = &timers[random() % N_TIMERS];

		if (random() % 3) {
			uint64_t after = (uint64_t)(random() % 50);

			assert_int_equal(ev_timer_start(loop, &tt->t, after, on_fire), 0);
			tt->armed_ref = true;
		} else {
			ev_timer_stop(loop, &tt->t);
			tt->armed_ref = false;
		}
		assert_int_equal(ev_timer_is_armed(&tt->t), tt->armed_ref);
	}
	for (int i = 0; i < N_TIMERS; i++)
		expect[i] = timers[i].armed_ref;
	fire_order_ok = 1;
	last_when = 0;
	ev_timer_start(loop, &stop, 80, on_break);
	assert_int_equal(ev_run(loop), 0);
	assert_true(fire_order_ok);
	for (int i = 0; i < N_TIMERS; i++) {
		assert_false(ev_timer_is_armed(&timers[i].t));
		assert_int_equal(timers[i].fired, expect[i] ? 1 : 0);
	}
	ev_loop_free(loop);
}

struct pipe_watch {
	struct ev_io io;
	struct ev_io *other;
	int calls;
};

static void
on_ready_stop_other(struct ev_io *io, uint32_t revents)
{
	struct pipe_watch *w = container_of(io, struct pipe_watch, io);
	char c;

	(void)revents;
	w->calls++;
	if (read(io->fd, &c, 1) != 1)
		fail();
	if (w->other)
		ev_io_stop(fire_loop, w->other);
	ev_io_stop(fire_loop, io);
}

/* Two readable fds in one turn; the first callback stops the second's watcher: it must not run. */
static void
test_ev_io_stop_cancels_pending_event(void **state)
{
	struct pipe_watch a = { 0 }, b = { 0 };
	struct ev_timer stop = { 0 };
	int p1[2], p2[2];
	struct ev_loop *loop;

	(void)state;
	assert_int_equal(ev_loop_new(&loop), 0);
	fire_loop = loop;
	assert_int_equal(pipe(p1), 0);
	assert_int_equal(pipe(p2), 0);
	assert_int_equal(write(p1[1], "x", 1), 1);
	assert_int_equal(write(p2[1], "y", 1), 1);
	a.other = &b.io;
	b.other = &a.io;
	assert_int_equal(ev_io_start(loop, &a.io, p1[0], EV_READ, on_ready_stop_other), 0);
	assert_int_equal(ev_io_start(loop, &b.io, p2[0], EV_READ, on_ready_stop_other), 0);
	ev_timer_start(loop, &stop, 20, on_break);
	assert_int_equal(ev_run(loop), 0);
	assert_int_equal(a.calls + b.calls, 1);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	ev_loop_free(loop);
}

static int signals_seen;

static void
on_signal(int signo, void *arg)
{
	(void)arg;
	assert_int_equal(signo, SIGUSR1);
	signals_seen++;
	ev_loop_break(fire_loop);
}

static void
test_ev_signal_add_delivers_through_loop(void **state)
{
	struct ev_loop *loop;

	(void)state;
	assert_int_equal(ev_loop_new(&loop), 0);
	fire_loop = loop;
	assert_int_equal(ev_signal_add(loop, SIGUSR1, on_signal, NULL), 0);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(ev_run(loop), 0);
	assert_int_equal(signals_seen, 1);
	ev_loop_free(loop);
}

static uint64_t fake_now;

static uint64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static int fired_at[4];

static void
on_fake_fire(struct ev_timer *t)
{
	struct ttimer *tt = container_of(t, struct ttimer, t);

	fired_at[tt->fired++ % 4] = (int)fake_now;
}

/* With a clock of the test's own, timers fire when it says so, not when real time passes. */
static void
test_ev_loop_set_clock_drives_timers(void **state)
{
	struct ev_loop *loop;
	struct ttimer a = { 0 }, b = { 0 };

	(void)state;
	fake_now = 1000000;
	assert_int_equal(ev_loop_new(&loop), 0);
	ev_loop_set_clock(loop, fake_clock, NULL);
	assert_true(ev_now_ms(loop) == 1000000);
	assert_int_equal(ev_timer_start(loop, &a.t, 5000, on_fake_fire), 0);
	assert_int_equal(ev_timer_start(loop, &b.t, 120000, on_fake_fire), 0);
	for (int step = 0; step < 49; step++) {
		fake_now += 100;
		assert_int_equal(ev_run_once(loop, 0), 0);
	}
	assert_int_equal(a.fired, 0); /* 4.9 s of fake time */
	fake_now += 100;
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(a.fired, 1);
	assert_int_equal(fired_at[0], 1005000);
	fake_now += 115000;
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(b.fired, 1);
	assert_true(ev_now_ms(loop) == 1120000);
	ev_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ev_timer_heap_matches_reference),
		cmocka_unit_test(test_ev_io_stop_cancels_pending_event),
		cmocka_unit_test(test_ev_signal_add_delivers_through_loop),
		cmocka_unit_test(test_ev_loop_set_clock_drives_timers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
