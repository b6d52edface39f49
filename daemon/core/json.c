// SPDX-License-Identifier: MIT
/*
 * JSON strings for the command lines' --json output (json.h).
 */
#include "core/json.h"

void
json_put_string(const char *s, FILE *out)
{
	putc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			putc(c, out);
	}
	putc('"', out);
}
