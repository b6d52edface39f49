/* SPDX-License-Identifier: MIT */
/*
 * Mutual TLS 1.3 between agents (DESIGN §4.2), non-blocking over any byte transport the caller
 * owns (struct tls_io; a connected TCP socket with tls_conn_new), driven from the event loop.
 *
 * Both sides present their certificate; the peer's is checked with cert_trust_verify() (its
 * domain's CA, validity) and, when the caller names the identity it expects, that the
 * certificate names exactly it. Only TLS 1.3 with TLS_CHACHA20_POLY1305_SHA256 or
 * TLS_AES_256_GCM_SHA384 is offered, and X25519 alone for the key exchange (about three times
 * the handshakes per second of P-256 with Debian's wolfSSL; docs/performance.md). Session keys
 * for data frames come from the exporter (RFC 8446 §7.5): tls_conn_export().
 *
 * Operations return 0 / a byte count, -EAGAIN with *want set to EV_READ or EV_WRITE when the
 * socket would block, or another -errno on failure with a reason in tls_conn_error().
 */
#ifndef VERTEX_TLS_H
#define VERTEX_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto/cert.h"

struct tls_ctx;
struct tls_conn;

enum tls_ctx_flags {
	/*
	 * Server side: a client may connect without a certificate (an agent that is enrolling);
	 * tls_conn_peer() is then NULL. A client that presents one is still fully verified.
	 */
	TLS_CTX_PEER_CERT_OPTIONAL = 1 << 0,
	/*
	 * Client side: do not verify the server at all; tls_conn_peer() is NULL. Only for the
	 * first contact with a domain, to fetch the CA certificate that is then pinned and used
	 * to verify a second connection (`vertex register`). Never for sending anything secret.
	 */
	TLS_CTX_NO_VERIFY = 1 << 1,
	/*
	 * Server side: a client certificate naming a domain we hold no CA for is not refused
	 * during the handshake. The connection comes up with tls_conn_peer() NULL, and
	 * tls_conn_deferred_cert() gives the certificate: the caller must pin that domain's CA
	 * and verify it (cert_trust_verify) before trusting anything from the connection.
	 */
	TLS_CTX_DEFER_FOREIGN = 1 << 2,
};

/*
 * Borrows trust (must outlive the ctx). *out freed with tls_ctx_free(). key_path and cert_path
 * may both be NULL for a client without a certificate (not yet enrolled): it verifies servers
 * as usual, cannot accept connections, and servers that require a certificate refuse it.
 */
int tls_ctx_new(struct tls_ctx **out, const char *key_path, const char *cert_path,
		const struct cert_trust *trust);
/* tls_ctx_new() with flags from enum tls_ctx_flags (tls_ctx_new is flags == 0). */
int tls_ctx_new_flags(struct tls_ctx **out, const char *key_path, const char *cert_path,
		      const struct cert_trust *trust, unsigned flags);
void tls_ctx_free(struct tls_ctx *ctx);
/*
 * Switches to another key and certificate (a renewed one, or the first after enrolment) for
 * connections made from now on; existing connections keep theirs. On failure nothing changes.
 */
int tls_ctx_reload(struct tls_ctx *ctx, const char *key_path, const char *cert_path);
/*
 * Lets wolfSSL's chain check accept certificates of a CA pinned at run time (DER). The trust
 * store must hold it too (cert_trust_add_der): that is what decides. Kept across reloads.
 */
int tls_ctx_add_anchor(struct tls_ctx *ctx, const uint8_t *der, size_t len);
/*
 * Server side, several domains in one listener: a client whose TLS server name (SNI) is name is
 * served with alt instead (its certificate, anchors, trust); any other client stays with ctx.
 * alt is borrowed and must outlive ctx; both need certificates and the same flags.
 */
int tls_ctx_add_hosted(struct tls_ctx *ctx, const char *name, struct tls_ctx *alt);
/* The identity in our own certificate, "" without one. */
const char *tls_ctx_identity(const struct tls_ctx *ctx);
/* Our own certificate's details (validity, fingerprint). */
const struct cert_info *tls_ctx_cert(const struct tls_ctx *ctx);

/*
 * Where a connection's bytes go: any reliable byte transport. recv returns a count, 0 at the
 * end of the stream, -EAGAIN if nothing is there yet; send returns how many bytes it took (at
 * least one), or -EAGAIN if it can take none now; both -errno on failure. A TLS operation that
 * meets -EAGAIN returns -EAGAIN with *want set, and is called again once the transport can go
 * on.
 */
struct tls_io {
	ssize_t (*recv)(void *arg, void *buf, size_t len);
	ssize_t (*send)(void *arg, const void *buf, size_t len);
	void *arg;
};

/*
 * A connection over io. expected is the identity the peer must prove ("bob@b.example.com"), or
 * NULL to accept any trusted identity (the responder learns who it is from tls_conn_peer()).
 */
int tls_conn_new_io(struct tls_conn **out, struct tls_ctx *ctx, const struct tls_io *io,
		    bool is_client, const char *expected);
/* The same over a connected socket fd (borrowed: the caller closes it after tls_conn_free()). */
int tls_conn_new(struct tls_conn **out, struct tls_ctx *ctx, int fd, bool is_client,
		 const char *expected);
void tls_conn_free(struct tls_conn *c);
/* Client side, before the handshake: the domain whose server we want (sent as SNI). */
int tls_conn_set_server_name(struct tls_conn *c, const char *name);
/* The context the connection ended up with: another than it was made with if a server
 * connection's client named a hosted domain (tls_ctx_add_hosted). */
struct tls_ctx *tls_conn_ctx(const struct tls_conn *c);

int tls_conn_handshake(struct tls_conn *c, uint32_t *want);
/* A client certificate whose verification was deferred (TLS_CTX_DEFER_FOREIGN), or NULL. */
const uint8_t *tls_conn_deferred_cert(const struct tls_conn *c, size_t *len);
/* After the handshake: the verified peer certificate (NULL if an optional one was absent). */
const struct cert_info *tls_conn_peer(const struct tls_conn *c);
/* What the handshake settled, for logs: "TLS1.3 TLS13-CHACHA20-POLY1305-SHA256 X25519". */
void tls_conn_describe(const struct tls_conn *c, char *buf, size_t len);
int tls_conn_export(struct tls_conn *c, const char *label, uint8_t *out, size_t len);

ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len, uint32_t *want);
ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len, uint32_t *want);
/* True if decrypted bytes are buffered inside TLS (epoll will not report them). */
bool tls_conn_has_pending(struct tls_conn *c);
const char *tls_conn_error(const struct tls_conn *c);

#endif
