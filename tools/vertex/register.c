// SPDX-License-Identifier: MIT
/*
 * vertex register USER@DOMAIN: makes (or reuses) the agent's key, finds the domain's server,
 * and trades a certificate request plus an invite code or password for a certificate.
 *
 * Two connections, because the first contact has nothing to verify the server against:
 *
 *   1. TLS without verification, only to ask for the domain's CA certificate. It must be a CA
 *      named DOMAIN. Its fingerprint must match --ca-fingerprint if given, the CA file from an
 *      earlier registration (Persistence of Pseudonym), and the commitment in an invite code
 *      (crypto/password.h). Where a vertexd runs on this machine (its control socket, -s, is
 *      there), it is a notary: a CA it trusts for DOMAIN (its own domain's, a ca line, a pin)
 *      must be the one offered. A password without any of these is trusted on first use and
 *      the fingerprint is printed so it can be checked out of band.
 *   2. TLS verifying the server's certificate (server@DOMAIN) against that CA; only then does
 *      anything depending on the secret go out. An invite code is sent (ENROL method 1); a
 *      password is not: we ask for the account's salt and cost (SALT_REQ), derive the scrypt
 *      key and send a proof bound to this connection's TLS exporter (ENROL method 3), which a
 *      man in the middle, on another TLS connection, cannot replay. The certificate that comes
 *      back must verify against the same CA, name USER@DOMAIN and carry our public key.
 *
 * The state machine below runs on the event loop with one overall deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/config.h"
#include "core/sockaddr.h"
#include "control/discover.h"
#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/aead.h"
#include "crypto/csr.h"
#include "crypto/password.h"
#include "crypto/tls.h"
#include "ctlclient.h"
#include "proto/ctlmsg.h"
#include "register.h"

enum { REGISTER_TIMEOUT_MS = 20000, REGISTER_SECRET_MAX = PASSWORD_LEN_MAX };

enum register_phase { PHASE_FETCH_CA, PHASE_ENROL, PHASE_DONE };

struct reg {
	struct identity id;
	char name[IDENTITY_STR_MAX];
	char server_name[IDENTITY_STR_MAX]; /* server@DOMAIN */
	const char *key_path, *cert_path, *ca_path, *want_fpr;
	char secret[REGISTER_SECRET_MAX + 1];
	uint8_t method;
	bool invite_checked; /* the CA matched the invite code's commitment */
	bool agent_checked;  /* the CA is the one the local vertexd trusts for the domain */
	bool salt_seen;      /* the one SALT answer, proof sent */
	struct sockaddr_storage server;
	char server_addr[64];

	struct ev_loop *loop;
	struct ev_timer deadline;
	enum register_phase phase;
	int result; /* 0 ok, 1 failed */

	uint8_t csr[CSR_DER_MAX];
	size_t csr_len;
	uint8_t ca[CERT_DER_MAX];
	size_t ca_len;
	struct cert_trust *trust;
	struct tls_ctx *tls;
};

static void reg_next(struct reg *r);

static void
reg_fail(struct reg *r, const char *fmt, const char *detail)
{
	fprintf(stderr, "vertex register: ");
	fprintf(stderr, fmt, detail);
	fputc('\n', stderr);
	r->result = 1;
	r->phase = PHASE_DONE;
	ev_loop_break(r->loop);
}

static void
reg_on_deadline(struct ev_timer *t)
{
	struct reg *r = container_of(t, struct reg, deadline);

	reg_fail(r, "no answer from %s in time", r->server_addr);
}

static void
reg_send_hello(struct stream *s, struct reg *r)
{
	struct ctlmsg m = { .type = CTL_HELLO };

	m.u.hello.version = CTL_VERSION;
	m.u.hello.role = CTL_ROLE_AGENT;
	snprintf(m.u.hello.name, sizeof(m.u.hello.name), "%.*s", CTL_STR_MAX, r->name);
	stream_send_msg(s, &m);
}

/* ENROL, with the invite code or (method 3) the proof in hex; false if it could not go out. */
static bool
reg_send_enrol(struct stream *s, struct reg *r, uint8_t method, const char *secret)
{
	struct ctlmsg m = { .type = CTL_ENROL };
	bool ok;

	snprintf(m.u.enrol.identity, sizeof(m.u.enrol.identity), "%.*s", CTL_STR_MAX, r->name);
	m.u.enrol.method = method;
	snprintf(m.u.enrol.secret, sizeof(m.u.enrol.secret), "%s", secret);
	m.u.enrol.csr = r->csr;
	m.u.enrol.csr_len = r->csr_len;
	ok = stream_send_msg(s, &m);
	explicit_bzero(&m, sizeof(m));
	return ok;
}

static void
reg_on_established(struct stream *s)
{
	struct reg *r = stream_arg(s);
	struct ctlmsg m = { 0 };
	bool ok;

	reg_send_hello(s, r);
	if (r->phase == PHASE_FETCH_CA) {
		m.type = CTL_CA_REQ;
		snprintf(m.u.req.domain, sizeof(m.u.req.domain), "%s", r->id.domain);
		ok = stream_send_msg(s, &m);
	} else if (r->method == CTL_ENROL_PASSWORD) {
		/* The password's salt first; the proof goes out when it comes (reg_on_salt). */
		m.type = CTL_SALT_REQ;
		snprintf(m.u.salt_req.identity, sizeof(m.u.salt_req.identity), "%.*s", CTL_STR_MAX,
			 r->name);
		ok = stream_send_msg(s, &m);
	} else {
		ok = reg_send_enrol(s, r, CTL_ENROL_INVITE, r->secret);
	}
	if (!ok)
		stream_close(s, "cannot send the request");
}

/*
 * The account's salt and cost: derive the scrypt key (the slow part, here and not on the
 * server) and send the proof bound to this connection's exporter.
 */
static bool
reg_on_salt(struct stream *s, struct reg *r, const struct ctlmsg *m)
{
	uint8_t key[PASSWORD_KEY_LEN], exporter[PASSWORD_EXPORTER_LEN], proof[PASSWORD_PROOF_LEN];
	char hex[CTL_PROOF_HEX_LEN + 1];
	bool ok = false;

	if (strcmp(m->u.salt.identity, r->name)) {
		reg_fail(r, "the server answered for %s", m->u.salt.identity);
		return false;
	}
	if (!password_derive_key(r->secret, m->u.salt.salt, m->u.salt.ln, key) &&
	    !tls_conn_export(stream_tls(s), PASSWORD_EXPORTER_LABEL, exporter, sizeof(exporter)) &&
	    !password_proof(key, exporter, r->name, r->csr, r->csr_len, proof)) {
		for (size_t i = 0; i < sizeof(proof); i++)
			snprintf(hex + 2 * i, 3, "%02x", proof[i]);
		ok = reg_send_enrol(s, r, CTL_ENROL_PROOF, hex);
	}
	crypto_wipe(key, sizeof(key));
	crypto_wipe(hex, sizeof(hex));
	if (!ok)
		reg_fail(r, "%s", "cannot make or send the password proof");
	return ok;
}

/* Writes a file atomically (temporary file, then rename), mode 0644. */
static int
reg_write_pem(const char *path, const uint8_t *der, size_t len)
{
	return cert_write_pem(path, der, len);
}

/*
 * An invite code commits to the CA it was made under: a server offering another gets nothing.
 * A code from before commitments needs --ca-fingerprint or a pinned CA instead.
 */
static bool
reg_check_invite(struct reg *r, const struct cert_info *ci, const char *fpr)
{
	switch (invite_code_check_ca(r->secret, ci->fpr)) {
	case INVITE_CA_MATCH:
		r->invite_checked = true;
		return true;
	case INVITE_CA_NONE:
		if (r->want_fpr || access(r->ca_path, F_OK) == 0)
			return true;
		reg_fail(r, "%s",
			 "this invite code is of an older kind that names no CA: give "
			 "--ca-fingerprint (ask the administrator) or ask for a new code");
		return false;
	default:
		fprintf(stderr, "vertex register: CA of %s offered by %s is %s\n", r->id.domain,
			r->server_addr, fpr);
		reg_fail(r, "%s",
			 "this CA is not the one the invite code was made for: the code "
			 "was not sent (a server in the middle, or a code of another domain?)");
		return false;
	}
}

/*
 * The vertexd on this machine, if there is one, as a notary: what CA does it trust for the
 * domain? Another one than offered refuses (nothing is sent); none, or no vertexd, says nothing.
 */
static bool
reg_check_local_agent(struct reg *r, const char *fpr)
{
	struct ctlclient_facts f;
	char req[16 + IDENTITY_DOMAIN_MAX];
	const char *ca;
	bool ok = true;

	if (access(ctlclient_socket_path, F_OK) != 0)
		return true;
	snprintf(req, sizeof(req), "trust ca %s", r->id.domain);
	if (ctlclient_ask(req, &f)) {
		fprintf(stderr, "vertex register: going on without the word of vertexd (%s)\n",
			ctlclient_socket_path);
		return true;
	}
	ca = ctlclient_fact(&f, 0, f.n, "ca");
	if (!strcmp(ca, fpr)) {
		r->agent_checked = true;
	} else if (strcmp(ca, "none")) {
		fprintf(stderr,
			"vertex register: the vertexd on this machine trusts CA %s for %s; %s "
			"offers %s\n",
			ca, r->id.domain, r->server_addr, fpr);
		reg_fail(r, "%s",
			 "refusing a CA the local vertexd does not trust: nothing was sent (a "
			 "server in the middle?)");
		ok = false;
	}
	ctlclient_facts_free(&f);
	return ok;
}

/* Checks the CA against the expected fingerprint or an earlier pin; false = refuse. */
static bool
reg_check_ca(struct reg *r)
{
	struct cert_info ci, old;
	char fpr[64], was[64];

	if (cert_info_from_der(r->ca, r->ca_len, &ci) || !ci.is_ca ||
	    strcmp(ci.subject, r->id.domain)) {
		reg_fail(r, "the server offered no CA certificate of %s", r->id.domain);
		return false;
	}
	cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
	if (r->want_fpr && strcmp(r->want_fpr, fpr)) {
		fprintf(stderr, "vertex register: CA of %s is %s, expected %s\n", r->id.domain, fpr,
			r->want_fpr);
		reg_fail(r, "refusing a CA whose fingerprint does not match (%s)",
			 "--ca-fingerprint");
		return false;
	}
	if (!reg_check_local_agent(r, fpr))
		return false;
	if (r->method == CTL_ENROL_INVITE && !reg_check_invite(r, &ci, fpr))
		return false;
	if (!cert_info_from_file(r->ca_path, &old) && memcmp(old.fpr, ci.fpr, sizeof(ci.fpr))) {
		cert_fpr_format(old.fpr, was, sizeof(was));
		fprintf(stderr,
			"vertex register: CA of %s changed: pinned %s (in %s), offered %s\n",
			r->id.domain, was, r->ca_path, fpr);
		reg_fail(r, "refusing a changed CA; remove %s only if the change is expected",
			 r->ca_path);
		return false;
	}
	printf("CA of %s: %s (%s)\n", r->id.domain, fpr,
	       r->want_fpr                     ? "matches --ca-fingerprint"
	       : access(r->ca_path, F_OK) == 0 ? "matches the pinned CA"
	       : r->invite_checked             ? "matches the invite code"
	       : r->agent_checked              ? "matches the CA the local vertexd trusts"
					       : "first use: check it out of band");
	return true;
}

static bool
reg_on_cert(struct reg *r, const struct ctlmsg *m)
{
	struct cert_info ci, ours;
	const char *why;
	char fpr[64], until[32];

	if (m->u.cert.ca_len != r->ca_len || memcmp(m->u.cert.ca, r->ca, r->ca_len)) {
		reg_fail(r, "the server answered with another CA than %s's", r->id.domain);
		return false;
	}
	if (cert_trust_verify(r->trust, m->u.cert.cert, m->u.cert.cert_len, time(NULL), &ci,
			      &why) ||
	    strcmp(ci.subject, r->name)) {
		reg_fail(r, "the certificate received does not verify: %s",
			 why ? why : "wrong name");
		return false;
	}
	if (csr_verify(r->csr, r->csr_len, ours.subject, ours.pubkey, &why) ||
	    memcmp(ours.pubkey, ci.pubkey, sizeof(ci.pubkey))) {
		reg_fail(r, "%s", "the certificate received is not for our key");
		return false;
	}
	if (reg_write_pem(r->cert_path, m->u.cert.cert, m->u.cert.cert_len) ||
	    reg_write_pem(r->ca_path, r->ca, r->ca_len)) {
		reg_fail(r, "cannot write the certificate: %s", cert_strerror());
		return false;
	}
	cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
	cert_time_format(ci.not_after, until, sizeof(until));
	printf("registered %s: certificate %s valid until %s\n", r->name, fpr, until);
	printf("wrote %s, %s (the CA of %s)\n", r->cert_path, r->ca_path, r->id.domain);
	return true;
}

static bool
reg_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct reg *r = stream_arg(s);
	struct ctlmsg m;

	if (!ctlmsg_is_known(type) || type == CTL_HELLO || type == CTL_PONG)
		return true;
	if (!ctlmsg_decode(type, body, len, &m)) {
		stream_close(s, "malformed answer");
		return false;
	}
	if (type == CTL_ERROR) {
		reg_fail(r, "refused by the server: %s", m.u.error.message);
		stream_close(s, "refused");
		return false;
	}
	if (r->phase == PHASE_FETCH_CA && type == CTL_CA && m.u.ca.ca_len <= sizeof(r->ca)) {
		memcpy(r->ca, m.u.ca.ca, m.u.ca.ca_len);
		r->ca_len = m.u.ca.ca_len;
		stream_close(s, "done");
		if (r->phase != PHASE_DONE && reg_check_ca(r)) {
			r->phase = PHASE_ENROL;
			reg_next(r);
		}
		return false;
	}
	if (r->phase == PHASE_ENROL && type == CTL_SALT && r->method == CTL_ENROL_PASSWORD &&
	    !r->salt_seen) {
		r->salt_seen = true;
		if (!reg_on_salt(s, r, &m)) {
			stream_close(s, "refused");
			return false;
		}
		return true;
	}
	if (r->phase == PHASE_ENROL && type == CTL_CERT) {
		r->result = reg_on_cert(r, &m) ? 0 : 1;
		r->phase = PHASE_DONE;
		stream_close(s, "done");
		ev_loop_break(r->loop);
		return false;
	}
	return true;
}

static void
reg_on_closed(struct stream *s, const char *why)
{
	struct reg *r = stream_arg(s);

	if (r->phase != PHASE_DONE && strcmp(why, "done"))
		reg_fail(r, "connection to the server failed: %s", why);
}

static const struct stream_ops reg_ops = {
	.on_established = reg_on_established,
	.on_record = reg_on_record,
	.on_closed = reg_on_closed,
};

/* Starts the connection of the current phase. */
static void
reg_next(struct reg *r)
{
	struct stream *s;
	unsigned flags = r->phase == PHASE_FETCH_CA ? TLS_CTX_NO_VERIFY : 0;
	int err;

	tls_ctx_free(r->tls);
	r->tls = NULL;
	if (r->phase == PHASE_ENROL) {
		cert_trust_free(r->trust);
		r->trust = NULL;
		if (cert_trust_new(&r->trust) ||
		    cert_trust_add_der(r->trust, r->id.domain, r->ca, r->ca_len)) {
			reg_fail(r, "the CA of %s is not usable", r->id.domain);
			return;
		}
	}
	if (tls_ctx_new_flags(&r->tls, NULL, NULL, r->trust, flags)) {
		reg_fail(r, "%s", "cannot set up TLS");
		return;
	}
	err = stream_connect(&s, r->loop, r->tls, &r->server, r->id.domain,
			     r->phase == PHASE_ENROL ? r->server_name : NULL, &reg_ops, r);
	if (err)
		reg_fail(r, "cannot connect: %s", strerror(-err));
}

static int
reg_find_server(struct reg *r, const char *override)
{
	struct discover_result found[DISCOVER_MAX];
	char why[256];
	int n;

	if (override) {
		if (sockaddr_parse(override, &r->server)) {
			fprintf(stderr, "vertex register: --server %s: expected ADDRESS:PORT\n",
				override);
			return -EINVAL;
		}
	} else {
		n = discover_server(r->id.domain, found, DISCOVER_MAX, why, sizeof(why));
		if (n <= 0) {
			fprintf(stderr, "vertex register: cannot find the server of %s: %s\n",
				r->id.domain, why);
			return -ENOENT;
		}
		r->server = found[0].addr;
	}
	sockaddr_format(&r->server, r->server_addr, sizeof(r->server_addr));
	return 0;
}

static const char register_usage[] =
    "Usage: vertex register USER@DOMAIN (--invite CODE | --password-stdin)\n"
    "                      --key FILE --cert FILE --ca FILE\n"
    "                      [--server ADDRESS:PORT] [--ca-fingerprint SHA256:...]\n"
    "\n"
    "Enrols this agent with the Vertex server of DOMAIN. The key is made here (or reused if\n"
    "FILE exists) and never leaves the machine; the server signs a certificate naming exactly\n"
    "USER@DOMAIN, valid for days, which vertexd renews by itself before it expires.\n"
    "\n"
    "  --invite CODE         a one-time code from the domain's administrator; it commits\n"
    "                        to the domain's CA, and is sent to no server with another CA\n"
    "  --password-stdin      read the account's password from standard input (1 to 255\n"
    "                        bytes of printable ASCII); it is never sent, only a proof\n"
    "                        bound to this TLS connection\n"
    "  --key FILE            the agent's private key (made mode 0600 if missing)\n"
    "  --cert FILE           where to write the certificate\n"
    "  --ca FILE             where to write the domain's CA certificate; if FILE exists, the\n"
    "                        server's CA must match it\n"
    "  --server ADDR:PORT    the server, instead of DNS (SRV _vertex._tcp.DOMAIN, then\n"
    "                        DOMAIN itself on port 4801)\n"
    "  --ca-fingerprint FPR  refuse a CA whose fingerprint is not FPR (as `vertex cert show`\n"
    "                        prints it); without it (and without an invite code), a new\n"
    "                        CA is trusted on first use\n"
    "\n"
    "If a vertexd runs on this machine (its control socket, see -s, exists), it is asked\n"
    "which CA it trusts for DOMAIN; if it trusts another than the server offers, nothing is\n"
    "sent and the registration fails.\n"
    "\n"
    "Exit status: 0 registered, 1 refused or failed, 2 usage error.\n";

/* The first line of standard input, held to the rule the server's admin verb applies. */
static int
reg_read_password(struct reg *r)
{
	char buf[PASSWORD_LEN_MAX + 2];
	const char *why;
	size_t n;
	int err = -EINVAL;

	if (!fgets(buf, sizeof(buf), stdin)) {
		fprintf(stderr, "vertex register: no password on standard input\n");
		return err;
	}
	n = strcspn(buf, "\r\n");
	why = n == sizeof(buf) - 1 && buf[n] == '\0' ? "it is longer than 255 bytes" : NULL;
	buf[n] = '\0';
	if (why || (why = password_rule_check(buf)))
		fprintf(stderr, "vertex register: password refused: %s\n", why);
	else
		err = 0;
	if (!err)
		memcpy(r->secret, buf, strlen(buf) + 1); /* at most PASSWORD_LEN_MAX + 1 */
	explicit_bzero(buf, sizeof(buf));
	return err;
}

static int
reg_options(struct reg *r, int argc, char **argv, const char **server)
{
	static const struct option opts[] = {
		{ "invite", required_argument, NULL, 'i' },
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'c' },
		{ "ca", required_argument, NULL, 'a' },
		{ "server", required_argument, NULL, 's' },
		{ "ca-fingerprint", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (invite_code_check_ca(optarg, (uint8_t[32]){ 0 }) ==
			    INVITE_CA_MALFORMED) {
				fprintf(stderr, "vertex register: --invite: not an invite code "
						"(XXXX-XXXX-XXXX-XXXX-XXXX)\n");
				return 2;
			}
			snprintf(r->secret, sizeof(r->secret), "%s", optarg);
			r->method = CTL_ENROL_INVITE;
			break;
		case 'p':
			if (reg_read_password(r))
				return 2;
			r->method = CTL_ENROL_PASSWORD;
			break;
		case 'k':
			r->key_path = optarg;
			break;
		case 'c':
			r->cert_path = optarg;
			break;
		case 'a':
			r->ca_path = optarg;
			break;
		case 's':
			*server = optarg;
			break;
		case 'f':
			r->want_fpr = optarg;
			break;
		case 'h':
			fputs(register_usage, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || !r->method || !r->secret[0] || !r->key_path || !r->cert_path ||
	    !r->ca_path)
		return 2;
	return -1;
}

int
cmd_register(int argc, char **argv)
{
	static struct reg r;
	const char *server = NULL, *why;
	int rc = reg_options(&r, argc, argv, &server), n;

	if (rc >= 0) {
		if (rc)
			fputs(register_usage, stderr);
		return rc;
	}
	log_init("vertex");
	/* Progress lines and errors interleave in the order they happen, even into a file. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (identity_parse(argv[argc - 1], IDENTITY_PURPOSE_FORBIDDEN, &r.id, &why)) {
		fprintf(stderr, "vertex register: %s: %s\n", argv[argc - 1], why);
		return 2;
	}
	identity_format(&r.id, r.name, sizeof(r.name));
	if (strlen(r.name) > CERT_NAME_MAX) {
		fprintf(stderr,
			"vertex register: %s is longer than a certificate name can be (%d)\n",
			r.name, CERT_NAME_MAX);
		return 2;
	}
	snprintf(r.server_name, sizeof(r.server_name), "server@%s", r.id.domain);
	if (access(r.key_path, F_OK) < 0 && cert_key_new(r.key_path, NULL)) {
		fprintf(stderr, "vertex register: %s\n", cert_strerror());
		return 1;
	}
	n = csr_new(r.key_path, r.name, r.csr, sizeof(r.csr));
	if (n < 0) {
		fprintf(stderr, "vertex register: %s\n", cert_strerror());
		return 1;
	}
	r.csr_len = (size_t)n;
	if (reg_find_server(&r, server) || ev_loop_new(&r.loop))
		return 1;
	printf("registering %s with %s\n", r.name, r.server_addr);
	ev_timer_start(r.loop, &r.deadline, REGISTER_TIMEOUT_MS, reg_on_deadline);
	r.phase = PHASE_FETCH_CA;
	reg_next(&r);
	if (r.phase != PHASE_DONE)
		ev_run(r.loop);
	explicit_bzero(r.secret, sizeof(r.secret));
	tls_ctx_free(r.tls);
	cert_trust_free(r.trust);
	ev_loop_free(r.loop);
	return r.result;
}
