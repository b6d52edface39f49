// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the identity grammar. The first input byte picks the flags, the rest is
 * the string. Whatever parses must format, parse again to an equal identity, be lower case, and
 * respect the flags; a rejection must come with a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trust/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_identity_check(const struct identity *id, unsigned flags)
{
	struct identity again;
	char buf[IDENTITY_STR_MAX];

	if (identity_format(id, buf, sizeof(buf)) != 0)
		abort();
	if (identity_parse(buf, flags, &again, NULL) != 0 || !identity_equal(id, &again))
		abort();
	for (const char *p = buf; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			abort();
	}
	if ((flags & IDENTITY_PURPOSE_FORBIDDEN) && id->purpose[0])
		abort();
	if ((flags & IDENTITY_PURPOSE_REQUIRED) && !id->purpose[0])
		abort();
	if (!identity_domain_is_valid(id->domain, NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct identity id;
	const char *why = NULL;
	unsigned flags;
	char *s;

	if (size == 0)
		return 0;
	flags = data[0] & (IDENTITY_PURPOSE_FORBIDDEN | IDENTITY_PURPOSE_REQUIRED);
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (identity_parse(s, flags, &id, &why) == 0)
		fuzz_identity_check(&id, flags);
	else if (!why || !*why)
		abort();
	free(s);
	return 0;
}
