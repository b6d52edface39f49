// SPDX-License-Identifier: MIT
/*
 * The records kept for other domains' servers (daemon/server/outbox.c) in a real SQLite file:
 * kept per domain, oldest first, the same key kept once (the newer, with a new id), deleted up
 * to an acknowledged id and no further, kept across a reopen (what a restart, or kill -9, finds),
 * bounded per domain, and dropped past their age.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/log.h"
#include "pki.h"
#include "server/outbox.h"

enum { NOW = 1800000000 };

struct seen {
	size_t n, stop_after;
	int64_t ids[8];
	char bodies[8][32];
};

static int
collect(const struct outbox_entry *e, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8) {
		s->ids[s->n] = e->id;
		assert_int_equal(e->type, 7);
		snprintf(s->bodies[s->n], sizeof(s->bodies[0]), "%.*s", (int)e->len,
			 (const char *)e->body);
	}
	s->n++;
	return s->stop_after && s->n == s->stop_after;
}

static int64_t
add(struct outbox *o, const char *domain, const char *key, const char *body, int64_t now)
{
	return outbox_add(o, domain, key, 7, (const uint8_t *)body, strlen(body), now);
}

static int
count_domain(const char *domain, void *arg)
{
	char *list = arg;

	strcat(list, domain);
	strcat(list, " ");
	return 0;
}

static void
test_outbox_keep_ack_reopen(void **state)
{
	struct test_pki pki;
	struct outbox *o;
	struct seen s = { 0 };
	int64_t a1, a2, b1, a1again;
	char list[128] = "";

	(void)state;
	log_set_quiet(true);
	test_pki_setup(&pki, "outbox");
	assert_int_equal(outbox_open(&o, test_pki_path(&pki, "server.db")), 0);
	assert_int_equal(outbox_count(o, NULL), 0);
	assert_true((a1 = add(o, "a.example.com", "bob\nalice\n", "r1", NOW)) > 0);
	assert_true((a2 = add(o, "a.example.com", "bob\ncarol\nssh", "r2", NOW)) > a1);
	assert_true((b1 = add(o, "c.example.com", "bob\ndave\n", "r3", NOW)) > a2);
	assert_int_equal(outbox_count(o, "a.example.com"), 2);
	assert_int_equal(outbox_count(o, NULL), 3);
	assert_int_equal(outbox_domains(o, count_domain, list), 0);
	assert_string_equal(list, "a.example.com c.example.com ");

	/* The same revocation again: kept once, the newer body, a new id (after the others). */
	assert_true((a1again = add(o, "a.example.com", "bob\nalice\n", "r1b", NOW + 1)) > b1);
	assert_int_equal(outbox_count(o, "a.example.com"), 2);
	assert_int_equal(outbox_each(o, "a.example.com", NOW + 1, collect, &s), a1again);
	assert_int_equal(s.n, 2);
	assert_true(s.ids[0] == a2 && s.ids[1] == a1again); /* oldest first */
	assert_string_equal(s.bodies[0], "r2");
	assert_string_equal(s.bodies[1], "r1b");
	/* fn stops it early: the highest id given is the last one it saw. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(outbox_each(o, "a.example.com", NOW + 1, collect, &s), a2);
	assert_int_equal(s.n, 1);

	/* An acknowledgement up to a2 deletes a2 only: a1again came later, it stays. */
	assert_int_equal(outbox_done(o, "a.example.com", a2), 1);
	assert_int_equal(outbox_count(o, "a.example.com"), 1);
	assert_int_equal(outbox_done(o, "a.example.com", a2), 0);
	/* Another domain's ids are not touched by this one's acknowledgement. */
	assert_int_equal(outbox_done(o, "a.example.com", b1), 0);
	assert_int_equal(outbox_count(o, "c.example.com"), 1);

	/* What a restart finds. */
	outbox_close(o);
	assert_int_equal(outbox_open(&o, test_pki_path(&pki, "server.db")), 0);
	assert_int_equal(outbox_count(o, NULL), 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(outbox_each(o, "a.example.com", NOW + 2, collect, &s), a1again);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.bodies[0], "r1b");
	/* New ids keep growing past the deleted ones (no id is given twice). */
	assert_true(add(o, "a.example.com", "x\ny\n", "r4", NOW + 2) > a1again);

	/* Past OUTBOX_TTL_S they are dropped when the domain is next listed. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(outbox_each(o, "c.example.com", NOW + OUTBOX_TTL_S + 1, collect, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(outbox_count(o, "c.example.com"), 0);
	assert_int_equal(outbox_done(o, "a.example.com", INT64_MAX), 2);
	assert_int_equal(outbox_count(o, NULL), 0);
	outbox_close(o);
	test_pki_teardown(&pki);
}

static void
test_outbox_bounds(void **state)
{
	struct test_pki pki;
	struct outbox *o;
	char key[64], big[OUTBOX_BODY_MAX + 1];

	(void)state;
	log_set_quiet(true);
	test_pki_setup(&pki, "outbox-bounds");
	assert_int_equal(outbox_open(&o, test_pki_path(&pki, "server.db")), 0);
	memset(big, 'x', sizeof(big));
	assert_int_equal(outbox_add(o, "a.example.com", "k", 7, (uint8_t *)big, sizeof(big), NOW),
			 -EINVAL);
	assert_int_equal(add(o, "", "k", "r", NOW), -EINVAL);
	for (int i = 0; i < OUTBOX_PER_DOMAIN; i++) {
		snprintf(key, sizeof(key), "u%d\nbob\n", i);
		assert_true(add(o, "a.example.com", key, "r", NOW) > 0);
	}
	/* Full for this domain: refused; the same key is still replaced; others still fit. */
	assert_int_equal(add(o, "a.example.com", "one\nmore\n", "r", NOW), -ENOSPC);
	assert_true(add(o, "a.example.com", "u0\nbob\n", "r0", NOW) > 0);
	assert_true(add(o, "c.example.com", "one\nmore\n", "r", NOW) > 0);
	assert_int_equal(outbox_count(o, "a.example.com"), OUTBOX_PER_DOMAIN);
	outbox_close(o);
	test_pki_teardown(&pki);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outbox_keep_ack_reopen),
		cmocka_unit_test(test_outbox_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
