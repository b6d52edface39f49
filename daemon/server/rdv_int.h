/* SPDX-License-Identifier: MIT */
/*
 * Inside the server's rendezvous (docs/rendezvous.md): the state rendezvous.c, relay.c and
 * peering.c share, one per domain served. Not for other modules: they use server.h's rdv_*,
 * relay_* and peering_* verbs.
 */
#ifndef VERTEX_RDV_INT_H
#define VERTEX_RDV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/siphash.h"
#include "server/server.h"

struct approvals;
struct ctlmsg;
struct outbox;
struct pending_table;
struct rdv_online;
struct peering_link;
struct ratelimit;
struct sconn;
struct server;
struct stream;
struct relay_udp_conn;

enum {
	RDV_ASK_BURST = 20, /* CONTACTs per asking identity: 20, then one per RDV_ASK_EVERY_S */
	RDV_ASK_EVERY_S = 6,
	RDV_ASK_KEYS = 65536,
	RDV_REPORT_MS = 60000,          /* the counters are logged this often, when they changed */
	PEERING_MAX = 256,              /* other domains one server keeps a connection to */
	PEERING_OUTBOX_POLL_MS = 30000, /* domains with kept records get a link this often */
	RDV_ONLINE_BUCKETS = 4096,
};

/* What a server counts (logged every RDV_REPORT_MS when changed, and at exit). */
struct rdv_counters {
	uint64_t contacts, answers, approvals, revocations;
	uint64_t refused_forged;    /* from or to not allowed on that hop */
	uint64_t refused_unmatched; /* an ANSWER matching no pending request */
	uint64_t refused_verdict;   /* a server's verdict sent by an agent */
	uint64_t rate;              /* CONTACTs over the asker's rate or the pending bounds */
	uint64_t undeliverable;     /* an answer or record for an agent not connected */
	uint64_t relay_frames, relay_bytes, relay_records, relay_record_bytes;
	uint64_t relay_refused;      /* no approval between the two */
	uint64_t relay_dropped_rate; /* over the pair's or the agent's bucket */
	uint64_t relay_dropped_queue;
	uint64_t relay_fin;           /* relayed channels ended by this server */
	uint64_t peering_dropped;     /* records for another domain that could not be sent */
	uint64_t peering_idle_closed; /* peering links closed for having nothing to carry */
	uint64_t revoked_kept; /* REVOKEDs for other domains kept (outbox.h) until acknowledged */
	uint64_t revoked_delivered; /* of them, acknowledged by the other server */
	uint64_t revoked_not_kept;  /* the outbox full or failing: sent as before, maybe lost */
};

struct rdv {
	struct server *srv;
	struct approvals *approvals;
	struct outbox *outbox; /* peering.c: REVOKEDs waiting for a link (outbox.h) */
	struct pending_table *pending;
	struct ratelimit *rl_ask;
	struct ev_timer expiry, report, outbox_timer;
	struct rdv_counters n, reported;
	struct log_ratelimit log_rl;
	struct relay_pairs *pairs;               /* relay.c: per-pair buckets */
	struct peering_link *links[PEERING_MAX]; /* peering.c */
	size_t nlinks;
	struct siphash_key online_key;
	struct rdv_online *online[RDV_ONLINE_BUCKETS]; /* identity -> its newest connection */
};

/*
 * Where a record came from, for the hop checks: an agent of this domain on connection c, or the
 * server of domain `domain` (on connection c, or in-process with c NULL: run --also).
 */
/*
 * What relay_handle found for one pair, kept by relay_udp.c per handle (a relay datagram names
 * its pair by a handle, so every frame of a stream asks the same questions): the approval
 * between the two, valid while approvals_generation is approvals_gen; the pair's bucket, valid
 * while its slot's generation is slot_gen. Zeroed: nothing known.
 */
struct relay_pair;
struct relay_memo {
	uint64_t approvals_gen; /* 0: the approval not known */
	struct relay_pair *slot;
	uint64_t slot_gen;
};

struct rdv_origin {
	struct sconn *c;
	const char *domain;      /* NULL: an agent of ours */
	struct relay_memo *memo; /* a relay datagram's handle's, or NULL */
};

/* Log lines name the domain they speak for, as federation's do. */
#define rdv_info(r, fmt, ...) log_info("rendezvous of %s: " fmt, (r)->srv->domain, __VA_ARGS__)
#define rdv_warn(r, fmt, ...) log_warnx("rendezvous of %s: " fmt, (r)->srv->domain, __VA_ARGS__)

/* rendezvous.c */
/*
 * Sends m toward its `to`: an agent connected here (the newest connection of that identity that
 * said HELLO as an agent), another domain served by this process (handed to it as if from this
 * domain's server), or another domain's server (peering). 0, -ENOTCONN (no such agent
 * connected), -ENOBUFS (its queue is full) or -EHOSTUNREACH (its domain cannot be reached).
 */
int rdv_route(struct rdv *r, const struct ctlmsg *m);
/* The newest live agent connection of identity here, or NULL. */
struct sconn *rdv_agent_conn(struct server *srv, const char *identity);
/* The domain served by this process named domain, or NULL. */
struct server *rdv_domain_here(struct server *srv, const char *domain);
/* A record of another domain served by this process: the hop from that domain's server. */
void rdv_from_domain(struct server *srv, const char *from_domain, const struct ctlmsg *m,
		     struct relay_memo *memo);
/* Says (rate-limited) why a record was refused or dropped, with its counter's new value. */
void rdv_log(struct rdv *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* relay.c: RELAY, RELAY_FRAME, OFFER after the hop's from/to check */
void relay_handle(struct rdv *r, const struct rdv_origin *o, const struct ctlmsg *m);
int relay_pairs_new(struct relay_pairs **out);
void relay_pairs_free(struct relay_pairs *p);

/*
 * relay_udp.c: m (a RELAY_FRAME, admitted) sent as a datagram toward its `to` (an agent here,
 * or the server of its domain)? False: route it over TLS.
 */
bool relay_udp_deliver(struct rdv *r, const struct ctlmsg *m);
/* Agent connection c said "no datagrams to me until my next BIND". */
void relay_udp_unbind(struct sconn *c);
/* A RELAY_FRAME came over TLS from agent connection c (relay.c, before admission). */
void relay_udp_tls_frame(struct sconn *c, const struct ctlmsg *m);
/* Our peering link to domain is UP on s: its datagrams (NULL: none, TLS alone). */
struct relay_udp_conn *relay_udp_link_up(struct server *srv, const char *domain, struct stream *s);
/* It is down; rc NULL is ignored. */
void relay_udp_link_down(struct server *srv, struct relay_udp_conn *rc);

/* peering.c */
/* Queues or sends m to domain's server; 0, -ENOBUFS or -EHOSTUNREACH (as rdv_route). */
int peering_send(struct rdv *r, const char *domain, const struct ctlmsg *m);
/* The link to domain's relay datagrams (relay_udp.c), if it is UP and has them; else NULL. */
struct relay_udp_conn *peering_rudp(struct rdv *r, const char *domain);
/* Output bytes waiting on the connection to domain (0 if none). */
size_t peering_pending_output(struct rdv *r, const char *domain);
/* Starts the poll that opens links to the domains with kept records (at start: the ones a
 * previous run left). */
void peering_outbox_start(struct rdv *r);
void peering_free_all(struct rdv *r);
/*
 * rendezvous.c, for peering.c: m could not be sent to its domain's server. A CONTACT is
 * answered `unreachable` (and forgotten), a RELAY ends its channel (relay_unsent), the rest is
 * counted as dropped.
 */
void rdv_unsent(struct rdv *r, const struct ctlmsg *m);
/* relay.c, for rdv_unsent */
void relay_unsent(struct rdv *r, const struct ctlmsg *m);

#endif
