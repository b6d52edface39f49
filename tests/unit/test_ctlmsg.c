// SPDX-License-Identifier: MIT
/*
 * Unit tests for the control-channel message codec (proto/ctlmsg.c): a known-answer record per
 * type (the same hex as docs/protocol.md, "Control channel messages"), seeded random round trips
 * checked against a naive length formula, the per-type maxima the record reader enforces, and
 * every class of rejection on both sides.
 *
 * Decoding always reads from a heap copy of exactly the body's length, so an over-read is an
 * ASan report rather than a silent pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "proto/ctlmsg.h"
#include "proto/record.h"

static const uint8_t csr_kat[] = { 0x30, 0x02, 0x05, 0x00 };
static const uint8_t cert_kat[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
static const uint8_t der_empty[] = { 0x30, 0x00 };
static const uint8_t crl_kat[] = { 0x01, 0x02, 0x03 };

/* A complete record (header and body) per type; hex as in docs/protocol.md. */
struct ctl_kat {
	struct ctlmsg m;
	const char *hex;
};

static const struct ctl_kat kats[] = {
	{ { .type = CTL_HELLO, .u.hello = { CTL_VERSION, CTL_ROLE_AGENT, "alice@a.example.com" } },
	  "00 10 00 00 00 16  01 01 13 616c696365 40 612e6578616d706c652e636f6d" },
	{ { .type = CTL_ENROL,
	    .u.enrol = { "bob@b.example.com", CTL_ENROL_INVITE, "K7Q2-9XWD", csr_kat, 4 } },
	  "00 11 00 00 00 23  11 626f62 40 622e6578616d706c652e636f6d 01"
	  " 09 4b3751322d39585744 0004 30020500" },
	{ { .type = CTL_CERT,
	    .u.cert = { .cert = cert_kat, .cert_len = 5, .ca = der_empty, .ca_len = 2 } },
	  "00 12 00 00 00 0b  0005 3003020101 0002 3000" },
	{ { .type = CTL_RENEW, .u.renew = { der_empty, 2 } }, "00 13 00 00 00 04  0002 3000" },
	{ { .type = CTL_ERROR, .u.error = { CTL_ERR_DENIED, "denied" } },
	  "00 14 00 00 00 09  0002 06 64656e696564" },
	{ { .type = CTL_CA_REQ, .u.req = { "b.example.com" } },
	  "00 15 00 00 00 0e  0d 622e6578616d706c652e636f6d" },
	{ { .type = CTL_CA, .u.ca = { "b.example.com", der_empty, 2 } },
	  "00 16 00 00 00 12  0d 622e6578616d706c652e636f6d 0002 3000" },
	{ { .type = CTL_NOTARY_REQ, .u.req = { "b.example.com" } },
	  "00 17 00 00 00 0e  0d 622e6578616d706c652e636f6d" },
	{ { .type = CTL_NOTARY,
	    .u.notary = { "b.example.com",
			  CTL_NOTARY_KNOWN,
			  { 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
			    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 },
			  1700000000 } },
	  "00 18 00 00 00 37  0d 622e6578616d706c652e636f6d 01"
	  " 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 000000006553f100" },
	{ { .type = CTL_NOTARY, .u.notary = { "c.example.com", CTL_NOTARY_UNKNOWN, { 0 }, 0 } },
	  "00 18 00 00 00 37  0d 632e6578616d706c652e636f6d 02"
	  " 0000000000000000000000000000000000000000000000000000000000000000 0000000000000000" },
	{ { .type = CTL_CRL_REQ, .u.crl_req = { "b.example.com", 0x4000 } },
	  "00 19 00 00 00 12  0d 622e6578616d706c652e636f6d 00004000" },
	{ { .type = CTL_CRL, .u.crl = { "b.example.com", 5, 1700000000, 3, 0, crl_kat, 3 } },
	  "00 1a 00 00 00 2b  0d 622e6578616d706c652e636f6d 0000000000000005 000000006553f100"
	  " 00000003 00000000 0003 010203" },
	{ { .type = CTL_PING, .u.ping = { 0x0102030405060708 } },
	  "00 1b 00 00 00 08  0102030405060708" },
	{ { .type = CTL_PONG, .u.ping = { 0x0102030405060708 } },
	  "00 1c 00 00 00 08  0102030405060708" },
	{ { .type = CTL_NOTARY,
	    .u.notary = { "c.example.com",
			  CTL_NOTARY_DISPUTED,
			  { 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
			    15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4,  3,  2,  1,  0 },
			  0 } },
	  "00 18 00 00 00 37  0d 632e6578616d706c652e636f6d 04"
	  " 1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100 0000000000000000" },
	{ { .type = CTL_SALT_REQ, .u.salt_req = { "bob@b.example.com" } },
	  "00 1d 00 00 00 12  11 626f62 40 622e6578616d706c652e636f6d" },
	{ { .type = CTL_SALT,
	    .u.salt = { "bob@b.example.com",
			15,
			{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 } } },
	  "00 1e 00 00 00 23  11 626f62 40 622e6578616d706c652e636f6d 0f"
	  " 000102030405060708090a0b0c0d0e0f" },
	{ { .type = CTL_ENROL,
	    .u.enrol = { "bob@b.example.com", CTL_ENROL_PROOF,
			 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
			 csr_kat, 4 } },
	  "00 11 00 00 00 5a  11 626f62 40 622e6578616d706c652e636f6d 03"
	  " 40 3030313132323333343435353636373738383939616162626363646465656666"
	  "3030313132323333343435353636373738383939616162626363646465656666 0004 30020500" },
};

enum { KAT_COUNT = sizeof(kats) / sizeof(kats[0]), KAT_MAX = 160 };

/* Hex digits, spaces ignored; returns the byte count. */
static size_t
hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (const char *p = hex; *p; p++) {
		int v;

		if (*p == ' ')
			continue;
		v = *p <= '9' ? *p - '0' : *p - 'a' + 10;
		assert_true(v >= 0 && v < 16);
		if (hi < 0) {
			hi = v;
			continue;
		}
		assert_true(n < cap);
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	assert_int_equal(hi, -1);
	return n;
}

/* The body of kats[i] (after the record header) into body; returns its length. */
static size_t
kat_body(size_t i, uint8_t body[KAT_MAX])
{
	uint8_t rec[KAT_MAX];
	size_t n = hex_decode(kats[i].hex, rec, sizeof(rec));

	assert_true(n >= RECORD_HDR_LEN);
	memcpy(body, rec + RECORD_HDR_LEN, n - RECORD_HDR_LEN);
	return n - RECORD_HDR_LEN;
}

/* Decodes len bytes of body from an exact-size heap copy. */
static bool
decode_copy(uint16_t type, const uint8_t *body, size_t len, struct ctlmsg *m, uint8_t **copy)
{
	*copy = malloc(len ? len : 1);
	assert_non_null(*copy);
	memcpy(*copy, body, len);
	return ctlmsg_decode(type, *copy, len, m);
}

static bool
decode_try(uint16_t type, const uint8_t *body, size_t len)
{
	struct ctlmsg m;
	uint8_t *copy;
	bool ok = decode_copy(type, body, len, &m, &copy);

	free(copy);
	return ok;
}

static void
assert_blob_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	assert_int_equal(alen, blen);
	if (alen)
		assert_memory_equal(a, b, alen);
}

static void
assert_ctlmsg_equal(const struct ctlmsg *a, const struct ctlmsg *b)
{
	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case CTL_HELLO:
		assert_int_equal(a->u.hello.version, b->u.hello.version);
		assert_int_equal(a->u.hello.role, b->u.hello.role);
		assert_string_equal(a->u.hello.name, b->u.hello.name);
		break;
	case CTL_ENROL:
		assert_string_equal(a->u.enrol.identity, b->u.enrol.identity);
		assert_int_equal(a->u.enrol.method, b->u.enrol.method);
		assert_string_equal(a->u.enrol.secret, b->u.enrol.secret);
		assert_blob_equal(a->u.enrol.csr, a->u.enrol.csr_len, b->u.enrol.csr,
				  b->u.enrol.csr_len);
		break;
	case CTL_CERT:
		assert_blob_equal(a->u.cert.cert, a->u.cert.cert_len, b->u.cert.cert,
				  b->u.cert.cert_len);
		assert_blob_equal(a->u.cert.ca, a->u.cert.ca_len, b->u.cert.ca, b->u.cert.ca_len);
		break;
	case CTL_RENEW:
		assert_blob_equal(a->u.renew.csr, a->u.renew.csr_len, b->u.renew.csr,
				  b->u.renew.csr_len);
		break;
	case CTL_ERROR:
		assert_int_equal(a->u.error.code, b->u.error.code);
		assert_string_equal(a->u.error.message, b->u.error.message);
		break;
	case CTL_CA_REQ:
	case CTL_NOTARY_REQ:
		assert_string_equal(a->u.req.domain, b->u.req.domain);
		break;
	case CTL_CRL_REQ:
		assert_string_equal(a->u.crl_req.domain, b->u.crl_req.domain);
		assert_int_equal(a->u.crl_req.offset, b->u.crl_req.offset);
		break;
	case CTL_CA:
		assert_string_equal(a->u.ca.domain, b->u.ca.domain);
		assert_blob_equal(a->u.ca.ca, a->u.ca.ca_len, b->u.ca.ca, b->u.ca.ca_len);
		break;
	case CTL_NOTARY:
		assert_string_equal(a->u.notary.domain, b->u.notary.domain);
		assert_int_equal(a->u.notary.status, b->u.notary.status);
		assert_memory_equal(a->u.notary.fpr, b->u.notary.fpr, CTL_FPR_LEN);
		assert_true(a->u.notary.first_seen == b->u.notary.first_seen);
		break;
	case CTL_CRL:
		assert_string_equal(a->u.crl.domain, b->u.crl.domain);
		assert_true(a->u.crl.number == b->u.crl.number);
		assert_true(a->u.crl.issued == b->u.crl.issued);
		assert_int_equal(a->u.crl.total, b->u.crl.total);
		assert_int_equal(a->u.crl.offset, b->u.crl.offset);
		assert_blob_equal(a->u.crl.chunk, a->u.crl.chunk_len, b->u.crl.chunk,
				  b->u.crl.chunk_len);
		break;
	case CTL_PING:
	case CTL_PONG:
		assert_true(a->u.ping.nonce == b->u.ping.nonce);
		break;
	case CTL_SALT_REQ:
		assert_string_equal(a->u.salt_req.identity, b->u.salt_req.identity);
		break;
	case CTL_SALT:
		assert_string_equal(a->u.salt.identity, b->u.salt.identity);
		assert_int_equal(a->u.salt.ln, b->u.salt.ln);
		assert_memory_equal(a->u.salt.salt, b->u.salt.salt, CTL_SALT_LEN);
		break;
	default:
		fail_msg("type %u", a->type);
	}
}

static void
test_ctlmsg_encode_known_answer(void **state)
{
	for (size_t i = 0; i < KAT_COUNT; i++) {
		uint8_t rec[KAT_MAX], out[KAT_MAX], hdr[RECORD_HDR_LEN];
		size_t n = hex_decode(kats[i].hex, rec, sizeof(rec));
		int len = ctlmsg_encode(&kats[i].m, out, sizeof(out));

		assert_int_equal(len, n - RECORD_HDR_LEN);
		assert_memory_equal(out, rec + RECORD_HDR_LEN, (size_t)len);
		record_hdr_encode(hdr, &(struct record_hdr){ kats[i].m.type, (uint32_t)len });
		assert_memory_equal(hdr, rec, RECORD_HDR_LEN);
	}
}

static void
test_ctlmsg_decode_known_answer(void **state)
{
	for (size_t i = 0; i < KAT_COUNT; i++) {
		uint8_t rec[KAT_MAX], *copy;
		size_t n = hex_decode(kats[i].hex, rec, sizeof(rec));
		struct record_hdr rh;
		struct ctlmsg m;

		assert_true(record_hdr_decode(rec, n, &rh));
		assert_int_equal(rh.len, n - RECORD_HDR_LEN);
		assert_true(decode_copy(rh.type, rec + RECORD_HDR_LEN, rh.len, &m, &copy));
		assert_ctlmsg_equal(&m, &kats[i].m);
		free(copy);
	}
}

/* Blobs are borrowed from the body, not copied. */
static void
test_ctlmsg_decode_borrows_blobs(void **state)
{
	uint8_t body[KAT_MAX];
	size_t n = kat_body(2, body); /* CERT */
	struct ctlmsg m;

	assert_int_equal(kats[2].m.type, CTL_CERT);
	assert_true(ctlmsg_decode(CTL_CERT, body, n, &m));
	assert_ptr_equal(m.u.cert.cert, body + 2);
	assert_ptr_equal(m.u.cert.ca, body + 2 + 5 + 2);
}

/* --- seeded random round trips ------------------------------------------------------------ */

static uint8_t blob_pool[CTL_BLOB_MAX];

static void
rand_str(char *out)
{
	long pick = random() % 8;
	size_t n = pick == 0 ? 0 : pick == 1 ? CTL_STR_MAX : (size_t)(random() % (CTL_STR_MAX + 1));

	for (size_t i = 0; i < n; i++)
		out[i] = (char)(0x20 + random() % (0x7f - 0x20));
	out[n] = '\0';
}

static void
rand_blob(const uint8_t **p, size_t *len)
{
	long pick = random() % 10;
	size_t n = pick == 0 ? 0 : pick == 1 ? CTL_BLOB_MAX : (size_t)(random() % 600);

	*p = blob_pool + (size_t)random() % (CTL_BLOB_MAX - n + 1);
	*len = n;
}

static uint64_t
rand_u64(void)
{
	return (uint64_t)random() << 33 ^ (uint64_t)random() << 11 ^ (uint64_t)random();
}

/* A valid chunk: 1..CTL_BLOB_MAX bytes inside a list of 1..CTL_CRL_TOTAL_MAX bytes. */
static void
rand_crl(struct ctlmsg *m)
{
	do
		rand_blob(&m->u.crl.chunk, &m->u.crl.chunk_len);
	while (m->u.crl.chunk_len == 0);
	rand_str(m->u.crl.domain);
	m->u.crl.number = rand_u64();
	m->u.crl.issued = (int64_t)rand_u64();
	m->u.crl.offset = (uint32_t)(random() % (CTL_CRL_TOTAL_MAX - m->u.crl.chunk_len + 1));
	m->u.crl.total =
	    m->u.crl.offset + (uint32_t)m->u.crl.chunk_len +
	    (uint32_t)(random() % (CTL_CRL_TOTAL_MAX - m->u.crl.offset - m->u.crl.chunk_len + 1));
}

static void
rand_notary(struct ctlmsg *m)
{
	rand_str(m->u.notary.domain);
	m->u.notary.status = (uint8_t)(1 + random() % 4);
	memset(m->u.notary.fpr, 0, CTL_FPR_LEN);
	m->u.notary.first_seen = 0;
	if (m->u.notary.status == CTL_NOTARY_KNOWN || m->u.notary.status == CTL_NOTARY_DISPUTED)
		for (size_t i = 0; i < CTL_FPR_LEN; i++)
			m->u.notary.fpr[i] = (uint8_t)random();
	if (m->u.notary.status == CTL_NOTARY_KNOWN)
		m->u.notary.first_seen = (int64_t)rand_u64();
}

static void
rand_msg(struct ctlmsg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = (uint16_t)(CTL_HELLO + random() % (CTL_SALT - CTL_HELLO + 1));
	switch (m->type) {
	case CTL_HELLO:
		m->u.hello.version = CTL_VERSION;
		m->u.hello.role = (uint8_t)(1 + random() % 2);
		rand_str(m->u.hello.name);
		break;
	case CTL_ENROL:
		rand_str(m->u.enrol.identity);
		m->u.enrol.method = (uint8_t)(1 + random() % 3);
		rand_str(m->u.enrol.secret);
		if (m->u.enrol.method == CTL_ENROL_PROOF) {
			for (int k = 0; k < CTL_PROOF_HEX_LEN; k++)
				m->u.enrol.secret[k] = "0123456789abcdef"[random() % 16];
			m->u.enrol.secret[CTL_PROOF_HEX_LEN] = '\0';
		}
		rand_blob(&m->u.enrol.csr, &m->u.enrol.csr_len);
		break;
	case CTL_CERT:
		rand_blob(&m->u.cert.cert, &m->u.cert.cert_len);
		rand_blob(&m->u.cert.ca, &m->u.cert.ca_len);
		break;
	case CTL_RENEW:
		rand_blob(&m->u.renew.csr, &m->u.renew.csr_len);
		break;
	case CTL_ERROR:
		m->u.error.code = (uint16_t)random();
		rand_str(m->u.error.message);
		break;
	case CTL_CA_REQ:
	case CTL_NOTARY_REQ:
		rand_str(m->u.req.domain);
		break;
	case CTL_CRL_REQ:
		rand_str(m->u.crl_req.domain);
		m->u.crl_req.offset = (uint32_t)rand_u64();
		break;
	case CTL_CA:
		rand_str(m->u.ca.domain);
		rand_blob(&m->u.ca.ca, &m->u.ca.ca_len);
		break;
	case CTL_NOTARY:
		rand_notary(m);
		break;
	case CTL_CRL:
		rand_crl(m);
		break;
	case CTL_SALT_REQ:
		rand_str(m->u.salt_req.identity);
		break;
	case CTL_SALT:
		rand_str(m->u.salt.identity);
		m->u.salt.ln = (uint8_t)(10 + random() % 11);
		for (int k = 0; k < CTL_SALT_LEN; k++)
			m->u.salt.salt[k] = (uint8_t)random();
		break;
	default: /* PING, PONG */
		m->u.ping.nonce = rand_u64();
		break;
	}
}

/* The naive reference: the body length summed field by field from the schema. */
static size_t
ref_len(const struct ctlmsg *m)
{
	switch (m->type) {
	case CTL_HELLO:
		return 2 + 1 + strlen(m->u.hello.name);
	case CTL_ENROL:
		return 1 + strlen(m->u.enrol.identity) + 1 + 1 + strlen(m->u.enrol.secret) + 2 +
		       m->u.enrol.csr_len;
	case CTL_CERT:
		return 2 + m->u.cert.cert_len + 2 + m->u.cert.ca_len;
	case CTL_RENEW:
		return 2 + m->u.renew.csr_len;
	case CTL_ERROR:
		return 2 + 1 + strlen(m->u.error.message);
	case CTL_CA:
		return 1 + strlen(m->u.ca.domain) + 2 + m->u.ca.ca_len;
	case CTL_NOTARY:
		return 1 + strlen(m->u.notary.domain) + 1 + 32 + 8;
	case CTL_CRL:
		return 1 + strlen(m->u.crl.domain) + 8 + 8 + 4 + 4 + 2 + m->u.crl.chunk_len;
	case CTL_CRL_REQ:
		return 1 + strlen(m->u.crl_req.domain) + 4;
	case CTL_PING:
	case CTL_PONG:
		return 8;
	case CTL_SALT_REQ:
		return 1 + strlen(m->u.salt_req.identity);
	case CTL_SALT:
		return 1 + strlen(m->u.salt.identity) + 1 + CTL_SALT_LEN;
	default: /* CA_REQ, NOTARY_REQ */
		return 1 + strlen(m->u.req.domain);
	}
}

static void
test_ctlmsg_decode_round_trip_random(void **state)
{
	static uint8_t buf[2 * (2 + CTL_BLOB_MAX)];

	srandom(24);
	for (size_t i = 0; i < sizeof(blob_pool); i++)
		blob_pool[i] = (uint8_t)random();
	for (int i = 0; i < 5000; i++) {
		struct ctlmsg in, out;
		uint8_t *copy;
		int len;

		rand_msg(&in);
		len = ctlmsg_encode(&in, buf, sizeof(buf));
		assert_int_equal(len, ref_len(&in));
		assert_true((uint32_t)len <= record_body_max(in.type));
		assert_true(decode_copy(in.type, buf, (size_t)len, &out, &copy));
		assert_ctlmsg_equal(&out, &in);
		free(copy);
		/* exactly enough room works; one byte less does not */
		assert_int_equal(ctlmsg_encode(&in, buf, (size_t)len), len);
		assert_int_equal(ctlmsg_encode(&in, buf, (size_t)len - 1), -ENOSPC);
	}
}

/* Every field at its maximum encodes to exactly ctlmsg_body_max, which record_body_max uses. */
static void
test_ctlmsg_body_max_matches_schema(void **state)
{
	static uint8_t buf[2 * (2 + CTL_BLOB_MAX) + 1];
	struct ctlmsg m;
	char s[CTL_STR_MAX + 1];

	memset(s, 'x', CTL_STR_MAX);
	s[CTL_STR_MAX] = '\0';
	for (uint16_t t = CTL_HELLO; t <= CTL_SALT; t++) {
		memset(&m, 0, sizeof(m));
		m.type = t;
		m.u.hello.version = CTL_VERSION;
		m.u.hello.role = CTL_ROLE_SERVER;
		memcpy(m.u.hello.name, s, sizeof(s));
		switch (t) {
		case CTL_ENROL:
			memcpy(m.u.enrol.identity, s, sizeof(s));
			m.u.enrol.method = CTL_ENROL_PASSWORD;
			memcpy(m.u.enrol.secret, s, sizeof(s));
			m.u.enrol.csr = blob_pool;
			m.u.enrol.csr_len = CTL_BLOB_MAX;
			break;
		case CTL_CERT:
			m.u.cert.cert = m.u.cert.ca = blob_pool;
			m.u.cert.cert_len = m.u.cert.ca_len = CTL_BLOB_MAX;
			break;
		case CTL_RENEW:
			m.u.renew.csr = blob_pool;
			m.u.renew.csr_len = CTL_BLOB_MAX;
			break;
		case CTL_CRL:
			memcpy(m.u.crl.domain, s, sizeof(s));
			m.u.crl.chunk = blob_pool;
			m.u.crl.chunk_len = CTL_BLOB_MAX;
			m.u.crl.total = CTL_CRL_TOTAL_MAX;
			break;
		case CTL_ERROR:
			memcpy(m.u.error.message, s, sizeof(s));
			break;
		case CTL_CA_REQ:
		case CTL_NOTARY_REQ:
			memcpy(m.u.req.domain, s, sizeof(s));
			break;
		case CTL_CRL_REQ:
			memcpy(m.u.crl_req.domain, s, sizeof(s));
			break;
		case CTL_CA:
			memcpy(m.u.ca.domain, s, sizeof(s));
			m.u.ca.ca = blob_pool;
			m.u.ca.ca_len = CTL_BLOB_MAX;
			break;
		case CTL_NOTARY:
			memcpy(m.u.notary.domain, s, sizeof(s));
			m.u.notary.status = CTL_NOTARY_KNOWN;
			break;
		case CTL_SALT_REQ:
			memcpy(m.u.salt_req.identity, s, sizeof(s));
			break;
		case CTL_SALT:
			memcpy(m.u.salt.identity, s, sizeof(s));
			m.u.salt.ln = 20;
			break;
		}
		assert_int_equal(ctlmsg_encode(&m, buf, sizeof(buf)), ctlmsg_body_max(t));
		assert_int_equal(record_body_max(t), ctlmsg_body_max(t));
		assert_true(decode_try(t, buf, ctlmsg_body_max(t)));
	}
	assert_int_equal(ctlmsg_body_max(CTL_CERT), 2 + CTL_BLOB_MAX + 2 + CTL_BLOB_MAX);
	assert_int_equal(ctlmsg_body_max(CTL_HELLO), 2 + 1 + CTL_STR_MAX);
	assert_int_equal(ctlmsg_body_max(CTL_PING), 8);
	assert_int_equal(ctlmsg_body_max(15), 0);
	assert_int_equal(ctlmsg_body_max(CTL_SALT), 1 + CTL_STR_MAX + 1 + CTL_SALT_LEN);
	assert_int_equal(ctlmsg_body_max(CTL_OBSERVED + 1), 0);
}

/* --- rejections --------------------------------------------------------------------------- */

static void
test_ctlmsg_decode_rejects_truncated(void **state)
{
	for (size_t i = 0; i < KAT_COUNT; i++) {
		uint8_t body[KAT_MAX];
		size_t n = kat_body(i, body);

		assert_true(decode_try(kats[i].m.type, body, n));
		for (size_t len = 0; len < n; len++)
			assert_false(decode_try(kats[i].m.type, body, len));
	}
}

static void
test_ctlmsg_decode_rejects_trailing(void **state)
{
	for (size_t i = 0; i < KAT_COUNT; i++) {
		uint8_t body[KAT_MAX];
		size_t n = kat_body(i, body);

		body[n] = 0;
		assert_false(decode_try(kats[i].m.type, body, n + 1));
	}
}

/* Length prefixes that claim more than is there, or more than the schema allows. */
static void
test_ctlmsg_decode_rejects_overlong(void **state)
{
	static uint8_t big[2 + CTL_BLOB_MAX + 1];
	uint8_t body[KAT_MAX];
	size_t n = kat_body(0, body); /* HELLO, name at offset 2 */

	body[2] = 0xff;
	assert_false(decode_try(CTL_HELLO, body, n));
	body[2] = 0x14; /* one more than there is */
	assert_false(decode_try(CTL_HELLO, body, n));
	body[2] = 0x12; /* one less: the last byte is trailing */
	assert_false(decode_try(CTL_HELLO, body, n));

	/* a blob of CTL_BLOB_MAX + 1, every byte present */
	memset(big, 0, sizeof(big));
	big[0] = (uint8_t)((CTL_BLOB_MAX + 1) >> 8);
	big[1] = (uint8_t)(CTL_BLOB_MAX + 1);
	assert_false(decode_try(CTL_RENEW, big, sizeof(big)));
	big[0] = (uint8_t)(CTL_BLOB_MAX >> 8);
	big[1] = (uint8_t)CTL_BLOB_MAX;
	assert_true(decode_try(CTL_RENEW, big, sizeof(big) - 1));
}

/* A CRL chunk must lie inside a list of a size a list can have (KAT 11: total 3, offset 0). */
static void
test_ctlmsg_decode_rejects_crl_outside(void **state)
{
	static const struct {
		uint32_t total, offset;
		bool ok;
	} cases[] = {
		{ 3, 0, true },
		{ 4, 1, true },
		{ 2, 0, false }, /* chunk past the end */
		{ 3, 1, false },
		{ 0, 0, false },
		{ 3, 3, false },          /* offset at the end */
		{ 0xffffffff, 0, false }, /* over CTL_CRL_TOTAL_MAX */
		{ CTL_CRL_TOTAL_MAX, CTL_CRL_TOTAL_MAX - 3, true },
		{ CTL_CRL_TOTAL_MAX + 1, 0, false },
	};
	uint8_t body[KAT_MAX], out[KAT_MAX];
	size_t n = kat_body(11, body);
	struct ctlmsg m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* total at body offset 30, offset at 34 */
		for (int b = 0; b < 4; b++) {
			body[30 + b] = (uint8_t)(cases[i].total >> (24 - 8 * b));
			body[34 + b] = (uint8_t)(cases[i].offset >> (24 - 8 * b));
		}
		assert_int_equal(decode_try(CTL_CRL, body, n), cases[i].ok);
		m = kats[11].m;
		m.u.crl.total = cases[i].total;
		m.u.crl.offset = cases[i].offset;
		assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)) > 0, cases[i].ok);
	}
	/* an empty chunk */
	m = kats[11].m;
	m.u.crl.chunk_len = 0;
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -EINVAL);
}

/* String fields of the KATs: which kat, first and last body offset of the characters. */
static const struct {
	size_t kat, first, last;
} kat_strings[] = {
	{ 0, 3, 21 },  /* HELLO name */
	{ 1, 1, 17 },  /* ENROL identity */
	{ 1, 20, 28 }, /* ENROL secret */
	{ 4, 3, 8 },   /* ERROR message */
	{ 5, 1, 13 },  /* CA_REQ domain */
	{ 6, 1, 13 },  /* CA domain */
	{ 8, 1, 13 },  /* NOTARY domain */
};

static void
test_ctlmsg_decode_rejects_unprintable(void **state)
{
	static const uint8_t bad[] = { 0x00, 0x09, 0x1f, 0x7f, 0x80, 0xff };
	static const uint8_t good[] = { 0x20, 0x7e };

	for (size_t k = 0; k < sizeof(kat_strings) / sizeof(kat_strings[0]); k++) {
		uint8_t body[KAT_MAX];
		size_t i = kat_strings[k].kat, n = kat_body(i, body);
		uint16_t type = kats[i].m.type;

		for (size_t off = kat_strings[k].first; off <= kat_strings[k].last; off++) {
			uint8_t saved = body[off];

			for (size_t b = 0; b < sizeof(bad); b++) {
				body[off] = bad[b];
				assert_false(decode_try(type, body, n));
			}
			for (size_t b = 0; b < sizeof(good); b++) {
				body[off] = good[b];
				assert_true(decode_try(type, body, n));
			}
			body[off] = saved;
		}
	}
}

/* Sets body[off] to v and decodes kats[i]'s body. */
static bool
decode_patched(size_t i, size_t off, uint8_t v)
{
	uint8_t body[KAT_MAX];
	size_t n = kat_body(i, body);

	body[off] = v;
	return decode_try(kats[i].m.type, body, n);
}

static void
test_ctlmsg_decode_rejects_bad_enum(void **state)
{
	/* HELLO version (offset 0) and role (1) */
	assert_false(decode_patched(0, 0, 0));
	assert_false(decode_patched(0, 0, CTL_VERSION + 1));
	assert_false(decode_patched(0, 0, 0xff));
	assert_true(decode_patched(0, 1, CTL_ROLE_SERVER));
	assert_false(decode_patched(0, 1, 0));
	assert_false(decode_patched(0, 1, 3));
	/* ENROL method (18) */
	assert_true(decode_patched(1, 18, CTL_ENROL_PASSWORD));
	assert_false(decode_patched(1, 18, 0));
	assert_false(decode_patched(1, 18, 3)); /* a proof, but the secret is not 64 hex digits */
	assert_false(decode_patched(1, 18, 4));
	/* NOTARY status (14) */
	assert_false(decode_patched(8, 14, 0));
	assert_false(decode_patched(8, 14, 5));
	assert_false(decode_patched(8, 14, CTL_NOTARY_DISPUTED)); /* a first sighting */
	assert_true(decode_patched(9, 14, CTL_NOTARY_UNREACHABLE));
	assert_true(decode_patched(9, 14, CTL_NOTARY_DISPUTED));
	assert_false(decode_patched(9, 14, 0));
	assert_false(decode_patched(9, 14, 5));
	/* a known status needs no particular fingerprint */
	assert_true(decode_patched(9, 14, CTL_NOTARY_KNOWN));
}

/* A proof has one spelling (64 lower-case hex digits); a salt's cost is 10..20. */
static void
test_ctlmsg_decode_rejects_bad_proof_and_cost(void **state)
{
	size_t proof_kat = KAT_COUNT - 1, salt_kat = KAT_COUNT - 2;

	(void)state;
	/* the proof's first digit is at body offset 20 */
	assert_true(decode_patched(proof_kat, 20, 'f'));
	assert_false(decode_patched(proof_kat, 20, 'F'));
	assert_false(decode_patched(proof_kat, 20, 'g'));
	assert_false(decode_patched(proof_kat, 20, ' '));
	/* the proof's length byte (19) */
	assert_false(decode_patched(proof_kat, 19, 63));
	/* SALT cost at body offset 18 */
	assert_true(decode_patched(salt_kat, 18, 10));
	assert_true(decode_patched(salt_kat, 18, 20));
	assert_false(decode_patched(salt_kat, 18, 9));
	assert_false(decode_patched(salt_kat, 18, 21));
}

/* An unknown or unreachable domain has no fingerprint and no first sighting. */
static void
test_ctlmsg_decode_rejects_notary_fpr(void **state)
{
	for (size_t off = 15; off < 15 + CTL_FPR_LEN + 8; off++) {
		assert_true(decode_patched(9, off, 0));
		assert_false(decode_patched(9, off, 1));
		assert_false(decode_patched(9, off, 0x80));
	}
}

static void
test_ctlmsg_decode_rejects_unknown_type(void **state)
{
	static const uint16_t types[] = { 0,  RECORD_HELLO,     RECORD_FRAME,
					  15, CTL_OBSERVED + 1, 0xffff };
	uint8_t body[KAT_MAX];
	size_t n = kat_body(12, body); /* PING: any 8 bytes */

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_false(ctlmsg_is_known(types[i]));
		assert_false(decode_try(types[i], body, n));
		assert_string_equal(ctlmsg_type_name(types[i]), "unknown");
	}
	for (uint16_t t = CTL_HELLO; t <= CTL_OBSERVED; t++)
		assert_true(ctlmsg_is_known(t));
}

/* A refused body leaves the caller's message as it was. */
static void
test_ctlmsg_decode_failure_keeps_message(void **state)
{
	uint8_t body[KAT_MAX];
	size_t n = kat_body(0, body);
	struct ctlmsg m = kats[4].m, before = kats[4].m;

	body[n - 1] = 0x7f;
	assert_false(ctlmsg_decode(CTL_HELLO, body, n, &m));
	assert_memory_equal(&m, &before, sizeof(m));
}

static void
test_ctlmsg_encode_enospc(void **state)
{
	for (size_t i = 0; i < KAT_COUNT; i++) {
		uint8_t out[KAT_MAX];
		int n = ctlmsg_encode(&kats[i].m, out, sizeof(out));

		assert_true(n > 0);
		for (int cap = 0; cap < n; cap++) {
			uint8_t *small = malloc(cap ? (size_t)cap : 1);

			assert_int_equal(ctlmsg_encode(&kats[i].m, small, (size_t)cap), -ENOSPC);
			free(small);
		}
	}
}

static void
test_ctlmsg_encode_einval(void **state)
{
	uint8_t out[KAT_MAX];
	struct ctlmsg m;

	/* a string of CTL_STR_MAX + 1 characters: no room for the NUL in the field */
	m = kats[0].m;
	memset(m.u.hello.name, 'a', sizeof(m.u.hello.name));
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -EINVAL);
	/* invalid beats too small */
	assert_int_equal(ctlmsg_encode(&m, out, 0), -EINVAL);
	m.u.hello.name[CTL_STR_MAX] = '\0';
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -ENOSPC);
	/* unprintable */
	m = kats[1].m;
	m.u.enrol.secret[0] = '\n';
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -EINVAL);
	m = kats[4].m;
	m.u.error.message[0] = (char)0xc3;
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -EINVAL);
	/* blob too long */
	m = kats[3].m;
	m.u.renew.csr = blob_pool;
	m.u.renew.csr_len = CTL_BLOB_MAX + 1;
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -EINVAL);
	/* enums */
	m = kats[0].m;
	m.u.hello.version = 2;
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -EINVAL);
	m = kats[0].m;
	m.u.hello.role = 0;
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -EINVAL);
	m = kats[1].m;
	m.u.enrol.method = 3;
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -EINVAL);
	m = kats[8].m;
	m.u.notary.status = 5;
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -EINVAL);
	/* unknown status with a fingerprint, or with a first sighting */
	m = kats[8].m;
	m.u.notary.status = CTL_NOTARY_UNKNOWN;
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -EINVAL);
	m = kats[9].m;
	m.u.notary.first_seen = 1;
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -EINVAL);
	/* unknown type */
	m = kats[12].m;
	m.type = 31;
	assert_int_equal(ctlmsg_encode(&m, out, sizeof(out)), -EINVAL);
}

static void
test_ctlmsg_type_name_all(void **state)
{
	static const char *const names[] = { "hello",  "enrol", "cert",       "renew",    "error",
					     "ca_req", "ca",    "notary_req", "notary",   "crl_req",
					     "crl",    "ping",  "pong",       "salt_req", "salt" };

	for (uint16_t t = CTL_HELLO; t <= CTL_SALT; t++)
		assert_string_equal(ctlmsg_type_name(t), names[t - CTL_HELLO]);
}

static void
test_ctlmsg_error_name_all(void **state)
{
	assert_string_equal(ctlmsg_error_name(CTL_ERR_PROTOCOL), "protocol");
	assert_string_equal(ctlmsg_error_name(CTL_ERR_DENIED), "denied");
	assert_string_equal(ctlmsg_error_name(CTL_ERR_RATE), "rate");
	assert_string_equal(ctlmsg_error_name(CTL_ERR_BAD_CSR), "bad_csr");
	assert_string_equal(ctlmsg_error_name(CTL_ERR_REVOKED), "revoked");
	assert_string_equal(ctlmsg_error_name(CTL_ERR_UNKNOWN), "unknown_domain");
	assert_string_equal(ctlmsg_error_name(CTL_ERR_INTERNAL), "internal");
	assert_string_equal(ctlmsg_error_name(0), "other");
	assert_string_equal(ctlmsg_error_name(8), "other");
	assert_string_equal(ctlmsg_error_name(0xffff), "other");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctlmsg_encode_known_answer),
		cmocka_unit_test(test_ctlmsg_decode_known_answer),
		cmocka_unit_test(test_ctlmsg_decode_borrows_blobs),
		cmocka_unit_test(test_ctlmsg_decode_round_trip_random),
		cmocka_unit_test(test_ctlmsg_body_max_matches_schema),
		cmocka_unit_test(test_ctlmsg_decode_rejects_truncated),
		cmocka_unit_test(test_ctlmsg_decode_rejects_trailing),
		cmocka_unit_test(test_ctlmsg_decode_rejects_overlong),
		cmocka_unit_test(test_ctlmsg_decode_rejects_crl_outside),
		cmocka_unit_test(test_ctlmsg_decode_rejects_unprintable),
		cmocka_unit_test(test_ctlmsg_decode_rejects_bad_enum),
		cmocka_unit_test(test_ctlmsg_decode_rejects_notary_fpr),
		cmocka_unit_test(test_ctlmsg_decode_rejects_bad_proof_and_cost),
		cmocka_unit_test(test_ctlmsg_decode_rejects_unknown_type),
		cmocka_unit_test(test_ctlmsg_decode_failure_keeps_message),
		cmocka_unit_test(test_ctlmsg_encode_enospc),
		cmocka_unit_test(test_ctlmsg_encode_einval),
		cmocka_unit_test(test_ctlmsg_type_name_all),
		cmocka_unit_test(test_ctlmsg_error_name_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
