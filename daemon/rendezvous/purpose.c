// SPDX-License-Identifier: MIT
/*
 * Purposes: their grammar and who may ask for them (purpose.h).
 */
#include "rendezvous/purpose.h"

#include "core/sockaddr.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

bool
purpose_name_is_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > IDENTITY_PURPOSE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return false;
	return true;
}

const char *
purpose_proto_name(uint8_t proto)
{
	return proto == PURPOSE_UDP ? "udp" : "tcp";
}

/* "tcp/22": digits only, 1..65535. */
static int
purpose_parse_port(struct purpose *p, const char *s, const char **why)
{
	const char *slash = strchr(s, '/');
	unsigned long v = 0;

	if (!slash) {
		*why = "expected PROTO/PORT, e.g. tcp/22";
		return -EINVAL;
	}
	if ((size_t)(slash - s) == 3 && !strncmp(s, "tcp", 3))
		p->proto = PURPOSE_TCP;
	else if ((size_t)(slash - s) == 3 && !strncmp(s, "udp", 3))
		p->proto = PURPOSE_UDP;
	else {
		*why = "unknown protocol (tcp or udp)";
		return -EINVAL;
	}
	s = slash + 1;
	if (!*s || strlen(s) > 5) {
		*why = "port is not a number from 1 to 65535";
		return -EINVAL;
	}
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9') {
			*why = "port is not a number from 1 to 65535";
			return -EINVAL;
		}
		v = v * 10 + (unsigned long)(*c - '0');
	}
	if (v < 1 || v > 65535) {
		*why = "port is not a number from 1 to 65535";
		return -EINVAL;
	}
	p->port = (uint16_t)v;
	return 0;
}

/* One WHO of an allow list, normalised into out. */
static int
purpose_parse_who(const char *who, char out[IDENTITY_STR_MAX], const char **why)
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
	return identity_format(&id, out, IDENTITY_STR_MAX) ? -EINVAL : 0;
}

static int
purpose_parse_allow(struct purpose *p, const char *list, const char **why)
{
	char buf[1024], *save = NULL;

	if (strlen(list) >= sizeof(buf)) {
		*why = "allow list too long";
		return -EINVAL;
	}
	strcpy(buf, list);
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "anyone")) {
			if (strchr(list, ',')) {
				*why = "'anyone' cannot be combined with others";
				return -EINVAL;
			}
			p->nallow = 0;
			return 0;
		}
		if (p->nallow == PURPOSE_ALLOW_MAX) {
			*why = "more than 16 entries in the allow list";
			return -EINVAL;
		}
		if (purpose_parse_who(w, p->allow[p->nallow], why))
			return -EINVAL;
		for (size_t i = 0; i < p->nallow; i++)
			if (!strcmp(p->allow[i], p->allow[p->nallow])) {
				*why = "an entry appears twice in the allow list";
				return -EINVAL;
			}
		p->nallow++;
	}
	if (!p->nallow) {
		*why = "empty allow list";
		return -EINVAL;
	}
	return 0;
}

/* "-> 127.0.0.1:8080": a numeric address and port, of the purpose's own kind of traffic. */
static int
purpose_parse_target(struct purpose *p, const char *s, const char **why)
{
	if (sockaddr_parse(s, &p->target) < 0) {
		*why = "a local target is a numeric A.B.C.D:PORT or [IPv6]:PORT";
		return -EINVAL;
	}
	if (((struct sockaddr_in *)&p->target)->sin_port == 0) { /* same offset in sin6 */
		*why = "a local target's port is a number from 1 to 65535";
		return -EINVAL;
	}
	return 0;
}

int
purpose_parse(struct purpose *p, char **argv, size_t argc, const char **why)
{
	bool saw_allow = false;

	memset(p, 0, sizeof(*p));
	if (argc < 2) {
		*why = "expected NAME PROTO/PORT [-> ADDR:PORT] [allow WHO,...] [auto-approve]";
		return -EINVAL;
	}
	if (!purpose_name_is_valid(argv[0])) {
		*why = "a purpose name is 1-32 characters from a-z 0-9 -";
		return -EINVAL;
	}
	strcpy(p->name, argv[0]);
	if (purpose_parse_port(p, argv[1], why))
		return -EINVAL;
	for (size_t i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "->") && i == 2) {
			if (i + 1 >= argc) {
				*why = "a local target is a numeric A.B.C.D:PORT or [IPv6]:PORT "
				       "after '->'";
				return -EINVAL;
			}
			if (purpose_parse_target(p, argv[++i], why))
				return -EINVAL;
		} else if (!strcmp(argv[i], "auto-approve") && !p->auto_approve) {
			p->auto_approve = true;
		} else if (!strcmp(argv[i], "allow") && !saw_allow) {
			if (i + 1 >= argc) {
				*why =
				    "allow needs a list: anyone, @DOMAIN or USER@DOMAIN, by commas";
				return -EINVAL;
			}
			saw_allow = true;
			if (purpose_parse_allow(p, argv[++i], why))
				return -EINVAL;
		} else {
			*why = "unexpected or repeated word (-> ADDR:PORT first, allow LIST, "
			       "auto-approve)";
			return -EINVAL;
		}
	}
	return 0;
}

bool
purpose_allows(const struct purpose *p, const char *identity)
{
	const char *dom = identity_domain_of(identity);

	if (!p->nallow)
		return true;
	for (size_t i = 0; i < p->nallow; i++) {
		if (p->allow[i][0] == '@' && dom && !strcmp(p->allow[i] + 1, dom))
			return true;
		if (!strcmp(p->allow[i], identity))
			return true;
	}
	return false;
}

void
purpose_print(const struct purpose *p, FILE *f)
{
	fprintf(f, "%s %s/%u", p->name, purpose_proto_name(p->proto), p->port);
	if (purpose_has_target(p)) {
		char buf[SOCKADDR_STR_MAX];

		sockaddr_format(&p->target, buf, sizeof(buf));
		fprintf(f, " -> %s", buf);
	}
	for (size_t i = 0; i < p->nallow; i++)
		fprintf(f, "%s%s", i ? "," : " allow ", p->allow[i]);
	if (p->auto_approve)
		fprintf(f, " auto-approve");
}

const struct purpose *
purpose_find(const struct purpose *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i].name, name))
			return &list[i];
	return NULL;
}

bool
purpose_has_target(const struct purpose *p)
{
	return p->target.ss_family == AF_INET || p->target.ss_family == AF_INET6;
}
