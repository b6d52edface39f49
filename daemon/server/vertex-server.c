// SPDX-License-Identifier: MIT
/*
 * vertex-server: the command line. `run` starts the daemon; the other verbs administer the state
 * directory directly (SQLite lets them work while the daemon runs; the daemon notices
 * revocations within SERVER_REVOCATION_POLL_MS).
 */
#include <errno.h>
#include <getopt.h>
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
    "Verbs:\n"
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
    "\n"
    "Options:\n"
    "  -D, --dir DIR   state directory (default /var/lib/vertex-server); administrative\n"
    "                  verbs work on one domain's directory at a time\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n";

int
server_path(const struct server_opts *o, const char *name, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", o->dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int
server_parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v == 0 || v > max)
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
	if (errno || end == s || v == 0)
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
server_cmd_init(const struct server_opts *o, int argc, char **argv)
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
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'm')
			domain = optarg;
		else if (c == 'n' && !server_parse_uint(optarg, 36500, &days))
			continue;
		else
			return 2;
	}
	if (!domain || optind != argc) {
		fputs("vertex-server: init needs --domain DOMAIN\n", stderr);
		return 2;
	}
	return admin_init(o->dir, domain, days) ? 1 : 0;
}

static int
server_cmd_run(struct server_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "cert-validity", required_argument, NULL, 'c' },
		{ "debug", required_argument, NULL, 'd' },
		{ "also", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	static struct server srv;
	unsigned v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (server_parse_uint(optarg, 65535, &v))
				goto usage;
			o->port = (uint16_t)v;
			break;
		case 'c':
			if (server_parse_duration(optarg, &o->cert_seconds))
				goto usage;
			break;
		case 'd':
			if (log_set_debug(optarg))
				goto usage;
			break;
		case 'a':
			if (o->nalso == SERVER_MAX_HOSTED) {
				fprintf(stderr, "vertex-server: at most %d --also directories\n",
					SERVER_MAX_HOSTED);
				return 2;
			}
			o->also[o->nalso++] = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	srv.opts = *o;
	return serve_run(&srv) ? 1 : 0;
usage:
	fputs(server_usage, stderr);
	return 2;
}

int
main(int argc, char **argv)
{
	struct server_opts o = { .port = 4801, .cert_seconds = SERVER_DEFAULT_CERT_SEC };
	const char *dir = "/var/lib/vertex-server";
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
		fprintf(stderr, "vertex-server: unknown option '%s'\n\n%s", argv[i], server_usage);
		return 2;
	}
	if (strlen(dir) >= sizeof(o.dir)) {
		fprintf(stderr, "vertex-server: directory name too long\n");
		return 2;
	}
	strcpy(o.dir, dir);
	if (i == argc) {
		fputs(server_usage, stderr);
		return 2;
	}
	if (!strcmp(argv[i], "init"))
		return server_cmd_init(&o, argc - i, argv + i);
	if (!strcmp(argv[i], "run"))
		return server_cmd_run(&o, argc - i, argv + i);
	return admin_main(&o, argc - i, argv + i);
}
