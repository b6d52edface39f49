// SPDX-License-Identifier: MIT
/*
 * vertexd's configuration file (config.h): a strict streaming line parser and the checks a
 * complete agent config needs. The normalised printer and the comparison are in
 * config_print.c; endpoint addresses are core/sockaddr.h's.
 *
 * The parser walks the buffer one line at a time and keeps only a little state between lines:
 * which single-valued keywords it has seen and the peer block that is open. Every error names
 * the file, the line and the keyword, and nothing is ever guessed: an unknown keyword, a
 * repeated one, a value out of range, a prefix with host bits set, a peer block without its '}'
 * are all errors rather than warnings, because a daemon that half-understands its config does
 * something nobody asked for. Tokens are separated by blanks and cannot be quoted, so paths
 * cannot contain blanks or '#'.
 *
 */
#include "agent/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appapi/appapi.h"
#include "core/pkt.h"

enum {
	CONFIG_LINE_MAX = 1024,            /* bytes, without the newline */
	CONFIG_MAX_ARGS = 9,               /* tokens on a line, keyword included */
	CONFIG_FILE_MAX = 4 * 1024 * 1024, /* bytes; far above 1024 peers' worth */
	CONFIG_MIN_REKEY_SEC = 10,
	CONFIG_MAX_REKEY_SEC = 86400,
	CONFIG_MIN_REKEY_PACKETS = 1000,
	CONFIG_MIN_KEEPALIVE_SEC = 1,
	CONFIG_MAX_KEEPALIVE_SEC = 3600,
	CONFIG_POOL4_MIN_LEN = 8,
	CONFIG_POOL4_MAX_LEN = 30,
	CONFIG_POOL6_MIN_LEN = 16,
	CONFIG_POOL6_MAX_LEN = 64,
};

/* Single-valued keywords, one bit each, so a repeat is an error rather than a silent override. */
enum config_seen {
	SEEN_IDENTITY = 1u << 0,
	SEEN_KEY = 1u << 1,
	SEEN_CERT = 1u << 2,
	SEEN_INTERFACE = 1u << 3,
	SEEN_PORT = 1u << 4,
	SEEN_POOL4 = 1u << 5,
	SEEN_POOL6 = 1u << 6,
	SEEN_STATE = 1u << 7,
	SEEN_CONTROL = 1u << 8,
	SEEN_MTU = 1u << 9,
	SEEN_REKEY_SEC = 1u << 10,
	SEEN_REKEY_PACKETS = 1u << 11,
	SEEN_KEEPALIVE = 1u << 12,
	SEEN_SERVER = 1u << 13,
	SEEN_USER = 1u << 14,
	SEEN_PRIVACY = 1u << 15,
	SEEN_HOOKS = 1u << 16,
	SEEN_HOOK_TIMEOUT = 1u << 17,
	SEEN_APP_SOCKET = 1u << 18,
	SEEN_USERSPACE = 1u << 19,
	SEEN_SOCKS = 1u << 20,
	SEEN_WORKERS = 1u << 21,
	SEEN_CIPHER = 1u << 22,
	SEEN_PUBLIC_TCP = 1u << 23,
};

struct config_parser {
	const char *name;
	unsigned line;
	char *err;
	size_t errlen;
	struct config *c;
	unsigned seen;
	struct config_peer *peer; /* the open peer block, or NULL */
	unsigned peer_line;       /* where it opened, for "unterminated" */
	size_t peers_cap;
};

struct config_keyword {
	const char *name;
	int nargs;         /* arguments after the keyword; -N: at least 2, at most N */
	unsigned seen;     /* 0 for repeatable keywords */
	bool in_peer;      /* allowed inside a peer block (and only there) */
	const char *usage; /* shown when the argument count is wrong */
	int (*fn)(struct config_parser *p, char **argv);
};

static int config_err(struct config_parser *p, const char *kw, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "FILE:LINE: KEYWORD: reason" (without the keyword when there is none). */
static int
config_err(struct config_parser *p, const char *kw, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!p->err || !p->errlen)
		return -EINVAL;
	if (kw)
		n = snprintf(p->err, p->errlen, "%s:%u: %s: ", p->name, p->line, kw);
	else
		n = snprintf(p->err, p->errlen, "%s:%u: ", p->name, p->line);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int
config_parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return 0;
}

static int
config_number(struct config_parser *p, const char *kw, const char *s, uint64_t min, uint64_t max,
	      uint64_t *v)
{
	int r = config_parse_u64(s, v);

	if (r == -EINVAL)
		return config_err(p, kw, "%s is not a decimal number", s);
	if (r == -ERANGE || *v < min || *v > max)
		return config_err(p, kw, "%s is out of range %" PRIu64 "..%" PRIu64, s, min, max);
	return 0;
}

static int
config_path(struct config_parser *p, const char *kw, const char *s, char *dst)
{
	if (s[0] != '/')
		return config_err(p, kw, "%s is not an absolute path", s);
	if (strlen(s) >= PATH_MAX)
		return config_err(p, kw, "path longer than %d bytes", PATH_MAX - 1);
	strcpy(dst, s);
	return 0;
}

static int
config_on_identity(struct config_parser *p, char **argv)
{
	struct identity id;
	const char *why;

	if (identity_parse(argv[1], IDENTITY_PURPOSE_FORBIDDEN, &id, &why) < 0)
		return config_err(p, argv[0], "%s: %s", argv[1], why);
	return identity_format(&id, p->c->identity, sizeof(p->c->identity));
}

static int
config_on_key(struct config_parser *p, char **argv)
{
	return config_path(p, argv[0], argv[1], p->c->key_path);
}

static int
config_on_cert(struct config_parser *p, char **argv)
{
	return config_path(p, argv[0], argv[1], p->c->cert_path);
}

static int
config_on_state(struct config_parser *p, char **argv)
{
	return config_path(p, argv[0], argv[1], p->c->state_path);
}

static int
config_on_control(struct config_parser *p, char **argv)
{
	return config_path(p, argv[0], argv[1], p->c->control_path);
}

static int
config_on_app_socket(struct config_parser *p, char **argv)
{
	return config_path(p, argv[0], argv[1], p->c->app_path);
}

static int
config_on_ca(struct config_parser *p, char **argv)
{
	struct config *c = p->c;
	struct config_ca *ca;
	const char *why;
	size_t i;

	if (!identity_domain_is_valid(argv[1], &why))
		return config_err(p, argv[0], "%s: %s", argv[1], why);
	if (c->ncas == CONFIG_MAX_CAS)
		return config_err(p, argv[0], "more than %d ca lines", CONFIG_MAX_CAS);
	ca = &c->cas[c->ncas];
	for (i = 0; argv[1][i]; i++)
		ca->domain[i] =
		    (argv[1][i] >= 'A' && argv[1][i] <= 'Z') ? argv[1][i] - 'A' + 'a' : argv[1][i];
	ca->domain[i] = '\0';
	for (i = 0; i < c->ncas; i++) {
		if (strcmp(c->cas[i].domain, ca->domain) == 0)
			return config_err(p, argv[0], "duplicate ca for %s", ca->domain);
	}
	if (config_path(p, argv[0], argv[2], ca->path) < 0)
		return -EINVAL;
	c->ncas++;
	return 0;
}

static bool
config_ifname_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

static int
config_on_interface(struct config_parser *p, char **argv)
{
	const char *s = argv[1];

	if (strlen(s) >= IFNAMSIZ)
		return config_err(p, argv[0], "name longer than %d characters", IFNAMSIZ - 1);
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return config_err(p, argv[0], "%s is not a valid interface name", s);
	for (const char *q = s; *q; q++) {
		if (!config_ifname_char_ok(*q))
			return config_err(p, argv[0],
					  "name contains a character other than A-Z, "
					  "a-z, 0-9, '.', '_' and '-'");
	}
	strcpy(p->c->interface, s);
	return 0;
}

/* A portable user name (POSIX's portable file name characters, not starting with '-'). */
static int
config_on_user(struct config_parser *p, char **argv)
{
	const char *s = argv[1];

	if (strlen(s) > CONFIG_USER_MAX)
		return config_err(p, argv[0], "name longer than %d characters", CONFIG_USER_MAX);
	if (s[0] == '-')
		return config_err(p, argv[0], "a user name cannot start with '-'");
	for (const char *q = s; *q; q++) {
		if (!config_ifname_char_ok(*q))
			return config_err(
			    p, argv[0],
			    "name contains a character other than A-Z, a-z, 0-9, '.', "
			    "'_' and '-'");
	}
	strcpy(p->c->user, s);
	return 0;
}

static int
config_on_port(struct config_parser *p, char **argv)
{
	uint64_t v;

	if (config_number(p, argv[0], argv[1], 1, 65535, &v) < 0)
		return -EINVAL;
	p->c->port = (uint16_t)v;
	return 0;
}

/* public-tcp PORT: the router forwards that external TCP port to our peer port. */
static int
config_on_public_tcp(struct config_parser *p, char **argv)
{
	uint64_t v;

	if (config_number(p, argv[0], argv[1], 1, 65535, &v) < 0)
		return -EINVAL;
	p->c->public_tcp = (uint16_t)v;
	return 0;
}

/* Zeroes the host bits of addr beyond len; true if any were set. */
static bool
config_mask_host_bits(uint8_t *addr, size_t alen, unsigned len)
{
	bool had = false;

	for (size_t i = 0; i < alen; i++) {
		unsigned keep = len >= (i + 1) * 8 ? 8 : (len > i * 8 ? len - (unsigned)i * 8 : 0);
		uint8_t mask = (uint8_t)(0xff00u >> keep);

		had |= (addr[i] & (uint8_t)~mask) != 0;
		addr[i] &= mask;
	}
	return had;
}

static int
config_prefix(struct config_parser *p, const char *kw, const char *s, int family, unsigned minlen,
	      unsigned maxlen, struct config_prefix *out)
{
	const char *what = family == AF_INET ? "IPv4 prefix a.b.c.d/LEN" : "IPv6 prefix X::/LEN";
	char addr[INET6_ADDRSTRLEN], masked[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = family == AF_INET ? 4 : 16;
	uint64_t len;
	int r;

	memset(out, 0, sizeof(*out));
	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return config_err(p, kw, "%s is not an %s", s, what);
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	r = config_parse_u64(slash + 1, &len);
	if (inet_pton(family, addr, out->addr) != 1 || r == -EINVAL)
		return config_err(p, kw, "%s is not an %s", s, what);
	if (r < 0 || len < minlen || len > maxlen)
		return config_err(p, kw, "prefix length %s is out of range %u..%u", slash + 1,
				  minlen, maxlen);
	out->family = family;
	out->len = (unsigned)len;
	if (config_mask_host_bits(out->addr, alen, out->len)) {
		inet_ntop(family, out->addr, masked, sizeof(masked));
		return config_err(p, kw, "%s has host bits set (did you mean %s/%u?)", s, masked,
				  out->len);
	}
	return 0;
}

static int
config_on_pool4(struct config_parser *p, char **argv)
{
	return config_prefix(p, argv[0], argv[1], AF_INET, CONFIG_POOL4_MIN_LEN,
			     CONFIG_POOL4_MAX_LEN, &p->c->pool4);
}

static int
config_on_pool6(struct config_parser *p, char **argv)
{
	return config_prefix(p, argv[0], argv[1], AF_INET6, CONFIG_POOL6_MIN_LEN,
			     CONFIG_POOL6_MAX_LEN, &p->c->pool6);
}

/* A TUN read of a packet longer than a buffer holds would be cut short, silently. */
_Static_assert((int)CONFIG_MAX_MTU <= (int)PKT_DATA_MAX, "the largest mtu fits a packet buffer");

static int
config_on_mtu(struct config_parser *p, char **argv)
{
	uint64_t v;

	if (config_number(p, argv[0], argv[1], CONFIG_MIN_MTU, CONFIG_MAX_MTU, &v) < 0)
		return -EINVAL;
	p->c->mtu = (unsigned)v;
	return 0;
}

static int
config_on_workers(struct config_parser *p, char **argv)
{
	uint64_t v;

	if (config_number(p, argv[0], argv[1], 0, CONFIG_MAX_WORKERS, &v) < 0)
		return -EINVAL;
	p->c->workers = (unsigned)v;
	return 0;
}

static int
config_on_rekey_sec(struct config_parser *p, char **argv)
{
	uint64_t v;

	if (config_number(p, argv[0], argv[1], CONFIG_MIN_REKEY_SEC, CONFIG_MAX_REKEY_SEC, &v) < 0)
		return -EINVAL;
	p->c->rekey_after_sec = (unsigned)v;
	return 0;
}

static int
config_on_rekey_packets(struct config_parser *p, char **argv)
{
	return config_number(p, argv[0], argv[1], CONFIG_MIN_REKEY_PACKETS, UINT64_MAX,
			     &p->c->rekey_after_packets);
}

static int
config_on_keepalive(struct config_parser *p, char **argv)
{
	uint64_t v;

	if (config_number(p, argv[0], argv[1], CONFIG_MIN_KEEPALIVE_SEC, CONFIG_MAX_KEEPALIVE_SEC,
			  &v) < 0)
		return -EINVAL;
	p->c->keepalive_sec = (unsigned)v;
	return 0;
}

static int
config_on_hooks(struct config_parser *p, char **argv)
{
	return config_path(p, argv[0], argv[1], p->c->hooks_dir);
}

static int
config_on_hook_timeout(struct config_parser *p, char **argv)
{
	uint64_t v;

	if (config_number(p, argv[0], argv[1], 1, CONFIG_MAX_HOOK_TIMEOUT_SEC, &v) < 0)
		return -EINVAL;
	p->c->hook_timeout_sec = (unsigned)v;
	return 0;
}

static int
config_on_peer(struct config_parser *p, char **argv)
{
	struct config *c = p->c;
	struct config_peer *peers;
	struct identity id;
	const char *why;
	char name[IDENTITY_STR_MAX];

	if (strcmp(argv[2], "{") != 0)
		return config_err(p, argv[0], "expected '{' after the identity, got %s", argv[2]);
	if (identity_parse(argv[1], IDENTITY_PURPOSE_FORBIDDEN, &id, &why) < 0)
		return config_err(p, argv[0], "%s: %s", argv[1], why);
	identity_format(&id, name, sizeof(name));
	for (size_t i = 0; i < c->npeers; i++) {
		if (strcmp(c->peers[i].identity, name) == 0)
			return config_err(p, argv[0], "duplicate peer %s", name);
	}
	if (c->npeers == CONFIG_MAX_PEERS)
		return config_err(p, argv[0], "more than %d peers", CONFIG_MAX_PEERS);
	if (c->npeers == p->peers_cap) {
		size_t cap = p->peers_cap ? p->peers_cap * 2 : 8;

		peers = realloc(c->peers, cap * sizeof(*peers));
		if (!peers)
			return config_err(p, argv[0], "out of memory");
		c->peers = peers;
		p->peers_cap = cap;
	}
	p->peer = &c->peers[c->npeers++];
	memset(p->peer, 0, sizeof(*p->peer));
	strcpy(p->peer->identity, name);
	p->peer_line = p->line;
	return 0;
}

static int
config_on_endpoint(struct config_parser *p, char **argv)
{
	struct config_peer *peer = p->peer;
	struct sockaddr_storage ss;

	if (sockaddr_parse(argv[1], &ss) < 0)
		return config_err(p, argv[0],
				  "%s is not a numeric a.b.c.d:PORT or [IPv6]:PORT endpoint "
				  "(port 1..65535)",
				  argv[1]);
	for (size_t i = 0; i < peer->nendpoints; i++) {
		if (sockaddr_equal(&peer->endpoints[i], &ss))
			return config_err(p, argv[0], "duplicate endpoint %s", argv[1]);
	}
	if (peer->nendpoints == CONFIG_MAX_ENDPOINTS)
		return config_err(p, argv[0], "more than %d endpoints for %s", CONFIG_MAX_ENDPOINTS,
				  peer->identity);
	peer->endpoints[peer->nendpoints++] = ss;
	return 0;
}

static int
config_on_server(struct config_parser *p, char **argv)
{
	struct config_server *srv = &p->c->server;

	srv->enabled = true;
	srv->discover = !strcmp(argv[1], "auto");
	if (!srv->discover && sockaddr_parse(argv[1], &srv->addr) < 0)
		return config_err(p, argv[0],
				  "%s is neither 'auto' nor a numeric a.b.c.d:PORT or [IPv6]:PORT",
				  argv[1]);
	return 0;
}

static int
config_on_purpose(struct config_parser *p, char **argv)
{
	struct config *c = p->c;
	const char *why = NULL;
	struct purpose *np;
	size_t argc = 0;

	while (argv[1 + argc])
		argc++;
	if (c->npurposes == PURPOSES_MAX)
		return config_err(p, argv[0], "more than %d purposes", PURPOSES_MAX);
	np = realloc(c->purposes, (c->npurposes + 1) * sizeof(*np));
	if (!np)
		return config_err(p, argv[0], "out of memory");
	c->purposes = np;
	if (purpose_parse(&np[c->npurposes], argv + 1, argc, &why))
		return config_err(p, argv[0], "%s", why);
	if (purpose_find(np, c->npurposes, np[c->npurposes].name))
		return config_err(p, argv[0], "duplicate purpose %s", np[c->npurposes].name);
	c->npurposes++;
	return 0;
}

static int
config_on_firewall(struct config_parser *p, char **argv)
{
	const char *why = NULL;
	size_t argc = 0;

	while (argv[1 + argc])
		argc++;
	if (policy_config_parse(&p->c->firewall, argv + 1, argc, &why))
		return config_err(p, argv[0], "%s", why);
	return 0;
}

static int
config_on_privacy(struct config_parser *p, char **argv)
{
	if (strcmp(argv[1], "on") && strcmp(argv[1], "off"))
		return config_err(p, argv[0], "%s is neither 'on' nor 'off'", argv[1]);
	p->c->privacy = !strcmp(argv[1], "on");
	return 0;
}

static int
config_on_cipher(struct config_parser *p, char **argv)
{
	if (strcmp(argv[1], "auto") && strcmp(argv[1], "chacha20-poly1305"))
		return config_err(p, argv[0], "%s is neither 'auto' nor 'chacha20-poly1305'",
				  argv[1]);
	p->c->chacha_only = !strcmp(argv[1], "chacha20-poly1305");
	return 0;
}

static int
config_on_userspace(struct config_parser *p, char **argv)
{
	if (strcmp(argv[1], "on") && strcmp(argv[1], "off"))
		return config_err(p, argv[0], "%s is neither 'on' nor 'off'", argv[1]);
	p->c->userspace = !strcmp(argv[1], "on");
	return 0;
}

/* The SOCKS5 server: loopback only, as a forward (no authentication: whoever reaches it uses
 * our approvals). */
static int
config_on_socks(struct config_parser *p, char **argv)
{
	const char *why;

	if (forward_parse_listen(argv[1], &p->c->socks, &why))
		return config_err(p, argv[0], "%s: %s", argv[1], why);
	return 0;
}

static int
config_on_forward(struct config_parser *p, char **argv)
{
	struct forward f;
	const char *why;
	int err;

	if (forward_parse(argv[1], argv[2], &f, &why))
		return config_err(p, argv[0], "%s %s: %s", argv[1], argv[2], why);
	if ((err = forward_table_add(&p->c->forwards, &f)))
		return config_err(p, argv[0], "%s: %s", argv[1],
				  err == -EEXIST ? "another forward listens there"
						 : "too many forwards (at most 32)");
	return 0;
}

static int
config_on_close(struct config_parser *p, char **argv)
{
	p->peer = NULL;
	return 0;
}

static const struct config_keyword config_keywords[] = {
	{ "identity", 1, SEEN_IDENTITY, false, "USER@DOMAIN", config_on_identity },
	{ "key", 1, SEEN_KEY, false, "PATH", config_on_key },
	{ "cert", 1, SEEN_CERT, false, "PATH", config_on_cert },
	{ "ca", 2, 0, false, "DOMAIN PATH", config_on_ca },
	{ "interface", 1, SEEN_INTERFACE, false, "NAME", config_on_interface },
	{ "port", 1, SEEN_PORT, false, "PORT", config_on_port },
	{ "public-tcp", 1, SEEN_PUBLIC_TCP, false, "PORT", config_on_public_tcp },
	{ "pool4", 1, SEEN_POOL4, false, "A.B.C.D/LEN", config_on_pool4 },
	{ "pool6", 1, SEEN_POOL6, false, "X::/LEN", config_on_pool6 },
	{ "state", 1, SEEN_STATE, false, "PATH", config_on_state },
	{ "control", 1, SEEN_CONTROL, false, "PATH", config_on_control },
	{ "app-socket", 1, SEEN_APP_SOCKET, false, "PATH", config_on_app_socket },
	{ "user", 1, SEEN_USER, false, "NAME", config_on_user },
	{ "mtu", 1, SEEN_MTU, false, "BYTES", config_on_mtu },
	{ "rekey-after-seconds", 1, SEEN_REKEY_SEC, false, "SECONDS", config_on_rekey_sec },
	{ "rekey-after-packets", 1, SEEN_REKEY_PACKETS, false, "COUNT", config_on_rekey_packets },
	{ "keepalive-seconds", 1, SEEN_KEEPALIVE, false, "SECONDS", config_on_keepalive },
	{ "workers", 1, SEEN_WORKERS, false, "COUNT", config_on_workers },
	{ "cipher", 1, SEEN_CIPHER, false, "auto|chacha20-poly1305", config_on_cipher },
	{ "server", 1, SEEN_SERVER, false, "auto|HOST:PORT", config_on_server },
	{ "purpose", -7, 0, false,
	  "NAME tcp|udp/PORT [-> ADDR:PORT] [allow WHO,...] [auto-approve]", config_on_purpose },
	{ "firewall", -3, 0, false,
	  "icmp-echo on|off | allow WHO PROTO/PORT[-PORT] | outbound-only WHO",
	  config_on_firewall },
	{ "privacy", 1, SEEN_PRIVACY, false, "on|off", config_on_privacy },
	{ "userspace", 1, SEEN_USERSPACE, false, "on|off", config_on_userspace },
	{ "socks", 1, SEEN_SOCKS, false, "127.0.0.1:PORT|[::1]:PORT", config_on_socks },
	{ "forward", 2, 0, false, "127.0.0.1:PORT USER@DOMAIN/PURPOSE", config_on_forward },
	{ "hooks", 1, SEEN_HOOKS, false, "DIR", config_on_hooks },
	{ "hook-timeout-seconds", 1, SEEN_HOOK_TIMEOUT, false, "SECONDS", config_on_hook_timeout },
	{ "peer", 2, 0, false, "IDENTITY {", config_on_peer },
	{ "endpoint", 1, 0, true, "HOST:PORT", config_on_endpoint },
	{ "}", 0, 0, true, "", config_on_close },
};

static const struct config_keyword *
config_keyword_find(const char *name)
{
	for (size_t i = 0; i < sizeof(config_keywords) / sizeof(config_keywords[0]); i++) {
		if (strcmp(config_keywords[i].name, name) == 0)
			return &config_keywords[i];
	}
	return NULL;
}

static int
config_dispatch(struct config_parser *p, int argc, char **argv)
{
	const struct config_keyword *kw = config_keyword_find(argv[0]);

	if (!kw)
		return config_err(p, argv[0], "unknown keyword");
	if (kw->in_peer && !p->peer)
		return config_err(p, argv[0], "only allowed inside a peer block");
	if (!kw->in_peer && p->peer)
		return config_err(p, argv[0],
				  "not allowed inside a peer block (missing '}' for "
				  "the peer on line %u?)",
				  p->peer_line);
	if (argc - 1 != kw->nargs && kw->nargs == 0)
		return config_err(p, argv[0], "expects no arguments");
	if (kw->nargs < 0 ? argc - 1 < 2 || argc - 1 > -kw->nargs : argc - 1 != kw->nargs)
		return config_err(p, argv[0], "expects %s", kw->usage);
	argv[argc] = NULL; /* variable-length keywords count their arguments */
	if (kw->seen & p->seen)
		return config_err(p, argv[0], "given more than once");
	p->seen |= kw->seen;
	return kw->fn(p, argv);
}

/* Splits a line (already checked for length and bytes) into blank-separated tokens. */
static int
config_tokenize(char *line, char **argv)
{
	int argc = 0;
	char *s = strchr(line, '#');

	if (s)
		*s = '\0';
	for (s = line;;) {
		s += strspn(s, " \t");
		if (!*s)
			return argc;
		if (argc == CONFIG_MAX_ARGS)
			return -E2BIG;
		argv[argc++] = s;
		s += strcspn(s, " \t");
		if (*s)
			*s++ = '\0';
	}
}

static int
config_parse_line(struct config_parser *p, const char *s, size_t n)
{
	char line[CONFIG_LINE_MAX + 1], *argv[CONFIG_MAX_ARGS + 1];
	int argc;

	if (n > CONFIG_LINE_MAX)
		return config_err(p, NULL, "line longer than %d bytes", CONFIG_LINE_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\0')
			return config_err(p, NULL, "line contains a NUL byte");
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return config_err(p, NULL, "line contains a control character (0x%02x)",
					  ch);
	}
	memcpy(line, s, n);
	line[n] = '\0';
	argc = config_tokenize(line, argv);
	if (argc == -E2BIG)
		return config_err(p, argv[0], "too many arguments");
	if (argc == 0)
		return 0;
	return config_dispatch(p, argc, argv);
}

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->interface, "vtx0");
	c->port = CONFIG_DEFAULT_PORT;
	c->pool4.family = AF_INET;
	c->pool4.addr[0] = 100;
	c->pool4.addr[1] = 64;
	c->pool4.len = 10;
	strcpy(c->state_path, "/var/lib/vertex/vertexd.db");
	strcpy(c->control_path, "/run/vertex/vertexd.sock");
	strcpy(c->app_path, "/run/vertex/vertexd-app.sock"); /* beside control, as it moves */
	c->mtu = CONFIG_DEFAULT_MTU;
	c->rekey_after_sec = CONFIG_DEFAULT_REKEY_SEC;
	c->rekey_after_packets = CONFIG_DEFAULT_REKEY_PACKETS;
	c->keepalive_sec = CONFIG_DEFAULT_KEEPALIVE_SEC;
	c->workers = CONFIG_DEFAULT_WORKERS;
	c->hook_timeout_sec = CONFIG_DEFAULT_HOOK_TIMEOUT_SEC;
}

/*
 * Ownership: *c must hold no peers (fresh, or after config_free()); on success the caller owns
 * c->peers and frees them with config_free(); on failure nothing is left allocated.
 */
int
config_parse_buf(const char *name, const char *buf, size_t len, struct config *c, char *err,
		 size_t errlen)
{
	struct config_parser p = {
		.name = name ? name : "(config)", .err = err, .errlen = errlen, .c = c
	};
	size_t off = 0;
	int r = 0;

	config_defaults(c);
	if (err && errlen)
		err[0] = '\0';
	while (off < len && r == 0) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;

		p.line++;
		r = config_parse_line(&p, buf + off, n);
		off += n + 1;
	}
	if (r == 0 && p.peer) {
		p.line = p.peer_line;
		r = config_err(&p, "peer", "unterminated peer block for %s", p.peer->identity);
	}
	if (r == 0 && !(p.seen & SEEN_APP_SOCKET) &&
	    appapi_default_path(c->control_path, c->app_path, sizeof(c->app_path))) {
		p.line = 0;
		r = config_err(&p, "control", "too long to derive app-socket from it");
	}
	if (r < 0)
		config_free(c);
	return r;
}

static int
config_read_file(int fd, char **out, size_t *outlen)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nbuf;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap >= CONFIG_FILE_MAX)
				goto err_big;
			nbuf = realloc(buf, cap * 2);
			if (!nbuf)
				goto err_nomem;
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err_io;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*outlen = len;
	return 0;
err_io:
	n = -errno;
	free(buf);
	return (int)n;
err_nomem:
	free(buf);
	return -ENOMEM;
err_big:
	free(buf);
	return -EFBIG;
}

/* Hooks live beside the config file unless `hooks DIR` says otherwise (absolute, resolved). */
static void
config_default_hooks(const char *path, struct config *c)
{
	char dir[PATH_MAX], *slash;

	if (!realpath(path, dir))
		return; /* it was just read: only a race; then no hooks */
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	snprintf(c->hooks_dir, sizeof(c->hooks_dir), "%s", dir);
}

int
config_parse_file(const char *path, struct config *c, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	config_defaults(c);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto err;
	}
	r = config_read_file(fd, &buf, &len);
	close(fd);
	if (r < 0)
		goto err;
	r = config_parse_buf(path, buf, len, c, err, errlen);
	free(buf);
	if (r == 0 && !c->hooks_dir[0])
		config_default_hooks(path, c);
	return r;
err:
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", path,
			 r == -EFBIG ? "file larger than 4 MiB" : strerror(-r));
	return r;
}

static int config_invalid(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
config_invalid(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int
config_validate(const struct config *c, char *err, size_t errlen)
{
	if (!c->identity[0])
		return config_invalid(err, errlen, "identity: missing (required)");
	if (!c->key_path[0])
		return config_invalid(err, errlen, "key: missing (required)");
	if (!c->cert_path[0])
		return config_invalid(err, errlen, "cert: missing (required)");
	if (c->ncas == 0)
		return config_invalid(err, errlen, "ca: at least one ca line is required");
	if (!strcmp(c->app_path, c->control_path))
		return config_invalid(err, errlen,
				      "app-socket: %s is the control socket's path too (they "
				      "must differ)",
				      c->app_path);
	for (size_t i = 0; i < c->npeers; i++) {
		if (strcmp(c->peers[i].identity, c->identity) == 0)
			return config_invalid(err, errlen, "peer: %s is this agent's own identity",
					      c->identity);
	}
	return 0;
}

void
config_free(struct config *c)
{
	if (!c)
		return;
	free(c->peers);
	c->peers = NULL;
	c->npeers = 0;
	free(c->purposes);
	c->purposes = NULL;
	c->npurposes = 0;
}
