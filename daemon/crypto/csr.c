// SPDX-License-Identifier: MIT
/*
 * Certificate requests and the in-memory domain CA (enrolment, DESIGN §3).
 *
 * A CSR is PKCS#10 with an Ed25519 key, CN = "user@domain", made by wolfCrypt. Checking one
 * received from the network happens in two halves: our own bounded walk over the outer
 * SEQUENCE { CertificationRequestInfo, AlgorithmIdentifier, BIT STRING } (so we know exactly
 * which bytes the signature covers and refuse anything but Ed25519 and trailing bytes), and
 * wolfSSL's parser in CERTREQ_TYPE mode for the subject name and key. The self-signature is
 * always verified here with wc_ed25519_verify_msg over the CertificationRequestInfo bytes,
 * rather than relying on whether this wolfSSL build's parser checks it.
 *
 * struct cert_ca holds a CA key in memory for the server; it issues through cert.c's signing
 * core (cert_issue_der), the same code as the offline `vertex ca sign`.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/rbuf.h"
#include "crypto/aead.h"
#include "crypto/cert_internal.h"
#include "crypto/csr.h"

enum {
	DER_SEQUENCE = 0x30,
	DER_BIT_STRING = 0x03,
	CSR_CN_MAX = CTC_NAME_SIZE - 1,
};

/* The only AlgorithmIdentifier we accept: SEQUENCE { OID 1.3.101.112 (id-Ed25519) }. */
static const uint8_t ED25519_ALG_ID[] = { 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70 };

struct cert_ca {
	ed25519_key key;
	uint8_t der[CERT_DER_MAX];
	size_t der_len;
	char domain[IDENTITY_DOMAIN_MAX + 1];
};

/* --- making a request ------------------------------------------------------------------ */

/* Makes and self-signs the request for the canonical name into der; returns its length. */
static int
csr_build(ed25519_key *key, const char *name, uint8_t *der, size_t cap)
{
	word32 wcap = cap > CSR_DER_MAX ? CSR_DER_MAX : (word32)cap;
	WC_RNG rng;
	Cert *c;
	int n;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return cert_fail(-ENOMEM, "out of memory");
	n = cert_fail(-EIO, "cannot initialise the random generator");
	if (wc_InitRng(&rng) != 0)
		goto err_free;
	wc_InitCert(c);
	c->version = 0; /* PKCS#10 v1 */
	c->sigType = CTC_ED25519;
	memcpy(c->subject.commonName, name, strlen(name) + 1);
	c->subject.commonNameEnc = CTC_UTF8;
	n = wc_MakeCertReq_ex(c, der, wcap, ED25519_TYPE, key);
	if (n >= 0)
		n = wc_SignCert_ex(c->bodySz, c->sigType, der, wcap, ED25519_TYPE, key, &rng);
	if (n < 0)
		n = cert_fail(n == BUFFER_E ? -ENOSPC : -EIO,
			      "cannot build the request (wolfSSL error %d)", n);
	wc_FreeRng(&rng);
err_free:
	free(c);
	return n;
}

int
csr_new(const char *key_path, const char *identity, uint8_t *der, size_t cap)
{
	char name[IDENTITY_STR_MAX];
	struct identity id;
	const char *why;
	ed25519_key key;
	int n;

	cert_lib_init();
	if (identity_parse(identity, IDENTITY_PURPOSE_FORBIDDEN, &id, &why) < 0)
		return cert_fail(-EINVAL, "%s: %s", identity, why);
	identity_format(&id, name, sizeof(name));
	if (strlen(name) > CSR_CN_MAX)
		return cert_fail(-ENAMETOOLONG, "%s: name longer than %d bytes", name, CSR_CN_MAX);
	wc_ed25519_init(&key);
	n = cert_key_load_private(key_path, &key);
	if (n == 0)
		n = csr_build(&key, name, der, cap);
	wc_ed25519_free(&key);
	return n;
}

/* --- checking a request ---------------------------------------------------------------- */

/*
 * Reads one DER element with the given tag; val and vlen get its contents. Definite, minimal
 * lengths only (DER), at most two length bytes (a CSR is under CSR_DER_MAX).
 */
static bool
der_get(struct rbuf *r, uint8_t tag, const uint8_t **val, size_t *vlen)
{
	uint8_t t, l0, b;
	size_t len = 0;

	if (!rbuf_get_u8(r, &t) || t != tag || !rbuf_get_u8(r, &l0))
		return false;
	if (l0 < 0x80) {
		len = l0;
	} else if (l0 == 0x81 || l0 == 0x82) {
		for (int i = 0; i < (l0 & 0x7f); i++) {
			if (!rbuf_get_u8(r, &b))
				return false;
			len = len << 8 | b;
		}
		if (len < 0x80 || (l0 == 0x82 && len < 0x100))
			return false; /* not minimal */
	} else {
		return false;
	}
	*vlen = len;
	return rbuf_get_ptr(r, len, val);
}

/* Splits a CSR into the signed bytes (CertificationRequestInfo) and the Ed25519 signature. */
static bool
csr_split(const uint8_t *der, size_t len, const uint8_t **info, size_t *info_len,
	  const uint8_t **sig)
{
	const uint8_t *outer, *alg, *bits, *inner;
	size_t outer_len, bits_len, inner_len;
	struct rbuf r, o;

	rbuf_init(&r, der, len);
	if (!der_get(&r, DER_SEQUENCE, &outer, &outer_len) || rbuf_remaining(&r) != 0)
		return false;
	rbuf_init(&o, outer, outer_len);
	*info = o.p + o.off;
	if (!der_get(&o, DER_SEQUENCE, &inner, &inner_len))
		return false;
	*info_len = o.off;
	if (!rbuf_get_ptr(&o, sizeof(ED25519_ALG_ID), &alg) ||
	    memcmp(alg, ED25519_ALG_ID, sizeof(ED25519_ALG_ID)) != 0)
		return false;
	if (!der_get(&o, DER_BIT_STRING, &bits, &bits_len) || rbuf_remaining(&o) != 0)
		return false;
	/* No unused bits, then exactly one signature. */
	if (bits_len != 1 + CERT_SIG_LEN || bits[0] != 0)
		return false;
	*sig = bits + 1;
	return true;
}

/* The subject CN and public key as wolfSSL's CSR parser reads them. */
static int
csr_parse_fields(const uint8_t *der, size_t len, char *cn, size_t cn_cap,
		 uint8_t pubkey[CERT_PUBKEY_LEN])
{
	DecodedCert *dc;
	int err = -EINVAL;

	dc = calloc(1, sizeof(*dc));
	if (dc == NULL)
		return -ENOMEM;
	wc_InitDecodedCert(dc, der, (word32)len, NULL);
	if (wc_ParseCert(dc, CERTREQ_TYPE, NO_VERIFY, NULL) != 0)
		goto out;
	if (dc->keyOID != ED25519k || dc->pubKeySize != CERT_PUBKEY_LEN || dc->publicKey == NULL)
		goto out;
	if (dc->subjectCN == NULL || dc->subjectCNLen <= 0 || (size_t)dc->subjectCNLen >= cn_cap ||
	    memchr(dc->subjectCN, '\0', (size_t)dc->subjectCNLen) != NULL)
		goto out;
	memcpy(cn, dc->subjectCN, (size_t)dc->subjectCNLen);
	cn[dc->subjectCNLen] = '\0';
	memcpy(pubkey, dc->publicKey, CERT_PUBKEY_LEN);
	err = 0;
out:
	wc_FreeDecodedCert(dc);
	free(dc);
	return err;
}

/* Cheap checks first (structure, name), the signature last (STYLE §17). */
int
csr_verify(const uint8_t *der, size_t len, char identity[IDENTITY_STR_MAX],
	   uint8_t pubkey[CERT_PUBKEY_LEN], const char **why)
{
	const uint8_t *info, *sig;
	char cn[IDENTITY_STR_MAX];
	struct identity id;
	const char *name_why;
	size_t info_len;
	int err;

	cert_lib_init();
	*why = "request is not an Ed25519 PKCS#10 certificate request";
	if (len == 0 || len > CSR_DER_MAX || !csr_split(der, len, &info, &info_len, &sig))
		return -EINVAL;
	err = csr_parse_fields(der, len, cn, sizeof(cn), pubkey);
	if (err < 0)
		return err == -ENOMEM ? err : -EINVAL;
	if (identity_parse(cn, IDENTITY_PURPOSE_FORBIDDEN, &id, &name_why) < 0) {
		*why = "request name is not a valid user@domain";
		return -EINVAL;
	}
	if (!cert_verify_sig(pubkey, info, info_len, sig)) {
		*why = "request signature does not verify (the requester does not hold the key)";
		return -EINVAL;
	}
	identity_format(&id, identity, IDENTITY_STR_MAX);
	*why = "request is valid";
	return 0;
}

/* --- the CA in memory ------------------------------------------------------------------ */

/* Ownership: *out is the caller's, freed with cert_ca_free(); nothing is kept on failure. */
int
cert_ca_load(struct cert_ca **out, const char *key_path, const char *cert_path)
{
	uint8_t pub[ED25519_PUB_KEY_SIZE];
	word32 pub_len = sizeof(pub);
	struct cert_info info;
	struct cert_ca *ca;
	int n, err;

	cert_lib_init();
	ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		return cert_fail(-ENOMEM, "out of memory");
	wc_ed25519_init(&ca->key);
	n = cert_load_der(cert_path, ca->der, sizeof(ca->der));
	if ((err = n) < 0)
		goto err_free;
	ca->der_len = (size_t)n;
	err = cert_fail(-EINVAL, "%s: not a self-signed CA certificate", cert_path);
	if (cert_info_from_der(ca->der, ca->der_len, &info) < 0 || !info.is_ca ||
	    strcmp(info.subject, info.issuer) != 0 ||
	    cert_domain_canon(info.subject, ca->domain) < 0)
		goto err_free;
	err = cert_key_load_private(key_path, &ca->key);
	if (err < 0)
		goto err_free;
	err = cert_fail(-EINVAL, "%s: the key does not belong to the CA certificate %s", key_path,
			cert_path);
	if (wc_ed25519_export_public(&ca->key, pub, &pub_len) != 0 ||
	    memcmp(pub, info.pubkey, sizeof(pub)) != 0)
		goto err_free;
	*out = ca;
	return 0;

err_free:
	cert_ca_free(ca);
	return err;
}

void
cert_ca_free(struct cert_ca *ca)
{
	if (ca == NULL)
		return;
	wc_ed25519_free(&ca->key);
	crypto_wipe(ca, sizeof(*ca));
	free(ca);
}

const char *
cert_ca_domain(const struct cert_ca *ca)
{
	return ca->domain;
}

/* Borrowed: valid as long as ca. */
const uint8_t *
cert_ca_der(const struct cert_ca *ca, size_t *len)
{
	*len = ca->der_len;
	return ca->der;
}

int
cert_ca_issue(struct cert_ca *ca, const uint8_t pubkey[CERT_PUBKEY_LEN], const char *identity,
	      int64_t not_before, int64_t not_after, uint8_t *der, size_t cap)
{
	ed25519_key subject;
	int n;

	wc_ed25519_init(&subject);
	n = cert_fail(-EINVAL, "not an Ed25519 public key");
	if (wc_ed25519_import_public(pubkey, CERT_PUBKEY_LEN, &subject) == 0)
		n = cert_issue_der(ca->der, ca->der_len, ca->domain, &ca->key, &subject, identity,
				   not_before, not_after, der, cap);
	wc_ed25519_free(&subject);
	return n;
}

int
cert_ca_sign(struct cert_ca *ca, const uint8_t *msg, size_t len, uint8_t sig[CERT_SIG_LEN])
{
	word32 sig_len = CERT_SIG_LEN;

	if (len > UINT32_MAX ||
	    wc_ed25519_sign_msg(msg, (word32)len, sig, &sig_len, &ca->key) != 0 ||
	    sig_len != CERT_SIG_LEN)
		return cert_fail(-EIO, "cannot sign with the CA key of %s", ca->domain);
	return 0;
}

bool
cert_verify_sig(const uint8_t ca_pubkey[CERT_PUBKEY_LEN], const uint8_t *msg, size_t len,
		const uint8_t sig[CERT_SIG_LEN])
{
	ed25519_key key;
	int res = 0;

	if (len > UINT32_MAX)
		return false;
	wc_ed25519_init(&key);
	if (wc_ed25519_import_public(ca_pubkey, CERT_PUBKEY_LEN, &key) == 0 &&
	    wc_ed25519_verify_msg(sig, CERT_SIG_LEN, msg, (word32)len, &res, &key) != 0)
		res = 0;
	wc_ed25519_free(&key);
	return res == 1;
}
