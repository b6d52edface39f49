// SPDX-License-Identifier: MIT
/*
 * The TOFU decision (DESIGN §3), kept pure: the caller gathers the existing pin and the
 * notaries' answers, this file only decides and explains. Fingerprints print exactly as
 * cert_fpr_format() prints them, so what the user reads here matches `vertex trust` and the
 * certificate tools.
 *
 * Unknown and unreachable notaries never block a first use (otherwise one offline server would
 * make a new domain unreachable), but they are recorded in the pin's `how`, so a pin made on
 * thin evidence is visible as such later.
 */
#include "trust/pins.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "crypto/cert.h"

_Static_assert((int)PIN_FPR_LEN == (int)CERT_FPR_LEN,
	       "pins and certificates share the fingerprint");

enum { PIN_FPR_STR = 7 + 44 };

/* A bounded string being built; once full, it ends in "..." and further appends are dropped. */
struct pin_text {
	char *buf;
	size_t cap, len;
	bool cut;
};

static void
pin_text_add(struct pin_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->cut || t->cap == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < t->cap - t->len) {
		t->len += (size_t)n;
		return;
	}
	t->cut = true;
	t->len = t->cap - 1;
	if (t->cap > 4)
		memcpy(t->buf + t->cap - 4, "...", 4);
}

/* Appends "<label>: a, b" listing the notaries with status st (and, for KNOWN, fpr). */
static size_t
pin_list_notaries(struct pin_text *t, const char *label, const struct pin_notary_answer *answers,
		  size_t n, enum pin_notary_status st, const uint8_t *fpr)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		if (answers[i].status != st)
			continue;
		if (st == PIN_NOTARY_KNOWN && memcmp(answers[i].fpr, fpr, PIN_FPR_LEN) != 0)
			continue;
		pin_text_add(t, "%s%.*s", count ? ", " : label, PIN_NOTARY_NAME_MAX,
			     answers[i].notary);
		count++;
	}
	return count;
}

/*
 * "first use; agreed: X, Y", else "first use; no notary knew DOMAIN" if any was asked and
 * answered, then "; notaries unreachable: Z" for those that did not answer.
 */
static void
pin_describe_new(const char *domain, const uint8_t fpr[PIN_FPR_LEN],
		 const struct pin_notary_answer *answers, size_t n, char *how, size_t howlen)
{
	struct pin_text t = { how, howlen, 0, false };
	size_t agreed, unknown = 0;

	if (howlen)
		how[0] = '\0';
	pin_text_add(&t, "first use");
	agreed = pin_list_notaries(&t, "; agreed: ", answers, n, PIN_NOTARY_KNOWN, fpr);
	for (size_t i = 0; i < n; i++)
		unknown += answers[i].status == PIN_NOTARY_UNKNOWN;
	if (!agreed && unknown)
		pin_text_add(&t, "; no notary knew %s", domain);
	pin_list_notaries(&t, "; notaries unreachable: ", answers, n, PIN_NOTARY_UNREACHABLE, NULL);
	if (n == 0)
		pin_text_add(&t, "; no notary asked");
}

/* The first notary that knows another fingerprint, else the first that reports a dispute. */
static const struct pin_notary_answer *
pin_find_disagreement(const uint8_t fpr[PIN_FPR_LEN], const struct pin_notary_answer *answers,
		      size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (answers[i].status == PIN_NOTARY_KNOWN &&
		    memcmp(answers[i].fpr, fpr, PIN_FPR_LEN) != 0)
			return &answers[i];
	for (size_t i = 0; i < n; i++)
		if (answers[i].status == PIN_NOTARY_DISPUTED)
			return &answers[i];
	return NULL;
}

static enum pin_verdict
pin_decide_existing(const char *domain, const uint8_t fpr[PIN_FPR_LEN], const struct pin *existing,
		    struct pin_text *msg)
{
	char seen[PIN_FPR_STR + 1], pinned[PIN_FPR_STR + 1], when[32];

	cert_fpr_format(fpr, seen, sizeof(seen));
	if (memcmp(existing->fpr, fpr, PIN_FPR_LEN) == 0) {
		pin_text_add(msg, "%s: CA %s matches the pin", domain, seen);
		return PIN_MATCH;
	}
	cert_fpr_format(existing->fpr, pinned, sizeof(pinned));
	cert_time_format(existing->first_seen, when, sizeof(when));
	pin_text_add(
	    msg,
	    "%s: CA fingerprint changed: presented %s, pinned %s (since %s, %.*s); refused "
	    "until re-pinned with `vertex trust`",
	    domain, seen, pinned, when, PIN_HOW_MAX - 1, existing->how);
	return PIN_MISMATCH;
}

enum pin_verdict
pin_decide(const char *domain, const uint8_t fpr[PIN_FPR_LEN], const struct pin *existing,
	   const struct pin_notary_answer *answers, size_t nanswers, int64_t now,
	   struct pin *new_pin, char *msg, size_t msglen)
{
	struct pin_text m = { msg, msglen, 0, false };
	const struct pin_notary_answer *bad;
	char seen[PIN_FPR_STR + 1], theirs[PIN_FPR_STR + 1];
	struct pin p = { .first_seen = now };

	if (msglen)
		msg[0] = '\0';
	if (existing)
		return pin_decide_existing(domain, fpr, existing, &m);
	cert_fpr_format(fpr, seen, sizeof(seen));
	bad = pin_find_disagreement(fpr, answers, nanswers);
	if (bad) {
		cert_fpr_format(bad->fpr, theirs, sizeof(theirs));
		if (bad->status == PIN_NOTARY_DISPUTED)
			pin_text_add(&m,
				     "%s: notary %.*s reports the domain disputed (it was shown CA "
				     "%s and one of its notaries disagreed); %s refused",
				     domain, PIN_NOTARY_NAME_MAX, bad->notary, theirs, seen);
		else
			pin_text_add(&m,
				     "%s: notary %.*s sees CA %s, but %s was presented; refused",
				     domain, PIN_NOTARY_NAME_MAX, bad->notary, theirs, seen);
		return PIN_NOTARY_DISAGREE;
	}
	snprintf(p.domain, sizeof(p.domain), "%s", domain);
	memcpy(p.fpr, fpr, PIN_FPR_LEN);
	pin_describe_new(domain, fpr, answers, nanswers, p.how, sizeof(p.how));
	pin_text_add(&m, "%s: pinned CA %s (%s)", domain, seen, p.how);
	if (new_pin)
		*new_pin = p;
	return PIN_NEW;
}

const char *
pin_verdict_name(enum pin_verdict v)
{
	switch (v) {
	case PIN_MATCH:
		return "match";
	case PIN_NEW:
		return "new";
	case PIN_MISMATCH:
		return "mismatch";
	case PIN_NOTARY_DISAGREE:
		return "notary-disagree";
	}
	return "?";
}

void
pin_answer_format(const struct pin_notary_answer *a, char *buf, size_t len)
{
	char fpr[PIN_FPR_STR + 1];

	cert_fpr_format(a->fpr, fpr, sizeof(fpr));
	switch (a->status) {
	case PIN_NOTARY_KNOWN:
		snprintf(buf, len, "sees CA %s", fpr);
		return;
	case PIN_NOTARY_UNKNOWN:
		snprintf(buf, len, "does not know the domain");
		return;
	case PIN_NOTARY_DISPUTED:
		snprintf(buf, len, "reports the domain disputed (shown CA %s)", fpr);
		return;
	case PIN_NOTARY_UNREACHABLE:
		break;
	}
	snprintf(buf, len, "did not answer");
}
