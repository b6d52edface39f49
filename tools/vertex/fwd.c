// SPDX-License-Identifier: MIT
/* vertex forward: add, remove or list the agent's port forwards (daemon/agent/ctl_proxy.h). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctlclient.h"
#include "fwd.h"

static const char fwd_help[] =
    "Usage: vertex [-s SOCKET] forward LISTEN USER@DOMAIN/PURPOSE\n"
    "       vertex [-s SOCKET] forward --remove LISTEN\n"
    "       vertex [-s SOCKET] forward --list\n"
    "\n"
    "A port forward: the agent listens on LISTEN, a loopback address and port\n"
    "(127.0.0.1:2222, [::1]:2222), and connects each client to the purpose USER@DOMAIN\n"
    "approved for us, over the overlay, in TUN and userspace mode alike:\n"
    "\n"
    "    vertex forward 127.0.0.1:2222 bob@b.example.com/ssh\n"
    "    ssh -p 2222 localhost\n"
    "\n"
    "The port at the other end is the one the approval names (vertex resolve). A client\n"
    "is closed at once when the purpose is not approved (the agent's log says why).\n"
    "Only loopback addresses may be listened on: whoever reaches a forward uses our\n"
    "approvals. A forward lasts until the agent stops; for one that lasts, put a\n"
    "`forward LISTEN USER@DOMAIN/PURPOSE` line in the agent's configuration.\n"
    "\n"
    "  -r, --remove LISTEN  stop forwarding LISTEN (clients already connected go on)\n"
    "  -l, --list           show every forward, configured or added\n";

int
cmd_forward(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "remove", required_argument, NULL, 'r' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *remove = NULL;
	bool list = false;
	struct ctlclient_facts f;
	char req[1024];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "r:lh", opts, NULL)) != -1) {
		if (c == 'r') {
			remove = optarg;
		} else if (c == 'l') {
			list = true;
		} else if (c == 'h') {
			fputs(fwd_help, stdout);
			return 0;
		} else {
			fputs(fwd_help, stderr);
			return 2;
		}
	}
	if ((list || remove) ? optind != argc || (list && remove) : argc - optind != 2) {
		fputs(fwd_help, stderr);
		return 2;
	}
	if (list) {
		snprintf(req, sizeof(req), "forwards");
	} else if (remove) {
		if (strchr(remove, ' ') || strlen(remove) > 100) {
			fprintf(stderr, "vertex: forward: '%s' is not an address and port\n",
				remove);
			return 2;
		}
		snprintf(req, sizeof(req), "unforward %s", remove);
	} else {
		if (strchr(argv[optind], ' ') || strchr(argv[optind + 1], ' ') ||
		    strlen(argv[optind]) > 100 || strlen(argv[optind + 1]) > 400) {
			fprintf(stderr, "vertex: forward: arguments with spaces or too long\n");
			return 2;
		}
		snprintf(req, sizeof(req), "forward %s %s", argv[optind], argv[optind + 1]);
	}
	if (ctlclient_ask(req, &f))
		return 1;
	for (size_t i = 0; i < f.n; i++)
		printf("%s %s\n", f.v[i].key, f.v[i].value);
	if (list && !f.n)
		printf("no forwards\n");
	ctlclient_facts_free(&f);
	return 0;
}
