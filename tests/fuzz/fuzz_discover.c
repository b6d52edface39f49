// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the SRV answer parser (control/discover.c). The input is a DNS answer as
 * it comes off the wire. Whatever parses must come out in order (priority up, weight down), with
 * printable, dot-separated host names that fit their buffer, and parsing again with room for
 * fewer results must give the same leading results.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/discover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_discover_check(const struct discover_result *out, int n)
{
	for (int i = 0; i < n; i++) {
		size_t len = strnlen(out[i].host, sizeof(out[i].host));

		if (len == 0 || len >= sizeof(out[i].host) || out[i].host[0] == '.' ||
		    out[i].host[len - 1] == '.' || strstr(out[i].host, ".."))
			abort();
		if (out[i].addr.ss_family != AF_UNSPEC)
			abort();
		if (i > 0 &&
		    (out[i - 1].priority > out[i].priority ||
		     (out[i - 1].priority == out[i].priority && out[i - 1].weight < out[i].weight)))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct discover_result out[DISCOVER_MAX], few[2];
	int n, m;

	n = discover_parse_srv(data, size, out, DISCOVER_MAX);
	if (n < 0)
		return 0;
	if (n > DISCOVER_MAX)
		abort();
	fuzz_discover_check(out, n);
	m = discover_parse_srv(data, size, few, 2);
	if (m != (n < 2 ? n : 2))
		abort();
	for (int i = 0; i < m; i++) {
		if (strcmp(few[i].host, out[i].host) != 0 || few[i].port != out[i].port)
			abort();
	}
	return 0;
}
