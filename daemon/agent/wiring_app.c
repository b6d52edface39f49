// SPDX-License-Identifier: MIT
/*
 * The application interface, wired in TUN mode (appapi/appapi.h, docs/app-api.md): the
 * connections it hands out are kernel TCP sockets over the overlay.
 *
 * connect PEER/PURPOSE: the peer must have approved the purpose for us (the store's
 * STORE_APPROVAL_OUT row, what `vertex resolve` reads) and its session be up; then a
 * connection to its overlay address (as we see it) at the approved port, through wiring_connect.c
 * in either mode, answered when it completes or after WIRING_CONNECT_MS.
 *
 * listen PURPOSE: one of our tcp purposes, one program each. In TUN mode we listen on our own
 * overlay addresses at its port (bound to them, so nothing else is exposed); in userspace mode
 * lwIP already listens on every tcp purpose (wiring_userspace.c) and offers each connection
 * here first (wiring_app_take). Either way each connection's source is a peer's address in our
 * view (pool base + its index), and the peer must be allowed that port by the same policy the
 * firewall applies (wiring_policy_build), or it is closed and counted. The program's going
 * away closes the listening sockets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/wiring.h"
#include "appapi/appapi.h"
#include "core/ev.h"
#include "core/listener.h"
#include "core/log.h"
#include "peer/peer.h"
#include "policy/inbound.h"
#include "policy/policy.h"
#include "store/store.h"

enum {
	WIRING_APP_BACKLOG = 16,
	WIRING_APP_ACCEPT_PER_TURN = 16,
	WIRING_APP_ACCEPT_PAUSE_MS = 500,
};

enum wiring_app_kind { WIRING_APP_CONNECTING = 1, WIRING_APP_LISTENING = 2 };

struct wiring_app;

struct wiring_app_connect {
	int kind; /* WIRING_APP_CONNECTING: first, as in wiring_app_listen */
	struct wiring_app *w;
	struct appapi_client *c;
	struct wiring_connect *dial;
	char peer[IDENTITY_STR_MAX];
	char addr[INET_ADDRSTRLEN];
	uint16_t port;
};

struct wiring_app_listen {
	int kind; /* WIRING_APP_LISTENING */
	struct wiring_app *w;
	struct appapi_client *c;
	char purpose[IDENTITY_PURPOSE_MAX + 1];
	uint16_t port;
	struct listener *l4, *l6;
	struct wiring_app_listen *next;
};

struct wiring_app {
	struct agent *a;
	struct appapi *api;
	struct wiring_app_listen *listens;
	uint64_t refused_unapproved, refused_unknown, dropped_queue;
};

/* A descriptor the program will use as it likes: blocking, as sockets are by default. */
static void
wiring_app_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* --- connect --- */

static void
wiring_app_connect_free(struct wiring_app_connect *k)
{
	wiring_connect_cancel(k->dial);
	free(k);
}

/* The connect's answer (wiring_connect.c): it goes to the program, k is freed. */
static void
wiring_app_on_dialed(void *arg, int fd, int err)
{
	struct wiring_app_connect *k = arg;
	struct appapi_client *c = k->c;
	char msg[IDENTITY_STR_MAX + 160]; /* cut to APPAPI_MESSAGE_MAX on the wire */

	k->dial = NULL; /* answered */
	appapi_client_set_data(c, NULL);
	if (!err) {
		wiring_app_blocking(fd);
		log_info("app socket: connected to %s at %s port %u", k->peer, k->addr, k->port);
		appapi_connected(c, fd, k->addr, k->port);
		wiring_app_connect_free(k);
		return;
	}
	snprintf(msg, sizeof(msg), "%s at %s port %u: %s", k->peer, k->addr, k->port,
		 err == ETIMEDOUT ? "no answer within 10 seconds" : strerror(err));
	log_info("app socket: connect to %s", msg);
	wiring_app_connect_free(k);
	appapi_failed(c,
		      err == ECONNREFUSED ? APPAPI_E_REFUSED
		      : err == ETIMEDOUT  ? APPAPI_E_TIMEOUT
					  : APPAPI_E_UNREACHABLE,
		      msg);
}

/* The checks before a connect: approved, tcp, up. 0 or a code with why. */
static int
wiring_app_connect_check(struct agent *a, const char *peer, const char *purpose,
			 struct store_approval *ap, struct peer **p, char *why, size_t whylen)
{
	if (store_approval_get(a->store, peer, purpose, STORE_APPROVAL_OUT, ap) ||
	    !(*p = peer_find(a->peers, peer))) {
		snprintf(why, whylen,
			 "%s has not approved %s for us (ask with: vertex connect %s/%s)", peer,
			 purpose, peer, purpose);
		return APPAPI_E_NOT_APPROVED;
	}
	if (ap->proto != PURPOSE_TCP) {
		snprintf(why, whylen, "%s/%s is %s/%u: the app socket carries tcp only", peer,
			 purpose, purpose_proto_name(ap->proto), ap->port);
		return APPAPI_E_UNKNOWN_PURPOSE;
	}
	if ((*p)->state != PEER_UP) {
		peer_need_session(*p);
		snprintf(
		    why, whylen,
		    "no session with %s right now (the agent is trying to reach it: try again in "
		    "a few seconds)",
		    peer);
		return APPAPI_E_NOT_UP;
	}
	return 0;
}

static int
wiring_app_on_connect(void *arg, struct appapi_client *c, const char *peer, const char *purpose,
		      char *why, size_t whylen)
{
	struct wiring_app *w = arg;
	struct agent *a = w->a;
	struct store_approval ap;
	struct wiring_app_connect *k;
	struct peer *p = NULL;
	int code, err;

	if ((code = wiring_app_connect_check(a, peer, purpose, &ap, &p, why, whylen)))
		return code;
	if (!(k = calloc(1, sizeof(*k)))) {
		snprintf(why, whylen, "out of memory");
		return APPAPI_E_UNAVAILABLE;
	}
	k->kind = WIRING_APP_CONNECTING;
	k->w = w;
	k->c = c;
	k->port = ap.port;
	snprintf(k->peer, sizeof(k->peer), "%s", peer);
	inet_ntop(AF_INET, p->map.peer_view4, k->addr, sizeof(k->addr));
	if ((err = wiring_connect(a, p, ap.port, wiring_app_on_dialed, k, &k->dial))) {
		snprintf(why, whylen, "%s at %s port %u: %s", peer, k->addr, ap.port,
			 strerror(-err));
		free(k);
		return err == -ECONNREFUSED ? APPAPI_E_REFUSED : APPAPI_E_UNREACHABLE;
	}
	appapi_client_set_data(c, k);
	return 0;
}

/* --- listen --- */

struct peer *
wiring_app_peer_of(struct agent *a, const struct sockaddr_storage *from, char *addr, uint16_t *port)
{
	const struct sockaddr_in *s4 = (const void *)from;
	const struct sockaddr_in6 *s6 = (const void *)from;
	struct peer *p;

	if (from->ss_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, addr, INET6_ADDRSTRLEN);
		*port = ntohs(s4->sin_port);
		p = peer_by_index(a->peers, pool_index4(&a->pool, (const void *)&s4->sin_addr));
		return p && !memcmp(p->map.peer_view4, &s4->sin_addr, 4) ? p : NULL;
	}
	if (from->ss_family != AF_INET6)
		return NULL;
	inet_ntop(AF_INET6, &s6->sin6_addr, addr, INET6_ADDRSTRLEN);
	*port = ntohs(s6->sin6_port);
	p = peer_by_index(a->peers, pool_index6(&a->pool, s6->sin6_addr.s6_addr));
	return p && !memcmp(p->map.peer_view6, s6->sin6_addr.s6_addr, 16) ? p : NULL;
}

/* May p reach our tcp port, by the firewall's own policy? */
static bool
wiring_app_allowed(struct agent *a, const struct peer *p, uint16_t port)
{
	struct policy_peer pp;

	return !wiring_policy_build(a, p, &pp) && policy_peer_allows(&pp, PURPOSE_TCP, port);
}

/* A connection from p (allowed l's port), handed to l's program. */
static void
wiring_app_hand_over(struct wiring_app_listen *l, int fd, const struct peer *p, const char *addr,
		     uint16_t port)
{
	struct wiring_app *w = l->w;

	wiring_app_blocking(fd);
	if (!appapi_deliver(l->c, fd, p->identity, addr, port)) {
		w->dropped_queue++;
		log_info("app socket: %s: the program does not read its connections: one from %s "
			 "closed",
			 l->purpose, p->identity);
		return;
	}
	log_info("app socket: %s: a connection from %s (%s port %u) handed over", l->purpose,
		 p->identity, addr, port);
}

static void
wiring_app_on_accept(void *arg, int fd, const struct sockaddr_storage *from)
{
	struct wiring_app_listen *l = arg;
	struct wiring_app *w = l->w;
	char addr[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	struct peer *p = wiring_app_peer_of(w->a, from, addr, &port);

	if (!p) {
		w->refused_unknown++;
		log_info("app socket: %s: a connection from %s, which is no peer's: closed",
			 l->purpose, addr);
		close(fd);
		return;
	}
	if (!wiring_app_allowed(w->a, p, l->port)) {
		w->refused_unapproved++;
		log_info("app socket: %s: %s is not approved for it: its connection closed",
			 l->purpose, p->identity);
		close(fd);
		return;
	}
	wiring_app_hand_over(l, fd, p, addr, port);
}

bool
wiring_app_take(struct agent *a, const char *purpose, int fd, const struct peer *p,
		const char *addr, uint16_t port)
{
	struct wiring_app *w = a->app;

	for (struct wiring_app_listen *l = w ? w->listens : NULL; l; l = l->next) {
		if (!strcmp(l->purpose, purpose)) {
			wiring_app_hand_over(l, fd, p, addr, port);
			return true;
		}
	}
	return false;
}

static const struct listener_ops wiring_app_listener_ops = {
	.on_accept = wiring_app_on_accept,
};

static void
wiring_app_listen_free(struct wiring_app_listen *l)
{
	struct wiring_app_listen **pp;

	for (pp = &l->w->listens; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	listener_free(l->l4);
	listener_free(l->l6);
	free(l);
}

/* A socket listening at addr (4 or 16 bytes of family) and port. 0 or -errno. */
static int
wiring_app_bind(struct wiring_app_listen *l, int family, const uint8_t *addr, struct listener **out)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	struct sockaddr_in *s4 = (void *)&ss;
	struct sockaddr_in6 *s6 = (void *)&ss;
	socklen_t len = family == AF_INET ? sizeof(*s4) : sizeof(*s6);
	int one = 1, fd, err;

	if (family == AF_INET) {
		memcpy(&s4->sin_addr, addr, 4);
		s4->sin_port = htons(l->port);
	} else {
		memcpy(&s6->sin6_addr, addr, 16);
		s6->sin6_port = htons(l->port);
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* The IPv6 address may still be tentative (duplicate detection) right after start. */
	setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return listener_new(out, l->w->a->loop, fd, WIRING_APP_BACKLOG, WIRING_APP_ACCEPT_PER_TURN,
			    WIRING_APP_ACCEPT_PAUSE_MS, &wiring_app_listener_ops, l);
}

/* Which purpose may be listened on: ours, tcp, not forwarded, free. 0 or a code with why. */
static int
wiring_app_listen_check(struct wiring_app *w, const char *purpose, const struct purpose **out,
			char *why, size_t whylen)
{
	struct agent *a = w->a;
	const struct purpose *pu = purpose_find(a->cfg.purposes, a->cfg.npurposes, purpose);

	if (!pu) {
		snprintf(why, whylen,
			 "%s is not one of our purposes (a `purpose` line in the config)", purpose);
		return APPAPI_E_UNKNOWN_PURPOSE;
	}
	if (pu->proto != PURPOSE_TCP) {
		snprintf(why, whylen, "%s is udp/%u: the app socket carries tcp only", purpose,
			 pu->port);
		return APPAPI_E_UNKNOWN_PURPOSE;
	}
	if (purpose_has_target(pu)) {
		snprintf(why, whylen,
			 "%s forwards to a local target (-> in its purpose line): its connections "
			 "go there",
			 purpose);
		return APPAPI_E_IN_USE;
	}
	for (struct wiring_app_listen *l = w->listens; l; l = l->next) {
		if (!strcmp(l->purpose, purpose)) {
			snprintf(why, whylen, "another program listens on %s", purpose);
			return APPAPI_E_IN_USE;
		}
	}
	*out = pu;
	return 0;
}

static int
wiring_app_on_listen(void *arg, struct appapi_client *c, const char *purpose, char *why,
		     size_t whylen)
{
	struct wiring_app *w = arg;
	const struct purpose *pu;
	struct wiring_app_listen *l;
	char a4[INET_ADDRSTRLEN];
	int code, err;

	if ((code = wiring_app_listen_check(w, purpose, &pu, why, whylen)))
		return code;
	if (!(l = calloc(1, sizeof(*l)))) {
		snprintf(why, whylen, "out of memory");
		return APPAPI_E_UNAVAILABLE;
	}
	l->kind = WIRING_APP_LISTENING;
	l->w = w;
	l->c = c;
	l->port = pu->port;
	snprintf(l->purpose, sizeof(l->purpose), "%s", purpose);
	l->next = w->listens;
	w->listens = l;
	inet_ntop(AF_INET, w->a->own4, a4, sizeof(a4));
	if (w->a->us) { /* lwIP listens already: wiring_app_take */
		appapi_client_set_data(c, l);
		log_info("app socket: a program listens on %s (%s port %u, userspace)", purpose, a4,
			 l->port);
		return 0;
	}
	if ((err = wiring_app_bind(l, AF_INET, w->a->own4, &l->l4))) {
		snprintf(why, whylen, "cannot listen on %s port %u: %s%s", a4, l->port,
			 strerror(-err),
			 err == -EACCES ? " (vertexd keeps no right to ports below 1024)" : "");
		wiring_app_listen_free(l);
		return err == -EADDRINUSE ? APPAPI_E_IN_USE : APPAPI_E_UNAVAILABLE;
	}
	if ((err = wiring_app_bind(l, AF_INET6, w->a->own6, &l->l6)))
		log_warnx("app socket: %s: IPv4 only: cannot listen on our IPv6 address: %s",
			  purpose, strerror(-err));
	appapi_client_set_data(c, l);
	log_info("app socket: a program listens on %s (%s port %u)", purpose, a4, l->port);
	return 0;
}

static void
wiring_app_on_gone(void *arg, struct appapi_client *c)
{
	int *kind = appapi_client_data(c);

	(void)arg;
	if (!kind)
		return;
	appapi_client_set_data(c, NULL);
	if (*kind == WIRING_APP_CONNECTING) {
		wiring_app_connect_free((struct wiring_app_connect *)kind);
		return;
	}
	log_info("app socket: the program on %s went away: no longer listening",
		 ((struct wiring_app_listen *)kind)->purpose);
	wiring_app_listen_free((struct wiring_app_listen *)kind);
}

static const struct appapi_ops wiring_app_ops = {
	.connect = wiring_app_on_connect,
	.listen = wiring_app_on_listen,
	.gone = wiring_app_on_gone,
};

int
wiring_app_open(struct agent *a)
{
	struct wiring_app *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->a = a;
	if ((err = appapi_new(&w->api, a->loop, a->cfg.app_path, &wiring_app_ops, w))) {
		log_warnx("app socket %s: %s", a->cfg.app_path, strerror(-err));
		free(w);
		return err;
	}
	a->app = w;
	return 0;
}

void
wiring_app_close(struct agent *a)
{
	struct wiring_app *w = a->app;

	if (!w)
		return;
	appapi_free(w->api); /* gone for every client: their connects and listeners end */
	free(w);
	a->app = NULL;
}

void
wiring_app_facts(const struct agent *a, FILE *f)
{
	const struct wiring_app *w = a->app;
	const struct appapi_stats *s;

	if (!w)
		return;
	s = appapi_stats(w->api);
	fprintf(f,
		"app_socket %s\napp_connects %llu\napp_listens %llu\napp_delivered %llu\n"
		"app_bad_requests %llu\napp_refused_unapproved %llu\napp_refused_unknown %llu\n",
		a->cfg.app_path, (unsigned long long)s->connects, (unsigned long long)s->listens,
		(unsigned long long)s->delivered, (unsigned long long)s->bad_requests,
		(unsigned long long)w->refused_unapproved, (unsigned long long)w->refused_unknown);
}
