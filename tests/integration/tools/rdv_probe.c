// SPDX-License-Identifier: MIT
/*
 * rdv_probe ADDR:PORT KEY CERT DOMAIN CA-CERT
 *
 * An agent's end of the rendezvous and relay records, for the tests (rendezvous_server.sh):
 * connects to the server of DOMAIN at ADDR:PORT (verified as server@DOMAIN against CA-CERT)
 * with KEY and CERT, says HELLO as an agent, then sends what standard input says, one command
 * a line, and prints every record the server sends, one a line, flushed at once:
 *
 *   in:  contact FROM TO PURPOSE TTL ID
 *        answer FROM TO PURPOSE VERDICT PROTO PORT ID   (VERDICT by name: approved, revoked...)
 *        frame FROM TO HEX
 *        relay FROM TO CHANNEL FLAGS HEX                (FLAGS: the number; HEX may be "-")
 *        offer FROM TO
 *        ping N                                         (answered "pong N": a barrier)
 *   out: self IDENTITY FPR        (the certificate it presents, as the server will see it)
 *        hello NAME               (the server's HELLO: from now on records flow)
 *        contact id=ID from=F to=T purpose=P ttl=S fpr=FPR
 *        answer id=ID from=F to=T purpose=P verdict=V proto=N port=N
 *        frame from=F to=T data=HEX
 *        relay from=F to=T channel=N flags=N data=HEX
 *        offer from=F to=T count=N
 *        pong N | error NAME: MESSAGE | closed: WHY
 *
 * FROM may be "me" (its own identity). Standard input at its end closes the connection. Exit 0
 * after a clean end, 1 if the connection closed first, 2 on a usage or set-up error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/stream.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/sockaddr.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"

enum { PROBE_LINE_MAX = 2 * CTL_RELAY_DATA_MAX + 1024 };

struct rdv_probe {
	struct ev_loop *loop;
	struct stream *s;
	struct ev_io in;
	char self[CTL_STR_MAX + 1];
	char line[PROBE_LINE_MAX];
	size_t nline;
	uint8_t data[CTL_RELAY_DATA_MAX];
	bool up, done;
	int rc;
};

static void
probe_hex(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	if (!n)
		printf("-");
}

static size_t
probe_unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	if (!strcmp(s, "-"))
		return 0;
	while (s[0] && s[1] && n < cap) {
		unsigned v;

		if (sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static void
probe_print(const struct ctlmsg *m)
{
	char fpr[80];

	switch (m->type) {
	case CTL_HELLO:
		printf("hello %s\n", m->u.hello.name);
		break;
	case CTL_CONTACT:
		cert_fpr_format(m->u.contact.fpr, fpr, sizeof(fpr));
		printf("contact id=%llu from=%s to=%s purpose=%s ttl=%u fpr=%s\n",
		       (unsigned long long)m->u.contact.id, m->u.contact.from, m->u.contact.to,
		       m->u.contact.purpose, m->u.contact.ttl, fpr);
		break;
	case CTL_ANSWER:
		printf("answer id=%llu from=%s to=%s purpose=%s verdict=%s proto=%u port=%u\n",
		       (unsigned long long)m->u.answer.id, m->u.answer.from, m->u.answer.to,
		       m->u.answer.purpose, ctlmsg_verdict_name(m->u.answer.verdict),
		       m->u.answer.proto, m->u.answer.port);
		break;
	case CTL_RELAY_FRAME:
		printf("frame from=%s to=%s data=", m->u.frame.from, m->u.frame.to);
		probe_hex(m->u.frame.frame, m->u.frame.frame_len);
		printf("\n");
		break;
	case CTL_RELAY:
		printf("relay from=%s to=%s channel=%u flags=%u data=", m->u.relay.from,
		       m->u.relay.to, m->u.relay.channel, m->u.relay.flags);
		probe_hex(m->u.relay.data, m->u.relay.data_len);
		printf("\n");
		break;
	case CTL_OFFER:
		printf("offer from=%s to=%s count=%u\n", m->u.offer.from, m->u.offer.to,
		       m->u.offer.count);
		break;
	case CTL_PONG:
		printf("pong %llu\n", (unsigned long long)m->u.ping.nonce);
		break;
	case CTL_ERROR:
		printf("error %s: %s\n", ctlmsg_error_name(m->u.error.code), m->u.error.message);
		break;
	default:
		printf("other %s\n", ctlmsg_type_name(m->type));
	}
	fflush(stdout);
}

static uint8_t
probe_verdict(const char *name)
{
	for (uint8_t v = 1; v <= CTL_VERDICT_LAST; v++)
		if (!strcmp(ctlmsg_verdict_name(v), name))
			return v;
	return 0;
}

static void
probe_name(struct rdv_probe *p, const char *in, char out[CTL_STR_MAX + 1])
{
	snprintf(out, CTL_STR_MAX + 1, "%s", strcmp(in, "me") ? in : p->self);
}

/* One command line into m; false (said on stderr) if it is not one. */
static bool
probe_parse(struct rdv_probe *p, char *line, struct ctlmsg *m)
{
	char *w[9] = { 0 }, *save = NULL;
	int n = 0;

	for (char *t = strtok_r(line, " \t", &save); t && n < 9; t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	memset(m, 0, sizeof(*m));
	if (n == 6 && !strcmp(w[0], "contact")) {
		m->type = CTL_CONTACT;
		probe_name(p, w[1], m->u.contact.from);
		probe_name(p, w[2], m->u.contact.to);
		snprintf(m->u.contact.purpose, sizeof(m->u.contact.purpose), "%s", w[3]);
		m->u.contact.ttl = (uint16_t)atoi(w[4]);
		m->u.contact.id = strtoull(w[5], NULL, 10);
	} else if (n == 8 && !strcmp(w[0], "answer")) {
		m->type = CTL_ANSWER;
		probe_name(p, w[1], m->u.answer.from);
		probe_name(p, w[2], m->u.answer.to);
		snprintf(m->u.answer.purpose, sizeof(m->u.answer.purpose), "%s",
			 strcmp(w[3], "-") ? w[3] : "");
		m->u.answer.verdict = probe_verdict(w[4]);
		m->u.answer.proto = (uint8_t)atoi(w[5]);
		m->u.answer.port = (uint16_t)atoi(w[6]);
		m->u.answer.id = strtoull(w[7], NULL, 10);
	} else if (n == 4 && !strcmp(w[0], "frame")) {
		m->type = CTL_RELAY_FRAME;
		probe_name(p, w[1], m->u.frame.from);
		probe_name(p, w[2], m->u.frame.to);
		m->u.frame.frame = p->data;
		m->u.frame.frame_len = probe_unhex(w[3], p->data, sizeof(p->data));
	} else if (n == 6 && !strcmp(w[0], "relay")) {
		m->type = CTL_RELAY;
		probe_name(p, w[1], m->u.relay.from);
		probe_name(p, w[2], m->u.relay.to);
		m->u.relay.channel = (uint32_t)strtoul(w[3], NULL, 10);
		m->u.relay.flags = (uint8_t)atoi(w[4]);
		m->u.relay.data = p->data;
		m->u.relay.data_len = probe_unhex(w[5], p->data, sizeof(p->data));
	} else if (n == 3 && !strcmp(w[0], "offer")) {
		m->type = CTL_OFFER;
		probe_name(p, w[1], m->u.offer.from);
		probe_name(p, w[2], m->u.offer.to);
		m->u.offer.generation = 1;
		m->u.offer.count = 1;
		m->u.offer.cand[0] = (struct ctl_candidate){
			.kind = CTL_CAND_HOST, .proto = 17, .family = 4, .port = 4800, .priority = 1
		};
		memcpy(m->u.offer.cand[0].addr, (uint8_t[]){ 198, 18, 0, 1 }, 4);
	} else if (n == 2 && !strcmp(w[0], "ping")) {
		m->type = CTL_PING;
		m->u.ping.nonce = strtoull(w[1], NULL, 10);
	} else {
		fprintf(stderr, "rdv_probe: not a command: %s\n", w[0] ? w[0] : "(empty)");
		return false;
	}
	return true;
}

static void
probe_command(struct rdv_probe *p, char *line)
{
	struct ctlmsg m;

	if (!line[0] || !probe_parse(p, line, &m) || !p->s)
		return;
	if (!stream_send_msg(p->s, &m))
		fprintf(stderr, "rdv_probe: cannot send %s (out of range, or no room)\n",
			ctlmsg_type_name(m.type));
}

static void
probe_on_stdin(struct ev_io *io, uint32_t revents)
{
	struct rdv_probe *p = container_of(io, struct rdv_probe, in);
	char buf[8192];
	ssize_t n = read(io->fd, buf, sizeof(buf));

	(void)revents;
	if (n <= 0) {
		ev_io_stop(p->loop, io);
		p->done = true;
		if (p->s)
			stream_close(p->s, "end of input");
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (p->nline + 1 < sizeof(p->line))
				p->line[p->nline++] = buf[i];
			continue;
		}
		p->line[p->nline] = '\0';
		p->nline = 0;
		probe_command(p, p->line);
	}
}

static void
rdvp_on_established(struct stream *s)
{
	struct rdv_probe *p = stream_arg(s);
	struct ctlmsg hello = { .type = CTL_HELLO };

	hello.u.hello.version = CTL_VERSION;
	hello.u.hello.role = CTL_ROLE_AGENT;
	snprintf(hello.u.hello.name, sizeof(hello.u.hello.name), "%s", p->self);
	stream_send_msg(s, &hello);
	stream_set_deadline(s, 0);
}

static bool
rdvp_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct rdv_probe *p = stream_arg(s);
	struct ctlmsg m;

	if (!ctlmsg_is_known(type) || !ctlmsg_decode(type, body, len, &m)) {
		printf("undecodable %u\n", type);
		fflush(stdout);
		return true;
	}
	probe_print(&m);
	if (type == CTL_HELLO && !p->up) {
		p->up = true;
		ev_io_start(p->loop, &p->in, 0, EV_READ, probe_on_stdin);
	}
	return true;
}

static void
rdvp_on_closed(struct stream *s, const char *why)
{
	struct rdv_probe *p = stream_arg(s);

	p->s = NULL;
	if (!p->done) {
		printf("closed: %s\n", why);
		p->rc = 1;
	}
	fflush(stdout);
	ev_loop_break(p->loop);
}

static const struct stream_ops rdv_probe_ops = {
	.on_established = rdvp_on_established,
	.on_record = rdvp_on_record,
	.on_closed = rdvp_on_closed,
};

static int
rdvp_tls(const char *key, const char *cert, const char *domain, const char *ca,
	 struct cert_trust **trust, struct tls_ctx **tls)
{
	if (cert_trust_new(trust) || cert_trust_add(*trust, domain, ca)) {
		fprintf(stderr, "rdv_probe: %s: not the CA of %s\n", ca, domain);
		return -1;
	}
	if (tls_ctx_new(tls, key, cert, *trust)) {
		fprintf(stderr, "rdv_probe: cannot load %s and %s: %s\n", key, cert,
			cert_strerror());
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct rdv_probe p;
	char server[IDENTITY_STR_MAX], fpr[80];
	struct sockaddr_storage to;
	struct cert_trust *trust = NULL;
	struct tls_ctx *tls = NULL;
	int rc = 2;

	if (argc != 6 || sockaddr_parse(argv[1], &to)) {
		fprintf(stderr, "usage: rdv_probe ADDR:PORT KEY CERT DOMAIN CA-CERT\n");
		return 2;
	}
	log_init("rdv_probe");
	log_set_quiet(true);
	snprintf(server, sizeof(server), "server@%s", argv[4]);
	if (ev_loop_new(&p.loop) || rdvp_tls(argv[2], argv[3], argv[4], argv[5], &trust, &tls))
		goto out;
	snprintf(p.self, sizeof(p.self), "%s", tls_ctx_identity(tls));
	cert_fpr_format(tls_ctx_cert(tls)->fpr, fpr, sizeof(fpr));
	printf("self %s %s\n", p.self, fpr);
	fflush(stdout);
	if (stream_connect(&p.s, p.loop, tls, &to, argv[4], server, &rdv_probe_ops, &p)) {
		printf("closed: cannot connect\n");
		rc = 1;
		goto out;
	}
	ev_run(p.loop);
	rc = p.rc;
out:
	tls_ctx_free(tls);
	cert_trust_free(trust);
	ev_loop_free(p.loop);
	return rc;
}
