// SPDX-License-Identifier: MIT
/*
 * Trust anchors: one domain CA per domain, each with its own wolfSSL certificate manager that
 * holds only that CA, and optionally that domain's revocation list. cert_trust_verify/check
 * decide whether a peer certificate is acceptable (docs/trust.md, "Trust anchors").
 *
 * Anchors come from files (configured CAs) or DER (CAs pinned at run time); either way the DER
 * is kept so the TLS layer can load it. Replacing an anchor with a CA of another key drops the
 * revocation list, which that CA did not sign.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "crypto/cert_internal.h"
#include "crypto/crl.h"

struct cert_anchor {
	char domain[IDENTITY_DOMAIN_MAX + 1];
	char *path; /* NULL for an anchor added as DER */
	uint8_t *der;
	size_t der_len;
	uint8_t pubkey[CERT_PUBKEY_LEN];
	WOLFSSL_CERT_MANAGER *cm; /* holds only this domain's CA */
	bool has_crl;
	struct crl crl;
};

struct cert_trust {
	struct cert_anchor *anchors;
	size_t count;
};

int
cert_trust_new(struct cert_trust **out)
{
	cert_lib_init();
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? 0 : -ENOMEM;
}

static void
anchor_clear(struct cert_anchor *a)
{
	wolfSSL_CertManagerFree(a->cm);
	free(a->path);
	free(a->der);
	crl_free(&a->crl);
	memset(a, 0, sizeof(*a));
}

void
cert_trust_free(struct cert_trust *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->count; i++)
		anchor_clear(&t->anchors[i]);
	free(t->anchors);
	free(t);
}

static struct cert_anchor *
trust_find(const struct cert_trust *t, const char *domain)
{
	for (size_t i = 0; i < t->count; i++)
		if (strcmp(t->anchors[i].domain, domain) == 0)
			return &t->anchors[i];
	return NULL;
}

/* Checks that the CA certificate in der is a CA named exactly domain, self-issued. */
static int
trust_check_ca(const char *domain, const uint8_t *der, size_t len, const char *name,
	       struct cert_info *ca)
{
	if (cert_info_from_der(der, len, ca) < 0)
		return cert_fail(-EINVAL, "%s: not an Ed25519 certificate", name);
	if (!ca->is_ca)
		return cert_fail(-EINVAL, "%s: not a CA certificate", name);
	if (strcmp(ca->subject, domain) != 0)
		return cert_fail(-EINVAL, "%s: the CA is named %s, not %s", name, ca->subject,
				 domain);
	if (strcmp(ca->issuer, ca->subject) != 0)
		return cert_fail(-EINVAL, "%s: the CA is not self-signed", name);
	return 0;
}

/*
 * Builds a complete anchor for domain in *a (checked CA, own copy of der and path, a certificate
 * manager holding it). On failure *a is left empty.
 */
static int
anchor_make(struct cert_anchor *a, const char *domain, const uint8_t *der, size_t len,
	    const char *path)
{
	const char *name = path != NULL ? path : domain;
	struct cert_info ca;
	int err;

	memset(a, 0, sizeof(*a));
	err = trust_check_ca(domain, der, len, name, &ca);
	if (err < 0)
		return err;
	snprintf(a->domain, sizeof(a->domain), "%s", domain);
	memcpy(a->pubkey, ca.pubkey, sizeof(a->pubkey));
	a->der = malloc(len);
	a->path = path != NULL ? strdup(path) : NULL;
	a->cm = wolfSSL_CertManagerNew();
	err = cert_fail(-ENOMEM, "out of memory");
	if (a->der == NULL || (path != NULL && a->path == NULL) || a->cm == NULL)
		goto err_clear;
	memcpy(a->der, der, len);
	a->der_len = len;
	err = cert_fail(-EINVAL, "%s: wolfSSL refuses the CA certificate (expired?)", name);
	if (wolfSSL_CertManagerLoadCABuffer(a->cm, der, (long)len, WOLFSSL_FILETYPE_ASN1) !=
	    WOLFSSL_SUCCESS)
		goto err_clear;
	return 0;

err_clear:
	anchor_clear(a);
	return err;
}

/* Adds the anchor for a canonical domain, or replaces the one it has. */
static int
trust_put(struct cert_trust *t, const char *domain, const uint8_t *der, size_t len,
	  const char *path)
{
	struct cert_anchor fresh, *old, *grown;
	int err;

	if (len == 0 || len > CERT_DER_MAX)
		return cert_fail(-EINVAL, "%s: not a certificate of ours", domain);
	err = anchor_make(&fresh, domain, der, len, path);
	if (err < 0)
		return err;
	old = trust_find(t, domain);
	if (old != NULL) {
		/* The same CA key keeps its revocation list; another key's list is moot. */
		if (old->has_crl && memcmp(old->pubkey, fresh.pubkey, CERT_PUBKEY_LEN) == 0) {
			fresh.crl = old->crl;
			fresh.has_crl = true;
			memset(&old->crl, 0, sizeof(old->crl));
		}
		anchor_clear(old);
		*old = fresh;
		return 0;
	}
	grown = realloc(t->anchors, (t->count + 1) * sizeof(*grown));
	if (grown == NULL) {
		anchor_clear(&fresh);
		return cert_fail(-ENOMEM, "out of memory");
	}
	t->anchors = grown;
	t->anchors[t->count++] = fresh;
	return 0;
}

int
cert_trust_add(struct cert_trust *t, const char *domain, const char *ca_path)
{
	char name[IDENTITY_DOMAIN_MAX + 1];
	uint8_t der[CERT_DER_MAX];
	int len, err;

	err = cert_domain_canon(domain, name);
	if (err < 0)
		return err;
	if (trust_find(t, name) != NULL)
		return cert_fail(-EEXIST, "%s: already has a trusted CA", name);
	len = cert_load_der(ca_path, der, sizeof(der));
	if (len < 0)
		return len;
	return trust_put(t, name, der, (size_t)len, ca_path);
}

int
cert_trust_add_der(struct cert_trust *t, const char *domain, const uint8_t *der, size_t len)
{
	char name[IDENTITY_DOMAIN_MAX + 1];
	int err;

	err = cert_domain_canon(domain, name);
	if (err < 0)
		return err;
	return trust_put(t, name, der, len, NULL);
}

int
cert_trust_remove(struct cert_trust *t, const char *domain)
{
	char name[IDENTITY_DOMAIN_MAX + 1];
	struct cert_anchor *a;
	int err = cert_domain_canon(domain, name);

	if (err < 0)
		return err;
	if ((a = trust_find(t, name)) == NULL)
		return -ENOENT;
	anchor_clear(a);
	*a = t->anchors[--t->count]; /* the last one fills the hole; order does not matter */
	return 0;
}

const uint8_t *
cert_trust_anchor_der(const struct cert_trust *t, const char *domain, size_t *len)
{
	char name[IDENTITY_DOMAIN_MAX + 1];
	const struct cert_anchor *a;

	if (cert_domain_canon(domain, name) < 0 || (a = trust_find(t, name)) == NULL)
		return NULL;
	if (len != NULL)
		*len = a->der_len;
	return a->der;
}

size_t
cert_trust_count(const struct cert_trust *t)
{
	return t->count;
}

void
cert_trust_each(const struct cert_trust *t,
		void (*fn)(const char *domain, const char *ca_path, const uint8_t *der, size_t len,
			   void *arg),
		void *arg)
{
	for (size_t i = 0; i < t->count; i++) {
		const struct cert_anchor *a = &t->anchors[i];

		fn(a->domain, a->path, a->der, a->der_len, arg);
	}
}

static int
anchor_fpr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, CERT_FPR_LEN);
}

/*
 * Older, or the same list again, is not newer: a replay cannot un-revoke. The same number
 * re-signed later is the same list made fresh again (a new next_update), and is newer.
 */
static bool
anchor_crl_is_newer(const struct cert_anchor *a, uint64_t number, int64_t issued)
{
	return !a->has_crl || number > a->crl.number ||
	       (number == a->crl.number && issued > a->crl.issued);
}

bool
cert_trust_crl_is_newer(const struct cert_trust *t, const char *domain, uint64_t number,
			int64_t issued)
{
	const struct cert_anchor *a = trust_find(t, domain);

	return a != NULL && anchor_crl_is_newer(a, number, issued);
}

int
cert_trust_set_crl(struct cert_trust *t, const struct crl *c)
{
	struct cert_anchor *a = trust_find(t, c->domain);
	uint8_t(*copy)[CERT_FPR_LEN] = NULL;

	if (a == NULL)
		return cert_fail(-ENOENT, "%s: no trusted CA for this revocation list", c->domain);
	if (!anchor_crl_is_newer(a, c->number, c->issued))
		return -EALREADY;
	if (c->count > CRL_MAX_ENTRIES)
		return cert_fail(-EINVAL, "%s: revocation list too long", c->domain);
	if (c->count > 0) {
		copy = malloc(c->count * sizeof(*copy));
		if (copy == NULL)
			return cert_fail(-ENOMEM, "out of memory");
		memcpy(copy, c->revoked, c->count * sizeof(*copy));
		/* crl_is_revoked searches: a list built by hand may not be sorted yet. */
		qsort(copy, c->count, sizeof(*copy), anchor_fpr_cmp);
	}
	crl_free(&a->crl);
	a->crl = *c;
	a->crl.revoked = copy;
	a->has_crl = true;
	return 0;
}

/* Ownership: on success *out is a decoded copy the caller frees with crl_free. */
int
cert_trust_apply_crl(struct cert_trust *t, const char *domain, const uint8_t *buf, size_t len,
		     struct crl *out, const char **why)
{
	struct cert_anchor *a = trust_find(t, domain);
	int err;

	memset(out, 0, sizeof(*out));
	*why = "no trusted CA for its domain";
	if (a == NULL)
		return -ENOENT;
	if (crl_decode_verify(buf, len, a->pubkey, out, why) < 0)
		return -EINVAL;
	if (strcmp(out->domain, domain) != 0) {
		*why = "the list is for another domain";
		crl_free(out);
		return -EINVAL;
	}
	err = cert_trust_set_crl(t, out);
	*why = err == -EALREADY ? "not newer than the list held" : cert_strerror();
	if (err < 0)
		crl_free(out);
	return err;
}

int
cert_trust_crl_info(const struct cert_trust *t, const char *domain, uint64_t *number,
		    int64_t *next_update)
{
	const struct cert_anchor *a = trust_find(t, domain);

	if (a == NULL || !a->has_crl)
		return -ENOENT;
	*number = a->crl.number;
	*next_update = a->crl.next_update;
	return 0;
}

/* Why a peer certificate was refused; each has a static and a detailed wording. */
enum trust_reason {
	TRUST_OK,
	TRUST_GARBAGE,
	TRUST_IS_CA,
	TRUST_BAD_NAME,
	TRUST_NO_ANCHOR,
	TRUST_NOT_YET_VALID,
	TRUST_EXPIRED,
	TRUST_REVOKED,
	TRUST_BAD_SIGNATURE,
};

static const char *const trust_why[] = {
	[TRUST_OK] = "certificate is trusted",
	[TRUST_GARBAGE] = "certificate does not parse as an Ed25519 X.509 certificate",
	[TRUST_IS_CA] = "a CA certificate was presented as a peer certificate",
	[TRUST_BAD_NAME] = "certificate name is not a valid user@domain",
	[TRUST_NO_ANCHOR] = "no trusted CA for the certificate's domain",
	[TRUST_NOT_YET_VALID] = "certificate is not valid yet",
	[TRUST_EXPIRED] = "certificate expired",
	[TRUST_REVOKED] = "certificate revoked",
	[TRUST_BAD_SIGNATURE] = "certificate is not signed by the CA of its domain",
};

/* Checks the signature against the domain's CA only, leaving dates to us (we have `now`). */
static bool
trust_signature_ok(const struct cert_anchor *a, const uint8_t *der, size_t len)
{
	DecodedCert *dc;
	int ret;

	dc = calloc(1, sizeof(*dc));
	if (dc == NULL)
		return false;
	wc_InitDecodedCert(dc, der, (word32)len, NULL);
	ret = wc_ParseCert(dc, CERT_TYPE, VERIFY_SKIP_DATE, a->cm);
	wc_FreeDecodedCert(dc);
	free(dc);
	return ret == 0;
}

/* What trust_evaluate found out, for the wording of a refusal. */
struct trust_verdict {
	enum trust_reason reason;
	struct cert_info info;
	struct identity id;
	const char *name_why;
	const struct cert_anchor *anchor; /* of the certificate's domain, once known */
};

static bool
trust_is_revoked(const struct cert_anchor *a, const struct cert_info *info)
{
	return a->has_crl && crl_is_revoked(&a->crl, info->fpr);
}

/* The checks in order: cheap ones first, the signature last (STYLE §17). */
static enum trust_reason
trust_evaluate(const struct cert_trust *t, const uint8_t *der, size_t len, int64_t now,
	       struct trust_verdict *v)
{
	char canon[IDENTITY_STR_MAX];
	struct cert_info *info = &v->info;

	memset(v, 0, sizeof(*v));
	if (cert_info_from_der(der, len, info) < 0)
		return TRUST_GARBAGE;
	if (info->is_ca)
		return TRUST_IS_CA;
	if (identity_parse(info->subject, IDENTITY_PURPOSE_FORBIDDEN, &v->id, &v->name_why) < 0)
		return TRUST_BAD_NAME;
	/* The grammar folds case; a certificate must already carry the canonical name. */
	if (identity_format(&v->id, canon, sizeof(canon)) < 0 ||
	    strcmp(canon, info->subject) != 0) {
		v->name_why = "name is not in canonical lower case";
		return TRUST_BAD_NAME;
	}
	v->anchor = trust_find(t, v->id.domain);
	if (v->anchor == NULL)
		return TRUST_NO_ANCHOR;
	if (now < info->not_before)
		return TRUST_NOT_YET_VALID;
	if (now > info->not_after)
		return TRUST_EXPIRED;
	if (trust_is_revoked(v->anchor, info))
		return TRUST_REVOKED;
	if (!trust_signature_ok(v->anchor, der, len))
		return TRUST_BAD_SIGNATURE;
	return TRUST_OK;
}

static void
trust_explain(const struct trust_verdict *v, char *msg, size_t cap)
{
	const struct cert_info *info = &v->info;
	char when[32];

	switch (v->reason) {
	case TRUST_IS_CA:
		snprintf(msg, cap,
			 "peer presented the CA certificate of %s, not a user certificate",
			 info->subject);
		break;
	case TRUST_BAD_NAME:
		snprintf(msg, cap, "certificate name \"%s\" is not a valid user@domain: %s",
			 info->subject, v->name_why != NULL ? v->name_why : "invalid");
		break;
	case TRUST_NO_ANCHOR:
		snprintf(msg, cap, "no trusted CA for domain %s", v->id.domain);
		break;
	case TRUST_NOT_YET_VALID:
		cert_time_format(info->not_before, when, sizeof(when));
		snprintf(msg, cap, "certificate of %s is not valid until %s", info->subject, when);
		break;
	case TRUST_EXPIRED:
		cert_time_format(info->not_after, when, sizeof(when));
		snprintf(msg, cap, "certificate expired at %s", when);
		break;
	case TRUST_REVOKED:
		snprintf(msg, cap, "certificate revoked by %s (list #%" PRIu64 ")",
			 v->anchor->domain, v->anchor->crl.number);
		break;
	case TRUST_BAD_SIGNATURE:
		snprintf(msg, cap, "certificate of %s (issued by %s) is not signed by the CA of %s",
			 info->subject, info->issuer, v->id.domain);
		break;
	default:
		snprintf(msg, cap, "%s", trust_why[v->reason]);
		break;
	}
}

int
cert_trust_check(const struct cert_trust *t, const uint8_t *der, size_t len, int64_t now,
		 struct cert_info *out, char *msg, size_t msg_len)
{
	struct trust_verdict v;

	v.reason = trust_evaluate(t, der, len, now, &v);
	if (out != NULL)
		*out = v.info;
	if (v.reason == TRUST_OK)
		return 0;
	if (msg != NULL && msg_len > 0)
		trust_explain(&v, msg, msg_len);
	return -EACCES;
}

/* Holds the one reason that is not static (it names a domain and a list number). */
static __thread char trust_revoked_why[IDENTITY_DOMAIN_MAX + 64];

int
cert_trust_verify(const struct cert_trust *t, const uint8_t *der, size_t len, int64_t now,
		  struct cert_info *out, const char **why)
{
	struct trust_verdict v;

	v.reason = trust_evaluate(t, der, len, now, &v);
	if (out != NULL)
		*out = v.info;
	if (why == NULL)
		return v.reason == TRUST_OK ? 0 : -EACCES;
	*why = trust_why[v.reason];
	if (v.reason == TRUST_REVOKED) {
		trust_explain(&v, trust_revoked_why, sizeof(trust_revoked_why));
		*why = trust_revoked_why;
	}
	return v.reason == TRUST_OK ? 0 : -EACCES;
}
