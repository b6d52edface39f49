// SPDX-License-Identifier: MIT
/*
 * The rendezvous verbs of the control socket (ctl_rdv.h): arguments checked by the grammar,
 * then the rendezvous module asked or told; facts out, presentation in the CLI.
 */
#include "agent/ctl_rdv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "core/ev.h"
#include "peer/peer.h"
#include "proto/ctlmsg.h"
#include "rendezvous/rendezvous.h"
#include "store/store.h"
#include "trust/identity.h"

/* IDENTITY (a bare user@domain) into out, normalised; else an error line. */
static bool
ctl_rdv_identity(const char *arg, char out[IDENTITY_STR_MAX], FILE *f)
{
	struct identity id;
	const char *why = "?";

	if (identity_parse(arg, IDENTITY_PURPOSE_FORBIDDEN, &id, &why) ||
	    identity_format(&id, out, IDENTITY_STR_MAX)) {
		fprintf(f, "error %s: %s\n", arg, why);
		return false;
	}
	return true;
}

/* PURPOSE, or * when star_ok (then *out is NULL). */
static bool
ctl_rdv_purpose(const char *arg, bool star_ok, const char **out, FILE *f)
{
	if (star_ok && !strcmp(arg, "*")) {
		*out = NULL;
		return true;
	}
	if (!purpose_name_is_valid(arg)) {
		fprintf(f, "error %s: a purpose is 1-32 characters from a-z 0-9 -%s\n", arg,
			star_ok ? " (or * for all)" : "");
		return false;
	}
	*out = arg;
	return true;
}

static bool
ctl_rdv_enabled(struct agent *a, FILE *f)
{
	if (a->rdv)
		return true;
	fputs("error rendezvous needs a home server (`server` in the config)\n", f);
	return false;
}

/* The overlay addresses of peer, as facts. */
static void
ctl_rdv_addresses(struct agent *a, const char *peer, FILE *f)
{
	struct peer *p = peer_find(a->peers, peer);
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];

	if (!p)
		return;
	inet_ntop(AF_INET, p->map.peer_view4, a4, sizeof(a4));
	inet_ntop(AF_INET6, p->map.peer_view6, a6, sizeof(a6));
	fprintf(f, "overlay4 %s\noverlay6 %s\n", a4, a6);
}

static void
ctl_rdv_outgoing_facts(struct agent *a, const struct rdv_outgoing *o, FILE *f)
{
	char msg[512];

	rdv_describe(o, msg, sizeof(msg));
	fprintf(f, "state %s\nmessage %s\n",
		o->state == RDV_PENDING ? "pending" : ctlmsg_verdict_name((uint8_t)o->state), msg);
	if (o->state == CTL_VERDICT_APPROVED) {
		fprintf(f, "proto %s\nport %u\n", purpose_proto_name(o->proto), o->port);
		ctl_rdv_addresses(a, o->to, f);
	}
}

void
ctl_rdv_connect(struct agent *a, char **arg, FILE *f)
{
	char to[IDENTITY_STR_MAX];
	const char *purpose, *why = "?";
	unsigned long ttl;
	char *end;
	int rc;

	if (!ctl_rdv_enabled(a, f) || !ctl_rdv_identity(arg[0], to, f) ||
	    !ctl_rdv_purpose(arg[1], false, &purpose, f))
		return;
	ttl = strtoul(arg[2], &end, 10);
	if (*end || !*arg[2] || ttl < 1 || ttl > CTL_CONTACT_TTL_MAX) {
		fprintf(f, "error %s: the wait is 1 to %d seconds\n", arg[2], CTL_CONTACT_TTL_MAX);
		return;
	}
	rc = rdv_ask(a->rdv, to, purpose, (unsigned)ttl, &why);
	if (rc < 0) {
		fprintf(f, "error %s\n", why);
		return;
	}
	ctl_rdv_outgoing_facts(a, rdv_outgoing(a->rdv, to, purpose), f);
}

void
ctl_rdv_request(struct agent *a, char **arg, FILE *f)
{
	char to[IDENTITY_STR_MAX];
	const char *purpose;
	const struct rdv_outgoing *o;

	if (!ctl_rdv_enabled(a, f) || !ctl_rdv_identity(arg[0], to, f) ||
	    !ctl_rdv_purpose(arg[1], false, &purpose, f))
		return;
	if (!(o = rdv_outgoing(a->rdv, to, purpose))) {
		fprintf(f, "error no request to %s for %s\n", to, purpose);
		return;
	}
	ctl_rdv_outgoing_facts(a, o, f);
}

struct ctl_rdv_each {
	struct agent *a;
	FILE *f;
};

static void
ctl_rdv_incoming_one(const struct rdv_incoming *e, void *arg)
{
	struct ctl_rdv_each *c = arg;
	uint64_t now = ev_now_ms(c->a->loop);

	fprintf(c->f, "incoming %s\npurpose %s\nfpr ", e->from, e->purpose);
	for (int i = 0; i < 32; i++)
		fprintf(c->f, "%02x", e->fpr[i]);
	fprintf(c->f, "\nreceived %lld\nexpires_in %llu\n", (long long)e->received,
		(unsigned long long)(e->ends_ms > now ? (e->ends_ms - now) / 1000 : 0));
}

static void
ctl_rdv_outgoing_one(const struct rdv_outgoing *o, void *arg)
{
	struct ctl_rdv_each *c = arg;

	fprintf(c->f, "outgoing %s\npurpose %s\n", o->to, o->purpose);
	ctl_rdv_outgoing_facts(c->a, o, c->f);
}

void
ctl_rdv_requests(struct agent *a, char **arg, FILE *f)
{
	struct ctl_rdv_each c = { a, f };

	(void)arg;
	if (!ctl_rdv_enabled(a, f))
		return;
	rdv_incoming_each(a->rdv, ctl_rdv_incoming_one, &c);
	rdv_outgoing_each(a->rdv, ctl_rdv_outgoing_one, &c);
}

typedef int (*ctl_rdv_decide_fn)(struct rdv *, const char *, const char *, const char **);

static void
ctl_rdv_decide(struct agent *a, char **arg, FILE *f, ctl_rdv_decide_fn fn, const char *done)
{
	char who[IDENTITY_STR_MAX];
	const char *purpose, *why = "?";

	if (!ctl_rdv_enabled(a, f) || !ctl_rdv_identity(arg[0], who, f) ||
	    !ctl_rdv_purpose(arg[1], true, &purpose, f))
		return;
	if (fn(a->rdv, who, purpose, &why)) {
		fprintf(f, "error %s\n", why);
		return;
	}
	fprintf(f, "%s %s\npurpose %s\n", done, who, purpose ? purpose : "*");
}

void
ctl_rdv_approve(struct agent *a, char **arg, FILE *f)
{
	ctl_rdv_decide(a, arg, f, rdv_approve, "approved");
}

void
ctl_rdv_deny(struct agent *a, char **arg, FILE *f)
{
	ctl_rdv_decide(a, arg, f, rdv_deny, "denied");
}

void
ctl_rdv_revoke(struct agent *a, char **arg, FILE *f)
{
	ctl_rdv_decide(a, arg, f, rdv_revoke, "revoked");
}

void
ctl_rdv_resolve(struct agent *a, char **arg, FILE *f)
{
	char to[IDENTITY_STR_MAX];
	const char *purpose;
	struct store_approval ap;

	if (!ctl_rdv_identity(arg[0], to, f) || !ctl_rdv_purpose(arg[1], false, &purpose, f))
		return;
	if (store_approval_get(a->store, to, purpose, STORE_APPROVAL_OUT, &ap) ||
	    !peer_find(a->peers, to)) {
		fprintf(f, "error %s has not approved %s for us (ask: vertex connect %s/%s)\n", to,
			purpose, to, purpose);
		return;
	}
	fprintf(f, "peer %s\npurpose %s\nproto %s\nport %u\n", to, purpose,
		purpose_proto_name(ap.proto), ap.port);
	ctl_rdv_addresses(a, to, f);
}

struct ctl_rdv_dirs {
	char in[1024], out[1024];
};

static int
ctl_rdv_collect(const struct store_approval *ap, void *arg)
{
	struct ctl_rdv_dirs *d = arg;
	char *s = ap->dir == STORE_APPROVAL_IN ? d->in : d->out;
	size_t n = strlen(s);

	snprintf(s + n, sizeof(d->in) - n, "%s%s(%s/%u)", n ? " " : "", ap->purpose,
		 purpose_proto_name(ap->proto), ap->port);
	return 0;
}

void
ctl_rdv_peer_facts(struct agent *a, const struct peer *p, FILE *f)
{
	struct ctl_rdv_dirs d = { "", "" };

	store_approval_each(a->store, p->identity, ctl_rdv_collect, &d);
	fprintf(f, "approved_in %s\napproved_out %s\n", d.in[0] ? d.in : "-",
		d.out[0] ? d.out : "-");
}
