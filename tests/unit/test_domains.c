// SPDX-License-Identifier: MIT
/*
 * Other domains (daemon/domains/): alice@a.example.com's agent, with a real state store on a
 * temporary file, a real trust store and TLS context from the test PKI, fake domains_ops that
 * record what the module reports or asks, and the loop on the test's clock.
 *
 * Fetching a domain's CA and list needs that domain's server (DNS, then TLS): the test replaces
 * cafetch_start and cafetch_cancel at link time (defined below, so the linker never pulls
 * control/cafetch.o from the library) with a fake that records each fetch and lets the test
 * complete it with what a server would have sent. Nothing here touches the network: the only
 * trusted CA besides a fake fetch's is our own domain's, so a notary round asks no other server
 * (that would be control/notary.c over the network, not covered here); it asks the home server
 * (ops.ask_home) and the peers (ops.ask_peer), whose answers the test gives through
 * domains_on_notary_answer.
 *
 * b.example.com is the other domain: its CA from the test PKI is taken out of the trust store
 * at setup, so it is met as a stranger; b2 is a second CA of the same name (an impostor).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control/cafetch.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/crl.h"
#include "crypto/csr.h"
#include "crypto/tls.h"
#include "domains/domains.h"
#include "pki.h"
#include "proto/ctlmsg.h"
#include "store/store.h"
#include "trust/pins.h"

#define ALICE "alice@a.example.com"
#define OWN   "a.example.com"
#define OTHER "b.example.com"
#define CAROL "carol@c.example.com" /* a peer with a session: a notary */
#define DAVE  "dave@b.example.com"  /* a peer of the domain asked about: not a notary for it */

enum {
	T0 = 1000000,
	DAY = 86400,
	/* notaries.c's round deadline (not in a header: only the module arms it). */
	NOTARIES_ROUND_MS = 10000,
	MAX_CALLS = 16,
};

struct fetch {
	bool running, cancelled;
	char domain[IDENTITY_DOMAIN_MAX + 1];
	struct cafetch **out;
	void (*done)(void *arg, const struct cafetch_result *r);
	void *arg;
};

struct revoked {
	char domain[IDENTITY_DOMAIN_MAX + 1];
	uint64_t number;
	size_t count;
};

struct fx {
	struct test_pki pki;
	struct ev_loop *loop;
	uint64_t now;
	struct store *store;
	struct tls_ctx *tls;
	struct domains *d;
	struct cert_ca *ca_a, *ca_b, *ca_b2;
	uint8_t der_b[CERT_DER_MAX], der_b2[CERT_DER_MAX];
	size_t der_b_len, der_b2_len;
	struct cert_info info_a, info_b, info_b2;
	const char *configured[2];
	size_t nconfigured;

	struct fetch fetches[MAX_CALLS];
	size_t nfetches;
	char trusted[MAX_CALLS][IDENTITY_DOMAIN_MAX + 1], distrusted[MAX_CALLS][64];
	size_t ntrusted, ndistrusted;
	struct revoked revoked[MAX_CALLS];
	size_t nrevoked;
	bool home_answers; /* what ask_home returns */
	char asked_home[MAX_CALLS][IDENTITY_DOMAIN_MAX + 1];
	size_t nasked_home;
	const char *session_peers[4];
	size_t nsession_peers;
	char asked_peer[MAX_CALLS][IDENTITY_STR_MAX];
	size_t nasked_peer;
};

static struct fx *fx; /* for the link-time cafetch stand-in */

/* --- the cafetch stand-in -------------------------------------------------------------- */

int
cafetch_start(struct cafetch **out, struct ev_loop *loop, const char *domain, const char *self,
	      const char *key, const char *cert,
	      void (*done)(void *arg, const struct cafetch_result *r), void *arg)
{
	struct fetch *f;

	(void)loop;
	assert_non_null(fx);
	assert_string_equal(self, ALICE);
	assert_non_null(key);
	assert_non_null(cert);
	assert_true(fx->nfetches < MAX_CALLS);
	f = &fx->fetches[fx->nfetches++];
	*f = (struct fetch){ .running = true, .out = out, .done = done, .arg = arg };
	snprintf(f->domain, sizeof(f->domain), "%s", domain);
	if (out)
		*out = (struct cafetch *)f;
	return 0;
}

void
cafetch_cancel(struct cafetch *c)
{
	struct fetch *f = (struct fetch *)c;

	if (!f)
		return;
	assert_true(f->running);
	f->running = false;
	f->cancelled = true;
}

/* Fetch i ends as a server's answer would end it: ca (NULL: failed) and list, if any. */
static void
fx_fetch_done(struct fx *f, size_t i, const uint8_t *ca, size_t ca_len, const uint8_t *crl,
	      size_t crl_len)
{
	struct fetch *q = &f->fetches[i];
	struct cafetch_result r = {
		.domain = q->domain,
		.ca = ca,
		.ca_len = ca_len,
		.crl = crl,
		.crl_len = crl_len,
		.error = ca ? NULL : "connection refused",
	};

	assert_true(i < f->nfetches);
	assert_true(q->running);
	q->running = false;
	if (q->out)
		*q->out = NULL;
	q->done(q->arg, &r);
}

/* --- fake ops -------------------------------------------------------------------------- */

static void
fx_on_trusted(void *arg, const char *domain)
{
	struct fx *f = arg;

	assert_true(f->ntrusted < MAX_CALLS);
	snprintf(f->trusted[f->ntrusted++], sizeof(f->trusted[0]), "%s", domain);
}

static void
fx_on_distrusted(void *arg, const char *domain, const char *why)
{
	struct fx *f = arg;

	assert_non_null(why);
	assert_true(f->ndistrusted < MAX_CALLS);
	snprintf(f->distrusted[f->ndistrusted++], sizeof(f->distrusted[0]), "%s", domain);
}

static void
fx_on_revoked(void *arg, const struct crl *list)
{
	struct fx *f = arg;
	struct revoked *r;

	assert_true(f->nrevoked < MAX_CALLS);
	r = &f->revoked[f->nrevoked++];
	snprintf(r->domain, sizeof(r->domain), "%s", list->domain);
	r->number = list->number;
	r->count = list->count;
}

static bool
fx_ask_home(void *arg, const char *domain)
{
	struct fx *f = arg;

	assert_true(f->nasked_home < MAX_CALLS);
	snprintf(f->asked_home[f->nasked_home++], sizeof(f->asked_home[0]), "%s", domain);
	return f->home_answers;
}

static void
fx_foreach_session_peer(void *arg, void (*fn)(void *ctx, const char *identity), void *ctx)
{
	struct fx *f = arg;

	for (size_t i = 0; i < f->nsession_peers; i++)
		fn(ctx, f->session_peers[i]);
}

static bool
fx_ask_peer(void *arg, const char *identity, const struct ctlmsg *req)
{
	struct fx *f = arg;

	assert_int_equal(req->type, CTL_NOTARY_REQ);
	assert_string_equal(req->u.req.domain, OTHER);
	assert_true(f->nasked_peer < MAX_CALLS);
	snprintf(f->asked_peer[f->nasked_peer++], sizeof(f->asked_peer[0]), "%s", identity);
	return true;
}

static const struct domains_ops fx_ops = {
	.on_trusted = fx_on_trusted,
	.on_distrusted = fx_on_distrusted,
	.on_revoked = fx_on_revoked,
	.ask_home = fx_ask_home,
	.foreach_session_peer = fx_foreach_session_peer,
	.ask_peer = fx_ask_peer,
};

/* --- fixture --------------------------------------------------------------------------- */

static uint64_t
fx_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static char *
fx_path(struct fx *f, const char *file)
{
	return test_pki_path(&f->pki, file);
}

static void
fx_domains_new(struct fx *f)
{
	struct domains_params params = {
		.loop = f->loop,
		.store = f->store,
		.trust = f->pki.trust,
		.tls = f->tls,
		.identity = ALICE,
		.key_path = fx_path(f, "alice.key"),
		.cert_path = fx_path(f, "alice.crt"),
		.has_home = true,
	};

	for (size_t i = 0; i < f->nconfigured; i++)
		params.configured[params.nconfigured++] = f->configured[i];
	assert_int_equal(domains_new(&f->d, &params, &fx_ops, f), 0);
}

/* The trust store (our CA, and b's if configured), the TLS context on it, the store. */
static void
fx_open(struct fx *f)
{
	assert_int_equal(cert_trust_new(&f->pki.trust), 0);
	assert_int_equal(cert_trust_add(f->pki.trust, OWN, fx_path(f, "a.crt")), 0);
	if (f->nconfigured > 1)
		assert_int_equal(cert_trust_add(f->pki.trust, OTHER, fx_path(f, "b.crt")), 0);
	assert_int_equal(
	    tls_ctx_new(&f->tls, fx_path(f, "alice.key"), fx_path(f, "alice.crt"), f->pki.trust),
	    0);
	assert_int_equal(store_open(&f->store, fx_path(f, "state.db")), 0);
	fx_domains_new(f);
}

static void
fx_close(struct fx *f)
{
	domains_free(f->d);
	f->d = NULL;
	store_close(f->store);
	tls_ctx_free(f->tls);
	cert_trust_free(f->pki.trust);
	f->pki.trust = NULL;
}

/* A restart: everything made anew from the same files, the state store included. */
static void
fx_restart(struct fx *f)
{
	fx_close(f);
	fx_open(f);
}

static void
fx_load_ca(struct fx *f, const char *name, struct cert_ca **ca, struct cert_info *info,
	   uint8_t *der, size_t *der_len)
{
	char key[16], crt[16];
	int n;

	snprintf(key, sizeof(key), "%s.key", name);
	snprintf(crt, sizeof(crt), "%s.crt", name);
	assert_int_equal(cert_ca_load(ca, fx_path(f, key), fx_path(f, crt)), 0);
	assert_int_equal(cert_info_from_file(fx_path(f, crt), info), 0);
	if (der) {
		n = cert_load_der(fx_path(f, crt), der, CERT_DER_MAX);
		assert_true(n > 0);
		*der_len = (size_t)n;
	}
}

static int
fx_setup(void **state, size_t nconfigured)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fx = f;
	test_pki_setup(&f->pki, "domains");
	cert_trust_free(f->pki.trust); /* fx_open makes the agent's own */
	f->pki.trust = NULL;
	assert_int_equal(cert_ca_init(OTHER, 10, fx_path(f, "b2.key"), fx_path(f, "b2.crt")), 0);
	assert_int_equal(cert_key_new(fx_path(f, "alice.key"), NULL), 0);
	assert_int_equal(cert_sign(fx_path(f, "a.key"), fx_path(f, "a.crt"),
				   fx_path(f, "alice.key"), ALICE, f->pki.now - 60,
				   f->pki.now + DAY, fx_path(f, "alice.crt")),
			 0);
	fx_load_ca(f, "a", &f->ca_a, &f->info_a, NULL, NULL);
	fx_load_ca(f, "b", &f->ca_b, &f->info_b, f->der_b, &f->der_b_len);
	fx_load_ca(f, "b2", &f->ca_b2, &f->info_b2, f->der_b2, &f->der_b2_len);
	assert_memory_not_equal(f->info_b.fpr, f->info_b2.fpr, CERT_FPR_LEN);
	f->configured[0] = OWN;
	f->configured[1] = OTHER;
	f->nconfigured = nconfigured;
	f->home_answers = true;
	f->now = T0;
	assert_int_equal(ev_loop_new(&f->loop), 0);
	ev_loop_set_clock(f->loop, fx_clock, f);
	fx_open(f);
	*state = f;
	return 0;
}

/* Our CA is configured; b.example.com is a stranger. */
static int
setup(void **state)
{
	return fx_setup(state, 1);
}

/* b.example.com's CA is configured too (a `ca` line). */
static int
setup_configured(void **state)
{
	return fx_setup(state, 2);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	fx_close(f);
	ev_loop_free(f->loop);
	cert_ca_free(f->ca_a);
	cert_ca_free(f->ca_b);
	cert_ca_free(f->ca_b2);
	test_pki_teardown(&f->pki);
	fx = NULL;
	free(f);
	return 0;
}

static void
fx_advance(struct fx *f, uint64_t ms)
{
	f->now += ms;
	for (int i = 0; i < 3; i++)
		assert_int_equal(ev_run_once(f->loop, 0), 0);
}

/* A list of domain numbered number, revoking count made-up fingerprints, signed by ca. */
static uint8_t *
fx_crl(struct fx *f, struct cert_ca *ca, const char *domain, uint64_t number, size_t count,
       size_t *len)
{
	uint8_t fprs[4][CERT_FPR_LEN];
	struct crl c = {
		.number = number,
		.issued = f->pki.now - 10,
		.next_update = f->pki.now + DAY,
		.count = count,
		.revoked = fprs,
	};
	uint8_t *out = NULL;

	assert_true(count <= 4);
	for (size_t i = 0; i < count; i++)
		memset(fprs[i], (int)(0x10 * (i + 1) + number), CERT_FPR_LEN);
	snprintf(c.domain, sizeof(c.domain), "%s", domain);
	assert_int_equal(crl_encode_signed(ca, &c, &out, len), 0);
	return out;
}

static void
fx_answer(struct fx *f, const char *who, uint8_t status, const uint8_t *fpr)
{
	struct ctlmsg m = { .type = CTL_NOTARY };

	snprintf(m.u.notary.domain, sizeof(m.u.notary.domain), "%s", OTHER);
	m.u.notary.status = status;
	if (fpr)
		memcpy(m.u.notary.fpr, fpr, CTL_FPR_LEN);
	m.u.notary.first_seen = f->pki.now - DAY;
	domains_on_notary_answer(f->d, who, &m);
}

/* What domains_status prints, in a buffer of its own. */
static const char *
fx_status(struct fx *f)
{
	static char buf[4096];
	FILE *m = fmemopen(buf, sizeof(buf), "w");

	assert_non_null(m);
	domains_status(f->d, m);
	assert_int_equal(fclose(m), 0);
	return buf;
}

static bool
fx_has_line(struct fx *f, const char *line)
{
	char want[256];

	snprintf(want, sizeof(want), "%s\n", line);
	return strstr(fx_status(f), want) != NULL;
}

static bool
fx_anchored(struct fx *f, const char *domain, const uint8_t *der, size_t len)
{
	size_t got;
	const uint8_t *have = cert_trust_anchor_der(f->pki.trust, domain, &got);

	return have && got == len && !memcmp(have, der, len);
}

/* --- revocation lists ------------------------------------------------------------------ */

static void
test_domains_apply_crl_applies_keeps_and_restores(void **state)
{
	struct fx *f = *state;
	size_t len3, len4, got;
	uint8_t *l3 = fx_crl(f, f->ca_a, OWN, 3, 2, &len3),
		*l4 = fx_crl(f, f->ca_a, OWN, 4, 1, &len4);
	static uint8_t kept[CRL_WIRE_MAX];
	uint64_t number;
	int64_t next;

	assert_int_equal(domains_apply_crl(f->d, OWN, l3, len3, "the home server"), 0);
	assert_int_equal(f->nrevoked, 1);
	assert_string_equal(f->revoked[0].domain, OWN);
	assert_true(f->revoked[0].number == 3);
	assert_int_equal(f->revoked[0].count, 2);
	assert_int_equal(cert_trust_crl_info(f->pki.trust, OWN, &number, &next), 0);
	assert_true(number == 3);
	assert_int_equal(store_meta_get(f->store, "crl:" OWN, kept, sizeof(kept), &got), 0);
	assert_int_equal(got, len3);
	assert_memory_equal(kept, l3, len3);

	/* The same list again, or an older one: not applied, nothing reported, the kept one stays.
	 */
	assert_int_equal(domains_apply_crl(f->d, OWN, l3, len3, "the home server"), -EALREADY);
	assert_int_equal(f->nrevoked, 1);

	/* After a restart the kept list applies before anyone answers. */
	fx_restart(f);
	assert_int_equal(f->nrevoked, 2);
	assert_true(f->revoked[1].number == 3);
	assert_int_equal(cert_trust_crl_info(f->pki.trust, OWN, &number, &next), 0);
	assert_true(number == 3);

	/* A newer one replaces it, in the store too; then #3 is old. */
	assert_int_equal(domains_apply_crl(f->d, OWN, l4, len4, "the home server"), 0);
	assert_int_equal(f->nrevoked, 3);
	assert_true(f->revoked[2].number == 4);
	assert_int_equal(domains_apply_crl(f->d, OWN, l3, len3, "the home server"), -EALREADY);
	assert_int_equal(f->nrevoked, 3);
	assert_int_equal(store_meta_get(f->store, "crl:" OWN, kept, sizeof(kept), &got), 0);
	assert_int_equal(got, len4);
	assert_memory_equal(kept, l4, len4);
	fx_restart(f);
	assert_int_equal(cert_trust_crl_info(f->pki.trust, OWN, &number, &next), 0);
	assert_true(number == 4);
	free(l3);
	free(l4);
}

static void
test_domains_apply_crl_refuses_unknown_domain_and_bad_signature(void **state)
{
	struct fx *f = *state;
	size_t len_b, len_forged, len_a;
	uint8_t *for_b = fx_crl(f, f->ca_b, OTHER, 5, 1, &len_b);
	uint8_t *good = fx_crl(f, f->ca_a, OWN, 5, 1, &len_a), *forged;
	static uint8_t kept[CRL_WIRE_MAX];
	struct cert_ca *impostor;
	size_t got;
	uint64_t number;
	int64_t next;

	/* Ours, signed by another CA of our domain's name. */
	assert_int_equal(cert_ca_init(OWN, 10, fx_path(f, "a2.key"), fx_path(f, "a2.crt")), 0);
	assert_int_equal(cert_ca_load(&impostor, fx_path(f, "a2.key"), fx_path(f, "a2.crt")), 0);
	forged = fx_crl(f, impostor, OWN, 5, 1, &len_forged);
	cert_ca_free(impostor);

	/* A domain we hold no CA for. */
	assert_int_equal(domains_apply_crl(f->d, OTHER, for_b, len_b, "somewhere"), -ENOENT);
	/* Signed by the wrong CA; b's list offered as ours; one byte changed. */
	assert_int_equal(domains_apply_crl(f->d, OWN, forged, len_forged, "somewhere"), -EINVAL);
	assert_int_equal(domains_apply_crl(f->d, OWN, for_b, len_b, "somewhere"), -EINVAL);
	good[len_a - 70] ^= 0x01;
	assert_int_equal(domains_apply_crl(f->d, OWN, good, len_a, "somewhere"), -EINVAL);
	assert_int_equal(domains_apply_crl(f->d, OWN, good, 10, "somewhere"), -EINVAL);
	assert_int_equal(f->nrevoked, 0);
	assert_int_equal(cert_trust_crl_info(f->pki.trust, OWN, &number, &next), -ENOENT);
	assert_int_equal(store_meta_get(f->store, "crl:" OWN, kept, sizeof(kept), &got), -ENOENT);
	assert_int_equal(store_meta_get(f->store, "crl:" OTHER, kept, sizeof(kept), &got), -ENOENT);
	/* The intact list still applies: the refusals changed nothing. */
	good[len_a - 70] ^= 0x01;
	assert_int_equal(domains_apply_crl(f->d, OWN, good, len_a, "the home server"), 0);
	assert_int_equal(f->nrevoked, 1);
	free(for_b);
	free(forged);
	free(good);
}

/* --- what we tell a peer that asks ----------------------------------------------------- */

static void
test_domains_notary_view_known_only_for_what_we_trust(void **state)
{
	struct fx *f = *state;
	struct pin pin = { .domain = OTHER, .first_seen = 1234567, .how = "re-pinned by user" };
	struct ctlmsg m;

	domains_notary_view(f->d, OWN, &m);
	assert_int_equal(m.type, CTL_NOTARY);
	assert_string_equal(m.u.notary.domain, OWN);
	assert_int_equal(m.u.notary.status, CTL_NOTARY_KNOWN);
	assert_memory_equal(m.u.notary.fpr, f->info_a.fpr, CTL_FPR_LEN);
	assert_true(m.u.notary.first_seen == f->info_a.not_before);

	domains_notary_view(f->d, OTHER, &m);
	assert_string_equal(m.u.notary.domain, OTHER);
	assert_int_equal(m.u.notary.status, CTL_NOTARY_UNKNOWN);
	domains_notary_view(f->d, "nowhere.example", &m);
	assert_int_equal(m.u.notary.status, CTL_NOTARY_UNKNOWN);

	/* A pin we hold (its CA not loaded yet): known, as pinned. */
	memcpy(pin.fpr, f->info_b.fpr, CERT_FPR_LEN);
	assert_int_equal(store_pin_put(f->store, &pin), 0);
	domains_notary_view(f->d, OTHER, &m);
	assert_int_equal(m.u.notary.status, CTL_NOTARY_KNOWN);
	assert_memory_equal(m.u.notary.fpr, f->info_b.fpr, CTL_FPR_LEN);
	assert_true(m.u.notary.first_seen == 1234567);
}

/* --- first use: the notary round ------------------------------------------------------- */

/* b.example.com tracked, its server's answer in: the CA is a candidate, the round running. */
static void
fx_meet_other(struct fx *f, const uint8_t *ca, size_t ca_len, const uint8_t *crl, size_t crl_len)
{
	f->session_peers[0] = CAROL;
	f->session_peers[1] = DAVE;
	f->nsession_peers = 2;
	assert_int_equal(domains_track(f->d, OTHER), 0);
	assert_int_equal(domains_track(f->d, OTHER), 0); /* once */
	assert_int_equal(domains_track(f->d, OWN), 0);   /* ours: not tracked */
	assert_int_equal(f->nfetches, 1);
	assert_string_equal(f->fetches[0].domain, OTHER);
	assert_true(fx_has_line(f, "domain " OTHER));
	assert_true(fx_has_line(f, "domain_state fetching"));
	assert_null(strstr(fx_status(f), "domain " OWN));

	fx_fetch_done(f, 0, ca, ca_len, crl, crl_len);
	assert_true(fx_has_line(f, "domain_state asking"));
	assert_int_equal(f->nasked_home, 1);
	assert_string_equal(f->asked_home[0], OTHER);
	/* Carol is asked; Dave, of the domain in question, is not. */
	assert_int_equal(f->nasked_peer, 1);
	assert_string_equal(f->asked_peer[0], CAROL);
	assert_false(fx_anchored(f, OTHER, ca, ca_len));
	assert_int_equal(f->ntrusted, 0);
}

static void
test_domains_round_agree_pins_and_trusts(void **state)
{
	struct fx *f = *state;
	size_t crl_len;
	uint8_t *crl = fx_crl(f, f->ca_b, OTHER, 1, 2, &crl_len);
	struct pin pin;
	struct ctlmsg m;
	char fpr[64], line[128];

	fx_meet_other(f, f->der_b, f->der_b_len, crl, crl_len);
	/* Someone never asked says something: it does not count. */
	fx_answer(f, "mallory@m.example.com", CTL_NOTARY_KNOWN, f->info_b.fpr);
	fx_answer(f, OWN, CTL_NOTARY_KNOWN, f->info_b.fpr);
	assert_true(fx_has_line(f, "domain_state asking"));
	assert_int_equal(store_pin_get(f->store, OTHER, &pin), -ENOENT);
	fx_answer(f, CAROL, CTL_NOTARY_KNOWN, f->info_b.fpr);

	/* Everyone asked agreed: pinned, trusted, the list that came with the CA applied. */
	assert_int_equal(store_pin_get(f->store, OTHER, &pin), 0);
	assert_memory_equal(pin.fpr, f->info_b.fpr, CERT_FPR_LEN);
	assert_non_null(strstr(pin.how, "agreed: " OWN ", " CAROL));
	assert_null(strstr(pin.how, "mallory"));
	assert_true(fx_anchored(f, OTHER, f->der_b, f->der_b_len));
	assert_int_equal(f->ntrusted, 1);
	assert_string_equal(f->trusted[0], OTHER);
	assert_int_equal(f->nrevoked, 1);
	assert_string_equal(f->revoked[0].domain, OTHER);
	assert_true(f->revoked[0].number == 1);
	assert_true(fx_has_line(f, "domain_state trusted"));
	cert_fpr_format(f->info_b.fpr, fpr, sizeof(fpr));
	snprintf(line, sizeof(line), "domain_ca %s", fpr);
	assert_true(fx_has_line(f, line));
	assert_non_null(strstr(fx_status(f), "domain_crl #1, next update "));
	assert_null(strstr(fx_status(f), "domain_crl_stale"));
	domains_notary_view(f->d, OTHER, &m);
	assert_int_equal(m.u.notary.status, CTL_NOTARY_KNOWN);
	assert_memory_equal(m.u.notary.fpr, f->info_b.fpr, CTL_FPR_LEN);
	assert_true(m.u.notary.first_seen == pin.first_seen);

	/* A late answer changes nothing. */
	fx_answer(f, CAROL, CTL_NOTARY_KNOWN, f->info_b2.fpr);
	assert_true(fx_has_line(f, "domain_state trusted"));

	/* The list is fetched again every DOMAINS_REFRESH_MS; the same CA keeps it trusted. */
	fx_advance(f, DOMAINS_REFRESH_MS - 1);
	assert_int_equal(f->nfetches, 1);
	fx_advance(f, 1);
	assert_int_equal(f->nfetches, 2);
	fx_fetch_done(f, 1, f->der_b, f->der_b_len, NULL, 0);
	assert_true(fx_has_line(f, "domain_state trusted"));
	assert_int_equal(f->ntrusted, 1);
	assert_int_equal(f->nasked_home, 1); /* no second round */
	free(crl);
}

static void
test_domains_round_disagree_refuses(void **state)
{
	struct fx *f = *state;
	struct pin pin;

	/* The server offers the impostor; the home server knows the real CA. */
	fx_meet_other(f, f->der_b2, f->der_b2_len, NULL, 0);
	fx_answer(f, CAROL, CTL_NOTARY_UNKNOWN, NULL);
	fx_answer(f, OWN, CTL_NOTARY_KNOWN, f->info_b.fpr);
	assert_true(fx_has_line(f, "domain_state refused"));
	assert_non_null(strstr(fx_status(f), "domain_reason " OTHER ": notary " OWN));
	assert_int_equal(store_pin_get(f->store, OTHER, &pin), -ENOENT);
	assert_null(cert_trust_anchor_der(f->pki.trust, OTHER, &(size_t){ 0 }));
	assert_int_equal(f->ntrusted, 0);

	/* Asked again at the next refresh: a notary reporting the domain disputed refuses too. */
	fx_advance(f, DOMAINS_REFRESH_MS);
	assert_int_equal(f->nfetches, 2);
	fx_fetch_done(f, 1, f->der_b, f->der_b_len, NULL, 0);
	assert_int_equal(f->nasked_home, 2);
	fx_answer(f, OWN, CTL_NOTARY_DISPUTED, f->info_b.fpr);
	fx_answer(f, CAROL, CTL_NOTARY_KNOWN, f->info_b.fpr);
	assert_true(fx_has_line(f, "domain_state refused"));
	assert_non_null(strstr(fx_status(f), "disputed"));
	assert_int_equal(store_pin_get(f->store, OTHER, &pin), -ENOENT);
	assert_int_equal(f->ntrusted, 0);
}

/* Notaries that do not answer within NOTARIES_ROUND_MS count as unreachable: they never block. */
static void
test_domains_round_timeout_counts_silence_as_unreachable(void **state)
{
	struct fx *f = *state;
	struct pin pin;

	fx_meet_other(f, f->der_b, f->der_b_len, NULL, 0);
	fx_answer(f, CAROL, CTL_NOTARY_KNOWN, f->info_b.fpr);
	fx_advance(f, NOTARIES_ROUND_MS - 1);
	assert_true(fx_has_line(f, "domain_state asking"));
	fx_advance(f, 1);
	assert_true(fx_has_line(f, "domain_state trusted"));
	assert_int_equal(store_pin_get(f->store, OTHER, &pin), 0);
	assert_non_null(strstr(pin.how, "agreed: " CAROL));
	assert_non_null(strstr(pin.how, "notaries unreachable: " OWN));
	assert_int_equal(f->ntrusted, 1);
	/* The home server's answer, too late: nothing changes. */
	fx_answer(f, OWN, CTL_NOTARY_KNOWN, f->info_b2.fpr);
	assert_true(fx_has_line(f, "domain_state trusted"));
}

/* No notary can be asked at all (no home connection, no peer): decided at once, on first use. */
static void
test_domains_round_with_no_one_to_ask_decides_at_once(void **state)
{
	struct fx *f = *state;
	struct pin pin;

	f->home_answers = false;
	assert_int_equal(domains_track(f->d, OTHER), 0);
	fx_fetch_done(f, 0, f->der_b, f->der_b_len, NULL, 0);
	assert_int_equal(f->nasked_home, 1);
	assert_true(fx_has_line(f, "domain_state trusted"));
	assert_int_equal(store_pin_get(f->store, OTHER, &pin), 0);
	assert_non_null(strstr(pin.how, "notaries unreachable: " OWN));
}

/* --- after first use ------------------------------------------------------------------- */

/* A pinned CA is cached: after a restart it is trusted before its server answers. */
static void
test_domains_pinned_ca_trusted_from_cache_after_restart(void **state)
{
	struct fx *f = *state;
	size_t crl_len;
	uint8_t *crl = fx_crl(f, f->ca_b, OTHER, 2, 1, &crl_len);

	fx_meet_other(f, f->der_b, f->der_b_len, crl, crl_len);
	fx_answer(f, OWN, CTL_NOTARY_KNOWN, f->info_b.fpr);
	fx_answer(f, CAROL, CTL_NOTARY_KNOWN, f->info_b.fpr);
	assert_true(fx_has_line(f, "domain_state trusted"));

	fx_restart(f);
	f->ntrusted = f->nrevoked = f->nasked_home = 0;
	assert_false(fx_anchored(f, OTHER, f->der_b, f->der_b_len));
	assert_int_equal(domains_track(f->d, OTHER), 0);
	assert_true(fx_anchored(f, OTHER, f->der_b, f->der_b_len));
	assert_true(fx_has_line(f, "domain_state trusted"));
	assert_non_null(strstr(fx_status(f), "from the cache"));
	assert_int_equal(f->ntrusted, 1);
	assert_int_equal(f->nrevoked, 1); /* its kept list, too */
	assert_true(f->revoked[0].number == 2);
	/* The server is still asked (a refresh), and its answer changes nothing; no round. */
	assert_true(f->fetches[f->nfetches - 1].running);
	fx_fetch_done(f, f->nfetches - 1, f->der_b, f->der_b_len, NULL, 0);
	assert_true(fx_has_line(f, "domain_state trusted"));
	assert_int_equal(f->nasked_home, 0);
	free(crl);
}

/* Once pinned, another CA from the domain's server is refused without a round. */
static void
test_domains_pinned_domain_refuses_another_ca(void **state)
{
	struct fx *f = *state;
	struct pin pin = { .domain = OTHER, .first_seen = 1234567, .how = "re-pinned by user" };

	memcpy(pin.fpr, f->info_b.fpr, CERT_FPR_LEN);
	assert_int_equal(store_pin_put(f->store, &pin), 0);
	assert_int_equal(domains_track(f->d, OTHER), 0);
	fx_fetch_done(f, 0, f->der_b2, f->der_b2_len, NULL, 0);
	assert_true(fx_has_line(f, "domain_state refused"));
	assert_non_null(strstr(fx_status(f), "CA fingerprint changed"));
	assert_int_equal(f->nasked_home, 0);
	assert_int_equal(f->ntrusted, 0);
	/* A failed fetch later: said, and retried after a backoff; the matching CA is trusted. */
	fx_advance(f, DOMAINS_REFRESH_MS);
	fx_fetch_done(f, 1, NULL, 0, NULL, 0);
	assert_non_null(strstr(fx_status(f), "connection refused"));
	fx_advance(f, 60000);
	assert_int_equal(f->nfetches, 3);
	fx_fetch_done(f, 2, f->der_b, f->der_b_len, NULL, 0);
	assert_true(fx_has_line(f, "domain_state trusted"));
	assert_int_equal(f->ntrusted, 1);
}

/* The user forgets the pin: the CA stops being trusted at once, and a new decision starts. */
static void
test_domains_reevaluate_after_the_pin_is_forgotten(void **state)
{
	struct fx *f = *state;

	fx_meet_other(f, f->der_b, f->der_b_len, NULL, 0);
	fx_answer(f, OWN, CTL_NOTARY_KNOWN, f->info_b.fpr);
	fx_answer(f, CAROL, CTL_NOTARY_KNOWN, f->info_b.fpr);
	assert_true(fx_anchored(f, OTHER, f->der_b, f->der_b_len));
	assert_int_equal(domains_reevaluate(f->d, "nowhere.example"), -ENOENT);
	assert_int_equal(domains_reevaluate(f->d, OTHER), 0); /* pin unchanged: still trusted */
	assert_int_equal(f->ndistrusted, 0);
	assert_true(fx_anchored(f, OTHER, f->der_b, f->der_b_len));
	fx_fetch_done(f, f->nfetches - 1, f->der_b, f->der_b_len, NULL, 0);

	assert_int_equal(store_pin_delete(f->store, OTHER), 0);
	assert_int_equal(domains_reevaluate(f->d, OTHER), 0);
	assert_int_equal(f->ndistrusted, 1);
	assert_string_equal(f->distrusted[0], OTHER);
	assert_null(cert_trust_anchor_der(f->pki.trust, OTHER, &(size_t){ 0 }));
	assert_true(fx_has_line(f, "domain_state fetching"));
	assert_true(f->fetches[f->nfetches - 1].running);
	/* Decided again from scratch: a new round. */
	fx_fetch_done(f, f->nfetches - 1, f->der_b, f->der_b_len, NULL, 0);
	assert_int_equal(f->nasked_home, 2);
}

/* --- a configured domain --------------------------------------------------------------- */

/* A `ca` line's domain: trusted from the start, its server asked only for its list. */
static void
test_domains_configured_domain_takes_lists_not_cas(void **state)
{
	struct fx *f = *state;
	size_t len, len2;
	uint8_t *list = fx_crl(f, f->ca_b, OTHER, 7, 3, &len);
	uint8_t *impostors = fx_crl(f, f->ca_b2, OTHER, 8, 1, &len2);

	assert_int_equal(domains_track(f->d, OTHER), 0);
	assert_true(fx_has_line(f, "domain_state trusted"));
	assert_non_null(strstr(fx_status(f), "CA from the configuration"));
	assert_int_equal(f->nfetches, 1);
	fx_fetch_done(f, 0, f->der_b, f->der_b_len, list, len);
	assert_int_equal(f->nrevoked, 1);
	assert_true(f->revoked[0].number == 7);
	assert_int_equal(f->revoked[0].count, 3);
	assert_non_null(strstr(fx_status(f), "domain_crl #7"));

	/* The server turns impostor: its CA is reported, never used; its list is refused. */
	fx_advance(f, DOMAINS_REFRESH_MS);
	fx_fetch_done(f, 1, f->der_b2, f->der_b2_len, impostors, len2);
	assert_true(fx_has_line(f, "domain_state trusted"));
	assert_non_null(strstr(fx_status(f), "only lists signed by the configured CA are used"));
	assert_int_equal(f->nrevoked, 1);
	assert_true(fx_anchored(f, OTHER, f->der_b, f->der_b_len));
	assert_int_equal(f->nasked_home, 0);
	assert_int_equal(domains_reevaluate(f->d, OTHER), -ENOENT);

	/* Kept: after a restart the configured domain's list applies at domains_new. */
	fx_restart(f);
	assert_int_equal(f->nrevoked, 2);
	assert_true(f->revoked[1].number == 7);
	free(list);
	free(impostors);
}

#define T(test)  cmocka_unit_test_setup_teardown(test, setup, teardown)
#define TC(test) cmocka_unit_test_setup_teardown(test, setup_configured, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_domains_apply_crl_applies_keeps_and_restores),
		T(test_domains_apply_crl_refuses_unknown_domain_and_bad_signature),
		T(test_domains_notary_view_known_only_for_what_we_trust),
		T(test_domains_round_agree_pins_and_trusts),
		T(test_domains_round_disagree_refuses),
		T(test_domains_round_timeout_counts_silence_as_unreachable),
		T(test_domains_round_with_no_one_to_ask_decides_at_once),
		T(test_domains_pinned_ca_trusted_from_cache_after_restart),
		T(test_domains_pinned_domain_refuses_another_ca),
		T(test_domains_reevaluate_after_the_pin_is_forgotten),
		TC(test_domains_configured_domain_takes_lists_not_cas),
	};

	log_set_quiet(true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
