/* SPDX-License-Identifier: MIT */
/*
 * Inside the peer module (table.c, peer.c, timers.c): the table's state and what the three
 * files share. Not for other modules: they use peer.h.
 */
#ifndef VERTEX_PEER_INT_H
#define VERTEX_PEER_INT_H

#include "core/log.h"
#include "peer/peer.h"

struct peer_table {
	struct ev_loop *loop;        /* borrowed */
	struct session_index *index; /* borrowed: our receiver indices, for the keys we drop */
	struct peer_params params;   /* self points at self[] */
	char self[IDENTITY_STR_MAX];
	struct peer_ops ops;
	void *arg;
	uint32_t seed;          /* of the identity hash */
	struct peer **buckets;  /* by identity */
	struct peer **by_index; /* by overlay index, by_index_len long */
	size_t by_index_len;
	struct peer **order; /* every peer, in the order added: n of cap */
	size_t n, cap;
	struct log_ratelimit drop_rl; /* drop lines of every peer together */
};

/* peer.c: wipes and frees both keypairs (their receiver indices leave the table). */
void peer_drop_keys(struct peer *p);
/* peer.c: wipes and frees the previous keypair only (it is too old to receive with). */
void peer_drop_previous_keys(struct peer *p);
/*
 * timers.c: the next try after delay_ms, the backoff going on from there, replacing a sooner
 * retry already armed (trust ended the session: trying again soon is pointless).
 */
void peer_timers_retry_slowly(struct peer *p, unsigned delay_ms);
/* peer.c: the keys are too old and no rekey came: the session is over. */
void peer_on_keys_expired(struct peer *p);
/* peer.c: nothing arrived for peer_dead_after_ms while up: ask for a new handshake. */
void peer_on_silence(struct peer *p, uint64_t silent_ms);
/* peer.c: every state change; leaving UP calls peer_ops.on_session_down. */
void peer_set_state(struct peer *p, enum peer_state s);

#endif
