// SPDX-License-Identifier: MIT
/*
 * Revocation lists in our own compact format (crl.h has the layout; docs/trust.md the
 * rationale). Written with wbuf, read with rbuf only.
 *
 * Decoding is strict: the exact version, a valid canonical domain, at most CRL_MAX_ENTRIES
 * fingerprints in strictly ascending order (so no duplicates and a binary search works), and
 * no byte after the signature. The whole structure is checked before the signature (cheap
 * before expensive), and nothing is allocated until the signature verifies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/rbuf.h"
#include "core/wbuf.h"
#include "crypto/cert_internal.h"
#include "crypto/crl.h"
#include "crypto/csr.h"
#include "proto/ctlmsg.h"

enum {
	CRL_VERSION = 1,
	CRL_MAGIC_LEN = 4,
	/* magic, version, domain length, number, issued, next_update, count */
	CRL_FIXED_LEN = CRL_MAGIC_LEN + 1 + 1 + 8 + 8 + 8 + 4,
};

/* A whole list must be expressible in the control channel's chunks (proto/ctlmsg.h). */
_Static_assert((long)CRL_WIRE_MAX <= (long)CTL_CRL_TOTAL_MAX, "every list fits CTL_CRL's total");

static const uint8_t CRL_MAGIC[CRL_MAGIC_LEN] = { 'V', 'C', 'R', 'L' };

static int
fpr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, CERT_FPR_LEN);
}

/* A sorted copy of c's fingerprints without duplicates; *n is the count kept. */
static int
crl_sorted(const struct crl *c, uint8_t (**out)[CERT_FPR_LEN], size_t *n)
{
	uint8_t(*v)[CERT_FPR_LEN];
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (c->count == 0)
		return 0;
	v = malloc(c->count * CERT_FPR_LEN);
	if (v == NULL)
		return -ENOMEM;
	memcpy(v, c->revoked, c->count * CERT_FPR_LEN);
	qsort(v, c->count, CERT_FPR_LEN, fpr_cmp);
	for (size_t i = 0; i < c->count; i++)
		if (k == 0 || memcmp(v[k - 1], v[i], CERT_FPR_LEN) != 0)
			memmove(v[k++], v[i], CERT_FPR_LEN);
	*out = v;
	*n = k;
	return 0;
}

/* Ownership: *out is malloc'd and the caller's; nothing is returned on failure. */
int
crl_encode_signed(struct cert_ca *ca, const struct crl *c, uint8_t **out, size_t *len)
{
	const char *domain = cert_ca_domain(ca);
	size_t dlen = strlen(domain), n, cap;
	uint8_t(*fprs)[CERT_FPR_LEN];
	struct wbuf w;
	uint8_t *buf;
	int err;

	if (c->domain[0] != '\0' && strcmp(c->domain, domain) != 0)
		return cert_fail(-EINVAL, "the CA of %s cannot sign a list for %s", domain,
				 c->domain);
	if (c->count > CRL_MAX_ENTRIES)
		return cert_fail(-E2BIG, "more than %d revoked certificates", CRL_MAX_ENTRIES);
	err = crl_sorted(c, &fprs, &n);
	if (err < 0)
		return cert_fail(err, "out of memory");
	cap = CRL_FIXED_LEN + dlen + n * CERT_FPR_LEN + CERT_SIG_LEN;
	buf = malloc(cap);
	err = cert_fail(-ENOMEM, "out of memory");
	if (buf == NULL)
		goto out;
	wbuf_init(&w, buf, cap);
	wbuf_put_bytes(&w, CRL_MAGIC, sizeof(CRL_MAGIC));
	wbuf_put_u8(&w, CRL_VERSION);
	wbuf_put_u8(&w, (uint8_t)dlen);
	wbuf_put_bytes(&w, domain, dlen);
	wbuf_put_u64(&w, c->number);
	wbuf_put_u64(&w, (uint64_t)c->issued);
	wbuf_put_u64(&w, (uint64_t)c->next_update);
	wbuf_put_u32(&w, (uint32_t)n);
	wbuf_put_bytes(&w, fprs, n * CERT_FPR_LEN);
	err = -EIO;
	if (wbuf_ok(&w) && w.off + CERT_SIG_LEN == cap)
		err = cert_ca_sign(ca, buf, w.off, buf + w.off);
	if (err < 0) {
		free(buf);
		goto out;
	}
	*out = buf;
	*len = cap;
out:
	free(fprs);
	return err;
}

/* The fields of a list as parsed, pointing into the input. */
struct crl_view {
	const uint8_t *domain;
	uint8_t domain_len;
	uint64_t number, issued, next_update;
	uint32_t count;
	const uint8_t *fprs;
	size_t signed_len;
	const uint8_t *sig;
};

static bool
crl_parse(const uint8_t *buf, size_t len, struct crl_view *v, const char **why)
{
	const uint8_t *magic;
	struct rbuf r;
	uint8_t version;

	rbuf_init(&r, buf, len);
	*why = "revocation list is truncated";
	if (!rbuf_get_ptr(&r, CRL_MAGIC_LEN, &magic) || !rbuf_get_u8(&r, &version))
		return false;
	*why = "not a revocation list (bad magic or version)";
	if (memcmp(magic, CRL_MAGIC, CRL_MAGIC_LEN) != 0 || version != CRL_VERSION)
		return false;
	*why = "revocation list is truncated";
	if (!rbuf_get_u8(&r, &v->domain_len) || !rbuf_get_ptr(&r, v->domain_len, &v->domain) ||
	    !rbuf_get_u64(&r, &v->number) || !rbuf_get_u64(&r, &v->issued) ||
	    !rbuf_get_u64(&r, &v->next_update) || !rbuf_get_u32(&r, &v->count))
		return false;
	*why = "revocation list has too many entries";
	if (v->count > CRL_MAX_ENTRIES)
		return false;
	*why = "revocation list is truncated";
	if (!rbuf_get_ptr(&r, (size_t)v->count * CERT_FPR_LEN, &v->fprs))
		return false;
	v->signed_len = r.off;
	if (!rbuf_get_ptr(&r, CERT_SIG_LEN, &v->sig))
		return false;
	*why = "revocation list has trailing bytes";
	return rbuf_remaining(&r) == 0;
}

/* The domain must be a valid name already in canonical form; the entries strictly ascending. */
static bool
crl_view_check(const struct crl_view *v, char domain[IDENTITY_DOMAIN_MAX + 1], const char **why)
{
	char canon[IDENTITY_DOMAIN_MAX + 1];

	*why = "revocation list names an invalid domain";
	if (v->domain_len == 0 || v->domain_len > IDENTITY_DOMAIN_MAX ||
	    memchr(v->domain, '\0', v->domain_len) != NULL)
		return false;
	memcpy(domain, v->domain, v->domain_len);
	domain[v->domain_len] = '\0';
	if (!identity_domain_is_valid(domain, NULL) || cert_domain_canon(domain, canon) < 0 ||
	    strcmp(canon, domain) != 0)
		return false;
	*why = "revocation list entries are not sorted and unique";
	for (size_t i = 1; i < v->count; i++)
		if (memcmp(v->fprs + (i - 1) * CERT_FPR_LEN, v->fprs + i * CERT_FPR_LEN,
			   CERT_FPR_LEN) >= 0)
			return false;
	return true;
}

/* Ownership: on success out->revoked is malloc'd (crl_free); on failure *out is empty. */
int
crl_decode_verify(const uint8_t *buf, size_t len, const uint8_t ca_pubkey[CERT_PUBKEY_LEN],
		  struct crl *out, const char **why)
{
	struct crl_view v;

	memset(out, 0, sizeof(*out));
	if (!crl_parse(buf, len, &v, why) || !crl_view_check(&v, out->domain, why))
		goto err_clear;
	*why = "revocation list signature does not verify against the CA";
	if (!cert_verify_sig(ca_pubkey, buf, v.signed_len, v.sig))
		goto err_clear;
	if (v.count > 0) {
		out->revoked = malloc((size_t)v.count * CERT_FPR_LEN);
		*why = "out of memory";
		if (out->revoked == NULL)
			goto err_clear;
		memcpy(out->revoked, v.fprs, (size_t)v.count * CERT_FPR_LEN);
	}
	out->number = v.number;
	out->issued = (int64_t)v.issued;
	out->next_update = (int64_t)v.next_update;
	out->count = v.count;
	*why = "revocation list is valid";
	return 0;

err_clear:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

bool
crl_is_revoked(const struct crl *c, const uint8_t fpr[CERT_FPR_LEN])
{
	if (c->count == 0 || c->revoked == NULL)
		return false;
	return bsearch(fpr, c->revoked, c->count, CERT_FPR_LEN, fpr_cmp) != NULL;
}

void
crl_free(struct crl *c)
{
	if (c == NULL)
		return;
	free(c->revoked);
	c->revoked = NULL;
	c->count = 0;
}
