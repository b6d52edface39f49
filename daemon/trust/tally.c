// SPDX-License-Identifier: MIT
/*
 * The answers of one notary round. See tally.h.
 */
#include "trust/tally.h"

#include <stdio.h>
#include <string.h>

void
tally_init(struct tally *t)
{
	memset(t, 0, sizeof(*t));
}

int
tally_add(struct tally *t, const char *who)
{
	struct pin_notary_answer *s;

	if (t->n == TALLY_MAX)
		return -1;
	s = &t->answers[t->n];
	*s = (struct pin_notary_answer){ .status = PIN_NOTARY_UNREACHABLE };
	snprintf(s->notary, sizeof(s->notary), "%.*s", PIN_NOTARY_NAME_MAX, who);
	t->answered[t->n] = false;
	return (int)t->n++;
}

void
tally_skip(struct tally *t, size_t i)
{
	if (i < t->n && !t->answered[i]) {
		t->answered[i] = true;
		t->nanswered++;
	}
}

bool
tally_record(struct tally *t, const struct pin_notary_answer *a)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->answered[i] || strcmp(t->answers[i].notary, a->notary))
			continue;
		t->answers[i] = *a;
		t->answered[i] = true;
		t->nanswered++;
		return true;
	}
	return false;
}

bool
tally_is_complete(const struct tally *t)
{
	return t->nanswered == t->n;
}
