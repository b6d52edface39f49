// SPDX-License-Identifier: MIT
/*
 * renew_probe ADDR:PORT KEY CERT DOMAIN CA-CERT CSR-IDENTITY
 *
 * Connects to the server of DOMAIN at ADDR:PORT as an enrolled agent (KEY and CERT, verifying
 * the server as server@DOMAIN against CA-CERT), sends HELLO with the certificate's name and
 * then a RENEW whose certificate request names CSR-IDENTITY (signed with KEY), and prints the
 * answer as one line: "cert SUBJECT" or "error NAME: MESSAGE" (or "closed: WHY"). A test tool
 * for what an agent never sends: a renewal asking for someone else's name. Exit 0 if a
 * certificate came back, 1 otherwise, 2 on a usage or set-up error.
 */
#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/csr.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"

struct probe {
	struct ev_loop *loop;
	struct ctlmsg renew;
	char name[CTL_STR_MAX + 1];
	int ok;
};

static void
probe_on_established(struct stream *s)
{
	struct probe *p = stream_arg(s);
	struct ctlmsg hello = { .type = CTL_HELLO };

	hello.u.hello.version = CTL_VERSION;
	hello.u.hello.role = CTL_ROLE_AGENT;
	snprintf(hello.u.hello.name, sizeof(hello.u.hello.name), "%s", p->name);
	stream_send_msg(s, &hello);
	stream_send_msg(s, &p->renew);
	stream_set_deadline(s, 10000); /* bounded: an answer or "timed out" */
}

/* The server's HELLO comes first and is skipped; CERT or ERROR is the answer. */
static bool
probe_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct probe *p = stream_arg(s);
	struct cert_info ci;
	struct ctlmsg m;

	if ((type != CTL_CERT && type != CTL_ERROR) || !ctlmsg_decode(type, body, len, &m))
		return true;
	if (type == CTL_CERT && !cert_info_from_der(m.u.cert.cert, m.u.cert.cert_len, &ci)) {
		printf("cert %s\n", ci.subject);
		p->ok = 1;
	} else if (type == CTL_ERROR) {
		printf("error %s: %s\n", ctlmsg_error_name(m.u.error.code), m.u.error.message);
	}
	stream_close(s, "answered");
	return false;
}

static void
probe_on_closed(struct stream *s, const char *why)
{
	struct probe *p = stream_arg(s);

	if (strcmp(why, "answered"))
		printf("closed: %s\n", why);
	ev_loop_break(p->loop);
}

static const struct stream_ops probe_ops = { probe_on_established, probe_on_record,
					     probe_on_closed };

/* Our trust store (only DOMAIN's CA) and a context with the agent's key and certificate. */
static int
probe_tls(const char *key, const char *cert, const char *domain, const char *ca,
	  struct cert_trust **trust, struct tls_ctx **tls)
{
	if (cert_trust_new(trust) || cert_trust_add(*trust, domain, ca)) {
		fprintf(stderr, "renew_probe: %s: not the CA of %s\n", ca, domain);
		return -1;
	}
	if (tls_ctx_new(tls, key, cert, *trust)) {
		fprintf(stderr, "renew_probe: cannot load %s and %s: %s\n", key, cert,
			cert_strerror());
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct probe p;
	static uint8_t csr[CSR_DER_MAX];
	char server[IDENTITY_STR_MAX];
	struct sockaddr_storage to;
	struct cert_trust *trust = NULL;
	struct tls_ctx *tls = NULL;
	struct stream *s;
	int n, rc = 2;

	if (argc != 7 || config_endpoint_parse(argv[1], &to)) {
		fprintf(stderr, "usage: renew_probe ADDR:PORT KEY CERT DOMAIN CA-CERT "
				"CSR-IDENTITY\n");
		return 2;
	}
	log_init("renew_probe");
	log_set_quiet(true);
	snprintf(server, sizeof(server), "server@%s", argv[4]);
	n = csr_new(argv[2], argv[6], csr, sizeof(csr));
	if (n < 0 || ev_loop_new(&p.loop)) {
		fprintf(stderr, "renew_probe: setup failed: %s\n", cert_strerror());
		goto out;
	}
	if (probe_tls(argv[2], argv[3], argv[4], argv[5], &trust, &tls))
		goto out;
	snprintf(p.name, sizeof(p.name), "%s", tls_ctx_identity(tls));
	p.renew.type = CTL_RENEW;
	p.renew.u.renew.csr = csr;
	p.renew.u.renew.csr_len = (size_t)n;
	if (stream_connect(&s, p.loop, tls, &to, NULL, server, &probe_ops, &p)) {
		printf("closed: cannot connect\n");
		rc = 1;
		goto out;
	}
	ev_run(p.loop);
	fflush(stdout);
	rc = p.ok ? 0 : 1;
out:
	tls_ctx_free(tls);
	cert_trust_free(trust);
	ev_loop_free(p.loop);
	return rc;
}
