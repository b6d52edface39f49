// SPDX-License-Identifier: MIT
/*
 * The firewall's policy: the extra rules' grammar and, per peer, what it may reach (policy.h).
 */
#include "policy/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Strict decimal 1..65535, digits only. */
static bool
policy_parse_port(const char *s, size_t n, uint16_t *out)
{
	unsigned long v = 0;

	if (n < 1 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* "tcp/8000-8100" or "udp/53". */
static int
policy_parse_ports(struct policy_rule *r, const char *s, const char **why)
{
	const char *slash = strchr(s, '/'), *dash;

	if (slash && slash - s == 3 && !strncmp(s, "tcp", 3))
		r->proto = PURPOSE_TCP;
	else if (slash && slash - s == 3 && !strncmp(s, "udp", 3))
		r->proto = PURPOSE_UDP;
	else {
		*why = "expected tcp/PORT[-PORT] or udp/PORT[-PORT]";
		return -EINVAL;
	}
	s = slash + 1;
	dash = strchr(s, '-');
	if (!dash) {
		if (!policy_parse_port(s, strlen(s), &r->lo))
			goto bad;
		r->hi = r->lo;
		return 0;
	}
	if (!policy_parse_port(s, (size_t)(dash - s), &r->lo) ||
	    !policy_parse_port(dash + 1, strlen(dash + 1), &r->hi))
		goto bad;
	if (r->lo > r->hi) {
		*why = "a port range goes from low to high (8000-8100)";
		return -EINVAL;
	}
	return 0;
bad:
	*why = "a port is a number from 1 to 65535";
	return -EINVAL;
}

/* USER@DOMAIN or @DOMAIN, normalised into out. */
static int
policy_parse_who(const char *who, char out[IDENTITY_STR_MAX], const char **why)
{
	struct identity id;

	if (who[0] == '@') {
		char dom[IDENTITY_DOMAIN_MAX + 1];

		if (!identity_domain_canon(who + 1, dom, why))
			return -EINVAL;
		snprintf(out, IDENTITY_STR_MAX, "@%s", dom);
		return 0;
	}
	if (identity_parse(who, IDENTITY_PURPOSE_FORBIDDEN, &id, why))
		return -EINVAL;
	if (identity_format(&id, out, IDENTITY_STR_MAX)) {
		*why = "identity too long";
		return -EINVAL;
	}
	return 0;
}

static int
policy_parse_rule(struct policy_rule *r, char **argv, size_t argc, const char **why)
{
	memset(r, 0, sizeof(*r));
	if (!strcmp(argv[0], "allow")) {
		if (argc != 3) {
			*why = "expected allow USER@DOMAIN|@DOMAIN tcp|udp/PORT[-PORT]";
			return -EINVAL;
		}
		r->kind = POLICY_RULE_ALLOW;
		if (policy_parse_who(argv[1], r->who, why))
			return -EINVAL;
		return policy_parse_ports(r, argv[2], why);
	}
	if (!strcmp(argv[0], "outbound-only")) {
		if (argc != 2) {
			*why = "expected outbound-only USER@DOMAIN|@DOMAIN";
			return -EINVAL;
		}
		r->kind = POLICY_RULE_OUTBOUND_ONLY;
		return policy_parse_who(argv[1], r->who, why);
	}
	*why = "expected icmp-echo on|off, allow WHO PROTO/PORT[-PORT] or outbound-only WHO";
	return -EINVAL;
}

int
policy_config_parse(struct policy_config *pc, char **argv, size_t argc, const char **why)
{
	struct policy_rule r;

	if (argc < 1) {
		*why =
		    "expected icmp-echo on|off, allow WHO PROTO/PORT[-PORT] or outbound-only WHO";
		return -EINVAL;
	}
	if (!strcmp(argv[0], "icmp-echo")) {
		if (argc != 2 || (strcmp(argv[1], "on") && strcmp(argv[1], "off"))) {
			*why = "expected icmp-echo on|off";
			return -EINVAL;
		}
		pc->icmp_echo_off = !strcmp(argv[1], "off");
		return 0;
	}
	if (policy_parse_rule(&r, argv, argc, why))
		return -EINVAL;
	for (size_t i = 0; i < pc->nrules; i++)
		if (!memcmp(&pc->rules[i], &r, sizeof(r))) {
			*why = "the same rule is given twice";
			return -EINVAL;
		}
	if (pc->nrules == POLICY_RULES_MAX) {
		*why = "more than 64 firewall rules";
		return -EINVAL;
	}
	pc->rules[pc->nrules++] = r;
	return 0;
}

void
policy_config_print(const struct policy_config *pc, FILE *f)
{
	if (pc->icmp_echo_off)
		fprintf(f, "firewall icmp-echo off\n");
	for (size_t i = 0; i < pc->nrules; i++) {
		const struct policy_rule *r = &pc->rules[i];

		if (r->kind == POLICY_RULE_OUTBOUND_ONLY) {
			fprintf(f, "firewall outbound-only %s\n", r->who);
			continue;
		}
		fprintf(f, "firewall allow %s %s/%u", r->who, purpose_proto_name(r->proto), r->lo);
		if (r->hi != r->lo)
			fprintf(f, "-%u", r->hi);
		fprintf(f, "\n");
	}
}

bool
policy_config_equal(const struct policy_config *a, const struct policy_config *b)
{
	if (a->icmp_echo_off != b->icmp_echo_off || a->nrules != b->nrules)
		return false;
	for (size_t i = 0; i < a->nrules; i++)
		if (memcmp(&a->rules[i], &b->rules[i], sizeof(a->rules[i])))
			return false;
	return true;
}

bool
policy_who_matches(const char *who, const char *identity)
{
	const char *dom = identity_domain_of(identity);

	if (who[0] == '@')
		return dom && !strcmp(who + 1, dom);
	return !strcmp(who, identity);
}

static int
policy_port_cmp(const void *x, const void *y)
{
	const struct policy_port *a = x, *b = y;

	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	return strcmp(a->source, b->source);
}

static int
policy_peer_add_port(struct policy_peer *pp, uint8_t proto, uint16_t lo, uint16_t hi,
		     const char *source)
{
	struct policy_port *p;

	for (size_t i = 0; i < pp->nports; i++)
		if (pp->ports[i].proto == proto && pp->ports[i].lo == lo && pp->ports[i].hi == hi)
			return 0; /* the first source in order is kept */
	if (pp->nports == POLICY_PORTS_MAX)
		return -E2BIG;
	p = &pp->ports[pp->nports++];
	p->proto = proto;
	p->lo = lo;
	p->hi = hi;
	snprintf(p->source, sizeof(p->source), "%s", source);
	return 0;
}

/* Sorted; a range given twice is kept once, with the first source in order. */
static void
policy_peer_sort(struct policy_peer *pp)
{
	size_t n = 0;

	qsort(pp->ports, pp->nports, sizeof(pp->ports[0]), policy_port_cmp);
	for (size_t i = 0; i < pp->nports; i++) {
		if (n && pp->ports[n - 1].proto == pp->ports[i].proto &&
		    pp->ports[n - 1].lo == pp->ports[i].lo &&
		    pp->ports[n - 1].hi == pp->ports[i].hi)
			continue;
		pp->ports[n++] = pp->ports[i];
	}
	pp->nports = n;
}

int
policy_peer_build(struct policy_peer *out, const struct policy_config *pc,
		  const struct purpose *purposes, size_t npurposes,
		  const struct policy_peer_facts *facts)
{
	int err;

	memset(out, 0, sizeof(*out));
	snprintf(out->identity, sizeof(out->identity), "%s", facts->identity);
	out->index = facts->index;
	memcpy(out->addr4, facts->addr4, 4);
	memcpy(out->addr6, facts->addr6, 16);
	for (size_t i = 0; i < pc->nrules; i++)
		if (pc->rules[i].kind == POLICY_RULE_OUTBOUND_ONLY &&
		    policy_who_matches(pc->rules[i].who, facts->identity)) {
			out->outbound_only = true;
			return 0;
		}
	if (facts->configured) {
		out->all = true;
		return 0;
	}
	for (size_t i = 0; i < facts->napproved; i++) {
		const struct purpose *p = purpose_find(purposes, npurposes, facts->approved[i]);

		if (p && (err = policy_peer_add_port(out, p->proto, p->port, p->port, p->name)))
			return err;
	}
	for (size_t i = 0; i < pc->nrules; i++) {
		const struct policy_rule *r = &pc->rules[i];

		if (r->kind == POLICY_RULE_ALLOW && policy_who_matches(r->who, facts->identity) &&
		    (err = policy_peer_add_port(out, r->proto, r->lo, r->hi, "")))
			return err;
	}
	policy_peer_sort(out);
	out->icmp_echo = out->nports && !pc->icmp_echo_off;
	return 0;
}

void
policy_peer_print(const struct policy_peer *pp, FILE *f)
{
	if (pp->outbound_only) {
		fprintf(f, "# outbound-only: replies only\n");
		return;
	}
	if (pp->all) {
		fprintf(f, "accept # a peer of the config\n");
		return;
	}
	fprintf(f, "ct state related accept\n");
	for (size_t i = 0; i < pp->nports; i++) {
		const struct policy_port *p = &pp->ports[i];

		fprintf(f, "%s dport %u", purpose_proto_name(p->proto), p->lo);
		if (p->hi != p->lo)
			fprintf(f, "-%u", p->hi);
		fprintf(f, " accept # %s\n", p->source[0] ? p->source : "firewall allow");
	}
	if (pp->icmp_echo)
		fprintf(f, "icmp type echo-request accept\nicmpv6 type echo-request accept\n");
}

bool
policy_peer_equal(const struct policy_peer *a, const struct policy_peer *b)
{
	if (strcmp(a->identity, b->identity) || a->index != b->index ||
	    memcmp(a->addr4, b->addr4, 4) || memcmp(a->addr6, b->addr6, 16) || a->all != b->all ||
	    a->outbound_only != b->outbound_only || a->icmp_echo != b->icmp_echo ||
	    a->nports != b->nports)
		return false;
	for (size_t i = 0; i < a->nports; i++)
		if (policy_port_cmp(&a->ports[i], &b->ports[i]))
			return false;
	return true;
}
