// SPDX-License-Identifier: MIT
/*
 * Tests of kernel-iface/nft.c against the real kernel, in a private network namespace the test
 * process makes for itself (unshare). Without root, nf_tables or the nft tool (used only here, to
 * read the table back independently of the module) they are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sched.h>
#include <unistd.h>

#include "core/log.h"
#include "kernel-iface/nft.h"
#include "policy/policy.h"

static bool have_netns;

/* The output of cmd (a shell command), malloc'ed. */
static char *
run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *out = calloc(1, 65536);
	size_t n;

	assert_non_null(p);
	assert_non_null(out);
	n = fread(out, 1, 65535, p);
	out[n] = '\0';
	pclose(p);
	return out;
}

static int
group_setup(void **state)
{
	(void)state;
	log_init("test_nft");
	if (geteuid() != 0 || system("command -v nft >/dev/null 2>&1") != 0)
		return 0;
	have_netns = unshare(CLONE_NEWNET) == 0 &&
		     system("nft add table inet vtxprobe && nft delete table inet vtxprobe") == 0;
	return 0;
}

static void
purposes_of(struct purpose *p)
{
	char *ssh[] = { "ssh", "tcp/22" }, *web[] = { "web", "tcp/80", "->", "127.0.0.1:8080" };
	const char *why;

	assert_int_equal(purpose_parse(&p[0], ssh, 2, &why), 0);
	assert_int_equal(purpose_parse(&p[1], web, 4, &why), 0);
}

static void
peer_of(struct policy_peer *pp, const char *const *approved, size_t n)
{
	static const uint8_t a4[4] = { 100, 64, 0, 7 }, a6[16] = { 0xfd, 0x12, [15] = 7 };
	struct policy_config pc = { 0 };
	struct purpose p[2];
	struct policy_peer_facts f = { "alice@a.example.com", 7, a4, a6, false, approved, n };
	char *rule[] = { "allow", "alice@a.example.com", "tcp/8000-8100" };
	const char *why;

	purposes_of(p);
	assert_int_equal(policy_config_parse(&pc, rule, 3, &why), 0);
	assert_int_equal(policy_peer_build(pp, &pc, p, 2, &f), 0);
}

static void
test_nft_open_replaces_stale(void **state)
{
	struct purpose p[2];
	struct nft *n;
	char *out;

	(void)state;
	if (!have_netns)
		skip();
	assert_int_equal(system("nft add table inet vertex && "
				"nft add chain inet vertex junk"),
			 0);
	purposes_of(p);
	assert_int_equal(nft_open(&n, "lo", p, 2), 0);
	out = run("nft list tables");
	assert_string_equal(out, "table inet vertex\n");
	free(out);
	out = run("nft list table inet vertex");
	assert_null(strstr(out, "junk"));
	assert_non_null(strstr(out, "iifname != \"lo\" accept\n"));
	assert_non_null(strstr(out, "ct direction reply accept\n"));
	assert_non_null(strstr(out, "ip saddr vmap @peers4\n"));
	assert_non_null(strstr(out, "ip6 saddr vmap @peers6\n"));
	assert_non_null(strstr(out, "iifname \"lo\" meta nfproto ipv4 tcp dport 80 dnat ip to "
				    "127.0.0.1:8080\n"));
	free(out);
	nft_close(n);
	out = run("nft list tables");
	assert_string_equal(out, "");
	free(out);
}

static void
test_nft_peer_set_update_del(void **state)
{
	static const char *const both[] = { "ssh", "web" }, *const one[] = { "web" };
	struct policy_peer pp;
	struct purpose p[2];
	unsigned long batches, failures;
	struct nft *n;
	char *out;

	(void)state;
	if (!have_netns)
		skip();
	purposes_of(p);
	assert_int_equal(nft_open(&n, "lo", p, 2), 0);
	peer_of(&pp, both, 2);
	assert_int_equal(nft_peer_set(n, &pp), 0);
	out = run("nft list chain inet vertex peer-7 | sed -n '3,8p'");
	assert_string_equal(out, "\t\tct state related accept\n"
				 "\t\ttcp dport 22 accept\n"
				 "\t\ttcp dport 80 accept\n"
				 "\t\ttcp dport 8000-8100 accept\n"
				 "\t\ticmp type echo-request accept\n"
				 "\t\ticmpv6 type echo-request accept\n");
	free(out);
	out = run("nft list map inet vertex peers4 | grep elements");
	assert_string_equal(out, "\t\telements = { 100.64.0.7 : jump peer-7 }\n");
	free(out);
	peer_of(&pp, one, 1); /* ssh revoked: one batch, the chain flushed and refilled */
	assert_int_equal(nft_peer_set(n, &pp), 0);
	out = run("nft list chain inet vertex peer-7 | grep -c accept");
	assert_string_equal(out, "5\n");
	free(out);
	out = run("nft list chain inet vertex peer-7 | grep -c 'dport 22'");
	assert_string_equal(out, "0\n");
	free(out);
	assert_int_equal(nft_peer_del(n, &pp), 0);
	out = run("nft list table inet vertex | grep -c 'peer-7'");
	assert_string_equal(out, "0\n");
	free(out);
	assert_int_equal(nft_peer_del(n, &pp), 0); /* not installed: nothing to do */
	nft_counts(n, &batches, &failures);
	assert_int_equal(batches, 4);
	assert_int_equal(failures, 0);
	nft_close(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nft_open_replaces_stale),
		cmocka_unit_test(test_nft_peer_set_update_del),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
