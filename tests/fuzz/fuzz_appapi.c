// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the application interface's lines (appapi/appapi.h). The input is one
 * line, parsed both as a request (what the daemon reads from programs) and as an answer (what
 * vertex nc reads from the daemon). A request that parses has a verb, a purpose by the grammar
 * and, for connect, a canonical peer that formats back into a request parsing to the same; an
 * answer that parses is one of the three kinds with its fields bounded. Error lines written
 * from any message parse back as errors with the same code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appapi/appapi.h"
#include "rendezvous/purpose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_appapi_request(const char *line, size_t len)
{
	struct appapi_request req, again;
	char buf[APPAPI_LINE_MAX + 64];
	const char *why = NULL;
	int n;

	if (!appapi_parse_request(line, len, &req, &why)) {
		if (!why || !why[0])
			abort();
		return;
	}
	if (!purpose_name_is_valid(req.purpose))
		abort();
	if (req.verb == APPAPI_LISTEN) {
		if (req.peer[0])
			abort();
		return;
	}
	if (req.verb != APPAPI_CONNECT || !strchr(req.peer, '@') || strchr(req.peer, '/'))
		abort();
	n = snprintf(buf, sizeof(buf), "connect %s/%s", req.peer, req.purpose);
	if (n <= 0 || !appapi_parse_request(buf, (size_t)n, &again, &why) ||
	    strcmp(again.peer, req.peer) || strcmp(again.purpose, req.purpose))
		abort();
}

static void
fuzz_appapi_answer(const char *line, size_t len)
{
	struct appapi_answer ans;

	if (!appapi_parse_answer(line, len, &ans))
		return;
	switch (ans.kind) {
	case APPAPI_ANSWER_OK:
		if (!ans.purpose[0] && (!ans.addr[0] || !ans.port))
			abort();
		break;
	case APPAPI_ANSWER_ACCEPT:
		if (!strchr(ans.peer, '@') || !ans.addr[0] || !ans.port)
			abort();
		break;
	case APPAPI_ANSWER_ERROR:
		if (!ans.code_name[0] || ans.code < 0 || ans.code >= APPAPI_CODE_COUNT)
			abort();
		break;
	default:
		abort();
	}
}

/* Any message, written as an error line, reads back as that error. */
static void
fuzz_appapi_error(const char *msg, int code)
{
	struct appapi_answer ans;
	char buf[APPAPI_LINE_MAX];
	size_t n = appapi_format_error(buf, sizeof(buf), code, msg);

	if (n < 2 || buf[n - 1] != '\n' || memchr(buf, '\n', n - 1) ||
	    !appapi_parse_answer(buf, n - 1, &ans) || ans.kind != APPAPI_ANSWER_ERROR ||
	    ans.code != code)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	fuzz_appapi_request(line, size);
	fuzz_appapi_answer(line, size);
	fuzz_appapi_error(line, 1 + (int)(size % (APPAPI_CODE_COUNT - 1)));
	free(line);
	return 0;
}
