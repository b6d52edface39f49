// SPDX-License-Identifier: MIT
/*
 * The relay over UDP, on a server (docs/rendezvous.md, "The relay over UDP"; proto/relayudp.h):
 * sealed frames from and to the agents of the domains served here, and to and from other
 * domains' servers, as datagrams on the reflection socket (reflect.c hands us every datagram
 * whose first byte is one of ours).
 *
 * Three kinds of entry, each keyed by the ticket its TLS connection exports (both ends derive it
 * and the MAC key; nothing is sent for them):
 *   AGENT     an agent of ours (relay_udp_conn_up at HELLO): it binds and sends
 *   PEER_IN   another domain's server connected to us (the same, at HELLO as a server): it binds
 *             and sends what it relays toward our agents
 *   PEER_OUT  our peering link to another domain's server (relay_udp_link_up when it is UP):
 *             we bind (every RUDP_BIND_MS) and send what we relay toward its agents
 * The sender binds its UDP source with a BIND (MAC'd, its seq above the last taken: no replay)
 * and names pairs with PAIRs (MAC'd; each handle's seq only grows); both are answered, never
 * with more bytes than they brought. A DATA then needs, in this order (cheap checks first): a
 * known type and length, a known ticket, the very address and port the last BIND came from, a
 * handle its sender named. It becomes the RELAY_FRAME it stands for (a record kept per handle,
 * from and to filled once, so no identity is parsed or formatted per frame) and goes through
 * relay.c's admission as a record would: from an agent with relay_handle, from a server through
 * rendezvous.c's hop check (rdv_from_domain); the approval between the two, the buckets, the next
 * hop's queue, the same counters.
 *
 * The other way, relay.c asks relay_udp_deliver before it routes a frame: to an agent here whose
 * BIND is fresh (RUDP_BIND_FRESH_MS; a RELAY_FRAME over TLS from it for a peer it has a handle
 * for, or one of a single zero byte, which says so, makes it stale at once: that agent
 * stopped trusting UDP) and who named a handle for the sender, or to another domain whose server
 * answered our BIND lately and took our PAIR for the pair, the frame goes as a DATA datagram; else
 * over TLS as before.
 *
 * Every datagram that fails a check is dropped and counted (by reason, logged at exit and
 * rate-limited as it happens). Tickets are found in a table of RUDP_TICKET_BUCKETS chains: the
 * ticket is exporter output, uniformly random, so its low bits pick the chain. A PEER_OUT finds
 * a pair's handle in its link_pairs (linkpairs.h): RUDP_LINK_HANDLES pairs in use at once (more:
 * TLS), a handle idle for RUDP_PAIR_IDLE_MS freed for the next pair (counted: pairs_expired).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/siphash.h"
#include "core/sockaddr.h"
#include "core/udpbatch.h"
#include "crypto/aead.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"
#include "proto/relayudp.h"
#include "server/linkpairs.h"
#include "server/rdv_int.h"
#include "server/server.h"
#include "trust/identity.h"

enum {
	RUDP_TICKET_BUCKETS = 4096,
	RUDP_BIND_MS = 500,            /* a PEER_OUT binds this often (agents too: relay.h) */
	RUDP_BIND_FRESH_MS = 1500,     /* a binding, or its answer, counts this long */
	RUDP_PAIR_IDLE_MS = 120000,    /* a PEER_OUT frees a pair's handle unused this long */
	RUDP_PAIRS_PER_TICK = 64,      /* PAIRs a PEER_OUT sends again per RUDP_BIND_MS */
	RUDP_TX_BATCH = UDP_BATCH_MAX, /* DATA datagrams queued for one flush */
};

enum relay_udp_kind { RUDP_AGENT, RUDP_PEER_IN, RUDP_PEER_OUT };

struct relay_udp_conn {
	enum relay_udp_kind kind;
	struct server *srv;          /* the domain served here it belongs to */
	struct sconn *c;             /* AGENT, PEER_IN */
	struct relay_udp_conn *next; /* in its ticket's chain */
	uint64_t ticket;
	uint8_t key[RUDP_KEY_LEN];
	char domain[IDENTITY_DOMAIN_MAX + 1]; /* PEER_IN, PEER_OUT: the other server's */
	/* AGENT, PEER_IN: the sender's binding; PEER_OUT: the other server's address */
	bool bound;
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t bind_seq, bind_ms;
	/* the pairs: a RELAY_FRAME per handle, and the seq of its last PAIR taken (or sent) */
	unsigned nhandles, last_found;
	struct ctlmsg **frame;
	uint64_t *pair_seq;
	struct relay_memo *memo; /* AGENT, PEER_IN: what admission found per handle (rdv_int.h) */
	/* PEER_OUT */
	bool *acked;
	struct link_pairs *lp;
	uint64_t seq, ok_seq, ok_ms;
	struct ev_timer timer;
};

struct relay_udp {
	struct relay_udp_conn *bucket[RUDP_TICKET_BUCKETS];
	/*
	 * DATAs waiting for the flush, all to go out of tx_fd, each frame copied into tx_buf (what
	 * it came from is borrowed); with GSO (tx.gso), a run of them to one address, all of one
	 * size but the last, leaves in one send: a stream's frames mostly are.
	 */
	uint8_t tx_buf[RUDP_TX_BATCH][RUDP_DATA_MAX_LEN];
	struct udp_batch tx;
	int tx_fd;
	bool tx_probed;
	struct siphash_key hash_key;
	struct relay_udp_stats n;
	struct log_ratelimit rl;
};

static struct relay_udp *
relay_udp_of(struct server *srv, bool create)
{
	struct server *p = srv->primary ? srv->primary : srv;

	if (!p->relay_udp && create && (p->relay_udp = calloc(1, sizeof(*p->relay_udp))))
		p->relay_udp->hash_key = siphash_key_random();
	return p->relay_udp;
}

static void
relay_udp_drop(struct relay_udp *u, struct ev_loop *loop, uint64_t *counter, const char *why,
	       const struct sockaddr_storage *from)
{
	char addr[64];

	(*counter)++;
	if (!log_ratelimit_ok(&u->rl, ev_now_ms(loop)))
		return;
	sockaddr_show(from, addr, sizeof(addr));
	log_info("relay udp: dropped a datagram from %s: %s (%llu so far)", addr, why,
		 (unsigned long long)*counter);
}

/* A control datagram with its MAC (proto/relayudp.h leaves the MAC to us); 0 if m is bad. */
static size_t
relay_udp_seal(uint8_t *out, size_t cap, const struct rudp_ctl *m, const uint8_t key[RUDP_KEY_LEN])
{
	size_t len = rudp_ctl_encode(out, cap, m);

	if (len)
		crypto_mac(out + len - RUDP_MAC_LEN, key, out, len - RUDP_MAC_LEN);
	return len;
}

/* A control datagram's fields, once its layout and its MAC under key are right. */
static bool
relay_udp_open(const uint8_t *buf, size_t len, const uint8_t key[RUDP_KEY_LEN], struct rudp_ctl *m)
{
	return rudp_ctl_decode(buf, len, m) &&
	       crypto_mac_ok(buf + len - RUDP_MAC_LEN, key, buf, len - RUDP_MAC_LEN);
}

/* --- entries -------------------------------------------------------------------------------- */

static void
relay_udp_entry_free(struct relay_udp_conn *rc)
{
	if (!rc)
		return;
	if (rc->kind == RUDP_PEER_OUT)
		ev_timer_stop(rc->srv->loop, &rc->timer);
	for (unsigned h = 0; rc->frame && h <= rc->nhandles; h++)
		free(rc->frame[h]);
	free(rc->frame);
	free(rc->pair_seq);
	free(rc->memo);
	free(rc->acked);
	link_pairs_free(rc->lp);
	crypto_wipe(rc->key, sizeof(rc->key));
	free(rc);
}

/* A new entry for the connection tls, in the table; NULL if anything fails (TLS then). */
static struct relay_udp_conn *
relay_udp_entry_new(struct server *srv, enum relay_udp_kind kind, struct tls_conn *tls,
		    unsigned nhandles)
{
	struct relay_udp *u = relay_udp_of(srv, true);
	uint8_t ex[RUDP_EXPORT_LEN];
	struct relay_udp_conn *rc, **chain;

	if (!u || !tls || tls_conn_export(tls, RUDP_EXPORT_LABEL, ex, sizeof(ex)) ||
	    !(rc = calloc(1, sizeof(*rc)))) {
		crypto_wipe(ex, sizeof(ex));
		return NULL;
	}
	rc->kind = kind;
	rc->srv = srv;
	rc->nhandles = nhandles;
	for (int i = 0; i < RUDP_TICKET_LEN; i++)
		rc->ticket = rc->ticket << 8 | ex[i];
	memcpy(rc->key, ex + RUDP_TICKET_LEN, RUDP_KEY_LEN);
	crypto_wipe(ex, sizeof(ex));
	rc->frame = calloc(nhandles + 1, sizeof(*rc->frame));
	rc->pair_seq = calloc(nhandles + 1, sizeof(*rc->pair_seq));
	rc->memo = calloc(nhandles + 1, sizeof(*rc->memo));
	if (kind == RUDP_PEER_OUT) {
		rc->acked = calloc(nhandles + 1, sizeof(*rc->acked));
		if (link_pairs_new(&rc->lp, nhandles, u->hash_key))
			rc->lp = NULL;
	}
	if (!rc->frame || !rc->pair_seq || !rc->memo ||
	    (kind == RUDP_PEER_OUT && (!rc->acked || !rc->lp))) {
		relay_udp_entry_free(rc);
		return NULL;
	}
	chain = &u->bucket[rc->ticket & (RUDP_TICKET_BUCKETS - 1)];
	rc->next = *chain;
	*chain = rc;
	return rc;
}

static void
relay_udp_entry_del(struct server *srv, struct relay_udp_conn *rc)
{
	struct relay_udp *u = relay_udp_of(srv, false);
	struct relay_udp_conn **pp;

	if (!u || !rc)
		return; /* relay_udp_close freed them all already */
	for (pp = &u->bucket[rc->ticket & (RUDP_TICKET_BUCKETS - 1)]; *pp; pp = &(*pp)->next)
		if (*pp == rc) {
			*pp = rc->next;
			break;
		}
	relay_udp_entry_free(rc);
}

/* server@X, X not ours: X; else NULL. */
static const char *
relay_udp_server_domain(const struct sconn *c)
{
	const char *d = identity_domain_of(c->peer);

	if (!d || strncmp(c->peer, "server@", 7) || !strcmp(d, c->srv->domain))
		return NULL;
	return d;
}

void
relay_udp_conn_up(struct sconn *c)
{
	const char *peer_domain = NULL;
	enum relay_udp_kind kind;

	if (c->rudp || !c->srv->rdv || !c->s || !c->hello)
		return;
	if (c->role == CTL_ROLE_AGENT && rdv_agent_conn(c->srv, c->peer) == c)
		kind = RUDP_AGENT;
	else if (c->role == CTL_ROLE_SERVER && (peer_domain = relay_udp_server_domain(c)))
		kind = RUDP_PEER_IN;
	else
		return;
	c->rudp = relay_udp_entry_new(c->srv, kind, stream_tls(c->s),
				      kind == RUDP_AGENT ? RUDP_HANDLES_MAX : RUDP_LINK_HANDLES);
	if (!c->rudp)
		return;
	c->rudp->c = c;
	if (peer_domain)
		snprintf(c->rudp->domain, sizeof(c->rudp->domain), "%s", peer_domain);
}

void
relay_udp_conn_down(struct sconn *c)
{
	relay_udp_entry_del(c->srv, c->rudp);
	c->rudp = NULL;
}

static struct relay_udp_conn *
relay_udp_find(struct relay_udp *u, uint64_t ticket)
{
	struct relay_udp_conn *rc = u->bucket[ticket & (RUDP_TICKET_BUCKETS - 1)];

	while (rc && rc->ticket != ticket)
		rc = rc->next;
	return rc;
}

/* --- what the sender's datagrams bring (AGENT, PEER_IN) -------------------------------------- */

static void
relay_udp_answer(struct relay_udp_conn *rc, int fd, const struct sockaddr_storage *to,
		 socklen_t tolen, uint8_t type, uint16_t handle, uint64_t seq)
{
	struct rudp_ctl m = { .h = { .type = type, .handle = handle, .ticket = rc->ticket },
			      .seq = seq };
	uint8_t out[RUDP_CTL_LEN];

	if (relay_udp_seal(out, sizeof(out), &m, rc->key) == RUDP_CTL_LEN)
		sendto(fd, out, sizeof(out), 0, (const struct sockaddr *)to, tolen);
}

static bool
relay_udp_is_identity(const char *s)
{
	struct identity id;

	return identity_parse(s, IDENTITY_PURPOSE_FORBIDDEN, &id, NULL) == 0;
}

/* May rc's sender name the pair (from, to)? An agent: from is itself; a server: from is of its
 * domain and to of one served here. */
static bool
relay_udp_pair_ok(const struct relay_udp_conn *rc, const char *from, const char *to)
{
	const char *td = identity_domain_of(to);

	if (!relay_udp_is_identity(to))
		return false;
	if (rc->kind == RUDP_AGENT)
		return !from[0] || !strcmp(from, rc->c->peer);
	return relay_udp_is_identity(from) && !strcmp(identity_domain_of(from), rc->domain) &&
	       (!strcmp(td, rc->srv->domain) || rdv_domain_here(rc->srv, td));
}

/* PAIR: handle h names (from, to) from now on (a RELAY_FRAME kept with both filled). */
static bool
relay_udp_pair(struct relay_udp_conn *rc, const struct rudp_ctl *m)
{
	const char *from = rc->kind == RUDP_AGENT ? rc->c->peer : m->from;
	unsigned h = m->h.handle;
	struct ctlmsg *f;

	if (h > rc->nhandles || m->seq <= rc->pair_seq[h] || !relay_udp_pair_ok(rc, m->from, m->to))
		return false;
	if (!(f = rc->frame[h]) && !(f = rc->frame[h] = malloc(sizeof(*f))))
		return false;
	memset(f, 0, sizeof(*f));
	f->type = CTL_RELAY_FRAME;
	memcpy(f->u.frame.from, from, strlen(from) + 1);
	memcpy(f->u.frame.to, m->to, strlen(m->to) + 1);
	rc->pair_seq[h] = m->seq;
	rc->memo[h] = (struct relay_memo){ 0 }; /* another pair, maybe: ask again */
	rc->last_found = 0;
	return true;
}

static void
relay_udp_on_bind(struct relay_udp *u, struct relay_udp_conn *rc, int fd, const struct rudp_ctl *m,
		  const struct sockaddr_storage *from, socklen_t fl)
{
	if (m->seq <= rc->bind_seq) {
		relay_udp_drop(u, rc->srv->loop, &u->n.replayed, "a BIND replayed", from);
		return;
	}
	rc->bind_seq = m->seq;
	rc->bind_ms = ev_now_ms(rc->srv->loop);
	rc->bound = true;
	rc->fd = fd;
	rc->addr = *from;
	rc->addrlen = fl;
	u->n.binds++;
	relay_udp_answer(rc, fd, from, fl, RUDP_BIND_OK, 0, m->seq);
}

static void relay_udp_on_answer(struct relay_udp *u, struct relay_udp_conn *rc,
				const struct rudp_ctl *m, const struct sockaddr_storage *from);

static void
relay_udp_on_ctl(struct relay_udp *u, struct relay_udp_conn *rc, int fd, const uint8_t *buf,
		 size_t len, const struct sockaddr_storage *from, socklen_t fl)
{
	struct ev_loop *loop = rc->srv->loop;
	struct rudp_ctl m;
	bool answers = rc->kind == RUDP_PEER_OUT;

	if (!relay_udp_open(buf, len, rc->key, &m) ||
	    (answers ? m.h.type != RUDP_BIND_OK && m.h.type != RUDP_PAIR_OK
		     : m.h.type != RUDP_BIND && m.h.type != RUDP_PAIR)) {
		relay_udp_drop(u, loop, &u->n.bad_mac, "not authenticated by its ticket's key",
			       from);
		return;
	}
	if (answers) {
		relay_udp_on_answer(u, rc, &m, from);
		return;
	}
	if (m.h.type == RUDP_BIND) {
		relay_udp_on_bind(u, rc, fd, &m, from, fl);
		return;
	}
	if (!rc->bound || !sockaddr_same(from, &rc->addr)) {
		relay_udp_drop(u, loop, &u->n.wrong_source, "a PAIR from an address not bound",
			       from);
		return;
	}
	if (!relay_udp_pair(rc, &m)) {
		relay_udp_drop(u, loop, &u->n.replayed,
			       "a PAIR replayed, over the bound or for a pair it may not name",
			       from);
		return;
	}
	u->n.pairs++;
	relay_udp_answer(rc, fd, from, fl, RUDP_PAIR_OK, m.h.handle, m.seq);
}

/*
 * A DATA admitted this far goes through relay.c as the RELAY_FRAME of its handle h, with the
 * handle's memo: a stream's frames ask admission the same questions (rdv_int.h).
 */
static void
relay_udp_admit(struct relay_udp_conn *rc, unsigned h, const uint8_t *frame, size_t len)
{
	struct ctlmsg *f = rc->frame[h];
	struct rdv_origin o = { .c = rc->c, .memo = &rc->memo[h] };
	const char *td;
	struct server *to_srv;

	f->u.frame.frame = frame;
	f->u.frame.frame_len = len;
	if (rc->kind == RUDP_AGENT) {
		relay_handle(rc->srv->rdv, &o, f);
	} else {
		td = identity_domain_of(f->u.frame.to);
		to_srv = !strcmp(td, rc->srv->domain) ? rc->srv : rdv_domain_here(rc->srv, td);
		if (to_srv && to_srv->rdv)
			rdv_from_domain(to_srv, rc->domain, f, &rc->memo[h]);
	}
	f->u.frame.frame = NULL;
}

void
relay_udp_on_datagram(struct server *srv, int fd, const uint8_t *buf, size_t len,
		      const struct sockaddr_storage *from, socklen_t fl)
{
	struct relay_udp *u = relay_udp_of(srv, false);
	struct relay_udp_conn *rc;
	struct rudp_hdr h;

	if (!u)
		return;
	if (!rudp_hdr_decode(buf, len, &h)) {
		relay_udp_drop(u, srv->loop, &u->n.malformed, "malformed", from);
		return;
	}
	if (!(rc = relay_udp_find(u, h.ticket)) || (rc->c && rc->c->closed)) {
		relay_udp_drop(u, srv->loop, &u->n.unknown_ticket, "unknown ticket", from);
		return;
	}
	if (h.type != RUDP_DATA) {
		relay_udp_on_ctl(u, rc, fd, buf, len, from, fl);
		return;
	}
	if (rc->kind == RUDP_PEER_OUT || !rc->bound || !sockaddr_same(from, &rc->addr)) {
		relay_udp_drop(u, srv->loop, &u->n.wrong_source,
			       "a frame from an address its ticket is not bound to", from);
		return;
	}
	if (h.handle > rc->nhandles || !rc->frame[h.handle]) {
		relay_udp_drop(u, srv->loop, &u->n.unknown_handle, "a handle never paired", from);
		return;
	}
	u->n.frames_rx++;
	relay_udp_admit(rc, h.handle, buf + RUDP_HDR_LEN, len - RUDP_HDR_LEN);
}

/* --- our peering links (PEER_OUT) ------------------------------------------------------------ */

static int
relay_udp_fd(struct server *srv)
{
	return reflect_fd(srv->primary ? srv->primary : srv);
}

static void
relay_udp_send_ctl(struct relay_udp_conn *rc, uint8_t type, uint16_t handle)
{
	struct rudp_ctl m = { .h = { .type = type, .handle = handle, .ticket = rc->ticket } };
	uint8_t buf[RUDP_PAIR_MAX_LEN];
	size_t len;
	int fd = relay_udp_fd(rc->srv);
	const char *from, *to;

	if (type == RUDP_PAIR && !link_pairs_get(rc->lp, handle, &from, &to))
		return;
	m.seq = ++rc->seq;
	if (type == RUDP_PAIR) {
		snprintf(m.from, sizeof(m.from), "%s", from);
		snprintf(m.to, sizeof(m.to), "%s", to);
		rc->pair_seq[handle] = m.seq;
	}
	if (fd >= 0 && (len = relay_udp_seal(buf, sizeof(buf), &m, rc->key)))
		sendto(fd, buf, len, 0, (const struct sockaddr *)&rc->addr, rc->addrlen);
}

static bool
relay_udp_link_works(const struct relay_udp_conn *rc)
{
	return rc->ok_ms && ev_now_ms(rc->srv->loop) - rc->ok_ms < RUDP_BIND_FRESH_MS;
}

static void
relay_udp_on_answer(struct relay_udp *u, struct relay_udp_conn *rc, const struct rudp_ctl *m,
		    const struct sockaddr_storage *from)
{
	bool worked = relay_udp_link_works(rc);
	const char *pf, *pt;

	if (!sockaddr_same(from, &rc->addr)) {
		relay_udp_drop(u, rc->srv->loop, &u->n.wrong_source,
			       "an answer from another address than the server's", from);
		return;
	}
	if (m->h.type == RUDP_BIND_OK && m->seq > rc->ok_seq && m->seq <= rc->seq) {
		rc->ok_seq = m->seq;
		rc->ok_ms = ev_now_ms(rc->srv->loop);
		if (!worked)
			rdv_info(rc->srv->rdv, "peering with %s: frames go over udp now",
				 rc->domain);
		return;
	}
	if (m->h.type == RUDP_PAIR_OK && link_pairs_get(rc->lp, m->h.handle, &pf, &pt) &&
	    m->seq == rc->pair_seq[m->h.handle]) {
		rc->acked[m->h.handle] = true;
		return;
	}
	relay_udp_drop(u, rc->srv->loop, &u->n.replayed, "a stale answer", from);
}

/* A handle the link freed: its next PAIR is for another pair, answered anew. */
static void
relay_udp_pair_gone(unsigned h, void *arg)
{
	struct relay_udp_conn *rc = arg;

	rc->acked[h] = false;
	rc->pair_seq[h] = 0;
}

static void
relay_udp_on_link_timer(struct ev_timer *t)
{
	struct relay_udp_conn *rc = container_of(t, struct relay_udp_conn, timer);
	struct relay_udp *u = relay_udp_of(rc->srv, false);
	unsigned sent = 0, went;
	const char *from, *to;

	went = link_pairs_expire(rc->lp, ev_now_ms(rc->srv->loop), RUDP_PAIR_IDLE_MS,
				 relay_udp_pair_gone, rc);
	if (went) {
		u->n.pairs_expired += went;
		log_debug(LOG_CTL,
			  "peering with %s: freed %u pair handle(s) idle for %u s; %u in use",
			  rc->domain, went, RUDP_PAIR_IDLE_MS / 1000, link_pairs_count(rc->lp));
	}
	if (rc->ok_ms && !relay_udp_link_works(rc)) {
		rdv_info(rc->srv->rdv, "peering with %s: no answer over udp: frames go over tls",
			 rc->domain);
		rc->ok_ms = 0;
	}
	relay_udp_send_ctl(rc, RUDP_BIND, 0);
	for (unsigned h = 1; h <= link_pairs_top(rc->lp) && sent < RUDP_PAIRS_PER_TICK; h++)
		if (!rc->acked[h] && link_pairs_get(rc->lp, h, &from, &to)) {
			relay_udp_send_ctl(rc, RUDP_PAIR, (uint16_t)h);
			sent++;
		}
	ev_timer_start(rc->srv->loop, &rc->timer, RUDP_BIND_MS, relay_udp_on_link_timer);
}

struct relay_udp_conn *
relay_udp_link_up(struct server *srv, const char *domain, struct stream *s)
{
	struct relay_udp_conn *rc;

	if (relay_udp_fd(srv) < 0 ||
	    !(rc = relay_udp_entry_new(srv, RUDP_PEER_OUT, stream_tls(s), RUDP_LINK_HANDLES)))
		return NULL;
	snprintf(rc->domain, sizeof(rc->domain), "%s", domain);
	rc->addrlen = sockaddr_for_family(AF_INET6, stream_remote(s), &rc->addr);
	relay_udp_on_link_timer(&rc->timer);
	return rc;
}

void
relay_udp_link_down(struct server *srv, struct relay_udp_conn *rc)
{
	relay_udp_entry_del(srv, rc);
}

/*
 * The handle of (from, to) on the link, a new one (its PAIR sent) if it has none; 0: every
 * handle is in use (the frame goes over TLS).
 */
static unsigned
relay_udp_link_handle(struct relay_udp_conn *rc, const char *from, const char *to)
{
	uint64_t now = ev_now_ms(rc->srv->loop);
	unsigned h = link_pairs_find(rc->lp, from, to, now);

	if (h || !(h = link_pairs_add(rc->lp, from, to, now)))
		return h;
	rc->acked[h] = false;
	relay_udp_send_ctl(rc, RUDP_PAIR, (uint16_t)h);
	return h;
}

/* --- frames out ------------------------------------------------------------------------------ */

/* rc's (an AGENT's) handle for peer, 0 if none. */
static unsigned
relay_udp_handle_of(struct relay_udp_conn *rc, const char *peer)
{
	unsigned h = rc->last_found;

	if (h && rc->frame[h] && !strcmp(rc->frame[h]->u.frame.to, peer))
		return h;
	for (h = 1; h <= rc->nhandles; h++)
		if (rc->frame[h] && !strcmp(rc->frame[h]->u.frame.to, peer))
			return rc->last_found = h;
	return 0;
}

/* Sends what is queued; what the kernel refuses is lost, and counted. */
static void
relay_udp_tx_flush(struct relay_udp *u)
{
	struct udp_batch_result r;

	if (!u->tx.n)
		return;
	udp_batch_send(&u->tx, u->tx_fd, &r);
	if (r.gso_refused)
		log_warnx("relay udp: segmentation offload refused; sending frames one by one");
	u->n.frames_tx += r.sent;
	u->n.send_failed += r.failed;
}

void
relay_udp_flush(struct server *srv)
{
	struct relay_udp *u = relay_udp_of(srv, false);

	if (u)
		relay_udp_tx_flush(u);
}

/* The frame as a DATA to rc's address, queued for the flush (at the end of the loop turn). */
static bool
relay_udp_send_data(struct relay_udp *u, int fd, const struct relay_udp_conn *rc, unsigned handle,
		    const struct ctlmsg *m)
{
	uint8_t *buf;

	if (fd < 0 || m->u.frame.frame_len > FRAME_MAX_LEN)
		return false; /* the stream may still take it */
	if (!u->tx_probed) {
		udp_offloads_probe(fd, &u->tx.gso, NULL);
		u->tx_probed = true;
	}
	if (udp_batch_full(&u->tx) || (u->tx.n && fd != u->tx_fd))
		relay_udp_tx_flush(u);
	u->tx_fd = fd;
	buf = u->tx_buf[u->tx.n];
	rudp_data_hdr_encode(buf, (uint16_t)handle, rc->ticket);
	memcpy(buf + RUDP_HDR_LEN, m->u.frame.frame, m->u.frame.frame_len);
	udp_batch_add(&u->tx, buf, RUDP_HDR_LEN + m->u.frame.frame_len,
		      (const struct sockaddr *)&rc->addr, rc->addrlen);
	return true;
}

/* To an agent of ours with a fresh binding and a handle for the sender. */
static bool
relay_udp_to_agent(struct relay_udp *u, struct rdv *r, const struct ctlmsg *m)
{
	struct relay_udp_conn *rc;
	struct sconn *c;
	unsigned h;

	if (!(c = rdv_agent_conn(r->srv, m->u.frame.to)) || !(rc = c->rudp) || !rc->bound ||
	    ev_now_ms(r->srv->loop) - rc->bind_ms >= RUDP_BIND_FRESH_MS ||
	    !(h = relay_udp_handle_of(rc, m->u.frame.from)))
		return false;
	return relay_udp_send_data(u, rc->fd, rc, h, m);
}

/* To another domain's server whose UDP answers, once it took the pair's PAIR. */
static bool
relay_udp_to_server(struct relay_udp *u, struct rdv *r, const char *domain, const struct ctlmsg *m)
{
	struct relay_udp_conn *rc = peering_rudp(r, domain);
	unsigned h;

	if (!rc || !relay_udp_link_works(rc) ||
	    !(h = relay_udp_link_handle(rc, m->u.frame.from, m->u.frame.to)) || !rc->acked[h])
		return false;
	return relay_udp_send_data(u, relay_udp_fd(r->srv), rc, h, m);
}

bool
relay_udp_deliver(struct rdv *r, const struct ctlmsg *m)
{
	struct relay_udp *u = relay_udp_of(r->srv, false);
	const char *domain = identity_domain_of(m->u.frame.to);

	if (!u)
		return false;
	if (!strcmp(domain, r->srv->domain))
		return relay_udp_to_agent(u, r, m);
	if (rdv_domain_here(r->srv, domain))
		return false; /* in-process: no hop to save */
	return relay_udp_to_server(u, r, domain, m);
}

void
relay_udp_unbind(struct sconn *c)
{
	if (c->rudp && c->rudp->kind == RUDP_AGENT)
		c->rudp->bind_ms = 0;
}

void
relay_udp_tls_frame(struct sconn *c, const struct ctlmsg *m)
{
	struct relay_udp_conn *rc = c->rudp;
	unsigned h;

	if (!rc || rc->kind != RUDP_AGENT || !rc->bound ||
	    !(h = relay_udp_handle_of(rc, m->u.frame.to)) || rc->frame[h] == m)
		return;
	/* It could have sent this as a datagram and did not: it does not trust UDP now. */
	rc->bind_ms = 0;
}

const struct relay_udp_stats *
relay_udp_stats(struct server *srv)
{
	struct relay_udp *u = relay_udp_of(srv, false);

	return u ? &u->n : NULL;
}

void
relay_udp_close(struct server *srv)
{
	struct relay_udp *u = srv->relay_udp;

	if (!u)
		return;
	relay_udp_tx_flush(u);
	log_info("relay udp at exit: %llu frames in, %llu out, %llu binds, %llu pairs; dropped: "
		 "%llu malformed, %llu unknown ticket, %llu wrong source, %llu not authenticated, "
		 "%llu replayed, %llu unknown handle, %llu not sent; %llu idle pair handles freed",
		 (unsigned long long)u->n.frames_rx, (unsigned long long)u->n.frames_tx,
		 (unsigned long long)u->n.binds, (unsigned long long)u->n.pairs,
		 (unsigned long long)u->n.malformed, (unsigned long long)u->n.unknown_ticket,
		 (unsigned long long)u->n.wrong_source, (unsigned long long)u->n.bad_mac,
		 (unsigned long long)u->n.replayed, (unsigned long long)u->n.unknown_handle,
		 (unsigned long long)u->n.send_failed, (unsigned long long)u->n.pairs_expired);
	for (unsigned i = 0; i < RUDP_TICKET_BUCKETS; i++)
		while (u->bucket[i]) {
			struct relay_udp_conn *rc = u->bucket[i];

			u->bucket[i] = rc->next;
			if (rc->c)
				rc->c->rudp = NULL;
			relay_udp_entry_free(rc);
		}
	free(u);
	srv->relay_udp = NULL;
}
