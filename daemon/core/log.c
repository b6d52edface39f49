// SPDX-License-Identifier: MIT
/*
 * Logging to stderr with a program-name prefix and a timestamp from the realtime clock (for
 * humans; the event loop uses monotonic time).
 *
 * Every message is one line of printable ASCII: whatever a message carries (a certificate's
 * name, a server's error text, a path) goes through log_escape() on its way out, so bytes from
 * the network can neither start a forged line nor send a terminal escape sequence. Escaping is
 * done here, once, rather than by every caller that logs an untrusted string.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *log_progname = "vertex";
static unsigned log_debug_mask;
static bool log_quiet;

static const struct {
	const char *name;
	enum log_cat cat;
} log_cats[] = {
	{ "peer", LOG_PEER },     { "path", LOG_PATH },       { "handshake", LOG_HANDSHAKE },
	{ "ctl", LOG_CTL },       { "netlink", LOG_NETLINK }, { "data", LOG_DATA },
	{ "config", LOG_CONFIG }, { "all", LOG_ALL },
};

void
log_init(const char *progname)
{
	const char *slash = strrchr(progname, '/');

	log_progname = slash ? slash + 1 : progname;
}

int
log_set_debug(const char *list)
{
	unsigned mask = 0;
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");
		bool found = false;

		for (size_t i = 0; i < sizeof(log_cats) / sizeof(log_cats[0]); i++) {
			if (strlen(log_cats[i].name) == n && !strncasecmp(p, log_cats[i].name, n)) {
				mask |= log_cats[i].cat;
				found = true;
			}
		}
		if (!found && n)
			return -EINVAL;
		p += n;
		if (*p == ',')
			p++;
	}
	log_debug_mask = mask;
	return 0;
}

bool
log_debug_enabled(enum log_cat cat)
{
	return (log_debug_mask & cat) != 0;
}

void
log_set_quiet(bool quiet)
{
	log_quiet = quiet;
}

size_t
log_escape(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!cap)
		return 0;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		bool plain = *p >= 0x20 && *p < 0x7f && *p != '\\';
		size_t need = plain ? 1 : *p == '\\' ? 2 : 4;

		if (o + need >= cap)
			break; /* whole escapes only: never half of one */
		if (plain) {
			out[o++] = (char)*p;
		} else if (*p == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return o;
}

static void
log_vprint(const char *level, const char *err, const char *fmt, va_list ap)
{
	char msg[1024], line[1024 * 4 + 128], safe_err[256];
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s: %s", tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, log_progname, level);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_escape(msg, line + n, sizeof(line) - (size_t)n);
	if (err) {
		log_escape(err, safe_err, sizeof(safe_err));
		fprintf(stderr, "%s: %s\n", line, safe_err);
	} else {
		fprintf(stderr, "%s\n", line);
	}
}

#define LOG_BODY(level, err)                                                                       \
	do {                                                                                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_vprint(level, err, fmt, ap);                                                   \
		va_end(ap);                                                                        \
	} while (0)

void
log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY("", err);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY("", NULL);
}

void
log_info(const char *fmt, ...)
{
	if (log_quiet)
		return;
	LOG_BODY("", NULL);
}

void
log_debug_cat(enum log_cat cat, const char *fmt, ...)
{
	const char *name = "debug";

	for (size_t i = 0; i < sizeof(log_cats) / sizeof(log_cats[0]); i++)
		if (log_cats[i].cat == cat)
			name = log_cats[i].name;
	{
		char level[32];

		snprintf(level, sizeof(level), "[%s] ", name);
		LOG_BODY(level, NULL);
	}
}

void
fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY("fatal: ", err);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY("fatal: ", NULL);
	exit(1);
}

bool
log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_ms)
{
	if (now_ms - rl->window_start_ms >= LOG_RATELIMIT_WINDOW_MS) {
		if (rl->suppressed)
			log_warnx("(%u similar messages suppressed)", rl->suppressed);
		rl->window_start_ms = now_ms;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < LOG_RATELIMIT_BURST) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}
