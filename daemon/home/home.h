/* SPDX-License-Identifier: MIT */
/*
 * The agent's channel to its home server (the server of its own domain), when the config names
 * one (`server auto` or `server ADDRESS:PORT`): a record stream (control/stream.h) kept up with
 * backoff, over which the agent renews its certificate (authenticated by the current
 * certificate, never a password) and receives its domain's revocation list, and the modules
 * above ask their questions (notary questions today; contact requests next). Every message the
 * server sends is decoded once (proto/ctlmsg.h); CERT, CRL, PING/PONG and ERROR are the
 * channel's own, other types go to the handler registered for them (home_handle).
 *
 * States: DOWN (waiting to retry), CONNECTING, UP.
 * Timers (each started and stopped only here):
 *   retry_timer  after a failed or lost connection: exponential backoff from HOME_RETRY_MIN_MS
 *                to HOME_RETRY_MAX_MS with jitter, so a restarted server is not hit by every
 *                agent in the same second. Fires: find the server (DNS unless configured) and
 *                connect.
 *   ping_timer   every HOME_PING_MS while UP: a PING, so the server (which closes connections
 *                silent for SERVER_IDLE_MS) and any NAT keep the connection; a server silent for
 *                three of them counts as lost.
 *   renew_timer  at two thirds of the certificate's lifetime (at least HOME_RENEW_MIN_MS from
 *                now). Fires: send RENEW if UP, or renew as soon as the connection is up.
 *
 * A revocation list longer than a chunk is pulled the rest of the way, one chunk at a time
 * (control/crlpull.h); a whole list goes up through home_ops.on_crl, unverified: the domain's
 * CA is the judge (domains/domains.h).
 */
#ifndef VERTEX_HOME_H
#define VERTEX_HOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

struct cert_trust;
struct ctlmsg;
struct ev_loop;
struct home;
struct tls_ctx;

enum {
	HOME_RETRY_MIN_MS = 1000,
	HOME_RETRY_MAX_MS = 60000,
	HOME_PING_MS = 30000,
	HOME_RENEW_MIN_MS = 5000,
	HOME_NOTARY_QUEUE = 8,  /* notary questions held while the connection comes up */
	HOME_HANDLERS_MAX = 12, /* message types the modules above may register */
};

struct home_params {
	const char *identity;  /* ours, user@domain: the server is server@domain */
	const char *key_path;  /* our key, for renewal requests */
	const char *cert_path; /* where a renewed certificate is written */
	bool discover;         /* find the server through DNS (discover.h), else: */
	struct sockaddr_storage addr;
	/*
	 * How to reach the server at `to`: NULL for a TCP connection (with the domain as the TLS
	 * server name); else a descriptor of a stream connected or connecting to it, or -errno
	 * (a test's socketpair; later another transport).
	 */
	int (*dial)(void *dial_arg, const struct sockaddr_storage *to);
	void *dial_arg;
	/*
	 * For a TCP connection: dial from this local port (0: any), beside our listener on it
	 * (core/dial.h dial_socket_from), so that the server's CTL_OBSERVED names our NAT's
	 * mapping of that port; if it is taken for that destination (a connection of ours still in
	 * TIME_WAIT there), from any port.
	 */
	uint16_t local_port;
};

struct home_ops {
	/* Our domain's revocation list arrived whole (DER, borrowed) from the server at `from`. */
	void (*on_crl)(void *arg, const char *domain, const uint8_t *der, size_t len,
		       const char *from);
	/* The connection came up (up) or went away (may be NULL). */
	void (*on_state)(void *arg, bool up);
};

/* A decoded message of a registered type from the server (borrowed). */
typedef void (*home_msg_fn)(void *arg, const struct ctlmsg *m);

/* Borrows loop, tls, trust and params' strings. Nothing happens before home_start. */
int home_new(struct home **out, struct ev_loop *loop, struct tls_ctx *tls, struct cert_trust *trust,
	     const struct home_params *params, const struct home_ops *ops, void *arg);
/* Messages of type (not the channel's own) go to fn. -EEXIST, -ENOSPC. */
int home_handle(struct home *h, uint16_t type, home_msg_fn fn, void *arg);
/* Schedules the renewal and connects. */
void home_start(struct home *h);
/* Closes the connection, stops every timer and frees. NULL is ignored. */
void home_free(struct home *h);

/*
 * Asks the server what CA it sees for domain (the answer comes to the CTL_NOTARY handler).
 * While the connection comes up the question waits for it (HOME_NOTARY_QUEUE at most). False if
 * it cannot be asked.
 */
bool home_ask_notary(struct home *h, const char *domain);
/*
 * Sends m to the server now (contact requests, answers, relay records); false if the connection
 * is not up or its output is full (the caller counts or answers). Never queued for later.
 */
bool home_send_msg(struct home *h, const struct ctlmsg *m);
/* Bytes waiting to go to the server: what the relay's frames are dropped above. */
size_t home_pending_output(const struct home *h);
bool home_is_up(const struct home *h);
/* The address of the server we are connected to; false when not up. */
/* len bytes of the connection's TLS exporter for label (RFC 8446 7.5); 0 or -errno (not up). */
int home_export(const struct home *h, const char *label, uint8_t *out, size_t len);
bool home_server_addr(const struct home *h, struct sockaddr_storage *out);
/* "server", "server_address", "server_state", "crl_number", "last_renewal" lines. */
void home_status(const struct home *h, FILE *f);

#endif
