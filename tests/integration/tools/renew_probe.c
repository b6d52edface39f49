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
	char server[IDENTITY_STR_MAX];
	struct sockaddr_storage to;
	struct cert_trust *trust = NULL;
	struct tls_ctx *tls = NULL;
	struct stream *s;
	int n, rc = 2;

	if (argc != 7 || sockaddr_parse(argv[1], &to)) {
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
	if (probe_tls("renew_probe", argv[2], argv[3], argv[4], argv[5], &trust, &tls))
		goto out;
	snprintf(p.name, sizeof(p.name), "%s", tls_ctx_identity(tls));
	p.req.type = CTL_RENEW;
	p.req.u.renew.csr = csr;
	p.req.u.renew.csr_len = (size_t)n;
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
