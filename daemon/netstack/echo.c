// SPDX-License-Identifier: MIT
/*
 * ICMP echo from the stack (netstack.h: netstack_echo, ops->echo_reply), for `vertex ping` in
 * userspace mode, where no program can send ICMP toward a peer. One raw lwIP pcb for ICMP: it
 * sees every ICMP packet for us before lwIP's own ICMP does, takes echo replies (lwIP ignores
 * them anyway) and leaves everything else, echo requests included, to lwIP.
 */
#include <errno.h>
#include <string.h>

#include <lwip/inet_chksum.h>
#include <lwip/prot/icmp.h>
#include <lwip/prot/ip4.h>
#include <lwip/raw.h>

#include "netstack/netstack_int.h"

enum { NS_ECHO_PAYLOAD = 24 };

static u8_t
ns_echo_recv(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *addr)
{
	struct netstack *ns = arg;
	struct icmp_echo_hdr h;
	struct in_addr from;
	u16_t hl;
	uint8_t vhl;

	(void)pcb;
	/* An IPv4 raw pcb gets the packet from its IP header on. */
	if (pbuf_copy_partial(p, &vhl, 1, 0) != 1)
		return 0;
	hl = (u16_t)((vhl & 0x0f) * 4);
	if (pbuf_copy_partial(p, &h, sizeof(h), hl) != sizeof(h) || h.type != ICMP_ER ||
	    !IP_IS_V4(addr))
		return 0;
	from.s_addr = ip_2_ip4(addr)->addr;
	pbuf_free(p);
	ns->ops.echo_reply(ns->arg, &from, lwip_ntohs(h.id), lwip_ntohs(h.seqno));
	return 1;
}

int
ns_echo_open(struct netstack *ns)
{
	if (ns->ops.echo_reply == NULL)
		return 0;
	if ((ns->echo = raw_new(IP_PROTO_ICMP)) == NULL)
		return -ENOMEM;
	raw_recv(ns->echo, ns_echo_recv, ns);
	return 0;
}

void
ns_echo_close(struct netstack *ns)
{
	if (ns->echo != NULL)
		raw_remove(ns->echo);
	ns->echo = NULL;
}

int
netstack_echo(struct netstack *ns, const struct in_addr *to, uint16_t id, uint16_t seq)
{
	struct pbuf *p;
	struct icmp_echo_hdr *h;
	ip_addr_t dst;
	err_t err;

	if (ns->echo == NULL)
		return -EINVAL;
	if (to->s_addr == ip_2_ip4(&ns->ip4)->addr)
		return -EADDRNOTAVAIL; /* lwIP's loopback would post to its thread */
	p = pbuf_alloc(PBUF_IP, sizeof(*h) + NS_ECHO_PAYLOAD, PBUF_RAM);
	if (p == NULL)
		return -ENOMEM;
	h = p->payload;
	memset(h, 0, sizeof(*h));
	h->type = ICMP_ECHO;
	h->id = lwip_htons(id);
	h->seqno = lwip_htons(seq);
	memcpy(h + 1, "vertex ping (userspace).", NS_ECHO_PAYLOAD);
	h->chksum = inet_chksum(h, (u16_t)p->len);
	IP_ADDR4(&dst, 0, 0, 0, 0);
	ip_2_ip4(&dst)->addr = to->s_addr;
	err = raw_sendto(ns->echo, p, &dst);
	pbuf_free(p);
	ns_timer_rearm(ns);
	return err == ERR_OK ? 0 : err == ERR_MEM ? -ENOMEM : -EHOSTUNREACH;
}
