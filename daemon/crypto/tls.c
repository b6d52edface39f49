// SPDX-License-Identifier: MIT
/*
 * Mutual TLS 1.3 with wolfSSL over a non-blocking socket the caller owns.
 *
 * Trust is decided twice, on purpose. wolfSSL checks the chain against every loaded domain CA
 * (it cannot know that a certificate naming b.example.com must come from b.example.com's CA),
 * then our verify callback runs cert_trust_verify's checks on the leaf (its own domain's CA,
 * validity, name, not a CA) and the expected identity, so a bad peer is refused inside the
 * handshake with an alert. After the handshake the same check runs once more on the peer
 * certificate wolfSSL kept, which is what tls_conn_peer() reports: the callback is an early
 * exit, the post-handshake check is the gate.
 *
 * Every failure leaves one specific sentence in tls_conn_error(): ours when our check failed,
 * wolfSSL's verification error in plain words, or the alert the peer sent us.
 *
 * No session tickets and no session cache: each handshake is a full one with a fresh ECDHE.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfio.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/ev.h"
#include "core/log.h"
#include "crypto/aead.h"
#include "crypto/tls.h"

/*
 * Key exchange: X25519 only. Both ends are ours, and with Debian's wolfSSL (no assembly) a P-256
 * handshake costs about three times as much and fills a process-wide point cache (FP_ECC).
 */
static int tls_groups[] = { WOLFSSL_ECC_X25519 };
static const char TLS_CIPHERS[] = "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES256-GCM-SHA384";

enum { TLS_ERR_MAX = 2 * IDENTITY_STR_MAX + 128 };

struct tls_anchor {
	uint8_t *der;
	size_t len;
};

/* A domain hosted by the same server: a client naming it (SNI) is served by ctx instead. */
struct tls_hosted {
	char name[IDENTITY_DOMAIN_MAX + 1];
	struct tls_ctx *ctx; /* borrowed */
};

struct tls_ctx {
	WOLFSSL_CTX *client;
	WOLFSSL_CTX *server;       /* NULL without a certificate of our own */
	struct tls_hosted *hosted; /* tls_ctx_add_hosted's */
	size_t n_hosted;
	const struct cert_trust *trust; /* borrowed */
	unsigned flags;
	struct cert_info self;    /* all zero without a certificate */
	struct tls_anchor *extra; /* tls_ctx_add_anchor's, reloaded with every new WOLFSSL_CTX */
	size_t n_extra;
	char load_err[TLS_ERR_MAX];
};

struct tls_conn {
	WOLFSSL *ssl;
	struct tls_ctx *ctx;
	struct tls_io io; /* where the bytes go: a socket, or any byte transport */
	int fd;           /* for tls_conn_new's socket io; -1 otherwise */
	bool is_client;
	bool done;         /* handshake complete and peer verified */
	bool failed;       /* the callback refused the peer: err says why */
	bool has_peer;     /* false if an optional client certificate was absent */
	uint8_t *deferred; /* a foreign client certificate for the caller to judge */
	size_t deferred_len;
	char expected[IDENTITY_STR_MAX]; /* "" when any trusted identity will do */
	struct cert_info peer;
	char err[TLS_ERR_MAX];
};

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void
tls_wolfssl_init(void)
{
	wolfSSL_Init();
}

/* --- contexts -------------------------------------------------------------------------- */

static void
ctx_load_anchor(const char *domain, const char *ca_path, const uint8_t *der, size_t len, void *arg)
{
	WOLFSSL_CTX *w = arg;

	/* The trust store already validated the CA, so a failure here is an internal error. */
	if (wolfSSL_CTX_load_verify_buffer(w, der, (long)len, WOLFSSL_FILETYPE_ASN1) !=
	    WOLFSSL_SUCCESS)
		log_warnx("tls: cannot load the CA of %s%s%s", domain,
			  ca_path != NULL ? " from " : "", ca_path != NULL ? ca_path : "");
}

static int verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store);

static int
ctx_load_der(WOLFSSL_CTX *w, const uint8_t *der, size_t len)
{
	return wolfSSL_CTX_load_verify_buffer(w, der, (long)len, WOLFSSL_FILETYPE_ASN1) ==
		       WOLFSSL_SUCCESS
		   ? 0
		   : -EINVAL;
}

/*
 * Our key and certificate, if we have them. The file may hold the domain's CA after the leaf
 * (as some tools write it): it is sent along, and peers accept it (verify_cb).
 */
static int
ctx_use_cert(WOLFSSL_CTX *w, const char *key_path, const char *cert_path)
{
	if (key_path == NULL)
		return 0;
	if (wolfSSL_CTX_use_certificate_chain_file(w, cert_path) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(w, key_path, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_check_private_key(w) != WOLFSSL_SUCCESS)
		return -EINVAL;
	return 0;
}

/*
 * Makes one side's WOLFSSL_CTX: our key and certificate (if any), every anchor, and peer
 * verification (a missing peer certificate fails unless optional is set).
 */
static int
ctx_side_new(WOLFSSL_CTX **out, WOLFSSL_METHOD *method, const struct tls_ctx *ctx,
	     const char *key_path, const char *cert_path, bool optional, bool verify)
{
	int mode = !verify
		       ? WOLFSSL_VERIFY_NONE
		       : WOLFSSL_VERIFY_PEER | (optional ? 0 : WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	WOLFSSL_CTX *w;

	if (method == NULL || (w = wolfSSL_CTX_new(method)) == NULL)
		return -ENOMEM;
	if (ctx_use_cert(w, key_path, cert_path) < 0 ||
	    wolfSSL_CTX_set_cipher_list(w, TLS_CIPHERS) != WOLFSSL_SUCCESS)
		goto err_free;
	if (ctx->trust)
		cert_trust_each(ctx->trust, ctx_load_anchor, w);
	for (size_t i = 0; i < ctx->n_extra; i++)
		if (ctx_load_der(w, ctx->extra[i].der, ctx->extra[i].len) < 0)
			goto err_free;
	wolfSSL_CTX_set_verify(w, mode, verify ? verify_cb : NULL);
	if (wolfSSL_CTX_set_groups(w, tls_groups, 1) != WOLFSSL_SUCCESS)
		goto err_free;
	wolfSSL_CTX_set_session_cache_mode(w, WOLFSSL_SESS_CACHE_OFF);
	wolfSSL_CTX_no_ticket_TLSv13(w);
	*out = w;
	return 0;

err_free:
	wolfSSL_CTX_free(w);
	return -EINVAL;
}

/*
 * Makes the client and (with a certificate) server WOLFSSL_CTX for key/cert and our own
 * certificate's details. Ownership: *client and *server are the caller's.
 */
static int
ctx_sides_new(const struct tls_ctx *ctx, const char *key_path, const char *cert_path,
	      WOLFSSL_CTX **client, WOLFSSL_CTX **server, struct cert_info *self)
{
	bool optional = (ctx->flags & TLS_CTX_PEER_CERT_OPTIONAL) != 0;
	int err;

	*client = *server = NULL;
	memset(self, 0, sizeof(*self));
	if ((key_path == NULL) != (cert_path == NULL))
		return -EINVAL;
	if (cert_path != NULL) {
		err = cert_info_from_file(cert_path, self);
		if (err < 0)
			return err;
		if (self->is_ca)
			return -EINVAL;
	}
	err = ctx_side_new(client, wolfTLSv1_3_client_method(), ctx, key_path, cert_path, false,
			   !(ctx->flags & TLS_CTX_NO_VERIFY));
	if (err == 0 && cert_path != NULL)
		err = ctx_side_new(server, wolfTLSv1_3_server_method(), ctx, key_path, cert_path,
				   optional, true);
	if (err < 0) {
		wolfSSL_CTX_free(*client);
		*client = NULL;
	}
	return err;
}

/*
 * The client's server name (SNI), on a server context with hosted domains: a hosted name moves
 * the connection to that domain's context, its certificate, anchors and trust. Any other name,
 * or none, stays with the context the connection was made with (its default domain).
 */
static int
ctx_on_server_name(WOLFSSL *ssl, int *alert, void *arg)
{
	struct tls_ctx *ctx = arg;
	struct tls_conn *c = wolfSSL_get_ex_data(ssl, 0);
	const char *name = wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME);

	(void)alert;
	if (c == NULL || name == NULL)
		return 0;
	for (size_t i = 0; i < ctx->n_hosted; i++) {
		struct tls_ctx *alt = ctx->hosted[i].ctx;

		if (strcmp(name, ctx->hosted[i].name) || alt->server == NULL)
			continue;
		if (wolfSSL_set_SSL_CTX(ssl, alt->server) == NULL)
			return 0;
		c->ctx = alt;
		break;
	}
	return 0;
}

static void
ctx_watch_server_name(struct tls_ctx *ctx)
{
	if (ctx->server == NULL)
		return;
	wolfSSL_CTX_set_servername_callback(ctx->server, ctx_on_server_name);
	wolfSSL_CTX_set_servername_arg(ctx->server, ctx);
}

int
tls_ctx_add_hosted(struct tls_ctx *ctx, const char *name, struct tls_ctx *alt)
{
	struct tls_hosted *grown;

	if (ctx->server == NULL || alt->server == NULL || strlen(name) > IDENTITY_DOMAIN_MAX ||
	    (alt->flags != ctx->flags))
		return -EINVAL;
	grown = realloc(ctx->hosted, (ctx->n_hosted + 1) * sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	ctx->hosted = grown;
	snprintf(grown[ctx->n_hosted].name, sizeof(grown[0].name), "%s", name);
	grown[ctx->n_hosted++].ctx = alt;
	return 0;
}

/* Ownership: *out is the caller's, freed with tls_ctx_free(); trust is borrowed. */
int
tls_ctx_new_flags(struct tls_ctx **out, const char *key_path, const char *cert_path,
		  const struct cert_trust *trust, unsigned flags)
{
	struct tls_ctx *ctx;
	int err;

	pthread_once(&tls_once, tls_wolfssl_init);
	if (flags &
	    ~(unsigned)(TLS_CTX_PEER_CERT_OPTIONAL | TLS_CTX_NO_VERIFY | TLS_CTX_DEFER_FOREIGN))
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return -ENOMEM;
	ctx->trust = trust;
	ctx->flags = flags;
	err = ctx_sides_new(ctx, key_path, cert_path, &ctx->client, &ctx->server, &ctx->self);
	if (err < 0)
		goto err_free;
	ctx_watch_server_name(ctx);
	*out = ctx;
	return 0;

err_free:
	tls_ctx_free(ctx);
	return err;
}

int
tls_ctx_new(struct tls_ctx **out, const char *key_path, const char *cert_path,
	    const struct cert_trust *trust)
{
	return tls_ctx_new_flags(out, key_path, cert_path, trust, 0);
}

/*
 * wolfSSL reference-counts a WOLFSSL_CTX per WOLFSSL made from it, so connections in progress
 * keep the old contexts (and our old certificate) alive until they are freed.
 */
int
tls_ctx_reload(struct tls_ctx *ctx, const char *key_path, const char *cert_path)
{
	WOLFSSL_CTX *client, *server;
	struct cert_info self;
	int err;

	err = ctx_sides_new(ctx, key_path, cert_path, &client, &server, &self);
	if (err < 0)
		return err;
	wolfSSL_CTX_free(ctx->client);
	wolfSSL_CTX_free(ctx->server);
	ctx->client = client;
	ctx->server = server;
	ctx->self = self;
	ctx_watch_server_name(ctx);
	return 0;
}

/* Ownership: der is copied. */
int
tls_ctx_add_anchor(struct tls_ctx *ctx, const uint8_t *der, size_t len)
{
	struct tls_anchor *grown;
	uint8_t *copy;

	if (len == 0 || len > CERT_DER_MAX)
		return -EINVAL;
	if (ctx_load_der(ctx->client, der, len) < 0 ||
	    (ctx->server != NULL && ctx_load_der(ctx->server, der, len) < 0))
		return -EINVAL;
	copy = malloc(len);
	grown = realloc(ctx->extra, (ctx->n_extra + 1) * sizeof(*grown));
	if (grown != NULL)
		ctx->extra = grown;
	if (copy == NULL || grown == NULL) {
		free(copy);
		return -ENOMEM;
	}
	memcpy(copy, der, len);
	ctx->extra[ctx->n_extra++] = (struct tls_anchor){ copy, len };
	return 0;
}

void
tls_ctx_free(struct tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	wolfSSL_CTX_free(ctx->client);
	wolfSSL_CTX_free(ctx->server);
	for (size_t i = 0; i < ctx->n_extra; i++)
		free(ctx->extra[i].der);
	free(ctx->extra);
	free(ctx->hosted);
	free(ctx);
}

const char *
tls_ctx_identity(const struct tls_ctx *ctx)
{
	return ctx->self.subject;
}

const struct cert_info *
tls_ctx_cert(const struct tls_ctx *ctx)
{
	return &ctx->self;
}

/* --- verification ---------------------------------------------------------------------- */

/* Runs our trust decision and the expected-identity check on the peer's leaf certificate. */
static int
conn_check_peer(struct tls_conn *c, const uint8_t *der, size_t len)
{
	struct cert_info info;

	if (cert_trust_check(c->ctx->trust, der, len, (int64_t)time(NULL), &info, c->err,
			     sizeof(c->err)) < 0)
		return -EACCES;
	if (c->expected[0] != '\0' && strcmp(info.subject, c->expected) != 0) {
		snprintf(c->err, sizeof(c->err), "peer certificate names %s, expected %s",
			 info.subject, c->expected);
		return -EACCES;
	}
	c->peer = info;
	return 0;
}

/* wolfSSL's verification errors in plain words (only reached if our own check found none). */
static const char *
verify_error_words(int err)
{
	switch (err) {
	case ASN_NO_SIGNER_E:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: /* the same, as this build reports it */
		return "certificate is not signed by any trusted CA";
	case ASN_AFTER_DATE_E:
		return "certificate expired";
	case ASN_BEFORE_DATE_E:
		return "certificate is not valid yet";
	case ASN_SIG_CONFIRM_E:
		return "certificate signature does not verify";
	case ASN_PARSE_E:
		return "certificate does not parse";
	default:
		return wolfSSL_X509_verify_cert_error_string(err);
	}
}

/*
 * A client certificate of a domain we have no anchor for, on a server that defers those: keep
 * it for the caller (who pins the domain's CA first) instead of refusing the handshake.
 */
static bool
conn_defer_foreign(struct tls_conn *c, const uint8_t *der, size_t len)
{
	struct cert_info info;
	struct identity id;
	size_t anchor_len;

	if (c->is_client || !(c->ctx->flags & TLS_CTX_DEFER_FOREIGN) || c->deferred ||
	    cert_info_from_der(der, len, &info) < 0 || info.is_ca ||
	    identity_parse(info.subject, IDENTITY_PURPOSE_FORBIDDEN, &id, NULL) < 0 ||
	    cert_trust_anchor_der(c->ctx->trust, id.domain, &anchor_len) != NULL)
		return false;
	c->deferred = malloc(len);
	if (c->deferred == NULL)
		return false;
	memcpy(c->deferred, der, len);
	c->deferred_len = len;
	return true;
}

const uint8_t *
tls_conn_deferred_cert(const struct tls_conn *c, size_t *len)
{
	*len = c->deferred_len;
	return c->deferred;
}

/*
 * A CA certificate in the peer's chain, above its leaf. Our profile has no intermediates (a leaf
 * is signed directly by its domain's anchor), and wolfSSL adds every chain CA that verifies to
 * the context's certificate manager for good, so anyone holding a trusted CA key could grow us
 * by a fresh intermediate per handshake. Refusing it here keeps it out (wolfSSL adds a chain CA
 * only if the verify callback accepted it); the anchor itself, sent along, is harmless. The
 * reason is kept only if the leaf's own check does not give a better one.
 */
static bool
conn_check_chain_ca(struct tls_conn *c, const uint8_t *der, int len)
{
	struct cert_info info;
	const uint8_t *anchor;
	size_t anchor_len = 0;

	if (der != NULL && len > 0 && cert_info_from_der(der, (size_t)len, &info) == 0 &&
	    (anchor = cert_trust_anchor_der(c->ctx->trust, info.subject, &anchor_len)) != NULL &&
	    anchor_len == (size_t)len && memcmp(anchor, der, anchor_len) == 0)
		return true;
	if (!c->failed)
		snprintf(c->err, sizeof(c->err),
			 "peer's chain carries a CA certificate that is not the anchor of its "
			 "domain: certificates must be signed directly by their domain's CA");
	c->failed = true;
	return false;
}

/* The depth-th certificate of the peer's list as received (0: the leaf), or NULL. */
static const uint8_t *
conn_chain_cert(struct tls_conn *c, int depth, int *len)
{
	WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(c->ssl);

	if (chain == NULL || depth < 0 || depth >= wolfSSL_get_chain_count(chain))
		return NULL;
	*len = wolfSSL_get_chain_length(chain, depth);
	return wolfSSL_get_chain_cert(chain, depth);
}

/*
 * Called by wolfSSL for each certificate of the peer's chain (WOLFSSL_ALWAYS_VERIFY_CB), with
 * preverify its own verdict. We decide on the leaf only; returning 0 aborts the handshake with
 * an alert to the peer.
 */
static int
verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	WOLFSSL *ssl =
	    wolfSSL_X509_STORE_CTX_get_ex_data(store, wolfSSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_conn *c = ssl != NULL ? wolfSSL_get_ex_data(ssl, 0) : NULL;
	WOLFSSL_X509 *x;
	const uint8_t *der;
	int len = 0, depth;

	if (c == NULL)
		return 0;
	x = wolfSSL_X509_STORE_CTX_get_current_cert(store);
	der = x != NULL ? wolfSSL_X509_get_der(x, &len) : NULL;
	depth = wolfSSL_X509_STORE_CTX_get_error_depth(store);
	if (depth != 0) {
		/* This wolfSSL build gives no current certificate above the leaf; the chain as
		 * received (SESSION_CERTS) is already kept, so take it from there. */
		if (der == NULL || len <= 0)
			der = conn_chain_cert(c, depth, &len);
		return conn_check_chain_ca(c, der, len) ? preverify : 0;
	}
	if ((der == NULL || len <= 0) && !c->is_client &&
	    (c->ctx->flags & TLS_CTX_PEER_CERT_OPTIONAL))
		return 1; /* an enrolling client without a certificate: conn_verify_final decides */
	if (der != NULL && len > 0 && conn_defer_foreign(c, der, (size_t)len))
		return 1;
	if (der == NULL || len <= 0) {
		snprintf(c->err, sizeof(c->err), "peer sent no usable certificate");
		c->failed = true;
		return 0;
	}
	if (conn_check_peer(c, der, (size_t)len) < 0) {
		c->failed = true;
		return 0;
	}
	if (!preverify) {
		snprintf(c->err, sizeof(c->err), "%s",
			 verify_error_words(wolfSSL_X509_STORE_CTX_get_error(store)));
		c->failed = true;
	}
	return preverify;
}

/*
 * After the handshake: the gate (see the top of the file). The leaf comes from the session's
 * peer chain: in this wolfSSL build wolfSSL_get_peer_certificate() returns NULL once a TLS 1.3
 * handshake is complete, while the chain (SESSION_CERTS) is kept.
 */
static int
conn_verify_final(struct tls_conn *c)
{
	WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(c->ssl);
	const uint8_t *der;
	int len;

	/* A foreign certificate: the caller judges it (tls_conn_deferred_cert). */
	if (c->deferred != NULL)
		return 0;
	/* First contact: the caller verifies what it fetches, and sends nothing. */
	if (c->is_client && (c->ctx->flags & TLS_CTX_NO_VERIFY))
		return 0;

	if (chain == NULL || wolfSSL_get_chain_count(chain) < 1) {
		if (!c->is_client && (c->ctx->flags & TLS_CTX_PEER_CERT_OPTIONAL))
			return 0; /* an enrolling client: no identity, tls_conn_peer() is NULL */
		snprintf(c->err, sizeof(c->err), "peer presented no certificate");
		return -EACCES;
	}
	der = wolfSSL_get_chain_cert(chain, 0);
	len = wolfSSL_get_chain_length(chain, 0);
	if (der == NULL || len <= 0) {
		snprintf(c->err, sizeof(c->err), "peer certificate is empty");
		return -EACCES;
	}
	if (conn_check_peer(c, der, (size_t)len) < 0)
		return -EACCES;
	c->has_peer = true;
	return 0;
}

/* --- I/O ------------------------------------------------------------------------------ */

/*
 * wolfSSL reads and writes through these, never through a descriptor of its own: the bytes
 * come from whatever transport the caller gives (a TCP socket today; a relay or a punched path
 * later). The return codes mean what wolfSSL's own socket I/O would have returned, so its
 * errors, and ours in conn_io_error, read the same whichever transport is underneath.
 */
static int
conn_io_code(ssize_t n, bool reading)
{
	if (n > 0)
		return n > INT32_MAX ? INT32_MAX : (int)n;
	if (n == 0)
		return reading ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_WRITE;
	switch (n) {
	case -EAGAIN:
		return reading ? WOLFSSL_CBIO_ERR_WANT_READ : WOLFSSL_CBIO_ERR_WANT_WRITE;
	case -EINTR:
		return WOLFSSL_CBIO_ERR_ISR;
	case -ECONNRESET:
		return WOLFSSL_CBIO_ERR_CONN_RST;
	case -EPIPE:
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	default:
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
}

static int
conn_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_conn *c = arg;

	(void)ssl;
	return conn_io_code(c->io.recv(c->io.arg, buf, (size_t)sz), true);
}

static int
conn_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_conn *c = arg;

	(void)ssl;
	return conn_io_code(c->io.send(c->io.arg, buf, (size_t)sz), false);
}

/* The io of tls_conn_new: a connected socket, never raising SIGPIPE. */
static ssize_t
conn_fd_recv(void *arg, void *buf, size_t len)
{
	struct tls_conn *c = arg;
	ssize_t n = recv(c->fd, buf, len, 0);

	return n < 0 ? -errno : n;
}

static ssize_t
conn_fd_send(void *arg, const void *buf, size_t len)
{
	struct tls_conn *c = arg;
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

	return n < 0 ? -errno : n;
}

/* --- connections ----------------------------------------------------------------------- */

/* Ownership: *out is the caller's, freed with tls_conn_free(); io's arg and ctx are borrowed. */
int
tls_conn_new_io(struct tls_conn **out, struct tls_ctx *ctx, const struct tls_io *io, bool is_client,
		const char *expected)
{
	struct tls_conn *c;
	struct identity id;
	int err = -ENOMEM;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->ctx = ctx;
	c->io = *io;
	c->fd = -1;
	c->is_client = is_client;
	if (expected != NULL) {
		err = identity_parse(expected, IDENTITY_PURPOSE_FORBIDDEN, &id, NULL);
		if (err < 0 || identity_format(&id, c->expected, sizeof(c->expected)) < 0)
			goto err_free;
	}
	err = -EINVAL;
	if (!is_client && ctx->server == NULL)
		goto err_free; /* no certificate of our own to serve with */
	err = -ENOMEM;
	c->ssl = wolfSSL_new(is_client ? ctx->client : ctx->server);
	if (c->ssl == NULL)
		goto err_free;
	err = -EINVAL;
	if (wolfSSL_set_ex_data(c->ssl, 0, c) != WOLFSSL_SUCCESS)
		goto err_free;
	wolfSSL_SSLSetIORecv(c->ssl, conn_io_recv);
	wolfSSL_SSLSetIOSend(c->ssl, conn_io_send);
	wolfSSL_SetIOReadCtx(c->ssl, c);
	wolfSSL_SetIOWriteCtx(c->ssl, c);
	*out = c;
	return 0;

err_free:
	tls_conn_free(c);
	return err;
}

/* Ownership: as tls_conn_new_io; fd is borrowed. */
int
tls_conn_new(struct tls_conn **out, struct tls_ctx *ctx, int fd, bool is_client,
	     const char *expected)
{
	struct tls_io io = { .recv = conn_fd_recv, .send = conn_fd_send };
	int err = tls_conn_new_io(out, ctx, &io, is_client, expected);

	if (err == 0) {
		(*out)->fd = fd;
		(*out)->io.arg = *out;
	}
	return err;
}

int
tls_conn_set_server_name(struct tls_conn *c, const char *name)
{
	size_t len = strlen(name);

	if (!c->is_client || len == 0 || len > IDENTITY_DOMAIN_MAX)
		return -EINVAL;
	return wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, name, (unsigned short)len) ==
		       WOLFSSL_SUCCESS
		   ? 0
		   : -EINVAL;
}

struct tls_ctx *
tls_conn_ctx(const struct tls_conn *c)
{
	return c->ctx;
}

void
tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	wolfSSL_free(c->ssl);
	free(c->deferred);
	crypto_wipe(c, sizeof(*c));
	free(c);
}

/* Maps a failed wolfSSL call: -EAGAIN with *want, or an error with c->err filled. */
static int
conn_io_error(struct tls_conn *c, int ret, uint32_t *want, const char *what)
{
	int e = wolfSSL_get_error(c->ssl, ret);
	WOLFSSL_ALERT_HISTORY h;
	char buf[WOLFSSL_MAX_ERROR_SZ];

	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) {
		*want = e == WOLFSSL_ERROR_WANT_READ ? EV_READ : EV_WRITE;
		return -EAGAIN;
	}
	if (e == WOLFSSL_ERROR_ZERO_RETURN) {
		snprintf(c->err, sizeof(c->err), "peer closed the connection");
		return -ECONNRESET;
	}
	if (c->failed)
		return -EACCES; /* our callback said why */
	if (e == NO_PEER_CERT) {
		snprintf(c->err, sizeof(c->err),
			 "peer presented no certificate, and this server requires one");
		return -EACCES;
	}
	if (wolfSSL_get_alert_history(c->ssl, &h) == WOLFSSL_SUCCESS && h.last_rx.code > 0 &&
	    h.last_rx.level == alert_fatal) {
		/* A client without a certificate is refused by servers that require one. */
		snprintf(c->err, sizeof(c->err), "peer refused the %s: %s%s", what,
			 wolfSSL_alert_desc_string_long(h.last_rx.code),
			 c->is_client && c->ctx->self.subject[0] == '\0'
			     ? " (we have no certificate: not enrolled yet?)"
			     : "");
		return -EACCES;
	}
	if (e == SOCKET_ERROR_E || e == SOCKET_PEER_CLOSED_E) {
		snprintf(c->err, sizeof(c->err), "connection lost during the %s", what);
		return -ECONNRESET;
	}
	wolfSSL_ERR_error_string_n((unsigned long)e, buf, sizeof(buf));
	snprintf(c->err, sizeof(c->err), "%s failed: %s", what, buf);
	return -EPROTO;
}

int
tls_conn_handshake(struct tls_conn *c, uint32_t *want)
{
	int ret, err;

	if (c->done)
		return 0;
	if (c->failed)
		return -EACCES;
	ret = c->is_client ? wolfSSL_connect(c->ssl) : wolfSSL_accept(c->ssl);
	if (ret != WOLFSSL_SUCCESS)
		return conn_io_error(c, ret, want, "handshake");
	err = conn_verify_final(c);
	if (err < 0) {
		c->failed = true;
		return err;
	}
	c->done = true;
	return 0;
}

const struct cert_info *
tls_conn_peer(const struct tls_conn *c)
{
	return c->done && c->has_peer ? &c->peer : NULL;
}

void
tls_conn_describe(const struct tls_conn *c, char *buf, size_t len)
{
	const char *group = wolfSSL_get_curve_name(c->ssl);

	snprintf(buf, len, "%s %s %s", wolfSSL_get_version(c->ssl), wolfSSL_get_cipher_name(c->ssl),
		 group ? group : "?");
}

int
tls_conn_export(struct tls_conn *c, const char *label, uint8_t *out, size_t len)
{
	if (!c->done)
		return -ENOTCONN;
	if (wolfSSL_export_keying_material(c->ssl, out, len, label, strlen(label), NULL, 0, 0) !=
	    WOLFSSL_SUCCESS) {
		snprintf(c->err, sizeof(c->err), "exporter failed for label %s", label);
		return -EIO;
	}
	return 0;
}

ssize_t
tls_conn_read(struct tls_conn *c, void *buf, size_t len, uint32_t *want)
{
	int ret;

	if (!c->done)
		return -ENOTCONN;
	ret = wolfSSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (ret > 0)
		return ret;
	if (wolfSSL_get_error(c->ssl, ret) == WOLFSSL_ERROR_ZERO_RETURN)
		return 0; /* clean close_notify: end of stream */
	return conn_io_error(c, ret, want, "read");
}

/* After -EAGAIN, call again with the same bytes (wolfSSL keeps the record half sent). */
ssize_t
tls_conn_write(struct tls_conn *c, const void *buf, size_t len, uint32_t *want)
{
	int ret;

	if (!c->done)
		return -ENOTCONN;
	ret = wolfSSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (ret > 0)
		return ret;
	return conn_io_error(c, ret, want, "write");
}

bool
tls_conn_has_pending(struct tls_conn *c)
{
	return wolfSSL_pending(c->ssl) > 0;
}

const char *
tls_conn_error(const struct tls_conn *c)
{
	return c->err[0] != '\0' ? c->err : "no error";
}
