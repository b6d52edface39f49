// SPDX-License-Identifier: MIT
/*
 * The domain's revocation list. The store is the truth (an administrator's `revoke` writes it,
 * possibly while the server runs); this file turns it into a signed list, applies it to the
 * server's own trust (so revoked agents cannot connect), pushes it to every connected agent, and
 * disconnects the revoked ones.
 *
 * Timer: revocation_timer, every SERVER_REVOCATION_POLL_MS: republish if the store's list number
 * changed, or if the published list is half way to its next_update. So a revocation reaches
 * live sessions within that poll interval plus one round trip.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/stream.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/crl.h"
#include "crypto/csr.h"
#include "proto/ctlmsg.h"
#include "server/accounts.h"
#include "server/server.h"

enum { REVOCATION_VALID_SEC = 86400 };

/*
 * Tells agents of the new list by sending its first chunk (a list of up to ~500 revocations is
 * one chunk; agents pull the rest, crlpull.h), and closes the connections of those it revokes.
 */
static void
revocation_push(struct server *srv, const struct crl *list)
{
	struct sconn *c, *next;

	for (c = srv->conns; c; c = next) {
		next = c->next;
		if (!c->hello || !c->peer[0])
			continue;
		if (crl_is_revoked(list, c->fpr)) {
			log_info("%s (%s): certificate revoked, disconnecting", c->peer, c->addr);
			sconn_close(c, "certificate revoked");
			continue;
		}
		serve_send_crl_chunk(c, 0);
	}
}

int
revocation_publish(struct server *srv)
{
	uint8_t(*fprs)[32] = NULL;
	struct crl list = { 0 }, applied = { 0 };
	struct cert_info ca;
	size_t count, ca_len, len;
	const uint8_t *ca_der = cert_ca_der(srv->ca, &ca_len);
	uint64_t number;
	uint8_t *buf;
	const char *why;
	int64_t now = time(NULL);
	int err;

	err = accounts_revoked(srv->acc, now, &fprs, &count, &number);
	if (err)
		return err;
	if (srv->crl && number == srv->crl_number &&
	    now - srv->crl_issued < REVOCATION_VALID_SEC / 2) {
		free(fprs);
		return 0;
	}
	snprintf(list.domain, sizeof(list.domain), "%s", srv->domain);
	list.number = number;
	list.issued = now;
	list.next_update = now + REVOCATION_VALID_SEC;
	list.count = count;
	list.revoked = fprs;
	err = crl_encode_signed(srv->ca, &list, &buf, &len);
	free(fprs);
	if (err) {
		/* Said once per list number: the poll would say it every 2 s. */
		if (number != srv->crl_unpublished)
			log_warnx("%s: cannot publish revocation list #%llu (%zu revoked "
				  "certificates): %s; list #%llu stays in force",
				  srv->domain, (unsigned long long)number, count, cert_strerror(),
				  (unsigned long long)srv->crl_number);
		srv->crl_unpublished = number;
		return err;
	}
	/* Apply exactly what agents will see: decode and verify our own output. */
	if ((err = cert_info_from_der(ca_der, ca_len, &ca)) ||
	    (err = crl_decode_verify(buf, len, ca.pubkey, &applied, &why)) ||
	    (err = cert_trust_set_crl(srv->trust, &applied))) {
		log_warnx("%s: revocation list #%llu does not apply: %s", srv->domain,
			  (unsigned long long)number, err == -EINVAL ? why : strerror(-err));
		free(buf);
		crl_free(&applied);
		return err;
	}
	free(srv->crl);
	srv->crl = buf;
	srv->crl_len = len;
	srv->crl_issued = now;
	if (number != srv->crl_number || !number)
		log_info("%s: published revocation list #%llu: %zu certificate(s) revoked",
			 srv->domain, (unsigned long long)number, applied.count);
	srv->crl_number = number;
	revocation_push(srv, &applied);
	crl_free(&applied);
	return 0;
}

static void
revocation_on_timer(struct ev_timer *t)
{
	struct server *srv = container_of(t, struct server, revocation_timer);

	revocation_publish(srv);
	federation_pins_poll(srv); /* the same poll of the store serves all three */
	rdv_store_poll(srv);
	ev_timer_start(srv->loop, t, SERVER_REVOCATION_POLL_MS, revocation_on_timer);
}

void
revocation_start(struct server *srv)
{
	ev_timer_start(srv->loop, &srv->revocation_timer, SERVER_REVOCATION_POLL_MS,
		       revocation_on_timer);
}
