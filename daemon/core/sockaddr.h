/* SPDX-License-Identifier: MIT */
/*
 * Socket addresses as Vertex writes them everywhere (configuration, logs, the CLI, the control
 * socket): "198.18.0.2:4800" and "[fd00::2]:4800", numeric only (resolving names is never done
 * here), parsed strictly and formatted so that the two round-trip exactly.
 *
 * Our sockets are dual-stack IPv6 where the host has IPv6, so IPv4 peers appear v4-mapped
 * (::ffff:198.18.0.2); every function here treats a v4-mapped address as the IPv4 address it
 * is, and sockaddr_for_family() maps one for a socket of the other family.
 */
#ifndef VERTEX_SOCKADDR_H
#define VERTEX_SOCKADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum { SOCKADDR_STR_MAX = 64 }; /* "[" + the longest IPv6 text + "]:65535" and the NUL */

/* "A.B.C.D:PORT" or "[IPV6]:PORT", port 1..65535. 0, or -EINVAL with *out zeroed. */
int sockaddr_parse(const char *s, struct sockaddr_storage *out);
/* The same form, exactly as the address is (what a configuration prints); "(none)" if empty. */
void sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t len);
/* The same, with a v4-mapped address shown as the IPv4 address it is (logs, status). */
void sockaddr_show(const struct sockaddr_storage *ss, char *buf, size_t len);
/* Same family, address and port; two empty ones are equal. */
bool sockaddr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* The same address and port, a v4-mapped address being its IPv4 one (what a socket saw). */
bool sockaddr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* The IPv4 address inside a v4-mapped one, anything else as it is. */
void sockaddr_unmap(const struct sockaddr_storage *in, struct sockaddr_storage *out);
/* in, usable with a socket of family (an IPv4 address v4-mapped for AF_INET6); its length. */
socklen_t sockaddr_for_family(int family, const struct sockaddr_storage *in,
			      struct sockaddr_storage *out);

#endif
