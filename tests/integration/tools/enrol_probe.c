// SPDX-License-Identifier: MIT
/*
 * enrol_probe ADDR:PORT IDENTITY CSR-IDENTITY KEY (invite CODE | password PASSWORD) [COUNT]
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
#include "crypto/tls.h"
#include "proto/ctlmsg.h"
#include "probe_exchange.h"

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
	p.req.u.enrol.method = !strcmp(argv[5], "password") ? CTL_ENROL_PASSWORD : CTL_ENROL_INVITE;
	snprintf(p.req.u.enrol.secret, sizeof(p.req.u.enrol.secret), "%s", argv[6]);
	p.req.u.enrol.csr = csr;
	p.req.u.enrol.csr_len = (size_t)n;
	for (int i = 0; i < count; i++) {
		struct stream *s;

		if (stream_connect(&s, p.loop, tls, &to, NULL, NULL, &probe_ops, &p)) {
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
