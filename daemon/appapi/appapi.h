/* SPDX-License-Identifier: MIT */
/*
 * The application interface (docs/app-api.md): a local UNIX stream socket on which a program
 * asks for a peer's purpose by name and receives a connected stream socket (SCM_RIGHTS), or
 * registers one of our purposes and is handed each approved incoming connection with the
 * caller's verified identity.
 *
 * The protocol is one short text line each way, at most APPAPI_LINE_MAX bytes with its '\n':
 *
 *   connect USER@DOMAIN/PURPOSE  ->  ok ADDRESS PORT            + the connected socket
 *                                    error CODE MESSAGE
 *   listen PURPOSE               ->  ok PURPOSE
 *                                    accept USER@DOMAIN ADDRESS PORT   + the socket, for each
 *                                    error CODE MESSAGE
 *
 * This module knows the grammar and serves the socket: callers checked with SO_PEERCRED (root
 * or our own user), at most APPAPI_MAX_CLIENTS, a request line in APPAPI_REQUEST_TIMEOUT_MS,
 * anything malformed answered `error bad-request ...` and closed. How a connection is made is
 * not its business: the ops (the agent's wiring) open it, over the kernel in TUN mode, and hand
 * the descriptor back, so a userspace stack can serve the same interface.
 */
#ifndef VERTEX_APPAPI_H
#define VERTEX_APPAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trust/identity.h"

struct ev_loop;
struct appapi;
struct appapi_client;

enum {
	APPAPI_LINE_MAX = 512, /* bytes of a line, '\n' included, either way */
	APPAPI_MAX_CLIENTS = 64,
	APPAPI_REQUEST_TIMEOUT_MS = 5000, /* to send the request line */
	APPAPI_QUEUE_MAX = 16,            /* answers (with their sockets) a client has not read */
	APPAPI_ADDR_MAX = 46,             /* INET6_ADDRSTRLEN */
	APPAPI_MESSAGE_MAX = 400,
};

enum appapi_verb { APPAPI_CONNECT = 1, APPAPI_LISTEN = 2 };

/* The error codes, each a word on the wire (appapi_code_name). */
enum appapi_code {
	APPAPI_E_BAD_REQUEST = 1, /* not a request of the grammar */
	APPAPI_E_NOT_APPROVED,    /* the peer has not approved this purpose for us */
	APPAPI_E_UNKNOWN_PURPOSE, /* listen: not one of our purposes (or not tcp) */
	APPAPI_E_NOT_UP,          /* no session with the peer right now */
	APPAPI_E_REFUSED,         /* the peer's port refused the connection */
	APPAPI_E_TIMEOUT,         /* no connection within the time limit */
	APPAPI_E_UNREACHABLE,     /* any other failure to connect */
	APPAPI_E_IN_USE,          /* listen: another program listens on that purpose */
	APPAPI_E_UNAVAILABLE,     /* our side cannot do it now (resources, rendezvous off) */
	APPAPI_E_PERMISSION,      /* the caller is neither root nor the agent's user */
	APPAPI_CODE_COUNT
};

struct appapi_request {
	int verb;                    /* enum appapi_verb */
	char peer[IDENTITY_STR_MAX]; /* connect: canonical user@domain */
	char purpose[IDENTITY_PURPOSE_MAX + 1];
};

enum appapi_kind { APPAPI_ANSWER_OK = 1, APPAPI_ANSWER_ACCEPT = 2, APPAPI_ANSWER_ERROR = 3 };

/* An answer as a client reads it. */
struct appapi_answer {
	int kind;                               /* enum appapi_kind */
	char peer[IDENTITY_STR_MAX];            /* accept */
	char purpose[IDENTITY_PURPOSE_MAX + 1]; /* ok to listen */
	char addr[APPAPI_ADDR_MAX];             /* ok to connect, accept */
	uint16_t port;                          /* ok to connect, accept */
	int code;                               /* error: enum appapi_code, 0 if unknown */
	char code_name[24];                     /* error: the word as sent */
	char message[APPAPI_MESSAGE_MAX];       /* error */
};

/*
 * A request line of len bytes, without its '\n'. true with *req filled, or false with *why a
 * static reason ("unknown verb (connect or listen)", ...).
 */
bool appapi_parse_request(const char *line, size_t len, struct appapi_request *req,
			  const char **why);
/* An answer line of len bytes, without its '\n'. false if it is not one of the grammar. */
bool appapi_parse_answer(const char *line, size_t len, struct appapi_answer *ans);
/* The wire word of code ("not-approved"); "error" for a code out of range. */
const char *appapi_code_name(int code);

/*
 * The answer lines, '\n' included, into buf (APPAPI_LINE_MAX is always enough: a message is cut
 * to fit). Return the length.
 */
size_t appapi_format_connected(char *buf, size_t len, const char *addr, uint16_t port);
size_t appapi_format_listening(char *buf, size_t len, const char *purpose);
size_t appapi_format_accept(char *buf, size_t len, const char *peer, const char *addr,
			    uint16_t port);
size_t appapi_format_error(char *buf, size_t len, int code, const char *message);

/*
 * The socket's default path beside a control socket's: "/run/vertex/vertexd.sock" gives
 * "/run/vertex/vertexd-app.sock" (a name without ".sock" gets "-app" appended). 0, or
 * -ENAMETOOLONG if it does not fit len.
 */
int appapi_default_path(const char *control_path, char *out, size_t len);

/* --- the server --- */

struct appapi_ops {
	/*
	 * c asks for peer's purpose. Return 0 when the connection is under way: the answer comes
	 * later with appapi_connected or appapi_failed, unless c goes away first (then gone is
	 * called and neither may be). Or an enum appapi_code with a sentence in why (len whylen)
	 * for an answer now.
	 */
	int (*connect)(void *arg, struct appapi_client *c, const char *peer, const char *purpose,
		       char *why, size_t whylen);
	/*
	 * c registers purpose. 0: it listens, and gets each connection with appapi_deliver until
	 * it goes away; or a code with why, as for connect.
	 */
	int (*listen)(void *arg, struct appapi_client *c, const char *purpose, char *why,
		      size_t whylen);
	/* c is going away with a connect under way or a listen registered: forget it. */
	void (*gone)(void *arg, struct appapi_client *c);
};

struct appapi_stats {
	uint64_t accepted, refused_cred, refused_full, bad_requests, timeouts, connects, listens,
	    delivered, dropped_queue;
};

/*
 * Listens on path (a stale socket file there is replaced; mode 0660). Borrows loop, ops, arg.
 * 0 or -errno (-ENAMETOOLONG for a path too long for a UNIX socket).
 */
int appapi_new(struct appapi **out, struct ev_loop *loop, const char *path,
	       const struct appapi_ops *ops, void *arg);
/* Closes every client (gone for those under way), the socket, and removes its file. */
void appapi_free(struct appapi *api);
const struct appapi_stats *appapi_stats(const struct appapi *api);

/* The wiring's own pointer for c (NULL until set). */
void appapi_client_set_data(struct appapi_client *c, void *data);
void *appapi_client_data(const struct appapi_client *c);

/*
 * The answers to a connect under way: the socket (taken: sent, then closed here) with where it
 * leads, or the failure. Either ends c's request; c is closed once the answer is out.
 */
void appapi_connected(struct appapi_client *c, int fd, const char *addr, uint16_t port);
void appapi_failed(struct appapi_client *c, int code, const char *message);
/*
 * An incoming connection for the purpose c listens on, from peer (verified) at addr:port. fd
 * is taken. false if c's queue is full (fd closed, counted).
 */
bool appapi_deliver(struct appapi_client *c, int fd, const char *peer, const char *addr,
		    uint16_t port);

#endif
