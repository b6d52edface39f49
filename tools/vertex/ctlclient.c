// SPDX-License-Identifier: MIT
/*
 * Asking vertexd: see ctlclient.h. The answer is read whole, at most CTLCLIENT_RESPONSE_MAX
 * bytes and CTLCLIENT_TIMEOUT_MS between reads, then split in place into facts, so a verb
 * renders from a complete, checked answer and never from half of one.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/json.h"
#include "ctlclient.h"

enum {
	CTLCLIENT_TIMEOUT_MS = 5000,
	CTLCLIENT_RESPONSE_MAX = 4 << 20,
	CTLCLIENT_MAX_FACTS = 1 << 16,
};

const char *ctlclient_socket_path = "/run/vertex/vertexd.sock";

static int
ctlclient_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(ctlclient_socket_path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "vertex: socket path %s is too long\n", ctlclient_socket_path);
		return -1;
	}
	strcpy(sun.sun_path, ctlclient_socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "vertex: cannot reach vertexd at %s: %s (is it running? see -s)\n",
			ctlclient_socket_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads until EOF, "end\n" or an error line; NULL (message printed) on failure. */
static char *
ctlclient_read_response(int fd, size_t *len)
{
	char *buf = malloc(CTLCLIENT_RESPONSE_MAX + 1);
	size_t n = 0;

	if (!buf)
		return NULL;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, CTLCLIENT_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "vertex: vertexd did not answer within %d s\n",
				CTLCLIENT_TIMEOUT_MS / 1000);
			break;
		}
		r = read(fd, buf + n, CTLCLIENT_RESPONSE_MAX - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (n += (size_t)r) == CTLCLIENT_RESPONSE_MAX) {
			buf[n] = '\0';
			if (r == 0 && n && buf[n - 1] == '\n') {
				*len = n;
				return buf;
			}
			fprintf(stderr, "vertex: incomplete answer from vertexd\n");
			break;
		}
		buf[n] = '\0';
		if ((n >= 4 && !strcmp(buf + n - 4, "end\n")) ||
		    (!strncmp(buf, "error ", 6) && buf[n - 1] == '\n')) {
			*len = n;
			return buf;
		}
	}
	free(buf);
	return NULL;
}

/* Splits "KEY VALUE\n" lines in place. 0, or -1 with a message for a malformed answer. */
static int
ctlclient_parse(char *buf, struct ctlclient_facts *f)
{
	char *line = buf, *nl;

	f->buf = buf;
	f->n = 0;
	f->v = calloc(CTLCLIENT_MAX_FACTS, sizeof(*f->v));
	if (!f->v)
		return -1;
	for (; (nl = strchr(line, '\n')); line = nl + 1) {
		char *sp;

		*nl = '\0';
		if (!strcmp(line, "end"))
			return 0;
		sp = strchr(line, ' ');
		if (!sp || f->n == CTLCLIENT_MAX_FACTS) {
			fprintf(stderr, "vertex: malformed answer from vertexd\n");
			return -1;
		}
		*sp = '\0';
		if (!strcmp(line, "error")) {
			fprintf(stderr, "vertex: vertexd: %s\n", sp + 1);
			return -1;
		}
		f->v[f->n++] = (struct ctlclient_fact){ .key = line, .value = sp + 1 };
	}
	fprintf(stderr, "vertex: answer from vertexd ended early\n");
	return -1;
}

/* Sends request and a newline; 0, or -1 with errno set. */
static int
ctlclient_send_line(int fd, const char *request)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)request, .iov_len = strlen(request) },
		{ .iov_base = "\n", .iov_len = 1 },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t want = iov[0].iov_len + 1;
	ssize_t n;

	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != want) {
		errno = EMSGSIZE; /* a request line fits the socket buffer whole */
		return -1;
	}
	return 0;
}

int
ctlclient_ask(const char *request, struct ctlclient_facts *f)
{
	size_t len;
	char *buf;
	int fd = ctlclient_connect();

	if (fd < 0)
		return -1;
	/*
	 * A caller vertexd refuses gets an error line and a closed socket, possibly before the
	 * request is sent: a broken pipe is then no reason to stop (or, with SIGPIPE, to die)
	 * before reading what vertexd said.
	 */
	if (ctlclient_send_line(fd, request) < 0 && errno != EPIPE && errno != ECONNRESET) {
		fprintf(stderr, "vertex: cannot send to vertexd: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	buf = ctlclient_read_response(fd, &len);
	close(fd);
	if (!buf)
		return -1;
	if (ctlclient_parse(buf, f)) {
		free(f->v);
		free(buf);
		return -1;
	}
	return 0;
}

void
ctlclient_facts_free(struct ctlclient_facts *f)
{
	free(f->v);
	free(f->buf);
}

const char *
ctlclient_fact(const struct ctlclient_facts *f, size_t from, size_t to, const char *key)
{
	for (size_t i = from; i < to; i++)
		if (!strcmp(f->v[i].key, key))
			return f->v[i].value;
	return "?";
}

/* Is there a fact called key in [from, to)? */
static bool
ctlclient_has_after(const struct ctlclient_facts *f, size_t from, size_t to, const char *key)
{
	for (size_t i = from; i < to; i++)
		if (!strcmp(f->v[i].key, key))
			return true;
	return false;
}

size_t
ctlclient_group_end(const struct ctlclient_facts *f, size_t from, const char *key)
{
	size_t end = from + 1;

	while (end < f->n && strcmp(f->v[end].key, key))
		end++;
	return end < f->n ? end : f->n;
}

/* --- JSON --- */

static bool
ctlclient_is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static void
ctlclient_json_value(const char *v)
{
	if (ctlclient_is_number(v))
		fputs(v, stdout);
	else
		json_put_string(v, stdout);
}

void
ctlclient_json_object(const struct ctlclient_facts *f, size_t from, size_t to,
		      const char *rename_from, const char *rename_to)
{
	bool first = true, drops = false;

	putchar('{');
	for (size_t i = from; i < to; i++) {
		const char *key = f->v[i].key;

		if (!strncmp(key, "drop.", 5) || !strcmp(key, "candidate") ||
		    !strcmp(key, "udp_endpoint"))
			continue;
		if (rename_from && !strcmp(key, rename_from))
			key = rename_to;
		printf("%s", first ? "" : ",");
		json_put_string(key, stdout);
		putchar(':');
		ctlclient_json_value(f->v[i].value);
		first = false;
	}
	/* Repeated "candidate" and "udp_endpoint" facts: one array each. */
	for (int r = 0; r < 2; r++) {
		const char *one = r ? "udp_endpoint" : "candidate";
		const char *many = r ? "\"udp_endpoints\":[" : "\"candidates\":[";

		for (size_t i = from, n = 0; i < to; i++) {
			if (strcmp(f->v[i].key, one))
				continue;
			printf("%s%s", n ? "" : first ? "" : ",", n ? "," : many);
			json_put_string(f->v[i].value, stdout);
			first = false;
			if (++n && !ctlclient_has_after(f, i + 1, to, one))
				putchar(']');
		}
	}
	for (size_t i = from; i < to; i++) {
		if (strncmp(f->v[i].key, "drop.", 5))
			continue;
		printf("%s", drops ? "," : first ? "\"drops\":{" : ",\"drops\":{");
		json_put_string(f->v[i].key + 5, stdout);
		putchar(':');
		ctlclient_json_value(f->v[i].value);
		drops = true;
	}
	printf("%s}", drops ? "}" : "");
}
