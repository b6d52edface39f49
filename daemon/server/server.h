/* SPDX-License-Identifier: MIT */
/*
 * vertex-server: one domain's server (DESIGN §2). Its files:
 *
 *   vertex-server.c  the command line: run, init, user, invite, revoke
 *   admin.c          the administrative verbs (they work on the state directory directly)
 *   run.c            the daemon's start and stop: each domain loaded (one or several), the loop
 *   serve.c          the daemon: TLS listener, connections, HELLO, dispatch, keepalives
 *   enrol.c          enrolment and renewal: rate limits, secrets, CSR checks, issuing
 *   revocation.c     the domain's signed revocation list: built from the store, republished
 *                    when an administrator revokes someone
 *   federation.c     other domains: their CAs pinned and anchored (with their revocation
 *                    lists), the notary, certificates of other domains' agents and servers
 *   crosscheck.c     a first use of another domain's CA, cross-checked with the servers of
 *                    the domains already pinned, before federation.c pins it
 *   rendezvous.c     contact requests and answers (CONTACT, ANSWER): the hop checks, the
 *                    pending requests (pending.c), the approvals they leave (approvals.c)
 *   relay.c          RELAY, RELAY_FRAME and OFFER between approved pairs, bounded
 *   peering.c        the connections to other domains' servers that carry the two above
 *
 * The state directory holds ca.key, ca.crt (the domain CA), server.key, server.crt (the server's
 * own identity, server@DOMAIN) and server.db (accounts.h). Keys are mode 0600.
 */
#ifndef VERTEX_SERVER_H
#define VERTEX_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/ev.h"
#include "core/log.h"
#include "trust/identity.h"

struct accounts;
struct cert_ca;
struct cert_trust;
struct ctlmsg;
struct federation;
struct reflect;
struct relay_udp;
struct relay_udp_conn;
struct listener;
struct addrcount;
struct ratelimit;
struct rdv;
struct stream;
struct store;
struct tls_ctx;

enum {
	SERVER_DEFAULT_CERT_SEC = 7 * 86400, /* agent certificates: days, not a year */
	SERVER_CERT_SKEW_SEC = 300,          /* not-before this far back, for clock skew */
	SERVER_IDLE_MS = 120000,             /* a connection silent this long is closed */
	SERVER_MAX_CONNS = 20000,
	SERVER_ACCEPT_PAUSE_MS = 500,     /* after running out of descriptors */
	SERVER_REVOCATION_POLL_MS = 2000, /* how often the store is checked for new revocations */
	/*
	 * Enrolment attempts (enrol.c). Per source network (an IPv4 address, an IPv6 /64): 20,
	 * then one per 5 s. Per (network, account): 5, then one per 30 s, which is what slows a
	 * guesser. Per account from everywhere: 60, then one per 10 s (8,640 a day), large enough
	 * that to keep a real user locked out an attacker must keep more than three networks
	 * busy on that one name (docs/server.md, "Limits").
	 */
	SERVER_ENROL_BURST_PAIR = 5,
	SERVER_ENROL_BURST_SOURCE = 20,
	SERVER_ENROL_BURST_USER = 60,
	SERVER_RATELIMIT_KEYS = 65536, /* keys each enrolment limit tracks */
	/*
	 * Connections from one network (an IPv4 address, an IPv6 /64) that have not said HELLO
	 * yet: a handshake takes milliseconds, so only a crowd of silent or slow clients comes
	 * near this, and one source cannot take the SERVER_MAX_CONNS places from everyone else.
	 */
	SERVER_PREHELLO_PER_SOURCE = 64,
	/*
	 * Connections from one network for their whole life, HELLO or not: at most this, and at
	 * most a sixteenth of the capacity (at least 4), so sixteen networks are needed to fill the
	 * server. A NAT with a hundred agents behind it still fits.
	 */
	SERVER_CONNS_PER_SOURCE = 256,
	SERVER_SOURCE_SHARE_DIV = 16,
	/*
	 * Anonymous connections (no client certificate: enrolment, a CA or a revocation list
	 * fetched unverified) do a few exchanges and go: at most SERVER_ANON_PER_SOURCE from one
	 * network, a quarter of the capacity in all, each closed SERVER_ANON_LIFETIME_MS after its
	 * TLS handshake, or after SERVER_ANON_IDLE_MS without a record.
	 */
	SERVER_ANON_PER_SOURCE = 8,
	SERVER_ANON_SHARE_DIV = 4,
	SERVER_ANON_LIFETIME_MS = 30000,
	SERVER_ANON_IDLE_MS = 10000,
	/*
	 * Descriptors kept out of the connection capacity: the listener, the loop's epoll and
	 * signalfd, each domain's stores (database, journal), the offload jobs' eventfds and DNS
	 * sockets (OFFLOAD_MAX_THREADS each), the server's own outgoing queries, logs.
	 */
	SERVER_FD_RESERVE = 160,
	/* NOTARY_REQs from one network (each a store lookup on the loop): burst, then the rate. */
	SERVER_NOTARY_BURST_SOURCE = 64,
	/*
	 * Certificates one account may hold that have not expired, revoked ones included
	 * (enrolments and renewals alike): each can sit on the revocation list until it expires,
	 * so this bounds what one user can add to the list (accounts_cert_issue). An agent renews
	 * at two thirds of a lifetime, so it holds at most two; the rest is room for re-enrolling.
	 */
	SERVER_CERTS_PER_ACCOUNT = 6,
};
#define SERVER_ENROL_RATE_PAIR    (1.0 / 30)
#define SERVER_ENROL_RATE_SOURCE  (1.0 / 5)
#define SERVER_ENROL_RATE_USER    (1.0 / 10)
#define SERVER_NOTARY_RATE_SOURCE 8.0 /* NOTARY_REQs per second per network */
/* Reflection answers (reflect.c) per source network: burst, then per second. */
#define SERVER_REFLECT_BURST 20.0
#define SERVER_REFLECT_RATE  10.0

/* File names inside the state directory. */
#define SERVER_CA_KEY  "ca.key"
#define SERVER_CA_CERT "ca.crt"
#define SERVER_KEY     "server.key"
#define SERVER_CERT    "server.crt"
#define SERVER_DB      "server.db"
/*
 * A counter in the store's meta table, bumped by `vertex-server trust pin|forget`: the running
 * server sees it change within SERVER_REVOCATION_POLL_MS and re-reads the pins it relies on.
 */
#define SERVER_PINS_SERIAL "pins_serial"

enum { SERVER_MAX_HOSTED = 15 }; /* other domains one process may serve (run --also) */

/*
 * The relay's bounds (relay.c): a token bucket in bytes per pair and again per sending agent,
 * RELAY_DEFAULT_RATE bytes per second (run --relay-rate) with a burst of RELAY_BURST, or of one
 * second's worth (at least RELAY_BURST_MIN) when the rate is lower; a RELAY_FRAME is dropped when
 * its next hop has more than RELAY_FRAME_QUEUE_MAX bytes waiting, which leaves the rest of the
 * stream's STREAM_WBUF_SIZE to the byte streams (RELAY), which are never dropped.
 */
enum {
	RELAY_DEFAULT_RATE =
	    256 * 1024 * 1024, /* 2.1 Gbit/s: above what one pair moves (perf.md) */
	RELAY_BURST = 4 * 1024 * 1024,
	PEERING_IDLE_DEFAULT_S = 600, /* run --peering-idle: an idle peering link closes */
	RELAY_BURST_MIN = 32 * 1024,
	RELAY_FRAME_QUEUE_MAX = 128 * 1024,
};

struct server_opts {
	char dir[PATH_MAX];
	uint16_t port;
	unsigned cert_seconds;               /* validity of the certificates it issues */
	const char *also[SERVER_MAX_HOSTED]; /* state directories of the other domains served */
	unsigned nalso;
	bool private_mode;       /* run --private: unknown and offline users answered as timeout */
	uint64_t relay_rate;     /* run --relay-rate: bytes per second; 0 is RELAY_DEFAULT_RATE */
	unsigned peering_idle_s; /* run --peering-idle: seconds; 0 is PEERING_IDLE_DEFAULT_S */
	/* run --alt-address: a second address of the host, IPv4 [0] and IPv6 [1], from which
	 * reflection answers the NAT tests that need one (reflect.c); family 0: none */
	struct sockaddr_storage alt[2];
};

/* A token bucket in bytes (relay.c); the fields are private. */
struct relay_bucket {
	uint64_t tokens; /* milli-bytes */
	uint64_t last_ms;
	uint64_t rate;  /* bytes per second */
	uint64_t burst; /* bytes */
};

struct sconn;

/*
 * One domain being served. A process serves one (the primary, whose state directory is -D) or
 * several: the others are hosted, listed from the primary, and share its event loop and
 * listener; a client names the domain it wants in TLS (SNI), and its connection moves to that
 * domain's server once the handshake is done. Everything else is per domain.
 */
struct server {
	struct server_opts opts;
	char domain[IDENTITY_DOMAIN_MAX + 1];
	struct server *primary;     /* owns the loop, the listener, the connection count */
	struct server *hosted;      /* primary only: the other domains */
	struct server *next_hosted; /* in the primary's list */
	struct ev_loop *loop;
	struct cert_ca *ca;
	struct cert_trust *trust;
	struct tls_ctx *tls;
	struct accounts *acc;
	struct ratelimit *rl_user, *rl_source, *rl_pair; /* enrolment attempts (enrol.c) */
	struct listener *listener; /* the primary's; NULL in the domains it also serves */
	struct sconn *conns;
	unsigned nconns;             /* primary: of every domain served */
	struct addrcount *prehello;  /* primary: connections before HELLO, per source network */
	struct addrcount *by_source; /* primary: every connection, per source network */
	struct addrcount *anon;      /* primary: connections without a certificate, per network */
	struct ratelimit *rl_notary; /* primary: NOTARY_REQs per source network */
	/* primary: limits derived at start from the descriptors really obtained (serve_listen) */
	unsigned capacity, per_source, anon_per_source, anon_max, nanon;
	unsigned long fd_limit;
	struct sconn *dead; /* closed this turn, freed before the loop sleeps */

	/* The current signed revocation list, pushed to agents when it changes. */
	uint8_t *crl;
	size_t crl_len;
	uint64_t crl_number;
	int64_t crl_issued;
	uint64_t crl_unpublished; /* a list number that could not be signed (said once) */
	struct ev_timer revocation_timer;

	struct federation *federation;
	struct reflect *reflect;     /* primary: the UDP reflection socket (reflect.c) */
	struct relay_udp *relay_udp; /* primary: the relay's datagrams (relay_udp.c) */
	struct rdv *rdv;             /* rendezvous and relay (rendezvous.c, relay.c, peering.c) */

	uint64_t enrolled, renewed, refused;
	struct log_ratelimit refusal_rl;
};

/* A client connection: an agent (enrolling, or authenticated by its certificate). */
struct sconn {
	struct server *srv;
	struct stream *s;
	struct sconn *next;
	char peer[IDENTITY_STR_MAX];  /* the verified certificate's identity, "" if none */
	char addr[64];                /* the remote address and port, for logs */
	char host[64];                /* the remote address alone: the rate-limit key */
	uint8_t fpr[32];              /* the verified certificate's fingerprint */
	char net[64];                 /* its network (addrcount_net): the per-source key */
	struct sockaddr_storage from; /* the remote address, counted in prehello until HELLO */
	bool prehello;                /* counted there */
	bool anon;                    /* no certificate: counted in anon, lifetime armed */
	struct ev_timer lifetime;     /* anonymous connections: SERVER_ANON_LIFETIME_MS */
	bool hello;                   /* CTL_HELLO received */
	uint8_t role;                 /* what it said it is in HELLO (enum ctl_role) */
	bool hello_held; /* a server whose certificate is still being judged: our HELLO waits */
	struct relay_bucket relay;   /* what this agent may send through the relay */
	struct relay_udp_conn *rudp; /* its relay datagrams' ticket and key (relay_udp.c) */
	bool closed;                 /* its stream is gone; freed at the end of the loop turn */
	bool salt_asked;             /* it sent a SALT_REQ (one per connection, enrol.c) */
};

/* vertex-server.c helpers shared by the verbs */
struct option;
int server_path(const struct server_opts *o, const char *name, char *out, size_t len);
/* A whole number from 1 to max. */
int server_parse_uint(const char *s, unsigned max, unsigned *out);
/* Prints "vertex-server VERB: WHY (see 'vertex-server VERB --help')"; returns 2. */
int server_usage_error(const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* getopt_long that reports a bad option itself (then returns '?'). */
int server_getopt(const char *verb, int argc, char **argv, const char *shortopts,
		  const struct option *opts);

/* admin.c: init, and the verbs user, invite and revoke (argv[0] is the verb) */
int admin_init(const char *dir, const char *domain, unsigned ca_days);
int admin_cmd_user(struct server_opts *o, int argc, char **argv);
int admin_cmd_invite(struct server_opts *o, int argc, char **argv);
int admin_cmd_revoke(struct server_opts *o, int argc, char **argv);
extern const char admin_user_help[], admin_invite_help[], admin_revoke_help[];
/* The store's path in o->dir, if it exists (else says so, and -ENOENT). */
int admin_db_path(const struct server_opts *o, char *db, size_t len);
/*
 * At start: the server's own certificate (server@DOMAIN) is in the certs table (recorded now
 * if an older init did not), and if it was revoked, the server makes itself a new key and
 * certificate. 0 or -errno.
 */
int admin_server_cert_check(const struct server_opts *o, struct accounts *acc);

/* admin_trust.c: the verb trust (list, show, forget, pin) */
int admin_cmd_trust(struct server_opts *o, int argc, char **argv);
extern const char admin_trust_help[];

/* The next domain served by the process of primary p after s (p first), NULL after the last. */
static inline struct server *
server_next_domain(const struct server *p, const struct server *s)
{
	return s == p ? p->hosted : s->next_hosted;
}

/* run.c: loads every domain, listens, runs until SIGTERM/SIGINT, frees; 0 or -errno. */
int serve_run(struct server *srv);

/* serve.c */
/* The primary's listener on opts.port (IPv6, dual-stack), accepting for every domain. */
int serve_listen(struct server *srv);
/*
 * Sending and closing go through these: a connection may be closed by anything (a failed send
 * on it, a revocation), and code that still holds it, even in another callback, must find it
 * merely dead, not freed. A dead connection ignores sends; it is freed when the turn ends.
 */
bool sconn_send(struct sconn *c, const struct ctlmsg *m);
void sconn_close(struct sconn *c, const char *why);
void sconn_send_error(struct sconn *c, uint16_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sends the chunk of the current revocation list at offset (< srv->crl_len). */
bool serve_send_crl_chunk(struct sconn *c, uint32_t offset);

/* enrol.c */
void enrol_handle(struct sconn *c, const struct ctlmsg *m);
void enrol_handle_renew(struct sconn *c, const struct ctlmsg *m);
/* SALT_REQ: the salt and cost of the account's password, or dummy ones (indistinguishable). */
void enrol_handle_salt(struct sconn *c, const struct ctlmsg *m);

/* federation.c */
/* key and cert: what this server presents to other domains' servers (server@DOMAIN). */
int federation_open(struct server *srv, const char *db_path, const char *key, const char *cert);
void federation_close(struct server *srv);
void federation_notary(struct sconn *c, const char *domain);
/* The client presented a certificate of another domain (deferred by TLS): judge it. */
void federation_foreign_cert(struct sconn *c);
/*
 * peering.c needs domain's CA trusted: starts its first contact (fetched, cross-checked, pinned:
 * as for an agent's) unless one runs; peering_on_settled says how it went. NULL, or why not (in
 * buf).
 */
const char *federation_want(struct server *srv, const char *domain, char *buf, size_t len);
/* The connection is going away: drop its pending queries. */
void federation_forget(struct server *srv, struct sconn *c);
/*
 * Polled with the revocation list: if the administrator changed pins, every domain whose pin
 * is gone or names another CA stops being trusted until its next contact is checked anew.
 */
void federation_pins_poll(struct server *srv);
/* The administrators' change counter of the pins in a store (SERVER_PINS_SERIAL); 0: never. */
uint64_t federation_pins_serial(struct store *pins);

/* rendezvous.c */
/* Opens the approvals in the store at db_path and starts the timers. 0 or -errno. */
int rdv_open(struct server *srv, const char *db_path);
/* Logs the counters and frees everything (the peering connections too). */
void rdv_close(struct server *srv);
/* The store poll (revocation.c's timer): picks up approvals another process purged. */
void rdv_store_poll(struct server *srv);
/* CONTACT, ANSWER, RELAY, RELAY_FRAME, OFFER from connection c (any kind). */
void rdv_dispatch(struct sconn *c, const struct ctlmsg *m);
/*
 * serve.c: c said HELLO as an agent (with its certificate): records for its identity go to it,
 * the newest, from now on. rdv_agent_down: c is closing (any connection may be passed).
 */
void rdv_agent_up(struct sconn *c);
void rdv_agent_down(struct sconn *c);

/* relay.c */
void relay_bucket_init(struct relay_bucket *b, uint64_t rate, uint64_t now_ms);
/* True (and bytes spent) if bytes may pass now. */
bool relay_bucket_take(struct relay_bucket *b, size_t bytes, uint64_t now_ms);

/* peering.c: federation.c settled domain (anchored: its CA is trusted now). */
void peering_on_settled(struct server *srv, const char *domain, bool anchored);

/* serve.c: a held HELLO (sconn.hello_held) is answered now that its certificate is judged. */
void serve_hello_release(struct sconn *c);

/* relay_udp.c: the relay's datagrams (proto/relayudp.h), counted by what became of them. */
struct relay_udp_stats {
	uint64_t frames_rx, frames_tx, binds, pairs;
	uint64_t malformed, unknown_ticket, wrong_source, bad_mac, replayed, unknown_handle,
	    send_failed;
	uint64_t pairs_expired; /* our links' pair handles freed after RUDP_PAIR_IDLE_MS idle */
};
/* c said HELLO as an agent of ours or another domain's server (verified): its ticket and key,
 * from its TLS exporter. */
void relay_udp_conn_up(struct sconn *c);
void relay_udp_conn_down(struct sconn *c);
/* A datagram of ours (rudp_is_rudp) on fd, the primary's UDP socket, from `from`. */
void relay_udp_on_datagram(struct server *srv, int fd, const uint8_t *buf, size_t len,
			   const struct sockaddr_storage *from, socklen_t fl);
/* Sends the datagrams queued this loop turn (the before-sleep hook, and the reflection socket
 * after each batch it read). */
void relay_udp_flush(struct server *srv);
/* The counts so far; NULL before the first agent connection. */
const struct relay_udp_stats *relay_udp_stats(struct server *srv);
/* Logs the counts and frees (the primary's, at exit). */
void relay_udp_close(struct server *srv);

/* reflect.c: the primary's UDP socket on its port, answering reflection requests. */
int reflect_open(struct server *srv);
void reflect_close(struct server *srv);
/* The socket on the port (the relay's datagrams leave from it), or -1. */
int reflect_fd(const struct server *srv);

/* revocation.c */
int revocation_publish(struct server *srv);
void revocation_start(struct server *srv);

#endif
