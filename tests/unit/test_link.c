// SPDX-License-Identifier: MIT
/*
 * Peer links (daemon/link/): two agents, alice@a.example.com and bob@b.example.com, each with
 * its own TLS context, receiver-index table, peer table and links, on one event loop whose
 * clock the test drives. Their connection is an AF_UNIX socketpair handed to link_dial_fd and
 * link_accept, so the real handshake, HELLO exchange and records run in milliseconds without a
 * network. The peers' ops are fakes that record what was asked.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "control/stream.h"
#include "core/ev.h"
#include "crypto/aead.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "link/link.h"
#include "peer/peer.h"
#include "pki.h"
#include "steps.h"
#include "proto/record.h"
#include "session/session.h"

#define ALICE "alice@a.example.com"
#define BOB   "bob@b.example.com"

enum {
	T0 = 1000000,
	TYPE_TEST = 0x7a01,    /* a type bob registers a handler for */
	TYPE_UNKNOWN = 0x7a02, /* a type nobody registered */
	DAY = 86400,
};

struct agent_fx {
	struct tls_ctx *tls;
	struct session_index *index;
	struct peer_table *peers;
	struct links *links;
	struct peer *peer;  /* the other one */
	size_t dial_failed; /* peer_ops.dial calls after a failed dial (its retries) */
};

struct fx {
	struct test_pki pki;
	struct ev_loop *loop;
	uint64_t now;
	struct agent_fx alice, bob;
	int held[2 * 16]; /* the far ends of accepted test connections */
	size_t nheld;
	char got[64]; /* what bob's TYPE_TEST handler received */
	size_t got_len, got_count;
};

static uint64_t
fx_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static int
fake_dial(void *arg, struct peer *p, const struct sockaddr_storage *to)
{
	struct agent_fx *a = arg;

	(void)p;
	(void)to;
	a->dial_failed++;
	return -ECONNREFUSED;
}

static void
fake_keepalive(void *arg, struct peer *p)
{
	(void)arg;
	(void)p;
}

static void
fake_close_links(void *arg, struct peer *p)
{
	struct agent_fx *a = arg;

	link_close_peer(a->links, p);
}

static const struct peer_ops fake_peer_ops = {
	.dial = fake_dial,
	.send_keepalive = fake_keepalive,
	.close_links = fake_close_links,
};

static struct link_params
fx_params(void)
{
	return (struct link_params){
		.family = AF_INET,
		.own4 = { 100, 64, 0, 1 },
		.max_links = 64,
		.inbound_per_source = 16,
		.handshake_rate = 100,
		.handshake_burst = 100,
		.source_handshake_rate = 10,
		.source_handshake_burst = 20,
	};
}

/* One agent: user's key and a certificate from ca; its peer table knows `other` (if set). */
static void
agent_open(struct fx *f, struct agent_fx *a, const char *user, const char *ca, const char *self,
	   const char *other, const struct link_params *lp)
{
	char key[32], crt[32], ca_key[32], ca_crt[32];
	struct peer_params pp = {
		.self = self,
		.keepalive_sec = 10,
		.rekey_after_sec = 120,
		.rekey_after_packets = 1u << 30,
		.notary_rate = 1,
		.notary_burst = 1,
	};
	struct xlate_map map = { 0 };

	snprintf(key, sizeof(key), "%s.key", user);
	snprintf(crt, sizeof(crt), "%s.crt", user);
	snprintf(ca_key, sizeof(ca_key), "%s.key", ca);
	snprintf(ca_crt, sizeof(ca_crt), "%s.crt", ca);
	assert_int_equal(cert_key_new(test_pki_path(&f->pki, key), NULL), 0);
	assert_int_equal(cert_sign(test_pki_path(&f->pki, ca_key), test_pki_path(&f->pki, ca_crt),
				   test_pki_path(&f->pki, key), self, f->pki.now - 60,
				   f->pki.now + DAY, test_pki_path(&f->pki, crt)),
			 0);
	assert_int_equal(tls_ctx_new(&a->tls, test_pki_path(&f->pki, key),
				     test_pki_path(&f->pki, crt), f->pki.trust),
			 0);
	assert_int_equal(session_index_new(&a->index), 0);
	assert_int_equal(peer_table_new(&a->peers, f->loop, a->index, &pp, &fake_peer_ops, a), 0);
	if (other)
		assert_int_equal(peer_add(a->peers, other, 2, &map, NULL, 0, &a->peer), 0);
	assert_int_equal(links_new(&a->links, f->loop, a->tls, a->index, a->peers, lp), 0);
}

static void
agent_close(struct agent_fx *a)
{
	links_free(a->links, false);
	peer_table_free(a->peers);
	session_index_free(a->index);
	tls_ctx_free(a->tls);
}

static bool
on_test_record(void *arg, struct link *l, uint16_t type, const uint8_t *body, size_t len)
{
	struct fx *f = arg;

	assert_int_equal(type, TYPE_TEST);
	assert_string_equal(link_who(l), ALICE);
	assert_true(len <= sizeof(f->got));
	memcpy(f->got, body, len);
	f->got_len = len;
	f->got_count++;
	return true;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct link_params lp = fx_params();

	assert_non_null(f);
	test_pki_setup(&f->pki, "link");
	assert_int_equal(ev_loop_new(&f->loop), 0);
	f->now = T0;
	ev_loop_set_clock(f->loop, fx_clock, f);
	agent_open(f, &f->alice, "alice", "a", ALICE, BOB, &lp);
	agent_open(f, &f->bob, "bob", "b", BOB, ALICE, &lp);
	assert_int_equal(link_handle(f->bob.links, TYPE_TEST, on_test_record, f), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	agent_close(&f->alice);
	agent_close(&f->bob);
	for (size_t i = 0; i < f->nheld; i++)
		close(f->held[i]);
	ev_loop_free(f->loop);
	test_pki_teardown(&f->pki);
	free(f);
	return 0;
}

static struct sockaddr_storage
addr4(uint8_t last)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	in->sin_family = AF_INET;
	in->sin_port = htons(4800);
	in->sin_addr.s_addr = htonl(0xc6120000u | last); /* 198.18.0.last */
	return ss;
}

/* Alice dials bob over a socketpair; bob accepts it as coming from 198.18.0.1. */
static void
connect_pair(struct fx *f)
{
	struct sockaddr_storage to = addr4(2), from = addr4(1);
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	f->alice.peer->dialing = true;
	assert_int_equal(link_dial_fd(f->alice.links, f->alice.peer, sv[0], &to), 0);
	link_accept(f->bob.links, sv[1], &from);
}

static void
test_link_session_up(void **state)
{
	struct fx *f = *state;
	struct peer *a = f->alice.peer, *b = f->bob.peer;

	connect_pair(f);
	assert_int_equal(links_count(f->alice.links), 1);
	assert_int_equal(links_count(f->bob.links), 1);
	RUN_UNTIL(f->loop, a->state == PEER_UP && b->state == PEER_UP);
	/* Each side's keys name the other's receiver index, and the certificates are bound. */
	assert_int_equal(a->current->remote_index, b->current->local_index);
	assert_int_equal(b->current->remote_index, a->current->local_index);
	assert_memory_equal(a->cert_fpr, tls_ctx_cert(f->bob.tls)->fpr, 32);
	assert_memory_equal(b->cert_fpr, tls_ctx_cert(f->alice.tls)->fpr, 32);
	assert_non_null(a->paths.stream);
	assert_true(link_is_up(a->paths.stream));
	assert_ptr_equal(link_peer(b->paths.stream), b);
	assert_string_equal(link_who(b->paths.stream), ALICE);
	/* The HELLO told each the other's own overlay address. */
	{
		static const uint8_t bob_own4[4] = { 100, 64, 0, 1 };

		assert_memory_equal(a->map.peer_self4, bob_own4, 4);
	}
	assert_int_equal(links_refused(f->bob.links), 0);
}

/* Both sides' links made anew, each offering AES-256-GCM or not. */
static void
relink(struct fx *f, bool alice_aes, bool bob_aes)
{
	struct link_params lp = fx_params();

	links_free(f->alice.links, false);
	links_free(f->bob.links, false);
	lp.aes = alice_aes;
	assert_int_equal(
	    links_new(&f->alice.links, f->loop, f->alice.tls, f->alice.index, f->alice.peers, &lp),
	    0);
	lp.aes = bob_aes;
	assert_int_equal(
	    links_new(&f->bob.links, f->loop, f->bob.tls, f->bob.index, f->bob.peers, &lp), 0);
}

/*
 * CIPHERS before HELLO: AES-256-GCM both ways when both offer it, with keys both derived alike
 * (the exporter's other label) and apart from ChaCha20-Poly1305's; ChaCha20-Poly1305 both ways
 * when only one does (each seals what the other opens).
 */
static void
test_link_ciphers(void **state)
{
	struct fx *f = *state;
	struct peer *a = f->alice.peer, *b = f->bob.peer;
	struct keypair *ka, *kb;

	if (!aead_aes256gcm_available())
		skip();
	relink(f, true, true);
	connect_pair(f);
	RUN_UNTIL(f->loop, a->state == PEER_UP && b->state == PEER_UP);
	assert_true(a->current->send_aes && b->current->send_aes);
	assert_int_equal(session_send_cipher(a->current), AEAD_AES256_GCM);
	assert_memory_equal(session_send_key(a->current), b->current->recv_key_aes, AEAD_KEY_LEN);
	assert_memory_equal(session_send_key(b->current), a->current->recv_key_aes, AEAD_KEY_LEN);
	assert_memory_not_equal(a->current->send_key_aes, a->current->send_key, AEAD_KEY_LEN);

	ka = a->current;
	kb = b->current;
	relink(f, true, false);
	connect_pair(f);
	RUN_UNTIL(f->loop, a->current != ka && b->current != kb && a->current &&
			       a->current->remote_index && b->current && b->current->remote_index);
	assert_true(a->current->has_aes);
	assert_false(b->current->has_aes);
	assert_false(a->current->send_aes || b->current->send_aes);
	assert_memory_equal(session_send_key(a->current), b->current->recv_key, AEAD_KEY_LEN);
	assert_memory_equal(session_send_key(b->current), a->current->recv_key, AEAD_KEY_LEN);
}

static void
test_link_records_dispatched(void **state)
{
	struct fx *f = *state;
	struct link *l;

	connect_pair(f);
	RUN_UNTIL(f->loop, f->alice.peer->state == PEER_UP && f->bob.peer->state == PEER_UP);
	l = f->alice.peer->paths.stream;
	/* An unknown type is skipped, not a reason to close; a registered one reaches its handler.
	 */
	assert_true(link_send_record(l, TYPE_UNKNOWN, "??", 2));
	assert_true(link_send_record(l, TYPE_TEST, "hello bob", 9));
	RUN_UNTIL(f->loop, f->got_count == 1);
	assert_int_equal(f->got_len, 9);
	assert_memory_equal(f->got, "hello bob", 9);
	assert_true(link_is_up(f->bob.peer->paths.stream));
	/* The links' own types and a second handler of a type cannot be registered. */
	assert_int_equal(link_handle(f->bob.links, RECORD_HELLO, on_test_record, f), -EEXIST);
	assert_int_equal(link_handle(f->bob.links, RECORD_CLOSE, on_test_record, f), -EEXIST);
	assert_int_equal(link_handle(f->bob.links, TYPE_TEST, on_test_record, f), -EEXIST);
	for (uint16_t t = 1; t < LINK_HANDLERS_MAX; t++)
		assert_int_equal(link_handle(f->bob.links, 0x7b00 + t, on_test_record, f), 0);
	assert_int_equal(link_handle(f->bob.links, 0x7c00, on_test_record, f), -ENOSPC);
}

static void
test_link_close_record(void **state)
{
	struct fx *f = *state;

	connect_pair(f);
	RUN_UNTIL(f->loop, f->alice.peer->state == PEER_UP && f->bob.peer->state == PEER_UP);
	/* Alice shuts down: CLOSE first, so bob drops the session at once instead of timing out. */
	links_free(f->alice.links, true);
	f->alice.links = NULL;
	assert_int_equal(links_new(&f->alice.links, f->loop, f->alice.tls, f->alice.index,
				   f->alice.peers,
				   &(struct link_params){ .family = AF_INET,
							  .max_links = 1,
							  .inbound_per_source = 1,
							  .handshake_rate = 1,
							  .handshake_burst = 1,
							  .source_handshake_rate = 1,
							  .source_handshake_burst = 1 }),
			 0);
	RUN_UNTIL(f->loop, links_count(f->bob.links) == 0);
	assert_null(f->bob.peer->current);
	assert_int_not_equal(f->bob.peer->state, PEER_UP);
}

static void
test_link_unknown_peer_refused(void **state)
{
	struct fx *f = *state;

	/* Bob knows alice; alice's peer table is what matters for a dial, bob's for an accept. */
	peer_del(f->bob.peer);
	f->bob.peer = NULL;
	connect_pair(f);
	RUN_UNTIL(f->loop, links_count(f->bob.links) == 0 && links_count(f->alice.links) == 0);
	assert_int_not_equal(f->alice.peer->state, PEER_UP);
	assert_false(f->alice.peer->dialing);
}

/* An accepted connection whose other end never speaks. */
static void
accept_silent(struct fx *f, uint8_t source)
{
	struct sockaddr_storage from = addr4(source);
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_true(f->nheld < sizeof(f->held) / sizeof(f->held[0]));
	f->held[f->nheld++] = sv[0];
	link_accept(f->bob.links, sv[1], &from);
}

static void
test_link_handshake_deadline(void **state)
{
	struct fx *f = *state;

	accept_silent(f, 9);
	assert_int_equal(links_count(f->bob.links), 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(ev_run_once(f->loop, 0), 0);
	assert_int_equal(links_count(f->bob.links), 1); /* no time has passed */
	f->now += STREAM_HANDSHAKE_MS - 1;
	assert_int_equal(ev_run_once(f->loop, 0), 0);
	assert_int_equal(links_count(f->bob.links), 1);
	f->now += 2;
	assert_int_equal(ev_run_once(f->loop, 0), 0);
	assert_int_equal(links_count(f->bob.links), 0);
}

static void
test_link_hello_deadline(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = addr4(1);
	struct tls_conn *raw;
	uint32_t want;
	int sv[2], rc = -EAGAIN;

	/* A client that completes the TLS handshake as alice and then never sends HELLO. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(tls_conn_new(&raw, f->alice.tls, sv[0], true, BOB), 0);
	link_accept(f->bob.links, sv[1], &from);
	for (int i = 0; i < 2000 && rc == -EAGAIN; i++) {
		rc = tls_conn_handshake(raw, &want);
		assert_int_equal(ev_run_once(f->loop, 1), 0);
	}
	assert_int_equal(rc, 0);
	/* Bob has sent his HELLO and waits for alice's: bounded by LINK_HELLO_TIMEOUT_MS. */
	for (int i = 0; i < 20; i++)
		assert_int_equal(ev_run_once(f->loop, 1), 0);
	assert_int_equal(links_count(f->bob.links), 1);
	assert_int_not_equal(f->bob.peer->state, PEER_UP);
	f->now += LINK_HELLO_TIMEOUT_MS + 1;
	assert_int_equal(ev_run_once(f->loop, 0), 0);
	assert_int_equal(links_count(f->bob.links), 0);
	assert_null(f->bob.peer->current); /* the keys derived for the link went with it */
	tls_conn_free(raw);
	close(sv[0]);
}

static void
test_link_accept_bounds(void **state)
{
	struct fx *f = *state;
	struct link_params lp = fx_params();

	/* Smaller bounds: 2 links not up per network, 3 handshakes a network, 5 in all. */
	links_free(f->bob.links, false);
	lp.inbound_per_source = 2;
	lp.source_handshake_rate = 1;
	lp.source_handshake_burst = 3;
	lp.handshake_rate = 1;
	lp.handshake_burst = 5;
	assert_int_equal(
	    links_new(&f->bob.links, f->loop, f->bob.tls, f->bob.index, f->bob.peers, &lp), 0);
	accept_silent(f, 10);
	accept_silent(f, 10);
	accept_silent(f, 10); /* a third one not up from 198.18.0.10: over inbound_per_source */
	assert_int_equal(links_count(f->bob.links), 2);
	assert_int_equal(links_refused(f->bob.links), 1);
	accept_silent(f, 10); /* its fourth handshake: over the network's rate */
	assert_int_equal(links_refused(f->bob.links), 2);
	accept_silent(f, 11);
	accept_silent(f, 11); /* 5 handshakes started in all: the global burst is spent */
	accept_silent(f, 12);
	assert_int_equal(links_count(f->bob.links), 4);
	assert_int_equal(links_refused(f->bob.links), 3);
	/* A second later each bucket has earned one: a new network gets in again. */
	f->now += 1000;
	assert_int_equal(ev_run_once(f->loop, 0), 0);
	accept_silent(f, 12);
	assert_int_equal(links_count(f->bob.links), 5);
	assert_int_equal(links_refused(f->bob.links), 3);
}

static void
test_link_max_links(void **state)
{
	struct fx *f = *state;
	struct link_params lp = fx_params();

	links_free(f->bob.links, false);
	lp.max_links = 3;
	assert_int_equal(
	    links_new(&f->bob.links, f->loop, f->bob.tls, f->bob.index, f->bob.peers, &lp), 0);
	for (uint8_t s = 20; s < 25; s++)
		accept_silent(f, s);
	assert_int_equal(links_count(f->bob.links), 3);
	assert_int_equal(links_refused(f->bob.links), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_link_session_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_ciphers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_records_dispatched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_close_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_unknown_peer_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_handshake_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_hello_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_accept_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_max_links, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
