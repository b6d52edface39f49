// SPDX-License-Identifier: MIT
/* vertexd: placeholder until the agent wiring lands. */
#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "vertexd: not built yet\n");
	return 1;
}
