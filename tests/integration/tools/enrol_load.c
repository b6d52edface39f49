// SPDX-License-Identifier: MIT
/*
 * enrol_load ADDR:PORT DOMAIN INVITES KEYDIR CONCURRENCY [SRC-ADDR NSRC]
 * enrol_load ADDR:PORT DOMAIN --ca COUNT [SRC-ADDR NSRC]
 *
 * A load generator for vertex-server (tests/bench/bench_server.sh), not a test: it prints
 * figures and asserts nothing.
 *
 * Enrolment mode: INVITES holds "USER CODE" lines. Before the clock starts, it makes one fresh
 * Ed25519 key per user (KEYDIR/USER.key) and its CSR, so the client's key generation is not in
 * the figures. Then it keeps CONCURRENCY connections in flight, each doing TCP + TLS (no client
 * certificate, server not verified, as enrol_probe) + HELLO + ENROL for one user, until every
 * user had one attempt. Each connection is bound to the next of NSRC consecutive IPv4 source
 * addresses from SRC-ADDR (the server rate-limits per source address). It prints one line:
 *
 *   enrol N ok O rate R denied D other X closed C wall S s rate E/s latency ms p50 p90 p99 max
 *
 * --ca mode: COUNT sequential first contacts (TCP + TLS + HELLO + CA_REQ until the CA comes
 * back), one connection each, printed the same way with "ca" first. That is what `vertex
 * register` does before it enrols.
 *
 * Latency is from connect() to the answer (CERT, CA or ERROR). "to the last answer" is the time
 * until the last certificate or CA, which leaves out connections that never got an answer and
 * waited for a deadline (10 s to establish, 30 s for the answer): one stalled connection would
 * otherwise set the wall time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/config.h"
#include "core/sockaddr.h"
#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/csr.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"

enum { LOAD_USERS_MAX = 100000 };

struct job {
	char user[64];
	char code[64];
	uint8_t *csr;
	size_t csr_len;
};

struct load {
	struct ev_loop *loop;
	struct tls_ctx *tls;
	struct sockaddr_storage to;
	struct in_addr src;
	unsigned nsrc;
	const char *domain;
	bool ca_mode;
	struct job *jobs;
	unsigned njobs, next, done, in_flight, conc;
	unsigned ok, rate, denied, other, closed;
	double *lat_ms;
	uint64_t t0, t_last_ok; /* the clock at the start and at the last certificate */
};

struct attempt {
	struct load *l;
	struct job *job;
	uint64_t t0;
	bool answered;
};

static void load_start_next(struct load *l);

static void
attempt_on_established(struct stream *s)
{
	struct attempt *a = stream_arg(s);
	struct ctlmsg hello = { .type = CTL_HELLO }, m = { 0 };

	hello.u.hello.version = CTL_VERSION;
	hello.u.hello.role = CTL_ROLE_AGENT;
	if (a->l->ca_mode) {
		snprintf(hello.u.hello.name, sizeof(hello.u.hello.name), "%s", a->l->domain);
		m.type = CTL_CA_REQ;
		snprintf(m.u.req.domain, sizeof(m.u.req.domain), "%s", a->l->domain);
	} else {
		snprintf(hello.u.hello.name, sizeof(hello.u.hello.name), "%s@%s", a->job->user,
			 a->l->domain);
		m.type = CTL_ENROL;
		snprintf(m.u.enrol.identity, sizeof(m.u.enrol.identity), "%s", hello.u.hello.name);
		m.u.enrol.method = CTL_ENROL_INVITE;
		snprintf(m.u.enrol.secret, sizeof(m.u.enrol.secret), "%s", a->job->code);
		m.u.enrol.csr = a->job->csr;
		m.u.enrol.csr_len = a->job->csr_len;
	}
	stream_send_msg(s, &hello);
	stream_send_msg(s, &m);
	stream_set_deadline(s, 30000);
}

/* Counts one answer; the server's own HELLO and anything else are skipped. */
static bool
attempt_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct attempt *a = stream_arg(s);
	struct load *l = a->l;
	struct ctlmsg m;

	if (type != CTL_CERT && type != CTL_CA && type != CTL_ERROR)
		return true;
	if (type == CTL_ERROR && ctlmsg_decode(type, body, len, &m))
		m.u.error.code == CTL_ERR_RATE     ? l->rate++
		: m.u.error.code == CTL_ERR_DENIED ? l->denied++
						   : l->other++;
	else if (type == CTL_ERROR)
		l->other++;
	else
		l->ok++, l->t_last_ok = ev_clock_ms();
	l->lat_ms[l->done] = (double)(ev_clock_ms() - a->t0);
	a->answered = true;
	stream_close(s, "answered");
	return false;
}

static void
attempt_on_closed(struct stream *s, const char *why)
{
	struct attempt *a = stream_arg(s);
	struct load *l = a->l;

	if (!a->answered) {
		l->closed++;
		l->lat_ms[l->done] = (double)(ev_clock_ms() - a->t0);
		if (l->closed <= 5)
			fprintf(stderr, "enrol_load: connection closed: %s\n", why);
	}
	free(a);
	l->done++;
	l->in_flight--;
	if (l->done == l->njobs)
		ev_loop_break(l->loop);
	else
		load_start_next(l);
}

static const struct stream_ops attempt_ops = { attempt_on_established, attempt_on_record,
					       attempt_on_closed };

/* A non-blocking TCP socket bound to the i-th source address, connecting to l->to. */
static int
load_dial(struct load *l, unsigned i)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (l->nsrc) {
		src.sin_addr.s_addr = htonl(ntohl(l->src.s_addr) + i % l->nsrc);
		/* Port chosen at connect() time, unique for the whole 4-tuple (and not one a
		 * TIME_WAIT of the server still holds): bind() alone picks ports per address. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			goto err;
	}
	if (connect(fd, (struct sockaddr *)&l->to, sizeof(struct sockaddr_in)) < 0 &&
	    errno != EINPROGRESS)
		goto err;
	return fd;
err:
	i = (unsigned)errno;
	close(fd);
	return -(int)i;
}

static void
load_start_next(struct load *l)
{
	while (l->next < l->njobs && l->in_flight < l->conc) {
		struct attempt *a = calloc(1, sizeof(*a));
		struct stream *s;
		unsigned i = l->next++;
		int fd = a ? load_dial(l, i) : -ENOMEM;

		if (fd < 0 || !a) {
			fprintf(stderr, "enrol_load: connect: %s\n", strerror(-fd));
			exit(1);
		}
		a->l = l;
		a->job = &l->jobs[i];
		a->t0 = ev_clock_ms();
		l->in_flight++;
		if (stream_new(&s, l->loop, l->tls, fd, true, NULL, &l->to, &attempt_ops, a)) {
			fprintf(stderr, "enrol_load: out of memory\n");
			exit(1);
		}
	}
}

/* Reads "USER CODE" lines and makes a key and CSR for each (before any timing). */
static int
load_prepare(struct load *l, const char *path, const char *keydir)
{
	static uint8_t der[CSR_DER_MAX];
	char line[256], key[4096], id[160];
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	l->jobs = calloc(LOAD_USERS_MAX, sizeof(*l->jobs));
	while (l->jobs && l->njobs < LOAD_USERS_MAX && fgets(line, sizeof(line), f)) {
		struct job *j = &l->jobs[l->njobs];
		int n;

		if (sscanf(line, "%63s %63s", j->user, j->code) != 2)
			continue;
		snprintf(key, sizeof(key), "%s/%s.key", keydir, j->user);
		snprintf(id, sizeof(id), "%s@%s", j->user, l->domain);
		if (cert_key_new(key, NULL) || (n = csr_new(key, id, der, sizeof(der))) < 0 ||
		    !(j->csr = malloc((size_t)n))) {
			fclose(f);
			return -EINVAL;
		}
		memcpy(j->csr, der, (size_t)n);
		j->csr_len = (size_t)n;
		l->njobs++;
	}
	fclose(f);
	return l->jobs && l->njobs ? 0 : -ENOENT;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
pct(const double *v, unsigned n, unsigned p)
{
	unsigned i = (unsigned)(((unsigned long)n * p + 99) / 100);

	return v[i ? i - 1 : 0];
}

static void
load_report(struct load *l, double wall_s)
{
	double last_s = (double)(l->t_last_ok - l->t0) / 1000.0;

	qsort(l->lat_ms, l->done, sizeof(double), cmp_double);
	printf("%s %u ok %u rate %u denied %u other %u closed %u wall %.3f s rate %.1f/s "
	       "latency ms p50 %.0f p90 %.0f p99 %.0f max %.0f; to the last answer %.3f s "
	       "%.1f/s\n",
	       l->ca_mode ? "ca" : "enrol", l->done, l->ok, l->rate, l->denied, l->other, l->closed,
	       wall_s, wall_s > 0 ? l->ok / wall_s : 0.0, pct(l->lat_ms, l->done, 50),
	       pct(l->lat_ms, l->done, 90), pct(l->lat_ms, l->done, 99), l->lat_ms[l->done - 1],
	       last_s, last_s > 0 ? l->ok / last_s : 0.0);
}

static int
usage(void)
{
	fprintf(stderr, "usage: enrol_load ADDR:PORT DOMAIN INVITES KEYDIR CONCURRENCY "
			"[SRC-ADDR NSRC]\n"
			"       enrol_load ADDR:PORT DOMAIN --ca COUNT [SRC-ADDR NSRC]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static struct load l;
	int conc = 0, base;
	uint64_t t0;

	if (argc < 5 || sockaddr_parse(argv[1], &l.to) || l.to.ss_family != AF_INET)
		return usage();
	log_init("enrol_load");
	log_set_quiet(true);
	l.domain = argv[2];
	l.ca_mode = !strcmp(argv[3], "--ca");
	base = l.ca_mode ? 5 : 6;
	if (argc != base && argc != base + 2)
		return usage();
	if (argc == base + 2 && (inet_pton(AF_INET, argv[base], &l.src) != 1 ||
				 (l.nsrc = (unsigned)atoi(argv[base + 1])) < 1))
		return usage();
	if (l.ca_mode) {
		l.njobs = (unsigned)atoi(argv[4]);
		l.jobs = calloc(l.njobs ? l.njobs : 1, sizeof(*l.jobs));
	} else if ((conc = atoi(argv[5])) < 1 || load_prepare(&l, argv[3], argv[4])) {
		fprintf(stderr, "enrol_load: cannot prepare %s: %s\n", argv[3], cert_strerror());
		return 2;
	}
	l.lat_ms = calloc(l.njobs ? l.njobs : 1, sizeof(double));
	if (!l.jobs || !l.njobs || !l.lat_ms || ev_loop_new(&l.loop) ||
	    tls_ctx_new_flags(&l.tls, NULL, NULL, NULL, TLS_CTX_NO_VERIFY))
		return usage();
	l.conc = l.ca_mode ? 1 : (unsigned)conc;
	t0 = l.t0 = ev_clock_ms();
	load_start_next(&l);
	ev_run(l.loop);
	load_report(&l, (double)(ev_clock_ms() - t0) / 1000.0);
	tls_ctx_free(l.tls);
	ev_loop_free(l.loop);
	return 0;
}
