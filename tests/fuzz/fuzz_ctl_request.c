// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the control socket's request lines (agent/ctl_verbs.h). The first input
 * byte says whether the caller is root (even) or not (odd), the rest is the line. A request
 * either parses to a verb with exactly its arguments, each a non-empty word without spaces, a
 * verb for root alone only for root; or it is refused with exactly one "error ..." line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl_verbs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_ctl_check_request(const struct ctl_request *req, uid_t uid)
{
	if (!req->verb || req->nargs > CTL_ARGS_MAX || (req->root_only && uid != 0))
		abort();
	for (size_t i = 0; i < req->nargs; i++)
		if (!req->arg[i][0] || strchr(req->arg[i], ' '))
			abort();
}

static void
fuzz_ctl_check_error(const char *out, size_t len)
{
	if (len < 7 || strncmp(out, "error ", 6) || out[len - 1] != '\n' ||
	    memchr(out, '\n', len - 1))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request req = { 0 };
	char *line, *out = NULL;
	size_t len = 0;
	uid_t uid;
	FILE *err;

	if (size == 0)
		return 0;
	uid = (data[0] & 1) ? 1000 : 0;
	line = malloc(size);
	err = open_memstream(&out, &len);
	if (!line || !err) {
		free(line);
		if (err)
			fclose(err);
		free(out);
		return 0;
	}
	memcpy(line, data + 1, size - 1);
	line[size - 1] = '\0';
	if (ctl_request_parse(line, uid, &req, err) == 0) {
		fclose(err);
		if (len)
			abort(); /* a parsed request writes nothing */
		fuzz_ctl_check_request(&req, uid);
	} else {
		fclose(err);
		fuzz_ctl_check_error(out, len);
	}
	free(out);
	free(line);
	return 0;
}
