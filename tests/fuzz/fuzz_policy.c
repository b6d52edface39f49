// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the firewall's rule parser (policy/policy.h): the input is split into
 * words at blanks (one `firewall` line, the keyword left out). A rule either fails with a reason
 * and leaves the policy unchanged, or parses; a parsed policy prints to lines that parse back to
 * an equal policy.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_WORDS = 8 };

static size_t
fuzz_policy_split(char *s, char **argv)
{
	size_t n = 0;

	for (char *w = strtok(s, " \t\n"); w && n < FUZZ_WORDS; w = strtok(NULL, " \t\n"))
		argv[n++] = w;
	return n;
}

/* Parses every line of text (each "firewall ...") into pc; aborts on a line that fails. */
static void
fuzz_policy_reparse(char *text, struct policy_config *pc)
{
	char *save = NULL, *argv[FUZZ_WORDS];
	const char *why;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = fuzz_policy_split(line, argv);

		if (n < 2 || strcmp(argv[0], "firewall") ||
		    policy_config_parse(pc, argv + 1, n - 1, &why))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy_config a, b;
	char buf[512], *argv[FUZZ_WORDS], *out = NULL;
	const char *why = NULL;
	size_t n, len = 0;
	FILE *f;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	memset(&a, 0, sizeof(a));
	n = fuzz_policy_split(buf, argv);
	if (policy_config_parse(&a, argv, n, &why)) {
		if (!why || a.nrules || a.icmp_echo_off)
			abort();
		return 0;
	}
	f = open_memstream(&out, &len);
	if (!f)
		return 0;
	policy_config_print(&a, f);
	fclose(f);
	memset(&b, 0, sizeof(b));
	fuzz_policy_reparse(out, &b);
	if (!policy_config_equal(&a, &b))
		abort();
	free(out);
	return 0;
}
