// SPDX-License-Identifier: MIT
/*
 * Running the server: loading each domain it serves (its CA, certificate, trust, accounts,
 * federation, revocation list), the hosted ones registered with the primary's TLS context by
 * name, then the listener (serve.c), the signals and the loop; and taking it all down again.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/stream.h"
#include "core/log.h"
#include "core/addrcount.h"
#include "core/listener.h"
#include "core/ratelimit.h"
#include "crypto/cert.h"
#include "crypto/csr.h"
#include "crypto/tls.h"
#include "server/accounts.h"
#include "server/server.h"

static int
serve_load(struct server *srv)
{
	char ca_key[PATH_MAX], ca_crt[PATH_MAX], key[PATH_MAX], crt[PATH_MAX], db[PATH_MAX];
	const struct server_opts *o = &srv->opts;
	int err;

	if (server_path(o, SERVER_CA_KEY, ca_key, sizeof(ca_key)) ||
	    server_path(o, SERVER_CA_CERT, ca_crt, sizeof(ca_crt)) ||
	    server_path(o, SERVER_KEY, key, sizeof(key)) ||
	    server_path(o, SERVER_CERT, crt, sizeof(crt)) ||
	    server_path(o, SERVER_DB, db, sizeof(db)))
		return -ENAMETOOLONG;
	if ((err = cert_ca_load(&srv->ca, ca_key, ca_crt))) {
		if (access(ca_key, F_OK) < 0)
			log_warnx("no domain CA in %s (make one with 'vertex-server -D %s init')",
				  o->dir, o->dir);
		else /* init would refuse to replace it: the files need a human */
			log_warnx("cannot load the domain CA from %s: %s", o->dir, cert_strerror());
		return err;
	}
	snprintf(srv->domain, sizeof(srv->domain), "%s", cert_ca_domain(srv->ca));
	if ((err = cert_trust_new(&srv->trust)) ||
	    (err = cert_trust_add(srv->trust, srv->domain, ca_crt)))
		return err;
	if ((err = accounts_open(&srv->acc, db)) || (err = admin_server_cert_check(o, srv->acc)))
		return err;
	if ((err = tls_ctx_new_flags(&srv->tls, key, crt, srv->trust,
				     TLS_CTX_PEER_CERT_OPTIONAL | TLS_CTX_DEFER_FOREIGN))) {
		log_warnx("cannot load the server's key %s and certificate %s", key, crt);
		return err;
	}
	if ((err = federation_open(srv, db, key, crt)) || (err = rdv_open(srv, db)))
		return err;
	if ((err = ratelimit_new(&srv->rl_user, SERVER_RATELIMIT_KEYS, SERVER_ENROL_RATE_USER,
				 SERVER_ENROL_BURST_USER)) ||
	    (err = ratelimit_new(&srv->rl_pair, SERVER_RATELIMIT_KEYS, SERVER_ENROL_RATE_PAIR,
				 SERVER_ENROL_BURST_PAIR)) ||
	    (err = ratelimit_new(&srv->rl_source, SERVER_RATELIMIT_KEYS, SERVER_ENROL_RATE_SOURCE,
				 SERVER_ENROL_BURST_SOURCE)))
		return err;
	return 0;
}

static void
serve_before_sleep(void *arg)
{
	struct server *p = arg;

	relay_udp_flush(p);
	for (struct server *srv = p; srv; srv = server_next_domain(p, srv)) {
		while (srv->dead) {
			struct sconn *c = srv->dead;

			srv->dead = c->next;
			free(c);
		}
	}
}

static void
serve_on_signal(int signo, void *arg)
{
	struct server *srv = arg;

	log_info("signal %d: shutting down", signo);
	ev_loop_break(srv->loop);
}

/* One domain's state; the loop and listener are the primary's, freed with it. */
static void
serve_free_domain(struct server *srv)
{
	if (srv->loop) {
		ev_timer_stop(srv->loop, &srv->revocation_timer);
	}
	listener_free(srv->listener);
	reflect_close(srv);
	relay_udp_close(srv);
	rdv_close(srv);
	federation_close(srv);
	addrcount_free(srv->prehello);
	addrcount_free(srv->by_source);
	addrcount_free(srv->anon);
	ratelimit_free(srv->rl_notary);
	ratelimit_free(srv->rl_user);
	ratelimit_free(srv->rl_source);
	ratelimit_free(srv->rl_pair);
	accounts_close(srv->acc);
	tls_ctx_free(srv->tls);
	cert_trust_free(srv->trust);
	cert_ca_free(srv->ca);
	free(srv->crl);
}

/* Every connection first (any may use any domain's TLS), then each domain, the loop last. */
static void
serve_free(struct server *p)
{
	struct server *h;

	for (struct server *srv = p; srv; srv = server_next_domain(p, srv))
		while (srv->conns)
			stream_close(srv->conns->s, "server shutting down");
	serve_before_sleep(p);
	serve_free_domain(p); /* its TLS context refers to the hosted ones: it goes first */
	while ((h = p->hosted)) {
		p->hosted = h->next_hosted;
		serve_free_domain(h);
		free(h);
	}
	ev_loop_free(p->loop);
}

/* Loads the domain in dir as one hosted by p, answering to its name in TLS. */
static int
serve_host_domain(struct server *p, const char *dir, struct server ***tail)
{
	struct server *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	h->opts = p->opts;
	h->opts.nalso = 0;
	if (snprintf(h->opts.dir, sizeof(h->opts.dir), "%s", dir) >= (int)sizeof(h->opts.dir)) {
		free(h);
		return -ENAMETOOLONG;
	}
	h->primary = p;
	h->loop = p->loop;
	**tail = h; /* listed at once, so that serve_free frees it whatever happens next */
	*tail = &h->next_hosted;
	if ((err = serve_load(h)) || (err = revocation_publish(h)))
		return err;
	for (struct server *s = p; s; s = server_next_domain(p, s)) {
		if (s != h && !strcmp(s->domain, h->domain)) {
			log_warnx("%s and %s both hold the domain %s", s->opts.dir, dir, h->domain);
			return -EEXIST;
		}
	}
	return tls_ctx_add_hosted(p->tls, h->domain, h->tls);
}

int
serve_run(struct server *p)
{
	struct server **tail = &p->hosted;
	char names[512] = "";
	size_t off = 0;
	int err;

	signal(SIGPIPE, SIG_IGN);
	p->primary = p;
	if ((err = ev_loop_new(&p->loop)) || (err = serve_load(p)) || (err = revocation_publish(p)))
		goto fail;
	for (unsigned i = 0; i < p->opts.nalso; i++)
		if ((err = serve_host_domain(p, p->opts.also[i], &tail)))
			goto fail;
	if ((err = serve_listen(p)) || (err = reflect_open(p)) ||
	    (err = ev_signal_add(p->loop, SIGTERM, serve_on_signal, p)) ||
	    (err = ev_signal_add(p->loop, SIGINT, serve_on_signal, p)))
		goto fail;
	for (struct server *srv = p; srv; srv = server_next_domain(p, srv)) {
		revocation_start(srv);
		if (off < sizeof(names))
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
						off ? ", " : "", srv->domain);
	}
	ev_set_before_sleep(p->loop, serve_before_sleep, p);
	log_info("serving %s on tcp port %u (and udp: reflection); issuing certificates valid %u s",
		 names, p->opts.port, p->opts.cert_seconds);
	err = ev_run(p->loop);
	for (struct server *srv = p; srv; srv = server_next_domain(p, srv))
		log_info("stopped: %llu enrolled, %llu renewed, %llu refused%s%s",
			 (unsigned long long)srv->enrolled, (unsigned long long)srv->renewed,
			 (unsigned long long)srv->refused, p->hosted ? " in " : "",
			 p->hosted ? srv->domain : "");
	serve_free(p);
	return err;

fail:
	log_warnx("start-up failed: %s", strerror(-err));
	serve_free(p);
	return err;
}
