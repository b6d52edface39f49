// SPDX-License-Identifier: MIT
/*
 * Reassembling revocation lists from chunks (control/crlpull.h): a simulated server whose list
 * changes while clients pull it, against the obvious reference (what was assembled is exactly
 * one version of the server's list, byte for byte), and the chunks that must not fit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "control/crlpull.h"
#include "proto/ctlmsg.h"

enum { LIST_MAX = 200000, VERSIONS = 8 };

struct version {
	uint8_t *bytes;
	uint32_t len;
	uint64_t number;
	int64_t issued;
};

static struct version versions[VERSIONS];

static void
make_versions(void)
{
	for (int v = 0; v < VERSIONS; v++) {
		struct version *x = &versions[v];

		x->len = 1 + (uint32_t)(random() % (v % 3 == 0 ? 300 : LIST_MAX));
		x->bytes = malloc(x->len);
		assert_non_null(x->bytes);
		for (uint32_t i = 0; i < x->len; i++)
			x->bytes[i] = (uint8_t)random();
		/* Some versions share a number and differ only in when they were issued. */
		x->number = 1 + (uint64_t)v / 2;
		x->issued = 1000 + v;
	}
}

/* What a server answers to CTL_CRL_REQ at offset, for version v. */
static void
chunk_of(int v, uint32_t offset, size_t max, struct ctlmsg *m)
{
	const struct version *x = &versions[v];
	size_t n = x->len - offset < max ? x->len - offset : max;

	memset(m, 0, sizeof(*m));
	m->type = CTL_CRL;
	strcpy(m->u.crl.domain, "b.example.com");
	m->u.crl.number = x->number;
	m->u.crl.issued = x->issued;
	m->u.crl.total = x->len;
	m->u.crl.offset = offset;
	m->u.crl.chunk = x->bytes + offset;
	m->u.crl.chunk_len = n;
}

static void
test_crl_pull_on_chunk_random_server(void **state)
{
	int completed = 0, restarts = 0;

	(void)state;
	srandom(7);
	make_versions();
	for (int run = 0; run < 300; run++) {
		struct crl_pull p;
		int v = (int)(random() % VERSIONS), steps = 0;
		size_t max = 1 + (size_t)(random() % CTL_BLOB_MAX);
		uint32_t ask = 0;
		struct ctlmsg m;

		crl_pull_init(&p, "b.example.com");
		for (;;) {
			enum crl_pull_result r;

			assert_true(++steps < 10000); /* bounded: every step makes progress */
			/* now and then the server publishes another version between two chunks */
			if (random() % 40 == 0)
				v = (int)(random() % VERSIONS);
			if (ask >= versions[v].len) /* the old offset is past the new list */
				ask = 0;
			chunk_of(v, ask, max, &m);
			r = crl_pull_on_chunk(&p, &m);
			if (r == CRL_PULL_MORE) {
				assert_int_equal(p.have, ask + m.u.crl.chunk_len);
				ask = p.have;
				continue;
			}
			if (r == CRL_PULL_RESTART) {
				assert_null(p.buf);
				restarts++;
				ask = 0;
				continue;
			}
			assert_int_equal(r, CRL_PULL_DONE);
			/* Exactly the version that sent the last chunk, byte for byte. */
			assert_int_equal(p.total, versions[v].len);
			assert_true(p.number == versions[v].number &&
				    p.issued == versions[v].issued);
			assert_memory_equal(p.buf, versions[v].bytes, p.total);
			completed++;
			break;
		}
		crl_pull_reset(&p);
	}
	assert_int_equal(completed, 300);
	assert_true(restarts > 0); /* the changes really happened mid-pull */
	for (int v = 0; v < VERSIONS; v++)
		free(versions[v].bytes);
}

static void
test_crl_pull_on_chunk_refusals(void **state)
{
	static uint8_t bytes[100];
	struct crl_pull p;
	struct ctlmsg m = { .type = CTL_CRL };

	(void)state;
	crl_pull_init(&p, "b.example.com");
	strcpy(m.u.crl.domain, "c.example.com");
	m.u.crl.number = 3;
	m.u.crl.total = 100;
	m.u.crl.chunk = bytes;
	m.u.crl.chunk_len = 40;
	/* another domain's list */
	assert_int_equal(crl_pull_on_chunk(&p, &m), CRL_PULL_BAD);
	assert_null(p.buf);
	strcpy(m.u.crl.domain, "b.example.com");
	/* a middle chunk with nothing started */
	m.u.crl.offset = 40;
	assert_int_equal(crl_pull_on_chunk(&p, &m), CRL_PULL_RESTART);
	/* start, then the same chunk again (not where we stand) */
	m.u.crl.offset = 0;
	assert_int_equal(crl_pull_on_chunk(&p, &m), CRL_PULL_MORE);
	assert_int_equal(crl_pull_on_chunk(&p, &m), CRL_PULL_MORE); /* offset 0 restarts */
	assert_int_equal(p.have, 40);
	m.u.crl.offset = 20;
	assert_int_equal(crl_pull_on_chunk(&p, &m), CRL_PULL_RESTART);
	assert_null(p.buf);
	/* start, then a continuation of another list (other number, other size) */
	m.u.crl.offset = 0;
	assert_int_equal(crl_pull_on_chunk(&p, &m), CRL_PULL_MORE);
	m.u.crl.offset = 40;
	m.u.crl.number = 4;
	assert_int_equal(crl_pull_on_chunk(&p, &m), CRL_PULL_RESTART);
	m.u.crl.number = 3;
	m.u.crl.offset = 0;
	assert_int_equal(crl_pull_on_chunk(&p, &m), CRL_PULL_MORE);
	m.u.crl.offset = 40;
	m.u.crl.total = 101;
	assert_int_equal(crl_pull_on_chunk(&p, &m), CRL_PULL_RESTART);
	/* a whole list in order */
	m.u.crl.total = 100;
	m.u.crl.offset = 0;
	assert_int_equal(crl_pull_on_chunk(&p, &m), CRL_PULL_MORE);
	m.u.crl.offset = 40;
	assert_int_equal(crl_pull_on_chunk(&p, &m), CRL_PULL_MORE);
	m.u.crl.offset = 80;
	m.u.crl.chunk_len = 20;
	assert_int_equal(crl_pull_on_chunk(&p, &m), CRL_PULL_DONE);
	assert_int_equal(p.have, 100);
	crl_pull_reset(&p);
	assert_null(p.buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crl_pull_on_chunk_random_server),
		cmocka_unit_test(test_crl_pull_on_chunk_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
