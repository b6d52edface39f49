// SPDX-License-Identifier: MIT
/*
 * The TUN device, read in batches into the data plane. See tundev.h.
 *
 * With a virtio-net header (TUN_OFFLOAD), one read is up to 64 KiB: it lands in one scratch
 * buffer and gso_split cuts it into pool buffers, one per frame, which go to dataplane_send one
 * after the other, so the frames of one super-packet are sealed in one pass and queued on the
 * UDP socket together, where its flush sends a run of them to one peer as one UDP GSO message.
 * Received packets go through gro_add, which coalesces the TCP segments of one flow into
 * super-packets written at the end of the loop turn (tundev_flush).
 */
#include "dataplane/tundev.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/pkt.h"
#include "dataplane/dataplane.h"
#include "dataplane/gro.h"
#include "dataplane/gso.h"
#include "kernel-iface/tun.h"
#include "path/udp.h"

enum {
	TUNDEV_READ_SIZE = VNET_HDR_LEN + GSO_MAX_PACKET,
	/* Frames cut from super-packets per loop turn, so receiving gets its turn too. */
	TUNDEV_MAX_SEGS = 4 * TUNDEV_BATCH,
};

struct tundev {
	struct ev_loop *loop;
	struct tun *tun;
	struct pkt_pool *pkts;
	struct dataplane *dp;
	struct path_udp *udp;
	struct ev_io io;
	bool reading;
	/* With a virtio-net header only: */
	uint8_t *rbuf; /* TUNDEV_READ_SIZE */
	struct gro *gro;
	struct pkt *seg; /* the buffer gso_split is writing */
	uint64_t gso_errors[GSO_RESULT_COUNT];
	uint64_t super_reads, frames_cut; /* reads of more than one frame, and their frames */
	struct log_ratelimit rl;
};

/* One packet per read, straight into a pool buffer. */
static void
tundev_read_plain(struct tundev *td)
{
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

/* gso_sink: a pool buffer; when the pool is dry, sending what is queued frees some. */
static uint8_t *
tundev_seg_get(void *arg)
{
	struct tundev *td = arg;

	td->seg = pkt_get(td->pkts);
	if (!td->seg) {
		path_udp_flush(td->udp);
		td->seg = pkt_get(td->pkts);
	}
	return td->seg ? pkt_data(td->seg) : NULL;
}

static void
tundev_seg_put(void *arg, size_t len)
{
	struct tundev *td = arg;
	struct pkt *p = td->seg;

	td->seg = NULL;
	p->len = (uint16_t)len;
	dataplane_send(td->dp, p);
}

static void
tundev_read_vnet(struct tundev *td)
{
	const struct gso_sink sink = {
		.get = tundev_seg_get, .put = tundev_seg_put, .cap = PKT_DATA_MAX, .arg = td
	};
	unsigned segs = 0;

	for (int i = 0; i < TUNDEV_BATCH && segs < TUNDEV_MAX_SEGS; i++) {
		ssize_t n = tun_read(td->tun, td->rbuf, TUNDEV_READ_SIZE);
		enum gso_result r;
		unsigned nseg;

		if (n <= 0) {
			if (n < 0 && n != -EAGAIN) {
				errno = (int)-n;
				log_warn("tun read");
			}
			return;
		}
		r = gso_split(td->rbuf, (size_t)n, &sink, &nseg);
		segs += nseg;
		if (nseg > 1) {
			td->super_reads++;
			td->frames_cut += nseg;
		}
		if (r != GSO_OK) {
			td->gso_errors[r]++;
			dataplane_count_drop(td->dp,
					     r == GSO_NO_BUFFER ? DATAPLANE_DROP_NO_BUFFER
								: DATAPLANE_DROP_MALFORMED,
					     gso_result_name(r));
		}
	}
}

static void
tundev_on_readable(struct ev_io *io, uint32_t revents)
{
	struct tundev *td = container_of(io, struct tundev, io);

	(void)revents;
	if (td->rbuf)
		tundev_read_vnet(td);
	else
		tundev_read_plain(td);
}

static int
tundev_gro_write(void *arg, const uint8_t *vnet, const uint8_t *pkt, size_t len)
{
	struct tundev *td = arg;
	struct iovec iov[2] = { { (void *)vnet, VNET_HDR_LEN }, { (void *)pkt, len } };
	ssize_t n = tun_writev(td->tun, iov, 2);

	if (n < 0 && log_ratelimit_ok(&td->rl, ev_now_ms(td->loop))) {
		errno = (int)-n;
		log_warn("tun write");
	}
	return n < 0 ? (int)n : 0;
}

/* Ownership: *out is the caller's (tundev_free); the rest is borrowed. */
int
tundev_new(struct tundev **out, struct ev_loop *loop, struct tun *tun, struct pkt_pool *pkts,
	   struct path_udp *udp)
{
	const struct gro_sink sink = { .write = tundev_gro_write };
	struct tundev *td = calloc(1, sizeof(*td));
	int err;

	if (!td)
		return -ENOMEM;
	td->loop = loop;
	td->tun = tun;
	td->pkts = pkts;
	td->udp = udp;
	if (tun_has_vnet_hdr(tun)) {
		struct gro_sink s = sink;

		s.arg = td;
		td->rbuf = malloc(TUNDEV_READ_SIZE);
		err = td->rbuf ? gro_new(&td->gro, &s) : -ENOMEM;
		if (err) {
			tundev_free(td);
			return err;
		}
	}
	*out = td;
	return 0;
}

int
tundev_start(struct tundev *td, struct dataplane *dp)
{
	int err;

	td->dp = dp;
	err = ev_io_start(td->loop, &td->io, tun_fd(td->tun), EV_READ, tundev_on_readable);
	td->reading = !err;
	return err;
}

void
tundev_flush(struct tundev *td)
{
	if (td && td->gro)
		gro_flush(td->gro);
}

void
tundev_free(struct tundev *td)
{
	if (!td)
		return;
	if (td->reading)
		ev_io_stop(td->loop, &td->io);
	tundev_flush(td);
	gro_free(td->gro);
	free(td->rbuf);
	free(td);
}

void
tundev_status(const struct tundev *td, FILE *f)
{
	if (!td)
		return;
	fprintf(f, "tun_offload %s\n", td->gro ? "on" : "off");
	if (!td->gro)
		return;
	fprintf(f, "tun_super_read %llu\ntun_frames_cut %llu\n",
		(unsigned long long)td->super_reads, (unsigned long long)td->frames_cut);
	fprintf(f, "tun_super_written %llu\ntun_frames_merged %llu\ntun_bad_csum %llu\n",
		(unsigned long long)gro_count(td->gro, GRO_SUPER_WRITTEN),
		(unsigned long long)gro_count(td->gro, GRO_SEGMENTS_MERGED),
		(unsigned long long)gro_count(td->gro, GRO_BAD_CSUM));
}

static int
tundev_deliver(void *dev, const uint8_t *pkt, size_t len)
{
	struct tundev *td = dev;
	ssize_t n;

	if (td->gro) {
		gro_add(td->gro, pkt, len);
		return 0;
	}
	n = tun_write(td->tun, pkt, len);
	return n < 0 ? (int)n : 0;
}

void
tundev_pktdev(struct tundev *td, struct pktdev *out)
{
	out->deliver = tundev_deliver;
	out->dev = td;
}
