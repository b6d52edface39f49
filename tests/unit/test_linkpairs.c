// SPDX-License-Identifier: MIT
/*
 * A peering link's pair handles (daemon/server/linkpairs.c), on a clock the test gives: a full
 * table refuses the next pair; handles idle for the timeout are freed (and only those, to the
 * millisecond) and taken by new pairs, so pairs beyond the bound work once idle ones expire;
 * the pairs still in use keep their handles and are found through the rebuilt table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/linkpairs.h"

enum { N = 1024, IDLE = 120000, T0 = 5000000 };

static void
name(char *buf, size_t len, const char *who, unsigned i)
{
	snprintf(buf, len, "%s%u@b.example.com", who, i);
}

static unsigned
add(struct link_pairs *p, const char *who, unsigned i, uint64_t now)
{
	char from[64];

	name(from, sizeof(from), who, i);
	return link_pairs_add(p, from, "alice@a.example.com", now);
}

static unsigned
find(struct link_pairs *p, const char *who, unsigned i, uint64_t now)
{
	char from[64];

	name(from, sizeof(from), who, i);
	return link_pairs_find(p, from, "alice@a.example.com", now);
}

static unsigned gone_count;
static unsigned char gone_seen[N + 1];

static void
on_gone(unsigned h, void *arg)
{
	assert_ptr_equal(arg, &gone_count);
	assert_true(h >= 1 && h <= N);
	gone_seen[h]++;
	gone_count++;
}

static void
test_linkpairs_expire_and_reuse(void **state)
{
	struct siphash_key key = { 1, 2 };
	struct link_pairs *p;
	unsigned h[N + 1], got;
	const char *from, *to;

	(void)state;
	assert_int_equal(link_pairs_new(&p, N, key), 0);
	for (unsigned i = 1; i <= N; i++) {
		h[i] = add(p, "old", i, T0);
		assert_int_equal(h[i], i);
	}
	assert_int_equal(link_pairs_count(p), N);
	/* Full: the next pair gets none (its frames stay on TLS), and nothing is idle yet. */
	assert_int_equal(add(p, "new", 1, T0 + 1), 0);
	assert_int_equal(link_pairs_expire(p, T0 + IDLE - 1, IDLE, on_gone, &gone_count), 0);
	/* The odd pairs carry frames on; the even ones fall silent. */
	for (unsigned i = 1; i <= N; i += 2)
		assert_int_equal(find(p, "old", i, T0 + IDLE / 2), h[i]);
	assert_int_equal(add(p, "new", 1, T0 + IDLE / 2), 0);
	/* One millisecond short of the timeout nothing goes; at it, exactly the even ones. */
	assert_int_equal(link_pairs_expire(p, T0 + IDLE - 1, IDLE, on_gone, &gone_count), 0);
	assert_int_equal(link_pairs_expire(p, T0 + IDLE, IDLE, on_gone, &gone_count), N / 2);
	assert_int_equal(gone_count, N / 2);
	for (unsigned i = 1; i <= N; i++) {
		assert_int_equal(gone_seen[i], i % 2 == 0);
		assert_int_equal(link_pairs_get(p, i, &from, &to), i % 2 == 1);
	}
	assert_int_equal(link_pairs_count(p), N / 2);
	/* The survivors keep their handles, found through the rebuilt table; the gone are gone. */
	for (unsigned i = 1; i <= N; i++)
		assert_int_equal(find(p, "old", i, T0 + IDLE), i % 2 ? h[i] : 0);
	/* Pairs beyond the bound now get the freed handles, N / 2 of them, then it is full. */
	for (unsigned i = 1; i <= N / 2; i++) {
		got = add(p, "new", i, T0 + IDLE);
		assert_true(got >= 1 && got <= N && got % 2 == 0);
		assert_true(link_pairs_get(p, got, &from, &to));
		assert_int_equal(find(p, "new", i, T0 + IDLE), got);
	}
	assert_int_equal(link_pairs_count(p), N);
	assert_int_equal(link_pairs_top(p), N);
	assert_int_equal(add(p, "new", N, T0 + IDLE), 0);
	/* A pair that has a handle is not given a second one. */
	assert_int_equal(add(p, "old", 1, T0 + IDLE), 0);
	/* Everything idle long enough goes, whatever its age. */
	gone_count = 0;
	memset(gone_seen, 0, sizeof(gone_seen));
	assert_int_equal(link_pairs_expire(p, T0 + 3 * IDLE, IDLE, on_gone, &gone_count), N);
	assert_int_equal(link_pairs_count(p), 0);
	assert_int_equal(find(p, "new", 1, T0 + 3 * IDLE), 0);
	assert_true(add(p, "newer", 1, T0 + 3 * IDLE) != 0);
	link_pairs_free(p);
}

static void
test_linkpairs_refusals(void **state)
{
	struct siphash_key key = { 3, 4 };
	struct link_pairs *p;
	char longest[CTL_STR_MAX + 2];
	const char *from, *to;

	(void)state;
	assert_int_equal(link_pairs_new(&p, 0, key), -EINVAL);
	assert_int_equal(link_pairs_new(&p, 65536, key), -EINVAL);
	assert_int_equal(link_pairs_new(&p, 2, key), 0);
	memset(longest, 'x', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_int_equal(link_pairs_add(p, longest, "a@b.c", 1), 0);
	assert_false(link_pairs_get(p, 0, &from, &to));
	assert_false(link_pairs_get(p, 1, &from, &to));
	assert_false(link_pairs_get(p, 3, &from, &to));
	assert_int_equal(link_pairs_add(p, "d@b.c", "a@b.c", 1), 1);
	assert_true(link_pairs_get(p, 1, &from, &to));
	assert_string_equal(from, "d@b.c");
	assert_string_equal(to, "a@b.c");
	/* Without a callback. */
	assert_int_equal(link_pairs_expire(p, 1 + IDLE, IDLE, NULL, NULL), 1);
	link_pairs_free(p);
	link_pairs_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linkpairs_expire_and_reuse),
		cmocka_unit_test(test_linkpairs_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
