/* SPDX-License-Identifier: MIT */
/*
 * Logging: levels, run-time debug categories, and rate limiting for the packet path.
 *
 * log_warn() appends strerror(errno); log_warnx() does not. fatal()/fatalx() are for start-up
 * failures and broken internal invariants only: network input is never fatal (STYLE §12).
 * Output goes to stderr, one line per message, prefixed by the program name; under systemd or
 * the test harness that is where logs are collected.
 */
#ifndef VERTEX_LOG_H
#define VERTEX_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_cat {
	LOG_PEER = 1u << 0,
	LOG_PATH = 1u << 1,
	LOG_HANDSHAKE = 1u << 2,
	LOG_CTL = 1u << 3,
	LOG_NETLINK = 1u << 4,
	LOG_DATA = 1u << 5,
	LOG_CONFIG = 1u << 6,
	LOG_ALL = 0x7f,
};

/* A token bucket for messages on paths an attacker can drive (bad packets). */
struct log_ratelimit {
	uint64_t window_start_ms;
	uint32_t printed;
	uint32_t suppressed;
};

enum { LOG_RATELIMIT_BURST = 10, LOG_RATELIMIT_WINDOW_MS = 5000 };

void log_init(const char *progname);
/* "peer,handshake", "all" or "" ; returns 0 or -EINVAL naming nothing (caller reports). */
int log_set_debug(const char *list);
bool log_debug_enabled(enum log_cat cat);
void log_set_quiet(bool quiet);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug_cat(enum log_cat cat, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
__attribute__((noreturn)) void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Copies in to out (cap bytes with the NUL) with every byte outside printable ASCII written as
 * \\xNN and a backslash as two, so the result is one unambiguous line; stops before an escape
 * that would not fit. Returns the length written. Every log line goes through it.
 */
size_t log_escape(const char *in, char *out, size_t cap);

/* True when a message may be printed now; counts what it suppresses and reports the count. */
bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_ms);

/* Cheap check first so arguments are not formatted when the category is off. */
#define log_debug(cat, ...)                                                                        \
	do {                                                                                       \
		if (log_debug_enabled(cat))                                                        \
			log_debug_cat(cat, __VA_ARGS__);                                           \
	} while (0)

#endif
