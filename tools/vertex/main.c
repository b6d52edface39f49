// SPDX-License-Identifier: MIT
/* vertex: placeholder until the CLI lands. */
#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "vertex: not built yet\n");
	return 1;
}
