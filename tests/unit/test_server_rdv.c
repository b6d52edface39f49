// SPDX-License-Identifier: MIT
/*
 * The server's rendezvous and relay (daemon/server/rendezvous.c, relay.c, pending.c,
 * approvals.c). The pure parts alone: the pending table (duplicates merged, bounds, expiry), the
 * byte buckets, the approvals and their persistence in a real SQLite file. Then the whole hop
 * on one domain's server: agents connected over socketpairs (TLS, as in production) to
 * connections the test builds as serve.c would, on a loop whose clock the test drives: ask,
 * approve, relay, refusals (forged from, unknown, offline, unapproved, revoked, a server's
 * verdict from an agent, an answer matching nothing), the timeout at the ttl, and --private.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "pki.h"
#include "proto/ctlmsg.h"
#include "server/accounts.h"
#include "server/approvals.h"
#include "server/pending.h"
#include "server/rdv_int.h"
#include "server/server.h"
#include "steps.h"

#define DOMAIN "a.example.com"
#define ALICE  "alice@a.example.com"
#define BOB    "bob@a.example.com"
#define CAROL  "carol@a.example.com"
#define DAVE   "dave@a.example.com" /* an account, never connected */
#define NOBODY "nobody@a.example.com"

enum { T0 = 1000000, NAGENTS = 3, MAX_GOT = 64 };

/* --- the pending table --- */

static void
test_pending_merge_and_find(void **state)
{
	struct pending_table *t;
	struct pending *p, *q;

	(void)state;
	assert_int_equal(pending_new(&t), 0);
	assert_int_equal(pending_add(t, ALICE, BOB, "ssh", 7, 5000, PENDING_ASKER_HERE, &p), 0);
	assert_int_equal(pending_add(t, ALICE, BOB, "ssh", 8, 9000, PENDING_ANSWERER_HERE, &q), 1);
	assert_ptr_equal(p, q);
	assert_int_equal(p->id, 7); /* the first one's id and expiry stay */
	assert_int_equal(p->expires_ms, 5000);
	assert_int_equal(p->merged, 1);
	assert_int_equal(p->flags, PENDING_ASKER_HERE | PENDING_ANSWERER_HERE);
	assert_int_equal(pending_add(t, ALICE, BOB, "web", 9, 6000, 0, NULL), 0);
	assert_int_equal(pending_count(t), 2);
	assert_null(pending_find(t, ALICE, BOB, "ssh", 8)); /* the wrong id */
	assert_null(pending_find(t, BOB, ALICE, "ssh", 7)); /* the wrong direction */
	assert_ptr_equal(pending_find(t, ALICE, BOB, "ssh", 7), p);
	pending_remove(t, p);
	assert_null(pending_find(t, ALICE, BOB, "ssh", 7));
	assert_int_equal(pending_count(t), 1);
	pending_free(t);
}

static void
test_pending_expire_in_order(void **state)
{
	struct pending_table *t;
	struct pending out;

	(void)state;
	assert_int_equal(pending_new(&t), 0);
	assert_int_equal(pending_next_expiry(t), UINT64_MAX);
	assert_int_equal(pending_add(t, ALICE, BOB, "a", 1, 3000, 0, NULL), 0);
	assert_int_equal(pending_add(t, ALICE, BOB, "b", 2, 1000, 0, NULL), 0);
	assert_int_equal(pending_add(t, ALICE, BOB, "c", 3, 2000, 0, NULL), 0);
	assert_int_equal(pending_next_expiry(t), 1000);
	assert_false(pending_expire(t, 999, &out));
	assert_true(pending_expire(t, 2000, &out));
	assert_true(out.id == 2 || out.id == 3);
	assert_true(pending_expire(t, 2000, &out));
	assert_false(pending_expire(t, 2000, &out));
	assert_int_equal(pending_next_expiry(t), 3000);
	assert_true(pending_expire(t, 3000, &out));
	assert_int_equal(out.id, 1);
	assert_string_equal(out.purpose, "a");
	assert_int_equal(pending_count(t), 0);
	pending_free(t);
}

static void
test_pending_bounds(void **state)
{
	struct pending_table *t;
	char from[64], purpose[16];
	size_t n = 0;

	(void)state;
	assert_int_equal(pending_new(&t), 0);
	for (int i = 0; i < PENDING_PER_ASKER; i++) {
		snprintf(purpose, sizeof(purpose), "p%d", i);
		assert_int_equal(
		    pending_add(t, ALICE, BOB, purpose, (uint64_t)i + 1, 1000, 0, NULL), 0);
	}
	assert_int_equal(pending_add(t, ALICE, BOB, "one-more", 999, 1000, 0, NULL), -EDQUOT);
	assert_int_equal(pending_add(t, ALICE, BOB, "p3", 999, 1000, 0, NULL), 1); /* merging */
	assert_int_equal(pending_count_asker(t, ALICE), PENDING_PER_ASKER);
	/* Others fill the table; then nobody gets a place, nothing is evicted. */
	for (int u = 0; pending_count(t) < PENDING_MAX; u++) {
		snprintf(from, sizeof(from), "u%d@b.example.com", u);
		for (int i = 0; i < PENDING_PER_ASKER && pending_count(t) < PENDING_MAX; i++) {
			snprintf(purpose, sizeof(purpose), "p%d", i);
			assert_int_equal(pending_add(t, from, BOB, purpose, 1, 1000, 0, NULL), 0);
			n++;
		}
	}
	assert_int_equal(n + PENDING_PER_ASKER, PENDING_MAX);
	assert_int_equal(pending_add(t, CAROL, BOB, "ssh", 5, 1000, 0, NULL), -ENOSPC);
	assert_non_null(pending_find(t, ALICE, BOB, "p0", 1));
	pending_free(t);
}

/* --- the byte buckets --- */

static void
test_relay_bucket_burst_and_rate(void **state)
{
	struct relay_bucket b;

	(void)state;
	relay_bucket_init(&b, 0, 0); /* the default: 256 MiB/s, burst 4 MiB */
	assert_true(relay_bucket_take(&b, RELAY_BURST, 0));
	assert_false(relay_bucket_take(&b, 1, 0));
	/* 1 ms earns 256 MiB / 1000 = 268435 bytes (and a half). */
	assert_true(relay_bucket_take(&b, 268435, 1));
	assert_false(relay_bucket_take(&b, 1000, 1));
	/* A long pause refills to the burst, no more. */
	assert_true(relay_bucket_take(&b, RELAY_BURST, 100000));
	assert_false(relay_bucket_take(&b, 1, 100000));

	relay_bucket_init(&b, 100000, 0); /* low rate: a second's worth, at least the minimum */
	assert_true(relay_bucket_take(&b, 100000, 0));
	assert_false(relay_bucket_take(&b, 1, 0));
	assert_true(relay_bucket_take(&b, 50000, 500));
	assert_false(relay_bucket_take(&b, 100, 500));
	relay_bucket_init(&b, 1024, 0);
	assert_true(relay_bucket_take(&b, RELAY_BURST_MIN, 0));
	assert_false(relay_bucket_take(&b, 1, 0));
	/* A clock that goes back earns nothing and breaks nothing. */
	assert_false(relay_bucket_take(&b, 1, 0));
	assert_true(relay_bucket_take(&b, 1024, 1000));
}

/* --- approvals --- */

static void
approval_of(struct approval *ap, const char *asker, const char *answerer, const char *purpose,
	    uint16_t port)
{
	memset(ap, 0, sizeof(*ap));
	snprintf(ap->asker, sizeof(ap->asker), "%s", asker);
	snprintf(ap->answerer, sizeof(ap->answerer), "%s", answerer);
	snprintf(ap->purpose, sizeof(ap->purpose), "%s", purpose);
	ap->proto = 6;
	ap->port = port;
	ap->created = 1700000000;
}

static void
test_approvals_pairs_and_revoke(void **state)
{
	struct test_pki pki;
	struct approvals *a;
	struct approval ap, got;

	(void)state;
	test_pki_setup(&pki, "approvals");
	assert_int_equal(approvals_open(&a, test_pki_path(&pki, "server.db")), 0);
	assert_false(approvals_has_pair(a, ALICE, BOB));
	approval_of(&ap, ALICE, BOB, "ssh", 22);
	assert_int_equal(approvals_add(a, &ap), 0);
	approval_of(&ap, ALICE, BOB, "web", 80);
	assert_int_equal(approvals_add(a, &ap), 0);
	assert_int_equal(approvals_add(a, &ap), 0); /* the same again replaces, counts once */
	assert_int_equal(approvals_count(a), 2);
	assert_true(approvals_has_pair(a, ALICE, BOB));
	assert_true(approvals_has_pair(a, BOB, ALICE)); /* either direction */
	assert_false(approvals_has_pair(a, CAROL, BOB));
	assert_int_equal(approvals_get(a, ALICE, BOB, "web", &got), 0);
	assert_int_equal(got.port, 80);
	assert_int_equal(approvals_get(a, BOB, ALICE, "web", &got), -ENOENT);
	/* One purpose revoked (by either side, named either way): the other keeps the pair. */
	assert_int_equal(approvals_revoke(a, BOB, ALICE, "ssh"), 1);
	assert_true(approvals_has_pair(a, ALICE, BOB));
	assert_int_equal(approvals_revoke(a, BOB, ALICE, "ssh"), 0);
	approval_of(&ap, BOB, ALICE, "ssh", 22); /* the other direction too */
	assert_int_equal(approvals_add(a, &ap), 0);
	assert_int_equal(approvals_revoke(a, ALICE, BOB, ""), 2); /* "": all, both directions */
	assert_false(approvals_has_pair(a, ALICE, BOB));
	assert_int_equal(approvals_count(a), 0);
	approvals_close(a);
	test_pki_teardown(&pki);
}

static void
test_approvals_pair_key(void **state)
{
	char k1[APPROVALS_KEY_MAX], k2[APPROVALS_KEY_MAX], longest[APPROVAL_ID_MAX + 1];

	(void)state;
	assert_int_equal(approvals_pair_key(BOB, ALICE, k1), strlen(ALICE) + 1 + strlen(BOB));
	assert_string_equal(k1, ALICE "\n" BOB);
	approvals_pair_key(ALICE, BOB, k2);
	assert_string_equal(k1, k2);
	memset(longest, 'x', APPROVAL_ID_MAX);
	longest[APPROVAL_ID_MAX] = '\0';
	assert_int_equal(approvals_pair_key(longest, "y", k1), APPROVAL_ID_MAX + 2);
	assert_int_equal(k1[APPROVAL_ID_MAX + 2], '\0');
}

static void
test_approvals_survive_reopen(void **state)
{
	struct test_pki pki;
	struct approvals *a, *b;
	struct approval ap, got;

	(void)state;
	test_pki_setup(&pki, "approvals-reopen");
	assert_int_equal(approvals_open(&a, test_pki_path(&pki, "server.db")), 0);
	approval_of(&ap, ALICE, BOB, "ssh", 22);
	assert_int_equal(approvals_add(a, &ap), 0);
	approval_of(&ap, CAROL, BOB, "web", 80);
	assert_int_equal(approvals_add(a, &ap), 0);
	assert_int_equal(approvals_revoke(a, CAROL, BOB, ""), 1);
	/* A second handle while the first is still open: what a process sees after a crash of
	 * the one that wrote (nothing was closed or flushed by hand). */
	assert_int_equal(approvals_open(&b, test_pki_path(&pki, "server.db")), 0);
	assert_int_equal(approvals_count(b), 1);
	assert_true(approvals_has_pair(b, BOB, ALICE));
	assert_false(approvals_has_pair(b, CAROL, BOB));
	assert_int_equal(approvals_get(b, ALICE, BOB, "ssh", &got), 0);
	assert_int_equal(got.proto, 6);
	assert_int_equal(got.port, 22);
	assert_int_equal(got.created, 1700000000);
	approvals_close(b);
	approvals_close(a);
	assert_int_equal(approvals_open(&a, test_pki_path(&pki, "server.db")), 0);
	assert_int_equal(approvals_count(a), 1);
	assert_true(approvals_has_pair(a, ALICE, BOB));
	approvals_close(a);
	test_pki_teardown(&pki);
}

/*
 * `vertex-server user del` (another process, on the store) purges the approvals the user gave
 * and received; the running server's index follows at its next poll (approvals_sync), and a
 * user re-created under the name inherits none. Same-named users of other domains keep theirs.
 */
static void
test_approvals_purged_with_user(void **state)
{
	struct test_pki pki;
	struct accounts *acc;
	struct approvals *a;
	struct approval ap;
	int purged = -1;

	(void)state;
	test_pki_setup(&pki, "approvals-user-del");
	assert_int_equal(approvals_open(&a, test_pki_path(&pki, "server.db")), 0);
	assert_int_equal(accounts_open(&acc, test_pki_path(&pki, "server.db")), 0);
	assert_int_equal(approvals_sync(a), 0); /* nothing deleted yet */
	assert_int_equal(accounts_user_add(acc, "alice", NULL, 1), 0);
	approval_of(&ap, ALICE, BOB, "ssh", 22); /* given */
	assert_int_equal(approvals_add(a, &ap), 0);
	approval_of(&ap, "bob@b.example.com", ALICE, "web", 80); /* received, from afar */
	assert_int_equal(approvals_add(a, &ap), 0);
	approval_of(&ap, CAROL, BOB, "ssh", 22);
	assert_int_equal(approvals_add(a, &ap), 0);
	approval_of(&ap, "alice@b.example.com", BOB, "ssh", 22); /* another domain's alice */
	assert_int_equal(approvals_add(a, &ap), 0);
	assert_int_equal(approvals_count(a), 4);

	assert_int_equal(accounts_user_del(acc, "alice", DOMAIN, 2000, &purged), 0);
	assert_int_equal(purged, 2);
	/* Until the poll the index still holds the pairs; then they are gone, the rest stays. */
	assert_true(approvals_has_pair(a, ALICE, BOB));
	assert_int_equal(approvals_sync(a), 1);
	assert_int_equal(approvals_sync(a), 0);
	assert_false(approvals_has_pair(a, ALICE, BOB));
	assert_false(approvals_has_pair(a, ALICE, "bob@b.example.com"));
	assert_true(approvals_has_pair(a, CAROL, BOB));
	assert_true(approvals_has_pair(a, "alice@b.example.com", BOB));
	assert_int_equal(approvals_count(a), 2);
	assert_int_equal(approvals_get(a, ALICE, BOB, "ssh", &ap), -ENOENT);

	/* The new alice starts with nothing, here and in a store opened afresh. */
	assert_int_equal(accounts_user_add(acc, "alice", NULL, 3000), 0);
	approvals_close(a);
	assert_int_equal(approvals_open(&a, test_pki_path(&pki, "server.db")), 0);
	assert_int_equal(approvals_count(a), 2);
	assert_false(approvals_has_pair(a, ALICE, BOB));
	/* A user with no approvals: nothing purged, no reload. */
	assert_int_equal(accounts_user_del(acc, "alice", DOMAIN, 4000, &purged), 0);
	assert_int_equal(purged, 0);
	assert_int_equal(approvals_sync(a), 0);
	accounts_close(acc);
	approvals_close(a);
	test_pki_teardown(&pki);
}

/* --- one server, agents over socketpairs --- */

struct fx;

struct agent {
	struct fx *f;
	const char *id;
	struct sconn *c;       /* the server's side */
	struct stream *client; /* the agent's side */
	bool up;
	struct ctlmsg got[MAX_GOT]; /* strings copied; blobs' first bytes in data */
	uint8_t data[MAX_GOT][256];
	size_t ngot, pongs;
};

struct fx {
	struct test_pki pki;
	struct ev_loop *loop;
	uint64_t now;
	struct tls_ctx *server_tls, *client_tls;
	struct server srv, srv_b; /* srv_b: only when one process serves both (run --also) */
	struct agent ag[NAGENTS];
	struct sconn *dead[16];
	size_t ndead;
};

static uint64_t
fx_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static bool
side_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct sconn *c = stream_arg(s);
	struct ctlmsg m;

	assert_true(ctlmsg_decode(type, body, len, &m));
	if (type == CTL_PING) {
		m.type = CTL_PONG;
		sconn_send(c, &m);
		return true;
	}
	rdv_dispatch(c, &m);
	return !c->closed;
}

static void
side_closed(struct stream *s, const char *why)
{
	struct sconn *c = stream_arg(s);
	struct sconn **pp;

	(void)why;
	for (pp = &c->srv->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	rdv_agent_down(c);
	c->closed = true;
	c->s = NULL;
}

static const struct stream_ops side_ops = {
	.on_record = side_record,
	.on_closed = side_closed,
};

static void
agent_established(struct stream *s)
{
	((struct agent *)stream_arg(s))->up = true;
}

static bool
agent_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct agent *a = stream_arg(s);
	struct ctlmsg *m;

	assert_true(a->ngot < MAX_GOT);
	m = &a->got[a->ngot];
	assert_true(ctlmsg_decode(type, body, len, m));
	if (type == CTL_PONG) {
		a->pongs++;
		return true;
	}
	/* The first bytes are kept (the lengths stay as received). */
	if (type == CTL_RELAY_FRAME) {
		memcpy(a->data[a->ngot], m->u.frame.frame,
		       m->u.frame.frame_len < sizeof(a->data[0]) ? m->u.frame.frame_len
								 : sizeof(a->data[0]));
		m->u.frame.frame = a->data[a->ngot];
	} else if (type == CTL_RELAY) {
		memcpy(a->data[a->ngot], m->u.relay.data,
		       m->u.relay.data_len < sizeof(a->data[0]) ? m->u.relay.data_len
								: sizeof(a->data[0]));
		m->u.relay.data = a->data[a->ngot];
	}
	a->ngot++;
	return true;
}

static void
agent_closed(struct stream *s, const char *why)
{
	(void)why;
	((struct agent *)stream_arg(s))->client = NULL;
}

static const struct stream_ops agent_ops = {
	.on_established = agent_established,
	.on_record = agent_record,
	.on_closed = agent_closed,
};

/* The agent a connects to srv: a connection as serve.c makes it once HELLO came (role agent). */
static void
agent_connect_to(struct fx *f, struct server *srv, struct agent *a, const char *id,
		 uint8_t fpr_byte)
{
	struct sconn *c = calloc(1, sizeof(*c));
	int sv[2];

	assert_non_null(c);
	a->f = f;
	a->id = id;
	a->c = c;
	a->up = false;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	c->srv = srv;
	snprintf(c->peer, sizeof(c->peer), "%s", id);
	snprintf(c->addr, sizeof(c->addr), "test:%s", id);
	memset(c->fpr, fpr_byte, sizeof(c->fpr));
	c->hello = true;
	c->role = CTL_ROLE_AGENT;
	assert_int_equal(
	    stream_new(&c->s, f->loop, f->server_tls, sv[1], false, NULL, NULL, &side_ops, c), 0);
	c->next = srv->conns;
	srv->conns = c;
	rdv_agent_up(c);
	assert_int_equal(stream_new(&a->client, f->loop, f->client_tls, sv[0], true,
				    "server@" DOMAIN, NULL, &agent_ops, a),
			 0);
	RUN_UNTIL(f->loop, a->up);
	assert_true(f->ndead < sizeof(f->dead) / sizeof(f->dead[0]));
	f->dead[f->ndead++] = c; /* freed at teardown, as serve.c frees at the end of a turn */
}

static void
agent_connect(struct fx *f, struct agent *a, const char *id, uint8_t fpr_byte)
{
	agent_connect_to(f, &f->srv, a, id, fpr_byte);
}

static void
agent_disconnect(struct fx *f, struct agent *a)
{
	stream_close(a->client, "test");
	RUN_UNTIL(f->loop, a->c->closed);
}

static void
fx_setup_server(struct fx *f, bool private_mode, uint64_t relay_rate)
{
	char db[256];

	memset(&f->srv, 0, sizeof(f->srv));
	snprintf(f->srv.domain, sizeof(f->srv.domain), "%s", DOMAIN);
	f->srv.primary = &f->srv;
	f->srv.loop = f->loop;
	f->srv.opts.private_mode = private_mode;
	f->srv.opts.relay_rate = relay_rate;
	snprintf(db, sizeof(db), "%s", test_pki_path(&f->pki, "server.db"));
	assert_int_equal(accounts_open(&f->srv.acc, db), 0);
	assert_int_equal(rdv_open(&f->srv, db), 0);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct test_pki *pki;
	char db[256];

	assert_non_null(f);
	pki = &f->pki;
	log_set_quiet(true);
	test_pki_setup(pki, "server-rdv");
	assert_int_equal(ev_loop_new(&f->loop), 0);
	f->now = T0;
	ev_loop_set_clock(f->loop, fx_clock, f);
	assert_int_equal(cert_key_new(test_pki_path(pki, "server.key"), NULL), 0);
	assert_int_equal(cert_sign(test_pki_path(pki, "a.key"), test_pki_path(pki, "a.crt"),
				   test_pki_path(pki, "server.key"), "server@" DOMAIN,
				   pki->now - 60, pki->now + 86400,
				   test_pki_path(pki, "server.crt")),
			 0);
	assert_int_equal(tls_ctx_new_flags(&f->server_tls, test_pki_path(pki, "server.key"),
					   test_pki_path(pki, "server.crt"), pki->trust,
					   TLS_CTX_PEER_CERT_OPTIONAL),
			 0);
	assert_int_equal(tls_ctx_new(&f->client_tls, NULL, NULL, pki->trust), 0);
	snprintf(db, sizeof(db), "%s", test_pki_path(pki, "server.db"));
	{
		struct accounts *acc;

		assert_int_equal(accounts_open(&acc, db), 0);
		assert_int_equal(accounts_user_add(acc, "alice", NULL, 1), 0);
		assert_int_equal(accounts_user_add(acc, "bob", NULL, 1), 0);
		assert_int_equal(accounts_user_add(acc, "carol", NULL, 1), 0);
		assert_int_equal(accounts_user_add(acc, "dave", NULL, 1), 0);
		accounts_close(acc);
	}
	fx_setup_server(f, false, 0);
	*state = f;
	return 0;
}

static void
fx_close_server(struct fx *f)
{
	for (int i = 0; i < NAGENTS; i++)
		if (f->ag[i].client)
			stream_close(f->ag[i].client, "test over");
	while (f->srv.conns)
		stream_close(f->srv.conns->s, "test over");
	while (f->srv_b.conns)
		stream_close(f->srv_b.conns->s, "test over");
	rdv_close(&f->srv);
	accounts_close(f->srv.acc);
	rdv_close(&f->srv_b);
	accounts_close(f->srv_b.acc);
	f->srv_b.acc = NULL;
	f->srv.hosted = NULL;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	fx_close_server(f);
	for (size_t i = 0; i < f->ndead; i++)
		free(f->dead[i]);
	tls_ctx_free(f->server_tls);
	tls_ctx_free(f->client_tls);
	ev_loop_free(f->loop);
	test_pki_teardown(&f->pki);
	free(f);
	return 0;
}

static void
agent_send(struct agent *a, const struct ctlmsg *m)
{
	assert_true(stream_send_msg(a->client, m));
}

/* A PING through a's connection: once its PONG is back, the server handled what a sent. */
static void
agent_sync(struct agent *a)
{
	struct ctlmsg ping = { .type = CTL_PING };
	size_t want = a->pongs + 1;

	agent_send(a, &ping);
	RUN_UNTIL(a->f->loop, a->pongs == want);
}

static void
advance(struct fx *f, uint64_t ms, uint64_t step_ms)
{
	for (uint64_t done = 0; done < ms; done += step_ms) {
		f->now += step_ms;
		assert_int_equal(ev_run_once(f->loop, 0), 0);
	}
}

static const struct ctlmsg *
agent_last(const struct agent *a, uint16_t type)
{
	for (size_t i = a->ngot; i-- > 0;)
		if (a->got[i].type == type)
			return &a->got[i];
	return NULL;
}

static size_t
agent_count(const struct agent *a, uint16_t type)
{
	size_t n = 0;

	for (size_t i = 0; i < a->ngot; i++)
		n += a->got[i].type == type;
	return n;
}

static void
contact(struct ctlmsg *m, const char *from, const char *to, const char *purpose, uint16_t ttl,
	uint64_t id)
{
	*m = (struct ctlmsg){ .type = CTL_CONTACT };
	snprintf(m->u.contact.from, sizeof(m->u.contact.from), "%s", from);
	snprintf(m->u.contact.to, sizeof(m->u.contact.to), "%s", to);
	snprintf(m->u.contact.purpose, sizeof(m->u.contact.purpose), "%s", purpose);
	m->u.contact.ttl = ttl;
	m->u.contact.id = id;
}

static void
answer(struct ctlmsg *m, const char *from, const char *to, const char *purpose, uint8_t verdict,
       uint64_t id)
{
	*m = (struct ctlmsg){ .type = CTL_ANSWER };
	snprintf(m->u.answer.from, sizeof(m->u.answer.from), "%s", from);
	snprintf(m->u.answer.to, sizeof(m->u.answer.to), "%s", to);
	snprintf(m->u.answer.purpose, sizeof(m->u.answer.purpose), "%s", purpose);
	m->u.answer.verdict = verdict;
	m->u.answer.id = id;
	if (verdict == CTL_VERDICT_APPROVED) {
		m->u.answer.proto = 6;
		m->u.answer.port = 22;
	}
}

static void
frame(struct ctlmsg *m, const char *from, const char *to, const uint8_t *data, size_t len)
{
	*m = (struct ctlmsg){ .type = CTL_RELAY_FRAME };
	snprintf(m->u.frame.from, sizeof(m->u.frame.from), "%s", from);
	snprintf(m->u.frame.to, sizeof(m->u.frame.to), "%s", to);
	m->u.frame.frame = data;
	m->u.frame.frame_len = len;
}

/* alice asks bob for ssh and bob approves (both connected: ag[0], ag[1]). */
static void
ask_and_approve(struct fx *f)
{
	struct agent *alice = &f->ag[0], *bob = &f->ag[1];
	const struct ctlmsg *got;
	struct ctlmsg m;
	uint8_t fpr[CTL_FPR_LEN];

	contact(&m, ALICE, BOB, "ssh", 60, 42);
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_last(bob, CTL_CONTACT));
	got = agent_last(bob, CTL_CONTACT);
	assert_string_equal(got->u.contact.from, ALICE);
	assert_int_equal(got->u.contact.id, 42);
	memset(fpr, 0xa1, sizeof(fpr));
	assert_memory_equal(got->u.contact.fpr, fpr, CTL_FPR_LEN); /* alice's, as verified */
	answer(&m, BOB, ALICE, "ssh", CTL_VERDICT_APPROVED, 42);
	agent_send(bob, &m);
	RUN_UNTIL(f->loop, agent_last(alice, CTL_ANSWER));
	got = agent_last(alice, CTL_ANSWER);
	assert_int_equal(got->u.answer.verdict, CTL_VERDICT_APPROVED);
	assert_int_equal(got->u.answer.port, 22);
	assert_true(approvals_has_pair(f->srv.rdv->approvals, ALICE, BOB));
}

static void
connect_three(struct fx *f)
{
	agent_connect(f, &f->ag[0], ALICE, 0xa1);
	agent_connect(f, &f->ag[1], BOB, 0xb0);
	agent_connect(f, &f->ag[2], CAROL, 0xc0);
}

static void
test_rdv_ask_approve_relay(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1];
	const uint8_t data[] = "sealed bytes, opaque to the server";
	const struct ctlmsg *got;
	struct ctlmsg m;

	connect_three(f);
	ask_and_approve(f);
	/* A duplicate while pending is merged; after the answer nothing is pending. */
	assert_int_equal(pending_count(f->srv.rdv->pending), 0);
	frame(&m, ALICE, BOB, data, sizeof(data));
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_last(bob, CTL_RELAY_FRAME));
	got = agent_last(bob, CTL_RELAY_FRAME);
	assert_int_equal(got->u.frame.frame_len, sizeof(data));
	assert_memory_equal(got->u.frame.frame, data, sizeof(data));
	frame(&m, BOB, ALICE, data, 5); /* the other way too: an approval counts either way */
	agent_send(bob, &m);
	RUN_UNTIL(f->loop, agent_last(alice, CTL_RELAY_FRAME));
	m = (struct ctlmsg){ .type = CTL_RELAY };
	snprintf(m.u.relay.from, sizeof(m.u.relay.from), "%s", ALICE);
	snprintf(m.u.relay.to, sizeof(m.u.relay.to), "%s", BOB);
	m.u.relay.channel = 3;
	m.u.relay.flags = CTL_RELAY_DIALER;
	m.u.relay.data = data;
	m.u.relay.data_len = 10;
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_last(bob, CTL_RELAY));
	got = agent_last(bob, CTL_RELAY);
	assert_int_equal(got->u.relay.channel, 3);
	assert_int_equal(got->u.relay.flags, CTL_RELAY_DIALER);
	assert_memory_equal(got->u.relay.data, data, 10);
	assert_int_equal(f->srv.rdv->n.relay_frames, 2);
	assert_int_equal(f->srv.rdv->n.relay_bytes, sizeof(data) + 5);
	assert_int_equal(f->srv.rdv->n.relay_records, 1);
	assert_int_equal(f->srv.rdv->n.relay_refused, 0);
}

static void
test_rdv_duplicate_merged(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1];
	struct ctlmsg m;

	connect_three(f);
	contact(&m, ALICE, BOB, "ssh", 60, 42);
	agent_send(alice, &m);
	agent_send(alice, &m);
	agent_send(alice, &m);
	agent_sync(alice);
	agent_sync(bob);
	assert_int_equal(agent_count(bob, CTL_CONTACT), 1);
	assert_int_equal(pending_count(f->srv.rdv->pending), 1);
}

static void
test_rdv_forged_from_refused(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1], *carol = &f->ag[2];
	const uint8_t data[4] = { 1, 2, 3, 4 };
	struct ctlmsg m;

	connect_three(f);
	ask_and_approve(f);
	/* carol claims to be alice: the pair is approved, but the hop refuses her. */
	frame(&m, ALICE, BOB, data, sizeof(data));
	agent_send(carol, &m);
	contact(&m, ALICE, BOB, "web", 60, 43);
	agent_send(carol, &m);
	agent_sync(carol);
	agent_sync(bob);
	assert_int_equal(agent_count(bob, CTL_RELAY_FRAME), 0);
	assert_int_equal(agent_count(bob, CTL_CONTACT), 1); /* only alice's own, earlier */
	assert_int_equal(agent_count(carol, CTL_ERROR), 2);
	assert_int_equal(agent_last(carol, CTL_ERROR)->u.error.code, CTL_ERR_PROTOCOL);
	assert_int_equal(f->srv.rdv->n.refused_forged, 2);
	assert_false(carol->c->closed); /* refused, still served */
	(void)alice;
}

static void
test_rdv_unapproved_and_revoked_refused(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1], *carol = &f->ag[2];
	const uint8_t data[4] = { 1, 2, 3, 4 };
	const struct ctlmsg *got;
	struct ctlmsg m;

	connect_three(f);
	ask_and_approve(f);
	frame(&m, CAROL, BOB, data, sizeof(data)); /* never approved */
	agent_send(carol, &m);
	agent_sync(carol);
	agent_sync(bob);
	assert_int_equal(agent_count(bob, CTL_RELAY_FRAME), 0);
	assert_int_equal(f->srv.rdv->n.relay_refused, 1);
	/* bob revokes everything: alice hears it, and her frames are refused from then on. */
	answer(&m, BOB, ALICE, "", CTL_VERDICT_REVOKED, 0);
	agent_send(bob, &m);
	RUN_UNTIL(f->loop,
		  agent_last(alice, CTL_ANSWER) &&
		      agent_last(alice, CTL_ANSWER)->u.answer.verdict == CTL_VERDICT_REVOKED);
	assert_false(approvals_has_pair(f->srv.rdv->approvals, ALICE, BOB));
	frame(&m, ALICE, BOB, data, sizeof(data));
	agent_send(alice, &m);
	agent_sync(alice);
	agent_sync(bob);
	assert_int_equal(agent_count(bob, CTL_RELAY_FRAME), 0);
	assert_int_equal(f->srv.rdv->n.relay_refused, 2);
	got = agent_last(alice, CTL_ANSWER);
	assert_string_equal(got->u.answer.from, BOB);
}

/*
 * A relay datagram's handle remembers what admission found (struct relay_memo): the approval
 * and the pair's bucket. The memo is used while nothing changed, and a revocation, which
 * changes the approvals, makes the very next frame through it asked anew, and refused.
 */
static void
test_relay_memo_follows_revocation(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1];
	const uint8_t data[4] = { 1, 2, 3, 4 };
	struct relay_memo memo = { 0 };
	struct rdv_origin o;
	struct ctlmsg m, rev;
	uint64_t gen;

	connect_three(f);
	ask_and_approve(f);
	o = (struct rdv_origin){ .c = rdv_agent_conn(&f->srv, ALICE), .memo = &memo };
	assert_non_null(o.c);
	frame(&m, ALICE, BOB, data, sizeof(data));
	relay_handle(f->srv.rdv, &o, &m);
	gen = approvals_generation(f->srv.rdv->approvals);
	assert_int_equal(memo.approvals_gen, gen);
	assert_non_null(memo.slot);
	relay_handle(f->srv.rdv, &o, &m); /* from the memo */
	RUN_UNTIL(f->loop, agent_count(bob, CTL_RELAY_FRAME) == 2);
	assert_int_equal(f->srv.rdv->n.relay_refused, 0);

	answer(&rev, BOB, ALICE, "", CTL_VERDICT_REVOKED, 0);
	agent_send(bob, &rev);
	RUN_UNTIL(f->loop,
		  agent_last(alice, CTL_ANSWER) &&
		      agent_last(alice, CTL_ANSWER)->u.answer.verdict == CTL_VERDICT_REVOKED);
	assert_int_not_equal(approvals_generation(f->srv.rdv->approvals), gen);
	relay_handle(f->srv.rdv, &o, &m);
	assert_int_equal(f->srv.rdv->n.relay_refused, 1);
	agent_sync(bob);
	assert_int_equal(agent_count(bob, CTL_RELAY_FRAME), 2);
}

static void
test_rdv_answers_refused(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1];
	struct ctlmsg m;

	connect_three(f);
	/* An answer to nothing pending, and a server's verdict from an agent. */
	answer(&m, BOB, ALICE, "ssh", CTL_VERDICT_APPROVED, 42);
	agent_send(bob, &m);
	contact(&m, ALICE, BOB, "ssh", 60, 42);
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_last(bob, CTL_CONTACT));
	answer(&m, BOB, ALICE, "ssh", CTL_VERDICT_OFFLINE, 42);
	agent_send(bob, &m);
	answer(&m, BOB, ALICE, "ssh", CTL_VERDICT_APPROVED, 41); /* the wrong id */
	agent_send(bob, &m);
	agent_sync(bob);
	agent_sync(alice);
	assert_int_equal(agent_count(bob, CTL_ERROR), 3);
	assert_int_equal(agent_count(alice, CTL_ANSWER), 0);
	assert_int_equal(f->srv.rdv->n.refused_unmatched, 2);
	assert_int_equal(f->srv.rdv->n.refused_verdict, 1);
	assert_false(approvals_has_pair(f->srv.rdv->approvals, ALICE, BOB));
	assert_int_equal(pending_count(f->srv.rdv->pending), 1); /* still waiting for bob */
}

static void
test_rdv_unknown_and_offline(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0];
	struct ctlmsg m;

	connect_three(f);
	contact(&m, ALICE, NOBODY, "ssh", 60, 1);
	agent_send(alice, &m);
	contact(&m, ALICE, DAVE, "ssh", 60, 2);
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_count(alice, CTL_ANSWER) == 2);
	assert_int_equal(alice->got[alice->ngot - 2].u.answer.verdict, CTL_VERDICT_UNKNOWN_USER);
	assert_int_equal(alice->got[alice->ngot - 2].u.answer.id, 1);
	assert_string_equal(alice->got[alice->ngot - 2].u.answer.from, NOBODY);
	assert_int_equal(alice->got[alice->ngot - 1].u.answer.verdict, CTL_VERDICT_OFFLINE);
	assert_int_equal(pending_count(f->srv.rdv->pending), 0);
	/* bob connected, then gone: offline too (his connection is no longer live). */
	agent_disconnect(f, &f->ag[1]);
	contact(&m, ALICE, BOB, "ssh", 60, 3);
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_count(alice, CTL_ANSWER) == 3);
	assert_int_equal(agent_last(alice, CTL_ANSWER)->u.answer.verdict, CTL_VERDICT_OFFLINE);
}

static void
test_rdv_timeout_at_ttl(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1];
	struct ctlmsg m;

	connect_three(f);
	contact(&m, ALICE, BOB, "ssh", 10, 7);
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_last(bob, CTL_CONTACT));
	advance(f, 9900, 100);
	agent_sync(alice);
	assert_int_equal(agent_count(alice, CTL_ANSWER), 0);
	advance(f, 200, 100);
	RUN_UNTIL(f->loop, agent_last(alice, CTL_ANSWER));
	assert_int_equal(agent_last(alice, CTL_ANSWER)->u.answer.verdict, CTL_VERDICT_TIMEOUT);
	assert_int_equal(agent_last(alice, CTL_ANSWER)->u.answer.id, 7);
	assert_int_equal(pending_count(f->srv.rdv->pending), 0);
	/* bob's late approval matches nothing any more. */
	answer(&m, BOB, ALICE, "ssh", CTL_VERDICT_APPROVED, 7);
	agent_send(bob, &m);
	agent_sync(bob);
	assert_int_equal(agent_count(bob, CTL_ERROR), 1);
	assert_false(approvals_has_pair(f->srv.rdv->approvals, ALICE, BOB));
}

static void
test_rdv_private_holds_until_ttl(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0];
	struct ctlmsg m;

	rdv_close(&f->srv);
	accounts_close(f->srv.acc);
	fx_setup_server(f, true, 0);
	connect_three(f);
	contact(&m, ALICE, NOBODY, "ssh", 5, 1);
	agent_send(alice, &m);
	contact(&m, ALICE, DAVE, "ssh", 5, 2);
	agent_send(alice, &m);
	agent_sync(alice);
	advance(f, 4900, 100);
	agent_sync(alice);
	assert_int_equal(agent_count(alice, CTL_ANSWER), 0);
	advance(f, 200, 100);
	RUN_UNTIL(f->loop, agent_count(alice, CTL_ANSWER) == 2);
	assert_int_equal(alice->got[alice->ngot - 2].u.answer.verdict, CTL_VERDICT_TIMEOUT);
	assert_int_equal(alice->got[alice->ngot - 1].u.answer.verdict, CTL_VERDICT_TIMEOUT);
}

static void
test_rdv_asker_rate(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0];
	char purpose[16];
	struct ctlmsg m;
	size_t rate = 0;

	connect_three(f);
	for (int i = 0; i < RDV_ASK_BURST + 1; i++) {
		snprintf(purpose, sizeof(purpose), "p%d", i);
		contact(&m, ALICE, NOBODY, purpose, 60, (uint64_t)i + 1);
		agent_send(alice, &m);
	}
	RUN_UNTIL(f->loop, agent_count(alice, CTL_ANSWER) == RDV_ASK_BURST + 1);
	for (size_t i = 0; i < alice->ngot; i++)
		rate += alice->got[i].type == CTL_ANSWER &&
			alice->got[i].u.answer.verdict == CTL_VERDICT_RATE;
	assert_int_equal(rate, 1);
	assert_int_equal(agent_last(alice, CTL_ANSWER)->u.answer.verdict, CTL_VERDICT_RATE);
	/* REVOKED shares the rate (it needs no request and reaches the other side). */
	answer(&m, ALICE, BOB, "", CTL_VERDICT_REVOKED, 0);
	agent_send(alice, &m);
	agent_sync(alice);
	assert_non_null(agent_last(alice, CTL_ERROR));
	assert_int_equal(agent_last(alice, CTL_ERROR)->u.error.code, CTL_ERR_RATE);
	assert_int_equal(agent_count(&f->ag[1], CTL_ANSWER), 0);
	/* One more after RDV_ASK_EVERY_S (and a little: the rate is rounded down). */
	advance(f, (RDV_ASK_EVERY_S + 1) * 1000, 1000);
	contact(&m, ALICE, NOBODY, "later", 60, 99);
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_count(alice, CTL_ANSWER) == RDV_ASK_BURST + 2);
	assert_int_equal(agent_last(alice, CTL_ANSWER)->u.answer.verdict, CTL_VERDICT_UNKNOWN_USER);
}

static void
test_rdv_relay_rate_drops_frames(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1];
	static uint8_t data[16000];
	struct ctlmsg m;

	rdv_close(&f->srv);
	accounts_close(f->srv.acc);
	fx_setup_server(f, false, 1024); /* burst RELAY_BURST_MIN: two 16,000-byte frames */
	connect_three(f);
	ask_and_approve(f);
	for (int i = 0; i < 3; i++) {
		frame(&m, ALICE, BOB, data, sizeof(data));
		agent_send(alice, &m);
	}
	agent_sync(alice);
	agent_sync(bob);
	assert_int_equal(f->srv.rdv->n.relay_frames, 2);
	assert_int_equal(f->srv.rdv->n.relay_dropped_rate, 1);
	/* A stream record over the rate ends its channel: FIN to both ends, none dropped alone. */
	m = (struct ctlmsg){ .type = CTL_RELAY };
	snprintf(m.u.relay.from, sizeof(m.u.relay.from), "%s", ALICE);
	snprintf(m.u.relay.to, sizeof(m.u.relay.to), "%s", BOB);
	m.u.relay.channel = 5;
	m.u.relay.flags = CTL_RELAY_DIALER;
	m.u.relay.data = data;
	m.u.relay.data_len = 1000;
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_last(alice, CTL_RELAY) && agent_last(bob, CTL_RELAY));
	assert_true(agent_last(bob, CTL_RELAY)->u.relay.flags & CTL_RELAY_FIN);
	assert_true(agent_last(bob, CTL_RELAY)->u.relay.flags & CTL_RELAY_DIALER);
	assert_int_equal(agent_last(bob, CTL_RELAY)->u.relay.data_len, 0);
	assert_true(agent_last(alice, CTL_RELAY)->u.relay.flags & CTL_RELAY_FIN);
	assert_false(agent_last(alice, CTL_RELAY)->u.relay.flags & CTL_RELAY_DIALER);
	assert_string_equal(agent_last(alice, CTL_RELAY)->u.relay.from, BOB);
	assert_int_equal(f->srv.rdv->n.relay_fin, 1);
}

static void
test_rdv_approval_survives_restart(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1];
	const uint8_t data[3] = { 9, 8, 7 };
	struct ctlmsg m;

	connect_three(f);
	ask_and_approve(f);
	fx_close_server(f);
	fx_setup_server(f, false, 0);
	assert_int_equal(approvals_count(f->srv.rdv->approvals), 1);
	connect_three(f);
	frame(&m, ALICE, BOB, data, sizeof(data));
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_last(bob, CTL_RELAY_FRAME));
	assert_int_equal(agent_last(bob, CTL_RELAY_FRAME)->u.frame.frame_len, sizeof(data));
}

/* Two connections of one identity: the newest gets its records; when it goes, the older. */
static void
test_rdv_newest_connection(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *old = &f->ag[1], *young = &f->ag[2];
	struct ctlmsg m;

	agent_connect(f, alice, ALICE, 0xa1);
	agent_connect(f, old, BOB, 0xb0);
	agent_connect(f, young, BOB, 0xb1);
	contact(&m, ALICE, BOB, "ssh", 60, 1);
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_last(young, CTL_CONTACT));
	agent_sync(old);
	assert_int_equal(agent_count(old, CTL_CONTACT), 0);
	agent_disconnect(f, young);
	contact(&m, ALICE, BOB, "web", 60, 2);
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_last(old, CTL_CONTACT));
	assert_string_equal(agent_last(old, CTL_CONTACT)->u.contact.purpose, "web");
	agent_disconnect(f, old);
	contact(&m, ALICE, BOB, "mail", 60, 3);
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_last(alice, CTL_ANSWER));
	assert_int_equal(agent_last(alice, CTL_ANSWER)->u.answer.verdict, CTL_VERDICT_OFFLINE);
}

#define BOB_B "bob@b.example.com"

/* One process serving a.example.com and b.example.com (run --also): delivered in-process,
 * each domain's server checking its own hop and recording the approval in its own store. */
static void
test_rdv_also_in_process(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1], *carol = &f->ag[2];
	const uint8_t data[6] = "frame";
	struct server *b = &f->srv_b;
	const struct ctlmsg *got;
	struct ctlmsg m;
	uint8_t fpr[CTL_FPR_LEN];
	char db[256];

	memset(b, 0, sizeof(*b));
	snprintf(b->domain, sizeof(b->domain), "b.example.com");
	b->primary = &f->srv;
	b->loop = f->loop;
	f->srv.hosted = b;
	snprintf(db, sizeof(db), "%s", test_pki_path(&f->pki, "b.db"));
	assert_int_equal(accounts_open(&b->acc, db), 0);
	assert_int_equal(accounts_user_add(b->acc, "bob", NULL, 1), 0);
	assert_int_equal(rdv_open(b, db), 0);
	agent_connect(f, alice, ALICE, 0xa1);
	agent_connect_to(f, b, bob, BOB_B, 0xb0);
	agent_connect(f, carol, CAROL, 0xc0);

	contact(&m, ALICE, BOB_B, "ssh", 60, 5);
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_last(bob, CTL_CONTACT));
	memset(fpr, 0xa1, sizeof(fpr));
	assert_memory_equal(agent_last(bob, CTL_CONTACT)->u.contact.fpr, fpr, CTL_FPR_LEN);
	assert_int_equal(pending_count(f->srv.rdv->pending), 1); /* the asker's side */
	assert_int_equal(pending_count(b->rdv->pending), 1);     /* and the answerer's */
	answer(&m, BOB_B, ALICE, "ssh", CTL_VERDICT_APPROVED, 5);
	agent_send(bob, &m);
	RUN_UNTIL(f->loop, agent_last(alice, CTL_ANSWER));
	got = agent_last(alice, CTL_ANSWER);
	assert_int_equal(got->u.answer.verdict, CTL_VERDICT_APPROVED);
	assert_true(approvals_has_pair(f->srv.rdv->approvals, ALICE, BOB_B));
	assert_true(approvals_has_pair(b->rdv->approvals, ALICE, BOB_B));
	assert_int_equal(pending_count(f->srv.rdv->pending), 0);
	assert_int_equal(pending_count(b->rdv->pending), 0);

	frame(&m, ALICE, BOB_B, data, sizeof(data));
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_last(bob, CTL_RELAY_FRAME));
	assert_memory_equal(agent_last(bob, CTL_RELAY_FRAME)->u.frame.frame, data, sizeof(data));
	frame(&m, CAROL, BOB_B, data, sizeof(data));
	agent_send(carol, &m);
	agent_sync(carol);
	agent_sync(bob);
	assert_int_equal(agent_count(bob, CTL_RELAY_FRAME), 1);
	assert_int_equal(f->srv.rdv->n.relay_refused, 1); /* at carol's own server */
	assert_int_equal(b->rdv->n.relay_refused, 0);
	/* The b side: nobody@b unknown, answered by b's server through a's to alice. */
	contact(&m, ALICE, "nobody@b.example.com", "ssh", 60, 6);
	agent_send(alice, &m);
	RUN_UNTIL(f->loop, agent_count(alice, CTL_ANSWER) == 2);
	assert_int_equal(agent_last(alice, CTL_ANSWER)->u.answer.verdict, CTL_VERDICT_UNKNOWN_USER);
	assert_int_equal(pending_count(f->srv.rdv->pending), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pending_merge_and_find),
		cmocka_unit_test(test_pending_expire_in_order),
		cmocka_unit_test(test_pending_bounds),
		cmocka_unit_test(test_relay_bucket_burst_and_rate),
		cmocka_unit_test(test_approvals_pairs_and_revoke),
		cmocka_unit_test(test_approvals_survive_reopen),
		cmocka_unit_test(test_approvals_purged_with_user),
		cmocka_unit_test(test_approvals_pair_key),
		cmocka_unit_test_setup_teardown(test_rdv_ask_approve_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdv_duplicate_merged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdv_forged_from_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_memo_follows_revocation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rdv_unapproved_and_revoked_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rdv_answers_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdv_unknown_and_offline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdv_timeout_at_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdv_private_holds_until_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdv_asker_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdv_relay_rate_drops_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdv_approval_survives_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rdv_also_in_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdv_newest_connection, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
