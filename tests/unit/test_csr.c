// SPDX-License-Identifier: MIT
/*
 * Tests for daemon/crypto/csr.c: certificate requests (made, checked, tampered with) and the
 * in-memory CA that issues from them. Fixtures are made in a fresh mkdtemp directory.
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
#include "crypto/csr.h"

#define DAY 86400

struct fx {
	struct test_pki pki;
	struct cert_ca *ca; /* b.example.com */
};

static char *
fx_path(const struct fx *f, const char *name)
{
	return test_pki_path(&f->pki, name);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_pki_setup(&f->pki, "csr");
	assert_int_equal(cert_key_new(fx_path(f, "bob.key"), NULL), 0);
	assert_int_equal(cert_ca_load(&f->ca, fx_path(f, "b.key"), fx_path(f, "b.crt")), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	cert_ca_free(f->ca);
	test_pki_teardown(&f->pki);
	free(f);
	return 0;
}

/* A CSR for identity with bob's key; returns its length. */
static size_t
make_csr(struct fx *f, const char *identity, uint8_t der[CSR_DER_MAX])
{
	int n = csr_new(fx_path(f, "bob.key"), identity, der, CSR_DER_MAX);

	if (n < 0)
		print_message("csr_new: %s\n", cert_strerror());
	assert_true(n > 0);
	return (size_t)n;
}

static void
test_csr_new_verify_round_trip(void **state)
{
	struct fx *f = *state;
	uint8_t der[CSR_DER_MAX], pub[CERT_PUBKEY_LEN], pub2[CERT_PUBKEY_LEN];
	char id[IDENTITY_STR_MAX];
	const char *why = NULL;
	size_t n;

	n = make_csr(f, "Bob@B.Example.com", der);
	assert_int_equal(csr_verify(der, n, id, pub, &why), 0);
	assert_string_equal(id, "bob@b.example.com");
	/* The key in the request is bob's: a second request carries the same one. */
	n = make_csr(f, "bob@b.example.com", der);
	assert_int_equal(csr_verify(der, n, id, pub2, &why), 0);
	assert_memory_equal(pub, pub2, sizeof(pub));
}

static void
test_csr_new_bad_identity(void **state)
{
	struct fx *f = *state;
	uint8_t der[CSR_DER_MAX];

	assert_int_equal(csr_new(fx_path(f, "bob.key"), "bob@b.example.com/ssh", der, sizeof(der)),
			 -EINVAL);
	assert_int_equal(csr_new(fx_path(f, "bob.key"), "not-an-identity", der, sizeof(der)),
			 -EINVAL);
	assert_true(csr_new(fx_path(f, "missing.key"), "bob@b.example.com", der, sizeof(der)) < 0);
	assert_non_null(strstr(cert_strerror(), "missing.key"));
	/* Too small a buffer is an error, not an overflow. */
	assert_true(csr_new(fx_path(f, "bob.key"), "bob@b.example.com", der, 16) < 0);
}

static void
test_csr_verify_tampered_signature(void **state)
{
	struct fx *f = *state;
	uint8_t der[CSR_DER_MAX], pub[CERT_PUBKEY_LEN];
	char id[IDENTITY_STR_MAX];
	const char *why = NULL;
	size_t n;

	n = make_csr(f, "bob@b.example.com", der);
	der[n - 5] ^= 0x01; /* inside the signature */
	assert_int_equal(csr_verify(der, n, id, pub, &why), -EINVAL);
	assert_non_null(strstr(why, "signature"));
}

/* Every single-byte change is refused (most are structural, some hit the signed bytes). */
static void
test_csr_verify_any_flipped_byte(void **state)
{
	struct fx *f = *state;
	uint8_t der[CSR_DER_MAX], pub[CERT_PUBKEY_LEN];
	char id[IDENTITY_STR_MAX];
	const char *why;
	size_t n;

	n = make_csr(f, "bob@b.example.com", der);
	for (size_t i = 0; i < n; i++) {
		der[i] ^= 0x20;
		if (csr_verify(der, n, id, pub, &why) == 0)
			fail_msg("byte %zu flipped and accepted", i);
		der[i] ^= 0x20;
	}
	for (size_t len = 0; len < n; len++)
		assert_int_equal(csr_verify(der, len, id, pub, &why), -EINVAL);
	assert_int_equal(csr_verify(der, n, id, pub, &why), 0);
}

/* The requester's name is in the signed part: swapping it in breaks the signature. */
static void
test_csr_verify_changed_name(void **state)
{
	struct fx *f = *state;
	uint8_t der[CSR_DER_MAX], pub[CERT_PUBKEY_LEN];
	char id[IDENTITY_STR_MAX];
	const char *why;
	uint8_t *p;
	size_t n;

	n = make_csr(f, "bob@b.example.com", der);
	p = memmem(der, n, "bob@", 4);
	assert_non_null(p);
	memcpy(p, "rob@", 4);
	assert_int_equal(csr_verify(der, n, id, pub, &why), -EINVAL);
	assert_non_null(strstr(why, "signature"));
}

/*
 * A CN that is not user@domain is refused even with a valid signature. csr_new will not make
 * one, so the test edits a request made with the CA's key and re-signs its
 * CertificationRequestInfo with the same key through cert_ca_sign.
 */
static void
test_csr_verify_invalid_name(void **state)
{
	struct fx *f = *state;
	uint8_t der[CSR_DER_MAX], pub[CERT_PUBKEY_LEN];
	char id[IDENTITY_STR_MAX];
	const char *why;
	size_t n, hdr, info_end;
	uint8_t *p;
	int m;

	m = csr_new(fx_path(f, "b.key"), "bob@b.example.com", der, sizeof(der));
	assert_true(m > 0);
	n = (size_t)m;
	assert_int_equal(csr_verify(der, n, id, pub, &why), 0);
	/* outer SEQUENCE header | info | AlgorithmIdentifier (7) | BIT STRING (3 + 64) */
	hdr = der[1] == 0x81 ? 3 : der[1] == 0x82 ? 4 : 2;
	info_end = n - 7 - 3 - CERT_SIG_LEN;
	p = memmem(der, n, "b.example", 9);
	assert_non_null(p);
	p[1] = '_'; /* "bob@b_example.com" */
	assert_int_equal(cert_ca_sign(f->ca, der + hdr, info_end - hdr, der + n - CERT_SIG_LEN), 0);
	assert_int_equal(csr_verify(der, n, id, pub, &why), -EINVAL);
	assert_string_equal(why, "request name is not a valid user@domain");
	/* The same edit back to a valid name verifies: the re-signing itself is sound. */
	p[1] = '.';
	assert_int_equal(cert_ca_sign(f->ca, der + hdr, info_end - hdr, der + n - CERT_SIG_LEN), 0);
	assert_int_equal(csr_verify(der, n, id, pub, &why), 0);
}

/* A certificate is not a request; names fold to canonical case. */
static void
test_csr_verify_not_a_request(void **state)
{
	struct fx *f = *state;
	uint8_t der[CSR_DER_MAX], ca[CERT_DER_MAX], pub[CERT_PUBKEY_LEN];
	char id[IDENTITY_STR_MAX];
	const char *why;
	size_t n;
	int m;

	m = cert_load_der(fx_path(f, "a.crt"), ca, sizeof(ca));
	assert_true(m > 0);
	assert_int_equal(csr_verify(ca, (size_t)m, id, pub, &why), -EINVAL);
	n = make_csr(f, "BOB@B.EXAMPLE.COM", der);
	assert_int_equal(csr_verify(der, n, id, pub, &why), 0);
	assert_string_equal(id, "bob@b.example.com");
}

static void
test_csr_verify_garbage(void **state)
{
	uint8_t buf[CSR_DER_MAX + 1] = { 0 }, pub[CERT_PUBKEY_LEN];
	char id[IDENTITY_STR_MAX];
	const char *why = NULL;
	unsigned seed = 1;

	(void)state;
	assert_int_equal(csr_verify(buf, 0, id, pub, &why), -EINVAL);
	assert_non_null(why);
	for (int round = 0; round < 200; round++) {
		size_t n = (size_t)(rand_r(&seed) % 512) + 1;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		if (round % 2 == 0)
			buf[0] = 0x30; /* looks like a SEQUENCE */
		assert_int_equal(csr_verify(buf, n, id, pub, &why), -EINVAL);
	}
	assert_int_equal(csr_verify(buf, CSR_DER_MAX + 1, id, pub, &why), -EINVAL);
}

static void
test_cert_ca_issue_verifies(void **state)
{
	struct fx *f = *state;
	uint8_t csr[CSR_DER_MAX], pub[CERT_PUBKEY_LEN], der[CERT_DER_MAX];
	char id[IDENTITY_STR_MAX];
	struct cert_info info;
	const char *why = NULL;
	int64_t nb = f->pki.now - 60, na = f->pki.now + 7 * DAY;
	size_t ca_len;
	int n;

	assert_string_equal(cert_ca_domain(f->ca), "b.example.com");
	assert_non_null(cert_ca_der(f->ca, &ca_len));
	assert_true(ca_len > 0);
	n = (int)make_csr(f, "bob@b.example.com", csr);
	assert_int_equal(csr_verify(csr, (size_t)n, id, pub, &why), 0);
	n = cert_ca_issue(f->ca, pub, id, nb, na, der, sizeof(der));
	assert_true(n > 0);
	assert_int_equal(cert_trust_verify(f->pki.trust, der, (size_t)n, f->pki.now, &info, &why),
			 0);
	assert_string_equal(info.subject, "bob@b.example.com");
	assert_string_equal(info.issuer, "b.example.com");
	assert_int_equal(info.not_before, nb);
	assert_int_equal(info.not_after, na);
	assert_false(info.is_ca);
	assert_memory_equal(info.pubkey, pub, sizeof(pub));
	/* And it is refused outside the dates it was issued for. */
	assert_int_equal(cert_trust_verify(f->pki.trust, der, (size_t)n, na + 1, &info, &why),
			 -EACCES);
	assert_string_equal(why, "certificate expired");
}

static void
test_cert_ca_issue_other_domain(void **state)
{
	struct fx *f = *state;
	uint8_t pub[CERT_PUBKEY_LEN] = { 0 }, csr[CSR_DER_MAX], der[CERT_DER_MAX];
	char id[IDENTITY_STR_MAX];
	const char *why;
	size_t n;

	n = make_csr(f, "bob@a.example.com", csr);
	assert_int_equal(csr_verify(csr, n, id, pub, &why), 0);
	assert_int_equal(
	    cert_ca_issue(f->ca, pub, id, f->pki.now, f->pki.now + DAY, der, sizeof(der)), -EINVAL);
	assert_non_null(strstr(cert_strerror(), "cannot sign for bob@a.example.com"));
	assert_int_equal(cert_ca_issue(f->ca, pub, "bob@b.example.com/ssh", f->pki.now,
				       f->pki.now + DAY, der, sizeof(der)),
			 -EINVAL);
	/* Backwards dates are refused too. */
	assert_int_equal(cert_ca_issue(f->ca, pub, "bob@b.example.com", f->pki.now, f->pki.now - 1,
				       der, sizeof(der)),
			 -EINVAL);
}

static void
test_cert_ca_load_mismatch(void **state)
{
	struct fx *f = *state;
	struct cert_ca *ca = NULL;

	/* a.example.com's key with b.example.com's certificate. */
	assert_int_equal(cert_ca_load(&ca, fx_path(f, "a.key"), fx_path(f, "b.crt")), -EINVAL);
	assert_null(ca);
	assert_non_null(strstr(cert_strerror(), "does not belong"));
	/* A user key is not a CA certificate. */
	assert_true(cert_ca_load(&ca, fx_path(f, "bob.key"), fx_path(f, "bob.key")) < 0);
	cert_ca_free(NULL);
}

static void
test_cert_ca_sign_verify_sig(void **state)
{
	struct fx *f = *state;
	uint8_t sig[CERT_SIG_LEN], msg[100];
	struct cert_info b, a;

	memset(msg, 0x5a, sizeof(msg));
	assert_int_equal(cert_info_from_file(fx_path(f, "b.crt"), &b), 0);
	assert_int_equal(cert_info_from_file(fx_path(f, "a.crt"), &a), 0);
	assert_int_equal(cert_ca_sign(f->ca, msg, sizeof(msg), sig), 0);
	assert_true(cert_verify_sig(b.pubkey, msg, sizeof(msg), sig));
	assert_false(cert_verify_sig(a.pubkey, msg, sizeof(msg), sig));
	msg[99] ^= 1;
	assert_false(cert_verify_sig(b.pubkey, msg, sizeof(msg), sig));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csr_new_verify_round_trip),
		cmocka_unit_test(test_csr_new_bad_identity),
		cmocka_unit_test(test_csr_verify_tampered_signature),
		cmocka_unit_test(test_csr_verify_any_flipped_byte),
		cmocka_unit_test(test_csr_verify_changed_name),
		cmocka_unit_test(test_csr_verify_invalid_name),
		cmocka_unit_test(test_csr_verify_not_a_request),
		cmocka_unit_test(test_csr_verify_garbage),
		cmocka_unit_test(test_cert_ca_issue_verifies),
		cmocka_unit_test(test_cert_ca_issue_other_domain),
		cmocka_unit_test(test_cert_ca_load_mismatch),
		cmocka_unit_test(test_cert_ca_sign_verify_sig),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
