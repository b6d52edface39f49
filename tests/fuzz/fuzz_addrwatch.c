// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the rtnetlink notification reader (kernel-iface/addrwatch_parse.c): any
 * datagram, at any alignment. Every message it counts lies inside the buffer, so the counts
 * never exceed what headers of the smallest size could fit.
 */
#include <linux/netlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel-iface/addrwatch_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addrwatch_count c;
	uint8_t *odd = malloc(size + 1);

	if (!odd)
		return 0;
	memcpy(odd + 1, data, size); /* misaligned on purpose */
	addrwatch_parse(odd + 1, size, 3, &c);
	if ((size_t)c.news + c.ignored > size / sizeof(struct nlmsghdr))
		abort();
	free(odd);
	return 0;
}
