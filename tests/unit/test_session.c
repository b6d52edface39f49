// SPDX-License-Identifier: MIT
/*
 * Session keypairs: both ends derive matching direction keys from one exporter output; frames
 * sealed by one open at the other; replays and any flipped bit are refused without moving the
 * window; the receiver-index table finds exactly what was added. AES-256-GCM (where the CPU has
 * it): its own keys, its own frame type, used only toward a peer that said it opens it; a side
 * without its keys refuses such frames; each side's choice works whatever the other's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/pkt.h"
#include "crypto/aead.h"
#include "proto/frame.h"
#include "session/session.h"

static struct pkt_pool *pool;

static void
make_pair(struct keypair *client, struct keypair *server)
{
	uint8_t exported[SESSION_EXPORT_LEN];

	for (size_t i = 0; i < sizeof(exported); i++)
		exported[i] = (uint8_t)(i * 7 + 1);
	session_keypair_init(client, exported, true, 0);
	session_keypair_init(server, exported, false, 0);
	client->local_index = 0x11111111;
	server->local_index = 0x22222222;
	client->remote_index = server->local_index;
	server->remote_index = client->local_index;
}

static struct pkt *
sealed(struct keypair *from, const char *payload)
{
	struct pkt *p = pkt_get(pool);

	memcpy(pkt_data(p), payload, strlen(payload));
	p->len = (uint16_t)strlen(payload);
	assert_true(session_seal(from, p));
	return p;
}

static enum session_open_result
open_frame(struct keypair *to, struct pkt *p)
{
	struct frame_hdr h;

	assert_true(frame_hdr_decode(pkt_data(p), p->len, &h));
	assert_int_equal(h.receiver, to->local_index);
	return session_open(to, p, h.counter);
}

static void
test_session_seal_open_both_directions(void **state)
{
	struct keypair c, s;
	struct pkt *p;

	(void)state;
	make_pair(&c, &s);
	assert_memory_equal(c.send_key, s.recv_key, AEAD_KEY_LEN);
	assert_memory_equal(c.recv_key, s.send_key, AEAD_KEY_LEN);
	assert_memory_not_equal(c.send_key, c.recv_key, AEAD_KEY_LEN);

	p = sealed(&c, "hello from the client");
	assert_int_equal(p->len, FRAME_OVERHEAD + 21);
	assert_int_equal(open_frame(&s, p), SESSION_OPEN_OK);
	assert_int_equal(p->len, 21);
	assert_memory_equal(pkt_data(p), "hello from the client", 21);
	pkt_put(pool, p);

	p = sealed(&s, "and back");
	assert_int_equal(open_frame(&c, p), SESSION_OPEN_OK);
	assert_memory_equal(pkt_data(p), "and back", 8);
	pkt_put(pool, p);
}

static void
test_session_open_refuses_replay(void **state)
{
	struct keypair c, s;
	struct pkt *p = NULL, *copy = pkt_get(pool);

	(void)state;
	make_pair(&c, &s);
	p = sealed(&c, "once");
	memcpy(copy, p, sizeof(*p));
	assert_int_equal(open_frame(&s, p), SESSION_OPEN_OK);
	assert_int_equal(open_frame(&s, copy), SESSION_OPEN_REPLAY);
	pkt_put(pool, p);
	pkt_put(pool, copy);
}

/* Every single-bit flip in header, ciphertext or tag is refused and leaves the window alone. */
static void
test_session_open_refuses_every_bit_flip(void **state)
{
	struct keypair c, s;
	struct pkt *orig, *p = pkt_get(pool);

	(void)state;
	make_pair(&c, &s);
	orig = sealed(&c, "integrity matters");
	for (size_t bit = 0; bit < (size_t)orig->len * 8; bit++) {
		struct frame_hdr h;

		memcpy(p, orig, sizeof(*p));
		pkt_data(p)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (!frame_hdr_decode(pkt_data(p), p->len, &h) || h.receiver != s.local_index)
			continue; /* refused before crypto: also fine */
		assert_int_not_equal(session_open(&s, p, h.counter), SESSION_OPEN_OK);
	}
	/* The window did not move: the genuine frame still opens. */
	assert_int_equal(open_frame(&s, orig), SESSION_OPEN_OK);
	pkt_put(pool, p);
	pkt_put(pool, orig);
}

static void
test_session_seal_keepalive_is_empty_frame(void **state)
{
	struct keypair c, s;
	struct pkt *p = pkt_get(pool);

	(void)state;
	make_pair(&c, &s);
	assert_true(session_seal(&c, p));
	assert_int_equal(p->len, FRAME_OVERHEAD);
	assert_int_equal(open_frame(&s, p), SESSION_OPEN_OK);
	assert_int_equal(p->len, 0);
	pkt_put(pool, p);
}

/* Gives both ends AES-256-GCM keys (another exporter output), as two CPUs with AES-NI. */
static void
make_aes(struct keypair *client, struct keypair *server)
{
	uint8_t exported[SESSION_EXPORT_LEN];

	for (size_t i = 0; i < sizeof(exported); i++)
		exported[i] = (uint8_t)(i * 11 + 3);
	session_keypair_init_aes(client, exported);
	session_keypair_init_aes(server, exported);
}

static uint8_t
type_of(struct pkt *p)
{
	return pkt_data(p)[0];
}

static void
test_session_aes_both_ways(void **state)
{
	struct keypair c, s;
	struct pkt *p;

	(void)state;
	if (!aead_aes256gcm_available())
		skip();
	make_pair(&c, &s);
	make_aes(&c, &s);
	assert_memory_equal(c.send_key_aes, s.recv_key_aes, AEAD_KEY_LEN);
	assert_memory_not_equal(c.send_key_aes, c.send_key, AEAD_KEY_LEN);
	/* Keys alone change nothing: a side seals with AES only once the peer said it opens it. */
	p = sealed(&c, "before CIPHERS");
	assert_int_equal(type_of(p), FRAME_DATA);
	assert_int_equal(open_frame(&s, p), SESSION_OPEN_OK);
	pkt_put(pool, p);
	session_keypair_send_aes(&c);
	session_keypair_send_aes(&s);
	assert_int_equal(session_send_cipher(&c), AEAD_AES256_GCM);
	p = sealed(&c, "hello over aes");
	assert_int_equal(type_of(p), FRAME_DATA_AES);
	assert_int_equal(p->len, FRAME_OVERHEAD + 14);
	assert_int_equal(open_frame(&s, p), SESSION_OPEN_OK);
	assert_memory_equal(pkt_data(p), "hello over aes", 14);
	pkt_put(pool, p);
	p = sealed(&s, "and back");
	assert_int_equal(type_of(p), FRAME_DATA_AES);
	assert_int_equal(open_frame(&c, p), SESSION_OPEN_OK);
	assert_memory_equal(pkt_data(p), "and back", 8);
	pkt_put(pool, p);
}

/* One side with AES keys, the other without: each seals what the other opens. */
static void
test_session_aes_one_side(void **state)
{
	uint8_t exported[SESSION_EXPORT_LEN] = { 9 };
	struct keypair c, s;
	struct pkt *p;

	(void)state;
	if (!aead_aes256gcm_available())
		skip();
	make_pair(&c, &s);
	session_keypair_init_aes(&c, exported); /* the client's CPU has AES, the server's not */
	session_keypair_send_aes(&s);           /* no keys: nothing changes */
	assert_false(s.send_aes);
	assert_int_equal(session_send_cipher(&s), AEAD_CHACHA20_POLY1305);
	p = sealed(&s, "chacha to an aes side");
	assert_int_equal(type_of(p), FRAME_DATA);
	assert_int_equal(open_frame(&c, p), SESSION_OPEN_OK);
	pkt_put(pool, p);
	p = sealed(&c, "chacha from it");
	assert_int_equal(type_of(p), FRAME_DATA);
	assert_int_equal(open_frame(&s, p), SESSION_OPEN_OK);
	pkt_put(pool, p);
}

/*
 * A side without AES keys refuses an AES frame (it never offered them), without moving its
 * window; and a frame's type byte flipped to the other cipher is refused by a side with both.
 */
static void
test_session_aes_refused_without_keys(void **state)
{
	struct keypair c, s, s2;
	struct pkt *p, *copy = pkt_get(pool);

	(void)state;
	if (!aead_aes256gcm_available())
		skip();
	make_pair(&c, &s);
	make_aes(&c, &s);
	s2 = s;
	s2.has_aes = false;
	crypto_wipe(s2.recv_key_aes, sizeof(s2.recv_key_aes));
	session_keypair_send_aes(&c);
	p = sealed(&c, "aes to someone without it");
	memcpy(copy, p, sizeof(*p));
	assert_null(session_recv_key(&s2, FRAME_DATA_AES));
	assert_int_equal(open_frame(&s2, p), SESSION_OPEN_AUTH);
	pkt_data(copy)[0] = FRAME_DATA; /* the same bytes, claimed as ChaCha20-Poly1305 */
	assert_int_equal(open_frame(&s, copy), SESSION_OPEN_AUTH);
	pkt_put(pool, p);
	/* Neither moved a window: the genuine frame still opens where the keys are. */
	p = sealed(&c, "aes to someone without it");
	assert_int_equal(open_frame(&s, p), SESSION_OPEN_OK);
	pkt_put(pool, p);
	pkt_put(pool, copy);
	assert_null(session_recv_key(&s, 0));
	assert_null(session_recv_key(&s, 3));
}

static void
test_session_index_add_find_del(void **state)
{
	static struct keypair kps[3000];
	struct session_index *t;

	(void)state;
	assert_int_equal(session_index_new(&t), 0);
	for (int i = 0; i < 3000; i++) {
		assert_int_equal(session_index_add(t, &kps[i]), 0);
		assert_int_not_equal(kps[i].local_index, 0);
	}
	for (int i = 0; i < 3000; i++)
		assert_ptr_equal(session_index_find(t, kps[i].local_index), &kps[i]);
	for (int i = 0; i < 3000; i += 2)
		session_index_del(t, &kps[i]);
	for (int i = 0; i < 3000; i++)
		assert_ptr_equal(session_index_find(t, kps[i].local_index), i % 2 ? &kps[i] : NULL);
	assert_null(session_index_find(t, 0));
	session_index_free(t);
}

static int
setup(void **state)
{
	(void)state;
	return pkt_pool_new(&pool, 8);
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
		cmocka_unit_test(test_session_seal_open_both_directions),
		cmocka_unit_test(test_session_open_refuses_replay),
		cmocka_unit_test(test_session_open_refuses_every_bit_flip),
		cmocka_unit_test(test_session_seal_keepalive_is_empty_frame),
		cmocka_unit_test(test_session_aes_both_ways),
		cmocka_unit_test(test_session_aes_one_side),
		cmocka_unit_test(test_session_aes_refused_without_keys),
		cmocka_unit_test(test_session_index_add_find_del),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
