// SPDX-License-Identifier: MIT
/*
 * enrol_probe ADDR:PORT IDENTITY CSR-IDENTITY KEY METHOD SECRET [COUNT]
 *   METHOD: invite CODE      ENROL method 1 with the code
 *           password PW      SALT_REQ, then ENROL method 3 with the proof of PW
 *           cleartext PW     ENROL method 2, the password itself (what old clients sent)
 *           salt -           SALT_REQ only; prints "salt LN SALT-HEX"
 *
 * Sends COUNT (default 1) enrolment requests, one per connection, for IDENTITY with a CSR that
 * names CSR-IDENTITY (signed with KEY, made if missing), and prints each answer as one line:
 * "cert SUBJECT" or "error NAME: MESSAGE". It does not verify the server (it is a test tool
 * for what the vertex CLI refuses to send: mismatched CSRs, bursts of attempts). Exit 0 if the
 * last answer was a certificate, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "core/sockaddr.h"
#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/csr.h"
#include "crypto/password.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"
#include "probe_exchange.h"

static const char *password; /* method password: the proof is made when the salt comes */
static bool salt_only;

/* A SALT answer: print it (salt), or send the proof (password); anything else as usual. */
static bool
enrol_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct probe_exchange *p = stream_arg(s);
	uint8_t key[32], exporter[32], proof[32];
	struct ctlmsg m, e;

	if (type != CTL_SALT || !ctlmsg_decode(type, body, len, &m))
		return probe_on_record(s, type, body, len);
	if (salt_only) {
		printf("salt %u ", m.u.salt.ln);
		for (int i = 0; i < CTL_SALT_LEN; i++)
			printf("%02x", m.u.salt.salt[i]);
		printf("\n");
		stream_close(s, "answered");
		return false;
	}
	e = p->enrol;
	e.u.enrol.method = CTL_ENROL_PROOF;
	if (password_derive_key(password, m.u.salt.salt, m.u.salt.ln, key) ||
	    tls_conn_export(stream_tls(s), PASSWORD_EXPORTER_LABEL, exporter, 32) ||
	    password_proof(key, exporter, e.u.enrol.identity, e.u.enrol.csr, e.u.enrol.csr_len,
			   proof)) {
		printf("closed: cannot make the proof\n");
		stream_close(s, "answered");
		return false;
	}
	for (int i = 0; i < 32; i++)
		snprintf(e.u.enrol.secret + 2 * i, 3, "%02x", proof[i]);
	stream_send_msg(s, &e);
	return true;
}

static const struct stream_ops enrol_ops = { probe_on_established, enrol_on_record,
					     probe_on_closed };

int
main(int argc, char **argv)
{
	static struct probe_exchange p;
	static uint8_t csr[CSR_DER_MAX];
	struct sockaddr_storage to;
	struct tls_ctx *tls;
	int n, count = argc == 8 ? atoi(argv[7]) : 1;

	if (argc < 7 || argc > 8 || sockaddr_parse(argv[1], &to) || count < 1) {
		fprintf(stderr, "usage: enrol_probe ADDR:PORT IDENTITY CSR-IDENTITY KEY "
				"(invite|password) SECRET [COUNT]\n");
		return 2;
	}
	log_init("enrol_probe");
	log_set_quiet(true);
	if (access(argv[4], F_OK) < 0 && cert_key_new(argv[4], NULL))
		return 2;
	n = csr_new(argv[4], argv[3], csr, sizeof(csr));
	if (n < 0 || ev_loop_new(&p.loop) ||
	    tls_ctx_new_flags(&tls, NULL, NULL, NULL, TLS_CTX_NO_VERIFY)) {
		fprintf(stderr, "enrol_probe: setup failed: %s\n", cert_strerror());
		return 2;
	}
	p.req.type = CTL_ENROL;
	snprintf(p.name, sizeof(p.name), "%s", argv[2]);
	snprintf(p.req.u.enrol.identity, sizeof(p.req.u.enrol.identity), "%s", argv[2]);
	p.req.u.enrol.method =
	    !strcmp(argv[5], "cleartext") ? CTL_ENROL_PASSWORD : CTL_ENROL_INVITE;
	snprintf(p.req.u.enrol.secret, sizeof(p.req.u.enrol.secret), "%s", argv[6]);
	p.req.u.enrol.csr = csr;
	p.req.u.enrol.csr_len = (size_t)n;
	if (!strcmp(argv[5], "password") || !strcmp(argv[5], "salt")) {
		password = argv[6];
		salt_only = !strcmp(argv[5], "salt");
		p.enrol = p.req;
		p.req = (struct ctlmsg){ .type = CTL_SALT_REQ };
		snprintf(p.req.u.salt_req.identity, sizeof(p.req.u.salt_req.identity), "%s",
			 argv[2]);
	}
	for (int i = 0; i < count; i++) {
		struct stream *s;

		if (stream_connect(&s, p.loop, tls, &to, NULL, NULL, &enrol_ops, &p)) {
			printf("closed: cannot connect\n");
			return 1;
		}
		ev_run(p.loop);
		fflush(stdout);
	}
	tls_ctx_free(tls);
	ev_loop_free(p.loop);
	return p.ok ? 0 : 1;
}
