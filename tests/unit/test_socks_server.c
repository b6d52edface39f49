// SPDX-License-Identifier: MIT
/*
 * The SOCKS5 server over descriptors (socks/server.h), on a loop whose clock the test holds:
 * a client and a target are each a socketpair the test drives. Covers: greeting and CONNECT
 * answered, the destination handed to connect, then 1 MiB spliced each way, bytes sent behind
 * the request reaching the target first, EOF passed on each way and the client gone after
 * both; the same handshake sent one byte at a time; a refused connect answered with its code;
 * no acceptable method (0xff); BIND refused (7); the handshake deadline, with a connect in
 * flight cancelled; the client limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ev.h"
#include "socks/server.h"
#include "support/steps.h"

struct fixture {
	struct ev_loop *loop;
	struct socks_server *srv;
	uint64_t now;
	int cl, tg;                   /* the test's ends: client, target */
	struct socks_client *pending; /* a connect not answered yet */
	struct socks_request req;
	int connects, cancels;
	bool answer_now, refuse;
};

static uint64_t
fake_clock(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static void
on_connect(void *arg, struct socks_client *c, const struct socks_request *r)
{
	struct fixture *f = arg;
	struct sockaddr_storage bound;
	struct sockaddr_in *b4 = (struct sockaddr_in *)&bound;
	int sv[2];

	f->connects++;
	f->req = *r;
	if (!f->answer_now) {
		f->pending = c;
		return;
	}
	if (f->refuse) {
		socks_server_connected(f->srv, c, -1, SOCKS_REP_CONN_REFUSED, NULL);
		return;
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->tg = sv[0];
	memset(&bound, 0, sizeof(bound));
	b4->sin_family = AF_INET;
	b4->sin_addr.s_addr = htonl(0x64400001);
	b4->sin_port = htons(40000);
	socks_server_connected(f->srv, c, sv[1], 0, &bound);
}

static void
on_cancel(void *arg, struct socks_client *c)
{
	struct fixture *f = arg;

	assert_ptr_equal(c, f->pending);
	f->pending = NULL;
	f->cancels++;
}

static int
setup(void **state)
{
	static const struct socks_server_ops ops = { .connect = on_connect, .cancel = on_cancel };
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	f->now = 1000;
	f->tg = -1;
	f->answer_now = true;
	assert_int_equal(ev_loop_new(&f->loop), 0);
	ev_loop_set_clock(f->loop, fake_clock, f);
	assert_int_equal(socks_server_new(&f->srv, f->loop, &ops, f), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->cl = sv[0];
	assert_int_equal(socks_server_accept(f->srv, sv[1]), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	socks_server_free(f->srv);
	ev_loop_free(f->loop);
	close(f->cl);
	if (f->tg >= 0)
		close(f->tg);
	free(f);
	return 0;
}

static const uint8_t GREETING[] = { 5, 1, 0 };
static const uint8_t CONNECT_NAME[] = { 5,   1,   0,   3,   20,  'b', 'o', 'b', '.',
					'a', 't', '.', 'b', '.', 'e', 'x', 'a', 'm',
					'p', 'l', 'e', '.', 'c', 'o', 'm', 0,   22 };

/* Reads exactly n bytes from fd within the loop's bounded steps. */
static void
read_exact(struct fixture *f, int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 2000 && got < n; i++) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r > 0)
			got += (size_t)r;
		else
			assert_int_equal(ev_run_once(f->loop, 5), 0);
	}
	assert_int_equal(got, n);
}

static bool
is_eof(int fd)
{
	uint8_t b;

	return recv(fd, &b, 1, MSG_DONTWAIT) == 0;
}

static void
expect_bytes(struct fixture *f, int fd, const uint8_t *want, size_t n)
{
	uint8_t buf[64];

	assert_true(n <= sizeof(buf));
	read_exact(f, fd, buf, n);
	assert_memory_equal(buf, want, n);
}

static const uint8_t METHOD_OK[] = { 5, 0 };
static const uint8_t REPLY_OK[] = { 5, 0, 0, 1, 100, 64, 0, 1, 0x9c, 0x40 };

static void
test_socks_server_connect_splice(void **state)
{
	struct fixture *f = *state;
	enum { BIG = 1 << 20 };
	uint8_t *out = malloc(BIG), *in = malloc(BIG);
	size_t sent = 0, got = 0;

	assert_non_null(out);
	assert_non_null(in);
	/* Greeting, request and early data in one write. */
	assert_int_equal(write(f->cl, GREETING, sizeof(GREETING)), sizeof(GREETING));
	assert_int_equal(write(f->cl, CONNECT_NAME, sizeof(CONNECT_NAME)), sizeof(CONNECT_NAME));
	assert_int_equal(write(f->cl, "early", 5), 5);
	expect_bytes(f, f->cl, METHOD_OK, sizeof(METHOD_OK));
	expect_bytes(f, f->cl, REPLY_OK, sizeof(REPLY_OK));
	assert_int_equal(f->connects, 1);
	assert_int_equal(f->req.atyp, SOCKS_ATYP_NAME);
	assert_string_equal(f->req.name.user, "bob");
	assert_string_equal(f->req.name.domain, "b.example.com");
	assert_int_equal(f->req.port, 22);
	expect_bytes(f, f->tg, (const uint8_t *)"early", 5);

	/* 1 MiB client -> target, through the 64 KiB buffer. */
	for (size_t i = 0; i < BIG; i++)
		out[i] = (uint8_t)(i * 2654435761u >> 13);
	fcntl(f->cl, F_SETFL, O_NONBLOCK);
	fcntl(f->tg, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 100000 && got < BIG; i++) {
		ssize_t n;

		if (sent < BIG && (n = write(f->cl, out + sent, BIG - sent)) > 0)
			sent += (size_t)n;
		if ((n = read(f->tg, in + got, BIG - got)) > 0)
			got += (size_t)n;
		assert_int_equal(ev_run_once(f->loop, 0), 0);
	}
	assert_int_equal(got, BIG);
	assert_memory_equal(in, out, BIG);
	/* And 1 MiB target -> client. */
	sent = got = 0;
	for (int i = 0; i < 100000 && got < BIG; i++) {
		ssize_t n;

		if (sent < BIG && (n = write(f->tg, out + sent, BIG - sent)) > 0)
			sent += (size_t)n;
		if ((n = read(f->cl, in + got, BIG - got)) > 0)
			got += (size_t)n;
		assert_int_equal(ev_run_once(f->loop, 0), 0);
	}
	assert_int_equal(got, BIG);
	assert_memory_equal(in, out, BIG);

	/* EOF each way, then the client is gone. */
	shutdown(f->cl, SHUT_WR);
	RUN_UNTIL(f->loop, is_eof(f->tg));
	assert_int_equal(socks_server_clients(f->srv), 1);
	shutdown(f->tg, SHUT_WR);
	RUN_UNTIL(f->loop, is_eof(f->cl));
	assert_int_equal(socks_server_clients(f->srv), 0);
	free(out);
	free(in);
}

static void
test_socks_server_byte_by_byte(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(GREETING); i++) {
		assert_int_equal(write(f->cl, GREETING + i, 1), 1);
		assert_int_equal(ev_run_once(f->loop, 0), 0);
	}
	expect_bytes(f, f->cl, METHOD_OK, sizeof(METHOD_OK));
	for (size_t i = 0; i < sizeof(CONNECT_NAME); i++) {
		assert_int_equal(f->connects, 0);
		assert_int_equal(write(f->cl, CONNECT_NAME + i, 1), 1);
		assert_int_equal(ev_run_once(f->loop, 0), 0);
	}
	expect_bytes(f, f->cl, REPLY_OK, sizeof(REPLY_OK));
	assert_int_equal(f->connects, 1);
}

static void
test_socks_server_refused(void **state)
{
	struct fixture *f = *state;
	const uint8_t reply[] = { 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };

	f->refuse = true;
	assert_int_equal(write(f->cl, GREETING, sizeof(GREETING)), sizeof(GREETING));
	assert_int_equal(write(f->cl, CONNECT_NAME, sizeof(CONNECT_NAME)), sizeof(CONNECT_NAME));
	expect_bytes(f, f->cl, METHOD_OK, sizeof(METHOD_OK));
	expect_bytes(f, f->cl, reply, sizeof(reply));
	RUN_UNTIL(f->loop, is_eof(f->cl));
	assert_int_equal(socks_server_clients(f->srv), 0);
}

static void
test_socks_server_no_method(void **state)
{
	struct fixture *f = *state;
	const uint8_t userpass[] = { 5, 1, 2 }, none[] = { 5, 0xff };

	assert_int_equal(write(f->cl, userpass, sizeof(userpass)), sizeof(userpass));
	expect_bytes(f, f->cl, none, sizeof(none));
	RUN_UNTIL(f->loop, is_eof(f->cl));
	assert_int_equal(f->connects, 0);
	assert_int_equal(socks_server_clients(f->srv), 0);
}

static void
test_socks_server_bind_refused(void **state)
{
	struct fixture *f = *state;
	const uint8_t bind[] = { 5, 2, 0, 1, 0, 0, 0, 0, 0, 0 };
	const uint8_t reply[] = { 5, 7, 0, 1, 0, 0, 0, 0, 0, 0 };

	assert_int_equal(write(f->cl, GREETING, sizeof(GREETING)), sizeof(GREETING));
	assert_int_equal(write(f->cl, bind, sizeof(bind)), sizeof(bind));
	expect_bytes(f, f->cl, METHOD_OK, sizeof(METHOD_OK));
	expect_bytes(f, f->cl, reply, sizeof(reply));
	RUN_UNTIL(f->loop, is_eof(f->cl));
	assert_int_equal(f->connects, 0);
}

static void
test_socks_server_deadline(void **state)
{
	struct fixture *f = *state;
	int sv[2];

	/* A second client that gets as far as the connect, which never answers. */
	f->answer_now = false;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(socks_server_accept(f->srv, sv[1]), 0);
	assert_int_equal(write(sv[0], GREETING, sizeof(GREETING)), sizeof(GREETING));
	assert_int_equal(write(sv[0], CONNECT_NAME, sizeof(CONNECT_NAME)), sizeof(CONNECT_NAME));
	RUN_UNTIL(f->loop, f->connects == 1);
	f->now += SOCKS_HANDSHAKE_MS - 1;
	assert_int_equal(ev_run_once(f->loop, 0), 0);
	assert_int_equal(socks_server_clients(f->srv), 2);
	f->now += 1;
	assert_int_equal(ev_run_once(f->loop, 0), 0);
	assert_int_equal(socks_server_clients(f->srv), 0);
	assert_int_equal(f->cancels, 1);
	assert_true(is_eof(f->cl)); /* the silent one */
	close(sv[0]);
}

static void
test_socks_server_full(void **state)
{
	struct fixture *f = *state;
	int fds[SOCKS_CLIENTS_MAX], sv[2];

	for (size_t i = 1; i < SOCKS_CLIENTS_MAX; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		fds[i] = sv[0];
		assert_int_equal(socks_server_accept(f->srv, sv[1]), 0);
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(socks_server_accept(f->srv, sv[1]), -EMFILE);
	assert_true(is_eof(sv[0]));
	close(sv[0]);
	assert_int_equal(socks_server_clients(f->srv), SOCKS_CLIENTS_MAX);
	for (size_t i = 1; i < SOCKS_CLIENTS_MAX; i++)
		close(fds[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_socks_server_connect_splice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socks_server_byte_by_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socks_server_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socks_server_no_method, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socks_server_bind_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socks_server_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socks_server_full, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
