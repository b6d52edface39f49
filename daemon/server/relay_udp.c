// SPDX-License-Identifier: MIT
/*
 * The relay over UDP, on a server (docs/rendezvous.md, "The relay over UDP"; proto/relayudp.h):
 * sealed frames from and to the agents of the domains served here as datagrams on the
 * reflection socket (reflect.c hands us every datagram whose first byte is one of ours).
 *
 * Each agent connection (once it said HELLO as an agent of ours) gets a ticket and a MAC key
 * from its TLS exporter (relay_udp_conn_up): both ends derive them, nothing is sent. The agent
 * binds its UDP source with a BIND (MAC'd, its seq above the last taken: no replay) and names
 * its peers' handles with PAIRs (MAC'd; each handle's seq only grows); both are answered,
 * never with more bytes than they brought. A DATA then needs, in this order (cheap checks
 * first): a known type and length, a known ticket, the very address and port the last BIND
 * came from, a handle the agent named. It becomes the RELAY_FRAME it stands for (a record kept
 * per handle, from and to filled once, so no identity is parsed or formatted per frame) and
 * goes through relay.c's admission as a record would: the approval between the two, the
 * agent's and the pair's buckets, the next hop's queue, the same counters.
 *
 * The other way, relay.c asks relay_udp_deliver before it routes a frame to an agent here:
 * if that agent's BIND is fresh (RUDP_BIND_FRESH_MS) and it named a handle for the sender, the
 * frame goes as a DATA datagram to the bound address, from the socket the BIND came to (the
 * agent's NAT lets that in); else over TLS as before.
 *
 * Every datagram that fails a check is dropped and counted (by reason, logged at exit and
 * rate-limited as it happens). Tickets are found in a table of RUDP_TICKET_BUCKETS chains:
 * the ticket is exporter output, uniformly random, so its low bits pick the chain.
 */
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/sockaddr.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"
#include "proto/relayudp.h"
#include "server/rdv_int.h"
#include "server/server.h"
#include "trust/identity.h"

enum {
	RUDP_TICKET_BUCKETS = 4096,
	RUDP_BIND_FRESH_MS = 3500, /* the agent binds every second (relay.h RELAY_UDP_BIND_MS) */
};

/* One agent connection's datagrams. */
struct relay_udp_conn {
	struct sconn *c;
	struct relay_udp_conn *next; /* in its ticket's chain */
	uint64_t ticket;
	uint8_t key[RUDP_KEY_LEN];
	bool bound;
	int fd; /* the socket its BIND came to */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t bind_seq, bind_ms;
	unsigned last_found;
	struct ctlmsg *frame[RUDP_HANDLES_MAX + 1]; /* RELAY_FRAME from c's agent to the handle's */
	uint64_t pair_seq[RUDP_HANDLES_MAX + 1];
};

struct relay_udp {
	struct relay_udp_conn *bucket[RUDP_TICKET_BUCKETS];
	struct relay_udp_stats n;
	struct log_ratelimit rl;
};

static struct relay_udp *
relay_udp_of(struct server *srv, bool create)
{
	struct server *p = srv->primary ? srv->primary : srv;

	if (!p->relay_udp && create)
		p->relay_udp = calloc(1, sizeof(*p->relay_udp));
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

void
relay_udp_conn_up(struct sconn *c)
{
	struct relay_udp *u = relay_udp_of(c->srv, true);
	uint8_t ex[RUDP_EXPORT_LEN];
	struct relay_udp_conn *rc, **chain;

	if (!u || c->rudp || !c->srv->rdv || rdv_agent_conn(c->srv, c->peer) != c)
		return;
	if (tls_conn_export(stream_tls(c->s), RUDP_EXPORT_LABEL, ex, sizeof(ex)) ||
	    !(rc = calloc(1, sizeof(*rc)))) {
		sodium_memzero(ex, sizeof(ex));
		return; /* its frames go over TLS */
	}
	for (int i = 0; i < RUDP_TICKET_LEN; i++)
		rc->ticket = rc->ticket << 8 | ex[i];
	memcpy(rc->key, ex + RUDP_TICKET_LEN, RUDP_KEY_LEN);
	sodium_memzero(ex, sizeof(ex));
	rc->c = c;
	chain = &u->bucket[rc->ticket & (RUDP_TICKET_BUCKETS - 1)];
	rc->next = *chain;
	*chain = rc;
	c->rudp = rc;
}

static void
relay_udp_conn_free(struct relay_udp_conn *rc)
{
	for (unsigned h = 0; h <= RUDP_HANDLES_MAX; h++)
		free(rc->frame[h]);
	sodium_memzero(rc->key, sizeof(rc->key));
	free(rc);
}

void
relay_udp_conn_down(struct sconn *c)
{
	struct relay_udp *u = relay_udp_of(c->srv, false);
	struct relay_udp_conn **pp;

	if (!u || !c->rudp)
		return;
	for (pp = &u->bucket[c->rudp->ticket & (RUDP_TICKET_BUCKETS - 1)]; *pp; pp = &(*pp)->next)
		if (*pp == c->rudp) {
			*pp = c->rudp->next;
			break;
		}
	relay_udp_conn_free(c->rudp);
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

static void
relay_udp_answer(struct relay_udp_conn *rc, int fd, const struct sockaddr_storage *to,
		 socklen_t tolen, uint8_t type, uint16_t handle, uint64_t seq)
{
	struct rudp_ctl m = { .h = { .type = type, .handle = handle, .ticket = rc->ticket },
			      .seq = seq };
	uint8_t out[RUDP_CTL_LEN];

	if (rudp_ctl_encode(out, sizeof(out), &m, rc->key) == RUDP_CTL_LEN)
		sendto(fd, out, sizeof(out), 0, (const struct sockaddr *)to, tolen);
}

/* PAIR: handle h names peer from now on (a RELAY_FRAME kept with from and to filled). */
static bool
relay_udp_pair(struct relay_udp_conn *rc, const struct rudp_ctl *m)
{
	struct ctlmsg *f = rc->frame[m->h.handle];
	struct identity id;

	if (m->seq <= rc->pair_seq[m->h.handle] ||
	    identity_parse(m->identity, IDENTITY_PURPOSE_FORBIDDEN, &id, NULL))
		return false;
	if (!f && !(f = rc->frame[m->h.handle] = malloc(sizeof(*f))))
		return false;
	memset(f, 0, sizeof(*f));
	f->type = CTL_RELAY_FRAME;
	memcpy(f->u.frame.from, rc->c->peer, strlen(rc->c->peer) + 1);
	memcpy(f->u.frame.to, m->identity, strlen(m->identity) + 1);
	rc->pair_seq[m->h.handle] = m->seq;
	rc->last_found = 0;
	return true;
}

static void
relay_udp_on_ctl(struct relay_udp *u, struct relay_udp_conn *rc, int fd, const uint8_t *buf,
		 size_t len, const struct sockaddr_storage *from, socklen_t fl)
{
	struct ev_loop *loop = rc->c->srv->loop;
	struct rudp_ctl m;

	if (!rudp_ctl_decode(buf, len, rc->key, &m) ||
	    (m.h.type != RUDP_BIND && m.h.type != RUDP_PAIR)) {
		relay_udp_drop(u, loop, &u->n.bad_mac, "not authenticated by its ticket's key",
			       from);
		return;
	}
	if (m.h.type == RUDP_BIND) {
		if (m.seq <= rc->bind_seq) {
			relay_udp_drop(u, loop, &u->n.replayed, "a BIND replayed", from);
			return;
		}
		rc->bind_seq = m.seq;
		rc->bind_ms = ev_now_ms(loop);
		rc->bound = true;
		rc->fd = fd;
		rc->addr = *from;
		rc->addrlen = fl;
		u->n.binds++;
		relay_udp_answer(rc, fd, from, fl, RUDP_BIND_OK, 0, m.seq);
		return;
	}
	if (!rc->bound || !sockaddr_same(from, &rc->addr)) {
		relay_udp_drop(u, loop, &u->n.wrong_source, "a PAIR from an address not bound",
			       from);
		return;
	}
	if (!relay_udp_pair(rc, &m)) {
		relay_udp_drop(u, loop, &u->n.replayed, "a PAIR replayed or naming no identity",
			       from);
		return;
	}
	u->n.pairs++;
	relay_udp_answer(rc, fd, from, fl, RUDP_PAIR_OK, m.h.handle, m.seq);
}

void
relay_udp_on_datagram(struct server *srv, int fd, const uint8_t *buf, size_t len,
		      const struct sockaddr_storage *from, socklen_t fl)
{
	struct relay_udp *u = relay_udp_of(srv, false);
	struct relay_udp_conn *rc;
	struct rdv_origin o;
	struct ctlmsg *f;
	struct rudp_hdr h;

	if (!u)
		return;
	if (!rudp_hdr_decode(buf, len, &h)) {
		relay_udp_drop(u, srv->loop, &u->n.malformed, "malformed", from);
		return;
	}
	if (!(rc = relay_udp_find(u, h.ticket)) || rc->c->closed) {
		relay_udp_drop(u, srv->loop, &u->n.unknown_ticket, "unknown ticket", from);
		return;
	}
	if (h.type != RUDP_DATA) {
		relay_udp_on_ctl(u, rc, fd, buf, len, from, fl);
		return;
	}
	if (!rc->bound || !sockaddr_same(from, &rc->addr)) {
		relay_udp_drop(u, srv->loop, &u->n.wrong_source,
			       "a frame from an address its ticket is not bound to", from);
		return;
	}
	if (!(f = rc->frame[h.handle])) {
		relay_udp_drop(u, srv->loop, &u->n.unknown_handle, "a handle never paired", from);
		return;
	}
	u->n.frames_rx++;
	f->u.frame.frame = buf + RUDP_HDR_LEN;
	f->u.frame.frame_len = len - RUDP_HDR_LEN;
	o = (struct rdv_origin){ .c = rc->c };
	relay_handle(rc->c->srv->rdv, &o, f);
	f->u.frame.frame = NULL;
}

/* rc's handle for peer, 0 if none. */
static unsigned
relay_udp_handle_of(struct relay_udp_conn *rc, const char *peer)
{
	unsigned h = rc->last_found;

	if (h && rc->frame[h] && !strcmp(rc->frame[h]->u.frame.to, peer))
		return h;
	for (h = 1; h <= RUDP_HANDLES_MAX; h++)
		if (rc->frame[h] && !strcmp(rc->frame[h]->u.frame.to, peer))
			return rc->last_found = h;
	return 0;
}

bool
relay_udp_deliver(struct rdv *r, const struct ctlmsg *m)
{
	struct relay_udp *u = relay_udp_of(r->srv, false);
	uint8_t hdr[RUDP_HDR_LEN];
	struct relay_udp_conn *rc;
	struct iovec iov[2];
	struct msghdr mh;
	struct sconn *c;
	unsigned h;

	if (!u || strcmp(identity_domain_of(m->u.frame.to), r->srv->domain) ||
	    !(c = rdv_agent_conn(r->srv, m->u.frame.to)) || !(rc = c->rudp) || !rc->bound ||
	    ev_now_ms(r->srv->loop) - rc->bind_ms >= RUDP_BIND_FRESH_MS ||
	    !(h = relay_udp_handle_of(rc, m->u.frame.from)))
		return false;
	rudp_data_hdr_encode(hdr, (uint16_t)h, rc->ticket);
	iov[0] = (struct iovec){ hdr, sizeof(hdr) };
	iov[1] = (struct iovec){ (void *)m->u.frame.frame, m->u.frame.frame_len };
	mh = (struct msghdr){
		.msg_name = &rc->addr, .msg_namelen = rc->addrlen, .msg_iov = iov, .msg_iovlen = 2
	};
	if (sendmsg(rc->fd, &mh, MSG_DONTWAIT) < 0) {
		u->n.send_failed++;
		return false; /* the stream may still take it */
	}
	u->n.frames_tx++;
	return true;
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
	log_info("relay udp at exit: %llu frames in, %llu out, %llu binds, %llu pairs; dropped: "
		 "%llu malformed, %llu unknown ticket, %llu wrong source, %llu not authenticated, "
		 "%llu replayed, %llu unknown handle, %llu not sent",
		 (unsigned long long)u->n.frames_rx, (unsigned long long)u->n.frames_tx,
		 (unsigned long long)u->n.binds, (unsigned long long)u->n.pairs,
		 (unsigned long long)u->n.malformed, (unsigned long long)u->n.unknown_ticket,
		 (unsigned long long)u->n.wrong_source, (unsigned long long)u->n.bad_mac,
		 (unsigned long long)u->n.replayed, (unsigned long long)u->n.unknown_handle,
		 (unsigned long long)u->n.send_failed);
	for (unsigned i = 0; i < RUDP_TICKET_BUCKETS; i++)
		while (u->bucket[i]) {
			struct relay_udp_conn *rc = u->bucket[i];

			u->bucket[i] = rc->next;
			rc->c->rudp = NULL;
			relay_udp_conn_free(rc);
		}
	free(u);
	srv->relay_udp = NULL;
}
