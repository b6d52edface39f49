// SPDX-License-Identifier: MIT
/*
 * status and peers: ask vertexd, then present. The response is read whole (bounded in size and
 * time) and split into KEY VALUE facts; the renderers below turn the facts into text or JSON.
 * Keys starting "drop." are grouped into a "drops" object; values made only of digits are JSON
 * numbers, everything else a string.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

enum { SHOW_TIMEOUT_MS = 5000, SHOW_RESPONSE_MAX = 4 << 20, SHOW_MAX_FACTS = 1 << 16 };

const char *show_socket_path = "/run/vertex/vertexd.sock";

struct fact {
	char *key;
	char *value;
};

struct facts {
	char *buf; /* owns the strings */
	struct fact *v;
	size_t n;
};

static int
show_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(show_socket_path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "vertex: socket path %s is too long\n", show_socket_path);
		return -1;
	}
	strcpy(sun.sun_path, show_socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "vertex: cannot reach vertexd at %s: %s (is it running? see -s)\n",
			show_socket_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads until EOF, "end\n" or an error line; NULL (message printed) on failure. */
static char *
show_read_response(int fd, size_t *len)
{
	char *buf = malloc(SHOW_RESPONSE_MAX + 1);
	size_t n = 0;

	if (!buf)
		return NULL;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, SHOW_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "vertex: vertexd did not answer within %d s\n",
				SHOW_TIMEOUT_MS / 1000);
			break;
		}
		r = read(fd, buf + n, SHOW_RESPONSE_MAX - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (n += (size_t)r) == SHOW_RESPONSE_MAX) {
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
show_parse(char *buf, struct facts *f)
{
	char *line = buf, *nl;

	f->buf = buf;
	f->n = 0;
	f->v = calloc(SHOW_MAX_FACTS, sizeof(*f->v));
	if (!f->v)
		return -1;
	for (; (nl = strchr(line, '\n')); line = nl + 1) {
		char *sp;

		*nl = '\0';
		if (!strcmp(line, "end"))
			return 0;
		sp = strchr(line, ' ');
		if (!sp || f->n == SHOW_MAX_FACTS) {
			fprintf(stderr, "vertex: malformed answer from vertexd\n");
			return -1;
		}
		*sp = '\0';
		if (!strcmp(line, "error")) {
			fprintf(stderr, "vertex: vertexd: %s\n", sp + 1);
			return -1;
		}
		f->v[f->n++] = (struct fact){ .key = line, .value = sp + 1 };
	}
	fprintf(stderr, "vertex: answer from vertexd ended early\n");
	return -1;
}

static int
show_ask(const char *verb, struct facts *f)
{
	size_t len;
	char *buf;
	int fd = show_connect();

	if (fd < 0)
		return -1;
	if (dprintf(fd, "%s\n", verb) < 0) {
		fprintf(stderr, "vertex: cannot send to vertexd: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	buf = show_read_response(fd, &len);
	close(fd);
	if (!buf)
		return -1;
	if (show_parse(buf, f)) {
		free(f->v);
		free(buf);
		return -1;
	}
	return 0;
}

static void
show_facts_free(struct facts *f)
{
	free(f->v);
	free(f->buf);
}

/* --- JSON --- */

static void
json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static bool
is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static void
json_value(const char *v)
{
	if (is_number(v))
		fputs(v, stdout);
	else
		json_string(v);
}

/* Prints facts [from, to) as one JSON object; "peer" becomes "identity". */
static void
json_object(const struct facts *f, size_t from, size_t to)
{
	bool first = true, drops = false;

	putchar('{');
	for (size_t i = from; i < to; i++) {
		const char *key = f->v[i].key;

		if (!strncmp(key, "drop.", 5))
			continue;
		printf("%s", first ? "" : ",");
		json_string(strcmp(key, "peer") ? key : "identity");
		putchar(':');
		json_value(f->v[i].value);
		first = false;
	}
	for (size_t i = from; i < to; i++) {
		if (strncmp(f->v[i].key, "drop.", 5))
			continue;
		printf("%s", drops ? "," : first ? "\"drops\":{" : ",\"drops\":{");
		json_string(f->v[i].key + 5);
		putchar(':');
		json_value(f->v[i].value);
		drops = true;
	}
	printf("%s}", drops ? "}" : "");
}

/* --- text --- */

static const char *
fact(const struct facts *f, size_t from, size_t to, const char *key)
{
	for (size_t i = from; i < to; i++)
		if (!strcmp(f->v[i].key, key))
			return f->v[i].value;
	return "?";
}

static void
text_drops(const struct facts *f, size_t from, size_t to, const char *indent)
{
	bool first = true;

	printf("%sdrops           ", indent);
	for (size_t i = from; i < to; i++) {
		if (strncmp(f->v[i].key, "drop.", 5))
			continue;
		printf("%s%s %s", first ? "" : ", ", f->v[i].key + 5, f->v[i].value);
		first = false;
	}
	putchar('\n');
}

static void
text_bytes(const char *v, char *buf, size_t len)
{
	double b = strtod(v, NULL);
	const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", b, unit[u]);
}

static void
text_status(const struct facts *f)
{
	size_t n = f->n;

	printf("identity        %s\n", fact(f, 0, n, "identity"));
	printf("interface       %s (mtu %s)\n", fact(f, 0, n, "interface"), fact(f, 0, n, "mtu"));
	printf("overlay         %s  %s\n", fact(f, 0, n, "overlay4"), fact(f, 0, n, "overlay6"));
	printf("port            %s (udp and tcp)\n", fact(f, 0, n, "port"));
	printf("peers           %s (%s up)\n", fact(f, 0, n, "peers"), fact(f, 0, n, "peers_up"));
	text_drops(f, 0, n, "");
}

static void
text_peer(const struct facts *f, size_t from, size_t to)
{
	long long hs = strtoll(fact(f, from, to, "last_handshake"), NULL, 10);
	char rx[32], tx[32];

	text_bytes(fact(f, from, to, "rx_bytes"), rx, sizeof(rx));
	text_bytes(fact(f, from, to, "tx_bytes"), tx, sizeof(tx));
	printf("peer %s  %s (path %s)\n", fact(f, from, to, "peer"), fact(f, from, to, "state"),
	       fact(f, from, to, "path"));
	printf("  overlay         %s  %s\n", fact(f, from, to, "overlay4"),
	       fact(f, from, to, "overlay6"));
	printf("  endpoint        %s\n", fact(f, from, to, "endpoint"));
	if (hs)
		printf("  last handshake  %lld s ago (%s in all)\n", (long long)time(NULL) - hs,
		       fact(f, from, to, "handshakes"));
	else
		printf("  last handshake  never\n");
	printf("  transfer        %s received, %s sent (%s / %s packets)\n", rx, tx,
	       fact(f, from, to, "rx_packets"), fact(f, from, to, "tx_packets"));
	text_drops(f, from, to, "  ");
}

/* --- verbs --- */

static int
show_options(int argc, char **argv, const char *help, bool *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j') {
			*json = true;
		} else if (c == 'h') {
			fputs(help, stdout);
			return 0;
		} else {
			fputs(help, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vertex: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return -1;
}

int
cmd_status(int argc, char **argv)
{
	static const char help[] =
	    "Usage: vertex [-s SOCKET] status [--json]\n"
	    "\n"
	    "Shows the agent: its identity, overlay interface and MTU, its own overlay\n"
	    "addresses, the underlay port, how many peers are configured and up, and the\n"
	    "packets it dropped before finding a peer, by reason (unknown_receiver: a frame\n"
	    "for no session; malformed: a bad frame header; no_buffer: packet pool exhausted;\n"
	    "no_route: a packet on the interface for an address no peer has).\n"
	    "\n"
	    "  --json   one JSON object, for scripts\n";
	struct facts f;
	bool json = false;
	int rc = show_options(argc, argv, help, &json);

	if (rc >= 0)
		return rc;
	if (show_ask("status", &f))
		return 1;
	if (json) {
		json_object(&f, 0, f.n);
		putchar('\n');
	} else {
		text_status(&f);
	}
	show_facts_free(&f);
	return 0;
}

int
cmd_peers(int argc, char **argv)
{
	static const char help[] =
	    "Usage: vertex [-s SOCKET] peers [--json]\n"
	    "\n"
	    "Shows every configured peer: the overlay addresses this agent gave it, the\n"
	    "underlay endpoint its frames come from, the session state (up, connecting, down)\n"
	    "and path (udp, or tcp when UDP does not get through), the last handshake, bytes\n"
	    "and packets each way, and frames dropped, by reason (replay: a counter seen\n"
	    "before; auth: failed authentication; bad_source: an inner source address that is\n"
	    "not the peer's; malformed: an inner packet that is not valid IP; no_session: a\n"
	    "packet for the peer while no session was up).\n"
	    "\n"
	    "  --json   {\"peers\": [ ... ]}, for scripts\n";
	struct facts f;
	bool json = false, first = true;
	int rc = show_options(argc, argv, help, &json);

	if (rc >= 0)
		return rc;
	if (show_ask("peers", &f))
		return 1;
	if (json)
		fputs("{\"peers\":[", stdout);
	for (size_t i = 0; i < f.n;) {
		size_t end = i + 1;

		while (end < f.n && strcmp(f.v[end].key, "peer"))
			end++;
		if (json) {
			printf("%s", first ? "" : ",");
			json_object(&f, i, end);
		} else {
			printf("%s", first ? "" : "\n");
			text_peer(&f, i, end);
		}
		first = false;
		i = end;
	}
	if (json)
		fputs("]}\n", stdout);
	else if (first)
		puts("no peers configured");
	show_facts_free(&f);
	return 0;
}
