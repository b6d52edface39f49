// SPDX-License-Identifier: MIT
/*
 * The test vectors of docs/protocol.md ("Test vectors for a peer"), computed by the project's
 * own code and asserted byte for byte, so the document and the code cannot drift apart: the
 * exporter split (which half of the exported bytes keys which direction), two sealed data frames
 * (an IPv4 packet from the TLS client, a keepalive from the TLS server), the same frame as a
 * FRAME record, the replay window's verdicts on a sequence of counters, and the printed form of
 * a fingerprint. If one of these fails, either the code changed the wire or the document is
 * wrong: fix the one that is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/pkt.h"
#include "crypto/aead.h"
#include "crypto/cert.h"
#include "proto/frame.h"
#include "proto/record.h"
#include "session/replay.h"
#include "session/session.h"

static struct pkt_pool *pool;

/* The exporter output of the vectors: bytes 00 01 02 .. 3f. */
static void
vector_exported(uint8_t out[SESSION_EXPORT_LEN])
{
	for (size_t i = 0; i < SESSION_EXPORT_LEN; i++)
		out[i] = (uint8_t)i;
}

/* The two ends of one session made from the vector's exporter output. */
static void
vector_pair(struct keypair *client, struct keypair *server)
{
	uint8_t exported[SESSION_EXPORT_LEN];

	vector_exported(exported);
	session_keypair_init(client, exported, true, 0);
	session_keypair_init(server, exported, false, 0);
	client->local_index = 0x11223344;
	server->local_index = 0x0a0b0c0d;
	client->remote_index = server->local_index; /* from the server's HELLO */
	server->remote_index = client->local_index; /* from the client's HELLO */
}

/* IPv4 ICMP echo request 100.64.0.1 -> 100.64.0.2, id 0x1234, seq 1, no payload. */
static const uint8_t ICMP_ECHO[] = {
	0x45, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01, 0x72, 0x5e, 0x64, 0x40,
	0x00, 0x01, 0x64, 0x40, 0x00, 0x02, 0x08, 0x00, 0xe5, 0xca, 0x12, 0x34, 0x00, 0x01,
};

/* That packet sealed by the TLS client, counter 0x0102030405060708, to receiver 0x0a0b0c0d. */
static const uint8_t FRAME_FROM_CLIENT[] = {
	0x01, 0x00, 0x00, 0x00, 0x0a, 0x0b, 0x0c, 0x0d, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0xb5, 0x49, 0xad, 0xf8, 0xab, 0x39, 0xaa, 0x18, 0x24, 0xaa, 0x58, 0x92, 0x17, 0x38,
	0x61, 0xb9, 0x84, 0x46, 0xf2, 0xc6, 0x80, 0x44, 0xa0, 0x54, 0x45, 0x01, 0xa7, 0x5c, 0x85,
	0xe9, 0x2e, 0xc6, 0xed, 0x55, 0x39, 0x11, 0xfa, 0xda, 0x04, 0x37, 0x03, 0x10, 0xfb, 0x46,
};

/* A keepalive (empty payload) sealed by the TLS server, counter 0, to receiver 0x11223344. */
static const uint8_t KEEPALIVE_FROM_SERVER[] = {
	0x01, 0x00, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0xa1, 0x17, 0xfb, 0x38, 0x50, 0xe0,
	0x40, 0x13, 0x9f, 0xef, 0xe6, 0x0c, 0x39, 0xb7, 0x26, 0xa4,
};

/*
 * The same packet and counter sealed with AES-256-GCM, both sides having its keys from
 * TLS-Exporter("EXPORTER-vertex-data-aes256gcm-v1", "", 64) = 40 41 .. 7f (the client's key
 * 40 .. 5f) and the server having sent CIPHERS: type 2.
 */
static const uint8_t AES_FRAME_FROM_CLIENT[] = {
	0x02, 0x00, 0x00, 0x00, 0x0a, 0x0b, 0x0c, 0x0d, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x04, 0xbb, 0x02, 0x00, 0xf2, 0x66, 0x75, 0x7e, 0x3c, 0x48, 0x25, 0x6c, 0xdd, 0x31,
	0xe6, 0x6a, 0x14, 0xdd, 0x81, 0x18, 0x31, 0xc1, 0x5c, 0xc1, 0xb4, 0xa1, 0xab, 0xf7, 0x9c,
	0xd7, 0xa1, 0xa6, 0x81, 0xc0, 0x79, 0xd3, 0x81, 0x31, 0x72, 0xca, 0xd9, 0x5a, 0x8f, 0x35,
};

static struct pkt *
seal(struct keypair *kp, uint64_t counter, const uint8_t *plain, size_t len)
{
	struct pkt *p = pkt_get(pool);

	assert_non_null(p);
	if (len)
		memcpy(pkt_data(p), plain, len);
	p->len = (uint16_t)len;
	kp->send_counter = counter;
	assert_true(session_seal(kp, p));
	return p;
}

static void
open_expect(struct keypair *kp, const uint8_t *frame, size_t len, const uint8_t *plain,
	    size_t plain_len)
{
	struct pkt *p = pkt_get(pool);
	struct frame_hdr h;

	assert_non_null(p);
	memcpy(pkt_data(p), frame, len);
	p->len = (uint16_t)len;
	assert_true(frame_hdr_decode(pkt_data(p), p->len, &h));
	assert_int_equal(h.receiver, kp->local_index);
	assert_int_equal(session_open(kp, p, h.counter), SESSION_OPEN_OK);
	assert_int_equal(p->len, plain_len);
	if (plain_len)
		assert_memory_equal(pkt_data(p), plain, plain_len);
	pkt_put(pool, p);
}

/* The label, the length, and which half of the exported bytes is whose. */
static void
test_vectors_exporter_split(void **state)
{
	uint8_t exported[SESSION_EXPORT_LEN];
	struct keypair c, s;

	(void)state;
	assert_string_equal(SESSION_EXPORTER_LABEL, "EXPORTER-vertex-data-v1");
	assert_int_equal(SESSION_EXPORT_LEN, 64);
	vector_exported(exported);
	vector_pair(&c, &s);
	/* Bytes 0..31 key what the TLS client sends, 32..63 what the TLS server sends. */
	assert_memory_equal(c.send_key, exported, 32);
	assert_memory_equal(c.recv_key, exported + 32, 32);
	assert_memory_equal(s.send_key, exported + 32, 32);
	assert_memory_equal(s.recv_key, exported, 32);
	assert_true(c.is_initiator);
	assert_false(s.is_initiator);
}

static void
test_vectors_frame_from_client(void **state)
{
	struct keypair c, s;
	struct pkt *p;

	(void)state;
	vector_pair(&c, &s);
	p = seal(&c, 0x0102030405060708ull, ICMP_ECHO, sizeof(ICMP_ECHO));
	assert_int_equal(p->len, sizeof(FRAME_FROM_CLIENT));
	assert_memory_equal(pkt_data(p), FRAME_FROM_CLIENT, sizeof(FRAME_FROM_CLIENT));
	assert_int_equal(c.send_counter, 0x0102030405060709ull);
	pkt_put(pool, p);
	open_expect(&s, FRAME_FROM_CLIENT, sizeof(FRAME_FROM_CLIENT), ICMP_ECHO, sizeof(ICMP_ECHO));
}

static void
test_vectors_keepalive_from_server(void **state)
{
	struct keypair c, s;
	struct pkt *p;

	(void)state;
	vector_pair(&c, &s);
	p = seal(&s, 0, NULL, 0);
	assert_int_equal(p->len, sizeof(KEEPALIVE_FROM_SERVER));
	assert_memory_equal(pkt_data(p), KEEPALIVE_FROM_SERVER, sizeof(KEEPALIVE_FROM_SERVER));
	pkt_put(pool, p);
	open_expect(&c, KEEPALIVE_FROM_SERVER, sizeof(KEEPALIVE_FROM_SERVER), NULL, 0);
}

static void
test_vectors_aes_frame_from_client(void **state)
{
	uint8_t exported[SESSION_EXPORT_LEN];
	struct keypair c, s;
	struct pkt *p;

	(void)state;
	if (!aead_aes256gcm_available())
		skip();
	assert_string_equal(SESSION_EXPORTER_LABEL_AES, "EXPORTER-vertex-data-aes256gcm-v1");
	vector_pair(&c, &s);
	for (size_t i = 0; i < sizeof(exported); i++)
		exported[i] = (uint8_t)(0x40 + i);
	session_keypair_init_aes(&c, exported);
	session_keypair_init_aes(&s, exported);
	assert_memory_equal(c.send_key_aes, exported, 32);
	assert_memory_equal(s.send_key_aes, exported + 32, 32);
	session_keypair_send_aes(&c);
	p = seal(&c, 0x0102030405060708ull, ICMP_ECHO, sizeof(ICMP_ECHO));
	assert_int_equal(p->len, sizeof(AES_FRAME_FROM_CLIENT));
	assert_memory_equal(pkt_data(p), AES_FRAME_FROM_CLIENT, sizeof(AES_FRAME_FROM_CLIENT));
	pkt_put(pool, p);
	open_expect(&s, AES_FRAME_FROM_CLIENT, sizeof(AES_FRAME_FROM_CLIENT), ICMP_ECHO,
		    sizeof(ICMP_ECHO));
}

/* The client's frame inside a FRAME record, for a stream path. */
static void
test_vectors_frame_record(void **state)
{
	static const uint8_t hdr[RECORD_HDR_LEN] = { 0x00, 0x02, 0x00, 0x00, 0x00, 0x3c };
	struct record_hdr h = { .type = RECORD_FRAME, .len = sizeof(FRAME_FROM_CLIENT) };
	uint8_t out[RECORD_HDR_LEN];

	(void)state;
	record_hdr_encode(out, &h);
	assert_memory_equal(out, hdr, sizeof(hdr));
	assert_true(record_hdr_decode(hdr, sizeof(hdr), &h));
	assert_int_equal(h.len, 60);
}

/* A frame sealed with one key does not open with the other direction's key. */
static void
test_vectors_frame_wrong_direction(void **state)
{
	struct keypair c, s;
	struct pkt *p = pkt_get(pool);

	(void)state;
	vector_pair(&c, &s);
	memcpy(pkt_data(p), FRAME_FROM_CLIENT, sizeof(FRAME_FROM_CLIENT));
	p->len = sizeof(FRAME_FROM_CLIENT);
	assert_int_equal(session_open(&c, p, 0x0102030405060708ull), SESSION_OPEN_AUTH);
	pkt_put(pool, p);
}

/* The replay window's verdict on each counter in turn, as the table in the document. */
static void
test_vectors_replay_sequence(void **state)
{
	static const struct {
		uint64_t counter;
		bool accepted;
	} seq[] = {
		{ 0, true },                  /* nothing accepted yet: 0 is a valid first counter */
		{ 0, false },                 /* seen */
		{ 2, true },                  /* ahead */
		{ 1, true },                  /* behind, in the window, not seen */
		{ 2, false },                 /* seen */
		{ 5000, true },               /* a jump ahead: H = 5000 */
		{ 968, true },                /* H - 968 = 4032: the oldest the window takes */
		{ 967, false },               /* H - 967 = 4033: too old */
		{ 2, false },                 /* too old (and seen) */
		{ 4999, true },               /* in the window */
		{ 4999, false },              /* seen */
		{ 100000, true },             /* far ahead: the ring is cleared */
		{ 5000, false },              /* now too old */
		{ 95968, true },              /* H - 4032 */
		{ UINT64_MAX, false },        /* never accepted */
		{ UINT64_MAX - 1, true },     /* the highest counter a window takes */
		{ UINT64_MAX - 1, false },    /* seen */
		{ UINT64_MAX - 4033, true },  /* H - 4032 */
		{ UINT64_MAX - 4034, false }, /* H - 4033 */
	};
	struct replay_window w;

	(void)state;
	assert_int_equal(REPLAY_WINDOW, 4032);
	replay_init(&w);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		bool checked = replay_check(&w, seq[i].counter);

		assert_int_equal(checked, seq[i].accepted);
		assert_int_equal(replay_accept(&w, seq[i].counter), seq[i].accepted);
	}
}

/* A session may start at any counter: the first counter seen sets H. */
static void
test_vectors_replay_first_counter(void **state)
{
	struct replay_window w;

	(void)state;
	replay_init(&w);
	assert_true(replay_accept(&w, 1000000));
	assert_true(replay_accept(&w, 1000000 - 4032));
	assert_false(replay_check(&w, 1000000 - 4033));
}

/* The printed fingerprint of the 32 bytes 00 01 .. 1f, and back. */
static void
test_vectors_fingerprint(void **state)
{
	uint8_t fpr[CERT_FPR_LEN], back[CERT_FPR_LEN];
	char s[64];

	(void)state;
	for (size_t i = 0; i < sizeof(fpr); i++)
		fpr[i] = (uint8_t)i;
	cert_fpr_format(fpr, s, sizeof(s));
	assert_string_equal(s, "SHA256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
	assert_int_equal(cert_fpr_parse(s, back), 0);
	assert_memory_equal(back, fpr, sizeof(fpr));
}

static int
setup(void **state)
{
	(void)state;
	return pkt_pool_new(&pool, 4);
}

static int
teardown(void **state)
{
	(void)state;
	pkt_pool_free(pool);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_exporter_split),
		cmocka_unit_test(test_vectors_frame_from_client),
		cmocka_unit_test(test_vectors_aes_frame_from_client),
		cmocka_unit_test(test_vectors_keepalive_from_server),
		cmocka_unit_test(test_vectors_frame_record),
		cmocka_unit_test(test_vectors_frame_wrong_direction),
		cmocka_unit_test(test_vectors_replay_sequence),
		cmocka_unit_test(test_vectors_replay_first_counter),
		cmocka_unit_test(test_vectors_fingerprint),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
