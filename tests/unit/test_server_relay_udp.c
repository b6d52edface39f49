// SPDX-License-Identifier: MIT
/*
 * The relay over UDP on a server (daemon/server/relay_udp.c): agents connected over socketpairs
 * (TLS, as in production: the ticket and key come from each connection's exporter) to
 * connections built as serve.c builds them; their datagrams are handed to relay_udp_on_datagram
 * as reflect.c hands them, from addresses of UDP sockets on loopback where the test reads the
 * answers. Bound, paired, approved: a frame passes, to the receiver as a datagram. Refused and
 * counted: an unknown ticket, a source not bound, a BIND with another key or replayed, a handle
 * never paired, a pair with no approval, frames over the pair's rate. A receiver whose BIND is
 * stale gets its frames over TLS again.
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
#include <unistd.h>

#include <cmocka.h>

#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "pki.h"
#include "proto/ctlmsg.h"
#include "crypto/aead.h"
#include "proto/relayudp.h"
#include "server/accounts.h"
#include "server/approvals.h"
#include "server/rdv_int.h"
#include "server/server.h"
#include "steps.h"

#define DOMAIN "a.example.com"
#define ALICE  "alice@a.example.com"
#define BOB    "bob@a.example.com"
#define CAROL  "carol@a.example.com"

enum { T0 = 1000000, NAGENTS = 3, FRAME_LEN = 100 };

struct agent {
	struct sconn *c;       /* the server's side */
	struct stream *client; /* the agent's side */
	bool up;
	size_t tls_frames; /* RELAY_FRAMEs it got over TLS */
	int udp;           /* its data socket */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t ticket, seq;
	uint8_t key[RUDP_KEY_LEN];
};

struct fx {
	struct test_pki pki;
	struct ev_loop *loop;
	uint64_t now;
	struct tls_ctx *server_tls, *client_tls;
	struct server srv;
	int srv_udp;
	struct agent ag[NAGENTS];
};

/* A control datagram with its MAC (as the agent and the server seal them); 0 if m is bad. */
static size_t
relay_udp_seal(uint8_t *out, size_t cap, const struct rudp_ctl *m, const uint8_t key[RUDP_KEY_LEN])
{
	size_t len = rudp_ctl_encode(out, cap, m);

	if (len)
		crypto_mac(out + len - RUDP_MAC_LEN, key, out, len - RUDP_MAC_LEN);
	return len;
}

/* A control datagram's fields, once its layout and its MAC under key are right. */
static bool
relay_udp_open(const uint8_t *buf, size_t len, const uint8_t key[RUDP_KEY_LEN], struct rudp_ctl *m)
{
	return rudp_ctl_decode(buf, len, m) &&
	       crypto_mac_ok(buf + len - RUDP_MAC_LEN, key, buf, len - RUDP_MAC_LEN);
}

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
	rdv_dispatch(c, &m);
	return true;
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
	relay_udp_conn_down(c);
	c->closed = true;
	c->s = NULL;
}

static const struct stream_ops side_ops = { .on_record = side_record, .on_closed = side_closed };

static void
agent_established(struct stream *s)
{
	((struct agent *)stream_arg(s))->up = true;
}

static bool
agent_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	(void)body;
	(void)len;
	if (type == CTL_RELAY_FRAME)
		((struct agent *)stream_arg(s))->tls_frames++;
	return true;
}

static const struct stream_ops agent_ops = { .on_established = agent_established,
					     .on_record = agent_record };

static int
udp_socket(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*len = sizeof(*sin);
	assert_int_equal(bind(fd, (struct sockaddr *)ss, *len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)ss, len), 0);
	return fd;
}

/* a connects as id with role, as serve.c makes the connection once HELLO came; its ticket and
 * key. */
static void
conn_connect(struct fx *f, struct agent *a, const char *id, uint8_t role)
{
	struct sconn *c = calloc(1, sizeof(*c));
	uint8_t ex[RUDP_EXPORT_LEN];
	int sv[2];

	assert_non_null(c);
	a->c = c;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	c->srv = &f->srv;
	snprintf(c->peer, sizeof(c->peer), "%s", id);
	c->hello = true;
	c->role = role;
	assert_int_equal(
	    stream_new(&c->s, f->loop, f->server_tls, sv[1], false, NULL, NULL, &side_ops, c), 0);
	c->next = f->srv.conns;
	f->srv.conns = c;
	assert_int_equal(stream_new(&a->client, f->loop, f->client_tls, sv[0], true,
				    "server@" DOMAIN, NULL, &agent_ops, a),
			 0);
	RUN_UNTIL(f->loop, a->up);
	RUN_UNTIL(f->loop, tls_conn_export(stream_tls(c->s), "x", ex, 1) == 0);
	rdv_agent_up(c);
	relay_udp_conn_up(c);
	assert_non_null(c->rudp);
	assert_int_equal(tls_conn_export(stream_tls(a->client), RUDP_EXPORT_LABEL, ex, sizeof(ex)),
			 0);
	a->ticket = 0;
	for (int i = 0; i < RUDP_TICKET_LEN; i++)
		a->ticket = a->ticket << 8 | ex[i];
	memcpy(a->key, ex + RUDP_TICKET_LEN, RUDP_KEY_LEN);
	a->udp = udp_socket(&a->addr, &a->addrlen);
}

static void
agent_connect(struct fx *f, struct agent *a, const char *id)
{
	conn_connect(f, a, id, CTL_ROLE_AGENT);
}

/* A datagram from `from`'s address, handed to the server as reflect.c does. */
static void
dgram(struct fx *f, const struct agent *from, const uint8_t *buf, size_t len)
{
	relay_udp_on_datagram(&f->srv, f->srv_udp, buf, len, &from->addr, from->addrlen);
	relay_udp_flush(&f->srv); /* as reflect.c does after each batch */
}

/* The next datagram a's socket got, or 0. */
static size_t
agent_recv(struct agent *a, uint8_t *buf, size_t cap)
{
	ssize_t n = recv(a->udp, buf, cap, 0);

	return n > 0 ? (size_t)n : 0;
}

static void
send_ctl2(struct fx *f, struct agent *a, const struct agent *as, uint8_t type, uint16_t handle,
	  const char *from, const char *peer, uint64_t seq)
{
	struct rudp_ctl m = { .h = { .type = type, .handle = handle, .ticket = a->ticket },
			      .seq = seq };
	uint8_t buf[RUDP_PAIR_MAX_LEN];
	size_t len;

	if (from)
		snprintf(m.from, sizeof(m.from), "%s", from);
	if (peer)
		snprintf(m.to, sizeof(m.to), "%s", peer);
	assert_true((len = relay_udp_seal(buf, sizeof(buf), &m, a->key)) > 0);
	dgram(f, as, buf, len);
}

static void
send_ctl(struct fx *f, struct agent *a, const struct agent *as, uint8_t type, uint16_t handle,
	 const char *peer, uint64_t seq)
{
	send_ctl2(f, a, as, type, handle, NULL, peer, seq);
}

/* a binds (seq a->seq + 1) and gets its BIND_OK. */
static void
bind_ok(struct fx *f, struct agent *a)
{
	uint8_t buf[RUDP_PAIR_MAX_LEN];
	struct rudp_ctl m;
	size_t n;

	send_ctl(f, a, a, RUDP_BIND, 0, NULL, ++a->seq);
	assert_int_equal(n = agent_recv(a, buf, sizeof(buf)), RUDP_CTL_LEN);
	assert_true(relay_udp_open(buf, n, a->key, &m));
	assert_int_equal(m.h.type, RUDP_BIND_OK);
	assert_true(m.seq == a->seq);
}

static void
pair_ok(struct fx *f, struct agent *a, uint16_t handle, const char *peer)
{
	uint8_t buf[RUDP_PAIR_MAX_LEN];
	struct rudp_ctl m;
	size_t n;

	send_ctl(f, a, a, RUDP_PAIR, handle, peer, ++a->seq);
	assert_int_equal(n = agent_recv(a, buf, sizeof(buf)), RUDP_CTL_LEN);
	assert_true(relay_udp_open(buf, n, a->key, &m));
	assert_int_equal(m.h.type, RUDP_PAIR_OK);
	assert_int_equal(m.h.handle, handle);
}

/* A DATA of FRAME_LEN bytes from a (ticket, handle) sent from as's address. */
static void
send_data(struct fx *f, const struct agent *a, const struct agent *as, uint64_t ticket,
	  uint16_t handle, size_t len)
{
	uint8_t buf[RUDP_DATA_MAX_LEN];

	memset(buf, 0x5a, sizeof(buf));
	rudp_data_hdr_encode(buf, handle, ticket);
	(void)a;
	dgram(f, as, buf, RUDP_HDR_LEN + len);
}

static void
approve(struct fx *f, const char *asker, const char *answerer)
{
	struct approval ap;

	memset(&ap, 0, sizeof(ap));
	snprintf(ap.asker, sizeof(ap.asker), "%s", asker);
	snprintf(ap.answerer, sizeof(ap.answerer), "%s", answerer);
	snprintf(ap.purpose, sizeof(ap.purpose), "ssh");
	ap.proto = 6;
	ap.port = 22;
	ap.created = 1700000000;
	assert_int_equal(approvals_add(f->srv.rdv->approvals, &ap), 0);
}

static void
fx_server(struct fx *f, uint64_t relay_rate)
{
	char db[256];

	memset(&f->srv, 0, sizeof(f->srv));
	snprintf(f->srv.domain, sizeof(f->srv.domain), "%s", DOMAIN);
	f->srv.primary = &f->srv;
	f->srv.loop = f->loop;
	f->srv.opts.relay_rate = relay_rate;
	snprintf(db, sizeof(db), "%s", test_pki_path(&f->pki, "server.db"));
	assert_int_equal(accounts_open(&f->srv.acc, db), 0);
	assert_int_equal(rdv_open(&f->srv, db), 0);
	agent_connect(f, &f->ag[0], ALICE);
	agent_connect(f, &f->ag[1], BOB);
	agent_connect(f, &f->ag[2], CAROL);
	approve(f, ALICE, BOB);
}

/* As run.c's before-sleep hook: the datagrams queued in a turn go at its end. */
static void
fx_before_sleep(void *arg)
{
	relay_udp_flush(arg);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_storage ss;
	socklen_t sl;

	assert_non_null(f);
	log_set_quiet(true);
	test_pki_setup(&f->pki, "server-relay-udp");
	assert_int_equal(ev_loop_new(&f->loop), 0);
	f->now = T0;
	ev_loop_set_clock(f->loop, fx_clock, f);
	ev_set_before_sleep(f->loop, fx_before_sleep, &f->srv);
	assert_int_equal(cert_key_new(test_pki_path(&f->pki, "server.key"), NULL), 0);
	assert_int_equal(cert_sign(test_pki_path(&f->pki, "a.key"), test_pki_path(&f->pki, "a.crt"),
				   test_pki_path(&f->pki, "server.key"), "server@" DOMAIN,
				   f->pki.now - 60, f->pki.now + 86400,
				   test_pki_path(&f->pki, "server.crt")),
			 0);
	assert_int_equal(tls_ctx_new_flags(&f->server_tls, test_pki_path(&f->pki, "server.key"),
					   test_pki_path(&f->pki, "server.crt"), f->pki.trust,
					   TLS_CTX_PEER_CERT_OPTIONAL),
			 0);
	assert_int_equal(tls_ctx_new(&f->client_tls, NULL, NULL, f->pki.trust), 0);
	f->srv_udp = udp_socket(&ss, &sl);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	relay_udp_close(&f->srv);
	for (int i = 0; i < NAGENTS; i++) {
		stream_close(f->ag[i].client, "test over");
		stream_close(f->ag[i].c->s, "test over");
		close(f->ag[i].udp);
	}
	for (int i = 0; i < NAGENTS; i++)
		free(f->ag[i].c); /* once no list holds any of them */
	rdv_close(&f->srv);
	accounts_close(f->srv.acc);
	close(f->srv_udp);
	tls_ctx_free(f->server_tls);
	tls_ctx_free(f->client_tls);
	ev_loop_free(f->loop);
	test_pki_teardown(&f->pki);
	free(f);
	return 0;
}

static void
test_relay_udp_frame_passes(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1];
	uint8_t buf[RUDP_DATA_MAX_LEN];
	struct rudp_hdr h;
	size_t n;

	fx_server(f, 0);
	bind_ok(f, alice);
	bind_ok(f, bob);
	pair_ok(f, alice, 3, BOB);
	pair_ok(f, bob, 9, ALICE);
	send_data(f, alice, alice, alice->ticket, 3, FRAME_LEN);
	assert_int_equal(n = agent_recv(bob, buf, sizeof(buf)), RUDP_HDR_LEN + FRAME_LEN);
	assert_true(rudp_hdr_decode(buf, n, &h));
	assert_int_equal(h.type, RUDP_DATA);
	assert_int_equal(h.handle, 9); /* bob's handle for alice */
	assert_true(h.ticket == bob->ticket);
	assert_int_equal(buf[RUDP_HDR_LEN], 0x5a);
	assert_int_equal(relay_udp_stats(&f->srv)->frames_rx, 1);
	assert_int_equal(relay_udp_stats(&f->srv)->frames_tx, 1);
	assert_int_equal(f->srv.rdv->n.relay_frames, 1);
	assert_int_equal(f->srv.rdv->n.relay_bytes, FRAME_LEN);
	/* bob's BIND goes stale: alice's next frame reaches him over TLS. */
	f->now += 4000;
	assert_int_equal(ev_run_once(f->loop, 0), 0); /* the loop's clock moves on */
	send_data(f, alice, alice, alice->ticket, 3, FRAME_LEN);
	RUN_UNTIL(f->loop, bob->tls_frames == 1);
	assert_int_equal(agent_recv(bob, buf, sizeof(buf)), 0);
	assert_int_equal(relay_udp_stats(&f->srv)->frames_tx, 1);
	assert_int_equal(f->srv.rdv->n.relay_frames, 2);
}

/* An agent that sends over TLS what it could send as a datagram has stopped trusting UDP: the
 * server's frames to it go over TLS too, until its next BIND. */
static void
test_relay_udp_tls_frame_unbinds(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1];
	uint8_t buf[RUDP_DATA_MAX_LEN], data[FRAME_LEN] = { 0 };
	struct ctlmsg m = { .type = CTL_RELAY_FRAME };

	fx_server(f, 0);
	bind_ok(f, alice);
	bind_ok(f, bob);
	pair_ok(f, alice, 1, BOB);
	pair_ok(f, bob, 1, ALICE);
	snprintf(m.u.frame.from, sizeof(m.u.frame.from), "%s", BOB);
	snprintf(m.u.frame.to, sizeof(m.u.frame.to), "%s", ALICE);
	m.u.frame.frame = data;
	m.u.frame.frame_len = sizeof(data);
	assert_true(stream_send_msg(bob->client, &m));
	RUN_UNTIL(f->loop, f->srv.rdv->n.relay_frames == 1);
	relay_udp_flush(&f->srv);
	assert_int_equal(agent_recv(alice, buf, sizeof(buf)), RUDP_HDR_LEN + FRAME_LEN);
	send_data(f, alice, alice, alice->ticket, 1, FRAME_LEN);
	RUN_UNTIL(f->loop, bob->tls_frames == 1);
	assert_int_equal(agent_recv(bob, buf, sizeof(buf)), 0);
	bind_ok(f, bob); /* trusted again */
	send_data(f, alice, alice, alice->ticket, 1, FRAME_LEN);
	assert_int_equal(agent_recv(bob, buf, sizeof(buf)), RUDP_HDR_LEN + FRAME_LEN);
	/* bob says so outright: a RELAY_FRAME of one zero byte; not relayed. */
	m.u.frame.frame_len = 1;
	assert_true(stream_send_msg(bob->client, &m));
	/* alice's frames reach bob as datagrams until the server read bob's word, then over TLS. */
	RUN_UNTIL(f->loop, (send_data(f, alice, alice, alice->ticket, 1, FRAME_LEN),
			    agent_recv(bob, buf, sizeof(buf)) == 0));
	RUN_UNTIL(f->loop, bob->tls_frames >= 3); /* the first, and the last two of those */
	assert_int_equal(agent_recv(bob, buf, sizeof(buf)), 0);
	/* The word was neither relayed nor refused. */
	assert_int_equal(f->srv.rdv->n.relay_refused, 0);
}

static void
test_relay_udp_refusals(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1], *carol = &f->ag[2];
	const struct relay_udp_stats *n;
	uint8_t buf[RUDP_DATA_MAX_LEN];
	uint64_t seq;

	fx_server(f, 0);
	n = relay_udp_stats(&f->srv);
	/* Before any BIND, a frame has no source to come from. */
	send_data(f, alice, alice, alice->ticket, 1, FRAME_LEN);
	assert_int_equal(n->wrong_source, 1);
	bind_ok(f, alice);
	bind_ok(f, bob);
	bind_ok(f, carol);
	pair_ok(f, bob, 1, ALICE);
	/* alice's handle 1 is not paired yet. */
	send_data(f, alice, alice, alice->ticket, 1, FRAME_LEN);
	assert_int_equal(n->unknown_handle, 1);
	pair_ok(f, alice, 1, BOB);
	/* carol sends with alice's ticket from her own address: not the one bound. */
	send_data(f, alice, carol, alice->ticket, 1, FRAME_LEN);
	assert_int_equal(n->wrong_source, 2);
	/* A ticket nobody has. */
	send_data(f, alice, alice, alice->ticket ^ 1, 1, FRAME_LEN);
	assert_int_equal(n->unknown_ticket, 1);
	/* carol's BIND for alice's ticket, with her own key: not authenticated. */
	memcpy(buf, carol->key, RUDP_KEY_LEN);
	memcpy(carol->key, alice->key, RUDP_KEY_LEN);
	carol->key[0] ^= 1;
	{
		struct rudp_ctl m = { .h = { .type = RUDP_BIND, .ticket = alice->ticket },
				      .seq = 1000 };
		uint8_t d[RUDP_CTL_LEN];

		assert_int_equal(relay_udp_seal(d, sizeof(d), &m, carol->key), RUDP_CTL_LEN);
		dgram(f, carol, d, sizeof(d));
	}
	memcpy(carol->key, buf, RUDP_KEY_LEN);
	assert_int_equal(n->bad_mac, 1);
	/* alice's own BIND replayed (from carol's address): the seq was taken already. */
	seq = alice->seq;
	send_ctl(f, alice, carol, RUDP_BIND, 0, NULL, seq - 1);
	assert_int_equal(n->replayed, 1);
	assert_int_equal(agent_recv(carol, buf, sizeof(buf)), 0);
	/* Junk: a reserved byte set. */
	rudp_data_hdr_encode(buf, 1, alice->ticket);
	buf[1] = 1;
	dgram(f, alice, buf, RUDP_HDR_LEN + FRAME_LEN);
	assert_int_equal(n->malformed, 1);
	/* carol pairs bob (she may name anyone) but has no approval with him: refused. */
	pair_ok(f, carol, 1, BOB);
	send_data(f, carol, carol, carol->ticket, 1, FRAME_LEN);
	assert_int_equal(f->srv.rdv->n.relay_refused, 1);
	/* Nothing of all that reached bob, and the bound frame still passes. */
	assert_int_equal(agent_recv(bob, buf, sizeof(buf)), 0);
	assert_int_equal(f->srv.rdv->n.relay_frames, 0);
	send_data(f, alice, alice, alice->ticket, 1, FRAME_LEN);
	assert_int_equal(agent_recv(bob, buf, sizeof(buf)), RUDP_HDR_LEN + FRAME_LEN);
	assert_int_equal(f->srv.rdv->n.relay_frames, 1);
	/* alice roams: a new BIND from another address moves her frames there. */
	alice->addr = carol->addr;
	alice->addrlen = carol->addrlen;
	send_ctl(f, alice, alice, RUDP_BIND, 0, NULL, ++alice->seq);
	assert_int_equal(agent_recv(carol, buf, sizeof(buf)), RUDP_CTL_LEN); /* its BIND_OK */
	send_data(f, alice, alice, alice->ticket, 1, FRAME_LEN);
	assert_int_equal(agent_recv(bob, buf, sizeof(buf)), RUDP_HDR_LEN + FRAME_LEN);
	assert_int_equal(f->srv.rdv->n.relay_frames, 2);
}

static void
test_relay_udp_rate(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *bob = &f->ag[1];
	uint8_t buf[RUDP_DATA_MAX_LEN];
	size_t got = 0;

	fx_server(f, 1024); /* burst RELAY_BURST_MIN (32 KiB): 16 frames of 2,000 bytes */
	bind_ok(f, alice);
	bind_ok(f, bob);
	pair_ok(f, alice, 1, BOB);
	pair_ok(f, bob, 1, ALICE);
	for (int i = 0; i < 20; i++)
		send_data(f, alice, alice, alice->ticket, 1, 2000);
	while (agent_recv(bob, buf, sizeof(buf)))
		got++;
	assert_int_equal(got, RELAY_BURST_MIN / 2000);
	assert_int_equal(f->srv.rdv->n.relay_frames, RELAY_BURST_MIN / 2000);
	assert_int_equal(f->srv.rdv->n.relay_dropped_rate, 20 - RELAY_BURST_MIN / 2000);
}

/* Another domain's server connected to us sends what it relays toward our agents. */
static void
test_relay_udp_from_server(void **state)
{
	struct fx *f = *state;
	struct agent *alice = &f->ag[0], *srvb = &f->ag[2];
	const struct relay_udp_stats *n;
	uint8_t buf[RUDP_DATA_MAX_LEN];
	struct rudp_hdr h;

	memset(&f->srv, 0, sizeof(f->srv));
	snprintf(f->srv.domain, sizeof(f->srv.domain), "%s", DOMAIN);
	f->srv.primary = &f->srv;
	f->srv.loop = f->loop;
	assert_int_equal(accounts_open(&f->srv.acc, test_pki_path(&f->pki, "server.db")), 0);
	assert_int_equal(rdv_open(&f->srv, test_pki_path(&f->pki, "server.db")), 0);
	agent_connect(f, alice, ALICE);
	agent_connect(f, &f->ag[1], BOB);
	conn_connect(f, srvb, "server@b.example.com", CTL_ROLE_SERVER);
	approve(f, "dave@b.example.com", ALICE);
	n = relay_udp_stats(&f->srv);
	bind_ok(f, alice);
	bind_ok(f, srvb);
	pair_ok(f, alice, 2, "dave@b.example.com");
	/* A server names both ends: from of its domain, to of ours; anything else is refused. */
	send_ctl2(f, srvb, srvb, RUDP_PAIR, 1, "dave@c.example.com", ALICE, ++srvb->seq);
	send_ctl2(f, srvb, srvb, RUDP_PAIR, 1, "dave@b.example.com", "x@c.example.com",
		  ++srvb->seq);
	send_ctl2(f, srvb, srvb, RUDP_PAIR, 1, NULL, ALICE, ++srvb->seq);
	send_ctl2(f, srvb, srvb, RUDP_PAIR, RUDP_LINK_HANDLES + 1, "dave@b.example.com", ALICE,
		  ++srvb->seq);
	assert_int_equal(n->replayed, 4);
	assert_int_equal(agent_recv(srvb, buf, sizeof(buf)), 0);
	send_ctl2(f, srvb, srvb, RUDP_PAIR, 1, "dave@b.example.com", ALICE, ++srvb->seq);
	assert_int_equal(agent_recv(srvb, buf, sizeof(buf)), RUDP_CTL_LEN); /* PAIR_OK */
	send_ctl2(f, srvb, srvb, RUDP_PAIR, 2, "erin@b.example.com", ALICE, ++srvb->seq);
	assert_int_equal(agent_recv(srvb, buf, sizeof(buf)), RUDP_CTL_LEN);
	/* dave -> alice is approved: the frame reaches her as a datagram, with her handle. */
	send_data(f, srvb, srvb, srvb->ticket, 1, FRAME_LEN);
	assert_int_equal(agent_recv(alice, buf, sizeof(buf)), RUDP_HDR_LEN + FRAME_LEN);
	assert_true(rudp_hdr_decode(buf, RUDP_HDR_LEN + FRAME_LEN, &h));
	assert_int_equal(h.handle, 2);
	assert_true(h.ticket == alice->ticket);
	/* erin -> alice is not: refused and counted, nothing to alice. */
	send_data(f, srvb, srvb, srvb->ticket, 2, FRAME_LEN);
	assert_int_equal(agent_recv(alice, buf, sizeof(buf)), 0);
	assert_int_equal(f->srv.rdv->n.relay_refused, 1);
	assert_int_equal(f->srv.rdv->n.relay_frames, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_relay_udp_frame_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_udp_tls_frame_unbinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_udp_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_udp_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_udp_from_server, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
