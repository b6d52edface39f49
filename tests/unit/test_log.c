// SPDX-License-Identifier: MIT
/*
 * Logging: every line is one line of printable ASCII whatever the message carries (a
 * certificate name with a newline and an escape sequence cannot forge a line, issue 9 item 8),
 * checked on log_escape() against a naive reference and on what log_warnx() really writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

/* The reference: the same escaping, written the obvious way into a large buffer. */
static void
ref_escape(const unsigned char *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\\')
			out += sprintf(out, "\\\\");
		else if (in[i] >= 0x20 && in[i] < 0x7f)
			*out++ = (char)in[i];
		else
			out += sprintf(out, "\\x%02x", in[i]);
	}
	*out = '\0';
}

static void
test_log_escape_examples(void **state)
{
	char out[128];

	(void)state;
	assert_int_equal(log_escape("plain text 1.2", out, sizeof(out)), 14);
	assert_string_equal(out, "plain text 1.2");
	log_escape("a\nb\x1b[31mc\\d\x7f\xc3\xa9", out, sizeof(out));
	assert_string_equal(out, "a\\x0ab\\x1b[31mc\\\\d\\x7f\\xc3\\xa9");
	/* Only whole escapes: "ab\x0a" does not fit 6 bytes with the NUL, so it stops at "ab". */
	assert_int_equal(log_escape("ab\ncd", out, 6), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(log_escape("abc", out, 1), 0);
	assert_string_equal(out, "");
}

static void
test_log_escape_random(void **state)
{
	unsigned char in[64];
	char ref[64 * 4 + 1], out[64 * 4 + 1];

	(void)state;
	srand(9);
	for (int n = 0; n < 5000; n++) {
		size_t len = (size_t)rand() % sizeof(in);

		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)(rand() % 255 + 1); /* no NUL: C strings */
		in[len] = '\0';
		ref_escape(in, len, ref);
		assert_int_equal(log_escape((const char *)in, out, sizeof(out)), strlen(ref));
		assert_string_equal(out, ref);
		for (size_t i = 0; out[i]; i++)
			assert_true(out[i] >= 0x20 && out[i] < 0x7f);
	}
}

/* What log_warnx() writes for a forged certificate name: one line, the forgery visible. */
static void
test_log_warnx_one_line(void **state)
{
	static const char cn[] = "mallory\n00:00:00.000 vertexd: peer bob@b.example.com: session "
				 "up\x1b]0;pwned\x07";
	char path[] = "/tmp/test_log.XXXXXX", buf[1024];
	int fd = mkstemp(path), saved = dup(2);
	size_t n, lines = 0;
	FILE *f;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	log_init("vertexd");
	log_warnx("handshake with %s failed: %s", cn, "certificate expired");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fdopen(fd, "r");
	assert_non_null(f);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	unlink(path);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		lines += buf[i] == '\n';
		assert_true(buf[i] == '\n' || (buf[i] >= 0x20 && buf[i] < 0x7f));
	}
	assert_int_equal(lines, 1);
	assert_non_null(strstr(buf, "mallory\\x0a00:00:00.000 vertexd: peer"));
	assert_non_null(strstr(buf, "up\\x1b]0;pwned\\x07 failed: certificate expired\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_escape_examples),
		cmocka_unit_test(test_log_escape_random),
		cmocka_unit_test(test_log_warnx_one_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
