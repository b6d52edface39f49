// SPDX-License-Identifier: MIT
/*
 * The userspace pieces put together the way the agent will (docs/userspace.md): a SOCKS5
 * client asks the SOCKS5 server (socks/server.h) for bob.at.b.example.com:22; the server's
 * connect is answered through netstack_connect on stack A, whose packets go over a lossless
 * wire (support/wire.h) to stack B in a forked child (lwIP is one per process), where a
 * listener on port 22 echoes. The client sends 256 KiB, gets the same bytes back, shuts down
 * its side and sees EOF; everything is gone at the end on both sides. A name the glue does not
 * know is refused with reply 4 before anything is dialed. The glue here (name -> address,
 * netstack_connect -> socks_server_connected, cancel) is the one the agent needs.
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ev.h"
#include "netstack/netstack.h"
#include "socks/server.h"
#include "support/wire.h"

enum { XFER = 256 * 1024, DEADLINE_MS = 30000, PORT = 22 };

static const uint8_t A4[4] = { 100, 64, 0, 1 }, B4[4] = { 100, 64, 0, 2 };
static const uint8_t A6[16] = { 0xfd, 0, 0x12, 0x34, 0x56, 0x78, [15] = 1 };
static const uint8_t B6[16] = { 0xfd, 0, 0x12, 0x34, 0x56, 0x78, [15] = 2 };

struct stack {
	struct ev_loop *loop;
	struct netstack *ns;
	struct wire wire;
	struct ev_io wire_io;
};

static void
wire_output(void *arg, const uint8_t *pkt, size_t len)
{
	struct stack *s = arg;

	wire_send(&s->wire, pkt, len);
}

static void
wire_on_packet(void *arg, const uint8_t *pkt, size_t len)
{
	struct stack *s = arg;

	netstack_input(s->ns, pkt, len);
}

static void
wire_on_ready(struct ev_io *io, uint32_t revents)
{
	struct stack *s = container_of(io, struct stack, wire_io);

	for (int i = 0; i < 16; i++) {
		if (!wire_recv(&s->wire, wire_on_packet, s)) {
			ev_io_stop(s->loop, io); /* the other side is gone */
			break;
		}
	}
}

static int
stack_new(struct stack *s, int wire, const uint8_t *a4, const uint8_t *a6)
{
	struct netstack_config cfg = { .prefix4 = 10, .prefix6 = 48, .mtu = 1420 };
	struct netstack_ops ops = { .output = wire_output };

	memset(s, 0, sizeof(*s));
	wire_init(&s->wire, wire);
	memcpy(&cfg.addr4, a4, 4);
	memcpy(&cfg.addr6, a6, 16);
	if (ev_loop_new(&s->loop) < 0 || netstack_new(&s->ns, s->loop, &cfg, &ops, s) < 0)
		return -1;
	return ev_io_start(s->loop, &s->wire_io, wire, EV_READ, wire_on_ready);
}

static void
stack_free(struct stack *s)
{
	ev_io_stop(s->loop, &s->wire_io);
	netstack_free(s->ns);
	ev_loop_free(s->loop);
}

/* ---- the child: stack B, an echo on port 22 ----------------------------------------------- */

struct echo {
	struct stack *s;
	int fd;
	struct ev_io io;
	uint8_t buf[65536];
	size_t len, off;
	bool eof, shut;
};

static void
echo_on_ready(struct ev_io *io, uint32_t revents)
{
	struct echo *e = container_of(io, struct echo, io);
	ssize_t n;

	if (e->off < e->len && (n = write(e->fd, e->buf + e->off, e->len - e->off)) > 0)
		e->off += (size_t)n;
	if (e->off == e->len && !e->eof) {
		e->off = 0;
		n = read(e->fd, e->buf, sizeof(e->buf));
		e->len = n > 0 ? (size_t)n : 0;
		e->eof = n == 0;
	}
	if (e->eof && e->off == e->len && !e->shut) {
		shutdown(e->fd, SHUT_WR);
		e->shut = true;
	}
	ev_io_set_events(e->s->loop, io, e->shut ? 0 : (e->off < e->len ? EV_WRITE : EV_READ));
}

static void
echo_on_accept(void *arg, int fd, const struct sockaddr_storage *from,
	       const struct sockaddr_storage *to)
{
	struct echo *e = arg;

	if (e->fd >= 0) {
		close(fd);
		return;
	}
	e->fd = fd;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ev_io_start(e->s->loop, &e->io, fd, EV_READ, echo_on_ready);
}

static void __attribute__((noreturn)) child_echo(int wire)
{
	struct stack s;
	struct echo e = { .s = &s, .fd = -1 };
	uint64_t end;

	if (stack_new(&s, wire, B4, B6) < 0 || netstack_listen(s.ns, PORT, echo_on_accept, &e) < 0)
		_exit(2);
	end = ev_clock_ms() + DEADLINE_MS;
	while (!(e.shut && netstack_conns(s.ns) == 0) && ev_clock_ms() < end)
		ev_run_once(s.loop, 100);
	_exit(e.shut && netstack_conns(s.ns) == 0 ? 0 : 3);
}

/* ---- the parent: stack A, the SOCKS5 server and the agent's glue -------------------------- */

struct dial {
	struct socks_server *srv;
	struct socks_client *c;
	int fd;
	bool cancelled;
};

struct parent {
	struct stack s;
	struct socks_server *srv;
	struct dial dial;
	int dials;
};

static void
dial_on_connected(void *arg, int err)
{
	struct dial *d = arg;
	struct sockaddr_storage bound = { .ss_family = AF_INET };

	if (d->cancelled) {
		close(d->fd);
		return;
	}
	if (err < 0) {
		close(d->fd);
		socks_server_connected(
		    d->srv, d->c, -1,
		    err == -ECONNREFUSED ? SOCKS_REP_CONN_REFUSED : SOCKS_REP_HOST_UNREACH, NULL);
		return;
	}
	memcpy(&((struct sockaddr_in *)&bound)->sin_addr, A4, 4);
	socks_server_connected(d->srv, d->c, d->fd, 0, &bound);
}

/* The agent's part: a name to the peer's overlay address, then a dial on the stack. */
static void
glue_connect(void *arg, struct socks_client *c, const struct socks_request *r)
{
	struct parent *p = arg;
	struct sockaddr_storage to = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&to;

	if (r->atyp != SOCKS_ATYP_NAME || strcmp(r->name.user, "bob") != 0 ||
	    strcmp(r->name.domain, "b.example.com") != 0) {
		socks_server_connected(p->srv, c, -1, SOCKS_REP_HOST_UNREACH, NULL);
		return;
	}
	s4->sin_family = AF_INET;
	memcpy(&s4->sin_addr, B4, 4);
	s4->sin_port = htons(r->port);
	p->dials++;
	p->dial = (struct dial){ .srv = p->srv, .c = c };
	if (netstack_connect(p->s.ns, &to, dial_on_connected, &p->dial, &p->dial.fd) < 0)
		socks_server_connected(p->srv, c, -1, SOCKS_REP_GENERAL_FAILURE, NULL);
}

static void
glue_cancel(void *arg, struct socks_client *c)
{
	struct parent *p = arg;

	p->dial.cancelled = true;
}

static void
send_request(int fd, const char *name)
{
	uint8_t m[300] = { 5, 1, 0, 5, 1, 0, 3 };
	size_t n = strlen(name);

	m[7] = (uint8_t)n;
	memcpy(m + 8, name, n);
	m[8 + n] = 0;
	m[9 + n] = PORT;
	assert_int_equal(write(fd, m, 10 + n), (ssize_t)(10 + n));
}

/* Reads n bytes from the client's end, stepping the loop, within the deadline. */
static void
client_read(struct parent *p, int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	for (uint64_t end = ev_clock_ms() + DEADLINE_MS; got < n && ev_clock_ms() < end;) {
		ssize_t r = recv(fd, buf + got, n - got, MSG_DONTWAIT);

		if (r > 0)
			got += (size_t)r;
		else
			ev_run_once(p->s.loop, 10);
	}
	assert_int_equal(got, n);
}

static void
test_socks_netstack_echo(void **state)
{
	static const struct socks_server_ops ops = { .connect = glue_connect,
						     .cancel = glue_cancel };
	static uint8_t out[XFER], in[XFER];
	const uint8_t method[] = { 5, 0 }, reply[] = { 5, 0, 0, 1, 100, 64, 0, 1, 0, 0 };
	struct parent p = { 0 };
	int wire[2], cl[2], status;
	size_t sent = 0, got = 0;
	uint8_t buf[16];
	pid_t pid;

	assert_int_equal(wire_pair(wire), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(wire[0]);
		child_echo(wire[1]);
	}
	close(wire[1]);
	assert_int_equal(stack_new(&p.s, wire[0], A4, A6), 0);
	assert_int_equal(socks_server_new(&p.srv, p.s.loop, &ops, &p), 0);

	/* A name nobody knows: refused, nothing dialed. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, cl), 0);
	assert_int_equal(socks_server_accept(p.srv, cl[1]), 0);
	send_request(cl[0], "carol.at.c.example.com");
	client_read(&p, cl[0], buf, 12);
	assert_memory_equal(buf, method, 2);
	assert_int_equal(buf[3], SOCKS_REP_HOST_UNREACH);
	assert_int_equal(p.dials, 0);
	close(cl[0]);

	/* Bob: dialed through stack A, echoed by stack B. The child may not listen yet at
	 * the first SYN: then the reply is 5 (refused) and the client asks again. */
	for (int attempt = 0; attempt < 50; attempt++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, cl), 0);
		assert_int_equal(socks_server_accept(p.srv, cl[1]), 0);
		send_request(cl[0], "bob.at.b.example.com");
		client_read(&p, cl[0], buf, 12);
		assert_memory_equal(buf, method, 2);
		if (buf[3] == SOCKS_REP_SUCCEEDED)
			break;
		assert_int_equal(buf[3], SOCKS_REP_CONN_REFUSED);
		close(cl[0]);
		cl[0] = -1;
	}
	assert_true(cl[0] >= 0);
	assert_memory_equal(buf + 2, reply, 8); /* BND.ADDR: stack A's address */

	for (size_t i = 0; i < XFER; i++)
		out[i] = (uint8_t)(i * 2654435761u >> 11);
	fcntl(cl[0], F_SETFL, O_NONBLOCK);
	for (uint64_t end = ev_clock_ms() + DEADLINE_MS; got < XFER && ev_clock_ms() < end;) {
		ssize_t n;

		if (sent < XFER && (n = write(cl[0], out + sent, XFER - sent)) > 0)
			sent += (size_t)n;
		if ((n = read(cl[0], in + got, XFER - got)) > 0)
			got += (size_t)n;
		ev_run_once(p.s.loop, 1);
	}
	assert_int_equal(got, XFER);
	assert_memory_equal(in, out, XFER);

	/* Our EOF goes all the way to the echo, whose EOF comes back. */
	shutdown(cl[0], SHUT_WR);
	for (uint64_t end = ev_clock_ms() + DEADLINE_MS;
	     (socks_server_clients(p.srv) > 0 || netstack_conns(p.s.ns) > 0) &&
	     ev_clock_ms() < end;)
		ev_run_once(p.s.loop, 10);
	assert_int_equal(recv(cl[0], buf, 1, MSG_DONTWAIT), 0);
	assert_int_equal(socks_server_clients(p.srv), 0);
	assert_int_equal(netstack_conns(p.s.ns), 0);
	assert_int_equal(p.s.wire.drops, 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(cl[0]);
	socks_server_free(p.srv);
	stack_free(&p.s);
	close(wire[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socks_netstack_echo),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
