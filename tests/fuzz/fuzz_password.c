// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the secrets' parsers in crypto/password.c: an invite code as typed
 * (invite_code_check_ca, from the command line), a password as typed (password_rule_check) and
 * a stored hash (password_hash_parse, from the account store). The input is one NUL-terminated
 * string. Properties: a code that matches a CA does not match another; the rule accepts only
 * 1..255 printable bytes; a hash that parses has a cost in range. No input crashes any of them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/password.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fpr_a[32] = { 1 }, fpr_b[32] = { 2 };

static void
fuzz_rule(const char *s, size_t n)
{
	bool printable = n >= 1 && n <= PASSWORD_LEN_MAX;

	for (size_t i = 0; i < n; i++)
		printable = printable && s[i] >= 0x20 && s[i] <= 0x7e;
	if ((password_rule_check(s) == NULL) != printable)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t salt[PASSWORD_SALT_LEN], key[PASSWORD_KEY_LEN];
	enum invite_ca_match a, b;
	unsigned ln;
	char *s;

	if (size > 4096 || !(s = malloc(size + 1)))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	a = invite_code_check_ca(s, fpr_a);
	b = invite_code_check_ca(s, fpr_b);
	/* Whether a string is a code, and of which kind, does not depend on the CA; only the
	 * commitment does (both matching is a 2^-30 accident, not a bug). */
	if (a > INVITE_CA_MALFORMED || (a == INVITE_CA_NONE) != (b == INVITE_CA_NONE) ||
	    (a == INVITE_CA_MALFORMED) != (b == INVITE_CA_MALFORMED))
		abort();
	fuzz_rule(s, strlen(s));
	if (password_hash_parse(s, &ln, salt, key) &&
	    (ln < PASSWORD_LN_MIN || ln > PASSWORD_LN_MAX || strlen(s) >= PASSWORD_HASH_MAX))
		abort();
	free(s);
	return 0;
}
