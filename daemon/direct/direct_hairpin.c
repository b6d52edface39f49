// SPDX-License-Identifier: MIT
/*
 * The hairpin test, run for direct.c (direct_int.h): started when reflection tells a new
 * server-reflexive address, its probes sent on direct.c's tick from extra sockets (one per try,
 * closed once it sent; the data socket itself if there is none), its probes come back taken
 * from the data socket's dispatch. The test itself is direct/hairpin.c.
 */
#include <netinet/in.h>
#include <string.h>

#include "core/log.h"
#include "core/sockaddr.h"
#include "crypto/aead.h"
#include "direct/direct_int.h"
#include "direct/hairpin.h"

/* Is the address of ss (any port) one of our host candidates? Then there is no NAT to test. */
static bool
direct_hp_is_host(const struct direct *d, const struct sockaddr_storage *ss)
{
	struct sockaddr_storage u;
	const uint8_t *a;
	size_t alen;

	sockaddr_unmap(ss, &u);
	if (u.ss_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)&u)->sin_addr;
		alen = 4;
	} else if (u.ss_family == AF_INET6) {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)&u)->sin6_addr;
		alen = 16;
	} else {
		return false;
	}
	for (size_t i = 0; i < d->nhost; i++)
		if (d->host[i].family == (alen == 4 ? 4 : 6) && !memcmp(d->host[i].addr, a, alen))
			return true;
	return false;
}

static void
direct_hp_said(const struct direct *d)
{
	const struct hairpin *h = &d->hairpin;
	char addr[SOCKADDR_STR_MAX];

	sockaddr_show(&h->target, addr, sizeof(addr));
	if (h->result == HAIRPIN_YES)
		log_info("direct: hairpin yes: a datagram to our public address %s came back to us "
			 "(%llu ms)",
			 addr, (unsigned long long)h->rtt_ms);
	else if (h->result == HAIRPIN_NO)
		log_info("direct: hairpin no: none of %u datagram(s) to our public address %s came "
			 "back in %d ms",
			 h->tries, addr, HAIRPIN_WAIT_MS);
	else if (h->result == HAIRPIN_NO_NAT)
		log_info("direct: hairpin: no NAT (our public address %s is our own)", addr);
}

/*
 * A probe from an extra socket if we can (direct.h: hairpin_open), else from the data socket.
 * The extra socket is closed at once: what comes back comes to the data socket, and the
 * birthday technique may want every extra socket there is.
 */
static void
direct_hp_send(struct direct *d, const uint8_t *buf, size_t len)
{
	int id =
	    d->ops.hairpin_open ? d->ops.hairpin_open(d->arg, &d->hairpin.target, buf, len) : -1;

	if (id >= 0 && d->ops.aux_close)
		d->ops.aux_close(d->arg, id);
	else if (id < 0)
		d->ops.send_datagram(d->arg, &d->hairpin.target, buf, len);
}

void
direct_hp_run(struct direct *d, uint64_t now)
{
	uint8_t buf[HAIRPIN_LEN];
	int was = d->hairpin.result;

	if (hairpin_tick(&d->hairpin, now, buf))
		direct_hp_send(d, buf, sizeof(buf));
	if (d->hairpin.result != was)
		direct_hp_said(d);
}

void
direct_hp_start(struct direct *d, uint64_t now)
{
	uint64_t nonce = 0;

	crypto_random(&nonce, sizeof(nonce));
	hairpin_start(&d->hairpin, &d->reflexive, direct_hp_is_host(d, &d->reflexive), nonce, now);
	if (d->hairpin.result == HAIRPIN_NO_NAT)
		direct_hp_said(d);
	direct_hp_run(d, now);
}

void
direct_hp_on_datagram(struct direct *d, const uint8_t *buf, size_t len)
{
	if (hairpin_on_datagram(&d->hairpin, buf, len, ev_now_ms(d->loop)))
		direct_hp_said(d);
	else
		log_debug(LOG_PATH,
			  "direct: a hairpin datagram (%zu bytes) not of our test: dropped", len);
}

const struct hairpin *
direct_hairpin(const struct direct *d)
{
	return &d->hairpin;
}
