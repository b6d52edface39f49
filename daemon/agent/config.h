/* SPDX-License-Identifier: MIT */
/*
 * vertexd's configuration: one strict grammar (STYLE §21). A line is a keyword and its
 * arguments, '#' starts a comment, blank lines are ignored; a peer is a block:
 *
 *   identity    alice@a.example.com
 *   key         /etc/vertex/alice.key
 *   cert        /etc/vertex/alice.crt
 *   ca          a.example.com /etc/vertex/a.example.com.crt     # repeatable: trusted domain CAs
 *   interface   vtx0
 *   port        4800                      # UDP and TCP, on all addresses
 *   public-tcp  4900                      # the router forwards this TCP port to `port`
 *   pool4       100.64.0.0/10
 *   pool6       fd00:1234:5678::/48       # default: a random ULA /48 chosen at first start
 *   state       /var/lib/vertex/vertexd.db
 *   control     /run/vertex/vertexd.sock
 *   user        vertex                    # run as this user after start-up (with CAP_NET_ADMIN)
 *   mtu         1420                      # default derived from the framing overhead
 *   rekey-after-seconds  120
 *   rekey-after-packets  1000000000
 *   keepalive-seconds    10
 *   workers     0                         # threads sealing/opening data frames; 0: the loop
 *   cipher      auto                      # data frames: AES-256-GCM with a peer whose CPU
 *                                         # has it too, else ChaCha20-Poly1305 (or only that)
 *   server      auto                      # or ADDRESS:PORT: keep a connection to the home
 *                                         # server (renewal, revocation); absent: static only
 *
 *   purpose     ssh tcp/22 allow @a.example.com,carol@c.example.org   # repeatable, at most 64:
 *   purpose     web tcp/80 auto-approve   # what others may ask us for (rendezvous/purpose.h)
 *   privacy     on                        # refusals are not answered (they end as timeouts)
 *
 *   peer bob@b.example.com {
 *       endpoint 198.18.0.2:4800
 *       endpoint [fd00::2]:4800
 *   }
 *
 * Unknown keywords, repeated single-valued keywords, bad values and bad syntax are errors that
 * name the file, line and keyword. config_print() writes the normalised form, which parses back
 * to an equal struct config.
 */
#ifndef VERTEX_CONFIG_H
#define VERTEX_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "core/sockaddr.h"
#include "forward/forward.h"
#include "policy/policy.h"
#include "rendezvous/purpose.h"
#include "trust/identity.h"

enum {
	CONFIG_MAX_ENDPOINTS = 8,
	CONFIG_MAX_CAS = 32,
	CONFIG_MAX_PEERS = 1024,
	CONFIG_DEFAULT_PORT = 4800,
	CONFIG_DEFAULT_MTU = 1420, /* 1500 - IPv6 (40) - UDP (8) - frame overhead (32) */
	CONFIG_DEFAULT_REKEY_SEC = 120,
	CONFIG_DEFAULT_KEEPALIVE_SEC = 10,
	CONFIG_DEFAULT_HOOK_TIMEOUT_SEC = 10, /* hooks/hooks.h */
	CONFIG_MAX_HOOK_TIMEOUT_SEC = 3600,
	CONFIG_USER_MAX = 32,
	CONFIG_MIN_MTU = 1280,
	CONFIG_MAX_MTU = 1920,      /* PKT_DATA_MAX: the largest inner packet a buffer holds */
	CONFIG_DEFAULT_WORKERS = 0, /* docs/performance.md, "More than one core" */
	CONFIG_MAX_WORKERS = 8,     /* CRYPTO_POOL_MAX_WORKERS */
};
#define CONFIG_DEFAULT_REKEY_PACKETS (1ull << 30)

struct config_ca {
	char domain[IDENTITY_DOMAIN_MAX + 1];
	char path[PATH_MAX];
};

struct config_prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned len;
};

/* The home server: found through DNS ("auto") or given; disabled for static deployments. */
struct config_server {
	bool enabled;
	bool discover;
	struct sockaddr_storage addr;
};

struct config_peer {
	char identity[IDENTITY_STR_MAX]; /* normalised user@domain */
	struct sockaddr_storage endpoints[CONFIG_MAX_ENDPOINTS];
	size_t nendpoints;
};

struct config {
	char identity[IDENTITY_STR_MAX];
	char key_path[PATH_MAX];
	char cert_path[PATH_MAX];
	struct config_ca cas[CONFIG_MAX_CAS];
	size_t ncas;
	char interface[IFNAMSIZ];
	uint16_t port;
	uint16_t public_tcp; /* an external TCP port the router forwards to `port`; 0: none */
	struct config_prefix pool4;
	struct config_prefix pool6; /* family 0 when not configured: the store picks a ULA */
	char state_path[PATH_MAX];
	char control_path[PATH_MAX];
	char app_path[PATH_MAX];        /* the application interface; default beside control_path */
	char user[CONFIG_USER_MAX + 1]; /* "" : stay root (with CAP_NET_ADMIN only) */
	unsigned mtu;
	unsigned rekey_after_sec;
	uint64_t rekey_after_packets;
	unsigned keepalive_sec;
	unsigned workers; /* AEAD worker threads (dataplane/crypto_pool.h); 0: inline */
	bool chacha_only; /* `cipher chacha20-poly1305`: never offer AES-256-GCM (session.h) */
	struct config_server server;
	struct config_peer *peers; /* owned; config_free() releases */
	size_t npeers;
	struct purpose *purposes; /* owned; config_free() releases */
	size_t npurposes;
	bool privacy;
	/* Lifecycle hooks (docs/hooks.md): their directory, by default the config file's (set by
	 * config_parse_file; "": none), and each hook's time limit. */
	char hooks_dir[PATH_MAX];
	unsigned hook_timeout_sec;
	struct policy_config firewall; /* the `firewall` lines (policy/policy.h) */
	/* Userspace mode (docs/userspace.md): lwIP instead of a TUN device, no privileges. */
	bool userspace;
	struct sockaddr_storage socks; /* the SOCKS5 server's loopback address; family 0: none */
	struct forward_table forwards; /* the `forward` lines (forward/forward.h) */
};

/* Fills *c with defaults (no identity, no peers). */
void config_defaults(struct config *c);
/*
 * Parses a file or a buffer into *c (which it initialises with defaults first). On error returns
 * -EINVAL (or -errno for I/O) and writes "FILE:LINE: keyword: reason" into err.
 * name is the file name to report for a buffer.
 */
int config_parse_file(const char *path, struct config *c, char *err, size_t errlen);
int config_parse_buf(const char *name, const char *buf, size_t len, struct config *c, char *err,
		     size_t errlen);
/* Checks what a complete agent config needs (identity, key, cert, at least one ca). */
int config_validate(const struct config *c, char *err, size_t errlen);
int config_print(const struct config *c, FILE *out);
bool config_equal(const struct config *a, const struct config *b);
void config_free(struct config *c);

/* Strict decimal: digits only, no sign, no blanks. 0, -EINVAL, or -ERANGE if it does not fit. */
int config_parse_u64(const char *s, uint64_t *v);

#endif
