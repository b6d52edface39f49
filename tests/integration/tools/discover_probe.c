// SPDX-License-Identifier: MIT
/*
 * discover_probe [--async] DOMAIN: runs discover_server() for DOMAIN, as an agent would to find
 * its domain's vertex-server, and prints one line per result in the order to try them:
 *
 *     HOST ADDR PORT PRIORITY WEIGHT        e.g. "vx.a.example.com 198.18.0.10 4801 0 0"
 *
 * On failure it prints the reason to standard error and exits 1 (2 for a usage error). The
 * discovery scenario runs it inside an agent's namespace, whose resolv.conf names the lab's DNS.
 *
 * --async looks up the way the daemons do (resolve.h: on a thread, the result back on the event
 * loop) while a PROBE_TICK_MS timer ticks on the loop, and then also prints to standard error
 *
 *     loop: TICKS ticks in MS ms
 *
 * so the scenario can check that the loop kept running during a slow lookup.
 *
 * --fetch-ca fetches the domain's CA from its server the way the daemons do (control/cafetch.h:
 * a ctlquery, which tries the next address when one refuses) and prints "ca FINGERPRINT", or the
 * reason to standard error and exit 1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "control/cafetch.h"
#include "control/discover.h"
#include "control/resolve.h"
#include "core/ev.h"
#include "crypto/cert.h"

enum { PROBE_TICK_MS = 20 };

static int
discover_probe_print(const struct discover_result *r)
{
	char addr[INET6_ADDRSTRLEN];
	const void *a;

	if (r->addr.ss_family == AF_INET)
		a = &((const struct sockaddr_in *)&r->addr)->sin_addr;
	else if (r->addr.ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)&r->addr)->sin6_addr;
	else
		return -1;
	if (!inet_ntop(r->addr.ss_family, a, addr, sizeof(addr)))
		return -1;
	printf("%s %s %u %u %u\n", r->host, addr, r->port, r->priority, r->weight);
	return 0;
}

static int
discover_probe_report(const struct discover_result *res, int n, const char *why)
{
	if (n < 0) {
		fprintf(stderr, "discover_probe: %s\n", why);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		if (discover_probe_print(&res[i]) != 0) {
			fprintf(stderr, "discover_probe: result %d has no printable address\n", i);
			return 1;
		}
	}
	return 0;
}

struct probe_async {
	struct ev_loop *loop;
	struct ev_timer tick;
	unsigned ticks;
	int rc;
	bool done;
};

static void
probe_on_tick(struct ev_timer *t)
{
	struct probe_async *p = container_of(t, struct probe_async, tick);

	p->ticks++;
	ev_timer_start(p->loop, t, PROBE_TICK_MS, probe_on_tick);
}

static void
probe_on_resolved(void *arg, const struct discover_result *res, int n, const char *why)
{
	struct probe_async *p = arg;

	p->rc = discover_probe_report(res, n, why);
	ev_loop_break(p->loop);
}

static int
discover_probe_async(const char *domain)
{
	struct probe_async p = { .rc = 1 };
	uint64_t start;
	int err;

	if (ev_loop_new(&p.loop))
		return 1;
	start = ev_now_ms(p.loop);
	ev_timer_start(p.loop, &p.tick, PROBE_TICK_MS, probe_on_tick);
	err = resolve_start(NULL, p.loop, domain, probe_on_resolved, &p);
	if (err) {
		fprintf(stderr, "discover_probe: cannot start the lookup: %s\n", strerror(-err));
	} else {
		ev_run(p.loop);
		fprintf(stderr, "loop: %u ticks in %llu ms\n", p.ticks,
			(unsigned long long)(ev_now_ms(p.loop) - start));
	}
	ev_timer_stop(p.loop, &p.tick);
	ev_loop_free(p.loop);
	return err ? 1 : p.rc;
}

static void
probe_on_fetched(void *arg, const struct cafetch_result *r)
{
	struct probe_async *p = arg;
	struct cert_info ci;
	char fpr[128];

	if (!r->ca) {
		fprintf(stderr, "discover_probe: %s\n", r->error);
	} else if (cert_info_from_der(r->ca, r->ca_len, &ci)) {
		fprintf(stderr, "discover_probe: the CA does not parse\n");
	} else {
		cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
		printf("ca %s\n", fpr);
		p->rc = 0;
	}
	p->done = true;
	ev_loop_break(p->loop);
}

static int
discover_probe_fetch(const char *domain)
{
	struct probe_async p = { .rc = 1 };

	if (ev_loop_new(&p.loop))
		return 1;
	if (cafetch_start(NULL, p.loop, domain, "discover_probe", NULL, NULL, probe_on_fetched,
			  &p)) {
		fprintf(stderr, "discover_probe: cannot start the fetch\n");
		return 1;
	}
	if (!p.done) /* not finished at once */
		ev_run(p.loop);
	ev_loop_free(p.loop);
	return p.rc;
}

int
main(int argc, char **argv)
{
	struct discover_result res[DISCOVER_MAX];
	char why[512];

	if (argc == 3 && !strcmp(argv[1], "--async"))
		return discover_probe_async(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--fetch-ca"))
		return discover_probe_fetch(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: discover_probe [--async|--fetch-ca] DOMAIN\n");
		return 2;
	}
	return discover_probe_report(
	    res, discover_server(argv[1], res, DISCOVER_MAX, why, sizeof(why)), why);
}
