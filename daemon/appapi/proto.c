// SPDX-License-Identifier: MIT
/*
 * The application interface's lines (appapi.h, docs/app-api.md): requests parsed and answers
 * written by the daemon, answers parsed by clients (vertex nc). A line is words of printable
 * ASCII separated by single spaces, at most APPAPI_LINE_MAX bytes with its '\n'; only an error's
 * message, the last field, may hold more spaces. Everything else is refused, not repaired: a
 * program that sends something else has a bug worth seeing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appapi/appapi.h"
#include "rendezvous/purpose.h"

enum { APPAPI_WORDS_MAX = 4 };

static const char *const appapi_codes[APPAPI_CODE_COUNT] = {
	[APPAPI_E_BAD_REQUEST] = "bad-request",
	[APPAPI_E_NOT_APPROVED] = "not-approved",
	[APPAPI_E_UNKNOWN_PURPOSE] = "unknown-purpose",
	[APPAPI_E_NOT_UP] = "not-up",
	[APPAPI_E_REFUSED] = "refused",
	[APPAPI_E_TIMEOUT] = "timeout",
	[APPAPI_E_UNREACHABLE] = "unreachable",
	[APPAPI_E_IN_USE] = "in-use",
	[APPAPI_E_UNAVAILABLE] = "unavailable",
	[APPAPI_E_PERMISSION] = "permission",
};

const char *
appapi_code_name(int code)
{
	if (code <= 0 || code >= APPAPI_CODE_COUNT)
		return "error";
	return appapi_codes[code];
}

static int
appapi_code_of(const char *name)
{
	for (int i = 1; i < APPAPI_CODE_COUNT; i++)
		if (!strcmp(appapi_codes[i], name))
			return i;
	return 0;
}

/*
 * Copies line into buf (NUL-terminated) and splits it into at most max words at single spaces;
 * with rest, the last word takes the rest of the line, spaces and all. The number of words, or
 * -1 with *why if a byte or the spacing is not of the grammar.
 */
static int
appapi_split(const char *line, size_t len, char *buf, char **w, int max, bool rest,
	     const char **why)
{
	int n = 0;

	if (len >= APPAPI_LINE_MAX) {
		*why = "line longer than 511 bytes";
		return -1;
	}
	if (len == 0) {
		*why = "empty line";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch < 0x20 || ch > 0x7e) {
			*why = ch == '\0' ? "line contains a NUL byte"
					  : "line contains a byte that is not printable ASCII";
			return -1;
		}
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	for (char *s = buf;;) {
		if (*s == ' ' || *s == '\0') {
			*why = "words are separated by exactly one space";
			return -1;
		}
		w[n++] = s;
		if (n == max && rest)
			return n;
		s = strchr(s, ' ');
		if (!s)
			return n;
		if (n == max) {
			*why = "too many words";
			return -1;
		}
		*s++ = '\0';
	}
}

static bool
appapi_parse_connect(const char *arg, struct appapi_request *req, const char **why)
{
	struct identity id;
	struct identity bare;

	if (identity_parse(arg, IDENTITY_PURPOSE_REQUIRED, &id, why))
		return false;
	bare = id;
	bare.purpose[0] = '\0';
	if (identity_format(&bare, req->peer, sizeof(req->peer))) {
		*why = "name too long";
		return false;
	}
	snprintf(req->purpose, sizeof(req->purpose), "%s", id.purpose);
	return true;
}

bool
appapi_parse_request(const char *line, size_t len, struct appapi_request *req, const char **why)
{
	char buf[APPAPI_LINE_MAX], *w[APPAPI_WORDS_MAX];
	int n = appapi_split(line, len, buf, w, APPAPI_WORDS_MAX, false, why);

	memset(req, 0, sizeof(*req));
	if (n < 0)
		return false;
	if (!strcmp(w[0], "connect")) {
		if (n != 2) {
			*why = "connect takes one USER@DOMAIN/PURPOSE";
			return false;
		}
		req->verb = APPAPI_CONNECT;
		return appapi_parse_connect(w[1], req, why);
	}
	if (!strcmp(w[0], "listen")) {
		if (n != 2) {
			*why = "listen takes one PURPOSE";
			return false;
		}
		if (!purpose_name_is_valid(w[1])) {
			*why = "a purpose is 1-32 characters from a-z 0-9 -";
			return false;
		}
		req->verb = APPAPI_LISTEN;
		snprintf(req->purpose, sizeof(req->purpose), "%s", w[1]);
		return true;
	}
	*why = "unknown verb (connect or listen)";
	return false;
}

/* A port of 1-65535 in decimal, no sign, no leading zero. */
static bool
appapi_port(const char *s, uint16_t *port)
{
	unsigned long v;
	char *end;

	if (s[0] < '1' || s[0] > '9' || strlen(s) > 5)
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* An overlay address as the daemon writes it: hex digits, '.' and ':' only, bounded. */
static bool
appapi_addr(const char *s, char out[APPAPI_ADDR_MAX])
{
	size_t n = strlen(s);

	if (n < 2 || n >= APPAPI_ADDR_MAX || strspn(s, "0123456789abcdefABCDEF.:") != n)
		return false;
	memcpy(out, s, n + 1);
	return true;
}

static bool
appapi_parse_error(char **w, int n, struct appapi_answer *ans)
{
	if (n < 2 || strlen(w[1]) >= sizeof(ans->code_name))
		return false;
	ans->kind = APPAPI_ANSWER_ERROR;
	snprintf(ans->code_name, sizeof(ans->code_name), "%s", w[1]);
	ans->code = appapi_code_of(w[1]);
	snprintf(ans->message, sizeof(ans->message), "%s", n == 3 ? w[2] : "");
	return true;
}

bool
appapi_parse_answer(const char *line, size_t len, struct appapi_answer *ans)
{
	char buf[APPAPI_LINE_MAX], *w[APPAPI_WORDS_MAX];
	const char *why;
	struct identity id;
	int n;

	memset(ans, 0, sizeof(*ans));
	if (len > 6 && !memcmp(line, "error ", 6)) {
		n = appapi_split(line, len, buf, w, 3, true, &why);
		return n > 0 && appapi_parse_error(w, n, ans);
	}
	n = appapi_split(line, len, buf, w, APPAPI_WORDS_MAX, false, &why);
	if (n == 2 && !strcmp(w[0], "ok") && purpose_name_is_valid(w[1])) {
		ans->kind = APPAPI_ANSWER_OK;
		snprintf(ans->purpose, sizeof(ans->purpose), "%s", w[1]);
		return true;
	}
	if (n == 3 && !strcmp(w[0], "ok")) {
		ans->kind = APPAPI_ANSWER_OK;
		return appapi_addr(w[1], ans->addr) && appapi_port(w[2], &ans->port);
	}
	if (n == 4 && !strcmp(w[0], "accept")) {
		ans->kind = APPAPI_ANSWER_ACCEPT;
		if (identity_parse(w[1], IDENTITY_PURPOSE_FORBIDDEN, &id, &why) ||
		    identity_format(&id, ans->peer, sizeof(ans->peer)))
			return false;
		return appapi_addr(w[2], ans->addr) && appapi_port(w[3], &ans->port);
	}
	return false;
}

static size_t
appapi_finish(int n, size_t len)
{
	return n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
}

size_t
appapi_format_connected(char *buf, size_t len, const char *addr, uint16_t port)
{
	return appapi_finish(snprintf(buf, len, "ok %s %u\n", addr, port), len);
}

size_t
appapi_format_listening(char *buf, size_t len, const char *purpose)
{
	return appapi_finish(snprintf(buf, len, "ok %s\n", purpose), len);
}

size_t
appapi_format_accept(char *buf, size_t len, const char *peer, const char *addr, uint16_t port)
{
	return appapi_finish(snprintf(buf, len, "accept %s %s %u\n", peer, addr, port), len);
}

/* The message is cut to APPAPI_MESSAGE_MAX and anything but printable ASCII becomes '?'. */
size_t
appapi_format_error(char *buf, size_t len, int code, const char *message)
{
	char msg[APPAPI_MESSAGE_MAX];
	size_t i;

	for (i = 0; message[i] && i < sizeof(msg) - 1; i++)
		msg[i] = message[i] >= 0x20 && message[i] <= 0x7e ? message[i] : '?';
	msg[i] = '\0';
	if (!msg[0] || msg[0] == ' ')
		msg[0] = msg[0] ? '-' : '\0';
	return appapi_finish(
	    snprintf(buf, len, "error %s %s\n", appapi_code_name(code), msg[0] ? msg : "-"), len);
}

int
appapi_default_path(const char *control_path, char *out, size_t len)
{
	size_t n = strlen(control_path);
	int w;

	if (n > 5 && !strcmp(control_path + n - 5, ".sock"))
		w = snprintf(out, len, "%.*s-app.sock", (int)(n - 5), control_path);
	else
		w = snprintf(out, len, "%s-app", control_path);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}
