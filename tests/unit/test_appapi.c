// SPDX-License-Identifier: MIT
/*
 * The application interface (appapi/appapi.h): the request and answer grammar, and the server
 * on a real UNIX socket in a temporary directory with fake ops: a connect answered later with
 * a descriptor (a pipe's end, received and used), a listen with deliveries, refusals, garbage,
 * a second request on one connection, a client gone with its connect under way.
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
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "appapi/appapi.h"
#include "core/ev.h"

/* --- the grammar --- */

static bool
req(const char *line, struct appapi_request *r, const char **why)
{
	return appapi_parse_request(line, strlen(line), r, why);
}

static void
test_appapi_parse_request(void **state)
{
	struct appapi_request r;
	const char *why = NULL;

	assert_true(req("connect Bob@B.Example.com/chat", &r, &why));
	assert_int_equal(r.verb, APPAPI_CONNECT);
	assert_string_equal(r.peer, "bob@b.example.com");
	assert_string_equal(r.purpose, "chat");
	assert_true(req("listen ssh", &r, &why));
	assert_int_equal(r.verb, APPAPI_LISTEN);
	assert_string_equal(r.purpose, "ssh");
	assert_string_equal(r.peer, "");

	assert_false(req("connect bob@b.example.com", &r, &why));
	assert_true(req("connect bob@b.example.com/Chat", &r, &why)); /* names fold */
	assert_string_equal(r.purpose, "chat");
	assert_false(req("connect bob@b.example.com/ch_at", &r, &why));
	assert_false(req("connect", &r, &why));
	assert_string_equal(why, "connect takes one USER@DOMAIN/PURPOSE");
	assert_false(req("connect  bob@b.example.com/chat", &r, &why));
	assert_string_equal(why, "words are separated by exactly one space");
	assert_false(req("connect bob@b.example.com/chat ", &r, &why));
	assert_false(req("connect a@b.c/chat extra", &r, &why));
	assert_false(req("listen", &r, &why));
	assert_false(req("listen chat more", &r, &why));
	assert_false(req("listen CHAT", &r, &why));
	assert_string_equal(why, "a purpose is 1-32 characters from a-z 0-9 -");
	assert_false(req("listen chat\r", &r, &why));
	assert_string_equal(why, "line contains a byte that is not printable ASCII");
	assert_false(req("", &r, &why));
	assert_string_equal(why, "empty line");
	assert_false(req("hello world", &r, &why));
	assert_string_equal(why, "unknown verb (connect or listen)");
	assert_false(appapi_parse_request("listen c\0hat", 11, &r, &why));
	assert_string_equal(why, "line contains a NUL byte");
}

static void
test_appapi_parse_request_long(void **state)
{
	char line[APPAPI_LINE_MAX + 1];
	struct appapi_request r;
	const char *why;

	memset(line, 'a', sizeof(line));
	memcpy(line, "listen ", 7);
	assert_false(appapi_parse_request(line, APPAPI_LINE_MAX, &r, &why));
	assert_string_equal(why, "line longer than 511 bytes");
	assert_false(appapi_parse_request(line, APPAPI_LINE_MAX - 1, &r, &why));
	assert_string_equal(why, "a purpose is 1-32 characters from a-z 0-9 -");
}

static bool
ans(const char *line, struct appapi_answer *a)
{
	return appapi_parse_answer(line, strlen(line), a);
}

static void
test_appapi_answers(void **state)
{
	struct appapi_answer a;
	char buf[APPAPI_LINE_MAX];
	size_t n;

	n = appapi_format_connected(buf, sizeof(buf), "100.64.0.2", 7000);
	assert_string_equal(buf, "ok 100.64.0.2 7000\n");
	assert_true(appapi_parse_answer(buf, n - 1, &a));
	assert_int_equal(a.kind, APPAPI_ANSWER_OK);
	assert_string_equal(a.addr, "100.64.0.2");
	assert_int_equal(a.port, 7000);

	appapi_format_listening(buf, sizeof(buf), "chat");
	assert_string_equal(buf, "ok chat\n");
	assert_true(ans("ok chat", &a));
	assert_string_equal(a.purpose, "chat");

	appapi_format_accept(buf, sizeof(buf), "alice@a.example.com", "fd00::7", 41234);
	assert_string_equal(buf, "accept alice@a.example.com fd00::7 41234\n");
	assert_true(ans("accept alice@a.example.com fd00::7 41234", &a));
	assert_int_equal(a.kind, APPAPI_ANSWER_ACCEPT);
	assert_string_equal(a.peer, "alice@a.example.com");
	assert_int_equal(a.port, 41234);

	n = appapi_format_error(buf, sizeof(buf), APPAPI_E_NOT_APPROVED, "bob  has\tnot");
	assert_string_equal(buf, "error not-approved bob  has?not\n");
	assert_true(appapi_parse_answer(buf, n - 1, &a));
	assert_int_equal(a.kind, APPAPI_ANSWER_ERROR);
	assert_int_equal(a.code, APPAPI_E_NOT_APPROVED);
	assert_string_equal(a.message, "bob  has?not");
	appapi_format_error(buf, sizeof(buf), APPAPI_E_TIMEOUT, "");
	assert_string_equal(buf, "error timeout -\n");
	assert_true(ans("error some-new-code later versions may say more", &a));
	assert_int_equal(a.code, 0);
	assert_string_equal(a.code_name, "some-new-code");

	assert_false(ans("ok 100.64.0.2 0", &a));
	assert_false(ans("ok 100.64.0.2 65536", &a));
	assert_false(ans("ok 100.64.0.2 07000", &a));
	assert_false(ans("ok host.example 22", &a));
	assert_false(ans("accept alice 100.64.0.7 1", &a));
	assert_false(ans("accept alice@a.example.com/chat 100.64.0.7 1", &a));
	assert_false(ans("ok", &a));
	assert_false(ans("error", &a));
	assert_false(ans("fine thanks", &a));
}

static void
test_appapi_default_path(void **state)
{
	char out[64];

	assert_int_equal(appapi_default_path("/run/vertex/vertexd.sock", out, sizeof(out)), 0);
	assert_string_equal(out, "/run/vertex/vertexd-app.sock");
	assert_int_equal(appapi_default_path("/tmp/ctl", out, sizeof(out)), 0);
	assert_string_equal(out, "/tmp/ctl-app");
	assert_int_equal(appapi_default_path("/tmp/.sock", out, sizeof(out)), 0);
	assert_string_equal(out, "/tmp/-app.sock");
	assert_int_equal(appapi_default_path("/a/b.sock", out, 9), -ENAMETOOLONG);
}

/* --- the server --- */

struct fake {
	struct ev_loop *loop;
	struct appapi *api;
	char dir[64], path[128];
	struct appapi_client *pending, *listener;
	int connects, listens, gone;
	int connect_code, listen_code;
};

static int
fake_connect(void *arg, struct appapi_client *c, const char *peer, const char *purpose, char *why,
	     size_t whylen)
{
	struct fake *f = arg;

	f->connects++;
	if (f->connect_code) {
		snprintf(why, whylen, "%s has not approved %s for us", peer, purpose);
		return f->connect_code;
	}
	f->pending = c;
	appapi_client_set_data(c, f);
	return 0;
}

static int
fake_listen(void *arg, struct appapi_client *c, const char *purpose, char *why, size_t whylen)
{
	struct fake *f = arg;

	f->listens++;
	if (f->listen_code) {
		snprintf(why, whylen, "another program listens on %s", purpose);
		return f->listen_code;
	}
	f->listener = c;
	return 0;
}

static void
fake_gone(void *arg, struct appapi_client *c)
{
	struct fake *f = arg;

	f->gone++;
	if (c == f->pending)
		f->pending = NULL;
	if (c == f->listener)
		f->listener = NULL;
}

static const struct appapi_ops fake_ops = {
	.connect = fake_connect,
	.listen = fake_listen,
	.gone = fake_gone,
};

static int
setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_appapi.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/app.sock", f->dir);
	assert_int_equal(ev_loop_new(&f->loop), 0);
	assert_int_equal(appapi_new(&f->api, f->loop, f->path, &fake_ops, f), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fake *f = *state;

	appapi_free(f->api);
	assert_int_equal(access(f->path, F_OK), -1); /* the socket file is removed */
	ev_loop_free(f->loop);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int
client(struct fake *f, const char *text)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sun.sun_path, f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (text)
		assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

/* Runs the loop until fd has a line (or EOF); the line into buf, a passed descriptor in *rfd. */
static ssize_t
read_answer(struct fake *f, int fd, char *buf, size_t len, int *rfd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, len - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	for (int i = 0; i < 200; i++) {
		ev_run_once(f->loop, 10);
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0)
			continue;
		buf[n] = '\0';
		*rfd = -1;
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_type == SCM_RIGHTS)
			memcpy(rfd, CMSG_DATA(cm), sizeof(int));
		return n;
	}
	fail_msg("no answer");
	return -1;
}

static void
test_appapi_connect_passes_fd(void **state)
{
	struct fake *f = *state;
	char buf[APPAPI_LINE_MAX], got[8];
	int fd = client(f, "connect bob@b.example.com/chat\n"), rfd, p[2];

	for (int i = 0; i < 50 && !f->pending; i++)
		ev_run_once(f->loop, 10);
	assert_non_null(f->pending);
	assert_ptr_equal(appapi_client_data(f->pending), f);
	assert_int_equal(pipe(p), 0);
	appapi_connected(f->pending, p[0], "100.64.0.2", 7000);
	f->pending = NULL;
	assert_int_equal(read_answer(f, fd, buf, sizeof(buf), &rfd), 19);
	assert_string_equal(buf, "ok 100.64.0.2 7000\n");
	assert_true(rfd >= 0);
	/* The descriptor is the pipe's read end: what goes in comes out of it. */
	assert_int_equal(write(p[1], "hi", 2), 2);
	assert_int_equal(read(rfd, got, sizeof(got)), 2);
	/* Then the daemon closes: one request per connection. */
	assert_int_equal(read_answer(f, fd, buf, sizeof(buf), &rfd), 0);
	assert_int_equal(f->gone, 0);
	close(p[1]);
	close(fd);
}

static void
test_appapi_connect_refused_now(void **state)
{
	struct fake *f = *state;
	char buf[APPAPI_LINE_MAX];
	int fd = client(f, "connect bob@b.example.com/chat\n"), rfd;

	f->connect_code = APPAPI_E_NOT_APPROVED;
	read_answer(f, fd, buf, sizeof(buf), &rfd);
	assert_string_equal(buf,
			    "error not-approved bob@b.example.com has not approved chat for us\n");
	assert_int_equal(rfd, -1);
	close(fd);
}

static void
test_appapi_garbage(void **state)
{
	struct fake *f = *state;
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\n",
		"connect\n",
		"\x01\x02\x03\n",
		"listen chat\nlisten chat\n",
	};
	char buf[APPAPI_LINE_MAX], big[2048];
	int fd, rfd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = client(f, bad[i]);
		assert_true(read_answer(f, fd, buf, sizeof(buf), &rfd) > 0);
		assert_memory_equal(buf, "error bad-request ", 18);
		assert_int_equal(read_answer(f, fd, buf, sizeof(buf), &rfd), 0);
		close(fd);
	}
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	fd = client(f, big);
	read_answer(f, fd, buf, sizeof(buf), &rfd);
	assert_string_equal(buf, "error bad-request line longer than 511 bytes\n");
	close(fd);
	assert_int_equal(f->connects + f->listens, 0);
	assert_int_equal(appapi_stats(f->api)->bad_requests, 5);
}

static void
test_appapi_listen_and_deliver(void **state)
{
	struct fake *f = *state;
	char buf[APPAPI_LINE_MAX];
	int fd = client(f, "listen chat\n"), rfd, p[2];

	read_answer(f, fd, buf, sizeof(buf), &rfd);
	assert_string_equal(buf, "ok chat\n");
	assert_non_null(f->listener);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pipe(p), 0);
		assert_true(appapi_deliver(f->listener, p[0], "alice@a.example.com", "100.64.0.7",
					   (uint16_t)(41234 + i)));
		read_answer(f, fd, buf, sizeof(buf), &rfd);
		assert_true(rfd >= 0);
		assert_int_equal(strncmp(buf, "accept alice@a.example.com 100.64.0.7 4123", 42), 0);
		close(rfd);
		close(p[1]);
	}
	/* A queue that is never read fills up: further connections are closed, not queued. */
	for (int i = 0; i < APPAPI_QUEUE_MAX + 4; i++) {
		assert_int_equal(pipe(p), 0);
		close(p[1]);
		if (!appapi_deliver(f->listener, p[0], "alice@a.example.com", "100.64.0.7", 1))
			break;
	}
	assert_true(appapi_stats(f->api)->dropped_queue >= 1);
	/* The program goes: the listen ends. */
	close(fd);
	for (int i = 0; i < 50 && f->listener; i++)
		ev_run_once(f->loop, 10);
	assert_null(f->listener);
	assert_int_equal(f->gone, 1);
}

static void
test_appapi_bytes_after_listen(void **state)
{
	struct fake *f = *state;
	char buf[APPAPI_LINE_MAX];
	int fd = client(f, "listen chat\n"), rfd;

	read_answer(f, fd, buf, sizeof(buf), &rfd);
	assert_string_equal(buf, "ok chat\n");
	assert_int_equal(write(fd, "more\n", 5), 5);
	read_answer(f, fd, buf, sizeof(buf), &rfd);
	assert_memory_equal(buf, "error bad-request one request per connection", 44);
	assert_null(f->listener);
	assert_int_equal(f->gone, 1);
	close(fd);
}

static void
test_appapi_gone_while_pending(void **state)
{
	struct fake *f = *state;
	int fd = client(f, "connect bob@b.example.com/chat\n");

	for (int i = 0; i < 50 && !f->pending; i++)
		ev_run_once(f->loop, 10);
	assert_non_null(f->pending);
	close(fd);
	for (int i = 0; i < 50 && f->pending; i++)
		ev_run_once(f->loop, 10);
	assert_null(f->pending);
	assert_int_equal(f->gone, 1);
}

static void
test_appapi_free_with_clients(void **state)
{
	struct fake *f = *state;
	int a = client(f, "connect bob@b.example.com/chat\n"), b = client(f, "listen chat\n");

	for (int i = 0; i < 50 && !(f->pending && f->listener); i++)
		ev_run_once(f->loop, 10);
	assert_non_null(f->pending);
	assert_non_null(f->listener);
	appapi_free(f->api);
	assert_int_equal(f->gone, 2);
	assert_int_equal(appapi_new(&f->api, f->loop, f->path, &fake_ops, f), 0);
	close(a);
	close(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appapi_parse_request),
		cmocka_unit_test(test_appapi_parse_request_long),
		cmocka_unit_test(test_appapi_answers),
		cmocka_unit_test(test_appapi_default_path),
		cmocka_unit_test_setup_teardown(test_appapi_connect_passes_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appapi_connect_refused_now, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appapi_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appapi_listen_and_deliver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appapi_bytes_after_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appapi_gone_while_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appapi_free_with_clients, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
