// SPDX-License-Identifier: MIT
/*
 * app-echo: an example program for Vertex's application interface (docs/app-api.md), in plain
 * C with nothing but libc, to be read as much as run.
 *
 *   app-echo connect SOCKET USER@DOMAIN/PURPOSE < data
 *       asks vertexd for a connection to a peer's purpose by name, sends standard input,
 *       half-closes, and copies what comes back to standard output.
 *   app-echo listen SOCKET PURPOSE [COUNT]
 *       registers one of our purposes; for each connection vertexd hands over, prints the
 *       caller's verified identity ("caller alice@a.example.com 100.64.0.7 41234"), echoes
 *       what it sends until it half-closes, and closes. Exits after COUNT connections
 *       (default: never).
 *
 * The protocol, in short: one line each way; the answer to `connect` is "ok ADDRESS PORT"
 * with the connected socket attached (SCM_RIGHTS), to `listen` "ok PURPOSE", then an
 * "accept IDENTITY ADDRESS PORT" line with a socket for each connection; failures are
 * "error CODE MESSAGE".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { LINE_MAX_BYTES = 512, BUF_BYTES = 65536 };

static int
dial(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "app-echo: %s: path too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "app-echo: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return fd;
}

/*
 * The next line from the agent into line (without '\n'), and the socket that came with it in
 * *fd (-1 if none). Reads byte by byte so that no byte of the next line is taken early: simple,
 * and the lines are short. 0, or -1 at the end or on an error.
 */
static int
read_line(int s, char *line, size_t len, int *fd)
{
	size_t n = 0;

	*fd = -1;
	while (n < len - 1) {
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { line + n, 1 };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		struct cmsghdr *cm;

		if (recvmsg(s, &mh, MSG_CMSG_CLOEXEC) != 1)
			return -1;
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
		if (line[n] == '\n') {
			line[n] = '\0';
			return 0;
		}
		n++;
	}
	return -1;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Sends stdin and prints what comes back, at the same time: the peer may echo as it reads, so
 * a sender that blocked in write() while not reading would deadlock with it. The socket is
 * made non-blocking and written only as far as it takes.
 */
static int
run_connect(const char *path, const char *target)
{
	static char up[BUF_BYTES], down[BUF_BYTES];
	char line[LINE_MAX_BYTES];
	size_t len = 0, off = 0;
	int s = dial(path), fd;
	bool in_open = true;

	if (s < 0)
		return 1;
	dprintf(s, "connect %s\n", target);
	if (read_line(s, line, sizeof(line), &fd) < 0) {
		fprintf(stderr, "app-echo: no answer from vertexd\n");
		return 1;
	}
	close(s);
	if (strncmp(line, "ok ", 3) || fd < 0) {
		fprintf(stderr, "app-echo: %s\n", line);
		return 1;
	}
	fprintf(stderr, "app-echo: connected to %s (%s)\n", target, line + 3);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	for (;;) {
		struct pollfd p[2] = { { .fd = in_open && !len ? 0 : -1, .events = POLLIN },
				       { .fd = fd, .events = POLLIN | (len ? POLLOUT : 0) } };
		ssize_t n;

		if (poll(p, 2, -1) < 0)
			return 1;
		if (p[0].revents) {
			n = read(0, up, sizeof(up));
			if (n <= 0) {
				in_open = false;
				shutdown(fd, SHUT_WR);
			} else {
				len = (size_t)n;
				off = 0;
			}
		}
		if (len && (p[1].revents & (POLLOUT | POLLERR))) {
			n = write(fd, up + off, len - off);
			if (n < 0 && errno != EAGAIN)
				return 1;
			if (n > 0 && (off += (size_t)n) == len)
				len = 0;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(fd, down, sizeof(down));
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n <= 0)
				return n < 0;
			if (write_all(1, down, (size_t)n))
				return 1;
		}
	}
}

static void
echo(int fd)
{
	static char buf[BUF_BYTES];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write_all(fd, buf, (size_t)n))
			break;
	close(fd);
}

static int
run_listen(const char *path, const char *purpose, long count)
{
	char line[LINE_MAX_BYTES];
	int s = dial(path), fd;

	if (s < 0)
		return 1;
	dprintf(s, "listen %s\n", purpose);
	if (read_line(s, line, sizeof(line), &fd) < 0 || strncmp(line, "ok ", 3)) {
		fprintf(stderr, "app-echo: %s\n", line);
		return 1;
	}
	printf("listening %s\n", purpose);
	fflush(stdout);
	for (long i = 0; count < 0 || i < count; i++) {
		if (read_line(s, line, sizeof(line), &fd) < 0) {
			fprintf(stderr, "app-echo: vertexd closed the app socket\n");
			return 1;
		}
		if (strncmp(line, "accept ", 7) || fd < 0) {
			fprintf(stderr, "app-echo: unexpected: %s\n", line);
			return 1;
		}
		printf("caller %s\n", line + 7); /* IDENTITY ADDRESS PORT, verified by vertexd */
		fflush(stdout);
		echo(fd);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "connect"))
		return run_connect(argv[2], argv[3]);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "listen"))
		return run_listen(argv[2], argv[3], argc == 5 ? atol(argv[4]) : -1);
	fprintf(stderr, "usage: app-echo connect SOCKET USER@DOMAIN/PURPOSE < data\n"
			"       app-echo listen SOCKET PURPOSE [COUNT]\n");
	return 2;
}
