// SPDX-License-Identifier: MIT
/*
 * The home channel (daemon/home/): alice@a.example.com's agent against a fake server of
 * a.example.com that speaks the real control protocol (TLS 1.3, records, ctlmsg) over a
 * socketpair, on one event loop whose clock the test drives. Covered: connect (HELLO, the list
 * asked for), backoff after failed dials, PING and the server's silence, renewal at two thirds
 * of the certificate's lifetime, revocation lists (whole, in chunks, not applied twice),
 * notary questions queued while connecting, and the handler table.
 */
#include <errno.h>
#include <netinet/in.h>
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
#include "crypto/cert.h"
#include "crypto/crl.h"
#include "crypto/csr.h"
#include "crypto/tls.h"
#include "home/home.h"
#include "pki.h"
#include "steps.h"
#include "proto/ctlmsg.h"

#define ALICE  "alice@a.example.com"
#define DOMAIN "a.example.com"

enum {
	T0 = 1000000,
	MAX_MSGS = 64,
	LIFETIME = 30, /* seconds: alice's first certificate (renewed at two thirds: 20 s) */
};

struct fx {
	struct test_pki pki;
	struct ev_loop *loop;
	uint64_t now;
	struct tls_ctx *agent_tls, *server_tls;
	struct cert_ca *ca;
	struct home *home;
	char key_path[128], cert_path[128];

	int dial_err;  /* what the dial returns when not 0 */
	size_t ndials; /* dial attempts */
	uint64_t dial_at[32];
	struct stream *srv; /* the server's end of the current connection */
	bool srv_closed;

	uint16_t got[MAX_MSGS]; /* types the server received, in order */
	size_t ngot;
	struct ctlmsg last_renew, last_crl_req, last_notary_req;
	uint8_t csr[CSR_DER_MAX];

	size_t ncrls; /* lists handed up */
	uint64_t crl_number;
	size_t nnotary; /* NOTARY messages handed to the registered handler */
	char notary_domain[CTL_STR_MAX + 1];
};

static uint64_t
fx_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

/* --- the fake server --- */

static void
srv_established(struct stream *s)
{
	(void)s;
}

static bool
srv_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct fx *f = stream_arg(s);
	struct ctlmsg m;

	assert_true(ctlmsg_decode(type, body, len, &m));
	assert_true(f->ngot < MAX_MSGS);
	f->got[f->ngot++] = type;
	if (type == CTL_RENEW) {
		memcpy(f->csr, m.u.renew.csr, m.u.renew.csr_len);
		f->last_renew = m;
		f->last_renew.u.renew.csr = f->csr;
	} else if (type == CTL_CRL_REQ) {
		f->last_crl_req = m;
	} else if (type == CTL_NOTARY_REQ) {
		f->last_notary_req = m;
	} else if (type == CTL_HELLO) {
		assert_int_equal(m.u.hello.role, CTL_ROLE_AGENT);
		assert_string_equal(m.u.hello.name, ALICE);
	}
	return true;
}

static void
srv_closed(struct stream *s, const char *why)
{
	struct fx *f = stream_arg(s);

	(void)why;
	f->srv = NULL;
	f->srv_closed = true;
}

static const struct stream_ops srv_ops = {
	.on_established = srv_established,
	.on_record = srv_record,
	.on_closed = srv_closed,
};

static int
fx_dial(void *arg, const struct sockaddr_storage *to)
{
	struct fx *f = arg;
	int sv[2];

	(void)to;
	assert_true(f->ndials < sizeof(f->dial_at) / sizeof(f->dial_at[0]));
	f->dial_at[f->ndials++] = f->now;
	if (f->dial_err)
		return f->dial_err;
	assert_null(f->srv);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(
	    stream_new(&f->srv, f->loop, f->server_tls, sv[1], false, NULL, NULL, &srv_ops, f), 0);
	f->srv_closed = false;
	return sv[0];
}

static bool
srv_got(const struct fx *f, uint16_t type)
{
	for (size_t i = 0; i < f->ngot; i++)
		if (f->got[i] == type)
			return true;
	return false;
}

/* --- what the home channel hands up --- */

static void
fx_on_crl(void *arg, const char *domain, const uint8_t *der, size_t len, const char *from)
{
	struct fx *f = arg;
	struct crl c = { 0 };
	const char *why;

	(void)from;
	assert_string_equal(domain, DOMAIN);
	assert_int_equal(cert_trust_apply_crl(f->pki.trust, domain, der, len, &c, &why), 0);
	f->ncrls++;
	f->crl_number = c.number;
	crl_free(&c);
}

static const struct home_ops fx_home_ops = {
	.on_crl = fx_on_crl,
};

static void
fx_on_notary(void *arg, const struct ctlmsg *m)
{
	struct fx *f = arg;

	f->nnotary++;
	snprintf(f->notary_domain, sizeof(f->notary_domain), "%s", m->u.notary.domain);
}

/* --- fixture --- */

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct test_pki *pki;
	struct home_params params = { .identity = ALICE, .dial = fx_dial };

	assert_non_null(f);
	pki = &f->pki;
	test_pki_setup(pki, "home");
	assert_int_equal(ev_loop_new(&f->loop), 0);
	f->now = T0;
	ev_loop_set_clock(f->loop, fx_clock, f);
	assert_int_equal(cert_key_new(test_pki_path(pki, "alice.key"), NULL), 0);
	assert_int_equal(cert_sign(test_pki_path(pki, "a.key"), test_pki_path(pki, "a.crt"),
				   test_pki_path(pki, "alice.key"), ALICE, pki->now - 10,
				   pki->now + LIFETIME - 10, test_pki_path(pki, "alice.crt")),
			 0);
	assert_int_equal(cert_key_new(test_pki_path(pki, "server.key"), NULL), 0);
	assert_int_equal(cert_sign(test_pki_path(pki, "a.key"), test_pki_path(pki, "a.crt"),
				   test_pki_path(pki, "server.key"), "server@" DOMAIN,
				   pki->now - 60, pki->now + 86400,
				   test_pki_path(pki, "server.crt")),
			 0);
	assert_int_equal(tls_ctx_new(&f->agent_tls, test_pki_path(pki, "alice.key"),
				     test_pki_path(pki, "alice.crt"), pki->trust),
			 0);
	assert_int_equal(tls_ctx_new(&f->server_tls, test_pki_path(pki, "server.key"),
				     test_pki_path(pki, "server.crt"), pki->trust),
			 0);
	assert_int_equal(
	    cert_ca_load(&f->ca, test_pki_path(pki, "a.key"), test_pki_path(pki, "a.crt")), 0);
	snprintf(f->key_path, sizeof(f->key_path), "%s", test_pki_path(pki, "alice.key"));
	snprintf(f->cert_path, sizeof(f->cert_path), "%s", test_pki_path(pki, "alice.crt"));
	params.key_path = f->key_path; /* borrowed by home: they live as long as the fixture */
	params.cert_path = f->cert_path;
	params.dial_arg = f;
	assert_int_equal(
	    home_new(&f->home, f->loop, f->agent_tls, pki->trust, &params, &fx_home_ops, f), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	home_free(f->home);
	if (f->srv)
		stream_close(f->srv, "test over");
	tls_ctx_free(f->agent_tls);
	tls_ctx_free(f->server_tls);
	cert_ca_free(f->ca);
	ev_loop_free(f->loop);
	test_pki_teardown(&f->pki);
	free(f);
	return 0;
}

/* Moves the clock by ms in steps of step_ms, running what falls due. */
static void
advance(struct fx *f, uint64_t ms, uint64_t step_ms)
{
	for (uint64_t done = 0; done < ms; done += step_ms) {
		f->now += step_ms;
		assert_int_equal(ev_run_once(f->loop, 0), 0);
	}
}

static bool
status_says(struct fx *f, const char *line)
{
	char buf[1024] = { 0 };
	FILE *m = fmemopen(buf, sizeof(buf) - 1, "w");

	assert_non_null(m);
	home_status(f->home, m);
	fclose(m);
	return strstr(buf, line) != NULL;
}

static void
connect_up(struct fx *f)
{
	home_start(f->home);
	RUN_UNTIL(f->loop, status_says(f, "server_state up") && srv_got(f, CTL_CRL_REQ));
}

/* The server answers a renewal: a certificate for ALICE over pubkey, valid for a day. */
static void
send_cert(struct fx *f, const uint8_t *pubkey)
{
	struct ctlmsg m = { .type = CTL_CERT };
	uint8_t der[4096];
	size_t ca_len;
	int n = cert_ca_issue(f->ca, pubkey, ALICE, f->pki.now - 60, f->pki.now + 86400, der,
			      sizeof(der));

	assert_true(n > 0);
	m.u.cert.cert = der;
	m.u.cert.cert_len = (size_t)n;
	m.u.cert.ca = cert_ca_der(f->ca, &ca_len);
	m.u.cert.ca_len = ca_len;
	assert_true(stream_send_msg(f->srv, &m));
}

/* --- tests --- */

static void
test_home_connects(void **state)
{
	struct fx *f = *state;

	assert_true(status_says(f, "server_state down"));
	/* A question before the connection is up waits for it. */
	home_start(f->home);
	assert_true(home_ask_notary(f->home, "b.example.com"));
	RUN_UNTIL(f->loop, status_says(f, "server_state up") && srv_got(f, CTL_NOTARY_REQ));
	assert_int_equal(f->ndials, 1);
	assert_int_equal(f->got[0], CTL_HELLO);
	assert_int_equal(f->got[1], CTL_CRL_REQ);
	assert_string_equal(f->last_crl_req.u.crl_req.domain, DOMAIN);
	assert_int_equal(f->last_crl_req.u.crl_req.offset, 0);
	assert_string_equal(f->last_notary_req.u.req.domain, "b.example.com");
	assert_true(status_says(f, "server server@" DOMAIN "\n"));
}

static void
test_home_backoff(void **state)
{
	struct fx *f = *state;
	uint64_t gap, expect = HOME_RETRY_MIN_MS;

	f->dial_err = -ECONNREFUSED;
	home_start(f->home);
	assert_int_equal(f->ndials, 1);
	assert_false(home_ask_notary(f->home, "b.example.com")); /* down: not even queued */
	/* Each wait doubles (with up to half again of jitter), up to HOME_RETRY_MAX_MS. */
	for (size_t n = 2; n <= 10; n++) {
		while (f->ndials < n)
			advance(f, 100, 100);
		gap = f->dial_at[n - 1] - f->dial_at[n - 2];
		assert_true(gap >= expect);
		assert_true(gap <= expect + expect / 2 + 100);
		expect = expect * 2 > HOME_RETRY_MAX_MS ? HOME_RETRY_MAX_MS : expect * 2;
	}
	assert_int_equal(expect, HOME_RETRY_MAX_MS);
	/* The server answers again: connected, and the backoff starts over after a loss. */
	f->dial_err = 0;
	while (f->ndials < 11)
		advance(f, 1000, 1000);
	RUN_UNTIL(f->loop, status_says(f, "server_state up"));
	stream_close(f->srv, "server restarts");
	RUN_UNTIL(f->loop, status_says(f, "server_state down"));
	advance(f, HOME_RETRY_MIN_MS - 100, 100);
	assert_int_equal(f->ndials, 11);
	advance(f, HOME_RETRY_MIN_MS / 2 + 200, 100);
	assert_int_equal(f->ndials, 12);
}

static void
test_home_ping_and_silence(void **state)
{
	struct fx *f = *state;
	size_t before;

	connect_up(f);
	before = f->ngot;
	f->now += HOME_PING_MS;
	assert_int_equal(ev_run_once(f->loop, 0), 0);
	RUN_UNTIL(f->loop, f->ngot > before && f->got[f->ngot - 1] == CTL_PING);
	/* The server never answers: three ping intervals of silence and the channel is lost. */
	f->now += 2 * HOME_PING_MS + 1;
	assert_int_equal(ev_run_once(f->loop, 0), 0);
	assert_int_equal(ev_run_once(f->loop, 0), 0);
	assert_true(status_says(f, "server_state down"));
	RUN_UNTIL(f->loop, f->srv_closed);
}

static void
test_home_renews(void **state)
{
	struct fx *f = *state;
	struct cert_info renewed;

	connect_up(f);
	assert_true(status_says(f, "last_renewal 0\n"));
	/* The certificate is [now - 10 s, now + 20 s]: renewed at two thirds, 10 s from now. */
	advance(f, 8000, 1000);
	RUN_UNTIL(f->loop, true);
	assert_false(srv_got(f, CTL_RENEW));
	advance(f, 4000, 1000);
	RUN_UNTIL(f->loop, srv_got(f, CTL_RENEW));
	/* The request is for alice's own key. */
	assert_non_null(f->last_renew.u.renew.csr);
	send_cert(f, tls_ctx_cert(f->agent_tls)->pubkey);
	RUN_UNTIL(f->loop, !status_says(f, "last_renewal 0\n"));
	/* Installed: written where the config says, and used for new connections. */
	assert_int_equal(cert_info_from_file(test_pki_path(&f->pki, "alice.crt"), &renewed), 0);
	assert_int_equal(renewed.not_after, f->pki.now + 86400);
	assert_int_equal(tls_ctx_cert(f->agent_tls)->not_after, f->pki.now + 86400);
}

static void
test_home_refuses_foreign_cert(void **state)
{
	struct fx *f = *state;
	struct ctlmsg ping = { .type = CTL_PING, .u.ping.nonce = 7 };

	connect_up(f);
	/* A certificate for another key (the server's own) is not installed. */
	send_cert(f, tls_ctx_cert(f->server_tls)->pubkey);
	assert_true(stream_send_msg(f->srv, &ping)); /* after it, to know the CERT was handled */
	for (int i = 0; i < 50; i++)
		assert_int_equal(ev_run_once(f->loop, 2), 0);
	assert_true(status_says(f, "last_renewal 0\n"));
	assert_int_equal(tls_ctx_cert(f->agent_tls)->not_after, f->pki.now + LIFETIME - 10);
}

/* A signed list of DOMAIN numbered number with count revocations; *len its size. */
static uint8_t *
make_crl(struct fx *f, uint64_t number, size_t count, size_t *len)
{
	struct crl c = { .number = number, .issued = f->pki.now, .count = count };
	uint8_t *buf;

	snprintf(c.domain, sizeof(c.domain), "%s", DOMAIN);
	c.next_update = f->pki.now + 3600;
	c.revoked = calloc(count, CERT_FPR_LEN);
	assert_non_null(c.revoked);
	for (size_t i = 0; i < count; i++)
		memcpy(c.revoked[i], &i, sizeof(i));
	assert_int_equal(crl_encode_signed(f->ca, &c, &buf, len), 0);
	free(c.revoked);
	return buf;
}

static void
send_crl_chunk(struct fx *f, uint64_t number, const uint8_t *buf, size_t total, size_t offset,
	       size_t n)
{
	struct ctlmsg m = { .type = CTL_CRL };

	snprintf(m.u.crl.domain, sizeof(m.u.crl.domain), "%s", DOMAIN);
	m.u.crl.number = number;
	m.u.crl.issued = f->pki.now;
	m.u.crl.total = (uint32_t)total;
	m.u.crl.offset = (uint32_t)offset;
	m.u.crl.chunk = buf + offset;
	m.u.crl.chunk_len = n;
	assert_true(stream_send_msg(f->srv, &m));
}

static void
test_home_revocation_list(void **state)
{
	struct fx *f = *state;
	size_t len, before;
	uint8_t *buf;

	connect_up(f);
	buf = make_crl(f, 1, 3, &len);
	send_crl_chunk(f, 1, buf, len, 0, len);
	RUN_UNTIL(f->loop, f->ncrls == 1);
	assert_int_equal(f->crl_number, 1);
	assert_true(status_says(f, "crl_number 1\n"));
	/* The same list pushed again (every reconnect sends one) is not applied twice. */
	before = f->ngot;
	send_crl_chunk(f, 1, buf, len, 0, len);
	{
		struct ctlmsg m = { .type = CTL_PING, .u.ping.nonce = 1 };

		assert_true(stream_send_msg(f->srv, &m)); /* after the list: it was handled */
	}
	for (int i = 0; i < 50; i++)
		assert_int_equal(ev_run_once(f->loop, 2), 0);
	assert_int_equal(f->ncrls, 1);
	assert_int_equal(f->ngot, before); /* and no chunk asked for */
	free(buf);
}

static void
test_home_revocation_list_in_chunks(void **state)
{
	struct fx *f = *state;
	size_t len, half;
	uint8_t *buf;

	connect_up(f);
	/* 700 entries: more than one CTL_BLOB_MAX chunk holds. */
	buf = make_crl(f, 2, 700, &len);
	assert_true(len > CTL_BLOB_MAX);
	half = CTL_BLOB_MAX;
	f->last_crl_req.u.crl_req.offset = 0;
	send_crl_chunk(f, 2, buf, len, 0, half);
	RUN_UNTIL(f->loop, f->last_crl_req.u.crl_req.offset == half);
	assert_int_equal(f->ncrls, 0); /* nothing applied from half a list */
	send_crl_chunk(f, 2, buf, len, half, len - half);
	RUN_UNTIL(f->loop, f->ncrls == 1);
	assert_int_equal(f->crl_number, 2);
	free(buf);
}

static void
test_home_handlers(void **state)
{
	struct fx *f = *state;
	struct ctlmsg m = { .type = CTL_NOTARY };

	/* The channel's own types are not for others; a type has one handler. */
	assert_int_equal(home_handle(f->home, CTL_CERT, fx_on_notary, f), -EEXIST);
	assert_int_equal(home_handle(f->home, CTL_CRL, fx_on_notary, f), -EEXIST);
	assert_int_equal(home_handle(f->home, CTL_NOTARY, fx_on_notary, f), 0);
	assert_int_equal(home_handle(f->home, CTL_NOTARY, fx_on_notary, f), -EEXIST);
	connect_up(f);
	snprintf(m.u.notary.domain, sizeof(m.u.notary.domain), "b.example.com");
	m.u.notary.status = CTL_NOTARY_UNKNOWN;
	assert_true(stream_send_msg(f->srv, &m));
	RUN_UNTIL(f->loop, f->nnotary == 1);
	assert_string_equal(f->notary_domain, "b.example.com");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_home_connects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_ping_and_silence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_renews, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_refuses_foreign_cert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_revocation_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_revocation_list_in_chunks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_home_handlers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
