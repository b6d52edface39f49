/* SPDX-License-Identifier: MIT */
/*
 * The TUN device (DESIGN §8): a layer-3 device without packet-info header (IFF_NO_PI), opened
 * non-blocking. It is not persistent, so the kernel removes it, with its addresses and routes,
 * when the last descriptor closes, including after kill -9.
 *
 * Offloads and multi-queue (IFF_MULTI_QUEUE) are flags of tun_open(). TUN_OFFLOAD opens the
 * device with IFF_VNET_HDR and asks for TUNSETOFFLOAD (checksum, TSO4/6 with ECN, USO4/6 where
 * the kernel has them): every read and write then starts with a 10-byte virtio-net header,
 * and a read may return a TCP or UDP super-packet of up to 64 KiB (dataplane/gso.h).
 */
#ifndef VERTEX_TUN_H
#define VERTEX_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct iovec;
struct tun;

enum tun_flags {
	TUN_MULTI_QUEUE = 1 << 0,
	TUN_OFFLOAD = 1 << 1,
};

/* Creates (or attaches to) the device called name. *out freed with tun_close(). 0 or -errno. */
int tun_open(struct tun **out, const char *name, unsigned flags);
void tun_close(struct tun *t);
/* True if a live process holds the TUN device called name (another agent using that name). */
bool tun_is_held(const char *name);
int tun_fd(const struct tun *t);
/* True if reads and writes carry a virtio-net header (opened with TUN_OFFLOAD). */
bool tun_has_vnet_hdr(const struct tun *t);
/* The TUN_F_* offloads the kernel accepted (0 without TUN_OFFLOAD or if it refused them). */
unsigned tun_offloads(const struct tun *t);
const char *tun_name(const struct tun *t);
int tun_ifindex(const struct tun *t);

/* One packet per call. -EAGAIN when empty. */
ssize_t tun_read(struct tun *t, void *buf, size_t len);
ssize_t tun_write(struct tun *t, const void *buf, size_t len);
/* One packet gathered from iov (e.g. a virtio-net header and the packet). */
ssize_t tun_writev(struct tun *t, const struct iovec *iov, int iovcnt);

#endif
