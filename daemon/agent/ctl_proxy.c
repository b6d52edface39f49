// SPDX-License-Identifier: MIT
/* The port-forward verbs (ctl_proxy.h): parsed here, carried out by wiring_proxy.c. */
#include <errno.h>
#include <stdio.h>

#include "agent/agent.h"
#include "agent/ctl_proxy.h"
#include "agent/wiring.h"
#include "core/log.h"
#include "forward/forward.h"

void
ctl_proxy_forward(struct agent *a, char **arg, FILE *f)
{
	struct forward fw;
	const char *why;
	char msg[256];

	if (forward_parse(arg[0], arg[1], &fw, &why)) {
		fprintf(f, "error %s %s: %s\n", arg[0], arg[1], why);
		return;
	}
	if (wiring_proxy_forward_add(a, &fw, msg, sizeof(msg))) {
		fprintf(f, "error %s\n", msg);
		return;
	}
	log_info("forward: %s -> %s (vertex forward)", arg[0], arg[1]);
	fprintf(f, "forward ");
	forward_print(&fw, f);
	fputc('\n', f);
}

void
ctl_proxy_unforward(struct agent *a, char **arg, FILE *f)
{
	struct sockaddr_storage listen;
	const char *why;

	if (forward_parse_listen(arg[0], &listen, &why)) {
		fprintf(f, "error %s: %s\n", arg[0], why);
		return;
	}
	if (wiring_proxy_forward_remove(a, &listen)) {
		fprintf(f, "error no forward listens on %s\n", arg[0]);
		return;
	}
	log_info("forward: %s removed (vertex forward --remove)", arg[0]);
	fprintf(f, "removed %s\n", arg[0]);
}

void
ctl_proxy_forwards(struct agent *a, char **arg, FILE *f)
{
	(void)arg;
	wiring_proxy_forwards(a, f);
}
