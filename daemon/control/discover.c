// SPDX-License-Identifier: MIT
/*
 * Finding a domain's Vertex server: the SRV records _vertex._tcp.DOMAIN (RFC 2782), else the
 * domain's own A/AAAA on VERTEX_SERVER_PORT.
 *
 * The SRV query goes through glibc's resolver (res_nquery on a per-call resolver state, so the
 * process-wide _res is left alone) with a 2 s timeout and a single attempt; its answer is parsed
 * here, not by ns_initparse, because it is untrusted input and the fuzz target needs the parser
 * alone. Only "the name does not exist" and "no SRV record" lead to the A/AAAA fallback: a DNS
 * server that does not answer is an error, since the SRV record may well exist and guessing
 * would connect agents to the wrong machine (and a second lookup would double the wait).
 *
 * Order: priority ascending, then weight descending, then the order of the answer. This is
 * deterministic rather than RFC 2782's weighted random pick among equal priorities: an agent
 * reconnects rarely and tries every result in turn, predictable behaviour is what an operator
 * debugging "which server did it pick" wants, and tests can assert it. The cost is that equal-
 * priority servers are not load-spread by weight; a random pick can replace srv_insert() alone.
 *
 * Target names are resolved with getaddrinfo, so /etc/hosts and nsswitch apply to them, under
 * the system resolver's own timeouts (resolv.conf options).
 */
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "control/discover.h"
#include "core/rbuf.h"

enum {
	DNS_HEADER_LEN = 12,
	DNS_QR_BIT = 0x8000,
	DNS_TYPE_SRV = 33,
	DNS_CLASS_IN = 1,
	DNS_NAME_WIRE_MAX = 255,   /* RFC 1035 §2.3.4, length octets included */
	DNS_LABEL_MAX = 63,        /* larger values are the pointer and reserved label types */
	DNS_PTR_MASK = 0xc0,       /* the two top bits of a length octet that mark a pointer */
	DNS_MAX_PTR_HOPS = 16,     /* pointers followed in one name; also stops any loop */
	SRV_FIXED_LEN = 6,         /* priority, weight, port, before the target */
	DISCOVER_TIMEOUT_SEC = 2,  /* per SRV query */
	DISCOVER_ATTEMPTS = 1,     /* queries per name server */
	DISCOVER_ANSWER_MAX = 4096 /* larger answers are refused as malformed */
};

/* What a parse found: results in out, plus records that say "no service here" (target "."). */
struct srv_parse {
	struct discover_result *out;
	size_t max, count;
	size_t refusals;
};

static bool
dns_label_char_is_valid(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Appends one label to text (dot-separated); false when it does not fit or has a byte that no
 * host name has (a target is handed to getaddrinfo and printed in logs). */
static bool
dns_label_append(char *text, size_t textlen, size_t *pos, const uint8_t *label, size_t n)
{
	size_t need = n + (*pos > 0 ? 1 : 0);

	if (need >= textlen - *pos)
		return false;
	if (*pos > 0)
		text[(*pos)++] = '.';
	for (size_t i = 0; i < n; i++) {
		if (!dns_label_char_is_valid(label[i]))
			return false;
		text[(*pos)++] = (char)label[i];
	}
	text[*pos] = '\0';
	return true;
}

/*
 * Walks the name at *off in msg, following compression pointers (RFC 1035 §4.1.4). On success
 * *off is just past the name as it sits in place (after its first pointer, if any). text, when
 * not NULL, receives the name without its final dot ("" for the root). Termination: a pointer
 * must point strictly before itself and at most DNS_MAX_PTR_HOPS are followed, so a loop is
 * refused, and the uncompressed length is capped at DNS_NAME_WIRE_MAX.
 */
static bool
dns_name_read(const uint8_t *msg, size_t len, size_t *off, char *text, size_t textlen)
{
	size_t pos = *off, wire = 0, tpos = 0, hops = 0;
	bool jumped = false;

	if (text)
		text[0] = '\0';
	for (;;) {
		uint8_t n;

		if (pos >= len)
			return false;
		n = msg[pos];
		if ((n & DNS_PTR_MASK) == DNS_PTR_MASK) {
			size_t target;

			if (pos + 1 >= len || ++hops > DNS_MAX_PTR_HOPS)
				return false;
			target = (size_t)(n & ~DNS_PTR_MASK) << 8 | msg[pos + 1];
			if (target >= pos)
				return false;
			if (!jumped)
				*off = pos + 2;
			jumped = true;
			pos = target;
			continue;
		}
		if (n > DNS_LABEL_MAX)
			return false; /* 0x40 and 0x80: extended and reserved label types */
		wire += 1u + n;
		if (wire > DNS_NAME_WIRE_MAX || n >= len - pos)
			return false;
		if (n == 0)
			break;
		if (text && !dns_label_append(text, textlen, &tpos, msg + pos + 1, n))
			return false;
		pos += 1u + n;
	}
	if (!jumped)
		*off = pos + 1;
	return true;
}

/* Skips the name at the reader's position; the reader covers the whole message from offset 0. */
static bool
dns_name_skip(struct rbuf *r)
{
	size_t off = r->off;

	if (!rbuf_ok(r) || !dns_name_read(r->p, r->len, &off, NULL, 0))
		return false;
	r->off = off;
	return true;
}

static bool
srv_goes_before(const struct discover_result *a, const struct discover_result *b)
{
	if (a->priority != b->priority)
		return a->priority < b->priority;
	return a->weight > b->weight;
}

/* Keeps the best p->max records in order; equal keys keep the answer's order. */
static void
srv_insert(struct srv_parse *p, const struct discover_result *rec)
{
	size_t at = p->count;

	while (at > 0 && srv_goes_before(rec, &p->out[at - 1]))
		at--;
	if (at >= p->max)
		return;
	if (p->count < p->max)
		p->count++;
	memmove(&p->out[at + 1], &p->out[at], (p->count - 1 - at) * sizeof(*rec));
	p->out[at] = *rec;
}

/* The RDATA of one SRV record at the reader's position, rdlen bytes long. */
static bool
srv_rdata_parse(struct rbuf *r, uint16_t rdlen, struct srv_parse *p)
{
	struct discover_result rec;
	size_t start = r->off, end;

	memset(&rec, 0, sizeof(rec));
	rec.addr.ss_family = AF_UNSPEC;
	if (rdlen < SRV_FIXED_LEN + 1 || !rbuf_get_u16(r, &rec.priority) ||
	    !rbuf_get_u16(r, &rec.weight) || !rbuf_get_u16(r, &rec.port))
		return false;
	end = r->off;
	if (!dns_name_read(r->p, r->len, &end, rec.host, sizeof(rec.host)))
		return false;
	if (end - start != rdlen)
		return false; /* the target must fill the RDATA exactly */
	r->off = end;
	if (rec.host[0] == '\0')
		p->refusals++; /* RFC 2782: target "." = decidedly not available */
	else
		srv_insert(p, &rec);
	return true;
}

static bool
srv_answer_rr_parse(struct rbuf *r, struct srv_parse *p)
{
	uint16_t type, class, rdlen;
	uint32_t ttl;

	if (!dns_name_skip(r) || !rbuf_get_u16(r, &type) || !rbuf_get_u16(r, &class) ||
	    !rbuf_get_u32(r, &ttl) || !rbuf_get_u16(r, &rdlen) || rbuf_remaining(r) < rdlen)
		return false;
	if (type != DNS_TYPE_SRV || class != DNS_CLASS_IN)
		return rbuf_skip(r, rdlen); /* CNAME, RRSIG, ...: not ours */
	return srv_rdata_parse(r, rdlen, p);
}

/* Header, question section skipped, answer section parsed; the authority and additional
 * sections are not needed and not read. */
static int
srv_answer_parse(const uint8_t *answer, size_t len, struct srv_parse *p)
{
	uint16_t id, flags, qdcount, ancount, nscount, arcount;
	struct rbuf r;

	rbuf_init(&r, answer, len);
	if (!rbuf_get_u16(&r, &id) || !rbuf_get_u16(&r, &flags) || !rbuf_get_u16(&r, &qdcount) ||
	    !rbuf_get_u16(&r, &ancount) || !rbuf_get_u16(&r, &nscount) ||
	    !rbuf_get_u16(&r, &arcount) || !(flags & DNS_QR_BIT))
		return -EINVAL;
	for (unsigned i = 0; i < qdcount; i++) {
		if (!dns_name_skip(&r) || !rbuf_skip(&r, 4)) /* QTYPE, QCLASS */
			return -EINVAL;
	}
	for (unsigned i = 0; i < ancount; i++) {
		if (!srv_answer_rr_parse(&r, p))
			return -EINVAL;
	}
	return (int)p->count;
}

int
discover_parse_srv(const uint8_t *answer, size_t len, struct discover_result *out, size_t max)
{
	struct srv_parse p = { .out = out, .max = max };

	if (!answer && len > 0)
		return -EINVAL;
	return srv_answer_parse(answer, len, &p);
}

/* Adds one result per address of host, with port; returns how many were added or an EAI_ code
 * (negative) when the name has no address. */
static int
discover_resolve(const char *host, uint16_t port, const struct discover_result *srv,
		 struct discover_result *out, size_t room)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	size_t n = 0;
	int rc;

	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0)
		return rc < 0 ? rc : -rc;
	for (ai = res; ai && n < room; ai = ai->ai_next) {
		struct discover_result *d = &out[n];

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		memset(d, 0, sizeof(*d));
		memcpy(&d->addr, ai->ai_addr, ai->ai_addrlen);
		if (ai->ai_family == AF_INET)
			((struct sockaddr_in *)&d->addr)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&d->addr)->sin6_port = htons(port);
		snprintf(d->host, sizeof(d->host), "%s", host);
		d->port = port;
		d->priority = srv ? srv->priority : 0;
		d->weight = srv ? srv->weight : 0;
		n++;
	}
	freeaddrinfo(res);
	return (int)n;
}

/*
 * Queries _vertex._tcp.DOMAIN into answer. Returns the answer length, 0 when the name or the
 * record does not exist (fall back), or -errno with why filled.
 */
static int
discover_query(const char *domain, uint8_t *answer, size_t cap, char *why, size_t whylen)
{
	struct __res_state st;
	char qname[NS_MAXDNAME];
	int n, herr;

	snprintf(qname, sizeof(qname), "_vertex._tcp.%s", domain);
	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0) {
		snprintf(why, whylen, "cannot set up the DNS resolver (resolv.conf)");
		return -EIO;
	}
	st.retrans = DISCOVER_TIMEOUT_SEC;
	st.retry = DISCOVER_ATTEMPTS;
	n = res_nquery(&st, qname, ns_c_in, ns_t_srv, answer, (int)cap);
	herr = st.res_h_errno;
	res_nclose(&st);
	if (n >= 0)
		return n > (int)cap ? (int)cap : n; /* too long for cap: parse sees it truncated */
	if (herr == HOST_NOT_FOUND || herr == NO_DATA)
		return 0;
	if (herr == TRY_AGAIN) {
		snprintf(why, whylen,
			 "no answer from DNS for %s (server down, unreachable or failing; "
			 "waited at most %d s)",
			 qname, DISCOVER_TIMEOUT_SEC);
		return -EAGAIN;
	}
	snprintf(why, whylen, "DNS refused the query for %s", qname);
	return -EIO;
}

/* Resolves each SRV target in order until out is full. */
static int
discover_from_srv(const char *domain, const struct discover_result *srv, int nsrv,
		  struct discover_result *out, size_t max, char *why, size_t whylen)
{
	size_t n = 0;
	int rc = 0;

	for (int i = 0; i < nsrv && n < max; i++) {
		rc = discover_resolve(srv[i].host, srv[i].port, &srv[i], out + n, max - n);
		if (rc > 0)
			n += (size_t)rc;
	}
	if (n > 0)
		return (int)n;
	snprintf(why, whylen, "SRV _vertex._tcp.%s names %s%s, which has no address (%s)", domain,
		 srv[0].host, nsrv > 1 ? " and others" : "",
		 rc < 0 ? gai_strerror(rc) : "none usable");
	return -EHOSTUNREACH;
}

static int
discover_fallback(const char *domain, struct discover_result *out, size_t max, char *why,
		  size_t whylen)
{
	int rc = discover_resolve(domain, VERTEX_SERVER_PORT, NULL, out, max);

	if (rc > 0)
		return rc;
	snprintf(why, whylen, "no SRV record and no address for %s (%s)", domain,
		 rc < 0 ? gai_strerror(rc) : "none usable");
	return -ENOENT;
}

int
discover_server(const char *domain, struct discover_result *out, size_t max, char *why,
		size_t whylen)
{
	uint8_t answer[DISCOVER_ANSWER_MAX];
	struct discover_result srv[DISCOVER_MAX];
	struct srv_parse p = { .out = srv, .max = DISCOVER_MAX };
	int n;

	if (!domain || !*domain || strlen(domain) > NS_MAXDNAME - 16 || max == 0) {
		snprintf(why, whylen, "invalid domain name or no room for results");
		return -EINVAL;
	}
	n = discover_query(domain, answer, sizeof(answer), why, whylen);
	if (n < 0)
		return n;
	if (n > 0 && srv_answer_parse(answer, (size_t)n, &p) < 0) {
		snprintf(why, whylen, "malformed SRV answer for _vertex._tcp.%s", domain);
		return -EBADMSG;
	}
	if (p.count > 0)
		return discover_from_srv(domain, srv, (int)p.count, out, max, why, whylen);
	if (p.refusals > 0) {
		snprintf(why, whylen, "SRV _vertex._tcp.%s says %s has no Vertex server", domain,
			 domain);
		return -ENOENT;
	}
	return discover_fallback(domain, out, max, why, whylen);
}
