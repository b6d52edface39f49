// SPDX-License-Identifier: MIT
/*
 * The agent's rendezvous state machine (rendezvous/rendezvous.h), two of them (alice and bob)
 * with real stores, on a clock the test moves. The test is the servers: it takes what each side
 * sends and hands it to the other (filling in the fingerprint, as the asker's server does), or
 * does not, to see timeouts. Covers: ask, approve, the approval stored both ways and told to
 * the wiring; duplicates merged on both sides; no purpose, not allowed, denied, each answered,
 * and with privacy not answered; auto-approve; timeouts on both sides; the asker's rate; a full
 * list; requests kept until the home server is back; unmatched answers; restarts (approvals
 * from the store, answered again at once); revocation both ways.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ev.h"
#include "proto/ctlmsg.h"
#include "rendezvous/rendezvous.h"
#include "store/store.h"

#define ALICE "alice@a.example.com"
#define BOB   "bob@b.example.com"
enum { MAXQ = 128, T0 = 1000000 };

struct side {
	const char *self;
	struct rdv *r;
	struct store *st;
	char path[256];
	bool home_up;
	struct ctlmsg q[MAXQ]; /* what it sent, in order */
	size_t nq;
	char approved[8][IDENTITY_STR_MAX];
	size_t napproved;
	char revoked[8][IDENTITY_STR_MAX];
	bool revoked_none_left[8];
	size_t nrevoked;
	size_t nrequests; /* on_request calls */
	struct rdv_incoming request;
};

struct fx {
	uint64_t now;
	struct ev_loop *loop;
	char dir[64];
	struct purpose purposes[3];
	struct side alice, bob;
};

static uint64_t
fx_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static bool
side_send(void *arg, const struct ctlmsg *m)
{
	struct side *s = arg;

	if (!s->home_up || s->nq == MAXQ)
		return false;
	s->q[s->nq++] = *m;
	return true;
}

static void
side_on_approved(void *arg, const char *peer)
{
	struct side *s = arg;

	if (s->napproved < 8)
		snprintf(s->approved[s->napproved++], IDENTITY_STR_MAX, "%s", peer);
}

static void
side_on_revoked(void *arg, const char *peer, bool none_left)
{
	struct side *s = arg;

	if (s->nrevoked < 8) {
		s->revoked_none_left[s->nrevoked] = none_left;
		snprintf(s->revoked[s->nrevoked++], IDENTITY_STR_MAX, "%s", peer);
	}
}

static void
side_on_request(void *arg, const struct rdv_incoming *e)
{
	struct side *s = arg;

	s->nrequests++;
	s->request = *e;
}

static const struct rdv_ops side_ops = {
	.send = side_send,
	.on_approved = side_on_approved,
	.on_revoked = side_on_revoked,
	.on_request = side_on_request,
};

static void
side_open(struct fx *f, struct side *s, bool privacy)
{
	struct rdv_params p = {
		.self = s->self,
		.purposes = f->purposes,
		.npurposes = 3,
		.privacy = privacy,
	};

	if (!s->st)
		assert_int_equal(store_open(&s->st, s->path), 0);
	assert_int_equal(rdv_new(&s->r, f->loop, s->st, &p, &side_ops, s), 0);
}

static void
side_close(struct side *s)
{
	rdv_free(s->r);
	s->r = NULL;
	store_close(s->st);
	s->st = NULL;
}

static int
setup_with(void **state, bool privacy)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *why = NULL;
	char *ssh[] = { "ssh", "tcp/22", "allow", "@a.example.com,carol@c.example.org" };
	char *web[] = { "web", "tcp/80", "auto-approve" };
	char *dns[] = { "dns", "udp/53", "allow", "dave@d.example.org" };

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_rdv.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(purpose_parse(&f->purposes[0], ssh, 4, &why), 0);
	assert_int_equal(purpose_parse(&f->purposes[1], web, 3, &why), 0);
	assert_int_equal(purpose_parse(&f->purposes[2], dns, 4, &why), 0);
	assert_int_equal(ev_loop_new(&f->loop), 0);
	f->now = T0;
	ev_loop_set_clock(f->loop, fx_clock, f);
	f->alice.self = ALICE;
	f->bob.self = BOB;
	f->alice.home_up = f->bob.home_up = true;
	snprintf(f->alice.path, sizeof(f->alice.path), "%s/alice.db", f->dir);
	snprintf(f->bob.path, sizeof(f->bob.path), "%s/bob.db", f->dir);
	side_open(f, &f->alice, false);
	side_open(f, &f->bob, privacy);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_with(state, false);
}

static int
setup_private(void **state)
{
	return setup_with(state, true);
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	side_close(&f->alice);
	side_close(&f->bob);
	ev_loop_free(f->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Moves the clock and runs what is due. */
static void
advance(struct fx *f, uint64_t ms)
{
	f->now += ms;
	for (int i = 0; i < 10; i++)
		assert_int_equal(ev_run_once(f->loop, 0), 0);
}

/* The servers: everything from one side goes to the other (CONTACT gets alice's fpr). */
static size_t
deliver(struct side *from, struct side *to)
{
	size_t n = from->nq;

	for (size_t i = 0; i < n; i++) {
		struct ctlmsg m = from->q[i];

		if (m.type == CTL_CONTACT)
			memset(m.u.contact.fpr, 0xa1, sizeof(m.u.contact.fpr));
		rdv_on_msg(to->r, &m);
	}
	memmove(from->q, from->q + n, (from->nq - n) * sizeof(from->q[0]));
	from->nq -= n;
	return n;
}

static void
count_incoming_cb(const struct rdv_incoming *e, void *arg)
{
	(void)e;
	++*(size_t *)arg;
}

static size_t
incoming(const struct side *s)
{
	size_t n = 0;

	rdv_incoming_each(s->r, count_incoming_cb, &n);
	return n;
}

static int
outgoing_state(const struct side *s, const char *to, const char *purpose)
{
	const struct rdv_outgoing *o = rdv_outgoing(s->r, to, purpose);

	return o ? o->state : -1;
}

static void
test_ask_approve_both_stored(void **state)
{
	struct fx *f = *state;
	struct store_approval ap;
	const char *why = NULL;

	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 60, &why), 0);
	assert_int_equal(f->alice.nq, 1);
	assert_int_equal(f->alice.q[0].type, CTL_CONTACT);
	assert_string_equal(f->alice.q[0].u.contact.from, ALICE);
	assert_int_equal(f->alice.q[0].u.contact.ttl, 60);
	assert_int_equal(outgoing_state(&f->alice, BOB, "ssh"), RDV_PENDING);
	/* Bob's agent sends nothing toward alice before it approves. */
	deliver(&f->alice, &f->bob);
	assert_int_equal(incoming(&f->bob), 1);
	assert_int_equal(f->bob.nq, 0);
	assert_int_equal(f->bob.napproved, 0);
	/* The contact-request hook's event: once, with who asks for what. */
	assert_int_equal(f->bob.nrequests, 1);
	assert_string_equal(f->bob.request.from, ALICE);
	assert_string_equal(f->bob.request.purpose, "ssh");
	assert_int_equal(f->bob.request.fpr[0], 0xa1);

	assert_int_equal(rdv_approve(f->bob.r, ALICE, "ssh", &why), 0);
	assert_int_equal(incoming(&f->bob), 0);
	assert_int_equal(f->bob.nq, 1);
	assert_int_equal(f->bob.q[0].type, CTL_ANSWER);
	assert_int_equal(f->bob.q[0].u.answer.verdict, CTL_VERDICT_APPROVED);
	assert_int_equal(f->bob.q[0].u.answer.proto, 6);
	assert_int_equal(f->bob.q[0].u.answer.port, 22);
	assert_int_equal(f->bob.napproved, 1);
	assert_string_equal(f->bob.approved[0], ALICE);
	assert_int_equal(store_approval_get(f->bob.st, ALICE, "ssh", STORE_APPROVAL_IN, &ap), 0);
	assert_int_equal(ap.fpr[0], 0xa1); /* what alice's server vouched for */

	deliver(&f->bob, &f->alice);
	assert_int_equal(outgoing_state(&f->alice, BOB, "ssh"), CTL_VERDICT_APPROVED);
	assert_int_equal(f->alice.napproved, 1);
	assert_string_equal(f->alice.approved[0], BOB);
	assert_int_equal(store_approval_get(f->alice.st, BOB, "ssh", STORE_APPROVAL_OUT, &ap), 0);
	assert_int_equal(ap.port, 22);
	/* A second approve finds nothing waiting. */
	assert_int_equal(rdv_approve(f->bob.r, ALICE, "ssh", &why), -ENOENT);
}

static void
test_duplicates_merged(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;

	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 60, &why), 0);
	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 60, &why), 0);
	assert_int_equal(f->alice.nq, 1); /* merged: one request sent */
	/* The same request arriving twice (two servers' retries) waits once. */
	f->alice.q[1] = f->alice.q[0];
	f->alice.nq = 2;
	deliver(&f->alice, &f->bob);
	assert_int_equal(incoming(&f->bob), 1);
	assert_int_equal(f->bob.nrequests, 1); /* merged: no second event */
}

static void
test_refusals_answered(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;

	/* A purpose bob does not offer. */
	assert_int_equal(rdv_ask(f->alice.r, BOB, "ftp", 60, &why), 0);
	deliver(&f->alice, &f->bob);
	assert_int_equal(f->bob.nq, 1);
	assert_int_equal(f->bob.q[0].u.answer.verdict, CTL_VERDICT_NO_PURPOSE);
	deliver(&f->bob, &f->alice);
	assert_int_equal(outgoing_state(&f->alice, BOB, "ftp"), CTL_VERDICT_NO_PURPOSE);
	/* One offered, but not to alice: the same answer. */
	assert_int_equal(rdv_ask(f->alice.r, BOB, "dns", 60, &why), 0);
	deliver(&f->alice, &f->bob);
	assert_int_equal(f->bob.q[0].u.answer.verdict, CTL_VERDICT_NO_PURPOSE);
	deliver(&f->bob, &f->alice);
	assert_int_equal(outgoing_state(&f->alice, BOB, "dns"), CTL_VERDICT_NO_PURPOSE);
	/* Denied by the person. */
	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 60, &why), 0);
	deliver(&f->alice, &f->bob);
	assert_int_equal(rdv_deny(f->bob.r, ALICE, NULL, &why), 0);
	assert_int_equal(f->bob.q[0].u.answer.verdict, CTL_VERDICT_DENIED);
	deliver(&f->bob, &f->alice);
	assert_int_equal(outgoing_state(&f->alice, BOB, "ssh"), CTL_VERDICT_DENIED);
	assert_int_equal(f->alice.napproved, 0);
	assert_int_equal(store_approval_get(f->bob.st, ALICE, "ssh", STORE_APPROVAL_IN, NULL),
			 -ENOENT);
}

static void
test_privacy_answers_nothing(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;

	assert_int_equal(rdv_ask(f->alice.r, BOB, "ftp", 30, &why), 0);
	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 30, &why), 0);
	deliver(&f->alice, &f->bob);
	assert_int_equal(rdv_deny(f->bob.r, ALICE, "ssh", &why), 0);
	assert_int_equal(f->bob.nq, 0); /* neither refusal answered */
	/* Both end alike: no answer within the ttl (here the asker's own timeout). */
	advance(f, (30 + RDV_ASK_GRACE_SEC) * 1000);
	assert_int_equal(outgoing_state(&f->alice, BOB, "ftp"), CTL_VERDICT_TIMEOUT);
	assert_int_equal(outgoing_state(&f->alice, BOB, "ssh"), CTL_VERDICT_TIMEOUT);
}

static void
test_auto_approve(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;

	assert_int_equal(rdv_ask(f->alice.r, BOB, "web", 60, &why), 0);
	deliver(&f->alice, &f->bob);
	assert_int_equal(incoming(&f->bob), 0);
	assert_int_equal(f->bob.nrequests, 0); /* answered at once: nobody is asked */
	assert_int_equal(f->bob.q[0].u.answer.verdict, CTL_VERDICT_APPROVED);
	assert_int_equal(f->bob.q[0].u.answer.port, 80);
	deliver(&f->bob, &f->alice);
	assert_int_equal(outgoing_state(&f->alice, BOB, "web"), CTL_VERDICT_APPROVED);
}

static void
test_timeouts_both_sides(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;

	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 20, &why), 0);
	deliver(&f->alice, &f->bob);
	advance(f, 19999);
	assert_int_equal(incoming(&f->bob), 1);
	advance(f, 1);
	assert_int_equal(incoming(&f->bob), 0); /* bob's side ends at the ttl */
	assert_int_equal(rdv_approve(f->bob.r, ALICE, "ssh", &why), -ENOENT);
	assert_int_equal(outgoing_state(&f->alice, BOB, "ssh"), RDV_PENDING);
	advance(f, RDV_ASK_GRACE_SEC * 1000);
	assert_int_equal(outgoing_state(&f->alice, BOB, "ssh"), CTL_VERDICT_TIMEOUT);
	/* A late answer is not taken for the ended request. */
	{
		struct ctlmsg m = { .type = CTL_ANSWER };

		strcpy(m.u.answer.from, BOB);
		strcpy(m.u.answer.to, ALICE);
		strcpy(m.u.answer.purpose, "ssh");
		m.u.answer.verdict = CTL_VERDICT_APPROVED;
		m.u.answer.proto = 6;
		m.u.answer.port = 22;
		rdv_on_msg(f->alice.r, &m);
	}
	assert_int_equal(outgoing_state(&f->alice, BOB, "ssh"), CTL_VERDICT_TIMEOUT);
	assert_int_equal(rdv_stats(f->alice.r)->dropped_unmatched, 1);
	assert_int_equal(f->alice.napproved, 0);
	/* Finished requests are forgotten after a while. */
	advance(f, RDV_DONE_KEEP_SEC * 1000);
	assert_int_equal(outgoing_state(&f->alice, BOB, "ssh"), -1);
}

static void
test_asker_rate_and_full_list(void **state)
{
	struct fx *f = *state;
	struct ctlmsg m = { .type = CTL_CONTACT };

	m.u.contact.ttl = 60;
	strcpy(m.u.contact.to, BOB);
	strcpy(m.u.contact.purpose, "ssh");
	for (int i = 0; i < RDV_ASKER_BURST + 3; i++) {
		m.u.contact.id = (uint64_t)i + 1;
		snprintf(m.u.contact.from, sizeof(m.u.contact.from), ALICE);
		rdv_on_msg(f->bob.r, &m);
	}
	assert_int_equal(rdv_stats(f->bob.r)->dropped_rate, 3);
	assert_int_equal(incoming(&f->bob), 1);
	/* Many askers: the list is bounded. */
	for (int i = 0; i < RDV_INCOMING_MAX + 5; i++) {
		snprintf(m.u.contact.from, sizeof(m.u.contact.from), "u%d@a.example.com", i);
		rdv_on_msg(f->bob.r, &m);
	}
	assert_int_equal(incoming(&f->bob), RDV_INCOMING_MAX);
	assert_int_equal(rdv_stats(f->bob.r)->dropped_full, 6);
	/* Not for us: dropped. */
	strcpy(m.u.contact.to, "carol@c.example.org");
	rdv_on_msg(f->bob.r, &m);
	assert_int_equal(rdv_stats(f->bob.r)->dropped_unmatched, 1);
}

static void
test_sent_when_home_returns(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;

	f->alice.home_up = false;
	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 60, &why), 0);
	assert_int_equal(f->alice.nq, 0);
	f->alice.home_up = true;
	rdv_on_home_up(f->alice.r);
	assert_int_equal(f->alice.nq, 1);
	rdv_on_home_up(f->alice.r); /* once only */
	assert_int_equal(f->alice.nq, 1);
}

static void
test_junk_asks_refused(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;

	assert_int_equal(rdv_ask(f->alice.r, "bob", "ssh", 60, &why), -EINVAL);
	assert_non_null(why);
	assert_int_equal(rdv_ask(f->alice.r, ALICE, "ssh", 60, &why), -EINVAL);
	assert_int_equal(rdv_ask(f->alice.r, BOB, "SSH!", 60, &why), -EINVAL);
	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 0, &why), -EINVAL);
	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 901, &why), -EINVAL);
	assert_int_equal(f->alice.nq, 0);
	for (int i = 0; i < RDV_OUTGOING_MAX; i++) {
		char to[64];

		snprintf(to, sizeof(to), "u%d@b.example.com", i);
		assert_int_equal(rdv_ask(f->alice.r, to, "ssh", 60, &why), 0);
	}
	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 60, &why), -ENOSPC);
}

static void
test_restart_keeps_approvals(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;

	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 60, &why), 0);
	deliver(&f->alice, &f->bob);
	assert_int_equal(rdv_approve(f->bob.r, ALICE, "ssh", &why), 0);
	deliver(&f->bob, &f->alice);
	side_close(&f->alice);
	side_close(&f->bob);
	side_open(f, &f->alice, false);
	side_open(f, &f->bob, false);
	f->alice.napproved = f->bob.napproved = 0;
	/* Alice asks again: the stored approval answers, nothing is sent. */
	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 60, &why), 1);
	assert_int_equal(f->alice.nq, 0);
	assert_int_equal(outgoing_state(&f->alice, BOB, "ssh"), CTL_VERDICT_APPROVED);
	assert_int_equal(f->alice.napproved, 1);
	/* A request bob approved before is approved again at once, without a person. */
	{
		struct ctlmsg m = { .type = CTL_CONTACT };

		m.u.contact.id = 9;
		m.u.contact.ttl = 60;
		strcpy(m.u.contact.from, ALICE);
		strcpy(m.u.contact.to, BOB);
		strcpy(m.u.contact.purpose, "ssh");
		rdv_on_msg(f->bob.r, &m);
	}
	assert_int_equal(incoming(&f->bob), 0);
	assert_int_equal(f->bob.q[0].u.answer.verdict, CTL_VERDICT_APPROVED);
}

static void
test_revoke_both_ways(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;

	assert_int_equal(rdv_ask(f->alice.r, BOB, "ssh", 60, &why), 0);
	assert_int_equal(rdv_ask(f->alice.r, BOB, "web", 60, &why), 0);
	deliver(&f->alice, &f->bob);
	assert_int_equal(rdv_approve(f->bob.r, ALICE, "ssh", &why), 0);
	deliver(&f->bob, &f->alice);
	/* One of two purposes revoked: an approval is left, the session stays. */
	assert_int_equal(rdv_revoke(f->bob.r, ALICE, "web", &why), 0);
	assert_int_equal(f->bob.nrevoked, 1);
	assert_false(f->bob.revoked_none_left[0]);
	deliver(&f->bob, &f->alice);
	assert_int_equal(f->alice.nrevoked, 1);
	assert_false(f->alice.revoked_none_left[0]);
	/* All of them: none is left on either side. */
	assert_int_equal(rdv_revoke(f->bob.r, ALICE, NULL, &why), 0);
	assert_int_equal(f->bob.q[0].u.answer.verdict, CTL_VERDICT_REVOKED);
	assert_string_equal(f->bob.q[0].u.answer.purpose, "");
	assert_true(f->bob.revoked_none_left[1]);
	deliver(&f->bob, &f->alice);
	assert_true(f->alice.revoked_none_left[1]);
	assert_int_equal(outgoing_state(&f->alice, BOB, "ssh"), CTL_VERDICT_REVOKED);
	assert_int_equal(store_approval_get(f->alice.st, BOB, "ssh", STORE_APPROVAL_OUT, NULL),
			 -ENOENT);
	assert_int_equal(rdv_revoke(f->bob.r, ALICE, NULL, &why), -ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ask_approve_both_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_merged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_privacy_answers_nothing, setup_private,
						teardown),
		cmocka_unit_test_setup_teardown(test_auto_approve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeouts_both_sides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_asker_rate_and_full_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sent_when_home_returns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_junk_asks_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_approvals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_both_ways, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
