// SPDX-License-Identifier: MIT
/*
 * Control-channel message codec (ctlmsg.h): one encoder and one decoder per type, each a straight
 * walk over the type's schema with the bounded cursors of core/rbuf.h and core/wbuf.h.
 *
 * The encoding is canonical: every field has exactly one representation (no optional fields, no
 * padding, no trailing bytes), so decode followed by encode reproduces the input byte for byte.
 * The fuzz target relies on that, and it means a signature or a log line over a body can never
 * disagree with what a decoder saw.
 *
 * Encoders check the same rules as decoders (string length and alphabet, blob length, enum
 * ranges) and answer -EINVAL rather than put something on the wire its receiver must refuse.
 * Decoders fill a scratch message and copy it out only on success, so a refused body leaves the
 * caller's message as it was.
 */
#include "ctlmsg.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "core/rbuf.h"
#include "core/wbuf.h"
#include "proto/record.h"
#include "trust/identity.h"

enum {
	CTL_TYPE_FIRST = CTL_HELLO,
	CTL_TYPE_LAST = CTL_OBSERVED,
	CTL_SALT_LN_MIN = 10,
	CTL_SALT_LN_MAX = 20,
	CTL_STR_WIRE_MAX = 1 + CTL_STR_MAX,   /* str8 */
	CTL_BLOB_WIRE_MAX = 2 + CTL_BLOB_MAX, /* blob16 */
	CTL_PURPOSE_WIRE_MAX = 1 + IDENTITY_PURPOSE_MAX,
	CTL_CAND_WIRE_LEN = 1 + 1 + 1 + 16 + 2 + 4,
	CTL_PROTO_TCP = 6,
	CTL_PROTO_UDP = 17,
};

/* The u8 length prefix can express every allowed string, and nothing longer, so decode needs no
 * separate length check; blob16 can express more than CTL_BLOB_MAX, so that one is checked. */
static_assert(CTL_STR_MAX == UINT8_MAX, "str8 length prefix covers CTL_STR_MAX exactly");
static_assert(CTL_BLOB_MAX <= UINT16_MAX, "blob16 length prefix covers CTL_BLOB_MAX");

/* Largest body per type, straight from the schema in ctlmsg.h. */
static const uint32_t ctl_body_max[CTL_TYPE_LAST - CTL_TYPE_FIRST + 1] = {
	[CTL_HELLO - CTL_TYPE_FIRST] = 1 + 1 + CTL_STR_WIRE_MAX,
	[CTL_ENROL - CTL_TYPE_FIRST] = CTL_STR_WIRE_MAX + 1 + CTL_STR_WIRE_MAX + CTL_BLOB_WIRE_MAX,
	[CTL_CERT - CTL_TYPE_FIRST] = CTL_BLOB_WIRE_MAX + CTL_BLOB_WIRE_MAX,
	[CTL_RENEW - CTL_TYPE_FIRST] = CTL_BLOB_WIRE_MAX,
	[CTL_ERROR - CTL_TYPE_FIRST] = 2 + CTL_STR_WIRE_MAX,
	[CTL_CA_REQ - CTL_TYPE_FIRST] = CTL_STR_WIRE_MAX,
	[CTL_CA - CTL_TYPE_FIRST] = CTL_STR_WIRE_MAX + CTL_BLOB_WIRE_MAX,
	[CTL_NOTARY_REQ - CTL_TYPE_FIRST] = CTL_STR_WIRE_MAX,
	[CTL_NOTARY - CTL_TYPE_FIRST] = CTL_STR_WIRE_MAX + 1 + CTL_FPR_LEN + 8,
	[CTL_CRL_REQ - CTL_TYPE_FIRST] = CTL_STR_WIRE_MAX + 4,
	[CTL_CRL - CTL_TYPE_FIRST] = CTL_STR_WIRE_MAX + 8 + 8 + 4 + 4 + CTL_BLOB_WIRE_MAX,
	[CTL_PING - CTL_TYPE_FIRST] = 8,
	[CTL_PONG - CTL_TYPE_FIRST] = 8,
	[CTL_SALT_REQ - CTL_TYPE_FIRST] = CTL_STR_WIRE_MAX,
	[CTL_SALT - CTL_TYPE_FIRST] = CTL_STR_WIRE_MAX + 1 + CTL_SALT_LEN,
	[CTL_CONTACT - CTL_TYPE_FIRST] =
	    8 + 2 * CTL_STR_WIRE_MAX + CTL_PURPOSE_WIRE_MAX + 2 + CTL_FPR_LEN,
	[CTL_ANSWER - CTL_TYPE_FIRST] = 8 + 2 * CTL_STR_WIRE_MAX + CTL_PURPOSE_WIRE_MAX + 1 + 1 + 2,
	[CTL_RELAY - CTL_TYPE_FIRST] = 2 * CTL_STR_WIRE_MAX + 4 + 1 + CTL_BLOB_WIRE_MAX,
	[CTL_RELAY_FRAME - CTL_TYPE_FIRST] = 2 * CTL_STR_WIRE_MAX + CTL_BLOB_WIRE_MAX,
	[CTL_OFFER - CTL_TYPE_FIRST] =
	    2 * CTL_STR_WIRE_MAX + 4 + 1 + CTL_CANDIDATES_MAX * CTL_CAND_WIRE_LEN,
	[CTL_OBSERVED - CTL_TYPE_FIRST] = 1 + 16 + 2,
};

/* The largest control body (CERT) must fit the record layer's absolute limit. */
static_assert(2 * CTL_BLOB_WIRE_MAX <= RECORD_BODY_MAX, "control bodies fit a record");

bool
ctlmsg_is_known(uint16_t type)
{
	return type >= CTL_TYPE_FIRST && type <= CTL_TYPE_LAST;
}

uint32_t
ctlmsg_body_max(uint16_t type)
{
	return ctlmsg_is_known(type) ? ctl_body_max[type - CTL_TYPE_FIRST] : 0;
}

const char *
ctlmsg_type_name(uint16_t type)
{
	/* Log and CLI keys: keep them stable. */
	static const char *const names[CTL_TYPE_LAST - CTL_TYPE_FIRST + 1] = {
		[CTL_HELLO - CTL_TYPE_FIRST] = "hello",
		[CTL_ENROL - CTL_TYPE_FIRST] = "enrol",
		[CTL_CERT - CTL_TYPE_FIRST] = "cert",
		[CTL_RENEW - CTL_TYPE_FIRST] = "renew",
		[CTL_ERROR - CTL_TYPE_FIRST] = "error",
		[CTL_CA_REQ - CTL_TYPE_FIRST] = "ca_req",
		[CTL_CA - CTL_TYPE_FIRST] = "ca",
		[CTL_NOTARY_REQ - CTL_TYPE_FIRST] = "notary_req",
		[CTL_NOTARY - CTL_TYPE_FIRST] = "notary",
		[CTL_CRL_REQ - CTL_TYPE_FIRST] = "crl_req",
		[CTL_CRL - CTL_TYPE_FIRST] = "crl",
		[CTL_PING - CTL_TYPE_FIRST] = "ping",
		[CTL_PONG - CTL_TYPE_FIRST] = "pong",
		[CTL_SALT_REQ - CTL_TYPE_FIRST] = "salt_req",
		[CTL_SALT - CTL_TYPE_FIRST] = "salt",
		[CTL_CONTACT - CTL_TYPE_FIRST] = "contact",
		[CTL_ANSWER - CTL_TYPE_FIRST] = "answer",
		[CTL_RELAY - CTL_TYPE_FIRST] = "relay",
		[CTL_RELAY_FRAME - CTL_TYPE_FIRST] = "relay_frame",
		[CTL_OFFER - CTL_TYPE_FIRST] = "offer",
		[CTL_OBSERVED - CTL_TYPE_FIRST] = "observed",
	};

	return ctlmsg_is_known(type) ? names[type - CTL_TYPE_FIRST] : "unknown";
}

const char *
ctlmsg_error_name(uint16_t code)
{
	static const char *const names[] = {
		[CTL_ERR_PROTOCOL] = "protocol", [CTL_ERR_DENIED] = "denied",
		[CTL_ERR_RATE] = "rate",         [CTL_ERR_BAD_CSR] = "bad_csr",
		[CTL_ERR_REVOKED] = "revoked",   [CTL_ERR_UNKNOWN] = "unknown_domain",
		[CTL_ERR_INTERNAL] = "internal",
	};

	/* Codes we do not know are still errors: a newer peer may send them. */
	if (code >= sizeof(names) / sizeof(names[0]) || !names[code])
		return "other";
	return names[code];
}

const char *
ctlmsg_verdict_name(uint8_t verdict)
{
	static const char *const names[] = {
		[CTL_VERDICT_APPROVED] = "approved",
		[CTL_VERDICT_DENIED] = "denied",
		[CTL_VERDICT_NO_PURPOSE] = "no_purpose",
		[CTL_VERDICT_UNKNOWN_USER] = "unknown_user",
		[CTL_VERDICT_OFFLINE] = "offline",
		[CTL_VERDICT_TIMEOUT] = "timeout",
		[CTL_VERDICT_RATE] = "rate",
		[CTL_VERDICT_REVOKED] = "revoked",
		[CTL_VERDICT_UNREACHABLE] = "unreachable",
	};

	if (verdict >= sizeof(names) / sizeof(names[0]) || !names[verdict])
		return "other";
	return names[verdict];
}

const char *
ctlmsg_from(const struct ctlmsg *m)
{
	switch (m->type) {
	case CTL_CONTACT:
		return m->u.contact.from;
	case CTL_ANSWER:
		return m->u.answer.from;
	case CTL_RELAY:
		return m->u.relay.from;
	case CTL_RELAY_FRAME:
		return m->u.frame.from;
	case CTL_OFFER:
		return m->u.offer.from;
	default:
		return NULL;
	}
}

const char *
ctlmsg_to(const struct ctlmsg *m)
{
	switch (m->type) {
	case CTL_CONTACT:
		return m->u.contact.to;
	case CTL_ANSWER:
		return m->u.answer.to;
	case CTL_RELAY:
		return m->u.relay.to;
	case CTL_RELAY_FRAME:
		return m->u.frame.to;
	case CTL_OFFER:
		return m->u.offer.to;
	default:
		return NULL;
	}
}

static bool
ctl_is_printable(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static bool
ctl_fpr_is_zero(const uint8_t fpr[CTL_FPR_LEN])
{
	uint8_t acc = 0;

	for (size_t i = 0; i < CTL_FPR_LEN; i++)
		acc |= fpr[i];
	return acc == 0;
}

/* The schema's value ranges, shared by encoder and decoder. */
static bool
ctl_hello_is_valid(uint8_t version, uint8_t role)
{
	return version == CTL_VERSION && (role == CTL_ROLE_AGENT || role == CTL_ROLE_SERVER);
}

static bool
ctl_method_is_valid(uint8_t method)
{
	return method == CTL_ENROL_INVITE || method == CTL_ENROL_PASSWORD ||
	       method == CTL_ENROL_PROOF;
}

/* A proof is exactly 64 lower-case hex digits, so it has one spelling. */
static bool
ctl_secret_is_valid(uint8_t method, const char *secret)
{
	if (method != CTL_ENROL_PROOF)
		return true;
	if (strlen(secret) != CTL_PROOF_HEX_LEN)
		return false;
	for (const char *p = secret; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static bool
ctl_salt_ln_is_valid(uint8_t ln)
{
	return ln >= CTL_SALT_LN_MIN && ln <= CTL_SALT_LN_MAX;
}

/* Only a known domain has a fingerprint and a first sighting; the others carry zeros, so that
 * every status has one encoding. */
static bool
ctl_notary_is_valid(uint8_t status, const uint8_t fpr[CTL_FPR_LEN], int64_t first_seen)
{
	if (status == CTL_NOTARY_KNOWN)
		return true;
	if (status == CTL_NOTARY_DISPUTED)
		return first_seen == 0;
	if (status != CTL_NOTARY_UNKNOWN && status != CTL_NOTARY_UNREACHABLE)
		return false;
	return ctl_fpr_is_zero(fpr) && first_seen == 0;
}

/* A canonical user@domain (no purpose, lower case): one spelling per identity, and the
 * servers' checks compare strings. */
static bool
ctl_identity_is_valid(const char *s)
{
	struct identity id;
	char canon[IDENTITY_STR_MAX];

	return identity_parse(s, IDENTITY_PURPOSE_FORBIDDEN, &id, NULL) == 0 &&
	       identity_format(&id, canon, sizeof(canon)) == 0 && !strcmp(canon, s);
}

/* [a-z0-9-]{1,32}, or "" where allow_empty. */
static bool
ctl_purpose_is_valid(const char *s, bool allow_empty)
{
	size_t n = strlen(s);

	if (n > IDENTITY_PURPOSE_MAX || (!n && !allow_empty))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static bool
ctl_ends_are_valid(const char *from, const char *to)
{
	return ctl_identity_is_valid(from) && ctl_identity_is_valid(to) && strcmp(from, to) != 0;
}

static bool
ctl_contact_is_valid(const struct ctlmsg *m)
{
	return m->u.contact.id != 0 && ctl_ends_are_valid(m->u.contact.from, m->u.contact.to) &&
	       ctl_purpose_is_valid(m->u.contact.purpose, false) && m->u.contact.ttl >= 1 &&
	       m->u.contact.ttl <= CTL_CONTACT_TTL_MAX;
}

static bool
ctl_answer_is_valid(const struct ctlmsg *m)
{
	uint8_t v = m->u.answer.verdict;
	bool approved = v == CTL_VERDICT_APPROVED;

	if (v < 1 || v > CTL_VERDICT_LAST ||
	    !ctl_ends_are_valid(m->u.answer.from, m->u.answer.to) ||
	    !ctl_purpose_is_valid(m->u.answer.purpose, v == CTL_VERDICT_REVOKED))
		return false;
	if (approved)
		return (m->u.answer.proto == CTL_PROTO_TCP || m->u.answer.proto == CTL_PROTO_UDP) &&
		       m->u.answer.port != 0;
	return m->u.answer.proto == 0 && m->u.answer.port == 0;
}

static bool
ctl_relay_is_valid(const struct ctlmsg *m)
{
	uint8_t known = CTL_RELAY_FIN | CTL_RELAY_DIALER;

	return ctl_ends_are_valid(m->u.relay.from, m->u.relay.to) && m->u.relay.channel != 0 &&
	       !(m->u.relay.flags & ~known) &&
	       (m->u.relay.data_len > 0 || (m->u.relay.flags & CTL_RELAY_FIN));
}

static bool
ctl_candidate_is_valid(const struct ctl_candidate *c)
{
	static const uint8_t zero[12];

	if (c->kind == 0 || (c->family != 4 && c->family != 6))
		return false;
	if (c->kind == CTL_CAND_NAT &&
	    (c->proto != 17 || c->priority >> 16 || (c->priority & 0xff) > CTL_NAT_MAPPING_MAX ||
	     (c->priority >> 8 & 0xff) > CTL_NAT_FILTERING_MAX))
		return false;
	if (c->kind == CTL_CAND_SIMOPEN && (c->proto != CTL_PROTO_TCP || c->port == 0))
		return false;
	return c->family == 6 || !memcmp(c->addr + 4, zero, sizeof(zero));
}

/* An address as the schema has it: IPv4 in the first four bytes, the rest zero; a port. */
static bool
ctl_observed_is_valid(const struct ctlmsg *m)
{
	static const uint8_t zero[12];

	if ((m->u.observed.family != 4 && m->u.observed.family != 6) || m->u.observed.port == 0)
		return false;
	return m->u.observed.family == 6 || !memcmp(m->u.observed.addr + 4, zero, sizeof(zero));
}

static bool
ctl_offer_is_valid(const struct ctlmsg *m)
{
	if (!ctl_ends_are_valid(m->u.offer.from, m->u.offer.to) ||
	    m->u.offer.count > CTL_CANDIDATES_MAX)
		return false;
	for (size_t i = 0; i < m->u.offer.count; i++)
		if (!ctl_candidate_is_valid(&m->u.offer.cand[i]))
			return false;
	return true;
}

/* --- decoding --------------------------------------------------------------------------- */

/* str8 into out[CTL_STR_MAX + 1], NUL-terminated. */
static bool
ctl_get_str(struct rbuf *r, char *out)
{
	uint8_t n;
	const uint8_t *p;

	if (!rbuf_get_u8(r, &n) || !rbuf_get_ptr(r, n, &p) || !ctl_is_printable(p, n))
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* blob16, borrowed: *p points into the body being decoded. */
static bool
ctl_get_blob(struct rbuf *r, const uint8_t **p, size_t *len)
{
	uint16_t n;

	if (!rbuf_get_u16(r, &n) || n > CTL_BLOB_MAX || !rbuf_get_ptr(r, n, p))
		return false;
	*len = n;
	return true;
}

static bool
ctl_decode_hello(struct rbuf *r, struct ctlmsg *m)
{
	return rbuf_get_u8(r, &m->u.hello.version) && rbuf_get_u8(r, &m->u.hello.role) &&
	       ctl_hello_is_valid(m->u.hello.version, m->u.hello.role) &&
	       ctl_get_str(r, m->u.hello.name);
}

static bool
ctl_decode_enrol(struct rbuf *r, struct ctlmsg *m)
{
	return ctl_get_str(r, m->u.enrol.identity) && rbuf_get_u8(r, &m->u.enrol.method) &&
	       ctl_method_is_valid(m->u.enrol.method) && ctl_get_str(r, m->u.enrol.secret) &&
	       ctl_secret_is_valid(m->u.enrol.method, m->u.enrol.secret) &&
	       ctl_get_blob(r, &m->u.enrol.csr, &m->u.enrol.csr_len);
}

static bool
ctl_decode_notary(struct rbuf *r, struct ctlmsg *m)
{
	uint64_t first_seen;

	if (!ctl_get_str(r, m->u.notary.domain) || !rbuf_get_u8(r, &m->u.notary.status) ||
	    !rbuf_get_bytes(r, m->u.notary.fpr, CTL_FPR_LEN) || !rbuf_get_u64(r, &first_seen))
		return false;
	m->u.notary.first_seen = (int64_t)first_seen;
	return ctl_notary_is_valid(m->u.notary.status, m->u.notary.fpr, m->u.notary.first_seen);
}

/* A chunk lies inside its list, and the list has a size a list can have. */
static bool
ctl_crl_is_valid(uint32_t total, uint32_t offset, size_t chunk_len)
{
	return total >= 1 && total <= CTL_CRL_TOTAL_MAX && offset < total && chunk_len >= 1 &&
	       chunk_len <= total - offset;
}

static bool
ctl_decode_crl(struct rbuf *r, struct ctlmsg *m)
{
	uint64_t issued;

	if (!ctl_get_str(r, m->u.crl.domain) || !rbuf_get_u64(r, &m->u.crl.number) ||
	    !rbuf_get_u64(r, &issued) || !rbuf_get_u32(r, &m->u.crl.total) ||
	    !rbuf_get_u32(r, &m->u.crl.offset) ||
	    !ctl_get_blob(r, &m->u.crl.chunk, &m->u.crl.chunk_len))
		return false;
	m->u.crl.issued = (int64_t)issued;
	return ctl_crl_is_valid(m->u.crl.total, m->u.crl.offset, m->u.crl.chunk_len);
}

static bool
ctl_decode_offer(struct rbuf *r, struct ctlmsg *m)
{
	if (!ctl_get_str(r, m->u.offer.from) || !ctl_get_str(r, m->u.offer.to) ||
	    !rbuf_get_u32(r, &m->u.offer.generation) || !rbuf_get_u8(r, &m->u.offer.count) ||
	    m->u.offer.count > CTL_CANDIDATES_MAX)
		return false;
	for (size_t i = 0; i < m->u.offer.count; i++) {
		struct ctl_candidate *c = &m->u.offer.cand[i];

		if (!rbuf_get_u8(r, &c->kind) || !rbuf_get_u8(r, &c->proto) ||
		    !rbuf_get_u8(r, &c->family) || !rbuf_get_bytes(r, c->addr, sizeof(c->addr)) ||
		    !rbuf_get_u16(r, &c->port) || !rbuf_get_u32(r, &c->priority))
			return false;
	}
	return ctl_offer_is_valid(m);
}

/* A purpose is a str8 like the others, but no longer than the grammar allows. */
static bool
ctl_get_purpose(struct rbuf *r, char out[IDENTITY_PURPOSE_MAX + 1])
{
	char tmp[CTL_STR_MAX + 1];

	if (!ctl_get_str(r, tmp) || strlen(tmp) > IDENTITY_PURPOSE_MAX)
		return false;
	memcpy(out, tmp, strlen(tmp) + 1);
	return true;
}

static bool
ctl_decode_fields(struct rbuf *r, struct ctlmsg *m)
{
	switch (m->type) {
	case CTL_HELLO:
		return ctl_decode_hello(r, m);
	case CTL_ENROL:
		return ctl_decode_enrol(r, m);
	case CTL_CERT:
		return ctl_get_blob(r, &m->u.cert.cert, &m->u.cert.cert_len) &&
		       ctl_get_blob(r, &m->u.cert.ca, &m->u.cert.ca_len);
	case CTL_RENEW:
		return ctl_get_blob(r, &m->u.renew.csr, &m->u.renew.csr_len);
	case CTL_ERROR:
		return rbuf_get_u16(r, &m->u.error.code) && ctl_get_str(r, m->u.error.message);
	case CTL_CA_REQ:
	case CTL_NOTARY_REQ:
		return ctl_get_str(r, m->u.req.domain);
	case CTL_CRL_REQ:
		return ctl_get_str(r, m->u.crl_req.domain) && rbuf_get_u32(r, &m->u.crl_req.offset);
	case CTL_CA:
		return ctl_get_str(r, m->u.ca.domain) &&
		       ctl_get_blob(r, &m->u.ca.ca, &m->u.ca.ca_len);
	case CTL_NOTARY:
		return ctl_decode_notary(r, m);
	case CTL_CRL:
		return ctl_decode_crl(r, m);
	case CTL_PING:
	case CTL_PONG:
		return rbuf_get_u64(r, &m->u.ping.nonce);
	case CTL_SALT_REQ:
		return ctl_get_str(r, m->u.salt_req.identity);
	case CTL_SALT:
		return ctl_get_str(r, m->u.salt.identity) && rbuf_get_u8(r, &m->u.salt.ln) &&
		       ctl_salt_ln_is_valid(m->u.salt.ln) &&
		       rbuf_get_bytes(r, m->u.salt.salt, CTL_SALT_LEN);
	case CTL_CONTACT:
		return rbuf_get_u64(r, &m->u.contact.id) && ctl_get_str(r, m->u.contact.from) &&
		       ctl_get_str(r, m->u.contact.to) &&
		       ctl_get_purpose(r, m->u.contact.purpose) &&
		       rbuf_get_u16(r, &m->u.contact.ttl) &&
		       rbuf_get_bytes(r, m->u.contact.fpr, CTL_FPR_LEN) && ctl_contact_is_valid(m);
	case CTL_ANSWER:
		return rbuf_get_u64(r, &m->u.answer.id) && ctl_get_str(r, m->u.answer.from) &&
		       ctl_get_str(r, m->u.answer.to) && ctl_get_purpose(r, m->u.answer.purpose) &&
		       rbuf_get_u8(r, &m->u.answer.verdict) && rbuf_get_u8(r, &m->u.answer.proto) &&
		       rbuf_get_u16(r, &m->u.answer.port) && ctl_answer_is_valid(m);
	case CTL_RELAY:
		return ctl_get_str(r, m->u.relay.from) && ctl_get_str(r, m->u.relay.to) &&
		       rbuf_get_u32(r, &m->u.relay.channel) && rbuf_get_u8(r, &m->u.relay.flags) &&
		       ctl_get_blob(r, &m->u.relay.data, &m->u.relay.data_len) &&
		       ctl_relay_is_valid(m);
	case CTL_RELAY_FRAME:
		return ctl_get_str(r, m->u.frame.from) && ctl_get_str(r, m->u.frame.to) &&
		       ctl_get_blob(r, &m->u.frame.frame, &m->u.frame.frame_len) &&
		       m->u.frame.frame_len > 0 &&
		       ctl_ends_are_valid(m->u.frame.from, m->u.frame.to);
	case CTL_OFFER:
		return ctl_decode_offer(r, m);
	case CTL_OBSERVED:
		return rbuf_get_u8(r, &m->u.observed.family) &&
		       rbuf_get_bytes(r, m->u.observed.addr, sizeof(m->u.observed.addr)) &&
		       rbuf_get_u16(r, &m->u.observed.port) && ctl_observed_is_valid(m);
	default:
		return false;
	}
}

bool
ctlmsg_decode(uint16_t type, const uint8_t *body, size_t len, struct ctlmsg *m)
{
	struct ctlmsg tmp;
	struct rbuf r;

	/* Cheap checks first: the record reader has normally done this already. */
	if (!ctlmsg_is_known(type) || len > ctlmsg_body_max(type))
		return false;
	memset(&tmp, 0, sizeof(tmp));
	tmp.type = type;
	rbuf_init(&r, body, len);
	if (!ctl_decode_fields(&r, &tmp) || rbuf_remaining(&r) != 0)
		return false;
	*m = tmp;
	return true;
}

/* --- encoding --------------------------------------------------------------------------- */

/* A writer that also remembers a field out of range, so an encoder is one straight run of puts
 * and reports -EINVAL over -ENOSPC at the end. */
struct ctl_writer {
	struct wbuf w;
	bool invalid;
};

static void
ctl_check(struct ctl_writer *cw, bool valid)
{
	if (!valid)
		cw->invalid = true;
}

static void
ctl_put_str(struct ctl_writer *cw, const char *s)
{
	size_t n = strnlen(s, CTL_STR_MAX + 1);

	if (n > CTL_STR_MAX || !ctl_is_printable((const uint8_t *)s, n)) {
		cw->invalid = true;
		return;
	}
	wbuf_put_u8(&cw->w, (uint8_t)n);
	wbuf_put_bytes(&cw->w, s, n);
}

static void
ctl_put_blob(struct ctl_writer *cw, const uint8_t *p, size_t len)
{
	if (len > CTL_BLOB_MAX || (len && !p)) {
		cw->invalid = true;
		return;
	}
	wbuf_put_u16(&cw->w, (uint16_t)len);
	wbuf_put_bytes(&cw->w, p, len);
}

static void
ctl_encode_notary(struct ctl_writer *cw, const struct ctlmsg *m)
{
	ctl_check(cw,
		  ctl_notary_is_valid(m->u.notary.status, m->u.notary.fpr, m->u.notary.first_seen));
	ctl_put_str(cw, m->u.notary.domain);
	wbuf_put_u8(&cw->w, m->u.notary.status);
	wbuf_put_bytes(&cw->w, m->u.notary.fpr, CTL_FPR_LEN);
	wbuf_put_u64(&cw->w, (uint64_t)m->u.notary.first_seen);
}

static void
ctl_encode_fields(struct ctl_writer *cw, const struct ctlmsg *m)
{
	switch (m->type) {
	case CTL_HELLO:
		ctl_check(cw, ctl_hello_is_valid(m->u.hello.version, m->u.hello.role));
		wbuf_put_u8(&cw->w, m->u.hello.version);
		wbuf_put_u8(&cw->w, m->u.hello.role);
		ctl_put_str(cw, m->u.hello.name);
		break;
	case CTL_ENROL:
		ctl_check(cw, ctl_method_is_valid(m->u.enrol.method) &&
				  ctl_secret_is_valid(m->u.enrol.method, m->u.enrol.secret));
		ctl_put_str(cw, m->u.enrol.identity);
		wbuf_put_u8(&cw->w, m->u.enrol.method);
		ctl_put_str(cw, m->u.enrol.secret);
		ctl_put_blob(cw, m->u.enrol.csr, m->u.enrol.csr_len);
		break;
	case CTL_CERT:
		ctl_put_blob(cw, m->u.cert.cert, m->u.cert.cert_len);
		ctl_put_blob(cw, m->u.cert.ca, m->u.cert.ca_len);
		break;
	case CTL_RENEW:
		ctl_put_blob(cw, m->u.renew.csr, m->u.renew.csr_len);
		break;
	case CTL_ERROR:
		wbuf_put_u16(&cw->w, m->u.error.code);
		ctl_put_str(cw, m->u.error.message);
		break;
	case CTL_CA_REQ:
	case CTL_NOTARY_REQ:
		ctl_put_str(cw, m->u.req.domain);
		break;
	case CTL_CRL_REQ:
		ctl_put_str(cw, m->u.crl_req.domain);
		wbuf_put_u32(&cw->w, m->u.crl_req.offset);
		break;
	case CTL_CA:
		ctl_put_str(cw, m->u.ca.domain);
		ctl_put_blob(cw, m->u.ca.ca, m->u.ca.ca_len);
		break;
	case CTL_NOTARY:
		ctl_encode_notary(cw, m);
		break;
	case CTL_CRL:
		ctl_check(cw,
			  ctl_crl_is_valid(m->u.crl.total, m->u.crl.offset, m->u.crl.chunk_len));
		ctl_put_str(cw, m->u.crl.domain);
		wbuf_put_u64(&cw->w, m->u.crl.number);
		wbuf_put_u64(&cw->w, (uint64_t)m->u.crl.issued);
		wbuf_put_u32(&cw->w, m->u.crl.total);
		wbuf_put_u32(&cw->w, m->u.crl.offset);
		ctl_put_blob(cw, m->u.crl.chunk, m->u.crl.chunk_len);
		break;
	case CTL_PING:
	case CTL_PONG:
		wbuf_put_u64(&cw->w, m->u.ping.nonce);
		break;
	case CTL_SALT_REQ:
		ctl_put_str(cw, m->u.salt_req.identity);
		break;
	case CTL_SALT:
		ctl_check(cw, ctl_salt_ln_is_valid(m->u.salt.ln));
		ctl_put_str(cw, m->u.salt.identity);
		wbuf_put_u8(&cw->w, m->u.salt.ln);
		wbuf_put_bytes(&cw->w, m->u.salt.salt, CTL_SALT_LEN);
		break;
	case CTL_CONTACT:
		ctl_check(cw, ctl_contact_is_valid(m));
		wbuf_put_u64(&cw->w, m->u.contact.id);
		ctl_put_str(cw, m->u.contact.from);
		ctl_put_str(cw, m->u.contact.to);
		ctl_put_str(cw, m->u.contact.purpose);
		wbuf_put_u16(&cw->w, m->u.contact.ttl);
		wbuf_put_bytes(&cw->w, m->u.contact.fpr, CTL_FPR_LEN);
		break;
	case CTL_ANSWER:
		ctl_check(cw, ctl_answer_is_valid(m));
		wbuf_put_u64(&cw->w, m->u.answer.id);
		ctl_put_str(cw, m->u.answer.from);
		ctl_put_str(cw, m->u.answer.to);
		ctl_put_str(cw, m->u.answer.purpose);
		wbuf_put_u8(&cw->w, m->u.answer.verdict);
		wbuf_put_u8(&cw->w, m->u.answer.proto);
		wbuf_put_u16(&cw->w, m->u.answer.port);
		break;
	case CTL_RELAY:
		ctl_check(cw, ctl_relay_is_valid(m));
		ctl_put_str(cw, m->u.relay.from);
		ctl_put_str(cw, m->u.relay.to);
		wbuf_put_u32(&cw->w, m->u.relay.channel);
		wbuf_put_u8(&cw->w, m->u.relay.flags);
		ctl_put_blob(cw, m->u.relay.data, m->u.relay.data_len);
		break;
	case CTL_RELAY_FRAME:
		ctl_check(cw, m->u.frame.frame_len > 0 &&
				  ctl_ends_are_valid(m->u.frame.from, m->u.frame.to));
		ctl_put_str(cw, m->u.frame.from);
		ctl_put_str(cw, m->u.frame.to);
		ctl_put_blob(cw, m->u.frame.frame, m->u.frame.frame_len);
		break;
	case CTL_OFFER:
		ctl_check(cw, ctl_offer_is_valid(m));
		ctl_put_str(cw, m->u.offer.from);
		ctl_put_str(cw, m->u.offer.to);
		wbuf_put_u32(&cw->w, m->u.offer.generation);
		wbuf_put_u8(&cw->w, m->u.offer.count);
		for (size_t i = 0; i < m->u.offer.count && i < CTL_CANDIDATES_MAX; i++) {
			const struct ctl_candidate *c = &m->u.offer.cand[i];

			wbuf_put_u8(&cw->w, c->kind);
			wbuf_put_u8(&cw->w, c->proto);
			wbuf_put_u8(&cw->w, c->family);
			wbuf_put_bytes(&cw->w, c->addr, sizeof(c->addr));
			wbuf_put_u16(&cw->w, c->port);
			wbuf_put_u32(&cw->w, c->priority);
		}
		break;
	case CTL_OBSERVED:
		ctl_check(cw, ctl_observed_is_valid(m));
		wbuf_put_u8(&cw->w, m->u.observed.family);
		wbuf_put_bytes(&cw->w, m->u.observed.addr, sizeof(m->u.observed.addr));
		wbuf_put_u16(&cw->w, m->u.observed.port);
		break;
	default:
		cw->invalid = true;
		break;
	}
}

int
ctlmsg_encode(const struct ctlmsg *m, uint8_t *buf, size_t cap)
{
	struct ctl_writer cw = { .invalid = false };

	wbuf_init(&cw.w, buf, cap);
	ctl_encode_fields(&cw, m);
	if (cw.invalid)
		return -EINVAL;
	if (!wbuf_ok(&cw.w))
		return -ENOSPC;
	return (int)cw.w.off;
}
