/* SPDX-License-Identifier: MIT */
/*
 * What direct.c and direct_birthday.c share (not a public face: direct.h is): the state of the
 * candidates, the rounds and the birthday technique with each peer. direct.c owns it; the
 * birthday technique's running (direct_birthday.c) is called from its offers, its NAT
 * classification and its timer.
 */
#ifndef VERTEX_DIRECT_INT_H
#define VERTEX_DIRECT_INT_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/ev.h"
#include "direct/birthday.h"
#include "direct/direct.h"
#include "direct/hairpin.h"

enum { DIRECT_BD_BATCH = 128 }; /* sockets opened or probes sent per tick, at most */

/*
 * The birthday technique with one peer (birthday.h): our extra sockets (we are the side whose
 * mapping is endpoint-dependent) and our spray at its ports (its mapping is). Allocated when
 * it starts, freed when both parts are over; it outlives a new offer from the peer, so a new
 * round does not close the socket that carries the path.
 */
struct direct_bd {
	bool socks_on, spray_on;
	bool hit; /* counted once */
	struct birthday_socks socks;
	struct birthday_spray spray;
	struct sockaddr_storage to;  /* the peer's server-reflexive endpoint: our sockets' target */
	struct sockaddr_storage pub; /* its public address: the spray's, ports replaced */
};

/* A simultaneous open with one peer (direct_tcp.c, direct.h direct_simopen_plan). */
struct direct_so {
	bool on, tls_client;
	struct sockaddr_storage to;
	unsigned tries;
	uint64_t due_ms; /* when the next try goes; 0: not due yet */
};

/*
 * A peer's candidates from its last offer, and the probing round they started: kept after the
 * round ends (active false), for `vertex peers`, until the peer goes or a new offer comes.
 */
struct direct_round {
	char peer[CTL_STR_MAX + 1];
	struct sockaddr_storage cand[CTL_CANDIDATES_MAX];
	uint8_t kind[CTL_CANDIDATES_MAX];
	size_t ncand;
	bool active;                                 /* probing */
	struct sockaddr_storage tcp[DIRECT_TCP_MAX]; /* its TCP candidates, dialed in turn */
	uint8_t tcp_kind[DIRECT_TCP_MAX];
	size_t ntcp, tcp_next;
	uint64_t tcp_due_ms; /* when the next one is dialed; 0: not yet due */
	bool tcp_first;      /* we dial at once; else DIRECT_TCP_DEFER_MS after it is due */
	bool tcp_early;      /* UDP cannot work (direct_tcp_plan): TCP due without the fast phase */
	bool tcp_relink;     /* a direct link was up when a dial was due: the next offer (a new
				session's: a rekey over the relay) dials the candidates over */
	uint64_t started_ms, next_ms;
	uint64_t offered_ms; /* when we last offered ours to this peer; 0: never */
	bool slow;           /* past the fast phase (said once in the log) */
	/* What its offer said of its NAT (CTL_CAND_NAT; DIRECT_* enums, 0: not said). */
	int mapping, filtering;
	struct sockaddr_storage srflx; /* its server-reflexive candidate; family 0: none */
	uint16_t nat_ports[2]; /* its mapped ports toward its server's two ports; 0: unknown */
	bool mapped;           /* it offered a router mapping (plain probes get in there) */
	struct direct_bd *bd;  /* the birthday technique with it; NULL: not running */
	uint64_t bd_next_ms;   /* not again before (it found nothing last time); 0: any time */
	struct direct_so so;   /* a simultaneous open with it */
};

struct direct {
	struct ev_loop *loop;
	char self[CTL_STR_MAX + 1];
	uint16_t port;
	int family;
	char overlay[IF_NAMESIZE];
	struct direct_ops ops;
	void *arg;

	struct sockaddr_storage server; /* the home server's UDP address; family 0: none */
	struct sockaddr_storage reflexive;
	/* This round of reflection's questions (natclass.h), asked again (new nonces) until
	 * answered or given up on; the server's other address, as its answers name it. */
	struct nat_question ask[NATQ_COUNT];
	struct sockaddr_storage server_alt; /* with the server's port; family 0: none known */
	unsigned tries;                     /* sends this round */
	bool round_done;                    /* the next send starts a new round */
	uint64_t next_reflect_ms;
	int mapping, filtering; /* from the last round done (enum direct_mapping, _filtering) */
	struct ctl_candidate host[DIRECT_HOST_MAX]; /* our host candidates when last looked at */
	size_t nhost;

	struct direct_round rounds[DIRECT_PEERS_MAX];
	size_t nrounds;
	struct ev_timer timer;
	struct direct_stats stats;
	struct portmap *portmap;     /* the data port's UDP mapping; NULL: off */
	struct portmap *portmap_tcp; /* the peer port's TCP mapping; NULL: off */
	uint16_t public_tcp;         /* a TCP port the router forwards to ours (config); 0: none */
	struct hairpin hairpin;      /* the hairpin test (direct_hairpin.c) */
	struct sockaddr_storage observed; /* our home connection's source as the server saw it */
};

/* The timer runs while there is a server or a round (direct.c). */
void direct_arm(struct direct *d);
/* Reflection's part of the timer's tick (direct_reflect.c). */
void direct_reflect_tick(struct direct *d, uint64_t now);

/*
 * Is the technique needed with the peer of r, and which part is ours (direct_birthday.c)? Called
 * on its offer and when our NAT's classification changes.
 */
void direct_bd_consider(struct direct *d, struct direct_round *r, uint64_t now);
/* On the timer, for a round with r->bd: opens, sprays, releases; frees r->bd when over. */
void direct_bd_run(struct direct *d, struct direct_round *r, uint64_t now);
/* The peer is gone: every socket of r's technique closed, r->bd freed. */
void direct_bd_end(struct direct *d, struct direct_round *r);

/*
 * A candidate (of a kind we dial or probe: host, srflx, mapped) as an address; false for other
 * kinds and for addresses no peer can have (this host, nowhere, multicast).
 */
bool direct_cand_to_sockaddr(const struct ctl_candidate *c, struct sockaddr_storage *ss);

/*
 * TCP simultaneous open (direct_tcp.c): our candidate, if any, added to out (n used, max
 * room; returns the new n); on an offer from the peer of r (was: r's state before the offer,
 * so tries are kept when the target is the same; early: UDP is blocked on either side); on
 * the timer, the try due made. direct_so_holds: plain TCP dials to r's peer wait.
 */
size_t direct_so_gather(const struct direct *d, struct ctl_candidate *out, size_t n, size_t max);
void direct_so_consider(struct direct *d, struct direct_round *r, const struct direct_so *was,
			const struct ctlmsg *m, bool early, uint64_t now);
void direct_so_run(struct direct *d, struct direct_round *r, uint64_t now);
bool direct_so_holds(const struct direct_round *r, uint64_t now);

/*
 * The hairpin test (direct_hairpin.c, direct/hairpin.h): a new one toward d->reflexive (called
 * when it is new); on the timer, the probe due sent; a probe that came back (or anything else
 * of its type) from the data socket.
 */
void direct_hp_start(struct direct *d, uint64_t now);
void direct_hp_run(struct direct *d, uint64_t now);
void direct_hp_on_datagram(struct direct *d, const uint8_t *buf, size_t len);

#endif
