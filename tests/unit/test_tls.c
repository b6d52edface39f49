// SPDX-License-Identifier: MIT
/*
 * Tests for daemon/crypto/tls.c: two connections over a non-blocking AF_UNIX socketpair,
 * driven alternately until both settle, as the event loop would drive them. Keys, CAs and
 * certificates are made by the test in a fresh mkdtemp directory.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "core/ev.h"
#include "crypto/cert.h"
#include "pki.h"
#include "crypto/tls.h"

#define DAY 86400

static const char LABEL[] = "EXPORTER-vertex-data-v1";

struct fx {
	struct test_pki pki;
};

static char *
fx_path(const struct fx *f, const char *name)
{
	return test_pki_path(&f->pki, name);
}

/* user.key + user.crt for user@domain, signed by the CA file prefix ca, valid [nb, na]. */
static void
fx_user(struct fx *f, const char *ca, const char *user, const char *domain, const char *crt,
	int64_t nb, int64_t na)
{
	char key[32], id[128], ca_key[32], ca_crt[32];

	snprintf(key, sizeof(key), "%s.key", user);
	snprintf(id, sizeof(id), "%s@%s", user, domain);
	snprintf(ca_key, sizeof(ca_key), "%s.key", ca);
	snprintf(ca_crt, sizeof(ca_crt), "%s.crt", ca);
	if (access(fx_path(f, key), F_OK) != 0)
		assert_int_equal(cert_key_new(fx_path(f, key), NULL), 0);
	assert_int_equal(cert_sign(fx_path(f, ca_key), fx_path(f, ca_crt), fx_path(f, key), id, nb,
				   na, fx_path(f, crt)),
			 0);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int64_t now = (int64_t)time(NULL);

	assert_non_null(f);
	test_pki_setup(&f->pki, "tls");
	assert_int_equal(cert_ca_init("evil.example", 10, fx_path(f, "e.key"), fx_path(f, "e.crt")),
			 0);
	fx_user(f, "a", "alice", "a.example.com", "alice.crt", now - 60, now + DAY);
	fx_user(f, "b", "bob", "b.example.com", "bob.crt", now - 60, now + DAY);
	fx_user(f, "b", "bob", "b.example.com", "bob-old.crt", 1577836800, 1577923200);
	fx_user(f, "b", "carol", "b.example.com", "carol.crt", now - 60, now + DAY);
	fx_user(f, "e", "mallory", "evil.example", "mallory.crt", now - 60, now + DAY);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	test_pki_teardown(&f->pki);
	free(f);
	return 0;
}

/* One side of a test connection. */
struct side {
	struct tls_ctx *ctx;
	struct tls_conn *conn;
	int fd;
	int rc; /* last handshake result */
};

static void
side_open(struct fx *f, struct side *s, const char *user, const char *crt, int fd, bool is_client,
	  const char *expected)
{
	char key[32];

	snprintf(key, sizeof(key), "%s.key", user);
	assert_int_equal(tls_ctx_new(&s->ctx, fx_path(f, key), fx_path(f, crt), f->pki.trust), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(tls_conn_new(&s->conn, s->ctx, fd, is_client, expected), 0);
	s->fd = fd;
	s->rc = -EAGAIN;
}

static void
side_close(struct side *s)
{
	tls_conn_free(s->conn);
	tls_ctx_free(s->ctx);
	close(s->fd);
}

/* Drives both handshakes until neither wants more (bounded: a stall fails the test). */
static void
drive(struct side *a, struct side *b)
{
	uint32_t want;

	for (int i = 0; i < 100 && (a->rc == -EAGAIN || b->rc == -EAGAIN); i++) {
		if (a->rc == -EAGAIN)
			a->rc = tls_conn_handshake(a->conn, &want);
		if (b->rc == -EAGAIN)
			b->rc = tls_conn_handshake(b->conn, &want);
	}
	assert_int_not_equal(a->rc, -EAGAIN);
	assert_int_not_equal(b->rc, -EAGAIN);
}

/* Connects client (user/crt, expecting expected) to server (user/crt). */
static void
pair(struct fx *f, struct side *c, const char *cu, const char *ccrt, const char *expected,
     struct side *s, const char *su, const char *scrt)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	side_open(f, c, cu, ccrt, sv[0], true, expected);
	side_open(f, s, su, scrt, sv[1], false, NULL);
	drive(c, s);
	if (c->rc != 0 || s->rc != 0)
		print_message("client %d: %s / server %d: %s\n", c->rc, tls_conn_error(c->conn),
			      s->rc, tls_conn_error(s->conn));
}

/* Reads until data or failure; returns the tls_conn_read result. */
static ssize_t
read_some(struct side *r, struct side *w, void *buf, size_t len)
{
	uint32_t want;
	ssize_t n = -EAGAIN;

	for (int i = 0; i < 10 && n == -EAGAIN; i++)
		n = tls_conn_read(r->conn, buf, len, &want);
	(void)w;
	return n;
}

static void
test_tls_conn_handshake_mutual(void **state)
{
	struct fx *f = *state;
	struct side c, s;
	uint8_t kc[64], ks[64], zero[64] = { 0 };
	char buf[64];
	uint32_t want;

	pair(f, &c, "alice", "alice.crt", "Bob@b.example.com", &s, "bob", "bob.crt");
	assert_int_equal(c.rc, 0);
	assert_int_equal(s.rc, 0);
	assert_string_equal(tls_conn_peer(c.conn)->subject, "bob@b.example.com");
	assert_string_equal(tls_conn_peer(s.conn)->subject, "alice@a.example.com");
	assert_string_equal(tls_ctx_identity(c.ctx), "alice@a.example.com");
	assert_memory_equal(tls_conn_peer(s.conn)->fpr, tls_ctx_cert(c.ctx)->fpr, CERT_FPR_LEN);
	tls_conn_describe(c.conn, buf, sizeof(buf));
	assert_string_equal(buf, "TLSv1.3 TLS13-CHACHA20-POLY1305-SHA256 X25519");
	tls_conn_describe(s.conn, buf, sizeof(buf));
	assert_string_equal(buf, "TLSv1.3 TLS13-CHACHA20-POLY1305-SHA256 X25519");

	assert_int_equal(tls_conn_export(c.conn, LABEL, kc, sizeof(kc)), 0);
	assert_int_equal(tls_conn_export(s.conn, LABEL, ks, sizeof(ks)), 0);
	assert_memory_equal(kc, ks, sizeof(kc));
	assert_memory_not_equal(kc, zero, sizeof(kc));
	assert_memory_not_equal(kc, kc + 32, 32);
	/* Another label gives other keys. */
	assert_int_equal(tls_conn_export(s.conn, "EXPORTER-vertex-other", ks, sizeof(ks)), 0);
	assert_memory_not_equal(kc, ks, sizeof(kc));

	assert_int_equal(tls_conn_write(c.conn, "ping", 4, &want), 4);
	assert_int_equal(read_some(&s, &c, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(tls_conn_write(s.conn, "pong!", 5, &want), 5);
	assert_int_equal(read_some(&c, &s, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "pong!", 5);
	assert_false(tls_conn_has_pending(c.conn));
	/* Nothing more to read: would block, wanting to read. */
	want = 0;
	assert_int_equal(tls_conn_read(c.conn, buf, sizeof(buf), &want), -EAGAIN);
	assert_int_equal(want, EV_READ);
	side_close(&c);
	side_close(&s);
}

/* A byte pipe in memory, one direction; a small capacity makes TLS meet -EAGAIN on send too. */
struct mem_pipe {
	uint8_t buf[2048];
	size_t len;
	bool closed;
};

struct mem_end {
	struct mem_pipe *in, *out;
	size_t sends; /* how many times send was asked */
};

static ssize_t
mem_recv(void *arg, void *buf, size_t len)
{
	struct mem_end *e = arg;
	size_t n = len < e->in->len ? len : e->in->len;

	if (!n)
		return e->in->closed ? 0 : -EAGAIN;
	memcpy(buf, e->in->buf, n);
	memmove(e->in->buf, e->in->buf + n, e->in->len - n);
	e->in->len -= n;
	return (ssize_t)n;
}

static ssize_t
mem_send(void *arg, const void *buf, size_t len)
{
	struct mem_end *e = arg;
	size_t room = sizeof(e->out->buf) - e->out->len, n = len < room ? len : room;

	e->sends++;
	if (!n)
		return -EAGAIN;
	memcpy(e->out->buf + e->out->len, buf, n);
	e->out->len += n;
	return (ssize_t)n;
}

/* The same handshake over an in-memory transport (tls_conn_new_io): no descriptor anywhere. */
static void
test_tls_conn_new_io_memory_transport(void **state)
{
	struct fx *f = *state;
	static struct mem_pipe ab, ba;
	struct mem_end ea = { &ba, &ab, 0 }, eb = { &ab, &ba, 0 };
	struct tls_io ia = { mem_recv, mem_send, &ea }, ib = { mem_recv, mem_send, &eb };
	struct tls_ctx *ca, *cb;
	struct tls_conn *a, *b;
	uint8_t ka[64], kb[64];
	char buf[16];
	uint32_t want;
	int ra = -EAGAIN, rb = -EAGAIN;

	assert_int_equal(
	    tls_ctx_new(&ca, fx_path(f, "alice.key"), fx_path(f, "alice.crt"), f->pki.trust), 0);
	assert_int_equal(
	    tls_ctx_new(&cb, fx_path(f, "bob.key"), fx_path(f, "bob.crt"), f->pki.trust), 0);
	assert_int_equal(tls_conn_new_io(&a, ca, &ia, true, "bob@b.example.com"), 0);
	assert_int_equal(tls_conn_new_io(&b, cb, &ib, false, NULL), 0);
	for (int i = 0; i < 200 && (ra == -EAGAIN || rb == -EAGAIN); i++) {
		if (ra == -EAGAIN)
			ra = tls_conn_handshake(a, &want);
		if (rb == -EAGAIN)
			rb = tls_conn_handshake(b, &want);
	}
	assert_int_equal(ra, 0);
	assert_int_equal(rb, 0);
	assert_true(ea.sends > 0 && eb.sends > 0);
	assert_string_equal(tls_conn_peer(b)->subject, "alice@a.example.com");
	assert_int_equal(tls_conn_export(a, LABEL, ka, sizeof(ka)), 0);
	assert_int_equal(tls_conn_export(b, LABEL, kb, sizeof(kb)), 0);
	assert_memory_equal(ka, kb, sizeof(ka));
	assert_int_equal(tls_conn_write(a, "hello", 5, &want), 5);
	assert_int_equal(tls_conn_read(b, buf, sizeof(buf), &want), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(tls_conn_read(b, buf, sizeof(buf), &want), -EAGAIN);
	assert_int_equal(want, EV_READ);
	/* The end of the stream reads as the peer going away, as on a socket. */
	ab.closed = true;
	assert_true(tls_conn_read(b, buf, sizeof(buf), &want) < 0);
	assert_string_equal(tls_conn_error(b), "connection lost during the read");
	tls_conn_free(a);
	tls_conn_free(b);
	tls_ctx_free(ca);
	tls_ctx_free(cb);
}

static void
test_tls_conn_handshake_fresh_keys(void **state)
{
	struct fx *f = *state;
	struct side c1, s1, c2, s2;
	uint8_t k1[64], k2[64];

	pair(f, &c1, "alice", "alice.crt", NULL, &s1, "bob", "bob.crt");
	pair(f, &c2, "alice", "alice.crt", NULL, &s2, "bob", "bob.crt");
	assert_int_equal(c1.rc, 0);
	assert_int_equal(c2.rc, 0);
	assert_int_equal(tls_conn_export(c1.conn, LABEL, k1, sizeof(k1)), 0);
	assert_int_equal(tls_conn_export(c2.conn, LABEL, k2, sizeof(k2)), 0);
	assert_memory_not_equal(k1, k2, sizeof(k1));
	side_close(&c1);
	side_close(&s1);
	side_close(&c2);
	side_close(&s2);
}

static void
test_tls_conn_handshake_untrusted_ca(void **state)
{
	struct fx *f = *state;
	struct side c, s;
	uint8_t k[64];

	pair(f, &c, "mallory", "mallory.crt", NULL, &s, "bob", "bob.crt");
	assert_int_equal(s.rc, -EACCES);
	assert_string_equal(tls_conn_error(s.conn), "no trusted CA for domain evil.example");
	assert_null(tls_conn_peer(s.conn));
	assert_int_equal(tls_conn_export(s.conn, LABEL, k, sizeof(k)), -ENOTCONN);
	side_close(&c);
	side_close(&s);
}

/* Concatenates the PEM files a and b into out (a leaf and a CA after it, as some tools write). */
static void
fx_concat(struct fx *f, const char *a, const char *b, const char *out)
{
	char buf[8192];
	FILE *o = fopen(fx_path(f, out), "w");

	assert_non_null(o);
	for (int i = 0; i < 2; i++) {
		FILE *in = fopen(fx_path(f, i ? b : a), "r");
		size_t n;

		assert_non_null(in);
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			assert_int_equal(fwrite(buf, 1, n, o), n);
		fclose(in);
	}
	fclose(o);
}

static void
test_tls_conn_handshake_chain_with_anchor(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	/* The leaf and its domain's own CA after it (OpenSSL sends that by default): accepted. */
	fx_concat(f, "alice.crt", "a.crt", "alice-chain.crt");
	pair(f, &c, "alice", "alice-chain.crt", "bob@b.example.com", &s, "bob", "bob.crt");
	assert_int_equal(c.rc, 0);
	assert_int_equal(s.rc, 0);
	assert_string_equal(tls_conn_peer(s.conn)->subject, "alice@a.example.com");
	side_close(&c);
	side_close(&s);
}

static void
test_tls_conn_handshake_chain_other_ca(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	/* Any other CA above the leaf is refused, even one named after the leaf's domain. */
	assert_int_equal(
	    cert_ca_init("a.example.com", 10, fx_path(f, "i.key"), fx_path(f, "i.crt")), 0);
	fx_concat(f, "alice.crt", "i.crt", "alice-other.crt");
	pair(f, &c, "alice", "alice-other.crt", "bob@b.example.com", &s, "bob", "bob.crt");
	assert_int_equal(s.rc, -EACCES);
	assert_non_null(strstr(tls_conn_error(s.conn), "not the anchor of its domain"));
	side_close(&c);
	side_close(&s);
}

static void
test_tls_conn_handshake_wrong_identity(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	pair(f, &c, "alice", "alice.crt", "bob@b.example.com", &s, "carol", "carol.crt");
	assert_int_equal(c.rc, -EACCES);
	assert_string_equal(
	    tls_conn_error(c.conn),
	    "peer certificate names carol@b.example.com, expected bob@b.example.com");
	assert_int_not_equal(s.rc, 0);
	assert_non_null(strstr(tls_conn_error(s.conn), "peer refused the handshake"));
	side_close(&c);
	side_close(&s);
}

static void
test_tls_conn_handshake_expired(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	pair(f, &c, "alice", "alice.crt", "bob@b.example.com", &s, "bob", "bob-old.crt");
	assert_int_equal(c.rc, -EACCES);
	assert_string_equal(tls_conn_error(c.conn), "certificate expired at 2020-01-02T00:00:00Z");
	side_close(&c);
	side_close(&s);
}

/* The server refuses the client's certificate after the client thinks it is done. */
static void
test_tls_conn_handshake_expired_client(void **state)
{
	struct fx *f = *state;
	struct side c, s;
	char buf[16];

	pair(f, &c, "bob", "bob-old.crt", NULL, &s, "alice", "alice.crt");
	assert_int_equal(s.rc, -EACCES);
	assert_string_equal(tls_conn_error(s.conn), "certificate expired at 2020-01-02T00:00:00Z");
	if (c.rc == 0) /* TLS 1.3: the client learns only from the alert */
		assert_true(read_some(&c, &s, buf, sizeof(buf)) < 0);
	assert_non_null(strstr(tls_conn_error(c.conn), "peer refused"));
	side_close(&c);
	side_close(&s);
}

/* Opens a side over an already made ctx (the side owns it from now on). */
static void
side_open_ctx(struct side *s, struct tls_ctx *ctx, int fd, bool is_client, const char *expected)
{
	s->ctx = ctx;
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(tls_conn_new(&s->conn, s->ctx, fd, is_client, expected), 0);
	s->fd = fd;
	s->rc = -EAGAIN;
}

/* Connects a client ctx to a server ctx and drives the handshakes. */
static void
pair_ctx(struct side *c, struct tls_ctx *cctx, struct side *s, struct tls_ctx *sctx)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	side_open_ctx(c, cctx, sv[0], true, NULL);
	side_open_ctx(s, sctx, sv[1], false, NULL);
	drive(c, s);
	if (c->rc != 0 || s->rc != 0)
		print_message("client %d: %s / server %d: %s\n", c->rc, tls_conn_error(c->conn),
			      s->rc, tls_conn_error(s->conn));
}

static struct tls_ctx *
ctx_for(struct fx *f, const char *user, const char *crt, const struct cert_trust *trust,
	unsigned flags)
{
	struct tls_ctx *ctx = NULL;
	char key[32];

	snprintf(key, sizeof(key), "%s.key", user);
	assert_int_equal(tls_ctx_new_flags(&ctx, user != NULL ? fx_path(f, key) : NULL,
					   crt != NULL ? fx_path(f, crt) : NULL, trust, flags),
			 0);
	return ctx;
}

/* An enrolling agent: no certificate, accepted by a server that makes it optional. */
static void
test_tls_ctx_new_no_cert_optional_server(void **state)
{
	struct fx *f = *state;
	struct tls_ctx *cctx = NULL, *unused = NULL;
	struct side c, s;
	char buf[16];
	uint32_t want;

	assert_int_equal(tls_ctx_new(&cctx, NULL, NULL, f->pki.trust), 0);
	assert_string_equal(tls_ctx_identity(cctx), "");
	/* Half a key pair is an error; and a ctx without a certificate cannot serve. */
	assert_int_equal(tls_ctx_new(&unused, fx_path(f, "bob.key"), NULL, f->pki.trust), -EINVAL);
	assert_int_equal(tls_conn_new(&c.conn, cctx, 0, false, NULL), -EINVAL);
	pair_ctx(&c, cctx, &s,
		 ctx_for(f, "bob", "bob.crt", f->pki.trust, TLS_CTX_PEER_CERT_OPTIONAL));
	assert_int_equal(c.rc, 0);
	assert_int_equal(s.rc, 0);
	assert_null(tls_conn_peer(s.conn));
	/* The client still verified the server. */
	assert_string_equal(tls_conn_peer(c.conn)->subject, "bob@b.example.com");
	assert_int_equal(tls_conn_write(c.conn, "enrol", 5, &want), 5);
	assert_int_equal(read_some(&s, &c, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "enrol", 5);
	side_close(&c);
	side_close(&s);
}

/* On an optional server a certificate that is presented is still fully checked. */
static void
test_tls_ctx_new_optional_server_checks_given_cert(void **state)
{
	struct fx *f = *state;
	struct side c, s;

	pair_ctx(&c, ctx_for(f, "alice", "alice.crt", f->pki.trust, 0), &s,
		 ctx_for(f, "bob", "bob.crt", f->pki.trust, TLS_CTX_PEER_CERT_OPTIONAL));
	assert_int_equal(s.rc, 0);
	assert_string_equal(tls_conn_peer(s.conn)->subject, "alice@a.example.com");
	side_close(&c);
	side_close(&s);

	pair_ctx(&c, ctx_for(f, "mallory", "mallory.crt", f->pki.trust, 0), &s,
		 ctx_for(f, "bob", "bob.crt", f->pki.trust, TLS_CTX_PEER_CERT_OPTIONAL));
	assert_int_equal(s.rc, -EACCES);
	assert_string_equal(tls_conn_error(s.conn), "no trusted CA for domain evil.example");
	assert_null(tls_conn_peer(s.conn));
	side_close(&c);
	side_close(&s);

	pair_ctx(&c, ctx_for(f, "bob", "bob-old.crt", f->pki.trust, 0), &s,
		 ctx_for(f, "alice", "alice.crt", f->pki.trust, TLS_CTX_PEER_CERT_OPTIONAL));
	assert_int_equal(s.rc, -EACCES);
	assert_string_equal(tls_conn_error(s.conn), "certificate expired at 2020-01-02T00:00:00Z");
	side_close(&c);
	side_close(&s);
}

/* A client without a certificate and a server that requires one: both say why. */
static void
test_tls_ctx_new_no_cert_refused(void **state)
{
	struct fx *f = *state;
	struct tls_ctx *cctx = NULL;
	struct side c, s;
	char buf[16];

	assert_int_equal(tls_ctx_new(&cctx, NULL, NULL, f->pki.trust), 0);
	pair_ctx(&c, cctx, &s, ctx_for(f, "bob", "bob.crt", f->pki.trust, 0));
	assert_int_not_equal(s.rc, 0);
	assert_null(tls_conn_peer(s.conn));
	assert_string_equal(tls_conn_error(s.conn),
			    "peer presented no certificate, and this server requires one");
	if (c.rc == 0) /* TLS 1.3: the client learns only from the alert */
		assert_true(read_some(&c, &s, buf, sizeof(buf)) < 0);
	assert_non_null(strstr(tls_conn_error(c.conn), "we have no certificate"));
	side_close(&c);
	side_close(&s);
}

/* A CA pinned at run time: the trust store decides, tls_ctx_add_anchor lets wolfSSL agree. */
static void
test_tls_ctx_add_anchor(void **state)
{
	struct fx *f = *state;
	struct cert_trust *t;
	uint8_t der[CERT_DER_MAX];
	struct side c, s;
	struct tls_ctx *sctx;
	int n;

	assert_int_equal(cert_trust_new(&t), 0);
	assert_int_equal(cert_trust_add(t, "b.example.com", fx_path(f, "b.crt")), 0);
	n = cert_load_der(fx_path(f, "a.crt"), der, sizeof(der));
	assert_true(n > 0);

	sctx = ctx_for(f, "bob", "bob.crt", t, 0);
	pair_ctx(&c, ctx_for(f, "alice", "alice.crt", f->pki.trust, 0), &s, sctx);
	assert_int_equal(s.rc, -EACCES);
	assert_string_equal(tls_conn_error(s.conn), "no trusted CA for domain a.example.com");
	tls_conn_free(c.conn);
	tls_conn_free(s.conn);
	close(c.fd);
	close(s.fd);
	tls_ctx_free(c.ctx);

	/* Pinned in the trust store but not yet in TLS: wolfSSL finds no signer. */
	assert_int_equal(cert_trust_add_der(t, "a.example.com", der, (size_t)n), 0);
	pair_ctx(&c, ctx_for(f, "alice", "alice.crt", f->pki.trust, 0), &s, sctx);
	assert_int_equal(s.rc, -EACCES);
	assert_string_equal(tls_conn_error(s.conn), "certificate is not signed by any trusted CA");
	tls_conn_free(c.conn);
	tls_conn_free(s.conn);
	close(c.fd);
	close(s.fd);
	tls_ctx_free(c.ctx);

	assert_int_equal(tls_ctx_add_anchor(sctx, der, (size_t)n), 0);
	assert_int_equal(tls_ctx_add_anchor(sctx, der, 0), -EINVAL);
	pair_ctx(&c, ctx_for(f, "alice", "alice.crt", f->pki.trust, 0), &s, sctx);
	assert_int_equal(c.rc, 0);
	assert_int_equal(s.rc, 0);
	assert_string_equal(tls_conn_peer(s.conn)->subject, "alice@a.example.com");
	side_close(&c);
	/* The anchor survives a reload. */
	tls_conn_free(s.conn);
	close(s.fd);
	assert_int_equal(tls_ctx_reload(sctx, fx_path(f, "carol.key"), fx_path(f, "carol.crt")), 0);
	pair_ctx(&c, ctx_for(f, "alice", "alice.crt", f->pki.trust, 0), &s, sctx);
	assert_int_equal(s.rc, 0);
	assert_string_equal(tls_conn_peer(c.conn)->subject, "carol@b.example.com");
	side_close(&c);
	side_close(&s);
	cert_trust_free(t);
}

/* Connects cctx (sending server name sni, if any, and expecting expected) to sctx. */
static void
pair_named(struct side *c, struct tls_ctx *cctx, const char *sni, const char *expected,
	   struct side *s, struct tls_ctx *sctx)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	side_open_ctx(c, cctx, sv[0], true, expected);
	side_open_ctx(s, sctx, sv[1], false, NULL);
	if (sni)
		assert_int_equal(tls_conn_set_server_name(c->conn, sni), 0);
	drive(c, s);
}

static void
pair_free(struct side *c, struct side *s)
{
	tls_conn_free(c->conn);
	tls_conn_free(s->conn);
	close(c->fd);
	close(s->fd);
}

/*
 * Two domains behind one listener: the client's server name picks the certificate and the
 * trust of the hosted domain; no name, or another one, gets the default domain.
 */
static void
test_tls_ctx_hosted(void **state)
{
	struct fx *f = *state;
	struct cert_trust *ta, *tb;
	struct tls_ctx *sa, *sb, *client, *anon;
	struct side c, s;
	int64_t now = (int64_t)time(NULL);

	fx_user(f, "a", "server", "a.example.com", "srv-a.crt", now - 60, now + DAY);
	assert_int_equal(rename(fx_path(f, "server.key"), fx_path(f, "srva.key")), 0);
	fx_user(f, "b", "server", "b.example.com", "srv-b.crt", now - 60, now + DAY);
	assert_int_equal(rename(fx_path(f, "server.key"), fx_path(f, "srvb.key")), 0);
	assert_int_equal(cert_trust_new(&ta), 0);
	assert_int_equal(cert_trust_add(ta, "a.example.com", fx_path(f, "a.crt")), 0);
	assert_int_equal(cert_trust_new(&tb), 0);
	assert_int_equal(cert_trust_add(tb, "b.example.com", fx_path(f, "b.crt")), 0);
	sa = ctx_for(f, "srva", "srv-a.crt", ta, 0);
	sb = ctx_for(f, "srvb", "srv-b.crt", tb, 0);
	client = ctx_for(f, "carol", "carol.crt", f->pki.trust, 0);
	assert_int_equal(tls_ctx_add_hosted(sa, "b.example.com", sb), 0);
	assert_int_equal(tls_ctx_new(&anon, NULL, NULL, f->pki.trust), 0);
	assert_int_equal(tls_ctx_add_hosted(sa, "c.example.com", anon), -EINVAL); /* no cert */
	tls_ctx_free(anon);

	/* Named: b's certificate, and b's trust verifies carol@b (a's alone would refuse her). */
	pair_named(&c, client, "b.example.com", "server@b.example.com", &s, sa);
	assert_int_equal(c.rc, 0);
	assert_int_equal(s.rc, 0);
	assert_ptr_equal(tls_conn_ctx(s.conn), sb);
	assert_string_equal(tls_conn_peer(c.conn)->subject, "server@b.example.com");
	assert_string_equal(tls_conn_peer(s.conn)->subject, "carol@b.example.com");
	pair_free(&c, &s);

	/* Not named: the default domain, which is not who this client expects. */
	pair_named(&c, client, NULL, "server@b.example.com", &s, sa);
	assert_int_not_equal(c.rc, 0);
	assert_string_equal(tls_conn_error(c.conn),
			    "peer certificate names server@a.example.com, expected "
			    "server@b.example.com");
	assert_ptr_equal(tls_conn_ctx(s.conn), sa);
	pair_free(&c, &s);

	/* An unknown name: the default domain too. */
	pair_named(&c, client, "x.example.com", "server@a.example.com", &s, sa);
	assert_int_equal(c.rc, 0);
	assert_ptr_equal(tls_conn_ctx(s.conn), sa);
	assert_int_equal(tls_conn_set_server_name(s.conn, "b.example.com"), -EINVAL);
	pair_free(&c, &s);

	tls_ctx_free(client);
	tls_ctx_free(sa);
	tls_ctx_free(sb);
	cert_trust_free(ta);
	cert_trust_free(tb);
}

/* After enrolment: a ctx without a certificate switches to one; live connections carry on. */
static void
test_tls_ctx_reload(void **state)
{
	struct fx *f = *state;
	struct tls_ctx *cctx = NULL;
	struct side c, s, c2, s2;
	int sv[2];

	assert_int_equal(tls_ctx_new(&cctx, NULL, NULL, f->pki.trust), 0);
	/* A handshake begun before the reload... */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	side_open_ctx(&c, cctx, sv[0], true, NULL);
	side_open_ctx(&s, ctx_for(f, "bob", "bob.crt", f->pki.trust, TLS_CTX_PEER_CERT_OPTIONAL),
		      sv[1], false, NULL);
	{
		uint32_t want;

		c.rc = tls_conn_handshake(c.conn, &want);
		assert_int_equal(c.rc, -EAGAIN);
	}
	assert_int_equal(tls_ctx_reload(cctx, fx_path(f, "alice.key"), fx_path(f, "bob.crt")),
			 -EINVAL); /* key and certificate do not match: nothing changes */
	assert_string_equal(tls_ctx_identity(cctx), "");
	assert_int_equal(tls_ctx_reload(cctx, fx_path(f, "alice.key"), fx_path(f, "alice.crt")), 0);
	assert_string_equal(tls_ctx_identity(cctx), "alice@a.example.com");
	/* ...completes as it began, without a certificate. */
	drive(&c, &s);
	assert_int_equal(c.rc, 0);
	assert_int_equal(s.rc, 0);
	assert_null(tls_conn_peer(s.conn));
	/* New connections present the new certificate, also to a server that requires one. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(tls_conn_new(&c2.conn, cctx, sv[0], true, NULL), 0);
	c2.fd = sv[0];
	c2.rc = -EAGAIN;
	c2.ctx = NULL;
	side_open_ctx(&s2, ctx_for(f, "bob", "bob.crt", f->pki.trust, 0), sv[1], false, NULL);
	drive(&c2, &s2);
	assert_int_equal(c2.rc, 0);
	assert_int_equal(s2.rc, 0);
	assert_string_equal(tls_conn_peer(s2.conn)->subject, "alice@a.example.com");
	tls_conn_free(c2.conn);
	close(c2.fd);
	side_close(&s2);
	side_close(&c);
	side_close(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_conn_handshake_mutual),
		cmocka_unit_test(test_tls_conn_new_io_memory_transport),
		cmocka_unit_test(test_tls_conn_handshake_fresh_keys),
		cmocka_unit_test(test_tls_conn_handshake_untrusted_ca),
		cmocka_unit_test(test_tls_conn_handshake_wrong_identity),
		cmocka_unit_test(test_tls_conn_handshake_chain_with_anchor),
		cmocka_unit_test(test_tls_conn_handshake_chain_other_ca),
		cmocka_unit_test(test_tls_conn_handshake_expired),
		cmocka_unit_test(test_tls_conn_handshake_expired_client),
		cmocka_unit_test(test_tls_ctx_new_no_cert_optional_server),
		cmocka_unit_test(test_tls_ctx_new_optional_server_checks_given_cert),
		cmocka_unit_test(test_tls_ctx_new_no_cert_refused),
		cmocka_unit_test(test_tls_ctx_add_anchor),
		cmocka_unit_test(test_tls_ctx_reload),
		cmocka_unit_test(test_tls_ctx_hosted),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
