// SPDX-License-Identifier: MIT
/*
 * idle_agents ADDR:PORT DOMAIN CA KEY CERT COUNT [SRC-ADDR NSRC] [STEP...]
 *
 * Holds COUNT control connections to vertex-server open as enrolled agents, for the server
 * benchmark (tests/bench/bench_server.sh); a load tool, it asserts nothing.
 *
 * Every connection presents the same client certificate (CERT, KEY: one enrolled agent; the
 * server does not forbid it) and verifies server@DOMAIN against CA, sends HELLO, and counts as
 * up once the server's HELLO came back. Then it stays idle but for a CTL_PING every
 * IDLE_PING_MS (phase spread over the interval), as an agent's keepalive. At most
 * IDLE_HANDSHAKES_IN_FLIGHT handshakes run at once, to stay under the server's listen backlog.
 * Connections go out from NSRC consecutive IPv4 source addresses from SRC-ADDR, round robin,
 * so the ephemeral ports of one address are not the limit.
 *
 * Steps: when the number of connections up reaches each STEP (and COUNT, the last one), it
 * prints "up N in S s" and waits for SIGUSR1 before opening more, so the caller can read the
 * server's memory at that point. After the last it runs until SIGTERM or SIGINT and then
 * prints "held N closed C pings P pongs Q". RLIMIT_NOFILE is raised to what COUNT needs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/config.h"
#include "core/sockaddr.h"
#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"

enum {
	IDLE_PING_MS = 30000,
	IDLE_HANDSHAKES_IN_FLIGHT = 64,
	IDLE_MAX_STEPS = 16,
	IDLE_FD_SPARE = 64,
};

struct idle {
	struct ev_loop *loop;
	struct tls_ctx *tls;
	struct sockaddr_storage to;
	struct in_addr src;
	unsigned nsrc;
	char hello_name[IDENTITY_STR_MAX], server_name[IDENTITY_STR_MAX + 8];
	unsigned count, opened, up, handshaking, closed;
	unsigned steps[IDLE_MAX_STEPS], nsteps, step;
	bool paused;
	uint64_t t0, pings, pongs;
};

struct agent {
	struct idle *idle;
	struct stream *s;
	struct ev_timer ping;
	bool up;
};

static void idle_open_more(struct idle *d);

static void
agent_on_ping(struct ev_timer *t)
{
	struct agent *a = container_of(t, struct agent, ping);
	struct ctlmsg m = { .type = CTL_PING, .u.ping.nonce = a->idle->pings };

	if (stream_send_msg(a->s, &m))
		a->idle->pings++;
	ev_timer_start(a->idle->loop, &a->ping, IDLE_PING_MS, agent_on_ping);
}

static void
agent_on_established(struct stream *s)
{
	struct agent *a = stream_arg(s);
	struct ctlmsg hello = { .type = CTL_HELLO };

	hello.u.hello.version = CTL_VERSION;
	hello.u.hello.role = CTL_ROLE_AGENT;
	snprintf(hello.u.hello.name, sizeof(hello.u.hello.name), "%.*s",
		 (int)sizeof(hello.u.hello.name) - 1, a->idle->hello_name);
	stream_send_msg(s, &hello);
	stream_set_deadline(s, 0);
}

/* The reached step: report it and wait for SIGUSR1 (idle_on_signal) before going on. */
static void
idle_on_up(struct idle *d)
{
	if (d->step < d->nsteps && d->up == d->steps[d->step]) {
		printf("up %u in %.3f s\n", d->up, (double)(ev_clock_ms() - d->t0) / 1000.0);
		fflush(stdout);
		d->step++;
		d->paused = true;
	}
}

static bool
agent_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct agent *a = stream_arg(s);
	struct idle *d = a->idle;

	(void)body;
	(void)len;
	if (type == CTL_PONG) {
		d->pongs++;
	} else if (type == CTL_HELLO && !a->up) {
		a->up = true;
		d->up++;
		d->handshaking--;
		/* Phase spread: 10,000 agents do not all ping in the same turn. */
		ev_timer_start(d->loop, &a->ping, 1000 + (uint64_t)rand() % IDLE_PING_MS,
			       agent_on_ping);
		idle_on_up(d);
		idle_open_more(d);
	}
	return true;
}

static void
agent_on_closed(struct stream *s, const char *why)
{
	struct agent *a = stream_arg(s);
	struct idle *d = a->idle;

	if (++d->closed <= 5)
		fprintf(stderr, "idle_agents: a connection closed: %s\n", why);
	ev_timer_stop(d->loop, &a->ping);
	if (a->up)
		d->up--;
	else
		d->handshaking--;
	free(a);
	idle_open_more(d);
}

static const struct stream_ops agent_ops = { agent_on_established, agent_on_record,
					     agent_on_closed };

static int
idle_dial(struct idle *d, unsigned i)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (d->nsrc) {
		src.sin_addr.s_addr = htonl(ntohl(d->src.s_addr) + i % d->nsrc);
		/* Port chosen at connect() time, unique for the whole 4-tuple (and not one a
		 * TIME_WAIT of the server still holds): bind() alone picks ports per address. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			goto err;
	}
	if (connect(fd, (struct sockaddr *)&d->to, sizeof(struct sockaddr_in)) < 0 &&
	    errno != EINPROGRESS)
		goto err;
	return fd;
err:
	err = -errno;
	close(fd);
	return err;
}

/* Opens connections up to the next step, IDLE_HANDSHAKES_IN_FLIGHT at a time. */
static void
idle_open_more(struct idle *d)
{
	unsigned target = d->step < d->nsteps ? d->steps[d->step] : d->count;

	while (!d->paused && d->up + d->handshaking < target &&
	       d->handshaking < IDLE_HANDSHAKES_IN_FLIGHT) {
		struct agent *a = calloc(1, sizeof(*a));
		int fd = a ? idle_dial(d, d->opened) : -ENOMEM;

		if (fd < 0) {
			fprintf(stderr, "idle_agents: connection %u: %s\n", d->opened,
				strerror(-fd));
			free(a);
			ev_loop_break(d->loop);
			return;
		}
		a->idle = d;
		d->opened++;
		d->handshaking++;
		if (stream_new(&a->s, d->loop, d->tls, fd, true, d->server_name, &d->to, &agent_ops,
			       a)) {
			d->handshaking--;
			free(a);
			ev_loop_break(d->loop);
			return;
		}
	}
}

static void
idle_on_signal(int signo, void *arg)
{
	struct idle *d = arg;

	if (signo == SIGUSR1) {
		d->paused = false;
		idle_open_more(d);
		return;
	}
	ev_loop_break(d->loop);
}

static int
idle_raise_nofile(unsigned count)
{
	struct rlimit rl = { .rlim_cur = count + IDLE_FD_SPARE, .rlim_max = count + IDLE_FD_SPARE };
	struct rlimit cur;

	if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_cur >= rl.rlim_cur)
		return 0;
	if (cur.rlim_max > rl.rlim_max)
		rl.rlim_max = cur.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}

static int
idle_setup(struct idle *d, char **argv)
{
	struct cert_trust *trust;

	if (cert_trust_new(&trust) || cert_trust_add(trust, argv[2], argv[3]) ||
	    tls_ctx_new(&d->tls, argv[4], argv[5], trust)) {
		fprintf(stderr, "idle_agents: %s\n", cert_strerror());
		return -EINVAL;
	}
	/* trust must outlive the ctx: it does, until exit. */
	if (ev_loop_new(&d->loop) || ev_signal_add(d->loop, SIGUSR1, idle_on_signal, d) ||
	    ev_signal_add(d->loop, SIGTERM, idle_on_signal, d) ||
	    ev_signal_add(d->loop, SIGINT, idle_on_signal, d))
		return -ENOMEM;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct idle d;
	struct cert_info ci;
	int i = 7, err;

	if (argc < 7 || sockaddr_parse(argv[1], &d.to) || d.to.ss_family != AF_INET ||
	    (d.count = (unsigned)atoi(argv[6])) < 1) {
		fprintf(stderr, "usage: idle_agents ADDR:PORT DOMAIN CA KEY CERT COUNT "
				"[SRC-ADDR NSRC] [STEP...]\n");
		return 2;
	}
	if (argc >= 9 && inet_pton(AF_INET, argv[7], &d.src) == 1) {
		d.nsrc = (unsigned)atoi(argv[8]);
		i = 9;
	}
	for (; i < argc && d.nsteps < IDLE_MAX_STEPS - 1; i++)
		if ((unsigned)atoi(argv[i]) > 0 && (unsigned)atoi(argv[i]) < d.count)
			d.steps[d.nsteps++] = (unsigned)atoi(argv[i]);
	d.steps[d.nsteps++] = d.count;
	log_init("idle_agents");
	log_set_quiet(true);
	if ((err = idle_raise_nofile(d.count))) {
		fprintf(stderr, "idle_agents: RLIMIT_NOFILE: %s\n", strerror(-err));
		return 1;
	}
	if (cert_info_from_file(argv[5], &ci)) {
		fprintf(stderr, "idle_agents: %s: %s\n", argv[5], cert_strerror());
		return 2;
	}
	snprintf(d.hello_name, sizeof(d.hello_name), "%s", ci.subject);
	snprintf(d.server_name, sizeof(d.server_name), "server@%s", argv[2]);
	if (idle_setup(&d, argv))
		return 1;
	d.t0 = ev_clock_ms();
	idle_open_more(&d);
	ev_run(d.loop);
	printf("held %u closed %u pings %llu pongs %llu\n", d.up, d.closed,
	       (unsigned long long)d.pings, (unsigned long long)d.pongs);
	return 0;
}
