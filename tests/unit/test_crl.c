// SPDX-License-Identifier: MIT
/*
 * Tests for daemon/crypto/crl.c and the revocation half of the trust anchors: signing and
 * checking lists, every corruption refused, lookups against a naive reference, and
 * cert_trust_verify refusing exactly the revoked certificates.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/cert.h"
#include "pki.h"
#include "crypto/crl.h"
#include "crypto/csr.h"

#define DAY 86400

struct fx {
	struct test_pki pki;
	struct cert_ca *ca_a, *ca_b;
	uint8_t pub_a[CERT_PUBKEY_LEN], pub_b[CERT_PUBKEY_LEN];
	uint8_t bob[CERT_DER_MAX], carol[CERT_DER_MAX];
	size_t bob_len, carol_len;
};

static char *
fx_path(const struct fx *f, const char *name)
{
	return test_pki_path(&f->pki, name);
}

/* A certificate for identity over a fresh key, issued by ca. */
static size_t
fx_issue(struct fx *f, struct cert_ca *ca, const char *user, const char *identity, uint8_t *der)
{
	uint8_t csr[CSR_DER_MAX], pub[CERT_PUBKEY_LEN];
	char key[32], id[IDENTITY_STR_MAX];
	const char *why;
	int n;

	snprintf(key, sizeof(key), "%s.key", user);
	assert_int_equal(cert_key_new(fx_path(f, key), NULL), 0);
	n = csr_new(fx_path(f, key), identity, csr, sizeof(csr));
	assert_true(n > 0);
	assert_int_equal(csr_verify(csr, (size_t)n, id, pub, &why), 0);
	n = cert_ca_issue(ca, pub, id, f->pki.now - 60, f->pki.now + DAY, der, CERT_DER_MAX);
	assert_true(n > 0);
	return (size_t)n;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cert_info info;

	assert_non_null(f);
	test_pki_setup(&f->pki, "crl");
	assert_int_equal(cert_ca_load(&f->ca_a, fx_path(f, "a.key"), fx_path(f, "a.crt")), 0);
	assert_int_equal(cert_ca_load(&f->ca_b, fx_path(f, "b.key"), fx_path(f, "b.crt")), 0);
	assert_int_equal(cert_info_from_file(fx_path(f, "a.crt"), &info), 0);
	memcpy(f->pub_a, info.pubkey, CERT_PUBKEY_LEN);
	assert_int_equal(cert_info_from_file(fx_path(f, "b.crt"), &info), 0);
	memcpy(f->pub_b, info.pubkey, CERT_PUBKEY_LEN);
	f->bob_len = fx_issue(f, f->ca_b, "bob", "bob@b.example.com", f->bob);
	f->carol_len = fx_issue(f, f->ca_b, "carol", "carol@b.example.com", f->carol);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	cert_ca_free(f->ca_a);
	cert_ca_free(f->ca_b);
	test_pki_teardown(&f->pki);
	free(f);
	return 0;
}

static void
fpr_of(const uint8_t *der, size_t len, uint8_t fpr[CERT_FPR_LEN])
{
	struct cert_info info;

	assert_int_equal(cert_info_from_der(der, len, &info), 0);
	memcpy(fpr, info.fpr, CERT_FPR_LEN);
}

/* Signs a list of b.example.com with number and the given fingerprints. */
static uint8_t *
sign_list(struct fx *f, uint64_t number, uint8_t (*fprs)[CERT_FPR_LEN], size_t count, size_t *len)
{
	struct crl c = { .number = number, .issued = f->pki.now, .next_update = f->pki.now + DAY };
	uint8_t *buf = NULL;

	snprintf(c.domain, sizeof(c.domain), "b.example.com");
	c.count = count;
	c.revoked = fprs;
	assert_int_equal(crl_encode_signed(f->ca_b, &c, &buf, len), 0);
	return buf;
}

static void
test_crl_encode_decode_round_trip(void **state)
{
	struct fx *f = *state;
	uint8_t fprs[3][CERT_FPR_LEN];
	struct crl out;
	const char *why = NULL;
	uint8_t *buf;
	size_t len;

	memset(fprs[0], 0xcc, CERT_FPR_LEN);
	memset(fprs[1], 0x11, CERT_FPR_LEN);
	memset(fprs[2], 0x77, CERT_FPR_LEN);
	buf = sign_list(f, 42, fprs, 3, &len);
	assert_int_equal(len, 4 + 1 + 1 + 13 + 8 + 8 + 8 + 4 + 3 * CERT_FPR_LEN + CERT_SIG_LEN);
	assert_memory_equal(buf,
			    "VCRL\x01\x0d"
			    "b.example.com",
			    19);
	assert_int_equal(crl_decode_verify(buf, len, f->pub_b, &out, &why), 0);
	assert_string_equal(out.domain, "b.example.com");
	assert_int_equal(out.number, 42);
	assert_int_equal(out.issued, f->pki.now);
	assert_int_equal(out.next_update, f->pki.now + DAY);
	assert_int_equal(out.count, 3);
	/* Sorted on the wire. */
	assert_int_equal(out.revoked[0][0], 0x11);
	assert_int_equal(out.revoked[1][0], 0x77);
	assert_int_equal(out.revoked[2][0], 0xcc);
	crl_free(&out);
	crl_free(&out); /* idempotent */
	free(buf);
	/* An empty list is valid too. */
	buf = sign_list(f, 1, NULL, 0, &len);
	assert_int_equal(crl_decode_verify(buf, len, f->pub_b, &out, &why), 0);
	assert_int_equal(out.count, 0);
	assert_false(crl_is_revoked(&out, fprs[0]));
	crl_free(&out);
	free(buf);
}

static void
test_crl_encode_signed_other_domain(void **state)
{
	struct fx *f = *state;
	struct crl c = { .number = 1 };
	uint8_t *buf = NULL;
	size_t len;

	snprintf(c.domain, sizeof(c.domain), "b.example.com");
	assert_int_equal(crl_encode_signed(f->ca_a, &c, &buf, &len), -EINVAL);
	assert_null(buf);
}

static void
test_crl_decode_verify_other_ca(void **state)
{
	struct fx *f = *state;
	uint8_t fprs[1][CERT_FPR_LEN] = { { 1 } };
	struct crl out;
	const char *why = NULL;
	uint8_t *buf;
	size_t len;

	buf = sign_list(f, 1, fprs, 1, &len);
	assert_int_equal(crl_decode_verify(buf, len, f->pub_a, &out, &why), -EINVAL);
	assert_non_null(strstr(why, "signature"));
	assert_null(out.revoked);
	free(buf);
}

static void
test_crl_decode_verify_flipped_bytes(void **state)
{
	struct fx *f = *state;
	uint8_t fprs[4][CERT_FPR_LEN];
	struct crl out;
	const char *why;
	uint8_t *buf;
	size_t len;

	for (int i = 0; i < 4; i++)
		memset(fprs[i], 0x10 * (i + 1), CERT_FPR_LEN);
	buf = sign_list(f, 7, fprs, 4, &len);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			if (crl_decode_verify(buf, len, f->pub_b, &out, &why) == 0)
				fail_msg("byte %zu bit %d flipped and accepted", i, bit);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(crl_decode_verify(buf, len, f->pub_b, &out, &why), 0);
	crl_free(&out);
	free(buf);
}

static void
test_crl_decode_verify_truncated(void **state)
{
	struct fx *f = *state;
	uint8_t fprs[2][CERT_FPR_LEN] = { { 1 }, { 2 } };
	struct crl out;
	const char *why;
	uint8_t *buf, *longer;
	size_t len;

	buf = sign_list(f, 3, fprs, 2, &len);
	for (size_t n = 0; n < len; n++) {
		/* A copy of exactly n bytes, so ASan sees any read past the end. */
		uint8_t *cut = malloc(n > 0 ? n : 1);

		memcpy(cut, buf, n);
		assert_int_equal(crl_decode_verify(cut, n, f->pub_b, &out, &why), -EINVAL);
		free(cut);
	}
	/* A trailing byte is refused too. */
	longer = malloc(len + 1);
	memcpy(longer, buf, len);
	longer[len] = 0;
	assert_int_equal(crl_decode_verify(longer, len + 1, f->pub_b, &out, &why), -EINVAL);
	assert_string_equal(why, "revocation list has trailing bytes");
	free(longer);
	free(buf);
}

/* Seeded random lists checked against a linear search. */
static void
test_crl_is_revoked_reference(void **state)
{
	struct fx *f = *state;
	uint8_t(*fprs)[CERT_FPR_LEN] = malloc(300 * CERT_FPR_LEN);
	uint8_t probe[CERT_FPR_LEN];
	unsigned seed = 7;
	struct crl out;
	const char *why;
	uint8_t *buf;
	size_t len;

	assert_non_null(fprs);
	for (size_t i = 0; i < 300; i++)
		for (size_t k = 0; k < CERT_FPR_LEN; k++)
			fprs[i][k] = (uint8_t)(k < 2 ? rand_r(&seed) : 0); /* near collisions */
	buf = sign_list(f, 9, fprs, 300, &len);
	assert_int_equal(crl_decode_verify(buf, len, f->pub_b, &out, &why), 0);
	assert_true(out.count <= 300); /* duplicates dropped */
	for (int round = 0; round < 5000; round++) {
		bool want = false;

		memset(probe, 0, sizeof(probe));
		if (round % 2 == 0)
			memcpy(probe, fprs[rand_r(&seed) % 300], CERT_FPR_LEN);
		else
			probe[0] = (uint8_t)rand_r(&seed), probe[1] = (uint8_t)rand_r(&seed);
		for (size_t i = 0; i < 300; i++)
			want = want || memcmp(fprs[i], probe, CERT_FPR_LEN) == 0;
		assert_int_equal(crl_is_revoked(&out, probe), want);
	}
	crl_free(&out);
	free(buf);
	free(fprs);
}

static void
test_cert_trust_set_crl_refuses_revoked(void **state)
{
	struct fx *f = *state;
	uint8_t fprs[1][CERT_FPR_LEN];
	struct cert_info info;
	struct crl out;
	const char *why = NULL;
	char msg[256];
	uint8_t *buf;
	size_t len;

	assert_int_equal(
	    cert_trust_verify(f->pki.trust, f->bob, f->bob_len, f->pki.now, &info, &why), 0);
	fpr_of(f->bob, f->bob_len, fprs[0]);
	buf = sign_list(f, 5, fprs, 1, &len);
	assert_int_equal(crl_decode_verify(buf, len, f->pub_b, &out, &why), 0);
	assert_int_equal(cert_trust_set_crl(f->pki.trust, &out), 0);
	crl_free(&out); /* the trust store keeps its own copy */
	free(buf);

	assert_int_equal(
	    cert_trust_verify(f->pki.trust, f->bob, f->bob_len, f->pki.now, &info, &why), -EACCES);
	assert_string_equal(why, "certificate revoked by b.example.com (list #5)");
	assert_int_equal(
	    cert_trust_check(f->pki.trust, f->bob, f->bob_len, f->pki.now, &info, msg, sizeof(msg)),
	    -EACCES);
	assert_string_equal(msg, "certificate revoked by b.example.com (list #5)");
	/* Carol, of the same domain, is not on the list. */
	assert_int_equal(
	    cert_trust_verify(f->pki.trust, f->carol, f->carol_len, f->pki.now, &info, &why), 0);
	assert_string_equal(info.subject, "carol@b.example.com");
}

static void
test_cert_trust_set_crl_newest_wins(void **state)
{
	struct fx *f = *state;
	uint8_t fprs[1][CERT_FPR_LEN];
	struct crl l5, l3, l6;
	const char *why;
	uint64_t number;
	int64_t next;
	uint8_t *b5, *b3, *b6;
	size_t n5, n3, n6;

	fpr_of(f->bob, f->bob_len, fprs[0]);
	b5 = sign_list(f, 5, fprs, 1, &n5);
	b3 = sign_list(f, 3, NULL, 0, &n3); /* older, and bob not on it */
	b6 = sign_list(f, 6, NULL, 0, &n6); /* newer: bob reinstated */
	assert_int_equal(crl_decode_verify(b5, n5, f->pub_b, &l5, &why), 0);
	assert_int_equal(crl_decode_verify(b3, n3, f->pub_b, &l3, &why), 0);
	assert_int_equal(crl_decode_verify(b6, n6, f->pub_b, &l6, &why), 0);
	assert_int_equal(cert_trust_crl_info(f->pki.trust, "b.example.com", &number, &next),
			 -ENOENT);
	assert_int_equal(cert_trust_set_crl(f->pki.trust, &l5), 0);
	assert_int_equal(cert_trust_set_crl(f->pki.trust, &l3), -EALREADY);
	assert_int_equal(cert_trust_set_crl(f->pki.trust, &l5), -EALREADY);
	assert_int_equal(cert_trust_crl_info(f->pki.trust, "b.example.com", &number, &next), 0);
	assert_int_equal(number, 5);
	assert_int_equal(next, l5.next_update);
	assert_int_equal(cert_trust_crl_info(f->pki.trust, "x.example.com", &number, &next),
			 -ENOENT);
	assert_int_equal(
	    cert_trust_verify(f->pki.trust, f->bob, f->bob_len, f->pki.now, NULL, &why), -EACCES);
	assert_int_equal(cert_trust_set_crl(f->pki.trust, &l6), 0);
	assert_int_equal(
	    cert_trust_verify(f->pki.trust, f->bob, f->bob_len, f->pki.now, NULL, &why), 0);
	crl_free(&l5);
	crl_free(&l3);
	crl_free(&l6);
	free(b5);
	free(b3);
	free(b6);
}

/* The same number re-signed later (a server keeping its list fresh) replaces it; a replay of
 * the earlier signing does not. cert_trust_crl_is_newer says the same beforehand. */
static void
test_cert_trust_apply_crl_refreshed(void **state)
{
	struct fx *f = *state;
	struct crl out;
	const char *why;
	uint8_t *early, *late, *older;
	size_t ne, nl, no;
	int64_t now = f->pki.now;

	early = sign_list(f, 5, NULL, 0, &ne);
	f->pki.now = now + 3600;
	late = sign_list(f, 5, NULL, 0, &nl);
	older = sign_list(f, 4, NULL, 0, &no);
	f->pki.now = now;
	assert_true(cert_trust_crl_is_newer(f->pki.trust, "b.example.com", 5, now));
	assert_false(cert_trust_crl_is_newer(f->pki.trust, "x.example.com", 5, now));
	assert_int_equal(cert_trust_apply_crl(f->pki.trust, "b.example.com", early, ne, &out, &why),
			 0);
	assert_int_equal(out.number, 5);
	crl_free(&out);
	assert_false(cert_trust_crl_is_newer(f->pki.trust, "b.example.com", 5, now));
	assert_true(cert_trust_crl_is_newer(f->pki.trust, "b.example.com", 5, now + 3600));
	assert_int_equal(cert_trust_apply_crl(f->pki.trust, "b.example.com", early, ne, &out, &why),
			 -EALREADY);
	assert_int_equal(cert_trust_apply_crl(f->pki.trust, "b.example.com", late, nl, &out, &why),
			 0);
	assert_true(out.issued == now + 3600);
	crl_free(&out);
	assert_int_equal(cert_trust_apply_crl(f->pki.trust, "b.example.com", early, ne, &out, &why),
			 -EALREADY);
	assert_int_equal(cert_trust_apply_crl(f->pki.trust, "b.example.com", older, no, &out, &why),
			 -EALREADY);
	assert_string_equal(why, "not newer than the list held");
	/* Someone else's list, or no anchor for the domain asked. */
	assert_int_equal(cert_trust_apply_crl(f->pki.trust, "a.example.com", late, nl, &out, &why),
			 cert_trust_anchor_der(f->pki.trust, "a.example.com", &(size_t){ 0 })
			     ? -EINVAL
			     : -ENOENT);
	assert_int_equal(cert_trust_apply_crl(f->pki.trust, "x.example.com", late, nl, &out, &why),
			 -ENOENT);
	late[nl - 1] ^= 1;
	assert_int_equal(cert_trust_apply_crl(f->pki.trust, "b.example.com", late, nl, &out, &why),
			 -EINVAL);
	assert_string_equal(why, "revocation list signature does not verify against the CA");
	free(early);
	free(late);
	free(older);
}

static void
test_cert_trust_set_crl_no_anchor(void **state)
{
	struct fx *f = *state;
	struct crl c = { .number = 1 };

	snprintf(c.domain, sizeof(c.domain), "c.example.com");
	assert_int_equal(cert_trust_set_crl(f->pki.trust, &c), -ENOENT);
}

/* DER anchors: added, replaced, handed out; a new CA key drops the old CA's list. */
static void
test_cert_trust_add_der_replaces(void **state)
{
	struct fx *f = *state;
	uint8_t fprs[1][CERT_FPR_LEN];
	const uint8_t *der;
	struct crl l;
	const char *why;
	struct cert_trust *t;
	struct cert_ca *b2;
	uint8_t *buf;
	size_t len, dlen;

	assert_int_equal(cert_trust_new(&t), 0);
	der = cert_ca_der(f->ca_b, &dlen);
	assert_int_equal(cert_trust_add_der(t, "a.example.com", der, dlen), -EINVAL);
	assert_int_equal(cert_trust_add_der(t, "B.example.com", der, dlen), 0);
	assert_int_equal(cert_trust_count(t), 1);
	assert_memory_equal(cert_trust_anchor_der(t, "b.example.com", &len), der, dlen);
	assert_int_equal(len, dlen);
	assert_null(cert_trust_anchor_der(t, "a.example.com", &len));
	assert_int_equal(cert_trust_verify(t, f->bob, f->bob_len, f->pki.now, NULL, &why), 0);
	fpr_of(f->bob, f->bob_len, fprs[0]);
	buf = sign_list(f, 2, fprs, 1, &len);
	assert_int_equal(crl_decode_verify(buf, len, f->pub_b, &l, &why), 0);
	assert_int_equal(cert_trust_set_crl(t, &l), 0);
	/* The same CA again keeps its list. */
	assert_int_equal(cert_trust_add_der(t, "b.example.com", der, dlen), 0);
	assert_int_equal(cert_trust_count(t), 1);
	assert_int_equal(cert_trust_verify(t, f->bob, f->bob_len, f->pki.now, NULL, &why), -EACCES);
	/* Another CA for b.example.com replaces it: bob no longer verifies (other key), and the
	 * old list is gone, so number 2 is accepted again from the new CA. */
	assert_int_equal(
	    cert_ca_init("b.example.com", 10, fx_path(f, "b2.key"), fx_path(f, "b2.crt")), 0);
	assert_int_equal(cert_ca_load(&b2, fx_path(f, "b2.key"), fx_path(f, "b2.crt")), 0);
	der = cert_ca_der(b2, &dlen);
	assert_int_equal(cert_trust_add_der(t, "b.example.com", der, dlen), 0);
	assert_int_equal(cert_trust_count(t), 1);
	assert_int_equal(cert_trust_verify(t, f->bob, f->bob_len, f->pki.now, NULL, &why), -EACCES);
	assert_string_equal(why, "certificate is not signed by the CA of its domain");
	assert_int_equal(cert_trust_set_crl(t, &l), 0);
	/* Garbage and a user certificate are not anchors. */
	assert_int_equal(cert_trust_add_der(t, "b.example.com", f->bob, f->bob_len), -EINVAL);
	assert_int_equal(cert_trust_add_der(t, "b.example.com", (const uint8_t *)"x", 1), -EINVAL);
	crl_free(&l);
	free(buf);
	cert_ca_free(b2);
	cert_trust_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crl_encode_decode_round_trip),
		cmocka_unit_test(test_crl_encode_signed_other_domain),
		cmocka_unit_test(test_crl_decode_verify_other_ca),
		cmocka_unit_test(test_crl_decode_verify_flipped_bytes),
		cmocka_unit_test(test_crl_decode_verify_truncated),
		cmocka_unit_test(test_crl_is_revoked_reference),
		cmocka_unit_test_setup_teardown(test_cert_trust_set_crl_refuses_revoked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cert_trust_set_crl_newest_wins, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cert_trust_apply_crl_refreshed, setup,
						teardown),
		cmocka_unit_test(test_cert_trust_set_crl_no_anchor),
		cmocka_unit_test(test_cert_trust_add_der_replaces),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
