// SPDX-License-Identifier: MIT
/*
 * The TUN device, read in batches into the data plane. See tundev.h.
 */
#include "dataplane/tundev.h"

#include <errno.h>
#include <stdlib.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/pkt.h"
#include "dataplane/dataplane.h"
#include "kernel-iface/tun.h"
#include "path/udp.h"

struct tundev {
	struct ev_loop *loop;
	struct tun *tun;
	struct pkt_pool *pkts;
	struct dataplane *dp;
	struct path_udp *udp;
	struct ev_io io;
};

static void
tundev_on_readable(struct ev_io *io, uint32_t revents)
{
	struct tundev *td = container_of(io, struct tundev, io);

	(void)revents;
	for (int i = 0; i < TUNDEV_BATCH; i++) {
		struct pkt *p = pkt_get(td->pkts);
		ssize_t n;

		if (!p) {
			/* Leave the packet in the TUN queue; the flush frees buffers. */
			dataplane_count_drop(td->dp, DATAPLANE_DROP_NO_BUFFER,
					     "packet pool exhausted");
			path_udp_flush(td->udp);
			return;
		}
		n = tun_read(td->tun, pkt_data(p), PKT_DATA_MAX);
		if (n <= 0) {
			if (n < 0 && n != -EAGAIN) {
				errno = (int)-n;
				log_warn("tun read");
			}
			pkt_put(td->pkts, p);
			return;
		}
		p->len = (uint16_t)n;
		dataplane_send(td->dp, p);
	}
}

/* Ownership: *out is the caller's (tundev_free); the rest is borrowed. */
int
tundev_new(struct tundev **out, struct ev_loop *loop, struct tun *tun, struct pkt_pool *pkts,
	   struct dataplane *dp, struct path_udp *udp)
{
	struct tundev *td = calloc(1, sizeof(*td));
	int err;

	if (!td)
		return -ENOMEM;
	td->loop = loop;
	td->tun = tun;
	td->pkts = pkts;
	td->dp = dp;
	td->udp = udp;
	err = ev_io_start(loop, &td->io, tun_fd(tun), EV_READ, tundev_on_readable);
	if (err) {
		free(td);
		return err;
	}
	*out = td;
	return 0;
}

void
tundev_free(struct tundev *td)
{
	if (!td)
		return;
	ev_io_stop(td->loop, &td->io);
	free(td);
}

static int
tundev_deliver(void *dev, const uint8_t *pkt, size_t len)
{
	ssize_t n = tun_write(dev, pkt, len);

	return n < 0 ? (int)n : 0;
}

void
tundev_pktdev(struct tun *tun, struct pktdev *out)
{
	out->deliver = tundev_deliver;
	out->dev = tun;
}
