// SPDX-License-Identifier: MIT
/*
 * Certificates with wolfCrypt: domain CAs, issuing agent certificates, reading them back and
 * fingerprints. Key pairs and the files they and certificates live in are keyfile.c's (private
 * keys 0600 and never overwritten, certificates replaced atomically). The per-domain trust
 * anchors that decide whether a peer's certificate is acceptable are in anchors.c; CSRs and the
 * in-memory CA are in csr.c, which issues through the same signing core (cert_issue_der).
 *
 * The public functions here are file based (the CLI and the server call the same functions).
 *
 * Verification does not trust wolfSSL's view of "now": dates are compared with the caller's
 * `now` (tests inject time), and the signature is checked by wolfSSL against a certificate
 * manager that holds only the CA of the domain the certificate names.
 *
 * Limits: wolfSSL's certificate builder caps a common name at 63 bytes, so longer identities
 * cannot be certified yet (-ENAMETOOLONG).
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/random.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/aead.h"
#include "crypto/cert.h"
#include "crypto/cert_internal.h"

enum {
	ASN_TIME_MAX = 17, /* tag, length, YYYYMMDDHHMMSSZ */
	CN_MAX = CTC_NAME_SIZE - 1,
};
_Static_assert((int)CERT_NAME_MAX == (int)CN_MAX, "cert.h promises wolfSSL's name limit");

static __thread char cert_err[512];

int
cert_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cert_err, sizeof(cert_err), fmt, ap);
	va_end(ap);
	return err;
}

const char *
cert_strerror(void)
{
	return cert_err[0] != '\0' ? cert_err : "no error";
}

static pthread_once_t cert_once = PTHREAD_ONCE_INIT;

/* wolfSSL_Init is reference counted and never undone: the library lives as long as we do. */
static void
cert_wolfssl_init(void)
{
	wolfSSL_Init();
}

void
cert_lib_init(void)
{
	pthread_once(&cert_once, cert_wolfssl_init);
}

/* --- time ------------------------------------------------------------------------------ */

/*
 * Encodes t as a DER time with tag and length, as wolfSSL expects in Cert.beforeDate: UTCTime
 * for 1950..2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5).
 */
static int
time_to_asn1(int64_t t, uint8_t out[ASN_TIME_MAX], int *len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[32];
	size_t n;

	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return -ERANGE;
	if (tm.tm_year + 1900 >= 1950 && tm.tm_year + 1900 < 2050) {
		n = strftime(s, sizeof(s), "%y%m%d%H%M%SZ", &tm);
		out[0] = ASN_UTC_TIME;
	} else {
		n = strftime(s, sizeof(s), "%Y%m%d%H%M%SZ", &tm);
		out[0] = ASN_GENERALIZED_TIME;
	}
	if (n == 0 || n + 2 > ASN_TIME_MAX)
		return -ERANGE;
	out[1] = (uint8_t)n;
	memcpy(out + 2, s, n);
	*len = (int)n + 2;
	return 0;
}

static bool
digits(const uint8_t *p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		*v = *v * 10 + (p[i] - '0');
	}
	return true;
}

/* Decodes a DER UTCTime/GeneralizedTime (with tag and length) in the "Z" form we issue. */
static int
asn1_to_time(const uint8_t *p, int len, int64_t *out)
{
	struct tm tm = { 0 };
	int year, ylen;

	if (p == NULL || len < 2 || p[1] != len - 2)
		return -EBADMSG;
	ylen = p[0] == ASN_UTC_TIME ? 2 : p[0] == ASN_GENERALIZED_TIME ? 4 : 0;
	if (ylen == 0 || len - 2 != ylen + 11 || p[len - 1] != 'Z')
		return -EBADMSG;
	p += 2;
	if (!digits(p, ylen, &year) || !digits(p + ylen, 2, &tm.tm_mon) ||
	    !digits(p + ylen + 2, 2, &tm.tm_mday) || !digits(p + ylen + 4, 2, &tm.tm_hour) ||
	    !digits(p + ylen + 6, 2, &tm.tm_min) || !digits(p + ylen + 8, 2, &tm.tm_sec))
		return -EBADMSG;
	if (ylen == 2)
		year += year < 50 ? 2000 : 1900;
	tm.tm_year = year - 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int
cert_domain_canon(const char *domain, char out[IDENTITY_DOMAIN_MAX + 1])
{
	const char *why;

	if (!identity_domain_canon(domain, out, &why))
		return cert_fail(-EINVAL, "%s: %s", domain, why);
	return 0;
}

/* --- issuing --------------------------------------------------------------------------- */

/* Fills the fields common to CA and agent certificates. */
static int
cert_template(Cert *c, const char *cn, int64_t not_before, int64_t not_after, bool is_ca)
{
	wc_InitCert(c);
	if (strlen(cn) > CN_MAX)
		return cert_fail(-ENAMETOOLONG, "%s: name longer than %d bytes", cn, CN_MAX);
	if (not_after <= not_before)
		return cert_fail(-EINVAL, "validity ends before it starts");
	memcpy(c->subject.commonName, cn, strlen(cn) + 1);
	c->subject.commonNameEnc = CTC_UTF8;
	c->sigType = CTC_ED25519;
	c->isCA = is_ca;
	/* wolfSSL draws a random serial number itself when serialSz is 0. */
	if (time_to_asn1(not_before, c->beforeDate, &c->beforeDateSz) < 0 ||
	    time_to_asn1(not_after, c->afterDate, &c->afterDateSz) < 0)
		return cert_fail(-ERANGE, "validity dates out of range");
	if (wc_SetKeyUsage(c, is_ca ? "keyCertSign,cRLSign" : "digitalSignature") != 0)
		return cert_fail(-EIO, "cannot set key usage");
	return 0;
}

/* Makes and signs c over subject_key with ca_key into der; returns the DER length or -errno. */
static int
cert_build(Cert *c, ed25519_key *subject_key, ed25519_key *ca_key, WC_RNG *rng, uint8_t *der,
	   size_t cap)
{
	word32 wcap = cap > CERT_DER_MAX ? CERT_DER_MAX : (word32)cap;
	int n;

	if (wc_SetSubjectKeyIdFromPublicKey_ex(c, ED25519_TYPE, subject_key) != 0 ||
	    wc_SetAuthKeyIdFromPublicKey_ex(c, ED25519_TYPE, ca_key) != 0)
		return cert_fail(-EIO, "cannot set key identifiers");
	n = wc_MakeCert_ex(c, der, wcap, ED25519_TYPE, subject_key, rng);
	if (n < 0)
		return cert_fail(-EIO, "cannot build the certificate (wolfSSL error %d)", n);
	n = wc_SignCert_ex(c->bodySz, c->sigType, der, wcap, ED25519_TYPE, ca_key, rng);
	if (n < 0)
		return cert_fail(n == BUFFER_E ? -ENOSPC : -EIO,
				 "cannot sign the certificate (wolfSSL error %d)", n);
	return n;
}

int
cert_ca_init(const char *domain, unsigned days, const char *key_path, const char *cert_path)
{
	int64_t now = (int64_t)time(NULL);
	char name[IDENTITY_DOMAIN_MAX + 1];
	uint8_t der[CERT_DER_MAX];
	ed25519_key key;
	WC_RNG rng;
	Cert *c;
	int err;

	err = cert_domain_canon(domain, name);
	if (err < 0)
		return err;
	if (days == 0)
		return cert_fail(-EINVAL, "validity must be at least one day");
	cert_lib_init();
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return cert_fail(-ENOMEM, "out of memory");
	err = cert_fail(-EIO, "cannot initialise the random generator");
	if (wc_InitRng(&rng) != 0)
		goto err_free;
	wc_ed25519_init(&key);
	err = cert_template(c, name, now - 60, now + (int64_t)days * 86400, true);
	if (err == 0)
		err = cert_key_generate(&key, &rng);
	if (err == 0) {
		c->selfSigned = 1;
		err = cert_key_write(&key, key_path, NULL);
	}
	if (err == 0)
		err = cert_build(c, &key, &key, &rng, der, sizeof(der));
	if (err > 0)
		err = cert_pem_write(cert_path, der, (size_t)err, CERT_TYPE, false);
	wc_ed25519_free(&key);
	wc_FreeRng(&rng);
err_free:
	free(c);
	return err;
}

/*
 * Checks that identity is a certifiable user@domain of the CA in ca_der. Whether the CA key
 * matches the certificate is not checked here: cert_ca_load() checks it once, and the offline
 * signer is left able to produce a mismatched (never verifying) certificate for tests.
 */
static int
cert_sign_check(const char *identity, const uint8_t *ca_der, size_t ca_len, const char *ca_name)
{
	struct cert_info ca;
	struct identity id;
	const char *why;

	if (identity_parse(identity, IDENTITY_PURPOSE_FORBIDDEN, &id, &why) < 0)
		return cert_fail(-EINVAL, "%s: %s", identity, why);
	if (cert_info_from_der(ca_der, ca_len, &ca) < 0 || !ca.is_ca)
		return cert_fail(-EINVAL, "%s: not a CA certificate", ca_name);
	if (strcmp(ca.subject, id.domain) != 0)
		return cert_fail(-EINVAL, "%s: the CA of %s cannot sign for %s@%s", ca_name,
				 ca.subject, id.user, id.domain);
	return 0;
}

/*
 * The signing core of cert_sign() (files) and cert_ca_issue() (memory), see cert_internal.h.
 * Issues the canonical (lower-case) spelling of identity.
 */
int
cert_issue_der(const uint8_t *ca_der, size_t ca_len, const char *ca_name, ed25519_key *ca_key,
	       ed25519_key *subject_key, const char *identity, int64_t not_before,
	       int64_t not_after, uint8_t *der, size_t cap)
{
	char name[IDENTITY_STR_MAX];
	struct identity id;
	WC_RNG rng;
	Cert *c;
	int err;

	cert_lib_init();
	err = cert_sign_check(identity, ca_der, ca_len, ca_name);
	if (err < 0)
		return err;
	identity_parse(identity, IDENTITY_PURPOSE_FORBIDDEN, &id, NULL);
	identity_format(&id, name, sizeof(name));
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return cert_fail(-ENOMEM, "out of memory");
	err = cert_fail(-EIO, "cannot initialise the random generator");
	if (wc_InitRng(&rng) != 0)
		goto err_free;
	err = cert_template(c, name, not_before, not_after, false);
	if (err == 0 && wc_SetIssuerBuffer(c, ca_der, (int)ca_len) != 0)
		err = cert_fail(-EBADMSG, "%s: cannot take the issuer name", ca_name);
	if (err == 0)
		err = cert_build(c, subject_key, ca_key, &rng, der, cap);
	wc_FreeRng(&rng);
err_free:
	free(c);
	return err;
}

int
cert_sign(const char *ca_key_path, const char *ca_cert_path, const char *pub_path,
	  const char *identity, int64_t not_before, int64_t not_after, const char *out_path)
{
	uint8_t ca_der[CERT_DER_MAX], der[CERT_DER_MAX];
	ed25519_key ca_key, key;
	int ca_len, err;

	cert_lib_init();
	ca_len = cert_load_der(ca_cert_path, ca_der, sizeof(ca_der));
	if (ca_len < 0)
		return ca_len;
	wc_ed25519_init(&ca_key);
	wc_ed25519_init(&key);
	err = cert_key_load_private(ca_key_path, &ca_key);
	if (err == 0)
		err = cert_key_load_public(pub_path, &key);
	if (err == 0)
		err = cert_issue_der(ca_der, (size_t)ca_len, ca_cert_path, &ca_key, &key, identity,
				     not_before, not_after, der, sizeof(der));
	if (err > 0)
		err = cert_pem_write(out_path, der, (size_t)err, CERT_TYPE, false);
	wc_ed25519_free(&key);
	wc_ed25519_free(&ca_key);
	return err;
}

/* --- reading --------------------------------------------------------------------------- */

/* Copies a name of n bytes (not NUL terminated in the certificate) into out. */
static int
name_copy(char *out, size_t cap, const char *s, size_t n)
{
	if (s == NULL || n == 0 || n >= cap || memchr(s, '\0', n) != NULL)
		return -EBADMSG;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* The CN out of wolfSSL's one-line "/CN=..." rendering of the issuer. */
static int
issuer_cn(const char *line, char *out, size_t cap)
{
	const char *cn = strstr(line, "/CN=");
	size_t n;

	if (cn == NULL)
		return -EBADMSG;
	cn += 4;
	n = strcspn(cn, "/");
	return name_copy(out, cap, cn, n);
}

static int
decoded_to_info(const DecodedCert *dc, struct cert_info *out)
{
	if (dc->keyOID != ED25519k || dc->pubKeySize != CERT_PUBKEY_LEN)
		return -EBADMSG;
	if (name_copy(out->subject, sizeof(out->subject), dc->subjectCN, (size_t)dc->subjectCNLen) <
		0 ||
	    issuer_cn(dc->issuer, out->issuer, sizeof(out->issuer)) < 0)
		return -EBADMSG;
	if (asn1_to_time(dc->beforeDate, dc->beforeDateLen, &out->not_before) < 0 ||
	    asn1_to_time(dc->afterDate, dc->afterDateLen, &out->not_after) < 0)
		return -EBADMSG;
	out->is_ca = dc->isCA;
	memcpy(out->pubkey, dc->publicKey, CERT_PUBKEY_LEN);
	return 0;
}

int
cert_info_from_der(const uint8_t *der, size_t len, struct cert_info *out)
{
	DecodedCert *dc;
	int err;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > CERT_DER_MAX)
		return -EBADMSG;
	dc = calloc(1, sizeof(*dc));
	if (dc == NULL)
		return -ENOMEM;
	wc_InitDecodedCert(dc, der, (word32)len, NULL);
	err = -EBADMSG;
	if (wc_ParseCert(dc, CERT_TYPE, NO_VERIFY, NULL) == 0)
		err = decoded_to_info(dc, out);
	if (err == 0 && wc_Sha256Hash(der, (word32)len, out->fpr) != 0)
		err = -EIO;
	wc_FreeDecodedCert(dc);
	free(dc);
	return err;
}

int
cert_load_der(const char *path, uint8_t *der, size_t cap)
{
	char pem[CERT_FILE_MAX];
	int n;

	n = cert_file_read(path, pem, sizeof(pem));
	if (n < 0)
		return n;
	n = wc_CertPemToDer((const uint8_t *)pem, n, der, (int)(cap > INT_MAX ? INT_MAX : cap),
			    CERT_TYPE);
	if (n <= 0)
		return cert_fail(-EBADMSG, "%s: not a PEM certificate", path);
	return n;
}

int
cert_info_from_file(const char *path, struct cert_info *out)
{
	uint8_t der[CERT_DER_MAX];
	int n;

	n = cert_load_der(path, der, sizeof(der));
	if (n < 0)
		return n;
	if (cert_info_from_der(der, (size_t)n, out) < 0)
		return cert_fail(-EBADMSG, "%s: not an Ed25519 certificate of ours", path);
	return 0;
}

void
cert_fpr_format(const uint8_t fpr[CERT_FPR_LEN], char *buf, size_t len)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char out[7 + (CERT_FPR_LEN * 4 + 2) / 3 + 1] = "SHA256:";
	size_t o = 7;

	for (size_t i = 0; i < CERT_FPR_LEN; i += 3) {
		uint32_t v = (uint32_t)fpr[i] << 16;
		size_t n = CERT_FPR_LEN - i < 3 ? CERT_FPR_LEN - i : 3;

		if (n > 1)
			v |= (uint32_t)fpr[i + 1] << 8;
		if (n > 2)
			v |= fpr[i + 2];
		for (size_t k = 0; k <= n; k++)
			out[o++] = b64[(v >> (18 - 6 * k)) & 63];
	}
	out[o] = '\0';
	snprintf(buf, len, "%s", out);
}

void
cert_time_format(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
}

int
cert_write_pem(const char *path, const uint8_t *der, size_t len)
{
	return cert_pem_write(path, der, len, CERT_TYPE, false);
}
