// SPDX-License-Identifier: MIT
/*
 * The packet path (daemon/dataplane/): a real peer table with one peer whose session keys are
 * real keypairs in real receiver-index tables (ours, and the far end's, both made from one
 * exporter secret, as a handshake makes them), a real overlay pool and pkt pool, a fake packet
 * device that records what is delivered and a fake send_stream that records the FRAME records
 * that would go out. The loop runs on the test's clock (ev_loop_set_clock).
 *
 * Only the stream path and the receive side of UDP are driven: the UDP socket is NULL, so the
 * peer never has a live UDP endpoint when something is sent (path/udp.h has its own tests in
 * the netns scenarios). Addresses are those of docs/overlay-addressing.md's worked example: we
 * are bob, alice is 100.64.0.7 to us (index 7), both call themselves .1, and alice numbered bob
 * .2; the ULA prefixes are bob's fd22:2222:2222::/48 and alice's fd11:1111:1111::/48.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/pkt.h"
#include "dataplane/dataplane.h"
#include "overlay/pool.h"
#include "peer/peer.h"
#include "proto/frame.h"
#include "proto/probe.h"
#include "session/session.h"

#define SELF  "bob@b.example.com"
#define ALICE "alice@a.example.com" /* sorts first: she dials, we are the TLS server */

enum {
	T0 = 1000000,
	ALICE_INDEX = 7,
	KEEPALIVE_SEC = 10,
	PKTS = 8, /* the pkt pool: every test ends with all of them back */
	MAX_FRAMES = 16,
	MAX_DELIVERED = 16,
	UDP_PAYLOAD = 24,
};

static const uint8_t own4[4] = { 100, 64, 0, 1 };
static const uint8_t alice_view4[4] = { 100, 64, 0, ALICE_INDEX }; /* our address for alice */
static const uint8_t alice_self4[4] = { 100, 64, 0, 1 };           /* hers, from her HELLO */
static const uint8_t bob_at_alice4[4] = { 100, 64, 0, 2 };         /* hers for us */
static const uint8_t own6[16] = { 0xfd, 0x22, 0x22, 0x22, 0x22, 0x22, [15] = 1 };
static const uint8_t alice_view6[16] = { 0xfd, 0x22, 0x22, 0x22, 0x22, 0x22, [15] = ALICE_INDEX };
static const uint8_t alice_self6[16] = { 0xfd, 0x11, 0x11, 0x11, 0x11, 0x11, [15] = 1 };
static const uint8_t bob_at_alice6[16] = { 0xfd, 0x11, 0x11, 0x11, 0x11, 0x11, [15] = 2 };

struct sent {
	struct link *l;
	uint8_t buf[FRAME_MAX_LEN];
	size_t len;
};

struct got {
	uint8_t buf[PKT_BUF_SIZE];
	size_t len;
};

struct fx {
	struct ev_loop *loop;
	uint64_t now;
	struct pkt_pool *pkts;
	struct pool pool;
	struct session_index *index;     /* ours */
	struct session_index *far_index; /* alice's */
	struct peer_table *peers;
	struct peer *alice;
	struct keypair far[2]; /* alice's end of each session made */
	struct dataplane *dp;
	bool stream_refuses; /* send_stream returns false */
	struct sent sent[MAX_FRAMES];
	size_t nsent;
	struct got got[MAX_DELIVERED];
	size_t ngot;
	size_t ndials;
};

/* An opaque link handle: the data plane only passes it to send_stream. */
static char link_handle;
#define LINK ((struct link *)&link_handle)

static uint64_t
fx_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static int
fx_dial(void *arg, struct peer *p, const struct sockaddr_storage *to)
{
	(void)p;
	(void)to;
	((struct fx *)arg)->ndials++;
	return -ECONNREFUSED;
}

/* As the agent wires it: the peer's keepalives are the data plane's. */
static void
fx_send_keepalive(void *arg, struct peer *p)
{
	dataplane_send_keepalive(((struct fx *)arg)->dp, p);
}

static void
fx_close_links(void *arg, struct peer *p)
{
	(void)arg;
	(void)p;
}

static const struct peer_ops fx_peer_ops = {
	.dial = fx_dial,
	.send_keepalive = fx_send_keepalive,
	.close_links = fx_close_links,
};

static bool
fx_send_stream(void *arg, struct link *l, const uint8_t *frame, size_t len)
{
	struct fx *f = arg;

	if (f->stream_refuses)
		return false;
	assert_true(f->nsent < MAX_FRAMES);
	assert_true(len <= FRAME_MAX_LEN);
	f->sent[f->nsent].l = l;
	memcpy(f->sent[f->nsent].buf, frame, len);
	f->sent[f->nsent].len = len;
	f->nsent++;
	return true;
}

static const struct dataplane_ops fx_dp_ops = { .send_stream = fx_send_stream };

static int
fx_deliver(void *dev, const uint8_t *pkt, size_t len)
{
	struct fx *f = dev;

	assert_true(f->ngot < MAX_DELIVERED);
	assert_true(len <= PKT_BUF_SIZE);
	memcpy(f->got[f->ngot].buf, pkt, len);
	f->got[f->ngot].len = len;
	f->ngot++;
	return 0;
}

static int
setup(void **state)
{
	static const uint8_t base4[4] = { 100, 64, 0, 0 };
	static const uint8_t base6[16] = { 0xfd, 0x22, 0x22, 0x22, 0x22, 0x22 };
	struct peer_params params = {
		.self = SELF,
		.keepalive_sec = KEEPALIVE_SEC,
		.rekey_after_sec = 120,
		.rekey_after_packets = 1u << 30,
		.notary_rate = 1,
		.notary_burst = 1,
	};
	struct xlate_map map = { 0 };
	struct fx *f = calloc(1, sizeof(*f));
	struct pktdev dev;

	assert_non_null(f);
	f->now = T0;
	dev = (struct pktdev){ .deliver = fx_deliver, .dev = f };
	assert_int_equal(ev_loop_new(&f->loop), 0);
	ev_loop_set_clock(f->loop, fx_clock, f);
	assert_int_equal(pkt_pool_new(&f->pkts, PKTS), 0);
	assert_int_equal(pool_init(&f->pool, base4, 10, base6, 48), 0);
	assert_int_equal(session_index_new(&f->index), 0);
	assert_int_equal(session_index_new(&f->far_index), 0);
	assert_int_equal(peer_table_new(&f->peers, f->loop, f->index, &params, &fx_peer_ops, f), 0);
	memcpy(map.peer_view4, alice_view4, 4);
	memcpy(map.own4, own4, 4);
	memcpy(map.peer_view6, alice_view6, 16);
	memcpy(map.own6, own6, 16);
	/* No static endpoint: UDP stays unknown until a frame arrives over it. */
	assert_int_equal(peer_add(f->peers, ALICE, ALICE_INDEX, &map, NULL, 0, &f->alice), 0);
	assert_int_equal(dataplane_new(&f->dp, f->loop, f->pkts, &f->pool, f->index, f->peers, NULL,
				       &dev, &fx_dp_ops, f),
			 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	dataplane_free(f->dp);
	peer_table_free(f->peers);
	session_index_free(f->index);
	session_index_free(f->far_index);
	/* Nothing the data plane touched kept a buffer. */
	assert_int_equal(pkt_pool_available(f->pkts), PKTS);
	pkt_pool_free(f->pkts);
	ev_loop_free(f->loop);
	free(f);
	return 0;
}

static void
fx_advance(struct fx *f, uint64_t ms)
{
	f->now += ms;
	assert_int_equal(ev_run_once(f->loop, 0), 0);
}

/*
 * Session k (0 or 1) with alice, as a handshake she dialed leaves it: one exporter secret split
 * into our keys (TLS server) and hers (TLS client), each in its own receiver-index table, the
 * remote indices exchanged as the HELLOs do. peer_on_session sends the first keepalive.
 */
static struct keypair *
fx_session(struct fx *f, int k)
{
	struct sockaddr_storage remote = { .ss_family = AF_INET };
	struct keypair *kp = calloc(1, sizeof(*kp));
	uint8_t exported[SESSION_EXPORT_LEN], fpr[32] = { 0 };

	assert_non_null(kp);
	for (size_t i = 0; i < sizeof(exported); i++)
		exported[i] = (uint8_t)(i * 13 + 5 + k);
	session_keypair_init(kp, exported, false, f->now);
	session_keypair_init(&f->far[k], exported, true, f->now);
	kp->owner = f->alice;
	assert_int_equal(session_index_add(f->index, kp), 0);
	assert_int_equal(session_index_add(f->far_index, &f->far[k]), 0);
	kp->remote_index = f->far[k].local_index;
	f->far[k].remote_index = kp->local_index;
	assert_null(
	    peer_on_session(f->alice, LINK, kp, false, &remote, fpr, alice_self4, alice_self6));
	assert_ptr_equal(f->alice->current, kp);
	return kp;
}

/* --- packets --------------------------------------------------------------------------- */

static uint16_t
sum16(uint32_t sum, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The one's complement sum of a TCP/UDP segment with its pseudo-header (0xffff: valid). */
static uint16_t
l4_sum(const uint8_t *src, const uint8_t *dst, size_t alen, uint8_t proto, const uint8_t *l4,
       size_t len)
{
	uint32_t sum = sum16(0, src, alen) + sum16(0, dst, alen) + proto + (uint32_t)len;

	return sum16(sum, l4, len);
}

static void
put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* A UDP datagram of UDP_PAYLOAD bytes from src to dst, checksums right; its length. */
static size_t
udp4(uint8_t *b, const uint8_t src[4], const uint8_t dst[4])
{
	size_t len = 20 + 8 + UDP_PAYLOAD;

	memset(b, 0, len);
	b[0] = 0x45;
	put16(b + 2, (uint16_t)len);
	put16(b + 4, 0x1234);
	b[8] = 64;
	b[9] = IPPROTO_UDP;
	memcpy(b + 12, src, 4);
	memcpy(b + 16, dst, 4);
	put16(b + 10, (uint16_t)~sum16(0, b, 20));
	put16(b + 20, 40000);
	put16(b + 22, 53);
	put16(b + 24, 8 + UDP_PAYLOAD);
	for (size_t i = 0; i < UDP_PAYLOAD; i++)
		b[28 + i] = (uint8_t)('a' + i);
	put16(b + 26, (uint16_t)~l4_sum(src, dst, 4, IPPROTO_UDP, b + 20, 8 + UDP_PAYLOAD));
	return len;
}

static size_t
udp6(uint8_t *b, const uint8_t src[16], const uint8_t dst[16])
{
	size_t len = 40 + 8 + UDP_PAYLOAD;

	memset(b, 0, len);
	b[0] = 0x60;
	put16(b + 4, 8 + UDP_PAYLOAD);
	b[6] = IPPROTO_UDP;
	b[7] = 64;
	memcpy(b + 8, src, 16);
	memcpy(b + 24, dst, 16);
	put16(b + 40, 40000);
	put16(b + 42, 53);
	put16(b + 44, 8 + UDP_PAYLOAD);
	for (size_t i = 0; i < UDP_PAYLOAD; i++)
		b[48 + i] = (uint8_t)('A' + i);
	put16(b + 46, (uint16_t)~l4_sum(src, dst, 16, IPPROTO_UDP, b + 40, 8 + UDP_PAYLOAD));
	return len;
}

/* A packet as the TUN device hands it to the data plane. */
static struct pkt *
fx_read(struct fx *f, const uint8_t *ip, size_t len)
{
	struct pkt *p = pkt_get(f->pkts);

	assert_non_null(p);
	memcpy(pkt_data(p), ip, len);
	p->len = (uint16_t)len;
	return p;
}

/* A frame alice's end seals with keys kp around ip; *len its length. */
static void
fx_far_seal(struct fx *f, struct keypair *kp, const uint8_t *ip, size_t len, uint8_t *frame,
	    size_t *frame_len)
{
	struct pkt *p = fx_read(f, ip, len);

	assert_true(session_seal(kp, p));
	memcpy(frame, pkt_data(p), p->len);
	*frame_len = p->len;
	pkt_put(f->pkts, p);
}

/* Alice's end opens a frame we sent: its inner packet, into out; its length. */
static size_t
fx_far_open(struct fx *f, const struct sent *s, uint8_t *out)
{
	struct frame_hdr h;
	struct keypair *kp;
	struct pkt *p;
	size_t len;

	assert_ptr_equal(s->l, LINK);
	assert_true(frame_hdr_decode(s->buf, s->len, &h));
	kp = session_index_find(f->far_index, h.receiver);
	assert_non_null(kp);
	p = fx_read(f, s->buf, s->len);
	assert_int_equal(session_open(kp, p, h.counter), SESSION_OPEN_OK);
	len = p->len;
	memcpy(out, pkt_data(p), len);
	pkt_put(f->pkts, p);
	return len;
}

/* --- sending --------------------------------------------------------------------------- */

/*
 * A packet to alice's address is sealed with the current keys and goes out as a FRAME record on
 * the session link, exactly as our kernel wrote it: translation is the receiving edge's alone
 * (docs/overlay-addressing.md), so alice's end opens the same bytes.
 */
static void
test_dataplane_send_seals_and_sends_on_stream(void **state)
{
	struct fx *f = *state;
	uint8_t ip4[128], ip6[128], inner[PKT_BUF_SIZE];
	size_t len4 = udp4(ip4, own4, alice_view4), len6 = udp6(ip6, own6, alice_view6), n;
	struct frame_hdr h;

	fx_session(f, 0);
	f->nsent = 0; /* the session's first keepalive: test_dataplane_keepalive_* */
	fx_advance(f, 250);

	dataplane_send(f->dp, fx_read(f, ip4, len4));
	assert_int_equal(f->nsent, 1);
	assert_int_equal(f->sent[0].len, FRAME_OVERHEAD + len4);
	assert_true(frame_hdr_decode(f->sent[0].buf, f->sent[0].len, &h));
	assert_int_equal(h.type, FRAME_DATA);
	assert_int_equal(h.receiver, f->far[0].local_index);
	assert_true(h.counter == 1); /* the keepalive was 0 */
	n = fx_far_open(f, &f->sent[0], inner);
	assert_int_equal(n, len4);
	assert_memory_equal(inner, ip4, len4);

	dataplane_send(f->dp, fx_read(f, ip6, len6));
	assert_int_equal(f->nsent, 2);
	n = fx_far_open(f, &f->sent[1], inner);
	assert_int_equal(n, len6);
	assert_memory_equal(inner, ip6, len6);

	assert_true(f->alice->stats.tx_packets == 2);
	assert_true(f->alice->stats.tx_bytes == len4 + len6);
	assert_true(f->alice->last_tx_ms == T0 + 250);
	for (int d = 0; d < PEER_DROP_COUNT; d++)
		assert_true(f->alice->stats.drops[d] == 0);
}

/* A second session: new frames use its keys; frames under the previous keys still open. */
static void
test_dataplane_previous_keys_still_open_after_rekey(void **state)
{
	struct fx *f = *state;
	uint8_t ip[128], frame[FRAME_MAX_LEN], inner[PKT_BUF_SIZE];
	size_t len = udp4(ip, alice_self4, bob_at_alice4), flen;
	struct frame_hdr h;

	fx_session(f, 0);
	fx_advance(f, 1000);
	fx_session(f, 1);
	assert_non_null(f->alice->previous);
	f->nsent = 0;

	fx_far_seal(f, &f->far[0], ip, len, frame, &flen);
	dataplane_on_stream_frame(f->dp, frame, flen);
	fx_far_seal(f, &f->far[1], ip, len, frame, &flen);
	dataplane_on_stream_frame(f->dp, frame, flen);
	assert_int_equal(f->ngot, 2);

	dataplane_send(f->dp, fx_read(f, ip, udp4(ip, own4, alice_view4)));
	assert_int_equal(f->nsent, 1);
	assert_true(frame_hdr_decode(f->sent[0].buf, f->sent[0].len, &h));
	assert_int_equal(h.receiver, f->far[1].local_index);
	assert_int_equal(fx_far_open(f, &f->sent[0], inner), len);
}

/* What cannot go out is dropped and counted, and the buffer goes back to the pool. */
static void
test_dataplane_send_drops_without_route_keys_or_path(void **state)
{
	struct fx *f = *state;
	static const uint8_t outside[4] = { 198, 18, 0, 1 }, nobody[4] = { 100, 64, 0, 9 };
	uint8_t ip[128];

	/* No peer at the destination: outside the pool, a free index, our own address, runt. */
	dataplane_send(f->dp, fx_read(f, ip, udp4(ip, own4, outside)));
	dataplane_send(f->dp, fx_read(f, ip, udp4(ip, own4, nobody)));
	dataplane_send(f->dp, fx_read(f, ip, udp4(ip, own4, own4)));
	dataplane_send(f->dp, fx_read(f, ip, 12));
	assert_true(dataplane_drops(f->dp, DATAPLANE_DROP_NO_ROUTE) == 4);
	assert_string_equal(dataplane_drop_name(DATAPLANE_DROP_NO_ROUTE), "no_route");

	/* Alice without keys: dropped, and a session is wanted (she has no address to dial: we
	 * wait for her). */
	dataplane_send(f->dp, fx_read(f, ip, udp4(ip, own4, alice_view4)));
	assert_true(f->alice->stats.drops[PEER_DROP_NO_SESSION] == 1);
	assert_int_equal(f->alice->state, PEER_CONNECTING);
	assert_true(f->alice->stats.tx_packets == 0);

	/* Keys, but the link will not take the frame. */
	fx_session(f, 0);
	f->nsent = 0;
	f->stream_refuses = true;
	dataplane_send(f->dp, fx_read(f, ip, udp4(ip, own4, alice_view4)));
	assert_true(f->alice->stats.drops[PEER_DROP_NO_SESSION] == 2);
	f->stream_refuses = false;

	/* Keys, but the link is gone and UDP was never heard: no path. */
	peer_on_link_gone(f->alice, LINK, false);
	dataplane_send(f->dp, fx_read(f, ip, udp4(ip, own4, alice_view4)));
	assert_true(f->alice->stats.drops[PEER_DROP_NO_SESSION] == 3);
	assert_int_equal(f->nsent, 0);
	assert_true(dataplane_drops(f->dp, DATAPLANE_DROP_NO_ROUTE) == 4);
}

/* --- receiving ------------------------------------------------------------------------- */

/*
 * Alice's kernel writes 100.64.0.1 -> 100.64.0.2 (her numbering); we deliver 100.64.0.7 ->
 * 100.64.0.1 (ours), checksums still right; the same in IPv6. Bytes past the IP length are not
 * delivered.
 */
static void
test_dataplane_on_stream_frame_translates_and_delivers(void **state)
{
	struct fx *f = *state;
	uint8_t ip[256], frame[FRAME_MAX_LEN];
	const uint8_t *g;
	size_t len4 = udp4(ip, alice_self4, bob_at_alice4), len6, flen;

	fx_session(f, 0);
	fx_advance(f, 500);
	fx_far_seal(f, &f->far[0], ip, len4 + 5, frame, &flen); /* 5 bytes of trailing junk */
	dataplane_on_stream_frame(f->dp, frame, flen);
	assert_int_equal(f->ngot, 1);
	g = f->got[0].buf;
	assert_int_equal(f->got[0].len, len4);
	assert_memory_equal(g + 12, alice_view4, 4);
	assert_memory_equal(g + 16, own4, 4);
	assert_int_equal(sum16(0, g, 20), 0xffff);
	assert_int_equal(l4_sum(g + 12, g + 16, 4, IPPROTO_UDP, g + 20, len4 - 20), 0xffff);
	assert_memory_equal(g + 28, ip + 28, UDP_PAYLOAD);
	assert_true(f->alice->last_rx_ms == T0 + 500);

	len6 = udp6(ip, alice_self6, bob_at_alice6);
	fx_far_seal(f, &f->far[0], ip, len6, frame, &flen);
	dataplane_on_stream_frame(f->dp, frame, flen);
	assert_int_equal(f->ngot, 2);
	g = f->got[1].buf;
	assert_int_equal(f->got[1].len, len6);
	assert_memory_equal(g + 8, alice_view6, 16);
	assert_memory_equal(g + 24, own6, 16);
	assert_int_equal(l4_sum(g + 8, g + 24, 16, IPPROTO_UDP, g + 40, len6 - 40), 0xffff);

	assert_true(f->alice->stats.rx_packets == 2);
	assert_true(f->alice->stats.rx_bytes == len4 + len6);
	/* Over the link: UDP is not thereby proven, the endpoint not learnt. */
	assert_int_equal(f->alice->paths.endpoint.ss_family, 0);
	assert_true(f->alice->paths.last_udp_rx_ms == 0);
}

/* An authentic frame whose inner source is not alice's own address is refused. */
static void
test_dataplane_receive_refuses_wrong_inner_source(void **state)
{
	struct fx *f = *state;
	static const uint8_t other4[4] = { 100, 64, 0, 3 };
	uint8_t ip[128], frame[FRAME_MAX_LEN];
	size_t flen;

	fx_session(f, 0);
	fx_far_seal(f, &f->far[0], ip, udp4(ip, other4, bob_at_alice4), frame, &flen);
	dataplane_on_stream_frame(f->dp, frame, flen);
	fx_far_seal(f, &f->far[0], ip, udp6(ip, bob_at_alice6, bob_at_alice6), frame, &flen);
	dataplane_on_stream_frame(f->dp, frame, flen);
	assert_true(f->alice->stats.drops[PEER_DROP_BAD_SOURCE] == 2);
	/* Not IP at all: malformed. */
	memset(ip, 0x11, 40);
	fx_far_seal(f, &f->far[0], ip, 40, frame, &flen);
	dataplane_on_stream_frame(f->dp, frame, flen);
	assert_true(f->alice->stats.drops[PEER_DROP_MALFORMED] == 1);
	assert_int_equal(f->ngot, 0);
	assert_true(f->alice->stats.rx_packets == 0);
	assert_true(f->alice->stats.rx_bytes == 0);
	assert_string_equal(peer_drop_name(PEER_DROP_BAD_SOURCE), "bad_source");
}

/* A frame seen before is dropped; so is a forged one, which does not move the window. */
static void
test_dataplane_receive_drops_replay_and_forgery(void **state)
{
	struct fx *f = *state;
	uint8_t ip[128], a[FRAME_MAX_LEN], b[FRAME_MAX_LEN], c[FRAME_MAX_LEN];
	size_t len = udp4(ip, alice_self4, bob_at_alice4), alen, blen, clen;

	fx_session(f, 0);
	fx_far_seal(f, &f->far[0], ip, len, a, &alen);
	fx_far_seal(f, &f->far[0], ip, len, b, &blen);
	fx_far_seal(f, &f->far[0], ip, len, c, &clen);
	dataplane_on_stream_frame(f->dp, c, clen);
	dataplane_on_stream_frame(f->dp, a, alen); /* late, but not seen: fine */
	assert_int_equal(f->ngot, 2);
	dataplane_on_stream_frame(f->dp, a, alen);
	dataplane_on_stream_frame(f->dp, c, clen);
	assert_true(f->alice->stats.drops[PEER_DROP_REPLAY] == 2);
	b[FRAME_HDR_LEN + 3] ^= 0x01;
	dataplane_on_stream_frame(f->dp, b, blen);
	assert_true(f->alice->stats.drops[PEER_DROP_AUTH] == 1);
	b[FRAME_HDR_LEN + 3] ^= 0x01;
	dataplane_on_stream_frame(f->dp, b, blen);
	assert_int_equal(f->ngot, 3);
	assert_true(f->alice->stats.rx_packets == 3);
	assert_true(f->alice->stats.drops[PEER_DROP_REPLAY] == 2);
}

/* A receiver index no session has: dropped before any crypto, counted here, not per peer. */
static void
test_dataplane_receive_drops_unknown_receiver(void **state)
{
	struct fx *f = *state;
	uint8_t ip[128], frame[FRAME_MAX_LEN];
	size_t len = udp4(ip, alice_self4, bob_at_alice4), flen;
	struct keypair *kp = fx_session(f, 0);
	uint32_t ours = kp->local_index;

	f->far[0].remote_index = ours ^ 0x80000000u;
	assert_null(session_index_find(f->index, f->far[0].remote_index));
	fx_far_seal(f, &f->far[0], ip, len, frame, &flen);
	dataplane_on_stream_frame(f->dp, frame, flen);
	assert_true(dataplane_drops(f->dp, DATAPLANE_DROP_UNKNOWN_RECEIVER) == 1);

	/* The right index, but the session has closed since: its keys are gone. */
	f->far[0].remote_index = ours;
	fx_far_seal(f, &f->far[0], ip, len, frame, &flen);
	peer_on_close(f->alice);
	dataplane_on_stream_frame(f->dp, frame, flen);
	assert_true(dataplane_drops(f->dp, DATAPLANE_DROP_UNKNOWN_RECEIVER) == 2);
	assert_int_equal(f->ngot, 0);
	for (int d = 0; d < PEER_DROP_COUNT; d++)
		assert_true(f->alice->stats.drops[d] == 0);
	assert_string_equal(dataplane_drop_name(DATAPLANE_DROP_UNKNOWN_RECEIVER),
			    "unknown_receiver");
}

/* Every frame whose header is wrong is one malformed drop, on either path. */
static void
test_dataplane_receive_counts_malformed_frames(void **state)
{
	struct fx *f = *state;
	static uint8_t big[FRAME_MAX_LEN + 1];
	uint8_t ip[128], good[FRAME_MAX_LEN], bad[FRAME_MAX_LEN];
	size_t len = udp4(ip, alice_self4, bob_at_alice4), glen;
	struct sockaddr_storage from = { .ss_family = AF_INET };
	struct pkt *p, *held[PKTS];
	uint64_t want = 0;

	fx_session(f, 0);
	fx_far_seal(f, &f->far[0], ip, len, good, &glen);
	/* Too short (empty, a header without a tag), wrong type, reserved bytes, index 0. */
	dataplane_on_stream_frame(f->dp, good, 0);
	dataplane_on_stream_frame(f->dp, good, FRAME_OVERHEAD - 1);
	want += 2;
	for (int k = 0; k < 4; k++) {
		static const size_t at[4] = { FRAME_OFF_TYPE, FRAME_OFF_RESERVED,
					      FRAME_OFF_RESERVED + 2, FRAME_OFF_RECEIVER };

		memcpy(bad, good, glen);
		if (k < 3)
			bad[at[k]] ^= 0x40;
		else
			memset(bad + FRAME_OFF_RECEIVER, 0, 4);
		dataplane_on_stream_frame(f->dp, bad, glen);
		want++;
	}
	/* Larger than a frame can be, as a record. */
	memcpy(big, good, glen);
	dataplane_on_stream_frame(f->dp, big, sizeof(big));
	want++;
	/* The same over UDP: garbage, and a short datagram. */
	p = fx_read(f, (const uint8_t *)"not a vertex frame, not at all!!!", 33);
	dataplane_on_udp(f->dp, p, &from);
	p = fx_read(f, good, 10);
	dataplane_on_udp(f->dp, p, &from);
	want += 2;
	assert_true(dataplane_drops(f->dp, DATAPLANE_DROP_MALFORMED) == want);
	assert_int_equal(f->ngot, 0);
	assert_int_equal(f->alice->paths.endpoint.ss_family, 0); /* nothing learnt from junk */

	/* A record when the pool is empty: no buffer to open it in. */
	for (int i = 0; i < PKTS; i++)
		assert_non_null(held[i] = pkt_get(f->pkts));
	dataplane_on_stream_frame(f->dp, good, glen);
	assert_true(dataplane_drops(f->dp, DATAPLANE_DROP_NO_BUFFER) == 1);
	for (int i = 0; i < PKTS; i++)
		pkt_put(f->pkts, held[i]);
	/* The good frame itself was never consumed by any of that. */
	dataplane_on_stream_frame(f->dp, good, glen);
	assert_int_equal(f->ngot, 1);
	assert_string_equal(dataplane_drop_name(DATAPLANE_DROP_MALFORMED), "malformed");
}

/* An authentic frame over UDP: delivered, and UDP now works to where it came from. */
static void
test_dataplane_on_udp_learns_the_endpoint(void **state)
{
	struct fx *f = *state;
	uint8_t ip[128], frame[FRAME_MAX_LEN];
	size_t len = udp4(ip, alice_self4, bob_at_alice4), flen;
	struct sockaddr_storage from = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&from;
	uint64_t dead = peer_dead_after_ms(f->alice);

	sin->sin_family = AF_INET;
	sin->sin_port = htons(4500);
	sin->sin_addr.s_addr = htonl(0xc6120005u); /* 198.18.0.5 */
	fx_session(f, 0);
	assert_int_equal(path_choose(&f->alice->paths, f->now, dead), PATH_STREAM);
	fx_advance(f, 100);
	fx_far_seal(f, &f->far[0], ip, len, frame, &flen);
	dataplane_on_udp(f->dp, fx_read(f, frame, flen), &from);
	assert_int_equal(f->ngot, 1);
	assert_memory_equal(&f->alice->paths.endpoint, &from, sizeof(from));
	assert_true(f->alice->paths.last_udp_rx_ms == T0 + 100);
	/* Heard over UDP, but not known to hear us: still the link. */
	assert_int_equal(path_choose(&f->alice->paths, f->now, dead), PATH_STREAM);
	/* Her answer to a probe of ours (proto/probe.h): both ways; UDP. */
	{
		const uint8_t answer[PROBE_LEN] = { PROBE_ANSWER, 0, 0, 0, 0 };
		uint8_t aframe[FRAME_MAX_LEN];
		size_t alen;

		fx_far_seal(f, &f->far[0], answer, sizeof(answer), aframe, &alen);
		dataplane_on_udp(f->dp, fx_read(f, aframe, alen), &from);
		assert_int_equal(f->ngot, 1); /* a probe is not delivered */
	}
	assert_int_equal(path_choose(&f->alice->paths, f->now, dead), PATH_UDP);
	assert_true(f->alice->stats.rx_packets == 1);
	/* A replay of it from elsewhere does not move the endpoint. */
	sin->sin_addr.s_addr = htonl(0xc6120006u);
	dataplane_on_udp(f->dp, fx_read(f, frame, flen), &from);
	assert_true(f->alice->stats.drops[PEER_DROP_REPLAY] == 1);
	assert_int_equal(ntohl(((struct sockaddr_in *)&f->alice->paths.endpoint)->sin_addr.s_addr),
			 0xc6120005u);
}

/* --- keepalive ------------------------------------------------------------------------- */

/*
 * An empty frame: at session up (the peer module asks for one), and whenever asked, over the
 * link while UDP is unproven. One from alice counts as heard from and delivers nothing.
 */
static void
test_dataplane_keepalive_goes_out_on_stream(void **state)
{
	struct fx *f = *state;
	uint8_t inner[PKT_BUF_SIZE], frame[FRAME_MAX_LEN];
	size_t flen;

	fx_session(f, 0);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(f->sent[0].len, FRAME_OVERHEAD);
	assert_int_equal(fx_far_open(f, &f->sent[0], inner), 0);

	fx_advance(f, 3000);
	dataplane_send_keepalive(f->dp, f->alice);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(f->sent[1].len, FRAME_OVERHEAD);
	assert_int_equal(fx_far_open(f, &f->sent[1], inner), 0);
	assert_true(f->alice->last_tx_ms == T0 + 3000);
	/* Keepalives are not data: no packet counted. */
	assert_true(f->alice->stats.tx_packets == 0);

	fx_advance(f, 1000);
	fx_far_seal(f, &f->far[0], inner, 0, frame, &flen);
	dataplane_on_stream_frame(f->dp, frame, flen);
	assert_int_equal(f->ngot, 0);
	assert_true(f->alice->last_rx_ms == T0 + 4000);
	assert_true(f->alice->stats.rx_packets == 0);

	/* No keys, no keepalive. */
	peer_on_close(f->alice);
	dataplane_send_keepalive(f->dp, f->alice);
	assert_int_equal(f->nsent, 2);
}

/* Each test gets a fresh loop, pools, tables and data plane. */
#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dataplane_send_seals_and_sends_on_stream),
		T(test_dataplane_previous_keys_still_open_after_rekey),
		T(test_dataplane_send_drops_without_route_keys_or_path),
		T(test_dataplane_on_stream_frame_translates_and_delivers),
		T(test_dataplane_receive_refuses_wrong_inner_source),
		T(test_dataplane_receive_drops_replay_and_forgery),
		T(test_dataplane_receive_drops_unknown_receiver),
		T(test_dataplane_receive_counts_malformed_frames),
		T(test_dataplane_on_udp_learns_the_endpoint),
		T(test_dataplane_keepalive_goes_out_on_stream),
	};

	log_set_quiet(true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
