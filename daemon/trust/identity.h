/* SPDX-License-Identifier: MIT */
/*
 * The identity grammar of DESIGN §3: user@domain[/purpose].
 *
 *   user     [a-z0-9._-]{1,64}
 *   domain   an LDH DNS name: labels [a-z0-9-]{1,63}, not starting or ending with '-',
 *            at least two labels, at most 253 characters, no trailing dot
 *   purpose  [a-z0-9-]{1,32}
 *
 * Input is case-folded to lower case (ASCII only); anything else is a clear error, never a guess.
 */
#ifndef VERTEX_IDENTITY_H
#define VERTEX_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

enum {
	IDENTITY_USER_MAX = 64,
	IDENTITY_DOMAIN_MAX = 253,
	IDENTITY_PURPOSE_MAX = 32,
	/* user@domain/purpose plus NUL */
	IDENTITY_STR_MAX =
	    IDENTITY_USER_MAX + 1 + IDENTITY_DOMAIN_MAX + 1 + IDENTITY_PURPOSE_MAX + 1,
};

struct identity {
	char user[IDENTITY_USER_MAX + 1];
	char domain[IDENTITY_DOMAIN_MAX + 1];
	char purpose[IDENTITY_PURPOSE_MAX + 1]; /* "" when absent */
};

enum identity_flags {
	IDENTITY_PURPOSE_FORBIDDEN = 1 << 0, /* a bare user@domain, e.g. a certificate name */
	IDENTITY_PURPOSE_REQUIRED = 1 << 1,
};

/*
 * Parses s into *out. Returns 0, or -EINVAL with *why set to a static, human-readable reason
 * ("user part is empty", "domain label starts with '-'", ...). why may be NULL.
 */
int identity_parse(const char *s, unsigned flags, struct identity *out, const char **why);
bool identity_domain_is_valid(const char *domain, const char **why);
/*
 * The canonical (lower-case) form of domain into out, if it is a valid domain; else false with
 * *why set as by identity_domain_is_valid.
 */
bool identity_domain_canon(const char *domain, char out[IDENTITY_DOMAIN_MAX + 1], const char **why);

/*
 * The domain part of an identity that has already been checked (a certificate's name, a
 * configured peer): what follows its '@', borrowed from identity; NULL if there is no '@'.
 * For text not yet checked, identity_parse() is the way.
 */
const char *identity_domain_of(const char *identity);

/* Writes "user@domain" or "user@domain/purpose"; returns 0 or -ENOSPC. */
int identity_format(const struct identity *id, char *buf, size_t len);
bool identity_equal(const struct identity *a, const struct identity *b);

#endif
