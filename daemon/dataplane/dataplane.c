// SPDX-License-Identifier: MIT
/*
 * The packet path. See dataplane.h.
 */
#include "dataplane/dataplane.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/pkt.h"
#include "dataplane/crypto_pool.h"
#include "overlay/pool.h"
#include "overlay/xlate.h"
#include "path/udp.h"
#include "peer/peer.h"
#include "proto/frame.h"
#include "proto/probe.h"
#include "session/session.h"

struct dataplane {
	struct ev_loop *loop;
	struct pkt_pool *pkts;
	const struct pool *pool;
	struct session_index *index;
	struct peer_table *peers;
	struct path_udp *udp;
	struct pktdev dev;
	struct dataplane_ops ops;
	void *arg;
	uint64_t drops[DATAPLANE_DROP_COUNT];
	struct log_ratelimit rl;
	struct ev_timer upkeep;     /* the UDP paths of busy peers watched (path/path.h) */
	struct crypto_pool *crypto; /* the AEAD on workers (dataplane_start_workers), or NULL */
};

enum { DATAPLANE_UPKEEP_MS = 250 };

static void dataplane_on_upkeep(struct ev_timer *t);

static const char *const dataplane_drop_names[DATAPLANE_DROP_COUNT] = {
	"unknown_receiver",
	"malformed",
	"no_buffer",
	"no_route",
};

const char *
dataplane_drop_name(enum dataplane_drop d)
{
	return dataplane_drop_names[d];
}

uint64_t
dataplane_drops(const struct dataplane *dp, enum dataplane_drop d)
{
	return dp->drops[d];
}

void
dataplane_count_drop(struct dataplane *dp, enum dataplane_drop d, const char *detail)
{
	dp->drops[d]++;
	if (log_ratelimit_ok(&dp->rl, ev_now_ms(dp->loop)))
		log_debug(LOG_DATA, "dropped a packet (%s)%s%s", dataplane_drop_names[d],
			  detail ? ": " : "", detail ? detail : "");
}

/* Ownership: *out is the caller's (dataplane_free); everything passed in is borrowed. */
int
dataplane_new(struct dataplane **out, struct ev_loop *loop, struct pkt_pool *pkts,
	      const struct pool *pool, struct session_index *index, struct peer_table *peers,
	      struct path_udp *udp, const struct pktdev *dev, const struct dataplane_ops *ops,
	      void *arg)
{
	struct dataplane *dp = calloc(1, sizeof(*dp));

	if (!dp)
		return -ENOMEM;
	dp->loop = loop;
	dp->pkts = pkts;
	dp->pool = pool;
	dp->index = index;
	dp->peers = peers;
	dp->udp = udp;
	dp->dev = *dev;
	dp->ops = *ops;
	dp->arg = arg;
	ev_timer_start(loop, &dp->upkeep, DATAPLANE_UPKEEP_MS, dataplane_on_upkeep);
	*out = dp;
	return 0;
}

void
dataplane_free(struct dataplane *dp)
{
	if (!dp)
		return;
	ev_timer_stop(dp->loop, &dp->upkeep);
	crypto_pool_free(dp->crypto);
	free(dp);
}

/* The peer a packet is for: its destination is pool base + the peer's index. */
static struct peer *
dataplane_peer_of(const struct dataplane *dp, const uint8_t *pkt, size_t len)
{
	uint32_t index = 0;

	if (len >= 20 && pkt[0] >> 4 == 4)
		index = pool_index4(dp->pool, pkt + 16);
	else if (len >= 40 && pkt[0] >> 4 == 6)
		index = pool_index6(dp->pool, pkt + 24);
	return index ? peer_by_index(dp->peers, index) : NULL;
}

/* A path probe (proto/probe.h) of type and seq, sealed, over UDP to `to`. */
static void
dataplane_send_path_probe(struct dataplane *dp, struct peer *peer, uint8_t type, uint32_t seq,
			  const struct sockaddr_storage *to)
{
	struct pkt *p;

	if (!dp->udp || !peer->current || !(p = pkt_get(dp->pkts)))
		return;
	probe_encode(pkt_data(p), type, seq);
	p->len = PROBE_LEN;
	if (session_seal(peer->current, p))
		path_udp_queue(dp->udp, to, p);
	else
		pkt_put(dp->pkts, p);
}

/*
 * While traffic flows, the UDP path is watched: a probe when it has gone quiet; and the peer's
 * other UDP endpoints are probed at a low rate, to be chosen by RTT (path/path.h).
 */
static void
dataplane_path_upkeep(struct dataplane *dp, struct peer *peer, uint64_t now)
{
	const struct sockaddr_storage *to;
	uint64_t dead = peer_dead_after_ms(peer);
	uint32_t seq;

	if (!peer->current)
		return;
	if (path_set_upkeep(&peer->paths, now, dead, peer->identity))
		dataplane_send_path_probe(dp, peer, PROBE_REQUEST,
					  path_set_probe_sent(&peer->paths, now),
					  &peer->paths.endpoint);
	/* At most PATH_ALT_MAX turns; one comparison when none is due. */
	while ((to = path_set_alt_upkeep(&peer->paths, now, dead, &seq)))
		dataplane_send_path_probe(dp, peer, PROBE_REQUEST, seq, to);
}

static void
dataplane_upkeep_peer(struct peer *peer, void *arg)
{
	struct dataplane *dp = arg;

	dataplane_path_upkeep(dp, peer, ev_now_ms(dp->loop));
}

static void
dataplane_on_upkeep(struct ev_timer *t)
{
	struct dataplane *dp = container_of(t, struct dataplane, upkeep);

	peer_foreach(dp->peers, dataplane_upkeep_peer, dp);
	ev_timer_start(dp->loop, t, DATAPLANE_UPKEEP_MS, dataplane_on_upkeep);
}

/* Sends a sealed frame on the path the peer's path set chooses; takes p. */
static void
dataplane_output(struct dataplane *dp, struct peer *peer, struct pkt *p)
{
	uint64_t now = ev_now_ms(dp->loop), dead = peer_dead_after_ms(peer);

	dataplane_path_upkeep(dp, peer, now);
	switch (path_choose(&peer->paths, now, dead)) {
	case PATH_UDP:
		path_udp_queue(dp->udp, &peer->paths.endpoint, p);
		return;
	case PATH_STREAM:
		if (dp->ops.send_stream(dp->arg, peer->paths.stream, pkt_data(p), p->len))
			break;
		peer_count_drop(peer, PEER_DROP_NO_SESSION, "the link's output is full");
		break;
	case PATH_RELAY:
		if (!dp->ops.send_relay || !dp->ops.send_relay(dp->arg, peer, p))
			peer_count_drop(peer, PEER_DROP_NO_SESSION,
					"the relay is down or over its bound");
		if (dp->ops.send_relay)
			return; /* it took p */
		break;
	case PATH_NONE:
		peer_count_drop(peer, PEER_DROP_NO_SESSION, "no path to the peer");
		break;
	}
	pkt_put(dp->pkts, p);
}

void
dataplane_send(struct dataplane *dp, struct pkt *p)
{
	struct peer *peer = dataplane_peer_of(dp, pkt_data(p), p->len);
	struct keypair *kp;
	size_t len = p->len;
	uint64_t counter;

	if (!peer) {
		dataplane_count_drop(dp, DATAPLANE_DROP_NO_ROUTE,
				     "destination is no peer's address");
		pkt_put(dp->pkts, p);
		return;
	}
	kp = peer->current;
	if (!kp || !session_seal_begin(kp, p, &counter)) {
		peer->stats.drops[PEER_DROP_NO_SESSION]++;
		peer_need_session(peer);
		pkt_put(dp->pkts, p);
		return;
	}
	peer->stats.tx_packets++;
	peer->stats.tx_bytes += len;
	path_set_on_data(&peer->paths, ev_now_ms(dp->loop));
	peer_on_tx(peer, kp);
	if (dp->crypto) {
		struct crypto_job *j = crypto_pool_job(dp->crypto);

		*j = (struct crypto_job){
			.p = p, .counter = counter, .op = CRYPTO_SEAL, .ref = peer->index
		};
		memcpy(j->key, session_send_key(kp), AEAD_KEY_LEN);
		crypto_pool_commit(dp->crypto);
		return;
	}
	if (!session_seal_finish(session_send_key(kp), counter, p)) {
		pkt_put(dp->pkts, p);
		return;
	}
	dataplane_output(dp, peer, p);
}

/*
 * A frame sealed on a worker: it goes out if its peer is still there with that key (current or
 * previous: a rekey does not void the frames sealed just before it); else it is dropped.
 */
static void
dataplane_sealed(struct dataplane *dp, struct crypto_job *j)
{
	struct peer *peer = peer_by_index(dp->peers, j->ref);
	bool ours = peer && ((peer->current && crypto_equal(session_send_key(peer->current), j->key,
							    AEAD_KEY_LEN)) ||
			     (peer->previous && crypto_equal(session_send_key(peer->previous),
							     j->key, AEAD_KEY_LEN)));

	if (!ours || !j->ok) {
		if (peer)
			peer_count_drop(peer, PEER_DROP_NO_SESSION, "the session ended meanwhile");
		pkt_put(dp->pkts, j->p);
		return;
	}
	dataplane_output(dp, peer, j->p);
}

/* The length the inner IP header claims, bounded by what arrived. */
static size_t
dataplane_ip_len(const uint8_t *ip, size_t len)
{
	size_t claimed = len;

	if (len >= 20 && ip[0] >> 4 == 4)
		claimed = (size_t)ip[2] << 8 | ip[3];
	else if (len >= 40 && ip[0] >> 4 == 6)
		claimed = 40 + ((size_t)ip[4] << 8 | ip[5]);
	return claimed < len ? claimed : len;
}

static enum peer_drop
dataplane_xlate_drop(enum xlate_result r)
{
	return r == XLATE_BAD_SOURCE ? PEER_DROP_BAD_SOURCE : PEER_DROP_MALFORMED;
}

/*
 * A path probe from peer (a payload of PROBE_LEN bytes: nothing else is that short): a request
 * over UDP is answered at once to where it came from; an answer times our path. Over the relay
 * or a link neither means anything (only UDP is probed).
 */
static void
dataplane_on_path_probe(struct dataplane *dp, struct peer *peer, const uint8_t *payload,
			const struct sockaddr_storage *from)
{
	uint8_t type;
	uint32_t seq;

	if (!probe_decode(payload, PROBE_LEN, &type, &seq)) {
		peer_count_drop(peer, PEER_DROP_MALFORMED, "a 5-byte payload that is no probe");
		return;
	}
	if (!from)
		return;
	if (type == PROBE_REQUEST) {
		dataplane_send_path_probe(dp, peer, PROBE_ANSWER, seq, from);
		return;
	}
	/*
	 * Any answer proves the round trip of the endpoint it came from (the current one, or
	 * another: path/path.h); a numbered one also times it.
	 */
	path_set_on_answer(&peer->paths, from, seq, ev_now_ms(dp->loop), peer_dead_after_ms(peer),
			   peer->identity);
}

/* The rest of a received frame's way once the AEAD verified it (on the loop); consumes p. */
static void
dataplane_opened(struct dataplane *dp, struct keypair *kp, struct pkt *p, uint64_t counter,
		 const struct sockaddr_storage *from, enum path_kind kind)
{
	struct peer *peer = kp->owner;
	enum xlate_result x;
	size_t len;

	if (session_open_accept(kp, p, counter) != SESSION_OPEN_OK) {
		peer_count_drop(peer, PEER_DROP_REPLAY, "counter already seen or too old");
		goto out;
	}
	if (peer_on_rx(peer, from, p->len == PROBE_LEN))
		dataplane_send_check(dp, peer, from); /* UDP news: say so, and ask back, at once */
	peer->paths.last_rx = kind;
	if (!p->len)
		goto out; /* keepalive */
	if (p->len == PROBE_LEN) {
		dataplane_on_path_probe(dp, peer, pkt_data(p), from);
		goto out;
	}
	x = xlate_inbound(pkt_data(p), p->len, &peer->map);
	if (x != XLATE_OK) {
		peer_count_drop(peer, dataplane_xlate_drop(x), xlate_result_name(x));
		goto out;
	}
	len = dataplane_ip_len(pkt_data(p), p->len);
	peer->stats.rx_packets++;
	peer->stats.rx_bytes += len;
	path_set_on_data(&peer->paths, ev_now_ms(dp->loop));
	if (dp->dev.deliver(dp->dev.dev, pkt_data(p), len) < 0 &&
	    log_ratelimit_ok(&dp->rl, ev_now_ms(dp->loop)))
		log_warnx("tun write failed");
out:
	pkt_put(dp->pkts, p);
}

/* A frame for kp to open on a worker with key: the loop's part (the replay check) is done. */
static void
dataplane_open_later(struct dataplane *dp, struct keypair *kp, const uint8_t *key, struct pkt *p,
		     uint64_t counter, const struct sockaddr_storage *from, enum path_kind kind)
{
	struct crypto_job *j = crypto_pool_job(dp->crypto);

	*j = (struct crypto_job){ .p = p,
				  .counter = counter,
				  .op = CRYPTO_OPEN,
				  .kind = (uint8_t)kind,
				  .ref = kp->local_index };
	memcpy(j->key, key, AEAD_KEY_LEN);
	if (from)
		j->from = *from;
	crypto_pool_commit(dp->crypto);
}

/*
 * A frame opened on a worker, handed back in the order it was received: its keypair is looked
 * up again (it may have gone, or its index been taken by another with another key), and the
 * replay window is moved here, on the loop.
 */
static void
dataplane_opened_job(struct dataplane *dp, struct crypto_job *j)
{
	struct keypair *kp = session_index_find(dp->index, j->ref);
	const uint8_t *key = kp ? session_recv_key(kp, pkt_data(j->p)[0]) : NULL;

	if (!key || !crypto_equal(key, j->key, AEAD_KEY_LEN)) {
		dataplane_count_drop(dp, DATAPLANE_DROP_UNKNOWN_RECEIVER,
				     "the session ended while the frame was opened");
		pkt_put(dp->pkts, j->p);
		return;
	}
	if (!j->ok) {
		peer_count_drop(kp->owner, PEER_DROP_AUTH, "authentication failed");
		pkt_put(dp->pkts, j->p);
		return;
	}
	dataplane_opened(dp, kp, j->p, j->counter, j->from.ss_family ? &j->from : NULL,
			 (enum path_kind)j->kind);
}

/* Handles one received frame in p that came over kind (from: its UDP source); consumes p. */
static void
dataplane_receive(struct dataplane *dp, struct pkt *p, const struct sockaddr_storage *from,
		  enum path_kind kind)
{
	struct frame_hdr h;
	struct keypair *kp;
	const uint8_t *key;

	if (!frame_hdr_decode(pkt_data(p), p->len, &h)) {
		dataplane_count_drop(dp, DATAPLANE_DROP_MALFORMED, "bad frame header");
		goto drop;
	}
	kp = session_index_find(dp->index, h.receiver);
	if (!kp) {
		dataplane_count_drop(dp, DATAPLANE_DROP_UNKNOWN_RECEIVER,
				     "no session has this index");
		goto drop;
	}
	/* Cheap check first: a replayed frame costs no decryption. */
	if (!replay_check(&kp->replay, h.counter)) {
		peer_count_drop(kp->owner, PEER_DROP_REPLAY, "counter already seen or too old");
		goto drop;
	}
	if (!(key = session_recv_key(kp, h.type))) {
		peer_count_drop(kp->owner, PEER_DROP_AUTH, "a cipher we did not offer");
		goto drop;
	}
	if (dp->crypto) {
		dataplane_open_later(dp, kp, key, p, h.counter, from, kind);
		return;
	}
	if (!session_open_decrypt(key, h.counter, p)) {
		peer_count_drop(kp->owner, PEER_DROP_AUTH, "authentication failed");
		goto drop;
	}
	dataplane_opened(dp, kp, p, h.counter, from, kind);
	return;
drop:
	pkt_put(dp->pkts, p);
}

/* A batch back from the workers, in order. */
static void
dataplane_on_crypto_done(void *arg, struct crypto_batch *b)
{
	struct dataplane *dp = arg;

	for (unsigned i = 0; i < b->n; i++) {
		if (b->jobs[i].op == CRYPTO_SEAL)
			dataplane_sealed(dp, &b->jobs[i]);
		else
			dataplane_opened_job(dp, &b->jobs[i]);
	}
}

int
dataplane_start_workers(struct dataplane *dp, unsigned workers)
{
	const struct crypto_pool_ops ops = { .on_done = dataplane_on_crypto_done };

	if (!workers || dp->crypto)
		return 0;
	return crypto_pool_new(&dp->crypto, dp->loop, dp->pkts, workers, &ops, dp);
}

void
dataplane_flush(struct dataplane *dp)
{
	if (dp && dp->crypto)
		crypto_pool_flush(dp->crypto);
}

void
dataplane_status(const struct dataplane *dp, FILE *f)
{
	if (!dp->crypto) {
		fprintf(f, "crypto_workers 0\n");
		return;
	}
	fprintf(f, "crypto_workers %u\n", crypto_pool_workers(dp->crypto));
	fprintf(f, "crypto_batches %llu\ncrypto_jobs %llu\n",
		(unsigned long long)crypto_pool_count(dp->crypto, CRYPTO_POOL_BATCHES),
		(unsigned long long)crypto_pool_count(dp->crypto, CRYPTO_POOL_JOBS));
	fprintf(f, "crypto_full_waits %llu\ncrypto_loop_batches %llu\n",
		(unsigned long long)crypto_pool_count(dp->crypto, CRYPTO_POOL_FULL_WAITS),
		(unsigned long long)crypto_pool_count(dp->crypto, CRYPTO_POOL_LOOP_BATCHES));
}

void
dataplane_on_udp(struct dataplane *dp, struct pkt *p, const struct sockaddr_storage *from)
{
	dataplane_receive(dp, p, from, PATH_UDP);
}

static void
dataplane_on_frame_copy(struct dataplane *dp, const uint8_t *frame, size_t len, enum path_kind kind)
{
	struct pkt *p;

	if (len > FRAME_MAX_LEN || len > PKT_BUF_SIZE - PKT_HEADROOM) {
		dataplane_count_drop(dp, DATAPLANE_DROP_MALFORMED, "oversized frame record");
		return;
	}
	p = pkt_get(dp->pkts);
	if (!p) {
		dataplane_count_drop(dp, DATAPLANE_DROP_NO_BUFFER, "packet pool exhausted");
		return;
	}
	memcpy(pkt_data(p), frame, len);
	p->len = (uint16_t)len;
	dataplane_receive(dp, p, NULL, kind);
}

void
dataplane_on_stream_frame(struct dataplane *dp, const uint8_t *frame, size_t len)
{
	dataplane_on_frame_copy(dp, frame, len, PATH_STREAM);
}

void
dataplane_on_relay_frame(struct dataplane *dp, const uint8_t *frame, size_t len)
{
	dataplane_on_frame_copy(dp, frame, len, PATH_RELAY);
}

void
dataplane_on_relay_pkt(struct dataplane *dp, struct pkt *p)
{
	dataplane_receive(dp, p, NULL, PATH_RELAY);
}

void
dataplane_send_check(struct dataplane *dp, struct peer *peer, const struct sockaddr_storage *to)
{
	dataplane_send_path_probe(dp, peer, PROBE_REQUEST, 0, to);
}

void
dataplane_send_keepalive(struct dataplane *dp, struct peer *peer)
{
	bool udp_alive =
	    path_set_udp_is_alive(&peer->paths, ev_now_ms(dp->loop), peer_dead_after_ms(peer));
	struct pkt *p;

	if (!peer->current)
		return;
	/*
	 * Over UDP always, when we know where, as a probe request the peer answers: a keepalive is
	 * also how UDP is found to work both ways, and kept known to. Over the link or the relay
	 * too while UDP is not proven, so a peer behind a UDP block does not look dead.
	 */
	if (peer->paths.endpoint.ss_family)
		dataplane_send_path_probe(dp, peer, PROBE_REQUEST, 0, &peer->paths.endpoint);
	if (!udp_alive && (peer->paths.stream || peer->paths.relay) && (p = pkt_get(dp->pkts))) {
		/* A relayed link's frames go by the relay, as datagrams, not inside the link. */
		bool relayed = peer->paths.stream_relayed || !peer->paths.stream;

		if (session_seal(peer->current, p)) {
			if (!relayed) {
				dp->ops.send_stream(dp->arg, peer->paths.stream, pkt_data(p),
						    p->len);
			} else if (dp->ops.send_relay) {
				dp->ops.send_relay(dp->arg, peer, p);
				p = NULL; /* taken */
			}
		}
		pkt_put(dp->pkts, p);
	}
	peer->last_tx_ms = ev_now_ms(dp->loop);
}
