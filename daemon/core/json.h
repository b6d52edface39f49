/* SPDX-License-Identifier: MIT */
/*
 * The little JSON the command lines print (`--json`): strings are the one part that needs care,
 * since what they hold (a pin's "how", a peer's name) may come from a file or the network.
 */
#ifndef VERTEX_CORE_JSON_H
#define VERTEX_CORE_JSON_H

#include <stdio.h>

/* Writes s as a JSON string, quotes included: '"' and '\' escaped, control bytes as \u00XX. */
void json_put_string(const char *s, FILE *out);

#endif
