// SPDX-License-Identifier: MIT
/*
 * The unit tests' throwaway PKI (see pki.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/cert.h"
#include "pki.h"

char *
test_pki_path(const struct test_pki *p, const char *file)
{
	static char buf[8][128];
	static int i;
	char *out = buf[i++ % 8];

	snprintf(out, sizeof(buf[0]), "%s/%s", p->dir, file);
	return out;
}

void
test_pki_setup(struct test_pki *p, const char *name)
{
	snprintf(p->dir, sizeof(p->dir), "/tmp/vtx-test-%s-XXXXXX", name);
	assert_non_null(mkdtemp(p->dir));
	p->now = (int64_t)time(NULL);
	assert_int_equal(
	    cert_ca_init("a.example.com", 10, test_pki_path(p, "a.key"), test_pki_path(p, "a.crt")),
	    0);
	assert_int_equal(
	    cert_ca_init("b.example.com", 10, test_pki_path(p, "b.key"), test_pki_path(p, "b.crt")),
	    0);
	assert_int_equal(cert_trust_new(&p->trust), 0);
	assert_int_equal(cert_trust_add(p->trust, "a.example.com", test_pki_path(p, "a.crt")), 0);
	assert_int_equal(cert_trust_add(p->trust, "b.example.com", test_pki_path(p, "b.crt")), 0);
}

void
test_pki_teardown(struct test_pki *p)
{
	char cmd[128];

	cert_trust_free(p->trust);
	p->trust = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
	assert_int_equal(system(cmd), 0);
}
