// SPDX-License-Identifier: MIT
/*
 * foreign_probe ADDR:PORT KEY CERT DOMAIN CA-CERT
 *
 * Connects to the server of DOMAIN at ADDR:PORT (verified as server@DOMAIN against CA-CERT)
 * presenting KEY and CERT, a certificate of some other domain, sends HELLO and nothing else, and
 * prints what the server says of that certificate as one line: "error NAME: MESSAGE" when it
 * refuses it, or "closed: WHY" (after 10 s of silence if it accepted it). A test tool for the
 * server's first contacts with other domains, which a certificate of such a domain starts.
 * Exit 0 if a certificate came back (never), 1 otherwise, 2 on a usage or set-up error.
 */
#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "core/sockaddr.h"
#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "probe_exchange.h"

int
main(int argc, char **argv)
{
	static struct probe_exchange p;
	char server[IDENTITY_STR_MAX];
	struct sockaddr_storage to;
	struct cert_trust *trust = NULL;
	struct tls_ctx *tls = NULL;
	struct stream *s;
	int rc = 2;

	if (argc != 6 || sockaddr_parse(argv[1], &to)) {
		fprintf(stderr, "usage: foreign_probe ADDR:PORT KEY CERT DOMAIN CA-CERT\n");
		return 2;
	}
	log_init("foreign_probe");
	log_set_quiet(true);
	snprintf(server, sizeof(server), "server@%s", argv[4]);
	if (ev_loop_new(&p.loop)) {
		fprintf(stderr, "foreign_probe: out of memory\n");
		goto out;
	}
	if (probe_tls("foreign_probe", argv[2], argv[3], argv[4], argv[5], &trust, &tls))
		goto out;
	snprintf(p.name, sizeof(p.name), "%s", tls_ctx_identity(tls));
	if (stream_connect(&s, p.loop, tls, &to, argv[4], server, &probe_ops, &p)) {
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
