/* SPDX-License-Identifier: MIT */
/*
 * The CLI's side of vertexd's control socket (daemon/agent/ctl.c), shared by the verbs that ask
 * the daemon (show.c: status, peers; trust.c: trust): send one request line, read the answer
 * whole (bounded in size and time), split it into KEY VALUE facts, and print facts as JSON.
 * Presentation beyond that belongs to each verb.
 */
#ifndef VERTEX_CTLCLIENT_H
#define VERTEX_CTLCLIENT_H

#include <stddef.h>

/* The control socket to use, from -s/--socket or the default. */
extern const char *ctlclient_socket_path;

struct ctlclient_fact {
	char *key;
	char *value; /* the rest of the line after the first space; may contain spaces */
};

struct ctlclient_facts {
	char *buf; /* owns the strings */
	struct ctlclient_fact *v;
	size_t n;
};

/*
 * Sends request (one line, no newline) and reads the facts up to "end". 0, or -1 after printing
 * why to stderr (daemon unreachable, no answer in time, malformed answer, or the daemon's own
 * "error" line). On 0 the caller frees *f with ctlclient_facts_free().
 */
int ctlclient_ask(const char *request, struct ctlclient_facts *f);
void ctlclient_facts_free(struct ctlclient_facts *f);

/* The value of the first fact named key among facts [from, to), or "?" (borrowed from f). */
const char *ctlclient_fact(const struct ctlclient_facts *f, size_t from, size_t to,
			   const char *key);
/* The end of the group starting at from: the next fact named key after from, or f->n. */
size_t ctlclient_group_end(const struct ctlclient_facts *f, size_t from, const char *key);

/*
 * Prints facts [from, to) to stdout as one JSON object. A key named rename_from is shown as
 * rename_to (both may be NULL); keys "drop.X" are grouped into a "drops" object; values made
 * only of digits are JSON numbers, everything else a string.
 */
void ctlclient_json_object(const struct ctlclient_facts *f, size_t from, size_t to,
			   const char *rename_from, const char *rename_to);

#endif
