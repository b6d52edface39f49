// SPDX-License-Identifier: MIT
/*
 * The forward table (forward/forward.h): parsing (loopback only, a purpose required, clear
 * reasons), print -> parse round trips, no two forwards on one address, the bound, removal.
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

#include "forward/forward.h"

static void
test_parse_good(void **state)
{
	struct forward f, g;
	const char *why = NULL;
	char *out = NULL, l[64], t[128];
	size_t len = 0;
	FILE *m;

	(void)state;
	assert_int_equal(forward_parse("127.0.0.1:2222", "Bob@B.Example.com/ssh", &f, &why), 0);
	assert_string_equal(f.target.user, "bob");
	assert_string_equal(f.target.domain, "b.example.com");
	assert_string_equal(f.target.purpose, "ssh");
	m = open_memstream(&out, &len);
	forward_print(&f, m);
	fclose(m);
	assert_string_equal(out, "127.0.0.1:2222 bob@b.example.com/ssh");
	assert_int_equal(sscanf(out, "%63s %127s", l, t), 2);
	assert_int_equal(forward_parse(l, t, &g, &why), 0);
	assert_true(forward_equal(&f, &g));
	free(out);
	assert_int_equal(forward_parse("[::1]:8080", "carol@c.example/web", &f, &why), 0);
	assert_int_equal(forward_parse("127.9.9.9:1", "carol@c.example/web", &f, &why), 0);
}

static void
test_parse_bad(void **state)
{
	struct forward f;
	const char *why = NULL;

	(void)state;
	assert_int_equal(forward_parse("0.0.0.0:2222", "bob@b.example.com/ssh", &f, &why), -EINVAL);
	assert_non_null(strstr(why, "loopback"));
	assert_int_equal(forward_parse("198.18.0.1:2222", "bob@b.example.com/ssh", &f, &why),
			 -EINVAL);
	assert_int_equal(forward_parse("[::]:2222", "bob@b.example.com/ssh", &f, &why), -EINVAL);
	assert_int_equal(forward_parse("127.0.0.1", "bob@b.example.com/ssh", &f, &why), -EINVAL);
	assert_int_equal(forward_parse("127.0.0.1:0", "bob@b.example.com/ssh", &f, &why), -EINVAL);
	assert_int_equal(forward_parse("localhost:22", "bob@b.example.com/ssh", &f, &why), -EINVAL);
	why = NULL;
	assert_int_equal(forward_parse("127.0.0.1:2222", "bob@b.example.com", &f, &why), -EINVAL);
	assert_non_null(why); /* no purpose */
	assert_int_equal(forward_parse("127.0.0.1:2222", "bob/ssh", &f, &why), -EINVAL);
	assert_int_equal(forward_parse("127.0.0.1:2222", "", &f, &why), -EINVAL);
}

static void
test_table(void **state)
{
	struct forward_table *t = calloc(1, sizeof(*t));
	struct forward f;
	const char *why;
	char addr[32];

	(void)state;
	assert_non_null(t);
	assert_int_equal(forward_parse("127.0.0.1:2222", "bob@b.example.com/ssh", &f, &why), 0);
	assert_int_equal(forward_table_add(t, &f), 0);
	assert_int_equal(forward_table_add(t, &f), -EEXIST);
	assert_non_null(forward_table_find(t, &f.listen));
	for (int i = 1; i < FORWARDS_MAX; i++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", 3000 + i);
		assert_int_equal(forward_parse(addr, "bob@b.example.com/web", &f, &why), 0);
		assert_int_equal(forward_table_add(t, &f), 0);
	}
	assert_int_equal(forward_parse("127.0.0.1:9999", "bob@b.example.com/web", &f, &why), 0);
	assert_int_equal(forward_table_add(t, &f), -ENOSPC);
	assert_int_equal(forward_table_remove(t, &f.listen), -ENOENT);
	assert_int_equal(forward_parse("127.0.0.1:2222", "bob@b.example.com/ssh", &f, &why), 0);
	assert_int_equal(forward_table_remove(t, &f.listen), 0);
	assert_null(forward_table_find(t, &f.listen));
	assert_int_equal(t->n, FORWARDS_MAX - 1);
	assert_int_equal(forward_parse("127.0.0.1:3005", "bob@b.example.com/web", &f, &why), 0);
	assert_non_null(forward_table_find(t, &f.listen)); /* the others stay */
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
