// SPDX-License-Identifier: MIT
/*
 * contact-request's answer (hooks_parse_answer): any bytes a hook prints, bounded by their
 * length, no NUL needed. The answer is one of the three values, and "approve" only when the
 * first line says so.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hooks/hooks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1); /* exact size: ASan sees any overread */
	enum hooks_answer a;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	a = hooks_parse_answer(copy, size);
	if (a != HOOKS_ANSWER_NONE && a != HOOKS_ANSWER_APPROVE && a != HOOKS_ANSWER_DENY)
		abort();
	if (a == HOOKS_ANSWER_APPROVE && !memmem(copy, size, "approve", 7))
		abort();
	free(copy);
	return 0;
}
