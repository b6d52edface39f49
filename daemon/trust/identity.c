// SPDX-License-Identifier: MIT
/*
 * The identity grammar (DESIGN §3): user@domain[/purpose], parsed strictly.
 *
 * Identities name who may reach whom, are compared byte for byte after parsing and end up in
 * certificates, firewall decisions and logs, so the parser never guesses: every deviation from
 * the grammar is an error with a specific, static reason. Case folding is ASCII only; a
 * non-ASCII byte is an error rather than something to normalise (no IDNA here: a domain that
 * needs it must be given in its A-label "xn--" form).
 */
#include "identity.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The three parts as slices of the input, before validation. */
struct identity_parts {
	const char *user, *domain, *purpose;
	size_t user_len, domain_len, purpose_len;
	bool has_purpose;
};

static char
identity_fold(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool
identity_is_alnum(char c)
{
	c = identity_fold(c);
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
identity_fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return false;
}

/* Bytes no part may contain, reported before anything else because they explain the most. */
static bool
identity_check_bytes(const char *s, size_t n, const char **why)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80)
			return identity_fail(why, "contains a non-ASCII byte");
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
			return identity_fail(why, "contains whitespace");
		if (c < 0x20 || c == 0x7f)
			return identity_fail(why, "contains a control character");
	}
	return true;
}

static bool
identity_label_is_valid(const char *l, size_t n, const char **why)
{
	if (n == 0)
		return identity_fail(why, "domain has an empty label");
	if (n > 63)
		return identity_fail(why, "domain label longer than 63 characters");
	for (size_t i = 0; i < n; i++) {
		if (!identity_is_alnum(l[i]) && l[i] != '-')
			return identity_fail(why, "domain contains a character other than a-z, "
						  "0-9, '-' and '.'");
	}
	if (l[0] == '-')
		return identity_fail(why, "domain label starts with '-'");
	if (l[n - 1] == '-')
		return identity_fail(why, "domain label ends with '-'");
	return true;
}

static bool
identity_domain_slice_is_valid(const char *d, size_t n, const char **why)
{
	size_t labels = 0, start = 0;

	if (!identity_check_bytes(d, n, why))
		return false;
	if (n == 0)
		return identity_fail(why, "domain part is empty");
	if (n > IDENTITY_DOMAIN_MAX)
		return identity_fail(why, "domain longer than 253 characters");
	if (d[n - 1] == '.')
		return identity_fail(why, "domain ends with '.'");
	for (size_t i = 0; i <= n; i++) {
		if (i < n && d[i] != '.')
			continue;
		if (!identity_label_is_valid(d + start, i - start, why))
			return false;
		labels++;
		start = i + 1;
	}
	if (labels < 2)
		return identity_fail(why, "domain has only one label");
	return true;
}

bool
identity_domain_is_valid(const char *domain, const char **why)
{
	if (!domain)
		return identity_fail(why, "domain part is empty");
	return identity_domain_slice_is_valid(domain, strlen(domain), why);
}

static bool
identity_user_is_valid(const char *u, size_t n, const char **why)
{
	if (n == 0)
		return identity_fail(why, "user part is empty");
	if (n > IDENTITY_USER_MAX)
		return identity_fail(why, "user part longer than 64 characters");
	for (size_t i = 0; i < n; i++) {
		if (!identity_is_alnum(u[i]) && u[i] != '.' && u[i] != '_' && u[i] != '-')
			return identity_fail(why, "user part contains a character other than a-z, "
						  "0-9, '.', '_' and '-'");
	}
	return true;
}

static bool
identity_purpose_is_valid(const char *p, size_t n, const char **why)
{
	if (n == 0)
		return identity_fail(why, "purpose is empty (nothing after '/')");
	if (n > IDENTITY_PURPOSE_MAX)
		return identity_fail(why, "purpose longer than 32 characters");
	for (size_t i = 0; i < n; i++) {
		if (!identity_is_alnum(p[i]) && p[i] != '-')
			return identity_fail(why, "purpose contains a character other than a-z, "
						  "0-9 and '-'");
	}
	return true;
}

/* Splits at the one '@' and the first '/' after it; counts are checked, contents are not. */
static bool
identity_split(const char *s, size_t n, struct identity_parts *p, const char **why)
{
	const char *at = memchr(s, '@', n), *slash;

	if (!at)
		return identity_fail(why, "missing '@'");
	if (memchr(at + 1, '@', n - (size_t)(at + 1 - s)))
		return identity_fail(why, "more than one '@'");
	p->user = s;
	p->user_len = (size_t)(at - s);
	p->domain = at + 1;
	p->domain_len = n - p->user_len - 1;
	slash = memchr(p->domain, '/', p->domain_len);
	p->has_purpose = slash != NULL;
	p->purpose = "";
	p->purpose_len = 0;
	if (slash) {
		p->purpose = slash + 1;
		p->purpose_len = p->domain_len - (size_t)(slash + 1 - p->domain);
		p->domain_len = (size_t)(slash - p->domain);
	}
	return true;
}

static void
identity_copy_folded(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = identity_fold(src[i]);
	dst[n] = '\0';
}

bool
identity_domain_canon(const char *domain, char out[IDENTITY_DOMAIN_MAX + 1], const char **why)
{
	if (!identity_domain_is_valid(domain, why))
		return false;
	identity_copy_folded(out, domain, strlen(domain)); /* valid: at most 253 bytes */
	return true;
}

int
identity_parse(const char *s, unsigned flags, struct identity *out, const char **why)
{
	struct identity_parts p;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return identity_fail(why, "identity is empty"), -EINVAL;
	n = strlen(s);
	if (!identity_check_bytes(s, n, why) || !identity_split(s, n, &p, why))
		return -EINVAL;
	if (!identity_user_is_valid(p.user, p.user_len, why) ||
	    !identity_domain_slice_is_valid(p.domain, p.domain_len, why))
		return -EINVAL;
	if (p.has_purpose && !identity_purpose_is_valid(p.purpose, p.purpose_len, why))
		return -EINVAL;
	if (p.has_purpose && (flags & IDENTITY_PURPOSE_FORBIDDEN))
		return identity_fail(why, "a purpose is not allowed here"), -EINVAL;
	if (!p.has_purpose && (flags & IDENTITY_PURPOSE_REQUIRED))
		return identity_fail(why, "a purpose is required here"), -EINVAL;
	identity_copy_folded(out->user, p.user, p.user_len);
	identity_copy_folded(out->domain, p.domain, p.domain_len);
	identity_copy_folded(out->purpose, p.purpose, p.purpose_len);
	return 0;
}

int
identity_format(const struct identity *id, char *buf, size_t len)
{
	int n;

	if (id->purpose[0])
		n = snprintf(buf, len, "%s@%s/%s", id->user, id->domain, id->purpose);
	else
		n = snprintf(buf, len, "%s@%s", id->user, id->domain);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return 0;
}

bool
identity_equal(const struct identity *a, const struct identity *b)
{
	return strcmp(a->user, b->user) == 0 && strcmp(a->domain, b->domain) == 0 &&
	       strcmp(a->purpose, b->purpose) == 0;
}

const char *
identity_domain_of(const char *identity)
{
	const char *at = strchr(identity, '@');

	return at ? at + 1 : NULL;
}
