// SPDX-License-Identifier: MIT
/*
 * NAT classification (direct/natclass.h), its rules alone: RFC 4787's behaviours from which
 * answers came back, with and without the server's second address, and nothing said before the
 * answers say it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/sockaddr.h"
#include "direct/natclass.h"

/* One case: which questions came back (seeing which port) and which were given up on. */
struct nat_case {
	const char *name;
	bool alt;
	uint16_t seen[NATQ_COUNT]; /* the mapped port each answer saw; 0: no answer */
	bool given_up[NATQ_COUNT];
	int mapping, filtering;
};

static void
run_case(const struct nat_case *c)
{
	struct nat_question q[NATQ_COUNT];
	int mapping = DIRECT_MAPPING_UNKNOWN, filtering = DIRECT_FILTERING_UNKNOWN;

	memset(q, 0, sizeof(q));
	for (int i = 0; i < NATQ_COUNT; i++) {
		char addr[32];

		q[i].settled = c->given_up[i];
		if (!c->seen[i])
			continue;
		snprintf(addr, sizeof(addr), "198.18.0.201:%u", c->seen[i]);
		assert_int_equal(sockaddr_parse(addr, &q[i].seen), 0);
		q[i].answered = q[i].settled = true;
		q[i].sent = 1;
	}
	natclass(q, c->alt, &mapping, &filtering);
	if (mapping != c->mapping || filtering != c->filtering)
		fail_msg("%s: mapping %s filtering %s, not %s and %s", c->name,
			 natclass_mapping_name(mapping), natclass_filtering_name(filtering),
			 natclass_mapping_name(c->mapping), natclass_filtering_name(c->filtering));
}

enum {
	B = NATQ_BASE,
	P = NATQ_PORT,
	FP = NATQ_FROM_PORT,
	FA = NATQ_FROM_ADDRESS,
	A = NATQ_ADDRESS
};

static void
test_cases(void **state)
{
	const struct nat_case cases[] = {
		{ "nothing yet",
		  true,
		  { 0 },
		  { false },
		  DIRECT_MAPPING_UNKNOWN,
		  DIRECT_FILTERING_UNKNOWN },
		{ "no base answer, the rest in",
		  true,
		  { [P] = 1, [FP] = 1, [FA] = 1, [A] = 1 },
		  { false },
		  DIRECT_MAPPING_UNKNOWN,
		  DIRECT_FILTERING_UNKNOWN },
		{ "eim + eif",
		  true,
		  { 1, 1, 1, 1, 1 },
		  { false },
		  DIRECT_MAPPING_INDEPENDENT,
		  DIRECT_FILTERING_OPEN },
		{ "eim + adf",
		  true,
		  { [B] = 1, [P] = 1, [FP] = 1, [A] = 1 },
		  { [FA] = true },
		  DIRECT_MAPPING_INDEPENDENT,
		  DIRECT_FILTERING_ADDRESS },
		{ "eim + apdf",
		  true,
		  { [B] = 1, [P] = 1, [A] = 1 },
		  { [FP] = true, [FA] = true },
		  DIRECT_MAPPING_INDEPENDENT,
		  DIRECT_FILTERING_PORT },
		{ "symmetric by port",
		  true,
		  { [B] = 1, [P] = 2 },
		  { [FP] = true, [FA] = true },
		  DIRECT_MAPPING_DEPENDENT,
		  DIRECT_FILTERING_PORT },
		{ "dependent by address only",
		  true,
		  { [B] = 1, [P] = 1, [FP] = 1, [A] = 2 },
		  { [FA] = true },
		  DIRECT_MAPPING_DEPENDENT,
		  DIRECT_FILTERING_ADDRESS },
		{ "the address's mapping pending",
		  true,
		  { [B] = 1, [P] = 1, [FP] = 1 },
		  { [FA] = true },
		  DIRECT_MAPPING_UNKNOWN,
		  DIRECT_FILTERING_ADDRESS },
		{ "the address's answer pending",
		  true,
		  { [B] = 1, [FP] = 1 },
		  { false },
		  DIRECT_MAPPING_UNKNOWN,
		  DIRECT_FILTERING_UNKNOWN },
		{ "other address in first",
		  true,
		  { [B] = 1, [FA] = 1 },
		  { false },
		  DIRECT_MAPPING_UNKNOWN,
		  DIRECT_FILTERING_OPEN },
		{ "the address never answered (round over)",
		  true,
		  { [B] = 1, [P] = 1 },
		  { [FP] = true, [FA] = true, [A] = true },
		  DIRECT_MAPPING_INDEPENDENT,
		  DIRECT_FILTERING_PORT },
		{ "one address, another port in",
		  false,
		  { [B] = 1, [P] = 1, [FP] = 1 },
		  { false },
		  DIRECT_MAPPING_INDEPENDENT,
		  DIRECT_FILTERING_NOT_PORT },
		{ "one address, filtered",
		  false,
		  { [B] = 1, [P] = 1 },
		  { [FP] = true },
		  DIRECT_MAPPING_INDEPENDENT,
		  DIRECT_FILTERING_PORT },
		{ "one address: answers by address ignored",
		  false,
		  { [B] = 1, [P] = 1, [A] = 9 },
		  { [FP] = true },
		  DIRECT_MAPPING_INDEPENDENT,
		  DIRECT_FILTERING_PORT },
		{ "one address, the port pending",
		  false,
		  { [B] = 1 },
		  { false },
		  DIRECT_MAPPING_UNKNOWN,
		  DIRECT_FILTERING_UNKNOWN },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* What is not said leaves the earlier classification alone. */
static void
test_keeps_what_is_not_said(void **state)
{
	struct nat_question q[NATQ_COUNT];
	int mapping = DIRECT_MAPPING_DEPENDENT, filtering = DIRECT_FILTERING_ADDRESS;

	(void)state;
	memset(q, 0, sizeof(q));
	natclass(q, true, &mapping, &filtering);
	assert_int_equal(mapping, DIRECT_MAPPING_DEPENDENT);
	assert_int_equal(filtering, DIRECT_FILTERING_ADDRESS);
	assert_string_equal(natclass_filtering_name(DIRECT_FILTERING_NOT_PORT),
			    "address-dependent-or-open");
	assert_string_equal(natclass_filtering_name(99), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_keeps_what_is_not_said),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
