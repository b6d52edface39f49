// SPDX-License-Identifier: MIT
/*
 * vertex nc: a connection to a peer's purpose by name, through the agent's application
 * interface (docs/app-api.md), its standard input and output pumped to and from it. What ssh's
 * ProxyCommand wants: `ssh -o ProxyCommand='vertex nc bob@b.example.com/ssh' root@bob`.
 *
 * The socket comes from the agent with the answer line (SCM_RIGHTS); from then on this is a
 * plain two-way copy: our input's end becomes a half-close (shutdown SHUT_WR), the peer's
 * end closes our output, and we exit once both directions are done.
 */
#include "nc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "appapi/appapi.h"
#include "ctlclient.h"

enum {
	NC_ANSWER_MS = 20000, /* the agent answers within its own connect limit (10 s) */
	NC_BUF = 64 * 1024,
};

static const char nc_help[] =
    "Usage: vertex [-s SOCKET] nc [--app-socket PATH] USER@DOMAIN/PURPOSE\n"
    "\n"
    "Connects to a purpose a peer has approved for us, by name, and copies standard\n"
    "input to it and what it sends to standard output, until both directions end (our\n"
    "input's end is passed on as a half-close). The connection is made by vertexd and\n"
    "handed over on its application socket (docs/app-api.md), so no overlay address or\n"
    "port has to be known. For ssh:\n"
    "\n"
    "  ssh -o ProxyCommand='vertex nc bob@b.example.com/ssh' root@bob\n"
    "\n"
    "The purpose must be approved first (vertex connect USER@DOMAIN/PURPOSE) and be tcp.\n"
    "\n"
    "Options:\n"
    "  --app-socket PATH  vertexd's application socket (default: beside the control\n"
    "                     socket, e.g. /run/vertex/vertexd-app.sock for the default -s)\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 once both directions ended, 1 if the agent refused (its reason is\n"
    "printed: not-approved, not-up, refused, timeout, ...) or the connection failed,\n"
    "2 on a usage error.\n";

static int
nc_dial(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "vertex nc: %s: path too long for a UNIX socket\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "vertex nc: cannot reach vertexd's application socket %s: %s\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads the answer line (bounded in size and time) and a descriptor passed with it. */
static int
nc_read_answer(int fd, char *line, size_t len, int *rfd)
{
	size_t got = 0;

	*rfd = -1;
	while (got < len - 1) {
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { line + got, len - 1 - got };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct cmsghdr *cm;
		ssize_t n;

		if (poll(&pfd, 1, NC_ANSWER_MS) <= 0) {
			fprintf(stderr, "vertex nc: no answer from vertexd within %d s\n",
				NC_ANSWER_MS / 1000);
			return -1;
		}
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n <= 0) {
			fprintf(stderr, "vertex nc: vertexd closed the application socket%s%s\n",
				n < 0 ? ": " : " without an answer", n < 0 ? strerror(errno) : "");
			return -1;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && *rfd < 0)
				memcpy(rfd, CMSG_DATA(cm), sizeof(int));
		got += (size_t)n;
		line[got] = '\0';
		if (memchr(line, '\n', got))
			return (int)(strchr(line, '\n') - line);
	}
	fprintf(stderr, "vertex nc: vertexd's answer is longer than a line\n");
	return -1;
}

/* Connects through the agent: the connected socket, or -1 after saying why. */
static int
nc_connect(const char *path, const char *target)
{
	char line[APPAPI_LINE_MAX + 1];
	struct appapi_answer ans;
	int fd = nc_dial(path), sock, n;

	if (fd < 0)
		return -1;
	n = snprintf(line, sizeof(line), "connect %s\n", target);
	if (write(fd, line, (size_t)n) != n) {
		fprintf(stderr, "vertex nc: cannot send the request: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	n = nc_read_answer(fd, line, sizeof(line), &sock);
	close(fd);
	if (n < 0)
		goto err;
	if (!appapi_parse_answer(line, (size_t)n, &ans)) {
		fprintf(stderr, "vertex nc: vertexd answered something unexpected: %.*s\n", n,
			line);
		goto err;
	}
	if (ans.kind == APPAPI_ANSWER_ERROR) {
		fprintf(stderr, "vertex nc: %s: %s\n", ans.code_name, ans.message);
		goto err;
	}
	if (ans.kind != APPAPI_ANSWER_OK || !ans.addr[0] || sock < 0) {
		fprintf(stderr, "vertex nc: vertexd answered without a connection: %.*s\n", n,
			line);
		goto err;
	}
	return sock;
err:
	if (sock >= 0)
		close(sock);
	return -1;
}

/* One direction of the copy. */
struct nc_dir {
	int in, out;
	char buf[NC_BUF];
	size_t len, off;
	bool eof, done;
};

/* Moves what it can; false on a failure (said). */
static bool
nc_dir_step(struct nc_dir *d, short rev_in, short rev_out, int sock, bool to_sock)
{
	ssize_t n;

	if (d->len == 0 && !d->eof && (rev_in & (POLLIN | POLLHUP | POLLERR))) {
		n = read(d->in, d->buf, sizeof(d->buf));
		if (n < 0 && errno != EINTR && errno != EAGAIN) {
			fprintf(stderr, "vertex nc: read: %s\n", strerror(errno));
			return false;
		}
		if (n == 0)
			d->eof = true;
		if (n > 0) {
			d->len = (size_t)n;
			d->off = 0;
		}
	}
	if (d->len && (rev_out & (POLLOUT | POLLERR | POLLHUP))) {
		n = write(d->out, d->buf + d->off, d->len - d->off);
		if (n < 0 && errno != EINTR && errno != EAGAIN) {
			fprintf(stderr, "vertex nc: write: %s\n", strerror(errno));
			return false;
		}
		if (n > 0 && (d->off += (size_t)n) == d->len)
			d->len = 0;
	}
	if (d->eof && !d->len && !d->done) {
		d->done = true;
		if (to_sock)
			shutdown(sock, SHUT_WR);
		else
			close(d->out);
	}
	return true;
}

static int
nc_pump(int sock)
{
	static struct nc_dir up, down; /* 64 KiB each: not on the stack */

	/* Never block in a write to the peer while it waits for us to read what it sent. */
	fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
	up = (struct nc_dir){ .in = 0, .out = sock };
	down = (struct nc_dir){ .in = sock, .out = 1 };
	while (!up.done || !down.done) {
		struct pollfd p[4] = {
			{ .fd = up.len || up.eof ? -1 : 0, .events = POLLIN },
			{ .fd = up.len ? sock : -1, .events = POLLOUT },
			{ .fd = down.len || down.eof ? -1 : sock, .events = POLLIN },
			{ .fd = down.len ? 1 : -1, .events = POLLOUT },
		};

		if (poll(p, 4, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "vertex nc: poll: %s\n", strerror(errno));
			return 1;
		}
		if (!up.done && !nc_dir_step(&up, p[0].revents, p[1].revents, sock, true))
			return 1;
		if (!down.done && !nc_dir_step(&down, p[2].revents, p[3].revents, sock, false))
			return 1;
	}
	return 0;
}

int
cmd_nc(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "app-socket", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char path[256], target[IDENTITY_STR_MAX];
	const char *app = NULL, *why = "?";
	struct identity id;
	int c, sock, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			app = optarg;
			break;
		case 'h':
			fputs(nc_help, stdout);
			return 0;
		default:
			fputs(nc_help, stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "vertex nc: takes one USER@DOMAIN/PURPOSE\n\n%s", nc_help);
		return 2;
	}
	if (identity_parse(argv[optind], IDENTITY_PURPOSE_REQUIRED, &id, &why) ||
	    identity_format(&id, target, sizeof(target))) {
		fprintf(stderr, "vertex nc: %s: %s\n\n%s", argv[optind], why, nc_help);
		return 2;
	}
	if (!app) {
		if (appapi_default_path(ctlclient_socket_path, path, sizeof(path))) {
			fprintf(stderr, "vertex nc: %s: too long to derive the app socket from\n",
				ctlclient_socket_path);
			return 2;
		}
		app = path;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((sock = nc_connect(app, target)) < 0)
		return 1;
	rc = nc_pump(sock);
	close(sock);
	return rc;
}
