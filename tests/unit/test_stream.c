// SPDX-License-Identifier: MIT
/*
 * A record stream's back-pressure (control/stream.h, stream_set_backpressure): a server-side
 * stream answering each request with 4,000 bytes, to a client that sends 200 requests and reads
 * nothing, stops handing requests to its owner once more than the limit of answers waits, so its
 * output stays near the limit (not STREAM_WBUF_SIZE); what the owner pushes on its own still
 * goes out meanwhile; once the client reads, every request is answered, in order, none lost.
 * The client is a bare TLS connection over a socketpair whose server end has a small send buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "control/stream.h"
#include "core/ev.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "pki.h"
#include "proto/record.h"

enum { NREQ = 200, ANSWER_LEN = 4000, LIMIT = 16 * 1024, TYPE_REQ = 200, TYPE_ANS = 201 };

static struct {
	struct stream *s;
	unsigned handled;
	bool closed;
	uint8_t answer[ANSWER_LEN];
} srv;

static bool
on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	(void)len;
	assert_int_equal(type, TYPE_REQ);
	assert_int_equal(body[0], (uint8_t)srv.handled);
	srv.answer[0] = (uint8_t)srv.handled++;
	assert_true(stream_send(s, TYPE_ANS, srv.answer, sizeof(srv.answer)));
	return true;
}

static void
on_closed(struct stream *s, const char *why)
{
	(void)s;
	(void)why;
	srv.closed = true;
}

static const struct stream_ops ops = { .on_record = on_record, .on_closed = on_closed };

/* Client side: writes all of buf (bounded: the server's loop runs in between). */
static void
client_write(struct ev_loop *loop, struct tls_conn *c, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	for (int i = 0; i < 10000 && off < len; i++) {
		uint32_t want;
		ssize_t n = tls_conn_write(c, buf + off, len - off, &want);

		if (n > 0)
			off += (size_t)n;
		else
			assert_int_equal(n, -EAGAIN);
		ev_run_once(loop, 0);
	}
	assert_int_equal(off, len);
}

static void
test_stream_backpressure_bounds_output(void **state)
{
	struct test_pki pki;
	struct tls_ctx *sctx, *cctx;
	struct tls_conn *c;
	struct ev_loop *loop;
	uint8_t reqs[NREQ * (RECORD_HDR_LEN + 1)], *in;
	size_t inlen = 0, want_len = (size_t)NREQ * (RECORD_HDR_LEN + ANSWER_LEN) + 30006;
	int sv[2], rc = -EAGAIN, small = 4096;
	uint32_t want;
	unsigned answers = 0;
	bool pushed = false;

	(void)state;
	test_pki_setup(&pki, "stream");
	assert_int_equal(cert_key_new(test_pki_path(&pki, "s.key"), NULL), 0);
	assert_int_equal(cert_sign(test_pki_path(&pki, "a.key"), test_pki_path(&pki, "a.crt"),
				   test_pki_path(&pki, "s.key"), "server@a.example.com",
				   pki.now - 60, pki.now + 86400, test_pki_path(&pki, "s.crt")),
			 0);
	assert_int_equal(tls_ctx_new_flags(&sctx, test_pki_path(&pki, "s.key"),
					   test_pki_path(&pki, "s.crt"), pki.trust,
					   TLS_CTX_PEER_CERT_OPTIONAL),
			 0);
	assert_int_equal(tls_ctx_new_flags(&cctx, NULL, NULL, NULL, TLS_CTX_NO_VERIFY), 0);
	assert_int_equal(ev_loop_new(&loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(stream_new(&srv.s, loop, sctx, sv[0], false, NULL, NULL, &ops, NULL), 0);
	stream_set_backpressure(srv.s, LIMIT);
	assert_int_equal(tls_conn_new(&c, cctx, sv[1], true, NULL), 0);
	for (int i = 0; i < 1000 && rc == -EAGAIN; i++) {
		rc = tls_conn_handshake(c, &want);
		ev_run_once(loop, 0);
	}
	assert_int_equal(rc, 0);

	for (unsigned i = 0; i < NREQ; i++) {
		struct record_hdr h = { .type = TYPE_REQ, .len = 1 };

		record_hdr_encode(reqs + i * (RECORD_HDR_LEN + 1), &h);
		reqs[i * (RECORD_HDR_LEN + 1) + RECORD_HDR_LEN] = (uint8_t)i;
	}
	client_write(loop, c, reqs, sizeof(reqs));
	for (int i = 0; i < 200; i++)
		ev_run_once(loop, 1);
	/* Stopped: far fewer answered than asked, output near the limit. */
	assert_false(srv.closed);
	assert_true(srv.handled < NREQ / 2);
	assert_true(stream_pending_output(srv.s) > LIMIT);
	assert_true(stream_pending_output(srv.s) <= LIMIT + RECORD_HDR_LEN + ANSWER_LEN);
	/* What the owner sends on its own still fits. */
	memset(srv.answer, 0xee, sizeof(srv.answer));
	{
		static uint8_t push[30000];

		push[0] = 0xab;
		pushed = stream_send(srv.s, TYPE_ANS + 1, push, sizeof(push));
	}
	assert_true(pushed);

	/* The client reads everything: every request gets its answer, in order. */
	in = malloc(want_len + 65536);
	assert_non_null(in);
	for (int i = 0; i < 100000 && inlen < want_len; i++) {
		ssize_t n = tls_conn_read(c, in + inlen, want_len + 65536 - inlen, &want);

		if (n > 0)
			inlen += (size_t)n;
		else
			assert_int_equal(n, -EAGAIN);
		ev_run_once(loop, 0);
	}
	assert_int_equal(inlen, want_len);
	assert_int_equal(srv.handled, NREQ);
	for (size_t off = 0; off < inlen;) {
		struct record_hdr h;

		assert_true(record_hdr_decode(in + off, inlen - off, &h));
		if (h.type == TYPE_ANS)
			assert_int_equal(in[off + RECORD_HDR_LEN], (uint8_t)answers++);
		off += RECORD_HDR_LEN + h.len;
	}
	assert_int_equal(answers, NREQ);
	assert_int_equal(stream_pending_output(srv.s), 0);

	free(in);
	stream_close(srv.s, "done");
	for (int i = 0; i < 3; i++)
		ev_run_once(loop, 0);
	tls_conn_free(c);
	close(sv[1]);
	ev_loop_free(loop);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	test_pki_teardown(&pki);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_backpressure_bounds_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
