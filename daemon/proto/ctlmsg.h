/* SPDX-License-Identifier: MIT */
/*
 * Control-channel messages (DESIGN §4.1): the bodies of records (proto/record.h framing: u16
 * type, u32 length) exchanged over TLS 1.3 between an agent and its domain's server, and between
 * servers. Types 16 and up; unknown types are skipped by length, never fatal.
 *
 * Every body is a fixed sequence of fields, big-endian integers, and length-prefixed byte
 * strings: str8 = u8 length + bytes (names, messages), blob16 = u16 length + bytes (DER,
 * signed lists). Each type has an exact schema; a body with missing or trailing bytes, a string
 * that is too long or not printable ASCII, or a value out of range is refused (decode returns
 * false), and the caller answers with CTL_ERROR or closes.
 *
 *   CTL_HELLO       version u8 (1) | role u8 (1 agent, 2 server) | name str8 (identity or domain)
 *   CTL_ENROL       identity str8 | method u8 (1 invite, 2 password, 3 password proof)
 *                   | secret str8 | csr blob16         (method 3: secret is the proof in 64
 *                                                      lower-case hex digits; method 2, the
 *                                                      password itself, is refused by servers)
 *   CTL_CERT        cert blob16 | ca blob16            (answer to ENROL and RENEW)
 *   CTL_RENEW       csr blob16                         (over a mutually authenticated channel)
 *   CTL_ERROR       code u16 | message str8
 *   CTL_CA_REQ      domain str8                        (what CA does this server use / see?)
 *   CTL_CA          domain str8 | ca blob16
 *   CTL_NOTARY_REQ  domain str8
 *   CTL_NOTARY      domain str8 | status u8 (1 known, 2 unknown, 3 unreachable, 4 disputed)
 *                   | fpr 32 bytes (what it saw when known or disputed, else zero)
 *                   | first_seen i64 (unix seconds when known, else 0)
 *   CTL_CRL_REQ     domain str8 | offset u32           (the current list, from byte offset)
 *   CTL_CRL         domain str8 | number u64 | issued i64 | total u32 | offset u32
 *                   | chunk blob16                     (bytes [offset, offset + chunk length)
 *                                                      of the signed list, crypto/crl.h, which
 *                                                      is total bytes long; number and issued
 *                                                      name the list, as in its signed header)
 *   CTL_PING        nonce u64                          (keepalive; answered by CTL_PONG)
 *   CTL_PONG        nonce u64
 *   CTL_SALT_REQ    identity str8                      (how do I prove this user's password?)
 *   CTL_SALT        identity str8 | ln u8 (10..20) | salt 16 bytes (scrypt cost and salt)
 *
 * Rendezvous and relay (docs/rendezvous.md). Every one of these names both ends, `from` and `to`
 * (canonical user@domain identities, no purpose), on every hop: agent -> its server -> the other
 * domain's server -> agent (one server when both share a domain). Each hop checks what it can:
 * a server takes from its own agent only `from` == the certificate's identity, from another
 * domain's server only a `from` of that domain and a `to` of its own.
 *
 *   CTL_CONTACT     id u64 (non-zero) | from str8 | to str8 | purpose str8 | ttl u16 (seconds,
 *                   1..CTL_CONTACT_TTL_MAX) | fpr 32 bytes (from's certificate as from's server
 *                   verified it; zero from the agent, which its server fills in)
 *   CTL_ANSWER      id u64 | from str8 (who answers) | to str8 (who asked) | purpose str8
 *                   | verdict u8 | proto u8 | port u16   (proto 6 tcp or 17 udp and a port only
 *                   when verdict is APPROVED, else both zero; REVOKED may have an empty purpose:
 *                   every purpose between the two)
 *   CTL_RELAY       from str8 | to str8 | channel u32 (non-zero) | flags u8 | data blob16
 *                   (bytes of a relayed peer link: the agents' own TLS 1.3, opaque to servers;
 *                   flags RELAY_DIALER: sent by the side that opened the channel, RELAY_FIN:
 *                   the sender closed it; data may be empty only with FIN)
 *   CTL_RELAY_FRAME from str8 | to str8 | frame blob16   (one data frame, proto/frame.h: a
 *                   datagram, which any hop may drop)
 *   CTL_OFFER       from str8 | to str8 | generation u32 | count u8 (0..CTL_CANDIDATES_MAX)
 *                   | count x (kind u8 (non-zero) | proto u8 | family u8 (4 or 6) | addr 16
 *                   | port u16 | priority u32)        (ways to reach `from` directly, sent
 *                   only to an approved peer; kinds a receiver does not know are ignored, so the
 *                   direct-paths work adds kinds, not records; IPv4 addresses sit in the first
 *                   four bytes of addr, the rest zero). Kind 4 (CTL_CAND_NAT) is no place to
 *                   send to but what the sender's reflection saw of its NAT: proto 17, addr and
 *                   port the public address toward the server's other port (port 0: not seen),
 *                   priority = mapping | filtering << 8 (direct/natclass.h's enums: mapping
 *                   at most 2, filtering at most 4; the other bits zero)
 */
#ifndef VERTEX_CTLMSG_H
#define VERTEX_CTLMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trust/identity.h"

enum ctlmsg_type {
	CTL_HELLO = 16,
	CTL_ENROL = 17,
	CTL_CERT = 18,
	CTL_RENEW = 19,
	CTL_ERROR = 20,
	CTL_CA_REQ = 21,
	CTL_CA = 22,
	CTL_NOTARY_REQ = 23,
	CTL_NOTARY = 24,
	CTL_CRL_REQ = 25,
	CTL_CRL = 26,
	CTL_PING = 27,
	CTL_PONG = 28,
	CTL_SALT_REQ = 29,
	CTL_SALT = 30,
	CTL_CONTACT = 31,
	CTL_ANSWER = 32,
	CTL_RELAY = 33,
	CTL_RELAY_FRAME = 34,
	CTL_OFFER = 35,
	CTL_OBSERVED = 36,
};

enum {
	CTL_VERSION = 1,
	CTL_STR_MAX = 255,
	CTL_BLOB_MAX = 16384, /* certificates and CRLs; a CRL of ~500 revocations */
	CTL_FPR_LEN = 32,
	CTL_SALT_LEN = 16,
	CTL_PROOF_HEX_LEN = 64, /* a 32-byte enrolment proof in hex */
	/* A signed revocation list travels in CTL_CRL chunks of at most CTL_BLOB_MAX bytes; this
	 * is the largest whole list (crypto/crl.h CRL_WIRE_MAX, asserted there). */
	CTL_CRL_TOTAL_MAX = 2097503,
	CTL_CONTACT_TTL_MAX = 900, /* a request waits for a person at most 15 minutes */
	CTL_CANDIDATES_MAX = 16,
	CTL_RELAY_DATA_MAX = CTL_BLOB_MAX,
};

/* CTL_ANSWER verdicts: each a distinct, clear answer to the asker. */
enum ctl_verdict {
	CTL_VERDICT_APPROVED = 1,
	CTL_VERDICT_DENIED = 2,
	CTL_VERDICT_NO_PURPOSE = 3,   /* the user offers no such purpose (to this asker) */
	CTL_VERDICT_UNKNOWN_USER = 4, /* no such account in the domain */
	CTL_VERDICT_OFFLINE = 5,      /* the account exists, its agent is not connected */
	CTL_VERDICT_TIMEOUT = 6,      /* nobody answered within the request's ttl */
	CTL_VERDICT_RATE = 7,         /* too many requests from the asker; try later */
	CTL_VERDICT_REVOKED = 8,      /* an approval withdrawn (purpose "" : all of them) */
	CTL_VERDICT_UNREACHABLE = 9,  /* the other domain's server could not be reached */
	CTL_VERDICT_LAST = CTL_VERDICT_UNREACHABLE,
};

enum ctl_relay_flags { CTL_RELAY_FIN = 1 << 0, CTL_RELAY_DIALER = 1 << 1 };

/* CTL_OFFER candidate kinds (the direct-paths work adds more; unknown kinds are ignored). */
enum ctl_candidate_kind {
	CTL_CAND_HOST = 1,    /* an interface address */
	CTL_CAND_SRFLX = 2,   /* our address as a server saw it */
	CTL_CAND_MAPPED = 3,  /* a port mapping on the router (UPnP IGD, NAT-PMP, PCP) */
	CTL_CAND_NAT = 4,     /* the sender's NAT, as its reflection saw it (see above) */
	CTL_CAND_SIMOPEN = 5, /* its NAT's TCP mapping of the peer port: simultaneous open only */
};

/* CTL_CAND_NAT: mapping 0..2, filtering 0..4 (direct/natclass.h's enums) */
enum { CTL_NAT_MAPPING_MAX = 2, CTL_NAT_FILTERING_MAX = 4 };

struct ctl_candidate {
	uint8_t kind, proto, family;
	uint8_t addr[16];
	uint16_t port;
	uint32_t priority;
};

enum ctl_role { CTL_ROLE_AGENT = 1, CTL_ROLE_SERVER = 2 };
enum ctl_enrol_method {
	CTL_ENROL_INVITE = 1,
	CTL_ENROL_PASSWORD = 2, /* the password in clear: decoded, but no longer accepted */
	CTL_ENROL_PROOF = 3,    /* a proof of the password bound to this TLS connection */
};
enum ctl_notary_status {
	CTL_NOTARY_KNOWN = 1,
	CTL_NOTARY_UNKNOWN = 2,
	CTL_NOTARY_UNREACHABLE = 3,
	CTL_NOTARY_DISPUTED = 4, /* it saw fpr at first use, but another notary disagreed */
};

/* Error codes in CTL_ERROR; the message says the rest in words. */
enum ctl_error_code {
	CTL_ERR_PROTOCOL = 1, /* malformed or unexpected message */
	CTL_ERR_DENIED = 2,   /* wrong code, wrong password, unknown user: deliberately one code */
	CTL_ERR_RATE = 3,     /* too many attempts; try later */
	CTL_ERR_BAD_CSR = 4,  /* CSR invalid, or names another user or domain */
	CTL_ERR_REVOKED = 5,  /* the account or certificate is revoked */
	CTL_ERR_UNKNOWN = 6,  /* unknown domain */
	CTL_ERR_INTERNAL = 7,
};

/* A decoded message. Byte strings point into the decoded buffer (borrowed); strings are copied
 * NUL-terminated. */
struct ctlmsg {
	uint16_t type;
	union {
		struct {
			uint8_t version, role;
			char name[CTL_STR_MAX + 1];
		} hello;
		struct {
			char identity[CTL_STR_MAX + 1];
			uint8_t method;
			char secret[CTL_STR_MAX + 1];
			const uint8_t *csr;
			size_t csr_len;
		} enrol;
		struct {
			const uint8_t *cert, *ca;
			size_t cert_len, ca_len;
		} cert;
		struct {
			const uint8_t *csr;
			size_t csr_len;
		} renew;
		struct {
			uint16_t code;
			char message[CTL_STR_MAX + 1];
		} error;
		struct {
			char domain[CTL_STR_MAX + 1];
		} req; /* CA_REQ, NOTARY_REQ */
		struct {
			char domain[CTL_STR_MAX + 1];
			uint32_t offset;
		} crl_req;
		struct {
			char domain[CTL_STR_MAX + 1];
			const uint8_t *ca;
			size_t ca_len;
		} ca;
		struct {
			char domain[CTL_STR_MAX + 1];
			uint8_t status;
			uint8_t fpr[CTL_FPR_LEN];
			int64_t first_seen;
		} notary;
		struct {
			char domain[CTL_STR_MAX + 1];
			uint64_t number;
			int64_t issued;
			uint32_t total,
			    offset;           /* 1 <= total <= CTL_CRL_TOTAL_MAX, offset < total */
			const uint8_t *chunk; /* 1..CTL_BLOB_MAX bytes, within total */
			size_t chunk_len;
		} crl;
		struct {
			uint64_t nonce;
		} ping; /* PING, PONG */
		struct {
			char identity[CTL_STR_MAX + 1];
		} salt_req;
		struct {
			char identity[CTL_STR_MAX + 1];
			uint8_t ln;
			uint8_t salt[CTL_SALT_LEN];
		} salt;
		struct {
			uint64_t id;
			char from[CTL_STR_MAX + 1], to[CTL_STR_MAX + 1];
			char purpose[IDENTITY_PURPOSE_MAX + 1];
			uint16_t ttl;
			uint8_t fpr[CTL_FPR_LEN];
		} contact;
		struct {
			uint64_t id;
			char from[CTL_STR_MAX + 1], to[CTL_STR_MAX + 1];
			char purpose[IDENTITY_PURPOSE_MAX + 1];
			uint8_t verdict, proto;
			uint16_t port;
		} answer;
		struct {
			char from[CTL_STR_MAX + 1], to[CTL_STR_MAX + 1];
			uint32_t channel;
			uint8_t flags;
			const uint8_t *data;
			size_t data_len;
		} relay;
		struct {
			char from[CTL_STR_MAX + 1], to[CTL_STR_MAX + 1];
			const uint8_t *frame;
			size_t frame_len;
		} frame;
		struct {
			char from[CTL_STR_MAX + 1], to[CTL_STR_MAX + 1];
			uint32_t generation;
			uint8_t count;
			struct ctl_candidate cand[CTL_CANDIDATES_MAX];
		} offer;
		struct {
			uint8_t family; /* 4 or 6 */
			uint8_t addr[16];
			uint16_t port;
		} observed;
	} u;
};

/*
 * Encodes m (its type selects the schema) into buf; returns the body length, or -ENOSPC if cap
 * is too small, -EINVAL if a field is out of range. The caller frames it with record_hdr_encode.
 */
int ctlmsg_encode(const struct ctlmsg *m, uint8_t *buf, size_t cap);
/* Decodes a body of the given type. False for unknown types, malformed or trailing bytes. */
bool ctlmsg_decode(uint16_t type, const uint8_t *body, size_t len, struct ctlmsg *m);
bool ctlmsg_is_known(uint16_t type);
/*
 * Largest body a known type can have (every string and blob at its maximum), so the record
 * reader (record_body_max) can refuse a longer one before buffering it; 0 for unknown types.
 */
uint32_t ctlmsg_body_max(uint16_t type);
const char *ctlmsg_type_name(uint16_t type);
const char *ctlmsg_error_name(uint16_t code);
/* "approved", "denied", ... (log and CLI keys, stable); "other" for codes we do not know. */
const char *ctlmsg_verdict_name(uint8_t verdict);
/* The `from` and `to` of a rendezvous or relay message (CONTACT .. OFFER); NULL for others. */
const char *ctlmsg_from(const struct ctlmsg *m);
const char *ctlmsg_to(const struct ctlmsg *m);

#endif
