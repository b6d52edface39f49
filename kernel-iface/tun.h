/* SPDX-License-Identifier: MIT */
/*
 * The TUN device (DESIGN §8): a layer-3 device without packet-info header (IFF_NO_PI), opened
 * non-blocking. It is not persistent, so the kernel removes it, with its addresses and routes,
 * when the last descriptor closes, including after kill -9.
 *
 * Offloads (IFF_VNET_HDR, TUNSETOFFLOAD) and multi-queue (IFF_MULTI_QUEUE) are flags of
 * tun_open() so the packet path can adopt them without a rewrite; they are off by default.
 */
#ifndef VERTEX_TUN_H
#define VERTEX_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tun;

enum tun_flags {
	TUN_MULTI_QUEUE = 1 << 0,
};

/* Creates (or attaches to) the device called name. *out freed with tun_close(). 0 or -errno. */
int tun_open(struct tun **out, const char *name, unsigned flags);
void tun_close(struct tun *t);
/* True if a live process holds the TUN device called name (another agent using that name). */
bool tun_is_held(const char *name);
int tun_fd(const struct tun *t);
const char *tun_name(const struct tun *t);
int tun_ifindex(const struct tun *t);

/* One packet per call. -EAGAIN when empty. */
ssize_t tun_read(struct tun *t, void *buf, size_t len);
ssize_t tun_write(struct tun *t, const void *buf, size_t len);

#endif
