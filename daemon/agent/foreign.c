// SPDX-License-Identifier: MIT
/*
 * Other domains: see foreign.h. (Being written; until then no foreign domain is tracked.)
 */
#include <errno.h>

#include "agent/agent.h"
#include "agent/foreign.h"

int
foreign_start(struct agent *a)
{
	(void)a;
	return 0;
}

void
foreign_stop(struct agent *a)
{
	(void)a;
}

int
foreign_reevaluate(struct agent *a, const char *domain)
{
	(void)a;
	(void)domain;
	return -ENOENT;
}

void
foreign_status(const struct agent *a, FILE *f)
{
	(void)a;
	(void)f;
}
