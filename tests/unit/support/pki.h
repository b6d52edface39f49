/* SPDX-License-Identifier: MIT */
/*
 * A throwaway PKI for the unit tests of the certificate code: a fresh temporary directory
 * holding the domain CAs of a.example.com (a.key, a.crt) and b.example.com (b.key, b.crt), and
 * a trust store with both. Setup and teardown fail the test (cmocka) on any error.
 */
#ifndef VERTEX_TEST_PKI_H
#define VERTEX_TEST_PKI_H

#include <stdint.h>

struct cert_trust;

struct test_pki {
	char dir[64];
	int64_t now;
	struct cert_trust *trust;
};

/* name tags the directory (/tmp/vtx-test-NAME-XXXXXX). */
void test_pki_setup(struct test_pki *p, const char *name);
void test_pki_teardown(struct test_pki *p);
/* dir/file, in one of 8 rotating buffers (so a call may use several at once). */
char *test_pki_path(const struct test_pki *p, const char *file);

#endif
