// SPDX-License-Identifier: MIT
/*
 * The firewall's policy (policy/policy.h): the extra rules' parser (good and bad lines, clear
 * reasons, print -> parse round trips) and, given a config's purposes and a peer's approvals,
 * the exact rules of its chain.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static const uint8_t alice4[4] = { 100, 64, 0, 7 };
static const uint8_t alice6[16] = { 0xfd, 0x12, [15] = 7 };

/* Splits line into words and parses it into pc. */
static int
parse_line(struct policy_config *pc, const char *line, const char **why)
{
	char buf[256], *argv[8], *save = NULL;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *w = strtok_r(buf, " ", &save); w && n < 8; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	return policy_config_parse(pc, argv, n, why);
}

static char *
print_config(const struct policy_config *pc)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	policy_config_print(pc, f);
	fclose(f);
	return out;
}

static char *
print_peer(const struct policy_peer *pp)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	policy_peer_print(pp, f);
	fclose(f);
	return out;
}

static void
test_policy_config_parse_good(void **state)
{
	struct policy_config pc = { 0 };
	const char *why = NULL;
	char *out;

	(void)state;
	assert_int_equal(parse_line(&pc, "allow Alice@A.example.com tcp/8000-8100", &why), 0);
	assert_int_equal(parse_line(&pc, "allow @b.example.com udp/53", &why), 0);
	assert_int_equal(parse_line(&pc, "outbound-only carol@c.example.org", &why), 0);
	assert_int_equal(parse_line(&pc, "icmp-echo off", &why), 0);
	assert_int_equal(pc.nrules, 3);
	assert_true(pc.icmp_echo_off);
	assert_int_equal(pc.rules[0].kind, POLICY_RULE_ALLOW);
	assert_string_equal(pc.rules[0].who, "alice@a.example.com");
	assert_int_equal(pc.rules[0].lo, 8000);
	assert_int_equal(pc.rules[0].hi, 8100);
	assert_int_equal(pc.rules[1].hi, 53);
	assert_int_equal(pc.rules[1].proto, PURPOSE_UDP);
	out = print_config(&pc);
	assert_string_equal(out, "firewall icmp-echo off\n"
				 "firewall allow alice@a.example.com tcp/8000-8100\n"
				 "firewall allow @b.example.com udp/53\n"
				 "firewall outbound-only carol@c.example.org\n");
	free(out);
}

static void
test_policy_config_parse_bad(void **state)
{
	static const struct {
		const char *line, *why;
	} cases[] = {
		{ "", "expected icmp-echo on|off, allow" },
		{ "deny alice@a.example.com", "expected icmp-echo on|off, allow" },
		{ "icmp-echo maybe", "expected icmp-echo on|off" },
		{ "icmp-echo", "expected icmp-echo on|off" },
		{ "allow alice@a.example.com", "expected allow USER@DOMAIN" },
		{ "allow alice@a.example.com tcp/1 x", "expected allow USER@DOMAIN" },
		{ "allow alice@a.example.com sctp/1", "expected tcp/PORT[-PORT]" },
		{ "allow alice@a.example.com tcp", "expected tcp/PORT[-PORT]" },
		{ "allow alice@a.example.com tcp/0", "a port is a number from 1 to 65535" },
		{ "allow alice@a.example.com tcp/65536", "a port is a number from 1 to 65535" },
		{ "allow alice@a.example.com tcp/1-", "a port is a number" },
		{ "allow alice@a.example.com tcp/-5", "a port is a number" },
		{ "allow alice@a.example.com tcp/+5", "a port is a number" },
		{ "allow alice@a.example.com tcp/9-1", "from low to high" },
		{ "outbound-only", "expected outbound-only" },
		{ "outbound-only a b", "expected outbound-only" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy_config pc = { 0 };
		const char *why = NULL;

		assert_int_equal(parse_line(&pc, cases[i].line, &why), -EINVAL);
		assert_non_null(why);
		if (!strstr(why, cases[i].why))
			fail_msg("'%s': '%s' lacks '%s'", cases[i].line, why, cases[i].why);
		assert_int_equal(pc.nrules, 0);
		assert_false(pc.icmp_echo_off);
	}
}

static void
test_policy_config_parse_who_and_limits(void **state)
{
	struct policy_config pc = { 0 };
	const char *why = NULL;
	char line[64];

	(void)state;
	assert_int_equal(parse_line(&pc, "allow bob tcp/1", &why), -EINVAL);
	assert_non_null(why);
	assert_int_equal(parse_line(&pc, "allow @-bad-.example tcp/1", &why), -EINVAL);
	assert_int_equal(parse_line(&pc, "outbound-only alice+ssh@a.example.com", &why), -EINVAL);
	assert_int_equal(parse_line(&pc, "allow alice@a.example.com tcp/1", &why), 0);
	assert_int_equal(parse_line(&pc, "allow ALICE@a.example.com tcp/1", &why), -EINVAL);
	assert_string_equal(why, "the same rule is given twice");
	for (int i = 2; i <= POLICY_RULES_MAX; i++) {
		snprintf(line, sizeof(line), "allow alice@a.example.com tcp/%d", i);
		assert_int_equal(parse_line(&pc, line, &why), 0);
	}
	assert_int_equal(parse_line(&pc, "allow alice@a.example.com tcp/999", &why), -EINVAL);
	assert_string_equal(why, "more than 64 firewall rules");
	assert_int_equal(pc.nrules, POLICY_RULES_MAX);
}

static void
test_policy_who_matches_cases(void **state)
{
	(void)state;
	assert_true(policy_who_matches("@a.example.com", "alice@a.example.com"));
	assert_false(policy_who_matches("@a.example.com", "alice@aa.example.com"));
	assert_false(policy_who_matches("@example.com", "alice@a.example.com"));
	assert_true(policy_who_matches("alice@a.example.com", "alice@a.example.com"));
	assert_false(policy_who_matches("alice@a.example.com", "bob@a.example.com"));
}

/* The config of the scenario: ssh, web with a target, dns. */
static void
purposes_of(struct purpose *p)
{
	char *ssh[] = { "ssh", "tcp/22" }, *web[] = { "web", "tcp/80", "->", "127.0.0.1:8080" },
	     *dns[] = { "dns", "udp/53" };
	const char *why;

	assert_int_equal(purpose_parse(&p[0], ssh, 2, &why), 0);
	assert_int_equal(purpose_parse(&p[1], web, 4, &why), 0);
	assert_int_equal(purpose_parse(&p[2], dns, 2, &why), 0);
}

static void
build(struct policy_peer *pp, const struct policy_config *pc, const char *identity, bool configured,
      const char *const *approved, size_t n)
{
	struct purpose p[3];
	struct policy_peer_facts f = {
		.identity = identity,
		.index = 7,
		.addr4 = alice4,
		.addr6 = alice6,
		.configured = configured,
		.approved = approved,
		.napproved = n,
	};

	purposes_of(p);
	assert_int_equal(policy_peer_build(pp, pc, p, 3, &f), 0);
}

static void
test_policy_peer_build_ssh_only(void **state)
{
	static const char *const approved[] = { "ssh" };
	struct policy_config pc = { 0 };
	struct policy_peer pp;
	char *out;

	(void)state;
	build(&pp, &pc, "alice@a.example.com", false, approved, 1);
	assert_string_equal(pp.identity, "alice@a.example.com");
	assert_int_equal(pp.index, 7);
	assert_memory_equal(pp.addr4, alice4, 4);
	assert_memory_equal(pp.addr6, alice6, 16);
	assert_int_equal(pp.nports, 1);
	assert_true(pp.icmp_echo);
	out = print_peer(&pp);
	assert_string_equal(out, "ct state related accept\n"
				 "tcp dport 22 accept # ssh\n"
				 "icmp type echo-request accept\n"
				 "icmpv6 type echo-request accept\n");
	free(out);
}

static void
test_policy_peer_build_sorted_with_rules(void **state)
{
	/* Given out of order, one purpose twice, one the config no longer has. */
	static const char *const approved[] = { "dns", "web", "gone", "ssh", "web" };
	struct policy_config pc = { 0 };
	struct policy_peer pp;
	const char *why;
	char *out;

	(void)state;
	assert_int_equal(parse_line(&pc, "allow @a.example.com tcp/8000-8100", &why), 0);
	assert_int_equal(parse_line(&pc, "allow bob@a.example.com tcp/9000", &why), 0);
	assert_int_equal(parse_line(&pc, "allow alice@a.example.com tcp/22", &why), 0);
	assert_int_equal(parse_line(&pc, "icmp-echo off", &why), 0);
	build(&pp, &pc, "alice@a.example.com", false, approved, 5);
	out = print_peer(&pp);
	assert_string_equal(out, "ct state related accept\n"
				 "tcp dport 22 accept # ssh\n"
				 "tcp dport 80 accept # web\n"
				 "tcp dport 8000-8100 accept # firewall allow\n"
				 "udp dport 53 accept # dns\n");
	free(out);
}

static void
test_policy_peer_build_nothing(void **state)
{
	struct policy_config pc = { 0 };
	struct policy_peer pp;
	char *out;

	(void)state;
	build(&pp, &pc, "carol@c.example.org", false, NULL, 0);
	assert_int_equal(pp.nports, 0);
	assert_false(pp.icmp_echo); /* approved for nothing: not even ping */
	out = print_peer(&pp);
	assert_string_equal(out, "ct state related accept\n");
	free(out);
}

static void
test_policy_peer_build_configured_and_outbound_only(void **state)
{
	static const char *const approved[] = { "ssh" };
	struct policy_config pc = { 0 };
	struct policy_peer pp;
	const char *why;
	char *out;

	(void)state;
	build(&pp, &pc, "dave@d.example.net", true, approved, 1);
	assert_true(pp.all);
	out = print_peer(&pp);
	assert_string_equal(out, "accept # a peer of the config\n");
	free(out);
	assert_int_equal(parse_line(&pc, "outbound-only @d.example.net", &why), 0);
	build(&pp, &pc, "dave@d.example.net", true, approved, 1);
	assert_true(pp.outbound_only);
	assert_false(pp.all);
	assert_int_equal(pp.nports, 0);
	assert_false(pp.icmp_echo);
	out = print_peer(&pp);
	assert_string_equal(out, "# outbound-only: replies only\n");
	free(out);
}

static void
test_policy_peer_equal_changes(void **state)
{
	static const char *const one[] = { "ssh" }, *const two[] = { "ssh", "web" };
	struct policy_config pc = { 0 };
	struct policy_peer a, b;

	(void)state;
	build(&a, &pc, "alice@a.example.com", false, one, 1);
	build(&b, &pc, "alice@a.example.com", false, one, 1);
	assert_true(policy_peer_equal(&a, &b));
	build(&b, &pc, "alice@a.example.com", false, two, 2);
	assert_false(policy_peer_equal(&a, &b));
	b = a;
	b.addr4[3]++;
	assert_false(policy_peer_equal(&a, &b));
}

/* Random rule sets print to lines that parse back to the same set. */
static void
test_policy_config_print_round_trip_random(void **state)
{
	static const char *const who[] = { "alice@a.example.com", "@b.example.com",
					   "carol@c.example.org" };
	(void)state;
	srand(13);
	for (int round = 0; round < 2000; round++) {
		struct policy_config a = { 0 }, b = { 0 };
		char line[128], *out, *save = NULL;
		const char *why;

		for (int i = rand() % 8; i > 0; i--) {
			unsigned lo = 1 + (unsigned)rand() % 65535, hi = lo + (unsigned)rand() % 3;

			if (hi > 65535)
				hi = 65535;
			if (rand() % 4 == 0)
				snprintf(line, sizeof(line), "outbound-only %s", who[rand() % 3]);
			else if (rand() % 5 == 0)
				snprintf(line, sizeof(line), "icmp-echo %s",
					 rand() % 2 ? "on" : "off");
			else
				snprintf(line, sizeof(line), "allow %s %s/%u-%u", who[rand() % 3],
					 rand() % 2 ? "tcp" : "udp", lo, hi);
			(void)parse_line(&a, line, &why); /* a repeat is refused, fine */
		}
		out = print_config(&a);
		for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			assert_memory_equal(l, "firewall ", 9);
			assert_int_equal(parse_line(&b, l + 9, &why), 0);
		}
		assert_true(policy_config_equal(&a, &b));
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_config_parse_good),
		cmocka_unit_test(test_policy_config_parse_bad),
		cmocka_unit_test(test_policy_config_parse_who_and_limits),
		cmocka_unit_test(test_policy_who_matches_cases),
		cmocka_unit_test(test_policy_peer_build_ssh_only),
		cmocka_unit_test(test_policy_peer_build_sorted_with_rules),
		cmocka_unit_test(test_policy_peer_build_nothing),
		cmocka_unit_test(test_policy_peer_build_configured_and_outbound_only),
		cmocka_unit_test(test_policy_peer_equal_changes),
		cmocka_unit_test(test_policy_config_print_round_trip_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
