// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the server's rendezvous and relay state (daemon/server/rendezvous.c,
 * relay.c, pending.c, approvals.c): the records' bytes are fuzz_ctlmsg's business, so here the
 * input is a program of operations on records already decoded, over a small world where the
 * checks can pass: one process serving a.example.com and b.example.com (run --also), a few
 * identities and purposes of each, records arriving from an agent of a (its connection already
 * gone, so nothing is delivered to anyone: the state is what is under test) or from the server
 * of the other domain, and the clock moving. b runs as with --private, so that requests stay
 * pending long enough for answers to match them (nobody is connected to answer otherwise).
 *
 * Each operation is 6 bytes: kind (CONTACT, ANSWER, RELAY, RELAY_FRAME, OFFER, or a clock step),
 * from, to, purpose, verdict or flags, id. Checked after every operation: the pending tables
 * stay within PENDING_MAX, and a clock step past the longest ttl leaves nothing pending.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/log.h"
#include "proto/ctlmsg.h"
#include "server/accounts.h"
#include "server/pending.h"
#include "server/rdv_int.h"
#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_ids[] = {
	"alice@a.example.com", "bob@a.example.com",  "nobody@a.example.com",
	"carol@b.example.com", "dave@b.example.com", "nobody@b.example.com",
};
static const char *const fuzz_purposes[] = { "ssh", "web", "" };
enum { FUZZ_NIDS = 6, FUZZ_NPURPOSES = 3, FUZZ_OP_LEN = 6 };

static struct ev_loop *fuzz_loop;
static uint64_t fuzz_now = 1000;
static struct server fuzz_a, fuzz_b;
static struct sconn fuzz_agent; /* alice's connection, closed: it takes no sends */

static uint64_t
fuzz_clock(void *arg)
{
	(void)arg;
	return fuzz_now;
}

static void
fuzz_domain(struct server *s, const char *domain, const char *dir, const char *user1,
	    const char *user2)
{
	char db[256];

	snprintf(s->domain, sizeof(s->domain), "%s", domain);
	s->primary = &fuzz_a;
	s->loop = fuzz_loop;
	snprintf(db, sizeof(db), "%s/%s.db", dir, domain);
	if (accounts_open(&s->acc, db) || rdv_open(s, db))
		abort();
	accounts_user_add(s->acc, user1, NULL, 1);
	accounts_user_add(s->acc, user2, NULL, 1);
}

static char fuzz_dir[] = "/tmp/vtx-fuzz-rdv-XXXXXX";

/* At exit: the stores and their directory go (libFuzzer runs this when it stops). */
static void
fuzz_cleanup(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char path[300];

	rdv_close(&fuzz_b);
	rdv_close(&fuzz_a);
	accounts_close(fuzz_b.acc);
	accounts_close(fuzz_a.acc);
	for (int d = 0; d < 2; d++)
		for (int i = 0; i < 4; i++) {
			snprintf(path, sizeof(path), "%s/%s.db%s", fuzz_dir,
				 d ? "b.example.com" : "a.example.com", suffix[i]);
			unlink(path);
		}
	rmdir(fuzz_dir);
}

static void
fuzz_init(void)
{
	char *dir = fuzz_dir;

	log_set_quiet(true);
	if (!mkdtemp(dir) || ev_loop_new(&fuzz_loop))
		abort();
	atexit(fuzz_cleanup);
	ev_loop_set_clock(fuzz_loop, fuzz_clock, NULL);
	fuzz_domain(&fuzz_a, "a.example.com", dir, "alice", "bob");
	fuzz_domain(&fuzz_b, "b.example.com", dir, "carol", "dave");
	fuzz_a.hosted = &fuzz_b;
	/* b holds unknown and offline answers (run --private): requests stay pending on both
	 * sides, so answers can match them and approvals come and go. */
	fuzz_b.opts.private_mode = true;
	fuzz_agent.srv = &fuzz_a;
	fuzz_agent.closed = true;
	fuzz_agent.hello = true;
	fuzz_agent.role = CTL_ROLE_AGENT;
	snprintf(fuzz_agent.peer, sizeof(fuzz_agent.peer), "%s", fuzz_ids[0]);
	snprintf(fuzz_agent.addr, sizeof(fuzz_agent.addr), "fuzz");
}

/* One operation's record, from its bytes; false for a clock step. */
static bool
fuzz_record(const uint8_t *op, struct ctlmsg *m, uint8_t *payload)
{
	const char *from = fuzz_ids[op[1] % FUZZ_NIDS], *to = fuzz_ids[op[2] % FUZZ_NIDS];
	const char *purpose = fuzz_purposes[op[3] % FUZZ_NPURPOSES];

	memset(m, 0, sizeof(*m));
	switch (op[0] % 6) {
	case 0:
		m->type = CTL_CONTACT;
		snprintf(m->u.contact.from, sizeof(m->u.contact.from), "%s", from);
		snprintf(m->u.contact.to, sizeof(m->u.contact.to), "%s", to);
		snprintf(m->u.contact.purpose, sizeof(m->u.contact.purpose), "%s",
			 purpose[0] ? purpose : "ssh");
		m->u.contact.ttl = (uint16_t)(1 + op[4] % CTL_CONTACT_TTL_MAX);
		m->u.contact.id = 1 + op[5] % 4;
		return true;
	case 1:
		m->type = CTL_ANSWER;
		snprintf(m->u.answer.from, sizeof(m->u.answer.from), "%s", from);
		snprintf(m->u.answer.to, sizeof(m->u.answer.to), "%s", to);
		snprintf(m->u.answer.purpose, sizeof(m->u.answer.purpose), "%s", purpose);
		m->u.answer.verdict = (uint8_t)(1 + op[4] % CTL_VERDICT_LAST);
		if (m->u.answer.verdict == CTL_VERDICT_APPROVED) {
			m->u.answer.proto = 6;
			m->u.answer.port = 22;
		}
		m->u.answer.id = 1 + op[5] % 4;
		return true;
	case 2:
		m->type = CTL_RELAY;
		snprintf(m->u.relay.from, sizeof(m->u.relay.from), "%s", from);
		snprintf(m->u.relay.to, sizeof(m->u.relay.to), "%s", to);
		m->u.relay.channel = 1 + op[5] % 3;
		m->u.relay.flags = op[4] & (CTL_RELAY_FIN | CTL_RELAY_DIALER);
		m->u.relay.data = payload;
		m->u.relay.data_len = (size_t)op[3] * 64;
		return true;
	case 3:
		m->type = CTL_RELAY_FRAME;
		snprintf(m->u.frame.from, sizeof(m->u.frame.from), "%s", from);
		snprintf(m->u.frame.to, sizeof(m->u.frame.to), "%s", to);
		m->u.frame.frame = payload;
		m->u.frame.frame_len = (size_t)op[3] * 64;
		return true;
	case 4:
		m->type = CTL_OFFER;
		snprintf(m->u.offer.from, sizeof(m->u.offer.from), "%s", from);
		snprintf(m->u.offer.to, sizeof(m->u.offer.to), "%s", to);
		m->u.offer.count = (uint8_t)(op[4] % (CTL_CANDIDATES_MAX + 1));
		return true;
	default:
		return false;
	}
}

/* Runs what falls due at the new time. */
static void
fuzz_step(uint64_t ms)
{
	fuzz_now += ms;
	ev_run_once(fuzz_loop, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t payload[256 * 64];
	struct ctlmsg m;

	if (!fuzz_loop)
		fuzz_init();
	for (size_t off = 0; off + FUZZ_OP_LEN <= size; off += FUZZ_OP_LEN) {
		const uint8_t *op = data + off;

		if (!fuzz_record(op, &m, payload)) {
			fuzz_step((uint64_t)op[1] * 1000 + op[2]);
			continue;
		}
		/* From alice's own connection, or from one domain's server to the other's. */
		if (op[5] & 0x80)
			rdv_from_domain(op[4] & 1 ? &fuzz_a : &fuzz_b,
					op[4] & 1 ? "b.example.com" : "a.example.com", &m, NULL);
		else
			rdv_dispatch(&fuzz_agent, &m);
		if (pending_count(fuzz_a.rdv->pending) > PENDING_MAX ||
		    pending_count(fuzz_b.rdv->pending) > PENDING_MAX)
			abort();
	}
	/* Past every ttl and grace: nothing may stay pending. */
	fuzz_step((CTL_CONTACT_TTL_MAX + 6) * 1000ull);
	if (pending_count(fuzz_a.rdv->pending) || pending_count(fuzz_b.rdv->pending))
		abort();
	return 0;
}
