// SPDX-License-Identifier: MIT
/*
 * ctl_send SOCKET: sends standard input, byte for byte, to a UNIX stream socket and prints what
 * comes back until the other side closes (at most 5 s). The bad-input scenario uses it to put
 * garbage on vertexd's control socket, which the vertex CLI would never send.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[4096];
	ssize_t n;
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: ctl_send SOCKET < input\n");
		return 2;
	}
	strcpy(sun.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		perror("ctl_send: connect");
		return 1;
	}
	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			break; /* the daemon may close on us mid-way: that is an answer too */
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 5000) <= 0)
			return 1;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return 0;
		fwrite(buf, 1, (size_t)n, stdout);
	}
}
