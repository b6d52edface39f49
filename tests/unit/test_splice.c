// SPDX-License-Identifier: MIT
/*
 * The splicer (core/splice.h) on real socketpairs: 1 MiB each way at once arrives intact
 * through a small reader, a half close travels (the other direction goes on), both EOFs end the
 * pair and close its descriptors, an error on one side ends it, bytes already read go first,
 * and the bound refuses a pair beyond max (closing both).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ev.h"
#include "core/splice.h"

/* a[0] ours, a[1] the splicer's; the same for b. */
static void
pairs(int a[2], int b[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	fcntl(a[0], F_SETFL, O_NONBLOCK);
	fcntl(b[0], F_SETFL, O_NONBLOCK);
}

static uint8_t
pattern(size_t i, unsigned seed)
{
	return (uint8_t)(i * 31 + seed + (i >> 11));
}

struct side {
	int fd;
	size_t sent, got, total;
	unsigned seed_out, seed_in;
	bool eof, shut;
};

/* Writes and reads what it can; checks every byte read. */
static void
side_step(struct side *s)
{
	uint8_t buf[8192];
	ssize_t n;

	if (s->sent < s->total) {
		size_t k = s->total - s->sent < sizeof(buf) ? s->total - s->sent : sizeof(buf);

		for (size_t i = 0; i < k; i++)
			buf[i] = pattern(s->sent + i, s->seed_out);
		n = write(s->fd, buf, k);
		if (n > 0)
			s->sent += (size_t)n;
	} else if (!s->shut) {
		shutdown(s->fd, SHUT_WR);
		s->shut = true;
	}
	n = read(s->fd, buf, 3000); /* a reader smaller than the buffers */
	if (n == 0)
		s->eof = true;
	for (ssize_t i = 0; i < n; i++)
		assert_int_equal(buf[i], pattern(s->got + (size_t)i, s->seed_in));
	if (n > 0)
		s->got += (size_t)n;
}

static void
test_both_ways_and_half_close(void **state)
{
	struct ev_loop *loop;
	struct splicer *s;
	int a[2], b[2];
	struct side x = { .total = 1 << 20, .seed_out = 1, .seed_in = 2 };
	struct side y = { .total = 1 << 20, .seed_out = 2, .seed_in = 1 };

	(void)state;
	assert_int_equal(ev_loop_new(&loop), 0);
	assert_int_equal(splicer_new(&s, loop, 4), 0);
	pairs(a, b);
	x.fd = a[0];
	y.fd = b[0];
	assert_int_equal(splicer_add(s, a[1], b[1]), 0);
	assert_int_equal(splicer_pairs(s), 1);
	for (int turn = 0; turn < 100000 && !(x.eof && y.eof); turn++) {
		side_step(&x);
		side_step(&y);
		ev_run_once(loop, 0);
	}
	assert_true(x.eof && y.eof);
	assert_int_equal(x.got, 1 << 20);
	assert_int_equal(y.got, 1 << 20);
	/* Both EOFs passed on: the pair ended. */
	for (int turn = 0; turn < 100 && splicer_pairs(s); turn++)
		ev_run_once(loop, 0);
	assert_int_equal(splicer_pairs(s), 0);
	assert_int_equal(splicer_stats(s)->bytes_ab, 1 << 20);
	assert_int_equal(splicer_stats(s)->bytes_ba, 1 << 20);
	assert_int_equal(fcntl(a[1], F_GETFD), -1); /* closed */
	close(a[0]);
	close(b[0]);
	splicer_free(s);
	ev_loop_free(loop);
}

static void
test_one_side_half_closed_other_goes_on(void **state)
{
	struct ev_loop *loop;
	struct splicer *s;
	int a[2], b[2];
	char buf[16];
	ssize_t n = -1;

	(void)state;
	assert_int_equal(ev_loop_new(&loop), 0);
	assert_int_equal(splicer_new(&s, loop, 4), 0);
	pairs(a, b);
	assert_int_equal(splicer_add(s, a[1], b[1]), 0);
	shutdown(a[0], SHUT_WR); /* the client is done asking */
	for (int turn = 0; turn < 100 && n != 0; turn++) {
		ev_run_once(loop, 0);
		n = read(b[0], buf, sizeof(buf));
	}
	assert_int_equal(n, 0); /* the target saw EOF */
	assert_int_equal(write(b[0], "answer", 6), 6);
	n = -1;
	for (int turn = 0; turn < 100 && n <= 0; turn++) {
		ev_run_once(loop, 0);
		n = read(a[0], buf, sizeof(buf));
	}
	assert_int_equal(n, 6); /* and its answer still came back */
	assert_memory_equal(buf, "answer", 6);
	assert_int_equal(splicer_pairs(s), 1);
	close(b[0]); /* EOF the other way: the pair ends */
	for (int turn = 0; turn < 100 && splicer_pairs(s); turn++)
		ev_run_once(loop, 0);
	assert_int_equal(splicer_pairs(s), 0);
	close(a[0]);
	splicer_free(s);
	ev_loop_free(loop);
}

static void
test_error_ends_the_pair(void **state)
{
	struct ev_loop *loop;
	struct splicer *s;
	int a[2], b[2];

	(void)state;
	assert_int_equal(ev_loop_new(&loop), 0);
	assert_int_equal(splicer_new(&s, loop, 4), 0);
	pairs(a, b);
	assert_int_equal(splicer_add(s, a[1], b[1]), 0);
	close(b[0]); /* the target is gone: writes to it fail */
	assert_int_equal(write(a[0], "data", 4), 4);
	for (int turn = 0; turn < 100 && splicer_pairs(s); turn++)
		ev_run_once(loop, 0);
	assert_int_equal(splicer_pairs(s), 0);
	close(a[0]);
	splicer_free(s);
	ev_loop_free(loop);
}

static void
test_bytes_already_read_go_first(void **state)
{
	struct ev_loop *loop;
	struct splicer *s;
	int a[2], b[2];
	char buf[64];
	ssize_t n;
	static uint8_t big[SPLICE_BUF + 1];

	(void)state;
	assert_int_equal(ev_loop_new(&loop), 0);
	assert_int_equal(splicer_new(&s, loop, 4), 0);
	pairs(a, b);
	/* A proxy's case: the reply to the client, the client's early bytes to the target. */
	assert_int_equal(splicer_add_with(s, a[1], b[1], (const uint8_t *)"early", 5,
					  (const uint8_t *)"reply", 5),
			 0);
	assert_int_equal(write(b[0], "+data", 5), 5);
	for (int turn = 0; turn < 10; turn++)
		ev_run_once(loop, 0);
	n = read(a[0], buf, sizeof(buf));
	assert_int_equal(n, 10);
	assert_memory_equal(buf, "reply+data", 10);
	n = read(b[0], buf, sizeof(buf));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "early", 5);
	close(a[0]);
	close(b[0]);
	pairs(a, b);
	assert_int_equal(splicer_add_with(s, a[1], b[1], big, sizeof(big), NULL, 0), -EINVAL);
	assert_int_equal(fcntl(a[1], F_GETFD), -1);
	close(a[0]);
	close(b[0]);
	splicer_free(s);
	ev_loop_free(loop);
}

static void
test_bound_and_free(void **state)
{
	struct ev_loop *loop;
	struct splicer *s;
	int a[2], b[2], c[2], d[2];

	(void)state;
	assert_int_equal(ev_loop_new(&loop), 0);
	assert_int_equal(splicer_new(&s, loop, 1), 0);
	pairs(a, b);
	pairs(c, d);
	assert_int_equal(splicer_add(s, a[1], b[1]), 0);
	assert_int_equal(splicer_add(s, c[1], d[1]), -EMFILE);
	assert_int_equal(fcntl(c[1], F_GETFD), -1);
	assert_int_equal(fcntl(d[1], F_GETFD), -1);
	assert_int_equal(splicer_stats(s)->refused, 1);
	splicer_free(s); /* closes the pair in flight */
	assert_int_equal(fcntl(a[1], F_GETFD), -1);
	close(a[0]);
	close(b[0]);
	close(c[0]);
	close(d[0]);
	ev_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_ways_and_half_close),
		cmocka_unit_test(test_one_side_half_closed_other_goes_on),
		cmocka_unit_test(test_error_ends_the_pair),
		cmocka_unit_test(test_bytes_already_read_go_first),
		cmocka_unit_test(test_bound_and_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
