// SPDX-License-Identifier: MIT
/*
 * The TUN device: one descriptor from /dev/net/tun bound to a layer-3 interface by TUNSETIFF.
 *
 * The device is made non-persistent on purpose, even when we attach to one a crash left behind
 * persistent: the kernel then deletes it, with its addresses and routes, as soon as our last
 * descriptor closes, so kill -9 leaves nothing to clean up. Errors are reported here with a hint
 * for the operator, because the causes (missing module, no CAP_NET_ADMIN, a name taken by another
 * kind of device) are not obvious from an errno alone.
 */
#include "kernel-iface/tun.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

/* USO (Linux 6.2) is newer than some uapi headers we build against. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

struct tun {
	int fd;
	int ifindex;
	bool vnet;
	unsigned offloads; /* TUN_F_* the kernel accepted */
	char name[IFNAMSIZ];
};

static const char tun_path[] = "/dev/net/tun";

static int
tun_open_dev(void)
{
	int fd = open(tun_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	int err = errno;

	if (fd >= 0)
		return fd;
	if (err == ENOENT || err == ENXIO || err == ENODEV)
		log_warnx("tun: cannot open %s: %s (is the tun module loaded? in a container, "
			  "pass the device in)",
			  tun_path, strerror(err));
	else if (err == EPERM || err == EACCES)
		log_warnx("tun: cannot open %s: %s (needs CAP_NET_ADMIN)", tun_path, strerror(err));
	else
		log_warnx("tun: cannot open %s: %s", tun_path, strerror(err));
	return -err;
}

/* TUNSETIFF both creates and attaches; the kernel writes back the final name. */
static int
tun_set_iff(int fd, char name[IFNAMSIZ], unsigned flags)
{
	struct ifreq ifr = { 0 };
	int err;

	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (flags & TUN_MULTI_QUEUE)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (flags & TUN_OFFLOAD)
		ifr.ifr_flags |= IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, IFNAMSIZ);
	if (ioctl(fd, TUNSETIFF, &ifr) == 0) {
		memcpy(name, ifr.ifr_name, IFNAMSIZ);
		return 0;
	}
	err = errno;
	if (err == EPERM || err == EACCES)
		log_warnx("tun: creating %s: %s (needs CAP_NET_ADMIN)", name, strerror(err));
	else if (err == EBUSY)
		log_warnx("tun: creating %s: %s (another process holds it)", name, strerror(err));
	else if (err == EINVAL)
		log_warnx("tun: creating %s: %s (invalid name, a device of another kind has "
			  "that name, or its queue mode differs)",
			  name, strerror(err));
	else
		log_warnx("tun: creating %s: %s", name, strerror(err));
	return -err;
}

bool
tun_is_held(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	bool held;
	int fd;

	if (!name || strlen(name) >= IFNAMSIZ)
		return false;
	fd = open(tun_path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	strcpy(ifr.ifr_name, name);
	/* Attaching to a device someone holds fails with EBUSY; if nobody does, closing detaches.
	 */
	held = ioctl(fd, TUNSETIFF, &ifr) < 0 && errno == EBUSY;
	close(fd);
	return held;
}

/*
 * The offloads, most capable set first: TSO needs checksum offload, USO is Linux 6.2. With
 * IFF_VNET_HDR on, even none of them leaves a working device (every packet then comes with an
 * empty header), so a kernel that refuses them all still carries traffic.
 */
static void
tun_set_offload(struct tun *t)
{
	static const unsigned sets[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
		TUN_F_CSUM,
	};

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)sets[i]) == 0) {
			t->offloads = sets[i];
			return;
		}
	}
	log_warn("tun: %s: no offloads", t->name);
}

/*
 * Ownership: on success *out is owned by the caller and freed with tun_close(); on failure
 * nothing is left open or allocated.
 */
int
tun_open(struct tun **out, const char *name, unsigned flags)
{
	struct tun *t;
	int err;

	/* The kernel would silently truncate a long name; we refuse it instead. */
	if (!name || !*name || strlen(name) >= IFNAMSIZ) {
		log_warnx("tun: invalid interface name \"%s\" (1 to %d characters)",
			  name ? name : "", IFNAMSIZ - 1);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	strcpy(t->name, name);
	t->fd = tun_open_dev();
	if (t->fd < 0) {
		err = t->fd;
		goto err_free;
	}
	err = tun_set_iff(t->fd, t->name, flags);
	if (err)
		goto err_close;
	t->vnet = flags & TUN_OFFLOAD;
	if (t->vnet)
		tun_set_offload(t);
	/* A leftover persistent device would otherwise outlive us again. */
	if (ioctl(t->fd, TUNSETPERSIST, 0) < 0)
		log_warn("tun: %s: clearing persistence", t->name);
	t->ifindex = (int)if_nametoindex(t->name);
	if (!t->ifindex) {
		err = -errno;
		log_warn("tun: %s: no interface index", t->name);
		goto err_close;
	}
	*out = t;
	return 0;

err_close:
	close(t->fd);
err_free:
	free(t);
	return err;
}

/* Closing the last descriptor makes the kernel delete the device with its addresses and routes. */
void
tun_close(struct tun *t)
{
	if (!t)
		return;
	close(t->fd);
	free(t);
}

bool
tun_has_vnet_hdr(const struct tun *t)
{
	return t->vnet;
}

unsigned
tun_offloads(const struct tun *t)
{
	return t->offloads;
}

int
tun_fd(const struct tun *t)
{
	return t->fd;
}

const char *
tun_name(const struct tun *t)
{
	return t->name;
}

int
tun_ifindex(const struct tun *t)
{
	return t->ifindex;
}

ssize_t
tun_read(struct tun *t, void *buf, size_t len)
{
	ssize_t n = read(t->fd, buf, len);

	return n < 0 ? -errno : n;
}

/* A TUN write is all or nothing: the kernel takes the whole packet or fails. */
ssize_t
tun_write(struct tun *t, const void *buf, size_t len)
{
	ssize_t n = write(t->fd, buf, len);

	return n < 0 ? -errno : n;
}

ssize_t
tun_writev(struct tun *t, const struct iovec *iov, int iovcnt)
{
	ssize_t n = writev(t->fd, iov, iovcnt);

	return n < 0 ? -errno : n;
}
