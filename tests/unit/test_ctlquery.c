// SPDX-License-Identifier: MIT
/*
 * One short exchange with a domain's server (control/ctlquery.h), with the lookup and the
 * stream replaced by fakes defined here (the static library then links neither resolve.o nor
 * stream.o): the most requests a query takes (CTLQUERY_MAX) are all sent after the HELLO and
 * all answered in order; an address that refuses, or does not complete the handshake, is
 * followed by the next one (at most CTLQUERY_ADDRS_MAX); once an address has answered, its
 * failure is final.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "control/ctlquery.h"
#include "control/resolve.h"
#include "control/stream.h"

/* The fakes' record of what the query did. */
static struct {
	void (*resolved)(void *, const struct discover_result *, int, const char *);
	void *resolve_arg;
	const struct stream_ops *ops;
	void *arg;
	uint16_t ports[8]; /* the port of each address connected to */
	int nconnects;
	int refuse_sync; /* stream_connect fails at once for this many calls */
	struct ctlmsg sent[8];
	int nsent;
	bool closed;
	int done_calls;
	size_t nanswers;
	char error[512];
	uint16_t answer_nonces[CTLQUERY_MAX];
} fk;

static struct stream *const fake_stream = (struct stream *)&fk;

int
resolve_start(struct resolve **out, struct ev_loop *loop, const char *domain,
	      void (*done)(void *arg, const struct discover_result *res, int n, const char *why),
	      void *arg)
{
	(void)loop;
	(void)domain;
	*out = (struct resolve *)&fk;
	fk.resolved = done;
	fk.resolve_arg = arg;
	return 0;
}

void
resolve_cancel(struct resolve *r)
{
	(void)r;
}

int
stream_connect(struct stream **out, struct ev_loop *loop, struct tls_ctx *ctx,
	       const struct sockaddr_storage *to, const char *server_name, const char *expected,
	       const struct stream_ops *ops, void *arg)
{
	(void)loop;
	(void)ctx;
	(void)server_name;
	(void)expected;
	fk.ports[fk.nconnects++] = ntohs(((const struct sockaddr_in *)to)->sin_port);
	if (fk.refuse_sync > 0) {
		fk.refuse_sync--;
		return -ECONNREFUSED;
	}
	fk.ops = ops;
	fk.arg = arg;
	fk.closed = false;
	*out = fake_stream;
	return 0;
}

bool
stream_send_msg(struct stream *s, const struct ctlmsg *m)
{
	assert_ptr_equal(s, fake_stream);
	assert_true(fk.nsent < 8);
	fk.sent[fk.nsent++] = *m;
	return true;
}

void *
stream_arg(const struct stream *s)
{
	(void)s;
	return fk.arg;
}

void
stream_set_deadline(struct stream *s, uint64_t ms)
{
	(void)s;
	(void)ms;
}

void
stream_close(struct stream *s, const char *why)
{
	assert_false(fk.closed);
	fk.closed = true;
	fk.ops->on_closed(s, why);
}

static void
on_done(void *arg, const struct ctlquery_result *r)
{
	(void)arg;
	fk.done_calls++;
	fk.nanswers = r->nanswers;
	snprintf(fk.error, sizeof(fk.error), "%s", r->error);
	for (size_t i = 0; i < r->nanswers; i++)
		fk.answer_nonces[i] = (uint16_t)r->answers[i].u.ping.nonce;
}

/* The lookup answers with n addresses, 127.0.0.1 on ports 1001, 1002, ... */
static void
resolve_with(int n)
{
	struct discover_result res[5] = { 0 };

	for (int i = 0; i < n; i++) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&res[i].addr;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)(1001 + i));
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		snprintf(res[i].host, sizeof(res[i].host), "server%d", i + 1);
	}
	fk.resolved(fk.resolve_arg, res, n, NULL);
}

static void
start_pings(size_t nreqs)
{
	struct ctlmsg reqs[CTLQUERY_MAX];
	struct ctlquery_spec spec = {
		.domain = "b.example.com",
		.self = "alice@a.example.com",
		.tls = (struct tls_ctx *)&fk, /* verified: never used by the fakes */
		.reqs = reqs,
		.nreqs = nreqs,
	};

	memset(&fk, 0, sizeof(fk));
	for (size_t i = 0; i < nreqs; i++)
		reqs[i] = (struct ctlmsg){ .type = CTL_PING, .u.ping.nonce = 100 + i };
	assert_int_equal(ctlquery_start(NULL, NULL, &spec, on_done, NULL), 0);
}

/* The server answers the next request with a PONG carrying nonce. */
static bool
answer_pong(uint64_t nonce)
{
	struct ctlmsg m = { .type = CTL_PONG, .u.ping.nonce = nonce };
	uint8_t body[64];
	int n = ctlmsg_encode(&m, body, sizeof(body));

	assert_true(n >= 0);
	return fk.ops->on_record(fake_stream, CTL_PONG, body, (size_t)n);
}

static void
test_ctlquery_start_max_requests(void **state)
{
	(void)state;
	start_pings(CTLQUERY_MAX);
	resolve_with(1);
	fk.ops->on_established(fake_stream);
	assert_int_equal(fk.nsent, CTLQUERY_MAX + 1);
	assert_int_equal(fk.sent[0].type, CTL_HELLO);
	for (int i = 0; i < CTLQUERY_MAX; i++) {
		assert_int_equal(fk.sent[i + 1].type, CTL_PING);
		assert_int_equal(fk.sent[i + 1].u.ping.nonce, 100 + i);
	}
	for (int i = 0; i < CTLQUERY_MAX; i++)
		assert_int_equal(answer_pong(200 + (uint64_t)i), i + 1 < CTLQUERY_MAX);
	assert_int_equal(fk.done_calls, 1);
	assert_int_equal(fk.nanswers, CTLQUERY_MAX);
	for (int i = 0; i < CTLQUERY_MAX; i++)
		assert_int_equal(fk.answer_nonces[i], 200 + i);
}

static void
test_ctlquery_start_too_many_requests(void **state)
{
	struct ctlmsg reqs[CTLQUERY_MAX + 1] = { 0 };
	struct ctlquery_spec spec = { .domain = "b.example.com", .self = "x", .reqs = reqs };

	(void)state;
	spec.nreqs = CTLQUERY_MAX + 1;
	assert_int_equal(ctlquery_start(NULL, NULL, &spec, on_done, NULL), -EINVAL);
	spec.nreqs = 0;
	assert_int_equal(ctlquery_start(NULL, NULL, &spec, on_done, NULL), -EINVAL);
}

/* The first address refuses (asynchronously), the second answers. */
static void
test_ctlquery_failover_refused(void **state)
{
	(void)state;
	start_pings(1);
	resolve_with(2);
	assert_int_equal(fk.nconnects, 1);
	stream_close(fake_stream, "Connection refused");
	assert_int_equal(fk.done_calls, 0);
	assert_int_equal(fk.nconnects, 2);
	assert_int_equal(fk.ports[1], 1002);
	fk.ops->on_established(fake_stream);
	assert_false(answer_pong(7));
	assert_int_equal(fk.done_calls, 1);
	assert_int_equal(fk.nanswers, 1);
	assert_int_equal(fk.answer_nonces[0], 7);
}

/* An address that fails at once is skipped too; at most CTLQUERY_ADDRS_MAX are tried. */
static void
test_ctlquery_failover_bounded(void **state)
{
	(void)state;
	start_pings(1);
	fk.refuse_sync = 1;
	resolve_with(5);
	assert_int_equal(fk.nconnects, 2);
	stream_close(fake_stream, "handshake failed");
	assert_int_equal(fk.nconnects, CTLQUERY_ADDRS_MAX);
	assert_int_equal(fk.done_calls, 0);
	stream_close(fake_stream, "No route to host");
	assert_int_equal(fk.nconnects, CTLQUERY_ADDRS_MAX);
	assert_int_equal(fk.done_calls, 1);
	assert_int_equal(fk.nanswers, 0);
	assert_non_null(strstr(fk.error, "server3: No route to host"));
}

/* Once an address answered, its failure ends the query: requests are not sent twice. */
static void
test_ctlquery_no_failover_after_established(void **state)
{
	(void)state;
	start_pings(2);
	resolve_with(3);
	fk.ops->on_established(fake_stream);
	assert_true(answer_pong(1));
	stream_close(fake_stream, "closed by the other side");
	assert_int_equal(fk.nconnects, 1);
	assert_int_equal(fk.done_calls, 1);
	assert_int_equal(fk.nanswers, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctlquery_start_max_requests),
		cmocka_unit_test(test_ctlquery_start_too_many_requests),
		cmocka_unit_test(test_ctlquery_failover_refused),
		cmocka_unit_test(test_ctlquery_failover_bounded),
		cmocka_unit_test(test_ctlquery_no_failover_after_established),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
