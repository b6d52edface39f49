// SPDX-License-Identifier: MIT
/*
 * Tests for daemon/crypto/cert.c: keys, domain CAs, issuing, parsing and the trust decision.
 * Every fixture is made by the test itself in a fresh mkdtemp directory; time is injected
 * through cert_trust_verify's `now`.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/cert.h"
#include "pki.h"

#define DAY 86400

struct fx {
	struct test_pki pki;
};

static char *
fx_path(const struct fx *f, const char *name)
{
	return test_pki_path(&f->pki, name);
}

/* Two domain CAs (a.example.com, b.example.com) and a key for bob, all trusted. */
static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_pki_setup(&f->pki, "cert");
	assert_int_equal(cert_key_new(fx_path(f, "bob.key"), fx_path(f, "bob.pub")), 0);
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

/* Signs pub for identity with the CA of ca ("a" or "b") into name; returns cert_sign's code. */
static int
sign(struct fx *f, const char *ca, const char *identity, int64_t nb, int64_t na, const char *name)
{
	char key[16], crt[16];

	snprintf(key, sizeof(key), "%s.key", ca);
	snprintf(crt, sizeof(crt), "%s.crt", ca);
	return cert_sign(fx_path(f, key), fx_path(f, crt), fx_path(f, "bob.pub"), identity, nb, na,
			 fx_path(f, name));
}

static int
verify(struct fx *f, const char *name, int64_t now, const char **why)
{
	uint8_t der[CERT_DER_MAX];
	struct cert_info info;
	int n;

	n = cert_load_der(fx_path(f, name), der, sizeof(der));
	assert_true(n > 0);
	return cert_trust_verify(f->pki.trust, der, (size_t)n, now, &info, why);
}

static void
test_cert_key_new_modes(void **state)
{
	struct fx *f = *state;
	struct stat st;

	assert_int_equal(stat(fx_path(f, "bob.key"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(fx_path(f, "a.key"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(fx_path(f, "bob.pub"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
}

static void
test_cert_key_new_refuses_overwrite(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cert_key_new(fx_path(f, "bob.key"), NULL), -EEXIST);
	assert_non_null(strstr(cert_strerror(), "refusing to overwrite"));
	assert_int_equal(cert_ca_init("c.example.com", 1, fx_path(f, "a.key"), fx_path(f, "c.crt")),
			 -EEXIST);
}

static void
test_cert_ca_init_parse(void **state)
{
	struct fx *f = *state;
	struct cert_info ca;

	assert_int_equal(cert_info_from_file(fx_path(f, "a.crt"), &ca), 0);
	assert_string_equal(ca.subject, "a.example.com");
	assert_string_equal(ca.issuer, "a.example.com");
	assert_true(ca.is_ca);
	assert_true(ca.not_before <= f->pki.now && ca.not_before >= f->pki.now - 120);
	assert_true(ca.not_after >= f->pki.now + 10 * DAY - 5 &&
		    ca.not_after <= f->pki.now + 10 * DAY + 5);
}

static void
test_cert_sign_parse(void **state)
{
	struct fx *f = *state;
	struct cert_info info;

	assert_int_equal(sign(f, "b", "Bob@B.Example.com", 1577836800, 4102444800, "bob.crt"), 0);
	assert_int_equal(cert_info_from_file(fx_path(f, "bob.crt"), &info), 0);
	assert_string_equal(info.subject, "bob@b.example.com");
	assert_string_equal(info.issuer, "b.example.com");
	assert_int_equal(info.not_before, 1577836800); /* 2020-01-01, UTCTime */
	assert_int_equal(info.not_after, 4102444800);  /* 2100-01-01, GeneralizedTime */
	assert_false(info.is_ca);
}

static void
test_cert_sign_wrong_domain(void **state)
{
	struct fx *f = *state;

	assert_int_equal(sign(f, "a", "bob@b.example.com", f->pki.now, f->pki.now + DAY, "x.crt"),
			 -EINVAL);
	assert_non_null(strstr(cert_strerror(), "cannot sign for bob@b.example.com"));
	assert_int_equal(
	    sign(f, "b", "bob@b.example.com/ssh", f->pki.now, f->pki.now + DAY, "x.crt"), -EINVAL);
	assert_int_equal(access(fx_path(f, "x.crt"), F_OK), -1);
}

static void
test_cert_trust_verify_ok(void **state)
{
	struct fx *f = *state;
	uint8_t der[CERT_DER_MAX];
	struct cert_info info;
	const char *why = NULL;
	int n;

	assert_int_equal(
	    sign(f, "b", "bob@b.example.com", f->pki.now - 60, f->pki.now + DAY, "ok.crt"), 0);
	n = cert_load_der(fx_path(f, "ok.crt"), der, sizeof(der));
	assert_true(n > 0);
	assert_int_equal(cert_trust_verify(f->pki.trust, der, (size_t)n, f->pki.now, &info, &why),
			 0);
	assert_string_equal(info.subject, "bob@b.example.com");
	/* The public key in the certificate is bob's: same as in a certificate over bob.key. */
	struct cert_info again;
	assert_int_equal(cert_sign(fx_path(f, "b.key"), fx_path(f, "b.crt"), fx_path(f, "bob.key"),
				   "bob@b.example.com", f->pki.now, f->pki.now + DAY,
				   fx_path(f, "ok2.crt")),
			 0);
	assert_int_equal(cert_info_from_file(fx_path(f, "ok2.crt"), &again), 0);
	assert_memory_equal(info.pubkey, again.pubkey, CERT_PUBKEY_LEN);
	assert_memory_not_equal(info.fpr, again.fpr, CERT_FPR_LEN);
}

static void
test_cert_trust_verify_expired(void **state)
{
	struct fx *f = *state;
	const char *why;
	char msg[256];
	uint8_t der[CERT_DER_MAX];
	int n;

	assert_int_equal(sign(f, "b", "bob@b.example.com", 1577836800, 1577923200, "old.crt"), 0);
	assert_int_equal(verify(f, "old.crt", f->pki.now, &why), -EACCES);
	assert_string_equal(why, "certificate expired");
	n = cert_load_der(fx_path(f, "old.crt"), der, sizeof(der));
	assert_int_equal(
	    cert_trust_check(f->pki.trust, der, (size_t)n, f->pki.now, NULL, msg, sizeof(msg)),
	    -EACCES);
	assert_string_equal(msg, "certificate expired at 2020-01-02T00:00:00Z");
	/* ...and it was fine back then: time is the caller's. */
	assert_int_equal(verify(f, "old.crt", 1577880000, &why), 0);
}

static void
test_cert_trust_verify_not_yet_valid(void **state)
{
	struct fx *f = *state;
	const char *why;

	assert_int_equal(
	    sign(f, "b", "bob@b.example.com", f->pki.now + DAY, f->pki.now + 2 * DAY, "new.crt"),
	    0);
	assert_int_equal(verify(f, "new.crt", f->pki.now, &why), -EACCES);
	assert_string_equal(why, "certificate is not valid yet");
	assert_int_equal(verify(f, "new.crt", f->pki.now + DAY + 1, &why), 0);
}

static void
test_cert_trust_verify_other_domains_ca(void **state)
{
	struct fx *f = *state;
	const char *why;
	char msg[256];
	uint8_t der[CERT_DER_MAX];
	int n;

	/*
	 * A second CA that also calls itself b.example.com (an impostor, not the trusted one)
	 * signs bob: the name matches, the signature does not.
	 */
	assert_int_equal(
	    cert_ca_init("b.example.com", 10, fx_path(f, "evil.key"), fx_path(f, "evil.crt")), 0);
	assert_int_equal(cert_sign(fx_path(f, "evil.key"), fx_path(f, "evil.crt"),
				   fx_path(f, "bob.pub"), "bob@b.example.com", f->pki.now - 60,
				   f->pki.now + DAY, fx_path(f, "imp.crt")),
			 0);
	assert_int_equal(verify(f, "imp.crt", f->pki.now, &why), -EACCES);
	assert_string_equal(why, "certificate is not signed by the CA of its domain");
	n = cert_load_der(fx_path(f, "imp.crt"), der, sizeof(der));
	assert_int_equal(
	    cert_trust_check(f->pki.trust, der, (size_t)n, f->pki.now, NULL, msg, sizeof(msg)),
	    -EACCES);
	assert_string_equal(msg, "certificate of bob@b.example.com (issued by b.example.com) is "
				 "not signed by the CA of b.example.com");
}

/* A certificate naming b.example.com signed by a.example.com's key; one for an unknown domain. */
static void
test_cert_trust_verify_cn_names_other_domain(void **state)
{
	struct fx *f = *state;
	const char *why;

	/*
	 * cert_sign refuses to do this, so forge the situation: a CA whose name is
	 * b.example.com but whose key is a.example.com's key signs bob; the certificate names
	 * b.example.com and is signed by a's key, so it must fail against b's anchor.
	 */
	assert_int_equal(
	    cert_ca_init("b.example.com", 10, fx_path(f, "tmp.key"), fx_path(f, "tmp.crt")), 0);
	assert_int_equal(cert_sign(fx_path(f, "a.key"), fx_path(f, "tmp.crt"),
				   fx_path(f, "bob.pub"), "bob@b.example.com", f->pki.now - 60,
				   f->pki.now + DAY, fx_path(f, "cross.crt")),
			 0);
	assert_int_equal(verify(f, "cross.crt", f->pki.now, &why), -EACCES);
	assert_string_equal(why, "certificate is not signed by the CA of its domain");
	/* And a certificate for a domain nobody trusts. */
	assert_int_equal(cert_ca_init("evil.example", 10, fx_path(f, "e.key"), fx_path(f, "e.crt")),
			 0);
	assert_int_equal(cert_sign(fx_path(f, "e.key"), fx_path(f, "e.crt"), fx_path(f, "bob.pub"),
				   "mallory@evil.example", f->pki.now - 60, f->pki.now + DAY,
				   fx_path(f, "m.crt")),
			 0);
	assert_int_equal(verify(f, "m.crt", f->pki.now, &why), -EACCES);
	assert_string_equal(why, "no trusted CA for the certificate's domain");
}

static void
test_cert_trust_verify_ca_as_peer(void **state)
{
	struct fx *f = *state;
	const char *why;

	assert_int_equal(verify(f, "a.crt", f->pki.now, &why), -EACCES);
	assert_string_equal(why, "a CA certificate was presented as a peer certificate");
}

static void
test_cert_trust_verify_garbage(void **state)
{
	struct fx *f = *state;
	uint8_t junk[300];
	uint8_t der[CERT_DER_MAX];
	const char *why;
	struct cert_info info;
	int n;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	assert_int_equal(
	    cert_trust_verify(f->pki.trust, junk, sizeof(junk), f->pki.now, &info, &why), -EACCES);
	assert_string_equal(why, "certificate does not parse as an Ed25519 X.509 certificate");
	assert_int_equal(cert_trust_verify(f->pki.trust, junk, 0, f->pki.now, &info, &why),
			 -EACCES);
	/* A valid certificate with one flipped bit in the signature. */
	assert_int_equal(
	    sign(f, "b", "bob@b.example.com", f->pki.now - 60, f->pki.now + DAY, "f.crt"), 0);
	n = cert_load_der(fx_path(f, "f.crt"), der, sizeof(der));
	der[n - 5] ^= 0x01;
	assert_int_equal(cert_trust_verify(f->pki.trust, der, (size_t)n, f->pki.now, &info, &why),
			 -EACCES);
	/* Every truncation is refused without crashing. */
	n = cert_load_der(fx_path(f, "f.crt"), der, sizeof(der));
	for (int len = 0; len < n; len++)
		assert_int_equal(
		    cert_trust_verify(f->pki.trust, der, (size_t)len, f->pki.now, &info, &why),
		    -EACCES);
}

/* A forgotten anchor: its domain's certificates are refused, the other domains' are not. */
static void
test_cert_trust_remove(void **state)
{
	struct fx *f = *state;
	const char *why;
	size_t len;

	assert_int_equal(
	    sign(f, "b", "bob@b.example.com", f->pki.now - 60, f->pki.now + DAY, "bob.crt"), 0);
	assert_int_equal(
	    sign(f, "a", "alice@a.example.com", f->pki.now - 60, f->pki.now + DAY, "alice.crt"), 0);
	assert_int_equal(verify(f, "bob.crt", f->pki.now, &why), 0);
	assert_int_equal(cert_trust_remove(f->pki.trust, "B.Example.COM"), 0);
	assert_null(cert_trust_anchor_der(f->pki.trust, "b.example.com", &len));
	assert_int_equal(cert_trust_count(f->pki.trust), 1);
	assert_int_equal(verify(f, "bob.crt", f->pki.now, &why), -EACCES);
	assert_int_equal(verify(f, "alice.crt", f->pki.now, &why), 0);
	assert_int_equal(cert_trust_remove(f->pki.trust, "b.example.com"), -ENOENT);
	assert_int_equal(cert_trust_remove(f->pki.trust, "not a domain"), -EINVAL);
	/* And it can come back, under another CA (a rotation the administrator re-pinned). */
	assert_int_equal(
	    cert_ca_init("b.example.com", 10, fx_path(f, "b2.key"), fx_path(f, "b2.crt")), 0);
	assert_int_equal(cert_trust_add(f->pki.trust, "b.example.com", fx_path(f, "b2.crt")), 0);
	assert_int_equal(verify(f, "bob.crt", f->pki.now, &why), -EACCES);
	assert_int_equal(cert_sign(fx_path(f, "b2.key"), fx_path(f, "b2.crt"),
				   fx_path(f, "bob.pub"), "bob@b.example.com", f->pki.now - 60,
				   f->pki.now + DAY, fx_path(f, "bob2.crt")),
			 0);
	assert_int_equal(verify(f, "bob2.crt", f->pki.now, &why), 0);
}

static void
test_cert_trust_add_refuses(void **state)
{
	struct fx *f = *state;

	/* The CA named a.example.com cannot be the anchor of c.example.com. */
	assert_int_equal(cert_trust_add(f->pki.trust, "c.example.com", fx_path(f, "a.crt")),
			 -EINVAL);
	assert_non_null(
	    strstr(cert_strerror(), "the CA is named a.example.com, not c.example.com"));
	assert_int_equal(cert_trust_add(f->pki.trust, "a.example.com", fx_path(f, "a.crt")),
			 -EEXIST);
	assert_int_equal(
	    sign(f, "b", "bob@b.example.com", f->pki.now - 60, f->pki.now + DAY, "l.crt"), 0);
	assert_int_equal(cert_trust_add(f->pki.trust, "b.example.org", fx_path(f, "l.crt")),
			 -EINVAL);
	assert_int_equal(cert_trust_add(f->pki.trust, "x.example.com", fx_path(f, "nope.crt")),
			 -ENOENT);
	assert_int_equal(cert_trust_count(f->pki.trust), 2);
}

static void
test_cert_fpr_format_known(void **state)
{
	uint8_t fpr[CERT_FPR_LEN];
	char buf[64];

	(void)state;
	/* SHA-256 of "" is e3b0c442...: OpenSSH prints it as below. */
	static const uint8_t empty[CERT_FPR_LEN] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
		0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
		0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
	};
	memcpy(fpr, empty, sizeof(fpr));
	cert_fpr_format(fpr, buf, sizeof(buf));
	assert_string_equal(buf, "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cert_key_new_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_key_new_refuses_overwrite, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cert_ca_init_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_sign_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_sign_wrong_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_trust_verify_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_trust_verify_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_trust_verify_not_yet_valid, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cert_trust_verify_other_domains_ca, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cert_trust_verify_cn_names_other_domain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cert_trust_verify_ca_as_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_trust_verify_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_trust_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_trust_add_refuses, setup, teardown),
		cmocka_unit_test(test_cert_fpr_format_known),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
