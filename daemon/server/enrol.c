// SPDX-License-Identifier: MIT
/*
 * Enrolment and renewal: who gets a certificate naming what.
 *
 * Checks run cheapest first (STYLE §17): the message's names, then the rate limits, then the
 * CSR's signature, then the secret, and only then is anything issued or an invite consumed.
 *
 * Secrets: an invite code is sent (the client first checks that the CA it reached is the one
 * the code commits to, crypto/password.h); a password never is. The client asks for the
 * account's scrypt salt and cost (SALT_REQ), derives the key the server stores, and sends a
 * MAC under it of this TLS connection's exporter, its identity and its request (ENROL method 3,
 * password_proof). The server only recomputes one HMAC: no scrypt runs here, so password
 * attempts cost the server no more than invite attempts, and there is no job to cancel.
 *
 * One answer: an unknown user, a user without a password, a wrong password or code and a
 * revoked account all get CTL_ERR_DENIED with the same message, after the same work: a SALT
 * for a user without a password carries a salt derived from the store's secret and the name
 * (stable, so asking twice reveals nothing), and the proof is checked against a dummy key
 * derived the same way. Invite attempts always run the same digest and consuming transaction.
 *
 * Rate limits (docs/server.md, "Limits"): per source network (an IPv4 address or an IPv6 /64),
 * per (source network, account), and per account from everywhere, with a budget large enough
 * that one network, or a few, cannot keep a real user locked out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "control/stream.h"
#include "core/log.h"
#include "core/sockaddr.h"
#include "core/ratelimit.h"
#include "crypto/aead.h"
#include "crypto/cert.h"
#include "crypto/csr.h"
#include "crypto/password.h"
#include "crypto/tls.h"
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

/*
 * The network c comes from, the key of its rate limits: an IPv4 address, or an IPv6 /64 (one
 * host usually holds a whole /64, so per address would be no limit at all). Local to enrol.c:
 * core/addrcount.c counts /64s the same way but has no such public helper yet.
 */
static void
enrol_source_key(const struct sconn *c, char *buf, size_t len)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&c->from;
	const uint8_t *a = s6->sin6_addr.s6_addr;

	if (c->from.ss_family != AF_INET6 || IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		snprintf(buf, len, "%.*s", (int)len - 1, c->host);
		return;
	}
	snprintf(buf, len, "%x:%x:%x:%x::/64", a[0] << 8 | a[1], a[2] << 8 | a[3], a[4] << 8 | a[5],
		 a[6] << 8 | a[7]);
}

/* One bucket; false (and an error sent) if it is empty. */
static bool
enrol_take(struct sconn *c, struct ratelimit *rl, const char *key, const char *what)
{
	uint64_t now = ev_now_ms(c->srv->loop);

	if (ratelimit_allow(rl, key, now))
		return true;
	sconn_send_error(c, CTL_ERR_RATE, "too many attempts %s; try again in %llu s", what,
			 (unsigned long long)ratelimit_wait_ms(rl, key, now) / 1000 + 1);
	return false;
}

/*
 * The rate limits, cheapest to pass first: the source network, then (network, account), then
 * the account from everywhere; false (and an error sent) if one is exceeded.
 */
static bool
enrol_rate_ok(struct sconn *c, const char *user)
{
	struct server *srv = c->srv;
	/* At most 24 + 1 + 64 characters: a pair key is never cut (RATELIMIT_KEY_MAX). */
	char net[32], pair[sizeof(net) + 1 + IDENTITY_USER_MAX + 1], what[sizeof(pair) + 16];

	enrol_source_key(c, net, sizeof(net));
	snprintf(pair, sizeof(pair), "%s %s", net, user);
	snprintf(what, sizeof(what), "from %s", net);
	if (!enrol_take(c, srv->rl_source, net, what))
		return false;
	snprintf(what, sizeof(what), "for %s from %s", user, net);
	_Static_assert(sizeof(pair) <= RATELIMIT_KEY_MAX + 2, "pair keys fit the table's keys");
	if (!enrol_take(c, srv->rl_pair, pair, what))
		return false;
	snprintf(what, sizeof(what), "for %s", user);
	return enrol_take(c, srv->rl_user, user, what);
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

/* The one refusal for a wrong secret, an unknown user and a revoked account. */
static void
enrol_deny(struct sconn *c)
{
	sconn_send_error(c, CTL_ERR_DENIED,
			 "no such user, wrong password or invite code, or the "
			 "account is revoked");
}

/*
 * The salt, cost and key the proof of user's password is made with: the account's own if it
 * has a password, else the dummy ones (password_dummy). The dummy ones are always derived, so
 * both cases do the same work. *real says which. 0 or -errno.
 */
static int
enrol_password_key(struct server *srv, const char *user, const struct account *ac, bool have,
		   unsigned *ln, uint8_t salt[PASSWORD_SALT_LEN], uint8_t key[PASSWORD_KEY_LEN],
		   bool *real)
{
	uint8_t secret[32], dsalt[PASSWORD_SALT_LEN], dkey[PASSWORD_KEY_LEN];
	int err = accounts_secret(srv->acc, "dummy", secret);

	if (!err)
		err = password_dummy(secret, user, dsalt, dkey);
	crypto_wipe(secret, sizeof(secret));
	if (err)
		return err;
	*real = have && password_hash_parse(ac->password_hash, ln, salt, key);
	if (!*real) {
		*ln = PASSWORD_DEFAULT_LN;
		memcpy(salt, dsalt, PASSWORD_SALT_LEN);
		memcpy(key, dkey, PASSWORD_KEY_LEN);
	}
	crypto_wipe(dkey, sizeof(dkey));
	return 0;
}

/* The identity a SALT_REQ or ENROL names, if it is one this server enrols (else an error). */
static bool
enrol_identity_ok(struct sconn *c, const char *name, struct identity *id)
{
	const char *why;
	char canon[IDENTITY_STR_MAX];

	if (c->peer[0]) {
		sconn_send_error(c, CTL_ERR_PROTOCOL, "already enrolled as %s: renew instead",
				 c->peer);
		return false;
	}
	if (identity_parse(name, IDENTITY_PURPOSE_FORBIDDEN, id, &why)) {
		sconn_send_error(c, CTL_ERR_DENIED, "'%s' is not an identity: %s", name, why);
		return false;
	}
	if (strcmp(id->domain, c->srv->domain)) {
		identity_format(id, canon, sizeof(canon));
		sconn_send_error(c, CTL_ERR_DENIED, "this server enrols users of %s, not %s",
				 c->srv->domain, canon);
		return false;
	}
	return true;
}

void
enrol_handle_salt(struct sconn *c, const struct ctlmsg *m)
{
	struct server *srv = c->srv;
	struct ctlmsg r = { .type = CTL_SALT };
	uint8_t key[PASSWORD_KEY_LEN];
	struct identity id;
	struct account ac;
	unsigned ln;
	bool real, have;

	if (!enrol_identity_ok(c, m->u.salt_req.identity, &id))
		return;
	/* One per connection: each is a lookup in the store, and one enrolment needs one. */
	if (c->salt_asked) {
		sconn_send_error(c, CTL_ERR_PROTOCOL, "one SALT_REQ per connection");
		return;
	}
	c->salt_asked = true;
	have = accounts_user_get(srv->acc, id.user, &ac) == 0;
	if (enrol_password_key(srv, id.user, &ac, have, &ln, r.u.salt.salt, key, &real)) {
		sconn_send_error(c, CTL_ERR_INTERNAL, "cannot answer for %s now", id.user);
		return;
	}
	crypto_wipe(key, sizeof(key));
	crypto_wipe(&ac, sizeof(ac));
	identity_format(&id, r.u.salt.identity, sizeof(r.u.salt.identity));
	r.u.salt.ln = (uint8_t)ln;
	sconn_send(c, &r);
}

static int
enrol_hex_value(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The proof in ENROL method 3 (64 lower-case hex digits, checked by the decoder). */
static bool
enrol_proof_decode(const char *hex, uint8_t out[PASSWORD_PROOF_LEN])
{
	for (size_t i = 0; i < PASSWORD_PROOF_LEN; i++) {
		int hi = enrol_hex_value(hex[2 * i]), lo = enrol_hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[2 * PASSWORD_PROOF_LEN] == '\0';
}

/*
 * The password proof of ENROL method 3, checked against this connection's exporter: true if
 * it is right for an active account with a password. The same work whatever the answer.
 */
static bool
enrol_proof_ok(struct sconn *c, const struct identity *id, const char *name, const struct ctlmsg *m)
{
	uint8_t key[PASSWORD_KEY_LEN], salt[PASSWORD_SALT_LEN], exporter[PASSWORD_EXPORTER_LEN];
	uint8_t want[PASSWORD_PROOF_LEN], got[PASSWORD_PROOF_LEN];
	struct account ac;
	unsigned ln;
	bool have, real, ok = false;

	have = accounts_user_get(c->srv->acc, id->user, &ac) == 0;
	if (!enrol_password_key(c->srv, id->user, &ac, have, &ln, salt, key, &real) &&
	    !tls_conn_export(stream_tls(c->s), PASSWORD_EXPORTER_LABEL, exporter,
			     sizeof(exporter)) &&
	    !password_proof(key, exporter, name, m->u.enrol.csr, m->u.enrol.csr_len, want) &&
	    enrol_proof_decode(m->u.enrol.secret, got))
		ok = crypto_equal(want, got, sizeof(want));
	ok = ok && real && !ac.revoked;
	crypto_wipe(key, sizeof(key));
	crypto_wipe(&ac, sizeof(ac));
	return ok;
}

/*
 * The account's invite code: unused and unexpired, consumed if so. Looked up the same way
 * whether or not the account exists (a revoked account has no invites left).
 */
static bool
enrol_invite_ok(struct sconn *c, const struct ctlmsg *m, const struct identity *id)
{
	uint8_t digest[SECRET_DIGEST_LEN];
	int err = secret_digest(m->u.enrol.secret, digest);

	if (!err)
		err = accounts_invite_consume(c->srv->acc, id->user, digest, time(NULL));
	if (!err)
		return true;
	if (err == -ETIMEDOUT || err == -EALREADY) /* news only to whoever holds the code */
		sconn_send_error(c, CTL_ERR_DENIED, "%s",
				 err == -ETIMEDOUT ? "invite code expired"
						   : "invite code already used");
	else
		enrol_deny(c);
	return false;
}

void
enrol_handle(struct sconn *c, const struct ctlmsg *m)
{
	struct server *srv = c->srv;
	char name[IDENTITY_STR_MAX];
	uint8_t pubkey[CERT_PUBKEY_LEN];
	struct identity id;
	bool ok;

	if (!enrol_identity_ok(c, m->u.enrol.identity, &id))
		return;
	identity_format(&id, name, sizeof(name));
	if (m->u.enrol.method == CTL_ENROL_PASSWORD) {
		/* Whoever sent it has already shown the password to whoever answered: refuse, so
		 * an old client learns to stop, rather than taking it. */
		sconn_send_error(c, CTL_ERR_PROTOCOL,
				 "passwords are no longer sent; this vertex is too old (it must "
				 "send a password proof)");
		return;
	}
	if (!enrol_rate_ok(c, id.user) ||
	    !enrol_csr_ok(c, m->u.enrol.csr, m->u.enrol.csr_len, name, pubkey))
		return;
	if (m->u.enrol.method == CTL_ENROL_PROOF) {
		ok = enrol_proof_ok(c, &id, name, m);
		if (!ok)
			enrol_deny(c);
	} else {
		ok = enrol_invite_ok(c, m, &id);
	}
	if (ok && enrol_issue(c, &id, pubkey,
			      m->u.enrol.method == CTL_ENROL_PROOF ? "enrolled (password)"
								   : "enrolled (invite)"))
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
