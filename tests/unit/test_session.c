// SPDX-License-Identifier: MIT
/*
 * Session keypairs: both ends derive matching direction keys from one exporter output; frames
 * sealed by one open at the other; replays and any flipped bit are refused without moving the
 * window; the receiver-index table finds exactly what was added.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/pkt.h"
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
		cmocka_unit_test(test_session_index_add_find_del),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
