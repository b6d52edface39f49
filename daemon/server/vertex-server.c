// SPDX-License-Identifier: MIT
/*
 * vertex-server: the command line. A table of verbs {name, fn, help}: `run` starts the daemon,
 * `init` makes a state directory, and the administrative verbs (admin.c) work on that directory
 * directly (SQLite lets them work while the daemon runs; the daemon notices revocations within
 * SERVER_REVOCATION_POLL_MS). `vertex-server VERB --help` prints the verb's own help; each verb
 * checks all its arguments before it touches the state directory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "server/server.h"

static const char server_usage[] =
    "Usage: vertex-server [-D DIR] VERB [ARGS...]\n"
    "\n"
    "The Vertex server of a domain: its certificate authority, accounts, enrolment and\n"
    "revocation list. Agents of the domain register with it and keep a connection to it.\n"
    "One process can serve several domains (run --also), each with its own state directory.\n"
    "\n"
    "Verbs ('vertex-server VERB --help' shows a verb's own help):\n"
    "  init --domain DOMAIN [--days N]   make the state directory: domain CA (valid N days,\n"
    "                                    default 3650), the server's own key and certificate\n"
    "                                    (server@DOMAIN), an empty account store\n"
    "  run [--port N] [--cert-validity DURATION] [--also DIR]... [-d CATEGORIES]\n"
    "                                    serve agents on TCP port N (default 4801), issuing\n"
    "                                    certificates valid for DURATION (default 7d; units\n"
    "                                    s, m, h, d), which agents renew at two thirds;\n"
    "                                    --also serves the domain of another state directory\n"
    "                                    too (up to 15), picked by the TLS server name the\n"
    "                                    client sends; clients that send none get -D's\n"
    "  user add USER [--password-stdin]  add an account, optionally with a password read\n"
    "                                    from standard input (stored only as a scrypt hash)\n"
    "  user del USER                     delete an account (its certificates are revoked)\n"
    "  user list [--json]                list accounts\n"
    "  invite new USER [--hours N]       print a one-time invite code for USER, valid N hours\n"
    "                                    (default 72); only its hash is stored\n"
    "  revoke USER                       revoke USER and every certificate issued to it\n"
    "  trust list|show|forget|pin        the CAs pinned for other domains; re-pin one that\n"
    "                                    really replaced its CA\n"
    "  help [VERB]                       this help, or a verb's\n"
    "\n"
    "Options:\n"
    "  -D, --dir DIR   state directory (default /var/lib/vertex-server); administrative\n"
    "                  verbs work on one domain's directory at a time\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n"
    "The server is described in docs/server.md, its protocol in docs/protocol.md.\n";

static const char server_init_help[] =
    "Usage: vertex-server [-D DIR] init --domain DOMAIN [--days N]\n"
    "\n"
    "Makes the state directory DIR (mode 0700, created if missing) for DOMAIN:\n"
    "  ca.key, ca.crt          the domain CA: its Ed25519 key (mode 0600) and self-signed\n"
    "                          certificate, valid N days (default 3650, at most 36500)\n"
    "  server.key, server.crt  the server's own key (0600) and certificate, naming\n"
    "                          server@DOMAIN, signed by the CA for the same N days\n"
    "  server.db               the store (SQLite): accounts, invite digests, issued\n"
    "                          certificates, revocations, other domains' pinned CAs\n"
    "\n"
    "Prints the CA's fingerprint. Users who want to check the server at their first\n"
    "registration pass it to 'vertex register --ca-fingerprint'. A directory that already\n"
    "holds a CA is left alone: init refuses rather than replace a domain's identity.\n"
    "\n"
    "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n";

static const char server_run_help[] =
    "Usage: vertex-server [-D DIR] run [--port N] [--cert-validity DURATION]\n"
    "                                  [--also DIR]... [--private]\n"
    "                                  [--relay-rate BYTES_PER_SEC] [--alt-address ADDR]...\n"
    "                                  [--peering-idle DURATION]\n"
    "                                  [-d CATEGORIES]\n"
    "\n"
    "Serves the domain whose state is in DIR (see 'init'), in the foreground: enrolment,\n"
    "certificate renewal, the signed revocation list, notary answers, federation with\n"
    "other domains' servers, contact requests between agents and the relay between the\n"
    "pairs that approved each other. Listens on TCP port N of every address, IPv4 and\n"
    "IPv6. Logs go to standard error; SIGTERM or SIGINT stop it cleanly. The\n"
    "administrative verbs may run while it does: it notices a revocation within 2 s and\n"
    "pushes the new list to its agents.\n"
    "\n"
    "Options:\n"
    "  --port N                  TCP port (default 4801)\n"
    "  --cert-validity DURATION  lifetime of the agent certificates it issues (default 7d):\n"
    "                            a number of s, m, h or d (bare: seconds), from 10 s to\n"
    "                            3650 d; agents renew at two thirds of it, no password\n"
    "  --also DIR                serve the domain of state directory DIR too (up to 15);\n"
    "                            a client picks a domain by the TLS server name it sends,\n"
    "                            and one that sends none gets the domain of -D\n"
    "  --private                 a request for an unknown or offline user of this domain\n"
    "                            is answered 'timeout' at the end of its ttl, exactly as\n"
    "                            one nobody answered, rather than at once\n"
    "  --relay-rate BYTES_PER_SEC  what the relay carries per pair of agents and again per\n"
    "                            sending agent (default 268435456, 256 MiB/s; burst 4 MiB)\n"
    "  --alt-address ADDR        a second address of this host (one IPv4, one IPv6) from\n"
    "                            which UDP reflection also answers, so agents can tell a\n"
    "                            NAT that filters by address from one that lets anyone in,\n"
    "                            and see whether it maps per destination address; without\n"
    "                            it they classify with the two ports (4801, 4802) alone\n"
    "  --peering-idle DURATION   close a connection to another domain's server that had\n"
    "                            nothing to carry this long (default 10m, 10 s to 1 d); the\n"
    "                            next record for that domain opens it again\n"
    "  -d, --debug CATEGORIES    debug logging: ctl (each connection, federation), or all\n"
    "\n"
    "Limits: 20,000 connections; 64 from one network (an IPv4 address or an IPv6 /64) that\n"
    "have not yet said HELLO; 10 s to finish a TLS handshake; 120 s of silence closes a\n"
    "connection. Enrolment attempts: 5 per account, then one per 30 s; 20 per source\n"
    "address, then one per 5 s. First contacts with other domains: 32 at once; 10 per\n"
    "source address, then one per 10 s. Contact requests: 20 per asking identity, then\n"
    "one per 6 s; 4,096 pending (64 per asker). What is refused is logged with the reason.\n"
    "\n"
    "Exit status: 0 after a clean shutdown, 1 if it cannot start, 2 on a usage error.\n";

static const char server_help_help[] = "Usage: vertex-server help [VERB]\n"
				       "\n"
				       "Prints the general help, or the help of VERB.\n";

int
server_usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vertex-server %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'vertex-server %s --help')\n", verb);
	return 2;
}

int
server_getopt(const char *verb, int argc, char **argv, const char *shortopts,
	      const struct option *opts)
{
	char optstring[16];
	int c;

	snprintf(optstring, sizeof(optstring), ":%s", shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, optstring, opts, NULL);
	if (c == '?') {
		server_usage_error(verb, "unknown option '%s'", argv[optind - 1]);
		return '?';
	}
	if (c == ':') {
		server_usage_error(verb, "option '%s' needs a value", argv[optind - 1]);
		return '?';
	}
	return c;
}

int
server_path(const struct server_opts *o, const char *name, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", o->dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int
server_parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || *s == '-' || v == 0 || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* "90s", "15m", "12h", "7d" (a bare number is seconds); 10 s to 10 years. */
static int
server_parse_duration(const char *s, unsigned *out)
{
	static const struct {
		char unit;
		unsigned seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *s == '-' || v == 0)
		return -EINVAL;
	for (size_t i = 0; *end && i < sizeof(units) / sizeof(units[0]); i++) {
		if (end[0] == units[i].unit && !end[1]) {
			if (v > 3650ul * 86400 / units[i].seconds)
				return -EINVAL;
			v *= units[i].seconds;
			end++;
		}
	}
	if (*end || v < 10 || v > 3650ul * 86400)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int
server_cmd_init(struct server_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'm' },
		{ "days", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *domain = NULL;
	unsigned days = 3650;
	int c;

	optind = 1;
	while ((c = server_getopt("init", argc, argv, "", opts)) != -1) {
		if (c == 'm')
			domain = optarg;
		else if (c == 'n' && server_parse_uint(optarg, 36500, &days))
			return server_usage_error("init",
						  "--days wants a number of days from 1 to "
						  "36500, not '%s'",
						  optarg);
		else if (c == '?')
			return 2;
	}
	if (optind != argc)
		return server_usage_error("init", "unexpected argument '%s'", argv[optind]);
	if (!domain)
		return server_usage_error("init", "needs --domain DOMAIN");
	return admin_init(o->dir, domain, days) ? 1 : 0;
}

/* --alt-address ADDR: a bare IPv4 or IPv6 address, one of each family. 0, or 2 (said why). */
static int
server_parse_alt(const char *arg, struct server_opts *o)
{
	struct sockaddr_storage *alt;
	struct in6_addr a6;
	struct in_addr a4;

	if ((inet_pton(AF_INET, arg, &a4) == 1 && a4.s_addr == htonl(INADDR_ANY)) ||
	    (inet_pton(AF_INET6, arg, &a6) == 1 && IN6_IS_ADDR_UNSPECIFIED(&a6)))
		return server_usage_error("run", "--alt-address wants one address, not '%s'", arg);
	if (inet_pton(AF_INET, arg, &a4) == 1) {
		alt = &o->alt[0];
		if (alt->ss_family)
			return server_usage_error("run", "one IPv4 --alt-address at most");
		*(struct sockaddr_in *)alt =
		    (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr = a4 };
	} else if (inet_pton(AF_INET6, arg, &a6) == 1 && !IN6_IS_ADDR_V4MAPPED(&a6)) {
		alt = &o->alt[1];
		if (alt->ss_family)
			return server_usage_error("run", "one IPv6 --alt-address at most");
		*(struct sockaddr_in6 *)alt =
		    (struct sockaddr_in6){ .sin6_family = AF_INET6, .sin6_addr = a6 };
	} else {
		return server_usage_error(
		    "run", "--alt-address wants an IPv4 or IPv6 address, not '%s'", arg);
	}
	return 0;
}

static int
server_cmd_run(struct server_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "cert-validity", required_argument, NULL, 'c' },
		{ "debug", required_argument, NULL, 'd' },
		{ "also", required_argument, NULL, 'a' },
		{ "private", no_argument, NULL, 'P' },
		{ "relay-rate", required_argument, NULL, 'r' },
		{ "alt-address", required_argument, NULL, 'A' },
		{ "peering-idle", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	static struct server srv;
	unsigned v;
	int c;

	optind = 1;
	while ((c = server_getopt("run", argc, argv, "d:", opts)) != -1) {
		switch (c) {
		case 'p':
			if (server_parse_uint(optarg, 65535, &v))
				return server_usage_error(
				    "run", "--port wants 1 to 65535, not '%s'", optarg);
			o->port = (uint16_t)v;
			break;
		case 'c':
			if (server_parse_duration(optarg, &o->cert_seconds))
				return server_usage_error("run",
							  "--cert-validity wants a duration "
							  "from 10s to 3650d, such as 90s, 12h "
							  "or 7d, not '%s'",
							  optarg);
			break;
		case 'd':
			if (log_set_debug(optarg))
				return server_usage_error(
				    "run", "unknown debug category in '%s' (ctl or all)", optarg);
			break;
		case 'a':
			if (o->nalso == SERVER_MAX_HOSTED)
				return server_usage_error("run", "at most %d --also directories",
							  SERVER_MAX_HOSTED);
			o->also[o->nalso++] = optarg;
			break;
		case 'P':
			o->private_mode = true;
			break;
		case 'r':
			if (server_parse_uint(optarg, 4000000000u, &v) || v < 1024)
				return server_usage_error("run",
							  "--relay-rate wants bytes per second "
							  "from 1024 to 4000000000, not '%s'",
							  optarg);
			o->relay_rate = v;
			break;
		case 'A':
			if (server_parse_alt(optarg, o))
				return 2;
			break;
		case 'i':
			if (server_parse_duration(optarg, &v) || v > 86400)
				return server_usage_error("run",
							  "--peering-idle wants a duration "
							  "from 10s to 1d, such as 90s or 10m, "
							  "not '%s'",
							  optarg);
			o->peering_idle_s = v;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc)
		return server_usage_error("run", "unexpected argument '%s'", argv[optind]);
	srv.opts = *o;
	return serve_run(&srv) ? 1 : 0;
}

static int server_cmd_help(struct server_opts *o, int argc, char **argv);

/* A verb: argv[0] is its name; it returns the exit status. */
struct server_verb {
	const char *name;
	int (*fn)(struct server_opts *o, int argc, char **argv);
	const char *help;
};

static const struct server_verb server_verbs[] = {
	{ "init", server_cmd_init, server_init_help },
	{ "run", server_cmd_run, server_run_help },
	{ "user", admin_cmd_user, admin_user_help },
	{ "invite", admin_cmd_invite, admin_invite_help },
	{ "revoke", admin_cmd_revoke, admin_revoke_help },
	{ "trust", admin_cmd_trust, admin_trust_help },
	{ "help", server_cmd_help, server_help_help },
};

static const struct server_verb *
server_verb_find(const char *name)
{
	for (size_t i = 0; i < sizeof(server_verbs) / sizeof(server_verbs[0]); i++)
		if (!strcmp(server_verbs[i].name, name))
			return &server_verbs[i];
	return NULL;
}

static int
server_cmd_help(struct server_opts *o, int argc, char **argv)
{
	const struct server_verb *v;

	(void)o;
	if (argc == 1) {
		fputs(server_usage, stdout);
		return 0;
	}
	if (argc > 2)
		return server_usage_error("help", "takes one verb at most");
	if (!(v = server_verb_find(argv[1])))
		return server_usage_error("help", "no verb '%s'", argv[1]);
	fputs(v->help, stdout);
	return 0;
}

/* -h or --help among a verb's arguments asks for its help, whatever else is there. */
static bool
server_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

int
main(int argc, char **argv)
{
	struct server_opts o = { .port = 4801, .cert_seconds = SERVER_DEFAULT_CERT_SEC };
	const char *dir = "/var/lib/vertex-server";
	const struct server_verb *verb;
	int i = 1;

	log_init(argv[0]);
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(server_usage, stdout);
			return 0;
		}
		if ((!strcmp(argv[i], "-D") || !strcmp(argv[i], "--dir")) && i + 1 < argc) {
			dir = argv[i + 1];
			i += 2;
			continue;
		}
		fprintf(stderr, "vertex-server: unknown option '%s' (see 'vertex-server --help')\n",
			argv[i]);
		return 2;
	}
	if (!*dir || strlen(dir) >= sizeof(o.dir) - 32) {
		fprintf(stderr, "vertex-server: the state directory's name is empty or too long\n");
		return 2;
	}
	strcpy(o.dir, dir);
	if (i == argc) {
		fputs(server_usage, stderr);
		return 2;
	}
	if (!(verb = server_verb_find(argv[i]))) {
		fprintf(stderr, "vertex-server: unknown verb '%s' (see 'vertex-server --help')\n",
			argv[i]);
		return 2;
	}
	if (server_wants_help(argc - i, argv + i)) {
		fputs(verb->help, stdout);
		return 0;
	}
	return verb->fn(&o, argc - i, argv + i);
}
