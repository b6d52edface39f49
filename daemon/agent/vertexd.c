// SPDX-License-Identifier: MIT
/*
 * vertexd: the agent's main: options, the configuration, then agent_start (start.c), the event
 * loop until SIGTERM or SIGINT, and agent_stop.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "core/ev.h"
#include "core/log.h"
#include "peer/peer.h"

static const char vertexd_usage[] =
    "Usage: vertexd [-c FILE] [-d CATEGORIES] [-n] [-u]\n"
    "\n"
    "Runs the Vertex agent in the foreground: creates the overlay interface, connects to the\n"
    "peers in the configuration and carries their traffic, end-to-end encrypted. Logs go to\n"
    "standard error. SIGTERM or SIGINT shut it down cleanly, removing the interface.\n"
    "\n"
    "In userspace mode (-u, or `userspace on` in the configuration) there is no interface: a\n"
    "TCP/IP stack inside vertexd (lwIP) stands in for the kernel's, no privilege is needed,\n"
    "and programs reach peers through the SOCKS5 server (`socks`), port forwards (`forward`,\n"
    "`vertex forward`) and the application socket (`vertex nc`); see docs/userspace.md.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE       configuration file (default /etc/vertex/vertexd.conf)\n"
    "  -d, --debug CATEGORIES  debug logging, comma separated: peer, path, handshake, ctl,\n"
    "                          netlink, data, config, or all\n"
    "  -n, --check             check the configuration, print its normalised form, and exit\n"
    "  -u, --userspace         userspace mode, whatever the configuration says\n"
    "  -h, --help              show this help\n"
    "\n"
    "Exit status: 0 after a clean shutdown or a valid -n check, 1 on a start-up failure,\n"
    "2 on a usage error. The configuration format is described in docs/config.md.\n";

static int
vertexd_load_config(struct agent *a, const char *path, bool check_only, bool userspace)
{
	char err[512];

	if (config_parse_file(path, &a->cfg, err, sizeof(err)) ||
	    config_validate(&a->cfg, err, sizeof(err))) {
		fprintf(stderr, "vertexd: %s\n", err);
		return -EINVAL;
	}
	if (userspace)
		a->cfg.userspace = true;
	if (check_only)
		config_print(&a->cfg, stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "debug", required_argument, NULL, 'd' },
		{ "check", no_argument, NULL, 'n' },
		{ "userspace", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = "/etc/vertex/vertexd.conf";
	static struct agent agent;
	bool check_only = false, userspace = false;
	int c, err;

	log_init(argv[0]);
	while ((c = getopt_long(argc, argv, "c:d:nuh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'd':
			if (log_set_debug(optarg)) {
				fprintf(stderr, "vertexd: unknown debug category in '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			check_only = true;
			break;
		case 'u':
			userspace = true;
			break;
		case 'h':
			fputs(vertexd_usage, stdout);
			return 0;
		default:
			fputs(vertexd_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vertexd: unexpected argument '%s'\n%s", argv[optind],
			vertexd_usage);
		return 2;
	}
	if (vertexd_load_config(&agent, config_path, check_only, userspace))
		return 1;
	if (check_only) {
		config_free(&agent.cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	err = agent_start(&agent);
	if (err) {
		log_warnx("start-up failed: %s", strerror(-err));
		agent_stop(&agent);
		return 1;
	}
	if (agent.cfg.userspace)
		log_info("%s up in userspace mode (mtu %u), port %u, %zu peer(s)",
			 agent.cfg.identity, agent.mtu, agent.cfg.port, peer_count(agent.peers));
	else
		log_info("%s up on %s (mtu %u), port %u, %zu peer(s)", agent.cfg.identity,
			 agent.cfg.interface, agent.mtu, agent.cfg.port, peer_count(agent.peers));
	err = ev_run(agent.loop);
	if (err)
		log_warnx("event loop failed: %s", strerror(-err));
	agent_stop(&agent);
	if (agent.cfg.userspace)
		log_info("stopped");
	else
		log_info("stopped; interface %s and its routes removed", agent.cfg.interface);
	return err ? 1 : 0;
}
