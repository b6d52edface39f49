// SPDX-License-Identifier: MIT
/*
 * The SOCKS5 server and the port forwards, wired (docs/userspace.md): how programs that know
 * nothing of Vertex reach a peer's purpose, in either mode. Both listen on loopback only
 * (forward/forward.h says why) and connect over the overlay through wiring_connect.c.
 *
 * What a destination may be, for both (wiring_proxy_resolve):
 *   - a peer by name, `bob@b.example.com/ssh` (the purpose picks the port: the one bob approved
 *     for us, the store's STORE_APPROVAL_OUT row), or `bob@b.example.com` / `bob.at.b.example.com`
 *     at a port;
 *   - a peer's overlay address as we see it, at a port.
 * A port is allowed if the peer approved a tcp purpose at that port for us, or the peer is one
 * of the config (a `peer` block: everything, as the kernel would route it in TUN mode).
 * Anything else is refused (SOCKS: "not allowed by ruleset"; a forward: the client is closed),
 * with a log line saying why. The peer's own policy still judges the connection at its end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/wiring.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/sockaddr.h"
#include "core/splice.h"
#include "forward/forward.h"
#include "peer/peer.h"
#include "socks/server.h"
#include "store/store.h"

enum {
	WIRING_PROXY_BACKLOG = 64,
	WIRING_PROXY_ACCEPT_PER_TURN = 16,
	WIRING_PROXY_ACCEPT_PAUSE_MS = 500,
	WIRING_PROXY_PENDING_MAX = 256, /* forward clients waiting for their connection */
};

struct wiring_proxy;

/* A SOCKS client's connect under way. */
struct proxy_socks_dial {
	struct wiring_proxy *x;
	struct proxy_socks_dial *prev, *next;
	struct socks_client *c;
	struct wiring_connect *dial;
	char dest[IDENTITY_STR_MAX + 16];
};

/* A forward's listener. */
struct proxy_forward {
	struct wiring_proxy *x;
	struct forward f;
	struct listener *l;
};

/* A forward's client waiting for its connection over the overlay. */
struct proxy_pending {
	struct wiring_proxy *x;
	struct proxy_pending *prev, *next;
	int cfd;
	struct wiring_connect *dial;
	const struct proxy_forward *fw;
};

struct wiring_proxy {
	struct agent *a;
	struct listener *socks_l;
	struct socks_server *socks;
	struct proxy_socks_dial *sdials;
	struct proxy_forward *forwards[FORWARDS_MAX];
	size_t nforwards;
	struct proxy_pending *pending;
	size_t npending;
	struct splicer *splice;
	uint64_t socks_connects, socks_refused, forward_connects, forward_refused, dial_failed;
};

/* --- where a destination leads --- */

struct proxy_port_find {
	uint16_t port;
	bool found;
};

static int
proxy_port_approved(const struct store_approval *ap, void *arg)
{
	struct proxy_port_find *pf = arg;

	if (ap->dir == STORE_APPROVAL_OUT && ap->proto == PURPOSE_TCP && ap->port == pf->port)
		pf->found = true;
	return 0;
}

static bool
proxy_is_configured(const struct agent *a, const char *identity)
{
	for (size_t i = 0; i < a->cfg.npeers; i++)
		if (!strcmp(a->cfg.peers[i].identity, identity))
			return true;
	return false;
}

/*
 * The peer and port for a name (id, with or without a purpose) or an address (addr, when id is
 * NULL) at port. 0, or a SOCKS reply code with why.
 */
static int
wiring_proxy_resolve(struct agent *a, const struct identity *id,
		     const struct sockaddr_storage *addr, uint16_t port, struct peer **pp,
		     uint16_t *out_port, char *why, size_t whylen)
{
	char text[INET6_ADDRSTRLEN] = "?", name[IDENTITY_STR_MAX];
	struct proxy_port_find pf = { .port = port };
	struct store_approval ap;
	uint16_t unused;
	struct peer *p;

	if (id) {
		snprintf(name, sizeof(name), "%s@%s", id->user, id->domain);
		if (!(p = peer_find(a->peers, name))) {
			snprintf(why, whylen,
				 "%s is not a peer of ours (ask with: vertex connect "
				 "%s/PURPOSE)",
				 name, name);
			return SOCKS_REP_HOST_UNREACH;
		}
		if (id->purpose[0]) {
			if (store_approval_get(a->store, name, id->purpose, STORE_APPROVAL_OUT,
					       &ap)) {
				snprintf(why, whylen, "%s has not approved %s for us", name,
					 id->purpose);
				return SOCKS_REP_NOT_ALLOWED;
			}
			if (ap.proto != PURPOSE_TCP) {
				snprintf(why, whylen, "%s/%s is udp: only tcp is carried", name,
					 id->purpose);
				return SOCKS_REP_NOT_ALLOWED;
			}
			*pp = p;
			*out_port = ap.port;
			return 0;
		}
	} else if (!(p = wiring_app_peer_of(a, addr, text, &unused))) {
		snprintf(why, whylen, "%s is no peer's overlay address", text);
		return SOCKS_REP_HOST_UNREACH;
	}
	if (!proxy_is_configured(a, p->identity) &&
	    (store_approval_each(a->store, p->identity, proxy_port_approved, &pf) || !pf.found)) {
		snprintf(why, whylen, "%s has approved no tcp purpose at port %u for us",
			 p->identity, port);
		return SOCKS_REP_NOT_ALLOWED;
	}
	*pp = p;
	*out_port = port;
	return 0;
}

/* --- SOCKS5 --- */

static void
proxy_socks_dial_free(struct proxy_socks_dial *d)
{
	struct wiring_proxy *x = d->x;

	wiring_connect_cancel(d->dial);
	if (d->prev)
		d->prev->next = d->next;
	else
		x->sdials = d->next;
	if (d->next)
		d->next->prev = d->prev;
	free(d);
}

static void
proxy_socks_on_dialed(void *arg, int fd, int err)
{
	struct proxy_socks_dial *d = arg;
	struct wiring_proxy *x = d->x;
	struct socks_client *c = d->c;

	d->dial = NULL; /* answered */
	if (err) {
		x->dial_failed++;
		log_info("socks: %s: %s", d->dest, strerror(err));
	} else {
		x->socks_connects++;
		log_debug(LOG_CTL, "socks: connected to %s", d->dest);
	}
	proxy_socks_dial_free(d);
	socks_server_connected(x->socks, c, fd,
			       err == ECONNREFUSED ? SOCKS_REP_CONN_REFUSED
			       : err == ETIMEDOUT  ? SOCKS_REP_TTL_EXPIRED
						   : SOCKS_REP_HOST_UNREACH,
			       NULL);
}

static void
proxy_socks_connect(void *arg, struct socks_client *c, const struct socks_request *r)
{
	struct wiring_proxy *x = arg;
	struct agent *a = x->a;
	char why[IDENTITY_STR_MAX * 2 + 96];
	struct proxy_socks_dial *d;
	struct peer *p;
	uint16_t port;
	int rep, err;

	rep = wiring_proxy_resolve(a, r->atyp == SOCKS_ATYP_NAME ? &r->name : NULL, &r->addr,
				   r->port, &p, &port, why, sizeof(why));
	if (rep) {
		x->socks_refused++;
		log_info("socks: refused: %s", why);
		socks_server_connected(x->socks, c, -1, rep, NULL);
		return;
	}
	if (!(d = calloc(1, sizeof(*d)))) {
		socks_server_connected(x->socks, c, -1, SOCKS_REP_GENERAL_FAILURE, NULL);
		return;
	}
	d->x = x;
	d->c = c;
	snprintf(d->dest, sizeof(d->dest), "%s port %u", p->identity, port);
	d->next = x->sdials;
	if (x->sdials)
		x->sdials->prev = d;
	x->sdials = d;
	if (p->state != PEER_UP)
		peer_need_session(p);
	if ((err = wiring_connect(a, p, port, proxy_socks_on_dialed, d, &d->dial))) {
		d->dial = NULL;
		proxy_socks_on_dialed(d, -1, -err);
	}
}

static void
proxy_socks_cancel(void *arg, struct socks_client *c)
{
	struct wiring_proxy *x = arg;

	for (struct proxy_socks_dial *d = x->sdials; d; d = d->next) {
		if (d->c == c) {
			proxy_socks_dial_free(d);
			return;
		}
	}
}

static const struct socks_server_ops proxy_socks_ops = {
	.connect = proxy_socks_connect,
	.cancel = proxy_socks_cancel,
};

static void
proxy_socks_on_accept(void *arg, int fd, const struct sockaddr_storage *from)
{
	struct wiring_proxy *x = arg;

	(void)from;
	if (socks_server_accept(x->socks, fd))
		log_info("socks: a client refused: %zu clients already", (size_t)SOCKS_CLIENTS_MAX);
}

static const struct listener_ops proxy_socks_listener_ops = {
	.on_accept = proxy_socks_on_accept,
};

/* A listening socket at addr (loopback). 0 and *out, or -errno. */
static int
proxy_listen(struct wiring_proxy *x, const struct sockaddr_storage *addr,
	     const struct listener_ops *ops, void *arg, struct listener **out)
{
	socklen_t len =
	    addr->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int one = 1, fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return listener_new(out, x->a->loop, fd, WIRING_PROXY_BACKLOG, WIRING_PROXY_ACCEPT_PER_TURN,
			    WIRING_PROXY_ACCEPT_PAUSE_MS, ops, arg);
}

/* --- forwards --- */

static void
proxy_pending_free(struct proxy_pending *q)
{
	struct wiring_proxy *x = q->x;

	wiring_connect_cancel(q->dial);
	if (q->cfd >= 0)
		close(q->cfd);
	if (q->prev)
		q->prev->next = q->next;
	else
		x->pending = q->next;
	if (q->next)
		q->next->prev = q->prev;
	x->npending--;
	free(q);
}

static void
proxy_forward_on_dialed(void *arg, int fd, int err)
{
	struct proxy_pending *q = arg;
	struct wiring_proxy *x = q->x;
	char id[IDENTITY_STR_MAX + IDENTITY_PURPOSE_MAX + 2];

	q->dial = NULL; /* answered */
	identity_format(&q->fw->f.target, id, sizeof(id));
	if (err) {
		x->dial_failed++;
		log_info("forward to %s: %s", id, strerror(err));
	} else {
		x->forward_connects++;
		log_debug(LOG_CTL, "forward: a client connected to %s", id);
		splicer_add(x->splice, q->cfd, fd);
		q->cfd = -1; /* the splicer's */
	}
	proxy_pending_free(q);
}

static void
proxy_forward_on_accept(void *arg, int fd, const struct sockaddr_storage *from)
{
	struct proxy_forward *fw = arg;
	struct wiring_proxy *x = fw->x;
	char why[IDENTITY_STR_MAX * 2 + 96], id[IDENTITY_STR_MAX + IDENTITY_PURPOSE_MAX + 2];
	struct proxy_pending *q;
	struct peer *p;
	uint16_t port;
	int err;

	(void)from;
	identity_format(&fw->f.target, id, sizeof(id));
	if (wiring_proxy_resolve(x->a, &fw->f.target, NULL, 0, &p, &port, why, sizeof(why))) {
		x->forward_refused++;
		log_info("forward to %s: a client closed: %s", id, why);
		close(fd);
		return;
	}
	if (x->npending >= WIRING_PROXY_PENDING_MAX || !(q = calloc(1, sizeof(*q)))) {
		log_info("forward to %s: a client closed: too many connecting", id);
		close(fd);
		return;
	}
	q->x = x;
	q->cfd = fd;
	q->fw = fw;
	q->next = x->pending;
	if (x->pending)
		x->pending->prev = q;
	x->pending = q;
	x->npending++;
	if (p->state != PEER_UP)
		peer_need_session(p);
	if ((err = wiring_connect(x->a, p, port, proxy_forward_on_dialed, q, &q->dial))) {
		q->dial = NULL;
		proxy_forward_on_dialed(q, -1, -err);
	}
}

static const struct listener_ops proxy_forward_listener_ops = {
	.on_accept = proxy_forward_on_accept,
};

int
wiring_proxy_forward_add(struct agent *a, const struct forward *f, char *why, size_t whylen)
{
	struct wiring_proxy *x = a->proxy;
	struct proxy_forward *fw;
	char addr[SOCKADDR_STR_MAX];
	int err;

	sockaddr_format(&f->listen, addr, sizeof(addr));
	for (size_t i = 0; i < x->nforwards; i++)
		if (sockaddr_equal(&x->forwards[i]->f.listen, &f->listen)) {
			snprintf(why, whylen, "a forward listens on %s already", addr);
			return -EEXIST;
		}
	if (x->nforwards == FORWARDS_MAX) {
		snprintf(why, whylen, "too many forwards (at most %d)", FORWARDS_MAX);
		return -ENOSPC;
	}
	if (!(fw = calloc(1, sizeof(*fw)))) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	fw->x = x;
	fw->f = *f;
	if ((err = proxy_listen(x, &f->listen, &proxy_forward_listener_ops, fw, &fw->l))) {
		snprintf(why, whylen, "cannot listen on %s: %s", addr, strerror(-err));
		free(fw);
		return err;
	}
	x->forwards[x->nforwards++] = fw;
	return 0;
}

int
wiring_proxy_forward_remove(struct agent *a, const struct sockaddr_storage *listen)
{
	struct wiring_proxy *x = a->proxy;

	for (size_t i = 0; i < x->nforwards; i++) {
		struct proxy_forward *fw = x->forwards[i];

		if (!sockaddr_equal(&fw->f.listen, listen))
			continue;
		/* Its clients still connecting are dropped; those spliced already go on. */
		for (struct proxy_pending *q = x->pending, *next; q; q = next) {
			next = q->next;
			if (q->fw == fw)
				proxy_pending_free(q);
		}
		listener_free(fw->l);
		free(fw);
		x->forwards[i] = x->forwards[--x->nforwards];
		return 0;
	}
	return -ENOENT;
}

/* --- start and stop --- */

int
wiring_proxy_open(struct agent *a)
{
	struct wiring_proxy *x = calloc(1, sizeof(*x));
	char addr[SOCKADDR_STR_MAX], why[256];
	int err;

	if (!x)
		return -ENOMEM;
	x->a = a;
	a->proxy = x;
	if ((err = splicer_new(&x->splice, a->loop, 0)))
		return err;
	if (a->cfg.socks.ss_family) {
		sockaddr_format(&a->cfg.socks, addr, sizeof(addr));
		if ((err = socks_server_new(&x->socks, a->loop, &proxy_socks_ops, x)) ||
		    (err = proxy_listen(x, &a->cfg.socks, &proxy_socks_listener_ops, x,
					&x->socks_l))) {
			log_warnx("socks: cannot listen on %s: %s", addr, strerror(-err));
			return err;
		}
		log_info("socks: SOCKS5 server on %s", addr);
	}
	for (size_t i = 0; i < a->cfg.forwards.n; i++) {
		const struct forward *f = &a->cfg.forwards.f[i];

		if ((err = wiring_proxy_forward_add(a, f, why, sizeof(why)))) {
			log_warnx("forward: %s", why);
			return err;
		}
		sockaddr_format(&f->listen, addr, sizeof(addr));
		log_info("forward: %s -> %s@%s/%s", addr, f->target.user, f->target.domain,
			 f->target.purpose);
	}
	return 0;
}

void
wiring_proxy_close(struct agent *a)
{
	struct wiring_proxy *x = a->proxy;

	if (!x)
		return;
	listener_free(x->socks_l);
	socks_server_free(x->socks); /* cancels its connects: our dials with them */
	while (x->nforwards)
		wiring_proxy_forward_remove(a, &x->forwards[0]->f.listen);
	while (x->pending)
		proxy_pending_free(x->pending);
	splicer_free(x->splice);
	free(x);
	a->proxy = NULL;
}

void
wiring_proxy_forwards(const struct agent *a, FILE *f)
{
	const struct wiring_proxy *x = a->proxy;

	for (size_t i = 0; x && i < x->nforwards; i++) {
		fprintf(f, "forward ");
		forward_print(&x->forwards[i]->f, f);
		fputc('\n', f);
	}
}

void
wiring_proxy_facts(const struct agent *a, FILE *f)
{
	const struct wiring_proxy *x = a->proxy;
	char addr[SOCKADDR_STR_MAX];

	if (!x)
		return;
	if (x->socks) {
		sockaddr_format(&a->cfg.socks, addr, sizeof(addr));
		fprintf(f, "socks %s\nsocks_clients %zu\nsocks_connects %llu\nsocks_refused %llu\n",
			addr, socks_server_clients(x->socks), (unsigned long long)x->socks_connects,
			(unsigned long long)x->socks_refused);
	}
	fprintf(f, "forwards %zu\nforward_connects %llu\nforward_refused %llu\n", x->nforwards,
		(unsigned long long)x->forward_connects, (unsigned long long)x->forward_refused);
	fprintf(f, "proxy_dial_failed %llu\nproxy_spliced %zu\n",
		(unsigned long long)x->dial_failed, splicer_pairs(x->splice));
}
