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
#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/csr.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"

struct probe {
	struct ev_loop *loop;
	struct ctlmsg enrol;
	int last_ok;
};

static void
probe_on_established(struct stream *s)
{
	struct probe *p = stream_arg(s);
	struct ctlmsg hello = { .type = CTL_HELLO };

	hello.u.hello.version = CTL_VERSION;
	hello.u.hello.role = CTL_ROLE_AGENT;
	snprintf(hello.u.hello.name, sizeof(hello.u.hello.name), "%s", p->enrol.u.enrol.identity);
	stream_send_msg(s, &hello);
	stream_send_msg(s, &p->enrol);
	stream_set_deadline(s, 10000); /* bounded: an answer or "idle for too long" */
}

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
		p->last_ok = 1;
	} else if (type == CTL_ERROR) {
		printf("error %s: %s\n", ctlmsg_error_name(m.u.error.code), m.u.error.message);
		p->last_ok = 0;
	}
	stream_close(s, "answered");
	return false;
}

static void
probe_on_closed(struct stream *s, const char *why)
{
	struct probe *p = stream_arg(s);

	if (strcmp(why, "answered")) {
		printf("closed: %s\n", why);
		p->last_ok = 0;
	}
	ev_loop_break(p->loop);
}

static const struct stream_ops probe_ops = { probe_on_established, probe_on_record,
					     probe_on_closed };

int
main(int argc, char **argv)
{
	static struct probe p;
	static uint8_t csr[CSR_DER_MAX];
	struct sockaddr_storage to;
	struct tls_ctx *tls;
	int n, count = argc == 8 ? atoi(argv[7]) : 1;

	if (argc < 7 || argc > 8 || config_endpoint_parse(argv[1], &to) || count < 1) {
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
	p.enrol.type = CTL_ENROL;
	snprintf(p.enrol.u.enrol.identity, sizeof(p.enrol.u.enrol.identity), "%s", argv[2]);
	p.enrol.u.enrol.method =
	    !strcmp(argv[5], "password") ? CTL_ENROL_PASSWORD : CTL_ENROL_INVITE;
	snprintf(p.enrol.u.enrol.secret, sizeof(p.enrol.u.enrol.secret), "%s", argv[6]);
	p.enrol.u.enrol.csr = csr;
	p.enrol.u.enrol.csr_len = (size_t)n;
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
	return p.last_ok ? 0 : 1;
}
