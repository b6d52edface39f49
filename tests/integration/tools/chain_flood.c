// SPDX-License-Identifier: MIT
/*
 * chain_flood ADDR:PORT CA-KEY CA-CERT DOMAIN COUNT [DEPTH]
 *
 * What anyone holding a trusted CA key can do to a server (issue 9 item 5): COUNT TLS 1.3
 * handshakes, each presenting a chain of DEPTH (default 8) fresh intermediate CAs under the CA
 * CA-CERT whose key is CA-KEY (the first signed by it, each next by the one before) and a leaf
 * "flood@DOMAIN" under the last. Every handshake is refused (our certificates have no
 * intermediates), but wolfSSL used to keep every intermediate that verified, for good. Prints
 * "N handshakes, N refused" and exits 0 if every handshake was refused, 1 if one succeeded or
 * could not be made, 2 on a usage or set-up error.
 *
 * A test tool: it uses wolfSSL directly (the daemon's code does so only in daemon/crypto/).
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "agent/config.h"
#include "core/sockaddr.h"

enum { FLOOD_DER_MAX = 2048, FLOOD_DEPTH_MAX = 16 };

struct flood_cert {
	ed25519_key key;
	uint8_t der[FLOOD_DER_MAX];
	int len;
};

static int
flood_load_key(const char *path, ed25519_key *key)
{
	uint8_t pem[8192], der[512], pub[ED25519_PUB_KEY_SIZE];
	word32 idx = 0;
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(pem, 1, sizeof(pem), f) : 0;
	int dlen;

	if (f)
		fclose(f);
	if (n == 0)
		return -1;
	dlen = wc_KeyPemToDer(pem, (int)n, der, sizeof(der), NULL);
	if (dlen <= 0 || wc_ed25519_init(key) ||
	    wc_Ed25519PrivateKeyDecode(der, &idx, key, (word32)dlen))
		return -1;
	/* The PKCS#8 file holds the private half only: derive the public one for signing. */
	if (wc_ed25519_make_public(key, pub, sizeof(pub)) ||
	    wc_ed25519_import_private_key(key->k, ED25519_KEY_SIZE, pub, sizeof(pub), key))
		return -1;
	return 0;
}

/* Makes c (fresh key) signed by issuer (key, and its DER for the issuer name). */
static int
flood_issue(struct flood_cert *c, const char *cn, bool is_ca, ed25519_key *issuer_key,
	    const uint8_t *issuer_der, int issuer_len, WC_RNG *rng)
{
	Cert t;

	if (wc_ed25519_init(&c->key) || wc_ed25519_make_key(rng, ED25519_KEY_SIZE, &c->key))
		return -1;
	wc_InitCert(&t);
	snprintf(t.subject.commonName, sizeof(t.subject.commonName), "%s", cn);
	t.subject.commonNameEnc = CTC_UTF8;
	t.sigType = CTC_ED25519;
	t.isCA = is_ca;
	t.daysValid = 2;
	if (wc_SetIssuerBuffer(&t, issuer_der, issuer_len) ||
	    wc_SetSubjectKeyIdFromPublicKey_ex(&t, ED25519_TYPE, &c->key) ||
	    wc_SetAuthKeyIdFromPublicKey_ex(&t, ED25519_TYPE, issuer_key) ||
	    (is_ca && wc_SetKeyUsage(&t, "keyCertSign,cRLSign")))
		return -1;
	if (wc_MakeCert_ex(&t, c->der, sizeof(c->der), ED25519_TYPE, &c->key, rng) < 0)
		return -1;
	c->len = wc_SignCert_ex(t.bodySz, t.sigType, c->der, sizeof(c->der), ED25519_TYPE,
				issuer_key, rng);
	return c->len > 0 ? 0 : -1;
}

/* The chain as PEM, leaf first, for wolfSSL_use_certificate_chain_buffer. */
static int
flood_chain_pem(const struct flood_cert *certs, int n, uint8_t *out, size_t cap)
{
	size_t off = 0;

	for (int i = n - 1; i >= 0; i--) {
		int len = wc_DerToPem(certs[i].der, (word32)certs[i].len, out + off,
				      (word32)(cap - off), CERT_TYPE);

		if (len <= 0)
			return -1;
		off += (size_t)len;
	}
	return (int)off;
}

/* One handshake with a fresh chain; 1 if it was refused, 0 if it succeeded, -1 on trouble. */
static int
flood_once(const struct sockaddr_storage *to, ed25519_key *ca_key, const uint8_t *ca_der,
	   int ca_len, const char *domain, int depth, WC_RNG *rng)
{
	struct flood_cert certs[FLOOD_DEPTH_MAX + 1];
	uint8_t pem[(FLOOD_DEPTH_MAX + 1) * 4096], keyder[128], keypem[512];
	char cn[96];
	int n = 0, pemlen, keylen, fd = -1, rc = -1;
	WOLFSSL_CTX *ctx = NULL;
	WOLFSSL *ssl = NULL;
	struct timeval tv = { .tv_sec = 10 };

	for (int i = 0; i < depth; i++, n++) {
		snprintf(cn, sizeof(cn), "%s", domain);
		if (flood_issue(&certs[i], cn, true, i ? &certs[i - 1].key : ca_key,
				i ? certs[i - 1].der : ca_der, i ? certs[i - 1].len : ca_len, rng))
			goto out;
	}
	snprintf(cn, sizeof(cn), "flood@%s", domain);
	if (flood_issue(&certs[n], cn, false, n ? &certs[n - 1].key : ca_key,
			n ? certs[n - 1].der : ca_der, n ? certs[n - 1].len : ca_len, rng))
		goto out;
	n++;
	pemlen = flood_chain_pem(certs, n, pem, sizeof(pem));
	keylen = wc_Ed25519KeyToDer(&certs[n - 1].key, keyder, sizeof(keyder));
	keylen = keylen > 0 ? wc_DerToPem(keyder, (word32)keylen, keypem, sizeof(keypem),
					  PKCS8_PRIVATEKEY_TYPE)
			    : -1;
	if (pemlen <= 0 || keylen <= 0 || !(ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method())))
		goto out;
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	if (wolfSSL_CTX_use_certificate_chain_buffer(ctx, pem, pemlen) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_buffer(ctx, keypem, keylen, WOLFSSL_FILETYPE_PEM) !=
		WOLFSSL_SUCCESS)
		goto out;
	fd = socket(to->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (fd < 0 ||
	    connect(fd, (const struct sockaddr *)to,
		    to->ss_family == AF_INET ? sizeof(struct sockaddr_in)
					     : sizeof(struct sockaddr_in6)) < 0 ||
	    !(ssl = wolfSSL_new(ctx)) || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS)
		goto out;
	/* TLS 1.3: the client finishes first; a refused certificate shows on the first read. */
	if (wolfSSL_connect(ssl) != WOLFSSL_SUCCESS) {
		rc = 1;
		goto out;
	}
	{
		char byte;
		int r = wolfSSL_read(ssl, &byte, 1);

		rc = r <= 0 ? 1 : 0;
	}
out:
	wolfSSL_free(ssl);
	wolfSSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < n; i++)
		wc_ed25519_free(&certs[i].key);
	return rc;
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage to;
	ed25519_key ca_key;
	uint8_t ca_der[FLOOD_DER_MAX];
	int ca_len, count, depth = argc > 6 ? atoi(argv[6]) : 8, refused = 0;
	WC_RNG rng;

	if (argc < 6 || argc > 7 || sockaddr_parse(argv[1], &to) || (count = atoi(argv[5])) <= 0 ||
	    depth < 0 || depth > FLOOD_DEPTH_MAX) {
		fprintf(stderr, "usage: chain_flood ADDR:PORT CA-KEY CA-CERT DOMAIN COUNT "
				"[DEPTH]\n");
		return 2;
	}
	wolfSSL_Init();
	{
		uint8_t pem[8192];
		FILE *f = fopen(argv[3], "r");
		size_t n = f ? fread(pem, 1, sizeof(pem), f) : 0;

		if (f)
			fclose(f);
		ca_len = n ? wc_CertPemToDer(pem, (int)n, ca_der, sizeof(ca_der), CERT_TYPE) : -1;
	}
	if (ca_len <= 0 || flood_load_key(argv[2], &ca_key) || wc_InitRng(&rng)) {
		fprintf(stderr, "chain_flood: cannot load the CA from %s and %s\n", argv[2],
			argv[3]);
		return 2;
	}
	for (int i = 0; i < count; i++) {
		int r = flood_once(&to, &ca_key, ca_der, ca_len, argv[4], depth, &rng);

		if (r < 0) {
			fprintf(stderr, "chain_flood: handshake %d could not be made\n", i + 1);
			break;
		}
		refused += r;
	}
	printf("%d handshakes, %d refused\n", count, refused);
	wc_FreeRng(&rng);
	wc_ed25519_free(&ca_key);
	return refused == count ? 0 : 1;
}
