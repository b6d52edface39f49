// SPDX-License-Identifier: MIT
/*
 * Unit tests for vertexd's config parser (agent/config.c): a full example parsed to the expected
 * struct, parse -> print -> parse round trips on the example and on seeded random configs, a
 * table of bad configs with the error each must give (line number included), validation, and
 * the endpoint codec.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/config.h"

static const char example[] =
    "# vertexd.conf for alice\n"
    "identity    Alice@A.Example.com\n"
    "key         /etc/vertex/alice.key\n"
    "cert        /etc/vertex/alice.crt\n"
    "ca          a.example.com /etc/vertex/a.example.com.crt\n"
    "ca          B.example.com /etc/vertex/b.example.com.crt   # federation\n"
    "interface   vtx7\n"
    "port        4801\n"
    "public-tcp  4900\n"
    "pool4       100.80.0.0/12\n"
    "pool6       fd00:1234:5678::/48\n"
    "state       /tmp/vertexd.db\n"
    "control     /tmp/vertexd.sock\n"
    "user        vertex\n"
    "\tmtu 1400\n"
    "rekey-after-seconds  300\n"
    "rekey-after-packets  5000\n"
    "keepalive-seconds    25\n"
    "workers     2\n"
    "cipher      chacha20-poly1305\n"
    "\n"
    "peer bob@b.example.com {\n"
    "    endpoint 198.18.0.2:4800\n"
    "    endpoint [fd00::2]:4800\n"
    "}\n"
    "peer carol@c.example.org {\n"
    "}\n";

/* Big structs live on the heap: struct config is ~150 KiB. */
static struct config *
config_alloc(void)
{
	struct config *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	return c;
}

static void
config_release(struct config *c)
{
	config_free(c);
	free(c);
}

static int
parse(const char *text, struct config *c, char *err, size_t errlen)
{
	return config_parse_buf("vertexd.conf", text, strlen(text), c, err, errlen);
}

/* Prints c to a string, owned by the caller. */
static char *
print_to_string(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(config_print(c, f), 0);
	fclose(f);
	return buf;
}

/* parse(text) -> print -> parse must give an equal config, and printing again the same text. */
static void
assert_round_trip(const char *text)
{
	struct config *a = config_alloc(), *b = config_alloc();
	char err[256], *p1, *p2;

	if (parse(text, a, err, sizeof(err)) != 0)
		fail_msg("parse failed: %s\n%s", err, text);
	p1 = print_to_string(a);
	if (parse(p1, b, err, sizeof(err)) != 0)
		fail_msg("printed form does not parse: %s\n%s", err, p1);
	if (!config_equal(a, b))
		fail_msg("round trip differs:\n%s", p1);
	p2 = print_to_string(b);
	assert_string_equal(p1, p2);
	free(p1);
	free(p2);
	config_release(a);
	config_release(b);
}

static void
test_config_parse_buf_example(void **state)
{
	struct config *c = config_alloc();
	char err[256], ep[64];
	const uint8_t pool6[16] = { 0xfd, 0x00, 0x12, 0x34, 0x56, 0x78 };

	if (parse(example, c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(c->identity, "alice@a.example.com");
	assert_string_equal(c->key_path, "/etc/vertex/alice.key");
	assert_string_equal(c->cert_path, "/etc/vertex/alice.crt");
	assert_int_equal(c->ncas, 2);
	assert_string_equal(c->cas[0].domain, "a.example.com");
	assert_string_equal(c->cas[0].path, "/etc/vertex/a.example.com.crt");
	assert_string_equal(c->cas[1].domain, "b.example.com");
	assert_string_equal(c->interface, "vtx7");
	assert_int_equal(c->port, 4801);
	assert_int_equal(c->public_tcp, 4900);
	assert_int_equal(c->pool4.family, AF_INET);
	assert_memory_equal(c->pool4.addr, ((uint8_t[]){ 100, 80, 0, 0 }), 4);
	assert_int_equal(c->pool4.len, 12);
	assert_int_equal(c->pool6.family, AF_INET6);
	assert_memory_equal(c->pool6.addr, pool6, 16);
	assert_int_equal(c->pool6.len, 48);
	assert_string_equal(c->state_path, "/tmp/vertexd.db");
	assert_string_equal(c->control_path, "/tmp/vertexd.sock");
	assert_int_equal(c->mtu, 1400);
	assert_int_equal(c->rekey_after_sec, 300);
	assert_int_equal(c->rekey_after_packets, 5000);
	assert_int_equal(c->keepalive_sec, 25);
	assert_int_equal(c->workers, 2);
	assert_true(c->chacha_only);
	assert_int_equal(c->npeers, 2);
	assert_string_equal(c->peers[0].identity, "bob@b.example.com");
	assert_int_equal(c->peers[0].nendpoints, 2);
	sockaddr_format(&c->peers[0].endpoints[0], ep, sizeof(ep));
	assert_string_equal(ep, "198.18.0.2:4800");
	sockaddr_format(&c->peers[0].endpoints[1], ep, sizeof(ep));
	assert_string_equal(ep, "[fd00::2]:4800");
	assert_string_equal(c->peers[1].identity, "carol@c.example.org");
	assert_int_equal(c->peers[1].nendpoints, 0);
	assert_int_equal(config_validate(c, err, sizeof(err)), 0);
	config_release(c);
}

static void
test_config_parse_buf_defaults(void **state)
{
	struct config *c = config_alloc(), *d = config_alloc();
	char err[256];

	assert_int_equal(parse("# nothing\n\n   \n", c, err, sizeof(err)), 0);
	config_defaults(d);
	assert_true(config_equal(c, d));
	assert_string_equal(c->interface, "vtx0");
	assert_int_equal(c->port, 4800);
	assert_int_equal(c->pool4.family, AF_INET);
	assert_memory_equal(c->pool4.addr, ((uint8_t[]){ 100, 64, 0, 0 }), 4);
	assert_int_equal(c->pool4.len, 10);
	assert_int_equal(c->pool6.family, 0);
	assert_string_equal(c->state_path, "/var/lib/vertex/vertexd.db");
	assert_string_equal(c->control_path, "/run/vertex/vertexd.sock");
	assert_int_equal(c->mtu, CONFIG_DEFAULT_MTU);
	assert_int_equal(c->rekey_after_sec, 120);
	assert_true(c->rekey_after_packets == CONFIG_DEFAULT_REKEY_PACKETS);
	assert_int_equal(c->keepalive_sec, 10);
	assert_int_equal(c->workers, CONFIG_DEFAULT_WORKERS);
	assert_false(c->chacha_only); /* cipher auto */
	assert_int_equal(c->npeers, 0);
	/* an empty buffer and one without a final newline */
	assert_int_equal(config_parse_buf("x", "", 0, c, err, sizeof(err)), 0);
	assert_int_equal(parse("mtu 1300", c, err, sizeof(err)), 0);
	assert_int_equal(c->mtu, 1300);
	config_release(c);
	config_release(d);
}

static void
test_config_print_round_trip_example(void **state)
{
	assert_round_trip(example);
	assert_round_trip("");
	assert_round_trip(
	    "privacy on\npurpose ssh tcp/022 allow @A.example.com,Carol@c.example.org\n"
	    "purpose\tweb  tcp/80   auto-approve\npurpose dns udp/53 allow anyone\n");
	assert_round_trip("hooks /etc/vertex/hooks.d\nhook-timeout-seconds 3\n");
	assert_round_trip("userspace on\nsocks 127.0.0.1:1080\nforward 127.0.0.1:2222 "
			  "Bob@B.example.com/ssh\nforward [::1]:8080 carol@c.example.org/web\n");
	assert_round_trip("socks [::1]:1080\n");
	assert_round_trip("purpose web tcp/80 -> 127.0.0.1:8080 allow @a.example.com auto-approve\n"
			  "purpose web6 tcp/81 -> [::1]:8080\n");
	assert_round_trip(
	    "firewall icmp-echo off\nfirewall allow Alice@A.example.com tcp/8000-8100\n"
	    "firewall outbound-only @c.example.org\nfirewall allow @b.example.com udp/53\n");
}

static void
test_config_purposes(void **state)
{
	struct config *c = config_alloc();
	char err[256];

	(void)state;
	assert_int_equal(parse("purpose ssh tcp/22 allow @a.example.com,carol@c.example.org\n"
			       "purpose web tcp/80 auto-approve\nprivacy on\n",
			       c, err, sizeof(err)),
			 0);
	assert_int_equal(c->npurposes, 2);
	assert_true(c->privacy);
	assert_string_equal(c->purposes[0].name, "ssh");
	assert_int_equal(c->purposes[0].proto, PURPOSE_TCP);
	assert_int_equal(c->purposes[0].port, 22);
	assert_true(purpose_allows(&c->purposes[0], "alice@a.example.com"));
	assert_true(purpose_allows(&c->purposes[0], "carol@c.example.org"));
	assert_false(purpose_allows(&c->purposes[0], "dave@c.example.org"));
	assert_false(purpose_allows(&c->purposes[0], "eve@aa.example.com"));
	assert_false(c->purposes[0].auto_approve);
	assert_true(purpose_allows(&c->purposes[1], "anyone@x.example.net"));
	assert_true(c->purposes[1].auto_approve);
	assert_false(purpose_has_target(&c->purposes[1]));
	config_release(c);
	c = config_alloc();
	assert_int_equal(
	    parse("purpose web tcp/80 -> 127.0.0.1:8080 auto-approve\n", c, err, sizeof(err)), 0);
	assert_true(purpose_has_target(&c->purposes[0]));
	assert_int_equal(c->purposes[0].target.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&c->purposes[0].target)->sin_port), 8080);
	assert_true(c->purposes[0].auto_approve);
	config_release(c);
}

struct bad_case {
	const char *text;
	const char *err; /* substring of the error */
};

static const struct bad_case bad_cases[] = {
	{ "frobnicate 1\n", "vertexd.conf:1: frobnicate: unknown keyword" },
	{ "purpose ssh\n", "purpose: expects NAME tcp|udp/PORT" },
	{ "purpose ssh tcp/22 a b c d\n", "unexpected or repeated" },
	{ "purpose SSH! tcp/22\n", "purpose: a purpose name is 1-32 characters" },
	{ "purpose ssh sctp/22\n", "purpose: unknown protocol (tcp or udp)" },
	{ "purpose ssh tcp/0\n", "purpose: port is not a number from 1 to 65535" },
	{ "purpose ssh tcp/65536\n", "purpose: port is not a number from 1 to 65535" },
	{ "purpose ssh tcp/22x\n", "purpose: port is not a number" },
	{ "purpose ssh tcp/22 allow\n", "purpose: allow needs a list" },
	{ "purpose ssh tcp/22 allow bob\n", "purpose: " },
	{ "purpose ssh tcp/22 allow anyone,@a.example.com\n", "'anyone' cannot be combined" },
	{ "purpose ssh tcp/22 allow @a.example.com,@a.example.com\n", "appears twice" },
	{ "purpose ssh tcp/22 allow @a.example.com allow @b.example.com\n",
	  "unexpected or repeated" },
	{ "purpose ssh tcp/22 a b c d e f\n", "purpose: expects NAME tcp|udp/PORT" },
	{ "purpose web tcp/80 ->\n", "a local target is a numeric" },
	{ "firewall\n", "firewall: expects icmp-echo" },
	{ "firewall icmp-echo\n", "firewall: expects icmp-echo" },
	{ "firewall icmp-echo maybe\n", "vertexd.conf:1: firewall: expected icmp-echo on|off" },
	{ "firewall allow alice@a.example.com tcp/9-1\n", "firewall: a port range goes from low" },
	{ "firewall outbound-only x y\n", "firewall: expected outbound-only" },
	{ "firewall allow alice@a.example.com tcp/1\nfirewall allow alice@a.example.com tcp/1\n",
	  "vertexd.conf:2: firewall: the same rule is given twice" },
	{ "purpose web tcp/80 -> localhost:8080\n", "a local target is a numeric" },
	{ "purpose web tcp/80 -> 127.0.0.1:0\n", "a local target is a numeric" },
	{ "purpose web tcp/80 auto-approve -> 127.0.0.1:8080\n", "unexpected or repeated" },
	{ "purpose ssh tcp/22 allow @a.example.com allow\n", "unexpected or repeated" },
	{ "purpose ssh tcp/22 auto-approve auto-approve\n", "unexpected or repeated" },
	{ "purpose ssh tcp/22 frob\n", "unexpected or repeated" },
	{ "purpose ssh tcp/22\npurpose ssh udp/22\n",
	  "vertexd.conf:2: purpose: duplicate purpose ssh" },
	{ "privacy yes\n", "privacy: yes is neither 'on' nor 'off'" },
	{ "userspace yes\n", "userspace: yes is neither 'on' nor 'off'" },
	{ "socks 0.0.0.0:1080\n", "socks: 0.0.0.0:1080: only a loopback address" },
	{ "socks 127.0.0.1\n", "socks: 127.0.0.1: the address to listen on is not a numeric" },
	{ "socks 127.0.0.1:1080\nsocks 127.0.0.1:1081\n", "socks: given more than once" },
	{ "forward 127.0.0.1:22 bob@b.example.com\n", "forward: 127.0.0.1:22 bob@b.example.com:" },
	{ "forward 198.18.0.1:22 bob@b.example.com/ssh\n", "only a loopback address" },
	{ "forward 127.0.0.1:22 b@b.example.com/ssh\nforward 127.0.0.1:22 c@c.example.com/ssh\n",
	  "forward: 127.0.0.1:22: another forward listens there" },
	{ "forward 127.0.0.1:22\n", "forward: expects 127.0.0.1:PORT USER@DOMAIN/PURPOSE" },
	{ "privacy on\nprivacy off\n", "privacy: given more than once" },
	{ "hooks etc/hooks\n", "hooks: etc/hooks is not an absolute path" },
	{ "hooks /a\nhooks /b\n", "hooks: given more than once" },
	{ "hook-timeout-seconds 0\n", "hook-timeout-seconds: 0 is out of range 1..3600" },
	{ "hook-timeout-seconds 3601\n", "hook-timeout-seconds: 3601 is out of range" },
	{ "\n\n# c\nmtu 99999\n", "vertexd.conf:4: mtu: 99999 is out of range 1280..1920" },
	{ "mtu 1921\n", "vertexd.conf:1: mtu: 1921 is out of range 1280..1920" },
	{ "mtu 1279\n", "vertexd.conf:1: mtu: 1279 is out of range" },
	{ "mtu 2013\n", "mtu: 2013 is out of range" },
	{ "mtu -1400\n", "mtu: -1400 is not a decimal number" },
	{ "mtu 14OO\n", "mtu: 14OO is not a decimal number" },
	{ "mtu\n", "vertexd.conf:1: mtu: expects BYTES" },
	{ "mtu 1400 1500\n", "mtu: expects BYTES" },
	{ "mtu 1400\nmtu 1400\n", "vertexd.conf:2: mtu: given more than once" },
	{ "port 0\n", "port: 0 is out of range 1..65535" },
	{ "public-tcp 0\n", "public-tcp: 0 is out of range 1..65535" },
	{ "public-tcp 65536\n", "public-tcp: 65536 is out of range 1..65535" },
	{ "public-tcp 49x\n", "public-tcp: 49x is not a decimal number" },
	{ "public-tcp\n", "vertexd.conf:1: public-tcp: expects PORT" },
	{ "public-tcp 4900 4901\n", "public-tcp: expects PORT" },
	{ "public-tcp 4900\npublic-tcp 4900\n",
	  "vertexd.conf:2: public-tcp: given more than once" },
	{ "port 65536\n", "port: 65536 is out of range 1..65535" },
	{ "port 99999999999999999999999\n", "port: 99999999999999999999999 is out of range" },
	{ "identity alice\n", "vertexd.conf:1: identity: alice: missing '@'" },
	{ "identity alice@a.example.com/ssh\n",
	  "identity: alice@a.example.com/ssh: a purpose is not" },
	{ "identity alice@localhost\n", "only one label" },
	{ "key etc/alice.key\n", "key: etc/alice.key is not an absolute path" },
	{ "cert\n", "cert: expects PATH" },
	{ "ca a.example.com\n", "ca: expects DOMAIN PATH" },
	{ "ca example /x\n", "ca: example: domain has only one label" },
	{ "ca a.example.com /x\nca A.EXAMPLE.COM /y\n",
	  "vertexd.conf:2: ca: duplicate ca for a.example.com" },
	{ "interface vtx0123456789abcd\n", "interface: name longer than 15 characters" },
	{ "interface vtx/0\n", "interface: name contains a character" },
	{ "interface ..\n", "interface: .. is not a valid interface name" },
	{ "user -vertex\n", "user: a user name cannot start with '-'" },
	{ "user ve:rtex\n", "user: name contains a character other than" },
	{ "user abcdefghijklmnopqrstuvwxyz0123456\n", "user: name longer than 32 characters" },
	{ "user a\nuser b\n", "vertexd.conf:2: user: given more than once" },
	{ "pool4 100.64.0.0\n", "pool4: 100.64.0.0 is not an IPv4 prefix" },
	{ "pool4 fd00::/48\n", "pool4: fd00::/48 is not an IPv4 prefix" },
	{ "pool4 100.64.0.0/7\n", "pool4: prefix length 7 is out of range 8..30" },
	{ "pool4 100.64.0.0/31\n", "pool4: prefix length 31 is out of range 8..30" },
	{ "pool4 100.64.0.0/x\n", "pool4: 100.64.0.0/x is not an IPv4 prefix" },
	{ "pool4 100.64.0.1/10\n", "pool4: 100.64.0.1/10 has host bits set (did you mean "
				   "100.64.0.0/10?)" },
	{ "pool6 fd00::/15\n", "pool6: prefix length 15 is out of range 16..64" },
	{ "pool6 fd00::/65\n", "pool6: prefix length 65 is out of range 16..64" },
	{ "pool6 fd00::1/48\n", "pool6: fd00::1/48 has host bits set (did you mean fd00::/48?)" },
	{ "pool6 10.0.0.0/16\n", "pool6: 10.0.0.0/16 is not an IPv6 prefix" },
	{ "rekey-after-seconds 9\n", "rekey-after-seconds: 9 is out of range 10..86400" },
	{ "rekey-after-seconds 86401\n", "rekey-after-seconds: 86401 is out of range" },
	{ "rekey-after-packets 999\n", "rekey-after-packets: 999 is out of range 1000.." },
	{ "keepalive-seconds 0\n", "keepalive-seconds: 0 is out of range 1..3600" },
	{ "keepalive-seconds 3601\n", "keepalive-seconds: 3601 is out of range 1..3600" },
	{ "workers 9\n", "workers: 9 is out of range 0..8" },
	{ "workers 1\nworkers 2\n", "vertexd.conf:2: workers: given more than once" },
	{ "cipher aes-256-gcm\n", "cipher: aes-256-gcm is neither 'auto' nor 'chacha20-poly1305'" },
	{ "cipher\n", "cipher" },
	{ "cipher auto\ncipher auto\n", "vertexd.conf:2: cipher: given more than once" },
	{ "peer bob@b.example.com {\n}\npeer BOB@b.example.com {\n}\n",
	  "vertexd.conf:3: peer: duplicate peer bob@b.example.com" },
	{ "\npeer bob@b.example.com {\n endpoint 198.18.0.2:1\n",
	  "vertexd.conf:2: peer: unterminated peer block" },
	{ "peer bob@b.example.com\n", "peer: expects IDENTITY {" },
	{ "peer bob@b.example.com [\n", "peer: expected '{' after the identity" },
	{ "peer bob@b.example.com/ssh {\n}\n", "peer: bob@b.example.com/ssh: a purpose is not" },
	{ "peer bob@b.example.com {\npeer c@c.example.com {\n}\n}\n",
	  "vertexd.conf:2: peer: not allowed inside a peer block (missing '}' for the peer on "
	  "line 1?)" },
	{ "peer bob@b.example.com {\nmtu 1400\n}\n", "vertexd.conf:2: mtu: not allowed inside" },
	{ "}\n", "vertexd.conf:1: }: only allowed inside a peer block" },
	{ "endpoint 198.18.0.2:1\n", "endpoint: only allowed inside a peer block" },
	{ "peer b@b.example.com {\n} x\n", "vertexd.conf:2: }: expects no arguments" },
	{ "peer b@b.example.com {\nendpoint 198.18.0.2\n}\n",
	  "vertexd.conf:2: endpoint: 198.18.0.2 is not a numeric" },
	{ "peer b@b.example.com {\nendpoint host.example.com:4800\n}\n",
	  "endpoint: host.example.com:4800 is not a numeric" },
	{ "peer b@b.example.com {\nendpoint 198.18.0.2:0\n}\n", "is not a numeric" },
	{ "peer b@b.example.com {\nendpoint fd00::2:4800\n}\n", "is not a numeric" },
	{ "peer b@b.example.com {\nendpoint 198.18.0.2:1\nendpoint 198.18.0.2:1\n}\n",
	  "vertexd.conf:3: endpoint: duplicate endpoint 198.18.0.2:1" },
	{ "peer b@b.example.com {\nendpoint 198.18.0.1:1\nendpoint 198.18.0.1:2\n"
	  "endpoint 198.18.0.1:3\nendpoint 198.18.0.1:4\nendpoint 198.18.0.1:5\n"
	  "endpoint 198.18.0.1:6\nendpoint 198.18.0.1:7\nendpoint 198.18.0.1:8\n"
	  "endpoint 198.18.0.1:9\n}\n",
	  "vertexd.conf:10: endpoint: more than 8 endpoints for b@b.example.com" },
	{ "mtu 1400\r\n", "vertexd.conf:1: line contains a control character (0x0d)" },
	{ "a b c d e f g h i j\n", "vertexd.conf:1: a: too many arguments" },
};

static void
test_config_parse_buf_bad_table(void **state)
{
	struct config *c = config_alloc();

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		char err[256] = "";

		if (parse(bad_cases[i].text, c, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted:\n%s", bad_cases[i].text);
		if (!strstr(err, bad_cases[i].err))
			fail_msg("error '%s' lacks '%s'", err, bad_cases[i].err);
		/* a failed parse leaves nothing allocated */
		assert_null(c->peers);
		assert_int_equal(c->npeers, 0);
	}
	config_release(c);
}

static void
test_config_parse_buf_long_line(void **state)
{
	struct config *c = config_alloc();
	char *text = malloc(2100), err[256];

	/* exactly 1024 bytes is fine; 1025 is not */
	memset(text, ' ', 2100);
	memcpy(text, "mtu 1400", 8);
	text[1024] = '\n';
	assert_int_equal(config_parse_buf("vertexd.conf", text, 1025, c, err, sizeof(err)), 0);
	memcpy(text + 1025, "mtu", 3);
	text[2050] = '\n';
	assert_int_equal(config_parse_buf("vertexd.conf", text, 2051, c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "vertexd.conf:2: line longer than 1024 bytes");
	free(text);
	config_release(c);
}

static void
test_config_parse_buf_nul_byte(void **state)
{
	struct config *c = config_alloc();
	char err[256];

	assert_int_equal(config_parse_buf("n.conf", "mtu 1400\nmtu\0 1\n", 16, c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "n.conf:2: line contains a NUL byte");
	config_release(c);
}

static void
test_config_parse_buf_max_peers(void **state)
{
	struct config *c = config_alloc();
	size_t cap = (CONFIG_MAX_PEERS + 1) * 40, len = 0;
	char *text = malloc(cap), err[256];

	for (int i = 0; i < CONFIG_MAX_PEERS; i++)
		len += (size_t)snprintf(text + len, cap - len, "peer p%d@ex.org {\n}\n", i);
	assert_int_equal(config_parse_buf("m.conf", text, len, c, err, sizeof(err)), 0);
	assert_int_equal(c->npeers, CONFIG_MAX_PEERS);
	assert_string_equal(c->peers[CONFIG_MAX_PEERS - 1].identity, "p1023@ex.org");
	len += (size_t)snprintf(text + len, cap - len, "peer one-too-many@ex.org {\n}\n");
	config_free(c);
	assert_int_equal(config_parse_buf("m.conf", text, len, c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "m.conf:2049: peer: more than 1024 peers"));
	free(text);
	config_release(c);
}

static void
test_config_parse_file_io(void **state)
{
	struct config *c = config_alloc();
	char path[] = "/tmp/test_config_XXXXXX", err[512];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, example, strlen(example)), (ssize_t)strlen(example));
	close(fd);
	assert_int_equal(config_parse_file(path, c, err, sizeof(err)), 0);
	assert_int_equal(c->npeers, 2);
	assert_string_equal(c->hooks_dir, "/tmp"); /* hooks beside the config file by default */
	assert_int_equal(c->hook_timeout_sec, 10);
	config_free(c);
	unlink(path);
	assert_int_equal(config_parse_file(path, c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
	config_release(c);
}

static void
test_config_validate_missing(void **state)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
		{ "key /k\ncert /c\nca ex.org /ca\n", "identity: missing" },
		{ "identity a@ex.org\ncert /c\nca ex.org /ca\n", "key: missing" },
		{ "identity a@ex.org\nkey /k\nca ex.org /ca\n", "cert: missing" },
		{ "identity a@ex.org\nkey /k\ncert /c\n", "ca: at least one" },
		{ "identity a@ex.org\nkey /k\ncert /c\nca ex.org /ca\npeer A@EX.ORG {\n}\n",
		  "peer: a@ex.org is this agent's own identity" },
	};
	struct config *c = config_alloc();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";

		assert_int_equal(parse(cases[i].text, c, err, sizeof(err)), 0);
		assert_int_equal(config_validate(c, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].err))
			fail_msg("error '%s' lacks '%s'", err, cases[i].err);
		config_free(c);
	}
	config_release(c);
}

/* A random valid config, written with random spacing, case and comments. */
static size_t
gen_line(char *buf, size_t cap, const char *kw, const char *val)
{
	static const char *const spaces[] = { " ", "\t", "   ", " \t " };
	const char *lead = random() % 4 == 0 ? "  " : "";
	const char *sp = spaces[random() % 4];
	const char *comment = random() % 5 == 0 ? "  # a comment" : "";

	return (size_t)snprintf(buf, cap, "%s%s%s%s%s\n%s", lead, kw, sp, val, comment,
				random() % 6 == 0 ? "\n# comment line\n" : "");
}

/* Distinct for distinct idx: the port is idx modulo CONFIG_MAX_ENDPOINTS. */
static void
gen_endpoint(char *buf, size_t cap, int idx)
{
	long port = 1 + idx + CONFIG_MAX_ENDPOINTS * (random() % 8000);

	if (random() % 2)
		snprintf(buf, cap, "198.%d.%ld.%ld:%ld", 18 + (int)(random() % 2), random() % 256,
			 random() % 256, port);
	else
		snprintf(buf, cap, "[fd%02lx:%lx::%lx]:%ld", random() % 256, random() % 65536,
			 random() % 65536, port);
}

static void
gen_peer(char *buf, size_t cap, size_t *len, int idx)
{
	int n = (int)(random() % (CONFIG_MAX_ENDPOINTS + 1));

	*len += (size_t)snprintf(buf + *len, cap - *len, "peer %s%d@d%ld.Example.com {\n",
				 random() % 2 ? "User" : "u", idx, random() % 5);
	for (int i = 0; i < n; i++) {
		char ep[80];

		gen_endpoint(ep, sizeof(ep), i);
		*len += (size_t)snprintf(buf + *len, cap - *len, "\tendpoint %s\n", ep);
	}
	*len += (size_t)snprintf(buf + *len, cap - *len, "}\n");
}

static char *
gen_config(void)
{
	size_t cap = 64 * 1024, len = 0;
	char *buf = malloc(cap), val[128];
	int ncas = (int)(random() % 4), npeers = (int)(random() % 6);

	assert_non_null(buf);
	buf[0] = '\0';
#define MAYBE(kw, ...)                                                                             \
	do {                                                                                       \
		if (random() % 2) {                                                                \
			snprintf(val, sizeof(val), __VA_ARGS__);                                   \
			len += gen_line(buf + len, cap - len, kw, val);                            \
		}                                                                                  \
	} while (0)
	MAYBE("identity", "%s@a%ld.example.com", random() % 2 ? "Me" : "me", random() % 9);
	MAYBE("key", "/k/%ld.key", random());
	MAYBE("cert", "/c/%ld.crt", random());
	for (int i = 0; i < ncas; i++) {
		snprintf(val, sizeof(val), "CA%d.example.net /ca/%ld", i, random());
		len += gen_line(buf + len, cap - len, "ca", val);
	}
	MAYBE("interface", "vtx%ld", random() % 1000);
	MAYBE("port", "%ld", 1 + random() % 65535);
	MAYBE("public-tcp", "%ld", 1 + random() % 65535);
	MAYBE("pool4", "10.%ld.0.0/16", random() % 256);
	MAYBE("pool6", "fd%02lx:%lx::/%d", random() % 256, random() % 65536 & 0xff00, 32);
	MAYBE("state", "/s/%ld.db", random());
	MAYBE("control", "/r/%ld.sock", random());
	MAYBE("mtu", "%ld", CONFIG_MIN_MTU + random() % (CONFIG_MAX_MTU - CONFIG_MIN_MTU + 1));
	MAYBE("rekey-after-seconds", "%ld", 10 + random() % 86391);
	MAYBE("rekey-after-packets", "%llu", 1000ull + (unsigned long long)random() * 7919);
	MAYBE("keepalive-seconds", "%ld", 1 + random() % 3600);
	MAYBE("workers", "%ld", random() % (CONFIG_MAX_WORKERS + 1));
	MAYBE("cipher", "%s", random() % 2 ? "auto" : "chacha20-poly1305");
#undef MAYBE
	for (int i = 0; i < npeers; i++)
		gen_peer(buf, cap, &len, i);
	return buf;
}

static void
test_config_print_round_trip_random(void **state)
{
	srandom(4800);
	for (int i = 0; i < 2000; i++) {
		char *text = gen_config();

		assert_round_trip(text);
		free(text);
	}
}

static void
test_config_equal_differences(void **state)
{
	struct config *a = config_alloc(), *b = config_alloc();
	char err[256];

	assert_int_equal(parse(example, a, err, sizeof(err)), 0);
	assert_int_equal(parse(example, b, err, sizeof(err)), 0);
	assert_true(config_equal(a, b));
	b->peers[0].endpoints[1] = b->peers[0].endpoints[0];
	assert_false(config_equal(a, b));
	config_free(b);
	assert_int_equal(parse(example, b, err, sizeof(err)), 0);
	b->pool6.len = 56;
	assert_false(config_equal(a, b));
	b->pool6.len = 48;
	b->rekey_after_packets++;
	assert_false(config_equal(a, b));
	b->rekey_after_packets--;
	strcpy(b->cas[1].path, "/other");
	assert_false(config_equal(a, b));
	config_release(a);
	config_release(b);
}

/* app-socket: beside the control socket unless given; never the control socket itself. */
static void
test_config_app_socket(void **state)
{
	static const char base[] =
	    "identity alice@a.example.com\nkey /k\ncert /c\nca a.example.com /ca\n";
	struct config *c = config_alloc();
	char text[512], err[256];

	assert_int_equal(parse(base, c, err, sizeof(err)), 0);
	assert_string_equal(c->app_path, "/run/vertex/vertexd-app.sock");
	config_free(c);
	snprintf(text, sizeof(text), "%scontrol /tmp/t/bob.sock\n", base);
	assert_int_equal(parse(text, c, err, sizeof(err)), 0);
	assert_string_equal(c->app_path, "/tmp/t/bob-app.sock");
	config_free(c);
	snprintf(text, sizeof(text), "%scontrol /tmp/t/ctl\n", base);
	assert_int_equal(parse(text, c, err, sizeof(err)), 0);
	assert_string_equal(c->app_path, "/tmp/t/ctl-app");
	config_free(c);
	snprintf(text, sizeof(text), "%sapp-socket /srv/app\ncontrol /tmp/t/bob.sock\n", base);
	assert_int_equal(parse(text, c, err, sizeof(err)), 0);
	assert_string_equal(c->app_path, "/srv/app");
	assert_round_trip(text);
	config_free(c);
	snprintf(text, sizeof(text), "%sapp-socket relative\n", base);
	assert_int_equal(parse(text, c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not an absolute path"));
	snprintf(text, sizeof(text), "%sapp-socket /x.sock\ncontrol /x.sock\n", base);
	assert_int_equal(parse(text, c, err, sizeof(err)), 0);
	assert_int_equal(config_validate(c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "app-socket: /x.sock is the control socket's path too"));
	config_release(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_parse_buf_example),
		cmocka_unit_test(test_config_parse_buf_defaults),
		cmocka_unit_test(test_config_print_round_trip_example),
		cmocka_unit_test(test_config_parse_buf_bad_table),
		cmocka_unit_test(test_config_parse_buf_long_line),
		cmocka_unit_test(test_config_parse_buf_nul_byte),
		cmocka_unit_test(test_config_parse_buf_max_peers),
		cmocka_unit_test(test_config_parse_file_io),
		cmocka_unit_test(test_config_validate_missing),
		cmocka_unit_test(test_config_purposes),
		cmocka_unit_test(test_config_print_round_trip_random),
		cmocka_unit_test(test_config_equal_differences),
		cmocka_unit_test(test_config_app_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
