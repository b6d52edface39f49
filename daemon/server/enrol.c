// SPDX-License-Identifier: MIT
/*
 * Enrolment and renewal: who gets a certificate naming what.
 *
 * Checks run cheapest first (STYLE §17): the message's names, then the rate limits (per source
 * address, then per account), then the CSR's signature, then the account and its secret (scrypt
 * for passwords is the expensive one), and only then is anything issued or an invite consumed.
 * Every refusal gets a CTL_ERROR saying why and a log line; a wrong code, a wrong password and
 * an unknown user get the same answer, so probing does not reveal which accounts exist.
 *
 * The password check (scrypt, about 0.1 s of CPU and 16 MiB) runs off the event loop
 * (core/offload.h), so a flood of password attempts does not stall the server's other clients;
 * at most SERVER_PASSWORD_JOBS run at once per domain (more are told to retry), one per
 * connection, and a connection that closes meanwhile cancels its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/stream.h"
#include "core/log.h"
#include "core/offload.h"
#include "core/ratelimit.h"
#include "crypto/aead.h"
#include "crypto/cert.h"
#include "crypto/csr.h"
#include "crypto/password.h"
#include "proto/ctlmsg.h"
#include "server/accounts.h"
#include "server/server.h"

/* Issues and records a certificate for identity over pubkey, and sends it. */
static bool
enrol_issue(struct sconn *c, const struct identity *id, const uint8_t pubkey[CERT_PUBKEY_LEN],
	    const char *how)
{
	struct server *srv = c->srv;
	uint8_t der[CERT_DER_MAX];
	struct ctlmsg m = { .type = CTL_CERT };
	struct cert_info ci;
	char name[IDENTITY_STR_MAX], fpr[64], until[32];
	unsigned life = srv->opts.cert_seconds;
	/* Back-dated for clock skew, but never by more than a quarter of the lifetime, so an
	 * agent renewing at two thirds of it is not due again at once. */
	int64_t now = time(NULL),
		skew = life / 4 < SERVER_CERT_SKEW_SEC ? life / 4 : SERVER_CERT_SKEW_SEC;
	int64_t nb = now - skew, na = now + life;
	int n, superseded = -EIO;

	identity_format(id, name, sizeof(name));
	n = cert_ca_issue(srv->ca, pubkey, name, nb, na, der, sizeof(der));
	if (n >= 0 && !cert_info_from_der(der, (size_t)n, &ci))
		superseded = accounts_cert_issue(srv->acc, id->user, ci.fpr, nb, na, now,
						 SERVER_CERTS_PER_ACCOUNT);
	if (superseded == -EDQUOT) {
		sconn_send_error(c, CTL_ERR_RATE,
				 "%s already has %d certificates that have not expired; no more "
				 "until one does",
				 name, SERVER_CERTS_PER_ACCOUNT);
		return false;
	}
	if (superseded < 0) {
		/* An unrecorded certificate could never be revoked: do not hand it out. */
		sconn_send_error(c, CTL_ERR_INTERNAL, "could not issue a certificate for %s", name);
		return false;
	}
	if (superseded > 0)
		log_info("%s: %d older certificate(s) superseded (revoked)", name, superseded);
	m.u.cert.cert = der;
	m.u.cert.cert_len = (size_t)n;
	m.u.cert.ca = cert_ca_der(srv->ca, &m.u.cert.ca_len);
	cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
	cert_time_format(na, until, sizeof(until));
	log_info("%s %s from %s: certificate %s valid until %s", how, name, c->host, fpr, until);
	return sconn_send(c, &m);
}

/* Rate limits, per source address and per account; false (and an error sent) if exceeded. */
static bool
enrol_rate_ok(struct sconn *c, const char *user)
{
	struct server *srv = c->srv;
	uint64_t now = ev_now_ms(srv->loop);

	if (!ratelimit_allow(srv->rl_source, c->host, now)) {
		sconn_send_error(
		    c, CTL_ERR_RATE, "too many attempts from %s; try again in %llu s", c->host,
		    (unsigned long long)ratelimit_wait_ms(srv->rl_source, c->host, now) / 1000 + 1);
		return false;
	}
	if (!ratelimit_allow(srv->rl_user, user, now)) {
		sconn_send_error(
		    c, CTL_ERR_RATE, "too many attempts for %s; try again in %llu s", user,
		    (unsigned long long)ratelimit_wait_ms(srv->rl_user, user, now) / 1000 + 1);
		return false;
	}
	return true;
}

/* The CSR must verify and name exactly the identity asked for. */
static bool
enrol_csr_ok(struct sconn *c, const uint8_t *csr, size_t len, const char *want,
	     uint8_t pubkey[CERT_PUBKEY_LEN])
{
	char csr_id[IDENTITY_STR_MAX];
	const char *why;

	if (csr_verify(csr, len, csr_id, pubkey, &why)) {
		sconn_send_error(c, CTL_ERR_BAD_CSR, "certificate request refused: %s", why);
		return false;
	}
	if (strcmp(csr_id, want)) {
		sconn_send_error(c, CTL_ERR_BAD_CSR, "the certificate request names %s, not %s",
				 csr_id, want);
		return false;
	}
	return true;
}

/* A password being checked on a thread, for one connection. */
struct enrol_job {
	struct sconn *c;
	struct identity id;
	uint8_t pubkey[CERT_PUBKEY_LEN];
	char secret[CTL_STR_MAX + 1];
	char hash[PASSWORD_HASH_MAX];
	bool ok;
};

static void
enrol_job_work(void *arg)
{
	struct enrol_job *j = arg;

	j->ok = j->hash[0] && password_verify(j->secret, j->hash);
}

static void
enrol_job_free(void *arg)
{
	struct enrol_job *j = arg;

	crypto_wipe(j, sizeof(*j));
	free(j);
}

/* Back on the loop (the connection is still open: closing it cancels the job). */
static void
enrol_job_done(void *arg)
{
	struct enrol_job *j = arg;
	struct sconn *c = j->c;
	struct server *srv = c->srv;
	struct account ac;

	srv->password_jobs--;
	if (!j->ok) {
		sconn_send_error(c, CTL_ERR_DENIED, "no such user or wrong password");
		return;
	}
	/* Revoked or deleted while the password was being checked? */
	if (accounts_user_get(srv->acc, j->id.user, &ac) || ac.revoked) {
		sconn_send_error(c, CTL_ERR_REVOKED, "%s@%s is revoked or deleted", j->id.user,
				 j->id.domain);
		return;
	}
	if (enrol_issue(c, &j->id, j->pubkey, "enrolled (password)"))
		srv->enrolled++;
}

/* Starts checking the password of ac; the answer goes out when the check is done. */
static void
enrol_password_start(struct sconn *c, const struct identity *id,
		     const uint8_t pubkey[CERT_PUBKEY_LEN], const struct account *ac,
		     const char *secret)
{
	struct server *srv = c->srv;
	struct enrol_job *j;

	if (c->job) {
		sconn_send_error(c, CTL_ERR_RATE, "a password is already being checked here");
		return;
	}
	if (srv->password_jobs >= SERVER_PASSWORD_JOBS || !(j = calloc(1, sizeof(*j)))) {
		sconn_send_error(c, CTL_ERR_RATE, "busy checking other passwords; try again");
		return;
	}
	j->c = c;
	j->id = *id;
	memcpy(j->pubkey, pubkey, CERT_PUBKEY_LEN);
	snprintf(j->secret, sizeof(j->secret), "%s", secret);
	snprintf(j->hash, sizeof(j->hash), "%s", ac->password_hash);
	if (offload_start(&c->job, srv->loop, enrol_job_work, enrol_job_done, enrol_job_free, j)) {
		enrol_job_free(j);
		sconn_send_error(c, CTL_ERR_RATE, "busy checking other passwords; try again");
		return;
	}
	srv->password_jobs++;
}

void
enrol_cancel(struct sconn *c)
{
	if (!c->job)
		return;
	offload_cancel(c->job);
	c->srv->password_jobs--;
}

/* The account's invite code: unused and unexpired, consumed if so. */
static bool
enrol_invite_ok(struct sconn *c, const struct ctlmsg *m, const struct account *ac)
{
	uint8_t digest[SECRET_DIGEST_LEN];
	int err;

	if (secret_digest(m->u.enrol.secret, digest)) {
		sconn_send_error(c, CTL_ERR_DENIED, "no such user or wrong invite code");
		return false;
	}
	err = accounts_invite_consume(c->srv->acc, ac->user, digest, time(NULL));
	if (!err)
		return true;
	sconn_send_error(c, CTL_ERR_DENIED, "%s",
			 err == -ETIMEDOUT  ? "invite code expired"
			 : err == -EALREADY ? "invite code already used"
					    : "no such user or wrong invite code");
	return false;
}

void
enrol_handle(struct sconn *c, const struct ctlmsg *m)
{
	struct server *srv = c->srv;
	char name[IDENTITY_STR_MAX];
	uint8_t pubkey[CERT_PUBKEY_LEN];
	struct identity id;
	struct account ac;
	const char *why;

	if (c->peer[0]) {
		sconn_send_error(c, CTL_ERR_PROTOCOL, "already enrolled as %s: renew instead",
				 c->peer);
		return;
	}
	if (identity_parse(m->u.enrol.identity, IDENTITY_PURPOSE_FORBIDDEN, &id, &why)) {
		sconn_send_error(c, CTL_ERR_DENIED, "'%s' is not an identity: %s",
				 m->u.enrol.identity, why);
		return;
	}
	identity_format(&id, name, sizeof(name));
	if (strcmp(id.domain, srv->domain)) {
		sconn_send_error(c, CTL_ERR_DENIED, "this server enrols users of %s, not %s",
				 srv->domain, name);
		return;
	}
	if (!enrol_rate_ok(c, id.user) ||
	    !enrol_csr_ok(c, m->u.enrol.csr, m->u.enrol.csr_len, name, pubkey))
		return;
	if (accounts_user_get(srv->acc, id.user, &ac)) {
		sconn_send_error(c, CTL_ERR_DENIED, "no such user or wrong %s",
				 m->u.enrol.method == CTL_ENROL_PASSWORD ? "password"
									 : "invite code");
		return;
	}
	if (ac.revoked) {
		sconn_send_error(c, CTL_ERR_REVOKED, "%s is revoked", name);
		return;
	}
	if (m->u.enrol.method == CTL_ENROL_PASSWORD) {
		enrol_password_start(c, &id, pubkey, &ac, m->u.enrol.secret);
		return;
	}
	if (enrol_invite_ok(c, m, &ac) && enrol_issue(c, &id, pubkey, "enrolled (invite)"))
		srv->enrolled++;
}

void
enrol_handle_renew(struct sconn *c, const struct ctlmsg *m)
{
	struct server *srv = c->srv;
	uint8_t pubkey[CERT_PUBKEY_LEN];
	struct identity id;
	struct account ac;
	const char *why;

	if (!c->peer[0] || identity_parse(c->peer, IDENTITY_PURPOSE_FORBIDDEN, &id, &why) ||
	    strcmp(id.domain, srv->domain)) {
		sconn_send_error(c, CTL_ERR_DENIED,
				 "renewal needs a current certificate of a user of %s",
				 srv->domain);
		return;
	}
	if (!enrol_csr_ok(c, m->u.renew.csr, m->u.renew.csr_len, c->peer, pubkey))
		return;
	if (accounts_user_get(srv->acc, id.user, &ac) || ac.revoked) {
		sconn_send_error(c, CTL_ERR_REVOKED, "%s is revoked or deleted", c->peer);
		return;
	}
	if (enrol_issue(c, &id, pubkey, "renewed"))
		srv->renewed++;
}
