/* SPDX-License-Identifier: MIT */
/*
 * One datagram of rtnetlink notifications, read (addrwatch.c; apart so that the fuzz target and
 * the unit test reach it): how many messages are news (an address added or removed, a link's
 * state) and how many are not (another type, our own interface, a message cut short).
 */
#ifndef VERTEX_ADDRWATCH_PARSE_H
#define VERTEX_ADDRWATCH_PARSE_H

#include <stddef.h>
#include <stdint.h>

struct addrwatch_count {
	unsigned news, ignored;
};

/* Reads buf (len bytes, any content: a message running past the end ends the walk). */
void addrwatch_parse(const uint8_t *buf, size_t len, int ignore_ifindex, struct addrwatch_count *c);

#endif
