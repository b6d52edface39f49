// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for vertexd's config parser. Any input either fails with a "NAME:LINE: ..."
 * message or parses; a parsed config must print to a form that parses back to an equal config
 * and prints identically (the normalised form is a fixed point).
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints c into a malloc'ed string owned by the caller, or NULL. */
static char *
fuzz_config_print(const struct config *c, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	if (config_print(c, f) != 0)
		abort();
	fclose(f);
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config a, b;
	char err[512];
	char *p1, *p2;
	size_t l1, l2;

	if (config_parse_buf("fuzz.conf", (const char *)data, size, &a, err, sizeof(err)) != 0) {
		if (strncmp(err, "fuzz.conf:", 10) != 0 || a.peers || a.npeers)
			abort();
		return 0;
	}
	p1 = fuzz_config_print(&a, &l1);
	if (!p1)
		goto out;
	if (config_parse_buf("printed", p1, l1, &b, err, sizeof(err)) != 0) {
		fprintf(stderr, "printed form rejected: %s\n%s", err, p1);
		abort();
	}
	if (!config_equal(&a, &b))
		abort();
	p2 = fuzz_config_print(&b, &l2);
	if (p2 && (l1 != l2 || memcmp(p1, p2, l1) != 0))
		abort();
	free(p2);
	free(p1);
	config_free(&b);
out:
	config_free(&a);
	return 0;
}
